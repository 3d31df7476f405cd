"""NIQE, the Natural Image Quality Evaluator (Mittal, Soundararajan & Bovik 2013): a
no-reference score of how far an image's local statistics are from those of pristine
natural photographs (lower is more natural).

It scores what PSNR cannot: an output with no reference, and the perceived quality of a
GAN's texture against a regression network's blur. It is computed as the authors' MATLAB
release does (``computequality.m`` with 96 × 96 blocks), in float64, with the release's
pristine model (``modelparameters.mat``, shipped as ``napari_sr/data/niqe_pristine.npz``
with the release's copyright notice in ``NIQE_LICENSE.txt``):

1. grey levels on a 0-255 scale (RGB through MATLAB's ``rgb2gray``), cropped to whole
   96-pixel blocks (bottom and right remainders dropped);
2. at two scales (the second by MATLAB's bicubic ``imresize`` by 0.5), the locally
   normalised luminance ``(I − μ) / (σ + 1)`` with a 7 × 7 Gaussian window (σ = 7/6,
   replicated edges), and per block (96² and 48²) 18 features: a generalised Gaussian fit
   of the coefficients and asymmetric ones of their products with 4 neighbours (wrapping
   around inside the block);
3. the distance between the pristine model and the image's Gaussian fit of the block
   features, ``sqrt(d · pinv((Σ_pristine + Σ_image) / 2) · dᵀ)``.

Where an image has flat or saturated regions the normalised coefficients there are
rounding noise around zero, and implementations (MATLAB's filters, float32 ports) differ
in the last digits or more; on textured images this one equals the MATLAB release to
~1e-13.

References
----------
.. [1] A. Mittal, R. Soundararajan, A. C. Bovik, "Making a completely blind image quality
   analyzer," IEEE Signal Processing Letters 20(3), 209-212 (2013).
   doi:10.1109/LSP.2012.2227726
.. [2] A. Mittal, R. Soundararajan, A. C. Bovik, "NIQE Software Release," 2012.
   http://live.ece.utexas.edu/research/quality/niqe.zip
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from .utils.memory import check_finite

BLOCK = 96
"""Block edge at the first scale, pixels (the release model's)."""

RGB_TO_GRAY = (0.298936021293775, 0.587043074451121, 0.114020904255103)
"""MATLAB ``rgb2gray``'s weights."""

_SHAPES = np.arange(0.2, 10.0005, 0.001)
"""The grid of generalised-Gaussian shapes the fit searches (MATLAB's ``0.2:0.001:10``)."""


def niqe(image: np.ndarray, *, data_range: float | None = None, crop_border: int = 0) -> float:
    """The NIQE score of ``image`` (lower: closer to natural image statistics).

    Parameters
    ----------
    image : numpy.ndarray
        Grayscale (Y, X) or RGB (Y, X, 3).
    data_range : float, optional
        The intensity span that maps to NIQE's 0-255 scale: by default 255 for uint8,
        the dtype's maximum for other integers, and 1 for floating-point images.
    crop_border : int
        Pixels dropped at every edge first (the SR protocol crops ``scale`` pixels).

    Returns
    -------
    float
        The score.

    Raises
    ------
    ValueError
        For images smaller than two blocks (192 pixels) along either axis after the crop,
        other shapes, or non-finite values.
    """
    data = np.asarray(image)
    if data.ndim == 3 and data.shape[-1] == 3:
        gray = _rgb_to_gray(data)
    elif data.ndim == 2:
        gray = data.astype(np.float64)
    else:
        raise ValueError(
            f"NIQE scores a grayscale (Y, X) or RGB (Y, X, 3) image, not shape {data.shape}"
        )
    check_finite(gray)
    if crop_border:
        gray = gray[crop_border:-crop_border, crop_border:-crop_border]
    if min(gray.shape) < 2 * BLOCK:
        raise ValueError(
            f"NIQE needs at least {2 * BLOCK} × {2 * BLOCK} pixels (2 × 2 blocks of {BLOCK}) "
            f"after the border crop; got {gray.shape[0]} × {gray.shape[1]}"
        )
    span = default_data_range(data.dtype) if data_range is None else float(data_range)
    if not span > 0:
        raise ValueError(f"data_range must be > 0, not {data_range}")
    gray = gray * (255.0 / span)
    rows, cols = (n // BLOCK * BLOCK for n in gray.shape)
    gray = gray[:rows, :cols]
    features = np.hstack([_block_features(gray), _block_features(_half(gray), BLOCK // 2)])
    mean, covariance = _pristine()
    fitted = features[~np.isnan(features).any(axis=1)]
    d = mean - np.nanmean(features, axis=0)
    pooled = (covariance + np.cov(fitted, rowvar=False)) / 2
    return float(np.sqrt(d @ np.linalg.pinv(pooled) @ d))


def _rgb_to_gray(rgb: np.ndarray) -> np.ndarray:
    gray = rgb.astype(np.float64) @ np.asarray(RGB_TO_GRAY)
    if rgb.dtype == np.uint8:  # rgb2gray returns uint8 for uint8 input
        gray = np.clip(np.rint(gray), 0, 255)
    return gray


def default_data_range(dtype: np.dtype) -> float:
    """The intensity span of an image of ``dtype`` when none is given: 255 for uint8, the
    maximum of other integer types, 1 for floating point (the no-reference scores' rule)."""
    if np.issubdtype(dtype, np.integer):
        return float(np.iinfo(dtype).max)
    return 1.0


def _half(image: np.ndarray) -> np.ndarray:
    """MATLAB ``imresize(image, 0.5)``: bicubic with antialiasing."""
    from .resample import resize

    return np.asarray(resize(image, 0.5, method="bicubic"), dtype=np.float64)


def _block_features(image: np.ndarray, block: int = BLOCK) -> np.ndarray:
    """(blocks, 18) features of the normalised luminance of ``image``, blocks in MATLAB's
    column-major order."""
    from scipy import ndimage

    window = _gaussian_window()
    mu = ndimage.correlate(image, window, mode="nearest")
    sigma = np.sqrt(np.abs(ndimage.correlate(image * image, window, mode="nearest") - mu * mu))
    normalised = (image - mu) / (sigma + 1)
    rows, cols = normalised.shape[0] // block, normalised.shape[1] // block
    blocks = [
        normalised[r * block : (r + 1) * block, c * block : (c + 1) * block]
        for c in range(cols)
        for r in range(rows)
    ]
    return np.array([_features(b) for b in blocks])


def _features(block: np.ndarray) -> list[float]:
    """``computefeature.m``: the shape and spread of the coefficients, and shape, mean and
    left/right spreads of their products with the right, lower and two diagonal
    neighbours."""
    from scipy.special import gamma

    shape, left, right = _aggd(block)
    values = [shape, (left + right) / 2]
    for shift in ((0, 1), (1, 0), (1, 1), (1, -1)):
        shape, left, right = _aggd(block * np.roll(block, shift, axis=(0, 1)))
        values += [shape, (right - left) * gamma(2 / shape) / gamma(1 / shape), left, right]
    return values


def _aggd(values: np.ndarray) -> tuple[float, float, float]:
    """``estimateaggdparam.m``: an asymmetric generalised Gaussian's shape and left and
    right spreads, by moment matching on :data:`_SHAPES`."""
    from scipy.special import gamma

    x = values.ravel()
    left = np.sqrt(np.mean(x[x < 0] ** 2))
    right = np.sqrt(np.mean(x[x > 0] ** 2))
    ratio = left / right
    rhat = np.mean(np.abs(x)) ** 2 / np.mean(x**2)
    normalised = rhat * (ratio**3 + 1) * (ratio + 1) / (ratio**2 + 1) ** 2
    shape = float(_SHAPES[np.argmin((_shape_ratios() - normalised) ** 2)])
    factor = np.sqrt(gamma(1 / shape) / gamma(3 / shape))
    return shape, float(left * factor), float(right * factor)


@functools.cache
def _shape_ratios() -> np.ndarray:
    from scipy.special import gamma

    return gamma(2 / _SHAPES) ** 2 / (gamma(1 / _SHAPES) * gamma(3 / _SHAPES))


@functools.cache
def _gaussian_window() -> np.ndarray:
    """MATLAB ``fspecial('gaussian', 7, 7/6)``, normalised to sum 1."""
    r = np.arange(-3, 4)
    window = np.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * (7 / 6) ** 2))
    window[window < np.finfo(np.float64).eps * window.max()] = 0
    return window / window.sum()


@functools.cache
def _pristine() -> tuple[np.ndarray, np.ndarray]:
    """The release's pristine model: mean (36,) and covariance (36, 36)."""
    with np.load(Path(__file__).parent / "data" / "niqe_pristine.npz") as model:
        return model["mu"], model["cov"]
