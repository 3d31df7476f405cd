"""Stacks of planes: an n-D array seen as a stack of its 2D (or channel + 2D) planes.

Methods that work plane by plane (2D networks, 2D metrics, the noise estimate) fold every
axis they do not keep into one leading axis, in the array's order, and unfold the result.
"""

from __future__ import annotations

import numpy as np

__all__ = ["fold_planes", "unfold_planes"]


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
