"""``upscale``: the one entry point for single-image super-resolution of n-D stacks."""

from __future__ import annotations

import itertools
import math
import time
from typing import overload

import numpy as np

from .._intensity import cast, check_dtype, check_finite, working_dtype
from ..axes import resolve_axes
from ..geometry import check_scale
from ..image import Image
from .memory import check_fits
from .methods import resolve_method
from .progress import CancelToken, ProgressCallback, raise_if_cancelled, report

PLANE_AXES = "YX"
"""The axes a single-image method sees together; all others are looped over."""

BATCH_BYTES = 32 * 2**20
"""Planes go to the method in batches of about this many output bytes (at least one):
large enough to keep every core busy, small enough to cancel within a fraction of a second."""


@overload
def upscale(image: Image, scale: float, **kwargs) -> Image: ...
@overload
def upscale(image: np.ndarray, scale: float, **kwargs) -> np.ndarray: ...


def upscale(
    image,
    scale,
    *,
    method=None,
    axes=None,
    dtype=None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
):
    """Super-resolve the image plane (Y, X) of every plane of an n-D stack.

    Parameters
    ----------
    image : numpy.ndarray or Image
        Input of any supported dtype (uint8, uint16, int16, float32, float64). An
        :class:`~napari_sr.image.Image` brings its axes and pixel sizes and gets back an
        ``Image`` whose Y and X pixel sizes are divided by ``scale``.
    scale : float
        Upscaling factor for Y and X, > 0. Output planes are ``ceil(n * scale)`` long.
    method : str, optional
        An interpolation method of :func:`~napari_sr.resize` (``'nearest'``,
        ``'bilinear'``, ``'bicubic'``, ``'bicubic-opencv'``, ``'lanczos3'``, ``'area'``);
        None for the best bundled default (bicubic until trained weights ship).
    axes : str, optional
        Axes of ``image``, e.g. ``'TZCYX'``; default from the Image, else guessed from the
        shape (2-D ``YX``, 3-D ``ZYX``, trailing 3 or 4 → RGB; see :mod:`napari_sr.axes`).
        Every axis other than Y and X is looped over.
    dtype : dtype, optional
        Output dtype; default the input's (integers rounded and clipped to range).
    progress : callable, optional
        ``progress(done, total)``, counting planes, after each batch of planes.
    cancel : threading.Event or callable, optional
        Checked between batches of planes; when set, :class:`~napari_sr.engine.progress.Cancelled`
        is raised and nothing is returned.

    Returns
    -------
    numpy.ndarray or Image
        Same type as ``image``: the axes in the same order, Y and X scaled.

    Raises
    ------
    ValueError
        Empty input, NaN/Inf, scale ≤ 0, unknown method, axes that do not fit, or an
        output that would not fit in memory (checked before allocating).

    Examples
    --------
    >>> import numpy as np, napari_sr
    >>> napari_sr.upscale(np.zeros((3, 8, 8), np.uint16), 2).shape
    (3, 16, 16)
    """
    source = image if isinstance(image, Image) else None
    data = source.data if source is not None else np.asarray(image)
    if source is not None and axes is None:
        axes = source.axes
    scale = check_scale(scale)
    in_dtype = check_dtype(data.dtype)
    out_dtype = in_dtype if dtype is None else check_dtype(dtype, "dtype")
    if data.size == 0:
        raise ValueError(f"image is empty (shape {data.shape}); give an image with pixels")
    axes = resolve_axes(axes, data.shape)
    plan = resolve_method(method)
    check_finite(data)

    y, x = axes.index("Y"), axes.index("X")
    out_shape = list(data.shape)
    for axis in (y, x):
        out_shape[axis] = max(1, math.ceil(data.shape[axis] * scale - 1e-9))
    plane_bytes = out_shape[y] * out_shape[x] * working_dtype(in_dtype).itemsize
    check_fits(out_shape, out_dtype, extra_bytes=4 * plane_bytes)

    started = time.perf_counter()
    out = np.empty(out_shape, dtype=out_dtype)
    src = np.moveaxis(data, (y, x), (-2, -1))
    dst = np.moveaxis(out, (y, x), (-2, -1))  # a view: writing it fills ``out``
    indices = list(itertools.product(*map(range, src.shape[:-2])))
    work = working_dtype(in_dtype)
    batch = max(1, BATCH_BYTES // plane_bytes)
    for start in range(0, len(indices), batch):
        raise_if_cancelled(cancel)
        chunk = indices[start : start + batch]
        planes = np.stack([src[index] for index in chunk]).astype(work, copy=False)
        result = cast(plan.run(planes, scale), out_dtype)
        for index, plane in zip(chunk, result, strict=True):
            dst[index] = plane
        report(progress, start + len(chunk), len(indices))
    if source is None:
        return out
    provenance = {
        "operation": "upscale",
        "method": plan.name,
        "scale": scale,
        "seconds": round(time.perf_counter() - started, 3),
    }
    return source.with_axes(axes).resampled(out, dict.fromkeys(PLANE_AXES, scale), provenance)
