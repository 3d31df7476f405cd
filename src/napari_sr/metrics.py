"""Image quality metrics with the SR field's standard protocol, and the microscopist's
resolution measure.

``psnr`` and ``ssim`` follow the protocol of published SR tables: optional ``crop_border``
pixels removed from every border of the image plane, and with ``y_channel=True`` RGB
converted to luma by ITU-R BT.601, Y = 16 + 65.481 R + 128.553 G + 24.966 B for RGB in
[0, 1] (values as BasicSR computes them, unrounded; MATLAB's ``rgb2ycbcr`` on uint8
rounds Y to integers, which moves PSNR by about 0.01 dB). SSIM is Wang et al. (2004): an
11×11 Gaussian window with σ = 1.5, the valid region only, C1 = (0.01 L)², C2 = (0.03 L)².

``data_range`` (L) comes from the dtype for integers (255 for uint8, 65535 for uint16; for
int16, as scikit-image: 65535 for SSIM, and for PSNR 32767 unless the reference has negative
values) and must be given for floats: guessing it from the values would change the score.

:data:`METRICS` is the table of the metrics comparisons report (psnr, ssim): their names,
units, which way is better and the protocol options they take. The evaluation
(:func:`napari_sr.evaluation.compare_methods`), the CLI's ``compare`` table and the Compare
widget's columns all come from it; adding a metric to it adds a column to each.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .axes import SPATIAL_AXES, is_rgb, resolve_axes
from .color import luma
from .utils.validate import check_flag, check_integer, check_real, real_array

__all__ = [
    "METRICS",
    "FRCResult",
    "Metric",
    "describe_range",
    "frc",
    "get_metric",
    "metric_labels",
    "nrmse",
    "psnr",
    "scoring_range",
    "ssim",
]


def psnr(
    reference: np.ndarray,
    test: np.ndarray,
    *,
    data_range: float | None = None,
    crop_border: int = 0,
    y_channel: bool = False,
    axes: str | None = None,
    mask: np.ndarray | None = None,
) -> float:
    """Peak signal-to-noise ratio in dB: ``10 log10(L² / MSE)``.

    Parameters
    ----------
    reference, test : numpy.ndarray
        Same shape. Integer dtypes give ``data_range``; floats need it.
    data_range : float, optional
        L, the range of possible values (255 for 8-bit images).
    crop_border : int
        Pixels removed from every border of the Y and X axes first (SR protocol: the scale).
    y_channel : bool
        Compare the BT.601 luma of RGB images (3-channel last axis); others unchanged.
    axes : str, optional
        Axes of the arrays (default guessed from the shape).
    mask : numpy.ndarray of bool, optional
        Score only where it is True (e.g. the foreground of a microscopy volume, whose
        dark background would inflate the score): the images' shape, without the RGB
        axis when ``y_channel``; cropped with them.

    Returns
    -------
    float
        PSNR in dB; ``inf`` for identical images.

    References
    ----------
    .. [1] C. Dong, C. C. Loy, K. He, X. Tang, "Image super-resolution using deep
       convolutional networks," IEEE TPAMI 38(2), 295-307 (2016).
       doi:10.1109/TPAMI.2015.2439281 (the protocol of SR tables: PSNR on the luma of
       YCbCr, ``scale`` pixels of border removed)
    .. [2] Recommendation ITU-R BT.601-7, "Studio encoding parameters of digital television
       for standard 4:3 and wide-screen 16:9 aspect ratios," ITU, 2011 (the luma weights).

    Examples
    --------
    >>> import numpy as np
    >>> round(psnr(np.zeros((4, 4), np.uint8), np.full((4, 4), 5, np.uint8)), 4)
    34.1514
    """
    ref, out, value_range, axes = _prepare(
        reference, test, data_range, crop_border, y_channel, axes
    )
    squared = (ref - out) ** 2
    if mask is not None:
        squared = squared[_crop_mask(mask, ref.shape, axes, crop_border, y_channel)]
    mse = float(np.mean(squared))
    if mse == 0:
        return float("inf")
    return float(10 * np.log10(value_range**2 / mse))


def ssim(
    reference: np.ndarray,
    test: np.ndarray,
    *,
    data_range: float | None = None,
    crop_border: int = 0,
    y_channel: bool = False,
    axes: str | None = None,
    mask: np.ndarray | None = None,
) -> float:
    """Structural similarity (Wang et al. 2004), in 2D or 3D.

    The window is Gaussian (σ = 1.5, 11 samples) along every spatial axis: 11×11 for
    planes, 11×11×11 for ``ZYX`` volumes. Channels (RGB without ``y_channel``) and time
    points are scored separately and averaged. Arguments as :func:`psnr`; with ``mask``,
    the mean is over the windows centred inside it.

    References
    ----------
    .. [1] Z. Wang, A. C. Bovik, H. R. Sheikh, E. P. Simoncelli, "Image quality assessment:
       from error visibility to structural similarity," IEEE Trans. Image Process. 13(4),
       600-612 (2004). doi:10.1109/TIP.2003.819861
    """
    from scipy import ndimage

    ref, out, value_range, axes = _prepare(
        reference, test, data_range, crop_border, y_channel, axes, full_integer_range=True
    )
    spatial = [i for i, a in enumerate(axes) if a in SPATIAL_AXES]
    if any(ref.shape[i] < 11 for i in spatial):
        raise ValueError(
            f"SSIM needs at least 11 pixels along every spatial axis (shape {ref.shape}, "
            f"axes {axes!r}); use a larger image or a smaller crop_border"
        )
    radius = 5
    x = np.arange(-radius, radius + 1)
    window = np.exp(-(x**2) / (2 * 1.5**2))
    window /= window.sum()

    def filt(a: np.ndarray) -> np.ndarray:
        for axis in spatial:
            a = ndimage.correlate1d(a, window, axis=axis, mode="reflect")
        valid = tuple(
            slice(radius, n - radius) if i in spatial else slice(None)
            for i, n in enumerate(a.shape)
        )
        return a[valid]

    c1 = (0.01 * value_range) ** 2
    c2 = (0.03 * value_range) ** 2
    mu_x, mu_y = filt(ref), filt(out)
    sxx = filt(ref * ref) - mu_x**2
    syy = filt(out * out) - mu_y**2
    sxy = filt(ref * out) - mu_x * mu_y
    num = (2 * mu_x * mu_y + c1) * (2 * sxy + c2)
    den = (mu_x**2 + mu_y**2 + c1) * (sxx + syy + c2)
    values = num / den
    if mask is not None:
        inside = _crop_mask(mask, ref.shape, axes, crop_border, y_channel)
        valid = tuple(
            slice(radius, n - radius) if i in spatial else slice(None)
            for i, n in enumerate(inside.shape)
        )
        if not inside[valid].any():
            raise ValueError(
                f"the mask has no pixel {radius} or more pixels from the border, where SSIM "
                "windows are centred; enlarge the mask"
            )
        values = values[inside[valid]]
    return float(np.mean(values))


def nrmse(reference: np.ndarray, test: np.ndarray, *, normalization: str = "euclidean") -> float:
    """Normalised root mean squared error.

    ``normalization`` divides the RMSE by ``sqrt(mean(reference²))`` (``"euclidean"``),
    by ``max - min`` of the reference (``"min-max"``) or by its mean (``"mean"``), as
    ``skimage.metrics.normalized_root_mse`` does.
    """
    if not isinstance(normalization, str):
        raise TypeError(
            f"normalization must be 'euclidean', 'min-max' or 'mean', not "
            f"{type(normalization).__name__} {normalization!r}"
        )
    ref, out = _pair(reference, test)
    rmse = np.sqrt(np.mean((ref - out) ** 2))
    if normalization == "euclidean":
        denom = np.sqrt(np.mean(ref * ref))
    elif normalization == "min-max":
        denom = ref.max() - ref.min()
    elif normalization == "mean":
        denom = ref.mean()
    else:
        raise ValueError(
            f"unknown normalization {normalization!r}; use 'euclidean', 'min-max' or 'mean'"
        )
    if denom == 0:
        raise ValueError("the reference is constant zero (or flat); NRMSE is undefined")
    return float(rmse / denom)


@dataclass(frozen=True)
class FRCResult:
    """Fourier ring correlation curve and the resolution it implies.

    Attributes
    ----------
    frequency : numpy.ndarray
        Ring centres in cycles per unit of ``pixel_size`` (cycles per pixel if none).
    correlation : numpy.ndarray
        FRC value per ring, in [-1, 1].
    resolution : float
        ``1 / frequency`` where the curve first falls below ``threshold`` (same unit as
        ``pixel_size``); ``nan`` if it never does within Nyquist.
    threshold : float
        The threshold used (1/7 by default).
    """

    frequency: np.ndarray
    correlation: np.ndarray
    resolution: float
    threshold: float


def frc(
    image1: np.ndarray,
    image2: np.ndarray | None = None,
    *,
    pixel_size: float = 1.0,
    threshold: float = 1 / 7,
) -> FRCResult:
    """Fourier ring correlation resolution of a 2D image (Nieuwenhuizen et al. 2013).

    With two images (independent acquisitions of the same field), the FRC compares them
    directly. With one, it is split into two half-resolution images with independent
    noise: the means of the diagonal and of the anti-diagonal pixels of each 2×2 block
    (both centred at the block's centre, so the halves are not shifted); the pixel size of
    the halves is ``2 * pixel_size``, so frequencies stop at a quarter of the original
    sampling rate.

    Parameters
    ----------
    image1, image2 : numpy.ndarray
        2D (Y, X) images of the same shape; non-square images are cropped to a square.
    pixel_size : float
        Pixel size of ``image1`` (e.g. µm); the resolution comes in that unit.
    threshold : float
        FRC threshold; 1/7 is the usual fixed threshold.

    Returns
    -------
    FRCResult

    References
    ----------
    .. [1] R. P. J. Nieuwenhuizen et al., "Measuring image resolution in optical nanoscopy,"
       Nature Methods 10, 557-562 (2013). doi:10.1038/nmeth.2448
    """
    pixel_size = check_real(pixel_size, "pixel_size", above=0.0, hint="e.g. 0.1 (in µm)")
    threshold = check_real(threshold, "threshold", above=0.0, maximum=1.0,
                           hint="the usual fixed threshold is 1/7")  # fmt: skip
    a = real_array(image1, "image1").astype(np.float64)
    if a.ndim != 2:
        raise ValueError(f"FRC needs a 2D image, not shape {a.shape}; pick one plane")
    if image2 is None:
        h, w = (a.shape[0] // 2) * 2, (a.shape[1] // 2) * 2
        a = a[:h, :w]
        first = (a[0::2, 0::2] + a[1::2, 1::2]) / 2
        second = (a[0::2, 1::2] + a[1::2, 0::2]) / 2
        a, b, pixel_size = first, second, 2 * pixel_size
    else:
        a, b = _pair(image1, image2, names=("image1", "image2"))
        if a.ndim != 2:
            raise ValueError(f"FRC needs 2D images, not shape {a.shape}")
    n = min(a.shape)
    if n < 16:
        raise ValueError(f"FRC needs at least 16×16 pixels (after splitting), not {a.shape}")
    a, b = a[:n, :n], b[:n, :n]
    window = np.outer(np.hanning(n), np.hanning(n))  # reduce the edges' spectral leakage
    fa = np.fft.fftshift(np.fft.fft2((a - a.mean()) * window))
    fb = np.fft.fftshift(np.fft.fft2((b - b.mean()) * window))
    k = np.arange(n) - n // 2
    ring = np.rint(np.hypot(*np.meshgrid(k, k, indexing="ij"))).astype(int).ravel()
    n_rings = n // 2
    keep = ring < n_rings
    ring = ring[keep]
    cross = np.bincount(ring, (fa * np.conj(fb)).real.ravel()[keep], n_rings)
    pa = np.bincount(ring, (np.abs(fa) ** 2).ravel()[keep], n_rings)
    pb = np.bincount(ring, (np.abs(fb) ** 2).ravel()[keep], n_rings)
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = cross / np.sqrt(pa * pb)
    freq = np.arange(n_rings) / (n * pixel_size)
    resolution = float("nan")
    below = np.nonzero(corr[1:] < threshold)[0]
    if below.size:
        i = below[0] + 1  # first ring under the threshold; interpolate from the one before
        f0, f1, c0, c1 = freq[i - 1], freq[i], corr[i - 1], corr[i]
        f_cross = f0 + (c0 - threshold) * (f1 - f0) / (c0 - c1) if c0 != c1 else f1
        resolution = float(1 / f_cross)
    return FRCResult(freq, corr, resolution, threshold)


def scoring_range(reference: np.ndarray | None) -> float | None:
    """The ``data_range`` (L) napari-sr's comparisons use unless told otherwise.

    8-bit images: None, i.e. 255 from the dtype, the SR protocol. Anything else: the
    reference's own span (max - min; 1 for a constant image), since 16-bit and float
    microscopy images fill a sliver of their dtype's range and L = 65535 would add tens of
    dB to every PSNR.
    """
    if reference is None or np.asarray(reference).dtype == np.uint8:
        return None
    return float(np.ptp(reference)) or 1.0


def describe_range(data_range: float | None, *, given: bool = False) -> str:
    """``data_range`` in words, for the line above a table of scores: as given by the
    user, or as :func:`scoring_range` chose it."""
    if data_range is None:
        return "L = 255 (8-bit)"
    return f"L = {data_range:g}" + ("" if given else " (the reference's max - min)")


# ------------------------------------------------------------------------- the table

PROTOCOL_OPTIONS = ("data_range", "crop_border", "y_channel", "axes", "mask")
"""The keyword arguments of the SR protocol that :func:`psnr` and :func:`ssim` take."""


@dataclass(frozen=True)
class Metric:
    """One image-quality metric of :data:`METRICS`.

    Attributes
    ----------
    name : str
        Lower-case name: ``"psnr"``.
    function : callable or None
        ``function(reference, test, **options) -> float``, for the keyword arguments named
        in ``options``; None for a score that a comparison computes from more than the
        reference and the output (the input too: see
        :data:`napari_sr.evaluation.BEYOND_PSNR`).
    higher_is_better : bool
        Whether a larger score means an output closer to the reference.
    label : str
        Name in texts and table headers: ``"PSNR"``.
    unit : str
        Unit of the score (``""``: none).
    key : str
        Key of the score in :class:`napari_sr.evaluation.Comparison` rows, and CSV column.
    decimals : int
        Decimals shown in tables.
    options : tuple of str
        The protocol options ``function`` takes (of :data:`PROTOCOL_OPTIONS`).
    averages_planes : bool
        The score of a stack of 2-D planes is the mean of its planes' scores, so a stack may
        be scored a few planes at a time (SSIM: each plane has as many windows); not so for
        PSNR, the log of the mean error.
    """

    name: str
    function: Callable[..., float] | None
    higher_is_better: bool
    label: str
    unit: str
    key: str
    decimals: int
    options: tuple[str, ...] = PROTOCOL_OPTIONS
    averages_planes: bool = False

    @property
    def title(self) -> str:
        """Column header of text tables: ``"PSNR (dB)"``."""
        return f"{self.label} ({self.unit})" if self.unit else self.label

    @property
    def short_title(self) -> str:
        """Column header where space is short (the Compare widget): ``"PSNR dB"``."""
        return f"{self.label} {self.unit}" if self.unit else self.label

    def format(self, value: float | None) -> str:
        """``value`` as tables show it; ``"—"`` for None (nothing to score against)."""
        return "—" if value is None else f"{value:.{self.decimals}f}"

    def best(self, values: list[float | None]) -> float | None:
        """The best of ``values`` (None ignored; None if there is none)."""
        scored = [v for v in values if v is not None]
        if not scored:
            return None
        return max(scored) if self.higher_is_better else min(scored)


METRICS: tuple[Metric, ...] = (
    Metric("psnr", psnr, True, "PSNR", "dB", "psnr_db", 3),
    Metric("ssim", ssim, True, "SSIM", "", "ssim", 4, averages_planes=True),
)
"""The metrics comparisons compute, in column order; the first ranks the methods."""


def get_metric(name: str) -> Metric:
    """The metric of :data:`METRICS` called ``name`` (any case).

    Raises
    ------
    ValueError
        If there is none; the message names those there are.
    """
    for metric in METRICS:
        if isinstance(name, str) and name.strip().lower() == metric.name:
            return metric
    raise ValueError(
        f"unknown metric {name!r}; choose one of {', '.join(m.name for m in METRICS)}"
    )


def metric_labels(separator: str = "/") -> str:
    """The metrics' labels in one word, for texts: ``"PSNR/SSIM"``."""
    return separator.join(metric.label for metric in METRICS)


# ----------------------------------------------------------------------------- helpers


def _pair(
    reference: np.ndarray, test: np.ndarray, names: tuple[str, str] = ("reference", "test")
) -> tuple[np.ndarray, np.ndarray]:
    """Both images as float64, checked: real numbers (not complex, boolean, text or
    objects), finite, the same non-empty shape."""
    # a NaN would make every score NaN; a complex image would lose its imaginary part
    ref, out = real_array(reference, names[0]), real_array(test, names[1])
    if ref.shape != out.shape:
        raise ValueError(
            f"{names[0]} and {names[1]} have different shapes {ref.shape} and {out.shape}; "
            "compare images of the same size (crop the reference to a multiple of the scale)"
        )
    if ref.size == 0:
        raise ValueError(f"the images are empty (shape {ref.shape}); give images with pixels")
    return ref.astype(np.float64), out.astype(np.float64)


def _prepare(reference, test, data_range, crop_border, y_channel, axes, full_integer_range=False):
    crop_border = check_integer(
        crop_border, "crop_border", minimum=0, hint="the SR protocol crops the scale, e.g. 2"
    )
    y_channel = check_flag(y_channel, "y_channel")
    ref, out = _pair(reference, test)
    value_range = _data_range(
        np.asarray(reference), np.asarray(test), data_range, full_integer_range
    )
    axes = resolve_axes(axes, ref.shape)
    if y_channel and is_rgb(axes, ref.shape) and ref.shape[-1] == 3:
        ref, out = luma(ref, value_range), luma(out, value_range)
        axes = axes[:-1]
    if crop_border:
        index = tuple(
            slice(crop_border, n - crop_border) if a in "YX" else slice(None)
            for a, n in zip(axes, ref.shape, strict=True)
        )
        ref, out = ref[index], out[index]
        if ref.size == 0:
            raise ValueError(
                f"crop_border={crop_border} leaves nothing of the {ref.shape} images; "
                "give a smaller crop_border"
            )
    return ref, out, value_range, axes


def _crop_mask(mask, shape, axes: str, crop_border: int, y_channel: bool) -> np.ndarray:
    """``mask`` cropped as :func:`_prepare` cropped the images (to ``shape``), checked."""
    inside = np.asarray(mask)
    if inside.dtype != bool:
        raise TypeError(f"mask must be a boolean array, not {inside.dtype}")
    crop = int(crop_border)
    if crop:
        index = tuple(
            slice(crop, n - crop) if a in "YX" else slice(None)
            for a, n in zip(axes, inside.shape, strict=False)
        )
        inside = inside[index]
    if inside.shape != tuple(shape):
        rgb = " (without the RGB axis, scored on luma)" if y_channel else ""
        raise ValueError(
            f"mask has shape {np.shape(mask)}, but the images have {shape} after cropping"
            f"{rgb}; give a boolean mask of the images' shape"
        )
    if not inside.any():
        raise ValueError("the mask selects no pixel (after cropping); nothing to score")
    return inside


def _data_range(
    ref: np.ndarray, test: np.ndarray, data_range: float | None, full_integer_range: bool = False
) -> float:
    if data_range is not None:
        return check_real(
            data_range, "data_range", above=0.0,
            hint="the range of possible values, e.g. 1.0 for images in [0, 1] or 255",
        )  # fmt: skip
    if ref.dtype != test.dtype:
        raise ValueError(
            f"reference ({ref.dtype}) and test ({test.dtype}) differ in dtype, so the data "
            "range is ambiguous; pass data_range, e.g. data_range=255"
        )
    if ref.dtype.kind in "ui":
        info = np.iinfo(ref.dtype)
        # as scikit-image: its SSIM uses the dtype's whole span for signed types, its PSNR
        # only 0..max when the reference never goes negative
        if ref.dtype.kind == "i" and (full_integer_range or ref.min() < 0):
            return float(info.max - info.min)
        return float(info.max)
    raise ValueError(
        f"data_range is required for {ref.dtype} images: pass the range of possible values, "
        "e.g. data_range=1.0 for images in [0, 1] or 255 for 8-bit data as floats"
    )
