"""Stacks of planes: an n-D array seen as a stack of its 2D (or channel + 2D) planes.

Methods that work plane by plane (2D networks, 2D metrics, the noise estimate) fold every
axis they do not keep into one leading axis, in the array's order, and unfold the result.
"""

from __future__ import annotations

import numpy as np

__all__ = ["fold_planes", "pick_planes", "unfold_planes"]


def _order(axes: str, keep: str) -> tuple[list[int], list[int]]:
    loop = [i for i, a in enumerate(axes) if a not in keep]
    return loop, loop + [axes.index(a) for a in keep]


def fold_planes(data: np.ndarray, axes: str, keep: str = "YX") -> np.ndarray:
    """``(N, *keep)`` stack of ``data`` (axes ``axes``): the axes of ``keep``, in that
    order, last; every other axis folded into N in its order (a view where possible)."""
    loop, order = _order(axes, keep)
    moved = np.transpose(data, order)
    return moved.reshape(-1, *moved.shape[len(loop) :])


def unfold_planes(planes: np.ndarray, axes: str, shape: tuple[int, ...], keep: str = "YX"):
    """The inverse of :func:`fold_planes` for an array of ``shape`` and ``axes``; the kept
    axes may have changed length (``planes``' own), the folded ones may not."""
    loop, order = _order(axes, keep)
    moved = planes.reshape(*(shape[i] for i in loop), *planes.shape[1:])
    return np.transpose(moved, np.argsort(order))


def pick_planes(
    data, axes: str, count: int, keep: str = "YX", crop: dict[str, slice] | None = None
) -> list[np.ndarray]:
    """Up to ``count`` evenly spaced planes of ``data`` as numpy arrays (axes ``keep``).

    The planes are those :func:`fold_planes` would stack, at indices
    ``unique(linspace(0, n - 1, min(count, n)).astype(int))`` of its N planes, indexed one
    by one, so that a dask or zarr array reads only those planes (and, with ``crop``, a
    slice of each, per kept axis) and a numpy array is not copied whole.
    """
    loop, _ = _order(axes, keep)
    loop_shape = [data.shape[i] for i in loop]
    n = int(np.prod(loop_shape, dtype=np.int64))
    picks = np.unique(np.linspace(0, n - 1, min(count, n)).astype(int))
    crop = crop or {}
    planes = []
    for flat in picks:
        where = [slice(None)] * data.ndim
        for axis, index in zip(loop, np.unravel_index(int(flat), loop_shape), strict=True):
            where[axis] = int(index)
        for axis in keep:
            where[axes.index(axis)] = crop.get(axis, slice(None))
        plane = np.asarray(data[tuple(where)])
        kept = [a for a in axes if a in keep]  # the order the kept axes come out in
        planes.append(np.transpose(plane, [kept.index(a) for a in keep]))
    return planes
