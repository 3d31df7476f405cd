"""Resampling of n-D images by separable kernels, with MATLAB ``imresize`` semantics.

Each resized axis gets a 1-D plan. Output pixel ``i`` (0-based) of an axis resized by ``s``
sits at input coordinate ``u = (i + 0.5) / s - 0.5`` (pixel centres, footprints aligned),
the kernel is centred there, widened by ``1 / s`` when downscaling with antialiasing, its
weights are normalised to sum to one, and samples outside the image are mirrored
(MATLAB) or replicated (OpenCV). The output length is ``ceil(n * s)``.

Methods
-------
``nearest``         box kernel, no antialiasing (MATLAB ``nearest``)
``bilinear``        triangle kernel, antialiased downscaling (MATLAB ``bilinear``)
``bicubic``         Keys cubic, a = -0.5, antialiased downscaling (MATLAB ``bicubic``, the
                    standard degradation of SR benchmarks)
``bicubic-opencv``  Keys cubic, a = -0.75, replicated edges, never antialiased (OpenCV
                    ``INTER_CUBIC``, PyTorch ``interpolate(mode="bicubic")``)
``lanczos3``        Lanczos windowed sinc, 3 lobes, antialiased downscaling (MATLAB ``lanczos3``)
``area``            exact pixel-footprint overlap: block means for integer downscaling
                    (OpenCV ``INTER_AREA``), pixel replication with shared edges upscaling

CPU arrays go through compiled numba loops (:mod:`napari_sr._resample_kernels`); torch
tensors stay on their device (CUDA included) and go through torch operations.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from .axes import SPATIAL_AXES, resolve_axes
from .geometry import check_scale
from .utils.intensity import cast, check_dtype, working_dtype
from .utils.lazy import as_dask, is_lazy

__all__ = ["INTERPOLATION_METHODS", "point_grid", "resize", "sample_at"]


# ----------------------------------------------------------------------------- kernels


def _cubic(a: float) -> Callable[[np.ndarray, float], np.ndarray]:
    """Keys' cubic convolution kernel with parameter ``a``."""

    def kernel(x: np.ndarray, scale: float) -> np.ndarray:
        ax = np.abs(x)
        ax2, ax3 = ax * ax, ax * ax * ax
        near = ((a + 2) * ax3 - (a + 3) * ax2 + 1) * (ax <= 1)
        far = (a * ax3 - 5 * a * ax2 + 8 * a * ax - 4 * a) * ((ax > 1) & (ax <= 2))
        return near + far

    return kernel


def _triangle(x: np.ndarray, scale: float) -> np.ndarray:
    return np.clip(1 - np.abs(x), 0, None)


def _box(x: np.ndarray, scale: float) -> np.ndarray:
    # half-open, as MATLAB's: a sample exactly between two pixels takes the right one
    return ((x >= -0.5) & (x < 0.5)).astype(np.float64)


def _lanczos3(x: np.ndarray, scale: float) -> np.ndarray:
    return np.sinc(x) * np.sinc(x / 3) * (np.abs(x) < 3)


def _area(x: np.ndarray, scale: float) -> np.ndarray:
    """Overlap of the output pixel's footprint (1/scale input pixels wide) with the input
    pixel at offset ``x``."""
    half = 0.5 / scale
    return np.clip(np.minimum(x + half, 0.5) - np.maximum(x - half, -0.5), 0, None)


@dataclass(frozen=True)
class _Method:
    kernel: Callable[[np.ndarray, float], np.ndarray]
    width: Callable[[float], float]  # support in input pixels, given the scale
    antialias: bool  # widen the kernel by 1/scale when downscaling
    boundary: str  # "symmetric" (MATLAB) or "replicate" (OpenCV)


def _fixed(width: float) -> Callable[[float], float]:
    return lambda scale: width


_METHODS: dict[str, _Method] = {
    "nearest": _Method(_box, _fixed(1.0), False, "symmetric"),
    "bilinear": _Method(_triangle, _fixed(2.0), True, "symmetric"),
    "bicubic": _Method(_cubic(-0.5), _fixed(4.0), True, "symmetric"),
    "bicubic-opencv": _Method(_cubic(-0.75), _fixed(4.0), False, "replicate"),
    "lanczos3": _Method(_lanczos3, _fixed(6.0), True, "symmetric"),
    "area": _Method(_area, lambda scale: 1.0 + 1.0 / scale, False, "symmetric"),
}

