"""Resampling of n-D images by separable kernels, with MATLAB ``imresize`` semantics.

Each resized axis gets its own table of source indices and weights (the "contributions"
of MATLAB's ``imresize``): output pixel ``i`` (1-based) maps to input coordinate
``u = i / s + 0.5 * (1 - 1 / s)``, the kernel is widened by ``1 / s`` when downscaling with
antialiasing, weights are normalised to sum to one, and indices outside the image are
mirrored (symmetric padding). The output length is ``ceil(n * s)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from ._intensity import cast, check_dtype, check_finite, working_dtype
from .axes import SPATIAL_AXES, resolve_axes
from .geometry import check_scale

__all__ = ["INTERPOLATION_METHODS", "resize"]


def _cubic(x: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel with a = -0.5 (MATLAB's ``cubic``)."""
    ax = np.abs(x)
    ax2, ax3 = ax**2, ax**3
    return (1.5 * ax3 - 2.5 * ax2 + 1) * (ax <= 1) + (-0.5 * ax3 + 2.5 * ax2 - 4 * ax + 2) * (
        (ax > 1) & (ax <= 2)
    )


def _triangle(x: np.ndarray) -> np.ndarray:
    return np.clip(1 - np.abs(x), 0, None)


def _box(x: np.ndarray) -> np.ndarray:
    # half-open so that a sample exactly between two pixels belongs to one of them
    return ((x >= -0.5) & (x < 0.5)).astype(np.float64)


# name -> (kernel, support width in input pixels, antialias when downscaling)
_KERNELS: dict[str, tuple[Callable[[np.ndarray], np.ndarray], float, bool]] = {
    "nearest": (_box, 1.0, False),
    "bilinear": (_triangle, 2.0, True),
    "bicubic": (_cubic, 4.0, True),
}

INTERPOLATION_METHODS: tuple[str, ...] = tuple(_KERNELS)
"""Names accepted by ``method=`` of :func:`resize` and of ``upscale``."""


def resize(
    image: np.ndarray,
    scale: float | Sequence[float] | None = None,
    *,
    shape: Sequence[int] | None = None,
    method: str = "bicubic",
    axes: str | None = None,
    antialias: bool = True,
    dtype: np.dtype | type | None = None,
) -> np.ndarray:
    """Resize the spatial axes of an image by interpolation.

    Parameters
    ----------
    image : numpy.ndarray
        Input array with axes ``axes``.
    scale : float or sequence of float, optional
        Factor per spatial axis (``Z``, ``Y``, ``X`` among ``axes``, in that order), or one
        factor for all of them. Give ``scale`` or ``shape``, not both.
    shape : sequence of int, optional
        Target length per spatial axis instead of ``scale``.
    method : {'nearest', 'bilinear', 'bicubic'}
        Interpolation kernel. ``bicubic`` is MATLAB ``imresize``'s (Keys, a = -0.5).
    axes : str, optional
        Axes of ``image`` (default: guessed from its shape; see :mod:`napari_sr.axes`).
    antialias : bool
        Widen the kernel when downscaling, as MATLAB does (not for ``nearest``).
    dtype : dtype, optional
        Output dtype; default the input's (integers rounded and clipped).

    Returns
    -------
    numpy.ndarray
        The resized array, spatial axes of length ``ceil(n * scale)`` (or ``shape``).

    References
    ----------
    .. [1] R. Keys, "Cubic convolution interpolation for digital image processing",
       IEEE Trans. ASSP 29(6), 1153-1160 (1981). :DOI:`10.1109/TASSP.1981.1163711`
    """
    image = np.asarray(image)
    in_dtype = check_dtype(image.dtype)
    out_dtype = in_dtype if dtype is None else check_dtype(dtype, "dtype")
    if image.size == 0:
        raise ValueError(f"image is empty (shape {image.shape}); give an image with pixels")
    check_finite(image)
    if method not in _KERNELS:
        raise ValueError(
            f"unknown interpolation method {method!r}; choose one of {', '.join(_KERNELS)}"
        )
    axes = resolve_axes(axes, image.shape)
    spatial = [i for i, a in enumerate(axes) if a in SPATIAL_AXES]
    in_lengths = [image.shape[i] for i in spatial]
    scales, out_lengths = _targets(scale, shape, in_lengths, axes)

    kernel, width, aa = _KERNELS[method]
    out = image.astype(working_dtype(in_dtype), copy=False)
    # resize the most-reduced axis first, as MATLAB does, so later passes touch fewer pixels
    for k in sorted(range(len(spatial)), key=lambda k: scales[k]):
        if out_lengths[k] == in_lengths[k] and scales[k] == 1:
            continue
        index, weight = _contributions(
            in_lengths[k], out_lengths[k], scales[k], kernel, width, antialias and aa
        )
        out = _apply_axis(out, spatial[k], index, weight.astype(out.dtype))
    return cast(out, out_dtype)


