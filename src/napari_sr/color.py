"""RGB ↔ YCbCr as MATLAB's ``rgb2ycbcr``/``ycbcr2rgb`` (ITU-R BT.601, studio swing).

For RGB in [0, 1]: Y = 16/255 + (65.481 R + 128.553 G + 24.966 B)/255, Cb and Cr centred on
128/255 (Y spans 16–235/255, chroma 16–240/255). Here in the image's own units: RGB in
[0, ``value_range``] (255 for uint8) gives YCbCr on the same scale. SR papers score on this Y
(see :mod:`napari_sr.metrics`), and luma-trained networks upscale it while the chroma is
interpolated.
"""

from __future__ import annotations

import numpy as np

YCBCR_MATRIX = np.array(
    [
        [65.481, 128.553, 24.966],
        [-37.797, -74.203, 112.0],
        [112.0, -93.786, -18.214],
    ]
)
"""Rows Y, Cb, Cr; columns R, G, B (RGB in [0, 1], results in units of 1/255)."""
YCBCR_OFFSET = np.array([16.0, 128.0, 128.0])
"""Added to Y, Cb, Cr (units of 1/255)."""


def nominal_range(dtype: np.dtype) -> float:
    """The value of full white: the integer maximum for unsigned integers, else 1.0."""
    dtype = np.dtype(dtype)
    return float(np.iinfo(dtype).max) if dtype.kind == "u" else 1.0


def rgb_to_ycbcr(rgb: np.ndarray, value_range: float) -> np.ndarray:
    """(..., 3) RGB in [0, value_range] → (..., 3) float YCbCr on the same scale."""
    rgb = np.asarray(rgb, dtype=np.float64)
    return (YCBCR_OFFSET + (rgb / value_range) @ YCBCR_MATRIX.T) * (value_range / 255.0)


def ycbcr_to_rgb(ycbcr: np.ndarray, value_range: float) -> np.ndarray:
    """The inverse of :func:`rgb_to_ycbcr` (float, not clipped)."""
    ycbcr = np.asarray(ycbcr, dtype=np.float64)
    centred = ycbcr * (255.0 / value_range) - YCBCR_OFFSET
    return (centred @ np.linalg.inv(YCBCR_MATRIX).T) * value_range


def luma(rgb: np.ndarray, value_range: float) -> np.ndarray:
    """The Y of (..., 3) RGB in [0, value_range], on the same scale."""
    rgb = np.asarray(rgb, dtype=np.float64)
    return (YCBCR_OFFSET[0] + (rgb / value_range) @ YCBCR_MATRIX[0]) * (value_range / 255.0)
