"""``upscale``: the one entry point for single-image super-resolution of n-D stacks.

This module handles what every method shares (axes, dtypes, the output array, geometry and
provenance) and the interpolation loop; learned models run in :mod:`.learned`.
"""

from __future__ import annotations

import itertools
import math
import time
from typing import overload

import numpy as np

from ..axes import is_rgb, resolve_axes
from ..geometry import check_scale
from ..image import Image
from ..resample import resize
from ..utils.intensity import cast, check_dtype, working_dtype
from ..utils.memory import check_finite, check_fits
from ..utils.progress import CancelToken, ProgressCallback, raise_if_cancelled, report
from .method_table import choose_default, requested_role
from .methods import PlaneMethod, resolve_method

PLANE_AXES = "YX"
"""The axes a single-image method sees together; all others are looped over."""

BATCH_BYTES = 32 * 2**20
"""Planes go to the method in batches of about this many output bytes (at least one):
large enough to keep every core busy, small enough to cancel within a fraction of a second."""


@overload
def upscale(image: Image, scale: float, **kwargs) -> Image: ...
@overload
def upscale(image: np.ndarray, scale: float, **kwargs) -> np.ndarray: ...


def upscale(
    image,
    scale,
    *,
    method=None,
    axes=None,
    dtype=None,
    device: str = "auto",
    tile: int | None = None,
    precision: str | None = None,
    self_ensemble: bool = False,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
):
    """Super-resolve the image plane (Y, X) of every plane of an n-D stack.

    Parameters
    ----------
    image : numpy.ndarray or Image
        Input of any supported dtype (uint8, uint16, int16, float32, float64). An
        :class:`~napari_sr.image.Image` brings its axes and pixel sizes and gets back an
        ``Image`` whose Y and X pixel sizes are divided by ``scale``.
    scale : float
        Upscaling factor for Y and X, > 0. Output planes are ``ceil(n * scale)`` long. A
        learned model needs its own (integer) scale.
    method : str, path or torch.nn.Module, optional
        An interpolation method of :func:`~napari_sr.resize` (``'nearest'``,
        ``'bilinear'``, ``'bicubic'``, ``'bicubic-opencv'``, ``'lanczos3'``, ``'area'``);
        a model file (``.safetensors`` from :func:`~napari_sr.models.checkpoint.save_model`,
        or third-party ``.pth``/``.pt`` weights that
        :func:`~napari_sr.models.checkpoint.load_model` reads alone); or a model object
        (from :func:`~napari_sr.create_model` after training, ``load_model`` or
        ``napari_sr.train``); ``'quality'`` or ``'fast'``, the bundled single-image
        defaults for ``scale`` (EDSR-light and FSRCNN: the bicubic-protocol ``*.sr291``
        weights on clean 8-bit inputs, the ``*.microscope`` weights where bundled on noisy
        inputs and on those of other dtypes; see
        :func:`~napari_sr.engine.method_table.choose_default`);
        bundled weights by name (``'edsr_light_x2.sr291'``, see
        ``napari_sr.list_models(pretrained=True)``); or a registered architecture name,
        meaning its bundled weights for ``scale``. None (default) is ``'quality'`` where it
        is bundled for ``scale`` (×2, ×3, ×4) and bicubic otherwise; the provenance says
        which ran.
    axes : str, optional
        Axes of ``image``, e.g. ``'TZCYX'``; default from the Image, else guessed from the
        shape (2-D ``YX``, 3-D ``ZYX``, trailing 3 or 4 → RGB; see :mod:`napari_sr.axes`).
        Every axis other than Y and X is looped over, except that a 3-channel (RGB) model
        sees the C axis (of length 3) together; a 1-channel model runs per channel.
    dtype : dtype, optional
        Output dtype; default the input's (integers rounded and clipped to range).
    device : str or torch.device
        Models only (ignored for interpolation): ``'auto'`` (CUDA, then Apple MPS, then
        CPU), ``'cpu'``, ``'cuda'``, ``'cuda:1'``, ``'mps'``. The model is moved there for
        the call and moved back (with its train/eval mode) afterwards.
    tile : int, optional
        Models only. Longest edge, in input pixels, of the tiles a plane is cut into (they
        are evened out, so slightly shorter ones may be used and recorded); each tile also
        reads the model's halo (``model.spec.halo`` input pixels) on every side, and
        neighbouring tiles are blended over 16 input pixels around each seam. None
        (default) tiles only when a whole plane would not fit the memory budget (1 GiB on
        the CPU, 80 % of the free GPU memory on CUDA), with the largest tile that fits,
        and on the CPU cuts planes of tiling-safe models with a small halo (FSRCNN) into
        tiles of at most 384 pixels (faster: their feature maps stay in the processor's
        caches); 0 never tiles.
        Tiling-safe models give the same result tiled and untiled; others warn that values
        near the seams may differ slightly.
    precision : {None, 'fp32', 'bf16', 'fp16'}, optional
        Models only. None picks bf16 (or fp16 on GPUs without bf16) on CUDA when the model
        is half-precision-safe, else fp32; CPU and MPS use fp32. Half precision runs under
        :func:`torch.autocast` (weights stay fp32). 'fp16' is refused on the CPU.
    self_ensemble : bool
        Models only. Average the model over the 8 flips and 90° rotations of the input
        (the ×8 geometric self-ensemble; about 8 times slower, a little more accurate).
    progress : callable, optional
        ``progress(done, total)`` after each batch of planes (interpolation, or whole
        planes through a model) or each tile (tiled planes), counting planes × tiles.
    cancel : threading.Event or callable, optional
        Checked between batches of planes and between tiles; when set,
        :class:`~napari_sr.utils.progress.Cancelled` is raised and nothing is returned.

    Returns
    -------
    numpy.ndarray or Image
        Same type as ``image``: the axes in the same order, Y and X scaled. An Image's
        provenance records the method, scale and, for models, the device, precision, tile,
        self-ensemble and normalisation limits.

    Raises
    ------
    ValueError
        Empty input, NaN/Inf, scale ≤ 0, unknown method, axes that do not fit, an output
        that would not fit in memory (checked before allocating), a scale other than the
        model's, channels the model cannot take, an unavailable device, or model options
        (``tile``, ``precision``, ``self_ensemble``) with an interpolation method.
    RuntimeError
        A GPU ran out of memory even with the smallest tiles.

    Notes
    -----
    Learned models see normalised intensities: the model's recorded normalisation
    (``model.info.normalization``), else a fixed 0-255 range for uint8 and percentiles 1 and
    99.8 of the whole stack otherwise; the bundled defaults, trained on 8-bit images in
    0-255, take other dtypes by their percentiles 0.1 and 99.99 (nearly their whole
    range, as an 8-bit image fills 0-255). The limits are computed once per call
    and the inverse is applied to the output before casting.

    Examples
    --------
    >>> import numpy as np, napari_sr
    >>> napari_sr.upscale(np.zeros((3, 8, 8), np.uint16), 2).shape
    (3, 16, 16)
    """
    source = image if isinstance(image, Image) else None
    data = source.data if source is not None else np.asarray(image)
    if source is not None and axes is None:
        axes = source.axes
    scale = check_scale(scale)
    in_dtype = check_dtype(data.dtype)
    out_dtype = in_dtype if dtype is None else check_dtype(dtype, "dtype")
    if data.size == 0:
        raise ValueError(f"image is empty (shape {data.shape}); give an image with pixels")
    axes = resolve_axes(axes, data.shape)
    # a default role runs the weights that suit the input's noise and dtype
    role = requested_role(method)
    choice = None if role is None else choose_default(role, scale, data, axes)
    if choice is not None:
        method = choice.name
    plan = resolve_method(method, scale)
    if not plan.learned:  # an interpolation
        _check_no_model_options(plan.name, tile, precision, self_ensemble)
    else:
        settings = plan.prepare(
            scale, axes, data.shape, device=device, precision=precision, tile=tile,
            dtype=in_dtype,
        )  # fmt: skip

    y, x = axes.index("Y"), axes.index("X")
    out_shape = list(data.shape)
    for axis in (y, x):
        out_shape[axis] = max(1, math.ceil(data.shape[axis] * scale - 1e-9))
    luma = plan.learned and plan.luma and is_rgb(axes, data.shape)
    luma = luma and data.shape[-1] == 3
    check_fits(out_shape, out_dtype, extra_bytes=_working_bytes(data, out_shape, (y, x), luma))
    # only once the work is known to fit; blockwise, so it allocates nothing input-sized
    check_finite(data)

    started = time.perf_counter()
    out = np.empty(out_shape, dtype=out_dtype)
    if not plan.learned:
        _interpolate(plan, data, out, (y, x), scale, progress, cancel)
        record = {}
    else:
        from .learned import run_model

        options = {"self_ensemble": self_ensemble, "batch_bytes": BATCH_BYTES,
                   "progress": progress, "cancel": cancel}  # fmt: skip
        if luma:
            record = _run_on_luma(plan, data, out, axes, settings, scale, options)
        else:
            record = run_model(plan, data, out, axes, settings, **options)
    # a cancel that came during the last batch (or its progress report) still cancels:
    # the caller was told the work stops, so no result may appear after it
    raise_if_cancelled(cancel)
    if source is None:
        return out
    provenance = {
        "operation": "upscale",
        "method": plan.name,
        "scale": scale,
        **record,
        **({} if choice is None else {"default": _default_record(role, choice)}),
        "seconds": round(time.perf_counter() - started, 3),
    }
    return source.with_axes(axes).resampled(out, dict.fromkeys(PLANE_AXES, scale), provenance)


