"""Pixel geometry of upscaling: pixel sizes and the position of the first pixel.

A pixel covers a footprint of its size, centred on its coordinate. Upscaling by ``s``
divides each pixel into ``s`` smaller ones, so the pixel size becomes ``p / s`` and the first
output pixel's centre moves from the input's first centre by ``(0.5 / s - 0.5)`` input
pixels (it sits nearer the footprint's edge). With these two rules an input and its
upscaled output overlay exactly, in napari (``scale`` and ``translate``) and in files.
"""

from __future__ import annotations

import math
import numbers


def check_scale(scale: float, name: str = "scale") -> float:
    """Return ``scale`` as a float if it is a positive finite number, else raise.

    Raises
    ------
    TypeError
        If it is not a real number (booleans included).
    ValueError
        If it is zero, negative, NaN or infinite.
    """
    if isinstance(scale, bool) or not isinstance(scale, numbers.Real):
        raise TypeError(f"{name} must be a number such as 2, not {type(scale).__name__}")
    value = float(scale)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive number such as 2 or 1.5, not {scale}")
    return value


def upscaled_pixel_size(pixel_size: float, scale: float) -> float:
    """Pixel size after upscaling by ``scale``: ``pixel_size / scale`` (same unit)."""
    return pixel_size / scale


def upscaled_origin(origin: float, pixel_size: float, scale: float) -> float:
    """Physical position of the first output pixel's centre after upscaling.

    Parameters
    ----------
    origin : float
        Position of the first input pixel's centre (napari's ``translate``), physical units.
    pixel_size : float
        Input pixel size along the same axis, same unit (napari's ``scale``).
    scale : float
        Upscaling factor along that axis, > 0.

    Returns
    -------
    float
        ``origin + (0.5 / scale - 0.5) * pixel_size``.
    """
    return origin + (0.5 / scale - 0.5) * pixel_size