INTERPOLATION_METHODS: tuple[str, ...] = tuple(_METHODS)
"""Names accepted by ``method=`` of :func:`resize` and of ``upscale``."""


# ----------------------------------------------------------------------------- 1-D plans


@dataclass(frozen=True)
class AxisPlan:
    """How to resample one axis of length ``n_in`` to ``n_out`` (scale ``p / q``).

    Output ``i = p * k + r`` is ``sum_t weights[r, t] * x[padmap[left[r] + q * k + t]]``.
    """

    n_in: int
    n_out: int
    p: int
    q: int
    left: np.ndarray  # (p,) int64, offsets into the padded line
    weights: np.ndarray  # (p, T) float64
    padmap: np.ndarray  # (n_pad,) int64, padded position -> input index

    def table(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-output source indices and weights, both (n_out, T)."""
        i = np.arange(self.n_out)
        r, k = i % self.p, i // self.p
        pos = self.left[r][:, None] + self.q * k[:, None] + np.arange(self.weights.shape[1])
        return self.padmap[pos], self.weights[r]


def plan_axis(n_in: int, n_out: int, scale: float, method: str, antialias: bool) -> AxisPlan:
    """Make the :class:`AxisPlan` of one axis (MATLAB ``imresize`` contributions)."""
    spec = _METHODS[method]
    # weights repeat every p outputs when scale = p / q; otherwise every output is a phase
    ratio = Fraction(scale).limit_denominator(10_000)
    if abs(float(ratio) - scale) <= 1e-12 * scale and ratio.numerator <= n_out:
        p, q = ratio.numerator, ratio.denominator
    else:
        p, q = n_out, 0
    width = spec.width(scale)
    widen = antialias and spec.antialias and scale < 1
    if widen:

        def kernel(x: np.ndarray) -> np.ndarray:
            return scale * spec.kernel(scale * x, scale)

        width /= scale
    else:

        def kernel(x: np.ndarray) -> np.ndarray:
            return spec.kernel(x, scale)

    span = math.ceil(width) + 2
    if span * p > 50_000_000 or n_out > 2**40:
        raise ValueError(
            f"resampling {n_in} pixels by {scale:g} to {n_out} is out of range (the kernel "
            f"would span {span} pixels); use a scale nearer 1"
        )
    if span * p > 2**20:  # the weights' float64 tables and their temporaries, ~10 of them
        from .utils.memory import check_fits

        check_fits((p, span), np.float64, extra_bytes=80 * p * span, what="interpolation table")
    # taps of the first p outputs, in unclipped input coordinates (0-based)
    u = (np.arange(p) + 0.5) / scale - 0.5
    first = np.floor(u - width / 2).astype(np.int64)
    taps = first[:, None] + np.arange(span)
    weights = kernel(u[:, None] - taps)
    weights /= weights.sum(axis=1, keepdims=True)
    # keep only the taps that some phase uses: align each phase at its first non-zero tap
    nonzero = weights != 0
    start = nonzero.argmax(axis=1)
    stop = span - nonzero[:, ::-1].argmax(axis=1)
    n_taps = int((stop - start).max())
    rows = np.arange(p)[:, None]
    cols = np.minimum(start[:, None] + np.arange(n_taps), span - 1)
    valid = start[:, None] + np.arange(n_taps) < stop[:, None]
    compact = np.where(valid, weights[rows, cols], 0.0)
    first = first + start
    # padded line: positions from the lowest to the highest tap any output touches
    k_last = (n_out - 1 - np.arange(p)) // p
    lo = int(first.min())
    hi = int((first + q * np.maximum(k_last, 0)).max()) + n_taps
    positions = np.arange(lo, hi)
    if spec.boundary == "symmetric":
        period = np.concatenate([np.arange(n_in), np.arange(n_in - 1, -1, -1)])
        padmap = period[np.mod(positions, 2 * n_in)]
    else:
        padmap = np.clip(positions, 0, n_in - 1)
    return AxisPlan(n_in, n_out, p, q, (first - lo).astype(np.int64), compact, padmap)


# ----------------------------------------------------------------------------- resize


def resize(
    image: Any,
    scale: float | Sequence[float] | Mapping[str, float] | None = None,
    *,
    shape: Sequence[int] | None = None,
    method: str = "bicubic",
    axes: str | None = None,
    antialias: bool = True,
    dtype: Any = None,
) -> Any:
    """Resize the spatial axes of an image by interpolation.

    Parameters
    ----------
    image : numpy.ndarray, torch.Tensor, dask array or zarr array
        Input with axes ``axes``. A tensor stays on its device and comes back a tensor. A
        dask or zarr array gives a dask array, computed chunk by chunk when asked, each
        output chunk from the input lines its kernel reaches: the same values as in
        memory, for data of any size (:mod:`napari_sr._resample_blocks`).
    scale : float, sequence of float, or dict, optional
        One factor for every spatial axis (``Z``, ``Y``, ``X`` among ``axes``), one per
        spatial axis in that order, or a dict such as ``{"Z": 4}`` for some axes only.
        Give ``scale`` or ``shape``, not both.
    shape : sequence of int, optional
        Target length per spatial axis instead of ``scale``.
    method : str
        ``nearest``, ``bilinear``, ``bicubic`` (MATLAB, the default), ``bicubic-opencv``,
        ``lanczos3`` or ``area``; see the module docstring.
    axes : str, optional
        Axes of ``image`` (default: guessed from its shape; see :mod:`napari_sr.axes`).
        Only ``Z``, ``Y`` and ``X`` are resized; ``T`` and ``C`` are kept.
    antialias : bool
        Widen the kernel when downscaling, as MATLAB does (bilinear, bicubic, lanczos3).
    dtype : dtype, optional
        Output dtype; default the input's (integers rounded and clipped).

    Returns
    -------
    numpy.ndarray or torch.Tensor
        The resized image; spatial axes of length ``ceil(n * scale)`` (or ``shape``).

    Raises
    ------
    ValueError
        Empty input, NaN/Inf values, a bad scale, shape or method, or (numpy arrays and
        CPU tensors) an output that with its working buffers would not fit in the memory
        available (the least of the machine's and the cgroup's), checked before anything
        is allocated.

    References
    ----------
    .. [1] R. Keys, "Cubic convolution interpolation for digital image processing," IEEE
       Trans. ASSP 29(6), 1153-1160 (1981). doi:10.1109/TASSP.1981.1163711
    .. [2] MATLAB ``imresize`` (Image Processing Toolbox), whose contributions and boundary
       rules this follows.

    Examples
    --------
    >>> import numpy as np
    >>> resize(np.array([[10.0, 20.0], [30.0, 40.0]]), 2)[0]
    array([ 7.1875 , 10.15625, 16.09375, 19.0625 ])
    """
    if method not in _METHODS:
        raise ValueError(
            f"unknown interpolation method {method!r}; choose one of {', '.join(_METHODS)}"
        )
    is_tensor = type(image).__module__.startswith("torch")
    lazy = is_lazy(image)
    if lazy:
        image = as_dask(image)
    elif not is_tensor:
        image = np.asarray(image)
    shape_in = tuple(image.shape)
    in_dtype = _numpy_dtype(image.dtype) if is_tensor else check_dtype(image.dtype)
    out_dtype = in_dtype if dtype is None else check_dtype(_numpy_dtype(dtype), "dtype")
    if math.prod(shape_in) == 0:
        raise ValueError(f"image is empty (shape {shape_in}); give an image with pixels")
    axes = resolve_axes(axes, shape_in)
    spatial = [i for i, a in enumerate(axes) if a in SPATIAL_AXES]
    scales, lengths = _targets(scale, shape, [shape_in[i] for i in spatial], axes)

    plans = []
    # resize the most-reduced axis first (as MATLAB does) so later passes touch fewer pixels
    for k in sorted(range(len(spatial)), key=lambda k: scales[k]):
        n_in = shape_in[spatial[k]]
        if lengths[k] == n_in and scales[k] == 1:
            continue
        plans.append((spatial[k], plan_axis(n_in, lengths[k], scales[k], method, antialias)))
    if lazy:  # chunk by chunk, each from the input lines its taps reach
        from ._resample_blocks import resize_lazy

        return resize_lazy(image, plans, working_dtype(in_dtype), out_dtype)
    if is_tensor:
        if image.device.type == "cpu":  # GPU tensors: the device's allocator answers
            _check_fits(shape_in, plans, in_dtype, out_dtype, copies=True)
        return _resize_torch(image, plans, in_dtype, out_dtype)
    _check_fits(shape_in, plans, in_dtype, out_dtype,
                copies=image.dtype != working_dtype(in_dtype))  # fmt: skip
    from .utils.memory import check_finite

    check_finite(image)  # after the memory check: it reads the input in small blocks
    out = image.astype(working_dtype(in_dtype), copy=False)
    for axis, plan in plans:
        out = _apply_numpy(out, axis, plan)
    return cast(out, out_dtype)


def _check_fits(
    shape_in: tuple[int, ...],
    plans: list,
    in_dtype: np.dtype,
    out_dtype: np.dtype,
    *,
    copies: bool,
) -> None:
    """Refuse, before anything is allocated, a resize whose buffers would not fit.

    Every pass holds its input and its output in the working dtype (the first pass's
    input only when it is a converted copy, ``copies``), plus the index and weight tables
    of a middle axis; casting to an integer dtype holds two more float temporaries
    (rounding, clipping) beside the last pass's result, another dtype one copy.
    """
    from .utils.memory import check_fits

    work = working_dtype(in_dtype)
    shape = list(shape_in)
    held = math.prod(shape) * work.itemsize if copies else 0
    peak = held
    for axis, plan in plans:
        shape[axis] = plan.n_out
        size = math.prod(shape) * work.itemsize
        tables = plan.n_out * plan.weights.shape[1] * 24 if axis < len(shape) - 1 else 0
        peak = max(peak, held + size + tables)
        held = size
    out_bytes = math.prod(shape) * np.dtype(out_dtype).itemsize
    if np.dtype(out_dtype).kind in "ui":
        peak = max(peak, 3 * held, 2 * held + out_bytes)
    elif np.dtype(out_dtype) != work:
        peak = max(peak, held + out_bytes)
    check_fits(shape, out_dtype, extra_bytes=max(0, peak - out_bytes), what="resized image")


def _targets(
    scale: float | Sequence[float] | Mapping[str, float] | None,
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
        return [o / i for o, i in zip(lengths, in_lengths, strict=True)], lengths
    if isinstance(scale, Mapping):
        unknown = sorted(set(map(str.upper, scale)) - set(spatial))
        if unknown:
            raise ValueError(
                f"scale names axes {''.join(unknown)!r} that are not spatial axes of this "
                f"image; its spatial axes are {spatial!r}"
            )
        upper = {str(k).upper(): v for k, v in scale.items()}
        scales = [check_scale(upper.get(a, 1.0)) for a in spatial]
    else:
        values = np.atleast_1d(np.asarray(scale, dtype=float))
        scales = [check_scale(float(v)) for v in values]
        if len(scales) == 1:
            scales *= n
        if len(scales) != n:
            raise ValueError(
                f"scale {scale} gives {len(scales)} factors but the image has {n} spatial "
                f"axes {spatial!r}; give one factor, one per axis, or a dict like {{'Z': 2}}"
            )
    lengths = [max(1, math.ceil(i * s - 1e-9)) for i, s in zip(in_lengths, scales, strict=True)]
    return scales, lengths


def _apply_numpy(array: np.ndarray, axis: int, plan: AxisPlan) -> np.ndarray:
    from ._resample_kernels import resample_last_axis, resample_middle_axis

    lead = math.prod(array.shape[:axis])
    inner = math.prod(array.shape[axis + 1 :])
    out_shape = (*array.shape[:axis], plan.n_out, *array.shape[axis + 1 :])
    out = np.empty(out_shape, dtype=array.dtype)
    src = np.ascontiguousarray(array)
    weights = plan.weights.astype(array.dtype)
    if inner == 1:
        resample_last_axis(
            src.reshape(lead, plan.n_in),
            plan.padmap,
            plan.left,
            weights,
            plan.p,
            plan.q,
            out.reshape(lead, plan.n_out),
        )
    else:
        index, table_weights = plan.table()
        resample_middle_axis(
            src.reshape(lead, plan.n_in, inner),
            np.ascontiguousarray(index),
            np.ascontiguousarray(table_weights.astype(array.dtype)),
            out.reshape(lead, plan.n_out, inner),
        )
    return out


def _resize_torch(image: Any, plans: list, in_dtype: np.dtype, out_dtype: np.dtype) -> Any:
    import torch

    if image.is_floating_point() and not bool(torch.isfinite(image).all()):
        raise ValueError("image contains NaN or infinite values; replace them first")
    work = torch.float64 if working_dtype(in_dtype) == np.float64 else torch.float32
    out = image.to(work)
    for axis, plan in plans:
        index, weights = plan.table()
        index_t = torch.as_tensor(index, device=out.device)
        weights_t = torch.as_tensor(weights, dtype=work, device=out.device)
        shape = [1] * out.ndim
        shape[axis] = plan.n_out
        acc = None
        for t in range(index.shape[1]):
            term = out.index_select(axis, index_t[:, t]) * weights_t[:, t].reshape(shape)
            acc = term if acc is None else acc.add_(term)
        out = acc
    if np.dtype(out_dtype).kind in "ui":
        info = np.iinfo(out_dtype)
        out = out.round().clamp_(info.min, info.max)
    return out.to(getattr(torch, np.dtype(out_dtype).name))


def _numpy_dtype(dtype: Any) -> np.dtype:
    """numpy dtype of a numpy or torch dtype (``torch.float32`` -> ``float32``)."""
    if type(dtype).__module__.startswith("torch"):
        return np.dtype(str(dtype).removeprefix("torch."))
    return np.dtype(dtype)


# ------------------------------------------------------- point samples (z stacks)


def point_grid(n: int, factor: float) -> np.ndarray:
    """Positions, in input samples, of the finer grid of a point-sampled axis.

    A z stack's planes are point samples (optical sections) at ``z0 + k * dz``, unlike
    pixels, which cover footprints. Refining such an axis by ``factor`` keeps the first
    and every existing sample where it is: positions ``j / factor`` for
    ``j = 0 .. floor((n - 1) * factor)``, so that sample ``k`` of the input is sample
    ``k * factor`` of the output when ``factor`` is a whole number.

    Parameters
    ----------
    n : int
        Samples along the axis, ≥ 1.
    factor : float
        Refinement (> 0; 4 makes the spacing 4 times finer).

    Returns
    -------
    numpy.ndarray
        float64 positions, ``floor((n - 1) * factor) + 1`` of them.
    """
    factor = check_scale(factor, "factor")
    count = math.floor((n - 1) * factor + 1e-9) + 1
    if count > 2**20:  # the probe costs more than small grids
        from .utils.memory import check_fits

        check_fits((count,), np.float64, extra_bytes=8 * count, what="grid of positions")
    return np.arange(count, dtype=np.float64) / factor


def sample_at(array: np.ndarray, positions: np.ndarray, axis: int) -> np.ndarray:
    """Values of ``array`` at fractional sample ``positions`` along ``axis``.

    Cubic convolution (Keys, a = -0.5, the kernel of MATLAB's bicubic) on the samples
    themselves, with the edge samples replicated beyond the ends: the interpolation of
    point-sampled axes (z of a stack) and the sampling step of the axial degradation
    model. Integer positions return the samples exactly.

    Parameters
    ----------
    array : numpy.ndarray
        Any real dtype; computed in float32 (float64 for float64 input).
    positions : numpy.ndarray
        1-D positions in samples (0 is the first sample).
    axis : int
        The axis to sample.

    Returns
    -------
    numpy.ndarray
        Float array with ``len(positions)`` samples along ``axis``.
    """
    from .utils.memory import check_fits

    data = np.asarray(array)
    itemsize = 8 if data.dtype == np.float64 else 4
    out_shape = list(data.shape)
    out_shape[axis] = len(positions)
    # beside the output: the float copy of the input, the copy tensordot makes of a
    # moved axis, the weight matrix, and the result before its axis moves back
    extra = 2 * data.size * itemsize + len(positions) * data.shape[axis] * (8 + itemsize)
    check_fits(out_shape, np.dtype(f"f{itemsize}"), extra_bytes=extra, what="interpolated stack")
    work = data if data.dtype == np.float64 else data.astype(np.float32, copy=False)
    n = data.shape[axis]
    weights = _point_weights(np.asarray(positions, dtype=np.float64), n).astype(work.dtype)
    moved = np.moveaxis(work, axis, 0)
    out = np.tensordot(weights, moved, axes=([1], [0]))
    return np.moveaxis(out, 0, axis)


def _point_weights(positions: np.ndarray, n: int) -> np.ndarray:
    """(len(positions), n) matrix of cubic-convolution weights, edges replicated."""
    kernel = _cubic(-0.5)
    weights = np.zeros((len(positions), n), dtype=np.float64)
    base = np.floor(positions).astype(np.int64)
    rows = np.arange(len(positions))
    for offset in range(-1, 3):
        index = base + offset
        w = kernel(positions - index, 1.0)
        np.add.at(weights, (rows, np.clip(index, 0, n - 1)), w)
    return weights