def _default_record(role: str, choice) -> dict:
    """How a default role chose its weights, for provenance."""
    return {
        "role": role,
        "relative_noise": round(choice.noise, 5),
        "threshold": choice.threshold,
        "noisy": choice.noisy,
        "dtype": choice.dtype,
        "weights": choice.name,
    }


def _working_bytes(data: np.ndarray, out_shape: list[int], plane_axes, luma: bool) -> int:
    """Bytes ``upscale`` holds beside its output: for interpolation one batch of planes
    (input, float copy, the resized planes and the cast; about four output batches); for
    a luma model on RGB the float64 YCbCr of the input and of the output as well (the
    engine's own tiles are bounded separately, by its memory budget)."""
    y, x = plane_axes
    plane = out_shape[y] * out_shape[x] * working_dtype(data.dtype).itemsize
    total = math.prod(int(n) for n in out_shape) * working_dtype(data.dtype).itemsize
    extra = 4 * max(plane, min(BATCH_BYTES, total))
    if luma:  # rgb_to_ycbcr and ycbcr_to_rgb: float64 with two temporaries, then float32
        in_items, out_items = data.size, math.prod(int(n) for n in out_shape)
        extra += in_items * (3 * 8 + 4) + out_items * (4 + 4 + 3 * 8)
    return extra


