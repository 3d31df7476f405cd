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


LUMA_BLACK = float(YCBCR_OFFSET[0])
LUMA_WHITE = LUMA_BLACK + float(YCBCR_MATRIX[0].sum())
"""Nominal black and white of BT.601 luma, 16 and 235 in units of 1/255 (the Y of RGB
black and white): the Y of RGB never leaves them."""


def luma_limits(limits: tuple[float, float]) -> tuple[float, float]:
    """Widen normalisation limits so that ``lo`` and ``hi`` land on luma black and white.

    A network trained on the Y of 8-bit RGB in the fixed range 0-255 has only ever seen
    values between 16/255 and 235/255. Normalising a grayscale image with the returned
    limits maps its ``lo`` to 16/255 and its ``hi`` to 235/255, where such a network learnt,
    instead of 0 and 1, below and above anything it saw (measured ×2 on real microscopy
    planes: a trained FSRCNN turned a black background into -8 grey levels, and nuclei went
    from -2.7 to -0.5 dB against bicubic; EDSR-light gained 0.1-0.4 dB).

    Parameters
    ----------
    limits : (float, float)
        The intensities that would map to 0 and 1, in the image's units.

    Returns
    -------
    (float, float)
        The intensities that map to 0 and 1 instead, in the same units.
    """
    lo, hi = limits
    per_level = (hi - lo) / (LUMA_WHITE - LUMA_BLACK)
    return lo - LUMA_BLACK * per_level, hi + (255.0 - LUMA_WHITE) * per_level


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
