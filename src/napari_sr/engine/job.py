"""One ``upscale`` call, planned: the checks and choices every path shares, and the
computation of a block of whole planes.

:func:`plan_upscale` checks the input's shape, dtype and axes, picks the method (a default
role by the input's noise and dtype), loads it and resolves its options, before anything
is allocated. :func:`upscale_planes` upscales whole (Y, X) planes of an array into a
preallocated output: all of an in-memory image (:mod:`.upscaler`), or one block of an image
larger than memory (:mod:`.blockwise`), given the normalisation limits of the whole image so
that every block is mapped as the in-memory path maps it.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..axes import is_rgb, resolve_axes
from ..geometry import check_scale
from ..resample import resize
from ..utils.intensity import cast, check_dtype, working_dtype
from ..utils.progress import CancelToken, ProgressCallback, raise_if_cancelled, report
from .method_table import choose_default, requested_role
from .methods import PlaneMethod, resolve_method

__all__ = [
    "BATCH_BYTES",
    "CPU_MODEL_BATCH_BYTES",
    "PLANE_AXES",
    "UpscaleJob",
    "plan_upscale",
    "upscale_planes",
]

PLANE_AXES = "YX"
"""The axes a single-image method sees together; all others are looped over."""

BATCH_BYTES = 32 * 2**20
"""Planes go to the method in batches of about this many output bytes (at least one):
large enough to keep every core busy, small enough to cancel within a fraction of a second."""

CPU_MODEL_BATCH_BYTES = 0
"""On the CPU a model sees one plane per forward pass (0: no batching). That is as fast or
faster for planes of 64 × 64 pixels and more (EDSR-light ×2 on 32 planes of 128 × 128:
2.0 s instead of 3.2 s; FSRCNN 0.29 s instead of 0.52 s; only 32 × 32 planes were faster
batched, 0.23 s instead of 0.33 s for FSRCNN), and it makes every plane's result
independent of which planes share its pass: a stack upscaled block by block (lazy, on a
cluster) equals the in-memory result bit for bit, as the convolution libraries choose
their algorithms by batch size. GPUs batch small planes (:data:`BATCH_BYTES`), where
launching a pass costs more than computing it."""


@dataclass(frozen=True)
class UpscaleJob:
    """What one ``upscale`` call runs, checked and resolved.

    Attributes
    ----------
    axes : str
        The input's axes.
    scale : float
        The factor for Y and X.
    shape, out_shape : tuple of int
        Input and output shapes.
    in_dtype, out_dtype : numpy.dtype
        Input and output pixel types.
    plan : PlaneMethod or ModelMethod
        The method, loaded.
    settings : RunSettings or None
        A model's device, precision and tile (None for interpolation).
    self_ensemble : bool
        Run a model as the ×8 geometric self-ensemble.
    role : str or None
        The default role asked for (``'quality'``, ``'fast'``), if any.
    choice : DefaultChoice or None
        How the role chose its weights.
    luma : bool
        A luma-trained model on RGB: the network on Y of YCbCr, the chroma interpolated.
    """

    axes: str
    scale: float
    shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    in_dtype: np.dtype
    out_dtype: np.dtype
    plan: Any
    settings: Any
    self_ensemble: bool
    role: str | None
    choice: Any
    luma: bool

    @property
    def plane_axes(self) -> tuple[int, int]:
        """Indices of Y and X."""
        return self.axes.index("Y"), self.axes.index("X")

    def record(self) -> dict[str, Any]:
        """The provenance every path shares: operation, method, scale, default choice."""
        return {
            "operation": "upscale",
            "method": self.plan.name,
            "scale": self.scale,
            **(
                {} if self.choice is None else {"default": _default_record(self.role, self.choice)}
            ),
        }


def plan_upscale(
    data: Any,
    scale: float,
    *,
    method: Any = None,
    axes: str | None = None,
    dtype: Any = None,
    device: Any = "auto",
    tile: int | None = None,
    precision: str | None = None,
    self_ensemble: bool = False,
    stacklevel: int = 3,
) -> UpscaleJob:
    """Check an ``upscale`` call on ``data`` (numpy, dask or zarr) and resolve its method
    and options (see :func:`napari_sr.upscale`), reading at most a few planes of ``data``
    (the noise estimate of a default role). ``stacklevel`` points a fallback warning at
    the user's line (3: the caller of the function that calls this one).

    Raises
    ------
    ValueError, TypeError
        As :func:`napari_sr.upscale` documents, for everything that can be known before
        the output is allocated.
    """
    scale = check_scale(scale)
    in_dtype = check_dtype(data.dtype)
    out_dtype = in_dtype if dtype is None else check_dtype(dtype, "dtype")
    if math.prod(data.shape) == 0:
        raise ValueError(f"image is empty (shape {data.shape}); give an image with pixels")
    shape = tuple(int(n) for n in data.shape)
    axes = resolve_axes(axes, shape)
    # a default role runs the weights that suit the input's noise and dtype
    role = requested_role(method)
    choice = None if role is None else choose_default(role, scale, data, axes)
    if choice is not None:
        method = choice.name
    plan = resolve_method(method, scale, stacklevel=stacklevel + 1)
    settings = None
    if not plan.learned:  # an interpolation
        _check_no_model_options(plan.name, tile, precision, self_ensemble)
    else:
        settings = plan.prepare(
            scale, axes, shape, device=device, precision=precision, tile=tile, dtype=in_dtype
        )
    out_shape = list(shape)
    for axis in (axes.index("Y"), axes.index("X")):
        out_shape[axis] = max(1, math.ceil(shape[axis] * scale - 1e-9))
    luma = plan.learned and plan.luma and is_rgb(axes, shape) and shape[-1] == 3
    return UpscaleJob(axes, scale, shape, tuple(out_shape), in_dtype, out_dtype, plan,
                      settings, bool(self_ensemble), role, choice, bool(luma))  # fmt: skip


def upscale_planes(
    job: UpscaleJob,
    data: np.ndarray,
    out: np.ndarray,
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    limits: tuple[float, float] | None = None,
) -> dict[str, Any]:
    """Upscale every (Y, X) plane of ``data`` (whole planes, the job's axes) into ``out``.

    ``limits`` are a model's normalisation limits for the whole image when ``data`` is
    one block of it (default: computed from ``data``). Returns what ran, for provenance
    (the model's device, precision, tile and normalisation; nothing for interpolation).
    """
    if not job.plan.learned:
        _interpolate(job.plan, data, out, job.plane_axes, job.scale, progress, cancel)
        return {}
    if job.plan.sampled:
        raise ValueError(
            f"{job.plan.name} is a diffusion model: it samples images in memory, not lazy "
            "arrays or into out=; read the image (numpy.asarray) or upscale it in parts"
        )
    from .learned import run_model

    on_cpu = job.settings.device.type == "cpu"
    batch_bytes = CPU_MODEL_BATCH_BYTES if on_cpu else BATCH_BYTES
    options = {"self_ensemble": job.self_ensemble, "batch_bytes": batch_bytes,
               "progress": progress, "cancel": cancel, "limits": limits}  # fmt: skip
    if job.luma:
        return _run_on_luma(job.plan, data, out, job.axes, job.settings, job.scale, options)
    return run_model(job.plan, data, out, job.axes, job.settings, **options)


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


def working_bytes(data: np.ndarray, out_shape: list[int], plane_axes, luma: bool) -> int:
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