def _run_on_luma(plan, data, out, axes, settings, scale, options) -> dict:
    """A luma-trained model on RGB (C last): YCbCr, the network on Y, bicubic chroma."""
    from ..color import nominal_range, rgb_to_ycbcr, ycbcr_to_rgb
    from .learned import run_model

    white = nominal_range(data.dtype)
    ycbcr = rgb_to_ycbcr(data, white).astype(np.float32)
    plane_axes = axes[:-1]
    y_out = np.empty(out.shape[:-1], np.float32)
    record = run_model(plan, ycbcr[..., 0], y_out, plane_axes, settings,
                       rgb_dtype=data.dtype, **options)  # fmt: skip
    chroma = resize(ycbcr[..., 1:], dict.fromkeys(PLANE_AXES, scale), method="bicubic",
                    axes=axes)  # fmt: skip
    rgb = ycbcr_to_rgb(np.concatenate([y_out[..., None], chroma], axis=-1), white)
    out[...] = cast(rgb, out.dtype)  # integers are rounded and clipped to their range
    return {**record, "color": "YCbCr: the network on Y, Cb and Cr by bicubic"}


def _check_no_model_options(name: str, tile, precision, self_ensemble) -> None:
    given = [
        f"{option}={value!r}"
        for option, value, default in (
            ("tile", tile, None),
            ("precision", precision, None),
            ("self_ensemble", self_ensemble, False),
        )
        if value is not default and value != default
    ]
    if given:
        raise ValueError(
            f"{', '.join(given)} only apply to learned models, not to the interpolation "
            f"method {name!r}; leave them out, or pass a model as method="
        )


def _interpolate(
    plan: PlaneMethod,
    data: np.ndarray,
    out: np.ndarray,
    plane_axes: tuple[int, int],
    scale: float,
    progress: ProgressCallback | None,
    cancel: CancelToken | None,
) -> None:
    """Interpolate every (Y, X) plane of ``data`` into ``out``, in batches of planes."""
    src = np.moveaxis(data, plane_axes, (-2, -1))
    dst = np.moveaxis(out, plane_axes, (-2, -1))  # a view: writing it fills ``out``
    indices = list(itertools.product(*map(range, src.shape[:-2])))
    work = working_dtype(data.dtype)
    plane_bytes = dst.shape[-2] * dst.shape[-1] * work.itemsize
    batch = max(1, BATCH_BYTES // plane_bytes)
    for start in range(0, len(indices), batch):
        raise_if_cancelled(cancel)
        chunk = indices[start : start + batch]
        planes = np.stack([src[index] for index in chunk]).astype(work, copy=False)
        result = cast(plan.run(planes, scale), out.dtype)
        for index, plane in zip(chunk, result, strict=True):
            dst[index] = plane
        report(progress, start + len(chunk), len(indices))
    raise_if_cancelled(cancel)  # a cancel during the last batch still cancels
