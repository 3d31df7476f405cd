"""How noisy an image is: a robust estimate of the σ of its pixel noise.

The engine asks it which weights of a single-image default to run: the bicubic-protocol
weights, which treat noise as detail and sharpen it, or the weights trained on noisy
microscope degradations (:func:`napari_sr.engine.method_table.default_for`).

The estimate is Immerkær's: the image filtered by the difference of two Laplacians,

    M = [[1, -2, 1], [-2, 4, -2], [1, -2, 1]],

cancels every intensity ramp and most smooth structure and leaves white noise of σ as
white noise of 6σ (the norm of M). M also responds to edges and fine texture, which a
clean photograph is full of, so, as Tai and Yang do, only the flattest pixels are looked
at: the :data:`FLAT_PERCENTILE` % of pixels with the smallest gradient magnitude of the
image smoothed by a Gaussian of σ = :data:`SMOOTHING` pixels (noise moves that gradient
far less than structure does). Of their responses the median absolute deviation is taken
(× 1.4826, the MAD of a unit normal), as Donoho and Johnstone do for wavelet detail
coefficients, rather than Immerkær's mean, so that the edge pixels left do not count.

For signal-dependent (Poisson) noise the result is the σ of the flattest pixels: in a
fluorescence image mostly the background's. On the held-out microscopy of
``benchmarks/real_inputs.py`` at ×2 a clean input reads 0.01-0.8 % of its range, one of
200 photons at the brightest pixel 1.0-4 %; bicubic-downscaled photographs 0-1.2 %, a few
very finely textured ones up to 2 %.

References
----------
Immerkær, J. (1996). Fast noise variance estimation. Computer Vision and Image
Understanding 64(2), 300-302. doi:10.1006/cviu.1996.0060.
Tai, S.-C., and Yang, S.-M. (2008). A fast method for image noise estimation using
Laplacian operator and adaptive edge detection. 3rd International Symposium on
Communications, Control and Signal Processing, 1077-1081.
doi:10.1109/ISCCSP.2008.4537384.
Donoho, D. L., and Johnstone, I. M. (1994). Ideal spatial adaptation by wavelet
shrinkage. Biometrika 81(3), 425-455. doi:10.1093/biomet/81.3.425.
"""

from __future__ import annotations

import numpy as np

from .axes import resolve_axes
from .utils.planes import fold_planes

__all__ = ["estimate_noise", "relative_noise"]

MAX_PLANES = 8
"""Planes of a stack the estimate looks at (evenly spaced): the median of their estimates."""

MAX_SIDE = 512
"""Larger planes are estimated on their centre crop of this many pixels a side (a quarter
of a million samples, of which the flattest quarter count: enough for a σ within a few
per cent, in milliseconds whatever the image's size)."""

FLAT_PERCENTILE = 25.0
"""Percentage of a plane's pixels, the flattest, whose response is the noise sample."""

SMOOTHING = 1.5
"""σ, pixels, of the Gaussian smoothing before the gradient that ranks pixels by flatness."""

_MAD_TO_SIGMA = 1.4826
_MASK_NORM = 6.0


def _planes(image, axes: str | None) -> list[np.ndarray]:
    """Up to :data:`MAX_PLANES` (Y, X) float planes of ``image``, evenly spaced."""
    data = np.asarray(getattr(image, "data", image))
    if axes is None:
        axes = getattr(image, "axes", None)
    stack = fold_planes(data, resolve_axes(axes, data.shape))
    picks = np.unique(np.linspace(0, len(stack) - 1, min(MAX_PLANES, len(stack))).astype(int))
    h, w = stack.shape[-2:]
    y0, x0 = max(0, (h - MAX_SIDE) // 2), max(0, (w - MAX_SIDE) // 2)
    crop = (slice(y0, y0 + MAX_SIDE), slice(x0, x0 + MAX_SIDE))
    return [np.asarray(stack[i][crop], dtype=np.float64) for i in picks]


def _plane_sigma(plane: np.ndarray) -> float:
    from scipy import ndimage

    if min(plane.shape) < 3:
        return 0.0
    p = plane
    response = (
        p[:-2, :-2] - 2 * p[:-2, 1:-1] + p[:-2, 2:]
        - 2 * p[1:-1, :-2] + 4 * p[1:-1, 1:-1] - 2 * p[1:-1, 2:]
        + p[2:, :-2] - 2 * p[2:, 1:-1] + p[2:, 2:]
    )  # fmt: skip
    gradient = ndimage.gaussian_gradient_magnitude(p, SMOOTHING)[1:-1, 1:-1]
    flat = response[gradient <= np.percentile(gradient, FLAT_PERCENTILE)]
    deviation = np.abs(flat - np.median(flat))
    return float(_MAD_TO_SIGMA * np.median(deviation) / _MASK_NORM)


def estimate_noise(image, axes: str | None = None) -> float:
    """The σ of the noise in ``image``, in its intensity units.

    Parameters
    ----------
    image : array-like or Image
        Any image napari-sr takes; every 2D (Y, X) plane (channels, z, time) is one
        sample, and the median over up to :data:`MAX_PLANES` evenly spaced planes is
        returned.
    axes : str, optional
        Axes of ``image`` (default: an Image's own, else guessed from the shape).

    Returns
    -------
    float
        Estimated σ (≥ 0); 0 for noise-free smooth images and for planes smaller than
        3 × 3 pixels.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> ramp = np.add.outer(np.arange(256.0), np.arange(256.0))
    >>> round(estimate_noise(ramp + rng.normal(0, 5, ramp.shape)), 1)
    5.0
    """
    sigmas = [_plane_sigma(p) for p in _planes(image, axes)]
    return float(np.median(sigmas)) if sigmas else 0.0


def relative_noise(image, axes: str | None = None) -> float:
    """:func:`estimate_noise` as a fraction of the image's span: its percentiles 0.1
    to 99.99 (the span a learned default normalises by), over the same planes; 0 for a
    flat image."""
    planes = _planes(image, axes)
    sigmas = [_plane_sigma(p) for p in planes]
    low, high = np.percentile(np.concatenate([p.ravel() for p in planes]), [0.1, 99.99])
    span = float(high - low)
    return float(np.median(sigmas)) / span if span > 0 else 0.0
