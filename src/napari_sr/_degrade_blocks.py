""":func:`napari_sr.degrade` of a dask array: lazy, block by block, equal to the in-memory
result bit for bit.

The steps are those of the in-memory path, each on blocks:

1. **Blur.** Each block is filtered with a halo of the kernel's reach
   (``int(4 σ + 0.5)`` pixels) along every blurred axis and cropped: every output value is
   the same sum over the same neighbours. Blocks at the image's edge get no halo there, so
   the filter mirrors the image's own edge, as in memory.
2. **Downscale.** Decimation is a strided slice; interpolation is the lazy
   :func:`napari_sr.resize` (:mod:`napari_sr._resample_blocks`).
3. **Noise.** Poisson noise needs the maximum of the whole image: one pass computes it
   first. The blocks then hold whole planes (the last two axes); each plane draws from its
   own stream (:func:`napari_sr._degrade_steps.plane_seeds`), so no draw depends on the
   blocks.
"""

from __future__ import annotations

import math
import uuid
from typing import Any

import numpy as np

from ._degrade_steps import BLUR_TRUNCATE, blur, finish, noisy_planes, plane_seeds, poisson_top
from ._resample_blocks import finite_as
from .resample import resize
from .utils.intensity import working_dtype
from .utils.lazy import as_dask

__all__ = ["degrade_lazy"]

PLANE_BLOCK_BYTES = 64 * 2**20
"""The noise step's blocks hold whole planes, as many as give about this many bytes."""


def degrade_lazy(data: Any, axes: str, sigmas: list[float], decimation, factors: dict,
                 kernel: str, noise, rng: np.random.Generator, dtype: np.dtype):  # fmt: skip
    """The observation of ``data`` (a dask or zarr array) as a dask array; the arguments
    are those :func:`napari_sr.degradation.degrade` has checked and resolved."""
    work = as_dask(data).map_blocks(finite_as, working_dtype(dtype), dtype=working_dtype(dtype))
    if any(sigmas):
        work = _blurred(work, sigmas)
    if decimation is not None:
        work = work[decimation]
    elif factors:
        work = resize(work, {a: 1 / f for a, f in factors.items()}, method=kernel, axes=axes)
    if noise:
        work = _noisy(work, noise, rng, as_dask(data))
    return work.map_blocks(finish, dtype, dtype=dtype)


def _blurred(work: Any, sigmas: list[float]):
    """The blur with halos: ``map_overlap`` hands each block its neighbours' pixels within
    the kernel's reach (none beyond the image), the filter runs on the padded block."""
    depth = {i: int(BLUR_TRUNCATE * s + 0.5) if s else 0 for i, s in enumerate(sigmas)}
    whole = {i: -1 for i, d in depth.items() if d >= work.shape[i]}
    if whole:  # the kernel spans the axis: its blocks hold it whole, no halo needed
        work = work.rechunk(whole)
        depth.update(dict.fromkeys(whole, 0))
    return work.map_overlap(blur, depth=depth, boundary="none", sigmas=sigmas,
                            dtype=work.dtype)  # fmt: skip


def _noisy(work: Any, noise, rng: np.random.Generator, source: Any):
    """Shot and read noise by whole planes, then the camera (``source``: the input, whose
    minimum Poisson noise checks)."""
    import dask
    import dask.array as da

    top = None
    if "poisson" in noise:
        low, high = da.compute(source.min(), work.max())
        top = poisson_top(float(low), float(high))
    lead = work.shape[:-2]
    n_planes = math.prod(lead)
    plane_bytes = work.dtype.itemsize * math.prod(work.shape[-2:])
    per_block = max(1, PLANE_BLOCK_BYTES // plane_bytes)
    chunks = [1] * len(lead) + [-1, -1]
    if lead:  # grow the innermost leading axis first
        chunks[len(lead) - 1] = min(lead[-1], per_block)
    work = work.rechunk(tuple(chunks))
    seeds = plane_seeds(rng, n_planes)
    # the streams travel as one key, not inside every task
    streams = dask.delayed((rng, seeds), name=f"napari-sr-noise-{uuid.uuid4().hex}")
    return work.map_blocks(_noisy_block, streams, noise, top, lead, dtype=work.dtype)


def _noisy_block(block: np.ndarray, streams, noise, top, lead, block_info=None):
    rng, seeds = streams
    start = [begin for begin, _ in block_info[0]["array-location"][: len(lead)]]
    indices = np.ravel_multi_index(
        np.indices(block.shape[:-2]).reshape(len(lead), -1) + np.reshape(start, (-1, 1)), lead
    ) if lead else np.zeros(1, int)  # fmt: skip
    return noisy_planes(block, noise, rng, seeds, indices, top)
