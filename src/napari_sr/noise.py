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

Shot (Poisson) noise grows with the signal, and in a fluorescence image the flattest pixels
are the dark background: where a detector adds no read noise (photon counting, a clipped
or subtracted offset) the background is nearly noise-free, and a plain flattest-pixels
estimate reads a noisy image as clean. So the pixels are first ranked by their smoothed
intensity into :data:`STRATA` equal-count levels, the flattest pixels are taken within
each level, and the estimate is the smallest σ among the :data:`BRIGHT_STRATA` brightest
levels: the noise where the signal is, read where the signal is flattest (the smallest,
so that a level with no flat pixels, all texture, does not count). Pixels at the plane's
lowest and highest value (a clipped background, saturation) and their neighbours are left
out: they have no noise to show. For signal-independent noise every level reads the same σ.

For signal-dependent noise the result is the σ of the flattest bright pixels. On the
held-out microscopy of ``benchmarks/real_inputs.py`` and on microscopy-like training images
at ×2, a clean input reads 0-0.7 % of its range (nine in ten; up to 1.2 %), one of 200
photons at the brightest pixel 1.1-6 % with read noise and 0.7-6 % without (nine in ten
above 1.1 %); bicubic-downscaled photographs 0-1.3 % (median 0.5 %), a few very finely
textured ones up to 2.8 %.

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

import itertools

import numpy as np

from .axes import resolve_axes
from .utils.planes import pick_planes

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
"""σ, pixels, of the Gaussian smoothing before the gradient that ranks pixels by flatness
and of the intensity that ranks them by level (smooth enough that a pixel's own noise
hardly moves its rank)."""

STRATA = 10
"""Equal-count intensity levels the pixels are ranked into."""

BRIGHT_STRATA = 4
"""The brightest levels whose flattest pixels are each a noise sample; the estimate is the
smallest of their σ."""

MIN_SAMPLES = 64
"""Fewest flat pixels a level needs to count; with fewer (tiny or nearly constant planes)
the flattest pixels of the whole plane are the sample."""

_MAD_TO_SIGMA = 1.4826
_MASK_NORM = 6.0


def _planes(image, axes: str | None) -> list[np.ndarray]:
    """Up to :data:`MAX_PLANES` (Y, X) float planes of ``image``, evenly spaced, each its
    centre crop of :data:`MAX_SIDE` pixels (a dask or zarr array reads only those)."""
    data = getattr(image, "data", image)
    if not hasattr(data, "shape") or isinstance(image, np.ndarray):
        data = np.asarray(image)
    if axes is None:
        axes = getattr(image, "axes", None)
    axes = resolve_axes(axes, data.shape)
    h, w = data.shape[axes.index("Y")], data.shape[axes.index("X")]
    y0, x0 = max(0, (h - MAX_SIDE) // 2), max(0, (w - MAX_SIDE) // 2)
    crop = {"Y": slice(y0, y0 + MAX_SIDE), "X": slice(x0, x0 + MAX_SIDE)}
    return [p.astype(np.float64) for p in pick_planes(data, axes, MAX_PLANES, crop=crop)]


def _mad_sigma(responses: np.ndarray) -> float:
    deviation = np.abs(responses - np.median(responses))
    return float(_MAD_TO_SIGMA * np.median(deviation) / _MASK_NORM)


def _flattest(responses: np.ndarray, gradient: np.ndarray) -> np.ndarray:
    return responses[gradient <= np.percentile(gradient, FLAT_PERCENTILE)]


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
    inner = (slice(1, -1), slice(1, -1))
    gradient = ndimage.gaussian_gradient_magnitude(p, SMOOTHING)[inner]
    level = ndimage.gaussian_filter(p, SMOOTHING)[inner]
    # a response touched by a clipped pixel shows less than the noise
    clipped = (p == p.min()) | (p == p.max())
    if clipped.any():
        keep = ~ndimage.binary_dilation(clipped, np.ones((3, 3), bool))[inner]
        response, gradient, level = response[keep], gradient[keep], level[keep]
    else:
        response, gradient, level = response.ravel(), gradient.ravel(), level.ravel()
    if response.size == 0:
        return 0.0
    edges = np.quantile(level, np.linspace(1 - BRIGHT_STRATA / STRATA, 1, BRIGHT_STRATA + 1))
    sigmas = []
    for low, high in itertools.pairwise(edges):
        at = (level >= low) & (level <= high)
        if at.sum() >= MIN_SAMPLES * 100 / FLAT_PERCENTILE:
            sigmas.append(_mad_sigma(_flattest(response[at], gradient[at])))
    return min(sigmas) if sigmas else _mad_sigma(_flattest(response, gradient))


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