def _targets(
    scale: float | Sequence[float] | None,
    shape: Sequence[int] | None,
    in_lengths: list[int],
    axes: str,
) -> tuple[list[float], list[int]]:
    n = len(in_lengths)
    spatial = "".join(a for a in axes if a in SPATIAL_AXES)
    if (scale is None) == (shape is None):
        raise ValueError("give either scale or shape (the target size), not both or neither")
    if shape is not None:
        lengths = [int(v) for v in np.atleast_1d(shape)]
        if len(lengths) != n or any(v < 1 for v in lengths):
            raise ValueError(
                f"shape {tuple(shape)} must give one positive length per spatial axis "
                f"{spatial!r} ({n} values)"
            )
        return [o / i for o, i in zip(lengths, in_lengths, strict=False)], lengths
    scales = [check_scale(float(v)) for v in np.atleast_1d(np.asarray(scale, dtype=float))]
    if len(scales) == 1:
        scales *= n
    if len(scales) != n:
        raise ValueError(
            f"scale {scale} gives {len(scales)} factors but the image has {n} spatial "
            f"axes {spatial!r}; give one factor or one per axis"
        )
    lengths = [max(1, math.ceil(i * s - 1e-9)) for i, s in zip(in_lengths, scales, strict=True)]
    return scales, lengths


def _contributions(
    in_len: int,
    out_len: int,
    scale: float,
    kernel: Callable[[np.ndarray], np.ndarray],
    width: float,
    antialias: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Source indices (0-based) and weights, both of shape (out_len, taps)."""
    if scale < 1 and antialias:

        def h(x: np.ndarray) -> np.ndarray:
            return scale * kernel(scale * x)

        width = width / scale
    else:
        h = kernel
    x = np.arange(1, out_len + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(u - width / 2)
    taps = math.ceil(width) + 2
    index = left[:, None] + np.arange(taps)[None, :]  # 1-based
    weight = h(u[:, None] - index)
    weight /= weight.sum(axis=1, keepdims=True)
    # mirror out-of-range indices (MATLAB's symmetric padding)
    mirror = np.concatenate([np.arange(in_len), np.arange(in_len - 1, -1, -1)])
    index = mirror[np.mod(index.astype(np.int64) - 1, 2 * in_len)]
    keep = np.any(weight != 0, axis=0)
    return index[:, keep], weight[:, keep]


def _apply_axis(array: np.ndarray, axis: int, index: np.ndarray, weight: np.ndarray) -> np.ndarray:
    moved = np.moveaxis(array, axis, 0)
    out = np.zeros((index.shape[0], *moved.shape[1:]), dtype=array.dtype)
    expand = (slice(None),) + (None,) * (moved.ndim - 1)
    for t in range(index.shape[1]):
        out += weight[:, t][expand] * moved[index[:, t]]
    return np.moveaxis(out, 0, axis)
