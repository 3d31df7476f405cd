"""Turning ``method=`` into something that upscales one plane.

Today these are the interpolation kernels of :mod:`napari_sr.resample`; learned models
join the same lookup (registered names, checkpoint paths, model objects) as they arrive.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..resample import INTERPOLATION_METHODS, resize

DEFAULT_METHOD = "bicubic"
"""What ``method=None`` means: the best bundled default (bicubic until weights ship)."""


@dataclass(frozen=True)
class PlaneMethod:
    """A single-image SR method working on batches of float (Y, X) planes.

    Attributes
    ----------
    name : str
        Name recorded in provenance.
    run : callable
        ``run(planes, scale) -> planes`` on float32/float64 arrays of shape (N, Y, X).
    """

    name: str
    run: Callable[[np.ndarray, float], np.ndarray]


def available_methods() -> tuple[str, ...]:
    """Every name ``method=`` accepts."""
    return INTERPOLATION_METHODS


def resolve_method(method: str | None) -> PlaneMethod:
    """Look up ``method`` (None for the default) and return a :class:`PlaneMethod`.

    Raises
    ------
    ValueError
        For an unknown name, listing the known ones.
    TypeError
        For something that is not a method name.
    """
    if method is None:
        method = DEFAULT_METHOD
    if not isinstance(method, str):
        raise TypeError(
            f"method must be a method name such as 'bicubic', not {type(method).__name__}"
        )
    name = method.strip().lower()
    if name not in INTERPOLATION_METHODS:
        raise ValueError(f"unknown method {method!r}; available: {', '.join(available_methods())}")

    def run(planes: np.ndarray, scale: float) -> np.ndarray:
        return resize(
            planes, {"Y": scale, "X": scale}, method=name, axes="TYX", dtype=planes.dtype
        )

    return PlaneMethod(name=name, run=run)
