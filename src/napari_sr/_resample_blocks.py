""":func:`napari_sr.resize` of a dask array: lazy, chunk by chunk, exact.

Each resized axis is resampled in turn, as the in-memory path does. Along that axis the
output is cut into chunks; a chunk is computed from the slab of input lines its taps reach
(its halo, read from the plan of the whole axis: mirrored edges included) by the same
compiled loop with the same weights, shifted to the slab, so every output value is the
same sum of the same products as in memory, bit for bit. The other axes keep their chunks,
so memory is set by the chunks, never by the image.

On the last axis the loop runs by phases (outputs ``p * k + r`` share weights ``r``), so
chunks there start at multiples of ``p``; a scale with no short period (``q = 0``) keeps that
axis whole.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .utils.intensity import cast

__all__ = ["finite_as", "resize_lazy"]

MIN_TAP_MULTIPLE = 4
"""An output chunk along a middle axis spans at least this many times the kernel's taps, so
that the halo its slab reads stays a small part of it."""


def resize_lazy(data: Any, plans: list, work: np.dtype, out_dtype: np.dtype):
    """``data`` (a dask array) resampled by ``plans`` (``(axis, AxisPlan)`` in the order
    the in-memory path applies them) in ``work`` precision, cast to ``out_dtype``."""
    x = data.map_blocks(finite_as, work, dtype=work)
    for axis, plan in plans:
        x = _resize_axis(x, axis, plan)
    return x.map_blocks(cast, out_dtype, dtype=out_dtype)


def finite_as(block: np.ndarray, work: np.dtype) -> np.ndarray:
    """A block checked for NaN and infinity (a clear ValueError), in ``work`` precision."""
    from .utils.memory import check_finite

    check_finite(block)
    return block.astype(work, copy=False)


def _resize_axis(x: Any, axis: int, plan: Any):
    import dask.array as da

    inner = math.prod(x.shape[axis + 1 :])
    last = inner == 1  # as the in-memory path decides: the phase loop on contiguous lines
    parts = []
    for start, stop in _output_chunks(x, axis, plan, last):
        if last:
            parts.append(_last_axis_part(x, axis, plan, start, stop))
        else:
            parts.append(_middle_axis_part(x, axis, plan, start, stop))
    return da.concatenate(parts, axis=axis) if len(parts) > 1 else parts[0]


def _output_chunks(x: Any, axis: int, plan: Any, last: bool) -> list[tuple[int, int]]:
    """Output ranges along ``axis``: about the input's chunk times the scale."""
    taps = plan.weights.shape[1]
    size = max(1, round(max(x.chunks[axis]) * plan.n_out / plan.n_in))
    if last:
        period = plan.p if plan.q else plan.n_out
        size = max(period, size // period * period)
    else:
        size = max(size, MIN_TAP_MULTIPLE * taps)
    return [(a, min(a + size, plan.n_out)) for a in range(0, plan.n_out, size)]


def _slab(x: Any, axis: int, lo: int, hi: int):
    """Input lines ``lo:hi`` along ``axis``, as one chunk along it."""
    where = [slice(None)] * x.ndim
    where[axis] = slice(lo, hi)
    return x[tuple(where)].rechunk({axis: -1})


def _middle_axis_part(x: Any, axis: int, plan: Any, start: int, stop: int):
    index, weights = plan.table()
    index, weights = index[start:stop], weights[start:stop]
    lo, hi = int(index.min()), int(index.max()) + 1
    slab = _slab(x, axis, lo, hi)
    chunks = list(slab.chunks)
    chunks[axis] = (stop - start,)
    return slab.map_blocks(_middle_block, axis, np.ascontiguousarray(index - lo),
                           np.ascontiguousarray(weights), chunks=tuple(chunks),
                           dtype=x.dtype)  # fmt: skip


def _middle_block(block: np.ndarray, axis: int, index: np.ndarray, weights: np.ndarray):
    from ._resample_kernels import resample_middle_axis

    lead = math.prod(block.shape[:axis])
    inner = math.prod(block.shape[axis + 1 :])
    n_out = index.shape[0]
    out = np.empty((*block.shape[:axis], n_out, *block.shape[axis + 1 :]), block.dtype)
    resample_middle_axis(
        np.ascontiguousarray(block).reshape(lead, block.shape[axis], inner),
        index,
        np.ascontiguousarray(weights.astype(block.dtype)),
        out.reshape(lead, n_out, inner),
    )
    return out


def _last_axis_part(x: Any, axis: int, plan: Any, start: int, stop: int):
    p, q, taps = plan.p, plan.q, plan.weights.shape[1]
    n = stop - start
    first_k = start // p  # start is a multiple of p (or 0)
    phases = range(min(p, n))
    first = min(int(plan.left[r]) + q * first_k for r in phases)
    end = max(int(plan.left[r]) + q * (first_k + (n - r + p - 1) // p - 1) + taps for r in phases)
    padmap = plan.padmap[first:end]
    lo, hi = int(padmap.min()), int(padmap.max()) + 1
    left = (plan.left + q * first_k - first).astype(np.int64)
    slab = _slab(x, axis, lo, hi)
    chunks = list(slab.chunks)
    chunks[axis] = (n,)
    return slab.map_blocks(_last_block, axis, np.ascontiguousarray(padmap - lo), left,
                           plan.weights, p, q, n, chunks=tuple(chunks),
                           dtype=x.dtype)  # fmt: skip


def _last_block(block, axis, padmap, left, weights, p, q, n):
    """``axis`` has only length-1 axes after it: its lines are contiguous."""
    from ._resample_kernels import resample_last_axis

    lead = math.prod(block.shape[:axis])
    out = np.empty((*block.shape[:axis], n, *block.shape[axis + 1 :]), block.dtype)
    resample_last_axis(
        np.ascontiguousarray(block).reshape(lead, block.shape[axis]),
        padmap,
        left,
        weights.astype(block.dtype),
        p,
        q,
        out.reshape(lead, n),
    )
    return out
