"""Running a learned SR model over the planes of an n-D stack.

:meth:`ModelMethod.prepare` checks the model against the image (scale, channels) and
resolves the device and precision before the output is allocated. :func:`run_model` then
computes the normalisation limits once from the whole stack; moves the model to the device
in eval mode (and puts it back afterwards); measures its memory footprint
(:mod:`.footprint`); chooses between whole planes, several per forward pass, and tiles
with a halo (:mod:`.tiling`); and for every batch or tile reads the input, normalises it,
pads it by reflection to the model's size multiple, runs the model (optionally as the ×8
geometric self-ensemble), undoes the normalisation, stitches and casts into the
preallocated output. On a GPU out-of-memory error the batch or tile is halved and the plane
retried.

This module imports torch; :mod:`napari_sr.engine.methods` imports it only when a model is
used.
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..color import luma_limits
from ..models.info import ModelInfo, info_of
from ..models.registry import ModelSpec
from ..normalization import Normalization, denormalize, intensity_sample, normalize
from ..utils.intensity import cast
from ..utils.progress import CancelToken, ProgressCallback, raise_if_cancelled, report
from . import onnx_backend
from .cpu_form import cpu_form
from .device import (
    autocast,
    free_cached_memory,
    is_out_of_memory,
    placed,
    resolve_device,
    resolve_precision,
)
from .footprint import Footprint, device_budget, host_budget, measure
from .tiling import AxisTiles, Stitcher, round_up, split_axis

MIN_TILE = 32
"""Smallest tile edge, in input pixels, the out-of-memory retry goes down to."""

BLEND = 8
"""Half-width, in input pixels, of the band where neighbouring tiles are blended."""

ENGINE_BUFFERS = (3, 4)
"""Float32 copies the engine holds per input pixel of a tile (raw crop, normalised, padded)
and per output pixel (model output, denormalised, weighted, ensemble sum); they join the
model's footprint in the memory plan."""

CPU_TILE = 384
"""Longest tile edge, in input pixels, of tiling-safe models with a small halo on a CPU when
``tile`` is None: their feature maps then stay in the processor's caches (FSRCNN ×2 on a
1024×1024 input: 6.6 instead of 4.2 megapixels/s; benchmarks/defaults_speed.py)."""

CPU_TILE_OVERLAP = 1.25
"""Cache tiling only pays while the pixels read around each tile (halo and blend band)
add less than this factor of work: FSRCNN (1.17 at 384 pixels) yes, EDSR's 36-pixel halo
(1.51) no - there the caches' gain and the recomputation cancel out."""

UNMEASURED_BOUND = 2**20
"""Bytes per input pixel and channel no model is expected to need: inputs that fit the
budget even at this rate skip the memory probe."""

_GENERIC = dict(framework="post", paper="", size_multiple=1, tiling_safe=False, halo=32)


@dataclass(frozen=True, eq=False)
class ModelMethod:
    """A learned single-image SR model as an ``upscale`` method.

    Attributes
    ----------
    model : torch.nn.Module
        Maps a float (N, C, H, W) batch in the normalised range to (N, C, H·s, W·s).
    name : str
        Recorded in provenance: the model's registry name, or the checkpoint's file stem.
    spec : ModelSpec
        The model's descriptor; models without one get a cautious generic descriptor
        (no size multiple, 32-pixel halo, not tiling-safe, not half-precision-safe).
    info : ModelInfo
        The model's record (:func:`~napari_sr.models.info.info_of`): the engine reads its
        scale, channels, colour route, normalisation and input contract, nothing else.
    checkpoint : str or None
        The file the model was loaded from, if any.
    """

    model: torch.nn.Module
    name: str
    spec: ModelSpec
    info: ModelInfo
    checkpoint: str | None = None

    @property
    def scale(self) -> int:
        return self.info.scale

    @property
    def in_channels(self) -> int:
        return self.info.in_channels

    @property
    def learned(self) -> bool:
        """True: a network (:func:`~napari_sr.engine.method_table.is_learned`)."""
        return True

    @property
    def sampled(self) -> bool:
        """Whether the model is a diffusion denoiser, run by the sampler
        (:mod:`napari_sr.engine.sampling`) rather than in one pass."""
        return self.spec.framework == "diffusion"

    @property
    def luma(self) -> bool:
        """Whether the model was trained on luma (Y of YCbCr): RGB images then go through
        YCbCr, the network on Y and the chroma interpolated (the SR papers' practice)."""
        return self.info.color == "luma"

    def normalization(self, dtype: np.dtype) -> Normalization:
        """The model's recorded normalisation, else the default for ``dtype``
        (:meth:`ModelInfo.normalization_for`: a 0-255 model that records
        ``input.other_dtypes``, such as the bundled single-image defaults, uses that for
        images of any other dtype)."""
        return self.info.normalization_for(dtype)

    def prepare(
        self,
        scale: float,
        axes: str,
        shape: tuple[int, ...],
        *,
        device: Any = "auto",
        precision: Any = None,
        tile: Any = None,
        dtype: Any = None,
    ) -> RunSettings:
        """Check that the model can upscale an image of ``shape``, ``axes`` (and ``dtype``,
        if given) by ``scale`` with these options, before anything is allocated, and
        resolve the options.

        Raises
        ------
        ValueError
            For a scale other than the model's, channels it cannot take, an unavailable
            device, an unknown precision or a bad tile.
        TypeError
            For a dtype outside the model's input contract.
        """
        if dtype is not None and np.dtype(dtype).name not in self.info.input.dtypes:
            raise TypeError(
                f"{self.name} takes images of dtype {', '.join(self.info.input.dtypes)}, not "
                f"{np.dtype(dtype).name}; convert first, e.g. image.astype(numpy.float32)"
            )
        if scale != self.scale:
            raise ValueError(
                f"scale={scale:g} does not match the model's scale {self.scale}: {self.name} "
                f"upscales by exactly {self.scale}; pass scale={self.scale} or use a model "
                f"trained for ×{scale:g}"
            )
        if self.in_channels == 3:
            if "C" not in axes:
                raise ValueError(
                    f"{self.name} takes 3 channels (RGB) together, but the image has no C "
                    f"axis (axes {axes!r}); give axes with a C axis of length 3 (e.g. "
                    "axes='YXC') or use a 1-channel model"
                )
            channels = shape[axes.index("C")]
            if channels != 3:
                fix = (
                    "drop the alpha channel first, e.g. image[..., :3]"
                    if channels == 4
                    else "select 3 channels first, or use a 1-channel model (run per channel)"
                )
                raise ValueError(
                    f"{self.name} takes 3 channels (RGB) together, but the image's C axis "
                    f"has {channels}; {fix}"
                )
        where = resolve_device(device)
        half_safe = self.spec.half_precision_safe
        return RunSettings(
            where, resolve_precision(precision, where, half_safe=half_safe), _check_tile(tile)
        )


@dataclass(frozen=True)
class RunSettings:
    """Resolved options of one run: where, in which precision, and the requested tile
    (None automatic, 0 never, else the edge in input pixels)."""

    device: torch.device
    precision: str
    tile: int | None


def wrap_model(model: Any, *, checkpoint: str | None = None) -> ModelMethod:
    """Describe ``model`` (a torch module with a record ``info``, or with ``scale`` and
    ``in_channels``) as a method.

    Raises
    ------
    TypeError
        For a module without integer ``scale`` or ``in_channels`` attributes.
    ValueError
        For channels other than 1 or 3.
    """
    record = getattr(model, "info", None)
    if isinstance(record, ModelInfo):
        scale, channels = record.scale, record.in_channels
    else:  # a module napari-sr did not build: its own attributes say what it is
        scale, channels = getattr(model, "scale", None), getattr(model, "in_channels", None)
    if not (isinstance(scale, int | np.integer) and isinstance(channels, int | np.integer)):
        raise TypeError(
            "method is a torch module without integer 'scale' and 'in_channels' attributes; "
            "pass a model from napari_sr.create_model or napari_sr.load_model, or set them"
        )
    if scale < 1:
        raise ValueError(f"the model's scale must be a positive integer, not {scale}")
    if channels not in (1, 3):
        raise ValueError(
            f"the model has in_channels={channels}; upscale runs 1-channel models (per "
            "channel) and 3-channel (RGB) models"
        )
    info = info_of(model)
    spec = getattr(model, "spec", None)
    if spec is not None and spec.framework == "multiframe":
        raise ValueError(
            f"{spec.name} fuses several frames of one scene; run it with napari_sr.misr("
            "frames, scale, method=model), not upscale"
        )
    if spec is not None and spec.framework == "diffusion" and channels != 1:
        raise ValueError(
            f"upscale samples 1-channel diffusion models (per channel, or on luma); this one "
            f"has {channels} channels"
        )
    if spec is None:
        name = type(model).__name__.lower()
        spec = ModelSpec(name, "", scales=(int(scale),), **_GENERIC, half_precision_safe=False)
    name = spec.name if checkpoint is None else Path(checkpoint).stem
    return ModelMethod(model, name, spec, info, checkpoint)


@dataclass(frozen=True)
class _Plan:
    """How the planes are cut: ``tile`` None for whole planes, ``batch`` items per pass."""

    rows: AxisTiles
    cols: AxisTiles
    tile: int | None
    batch: int


def run_model(
    method: ModelMethod,
    data: np.ndarray,
    out: np.ndarray,
    axes: str,
    settings: RunSettings,
    *,
    self_ensemble: bool = False,
    batch_bytes: int,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    rgb_dtype: np.dtype | None = None,
    limits: tuple[float, float] | None = None,
) -> dict[str, Any]:
    """Upscale every plane of ``data`` into the preallocated ``out`` with ``method``.

    Parameters
    ----------
    method : ModelMethod
        The model.
    data, out : numpy.ndarray
        Input and output with the same ``axes``; Y and X of ``out`` are ``scale`` times
        longer. A 3-channel model sees the C axis together; a 1-channel model every plane.
    axes : str
        Axes of both.
    settings : RunSettings
        From :meth:`ModelMethod.prepare`, which checked ``data`` against the model.
    self_ensemble : bool
        As in :func:`napari_sr.upscale`.
    batch_bytes : int
        Whole planes go to the model in batches of at most about this many float32 output
        bytes (at least one plane), within the memory budget.
    progress, cancel
        Progress counts tiles (one per plane when planes are not tiled); cancel is checked
        before every forward pass (and between the passes of the self-ensemble).
    rgb_dtype : numpy.dtype, optional
        Set when ``data`` is the (float) luma of an RGB image of this dtype: that dtype
        picks the normalisation. Otherwise ``data`` is grayscale, and a luma-trained
        model sees its range where it learnt Y, 16-235 of 255
        (:func:`~napari_sr.color.luma_limits`).
    limits : (float, float), optional
        The normalisation limits of the whole image when ``data`` is one block of it (the
        lazy path computes them once, :func:`image_limits`); default: ``data``'s own.

    Returns
    -------
    dict
        What was run, for provenance: device, precision, tile, self_ensemble, normalization
        (its description and the limits used), and checkpoint when there is one.
    """
    dev, prec = settings.device, settings.precision
    norm = method.normalization(data.dtype if rgb_dtype is None else rgb_dtype)
    to_luma = _to_luma(method, norm, rgb_dtype)
    if limits is None:
        limits = image_limits(method, data, axes, rgb_dtype)

    y, x = axes.index("Y"), axes.index("X")
    if method.in_channels == 3:
        c = axes.index("C")
        src = np.moveaxis(data, (c, y, x), (-3, -2, -1))
        dst = np.moveaxis(out, (c, y, x), (-3, -2, -1))
    else:  # every plane alone, as a batch item with one channel; views, so dst fills out
        src = np.moveaxis(data, (y, x), (-2, -1))[..., None, :, :]
        dst = np.moveaxis(out, (y, x), (-2, -1))[..., None, :, :]

    onnx = None
    if onnx_backend.wanted(dev, prec, src.shape[-2:]):
        onnx = onnx_backend.network_for(method.model)
    network = cpu_form(method.model) if dev.type == "cpu" else method.model
    with placed(network, dev):
        runner = _Runner(method, dev, prec, limits, self_ensemble, src.shape[-2:], cancel)
        runner.network, runner.onnx = network, onnx
        indices = list(itertools.product(*map(range, src.shape[:-3])))
        batch_bytes = min(batch_bytes, len(indices) * runner.plane_bytes)
        plan = runner.plan(settings.tile, batch_bytes)
        units = len(plan.rows) * len(plan.cols)  # progress units per plane, fixed up front
        tracker = _Progress(progress, len(indices) * units)
        start = 0
        while start < len(indices):
            chunk = indices[start : start + plan.batch]

            def tile_done(k: int, tiles: int, offset: int = start, items: int = len(chunk)):
                # a retried plane may have more tiles than planned: scale into its share
                tracker.set(offset * units + items * units * k // tiles)

            try:
                runner.run(plan, [src[i] for i in chunk], [dst[i] for i in chunk], tile_done)
            except Exception as err:
                if not is_out_of_memory(err):
                    raise
                retry = runner.smaller(plan, err)
            else:
                start += len(chunk)
                tracker.set(start * units)
                continue
            # outside the except block, where the error's traceback (and the tensors its
            # frames hold) is gone, the allocator can give the memory back
            free_cached_memory(dev)
            plan = retry
    raise_if_cancelled(cancel)  # a cancel during the last pass still cancels
    record = {
        "device": str(dev),
        "backend": f"PyTorch {torch.__version__}" if onnx is None else onnx_backend.backend_name(),
        "precision": prec,
        "tile": plan.tile,
        "self_ensemble": bool(self_ensemble),
        "normalization": {**norm.to_dict(), "limits": [float(limits[0]), float(limits[1])]},
    }
    if to_luma:
        record["normalization"]["luma"] = "limits widened to map the image range to Y 16-235"
    if method.checkpoint is not None:
        record["checkpoint"] = method.checkpoint
    return record


def _to_luma(method: ModelMethod, norm: Normalization, rgb_dtype) -> bool:
    # the Y of 8-bit RGB in the fixed 0-255 range already lies where the network learnt;
    # grayscale, and limits taken from the image itself, span all of 0-1 otherwise
    return method.luma and not (rgb_dtype is not None and norm.kind == "range")


def image_limits(
    method: ModelMethod, data: Any, axes: str, rgb_dtype: np.dtype | None = None
) -> tuple[float, float]:
    """The intensities :func:`run_model` maps to 0 and 1 for ``data`` (numpy, dask or zarr,
    axes ``axes``; with ``rgb_dtype``, the luma of an RGB image of that dtype): the model's
    normalisation on :func:`~napari_sr.normalization.intensity_sample`, widened for a luma
    model on grayscale."""
    norm = method.normalization(data.dtype if rgb_dtype is None else rgb_dtype)
    limits = norm.limits(intensity_sample(data, axes))
    return luma_limits(limits) if _to_luma(method, norm, rgb_dtype) else limits


class _Runner:
    """Plans and runs the forward passes of one ``run_model`` call."""

    def __init__(
        self,
        method: ModelMethod,
        device: torch.device,
        precision: str,
        limits: tuple[float, float],
        self_ensemble: bool,
        plane: tuple[int, int],
        cancel: CancelToken | None,
    ) -> None:
        self.method, self.device, self.precision = method, device, precision
        self.limits, self.self_ensemble, self.cancel = limits, bool(self_ensemble), cancel
        self.height, self.width = (int(n) for n in plane)
        self.scale, self.channels = method.scale, method.in_channels
        self.multiple = max(1, int(method.spec.size_multiple))
        self.margin = int(method.spec.halo) + BLEND
        self.dtype = next(
            (p.dtype for p in method.model.parameters() if p.is_floating_point()), torch.float32
        )
        self._footprint: Footprint | None = None
        self._warned = False
        self.network = method.model
        """The module that runs: the model, or on a CPU its inference form (:mod:`.cpu_form`)."""
        self.onnx: onnx_backend.OnnxNetwork | None = None
        """The forward pass in ONNX Runtime, when it runs there (:mod:`.onnx_backend`)."""

    # ---------------------------------------------------------------- planning

    def axes_for(self, tile: int | None) -> tuple[AxisTiles, AxisTiles]:
        """The cut of Y and X for ``tile`` (None: whole planes)."""
        return tuple(
            split_axis(n, tile, margin=self.margin, blend=BLEND, multiple=self.multiple)
            for n in (self.height, self.width)
        )

    def fits(self, rows: int, cols: int, items: int, *, tiled: bool) -> bool:
        """Whether a forward pass over ``items`` reads of ``rows`` × ``cols`` input pixels
        stays within the memory budgets."""
        pixels = rows * cols * items
        inputs, outputs = ENGINE_BUFFERS
        host = 4 * self.channels * pixels * (inputs + outputs * self.scale**2)
        if tiled:  # the overlap band of one row of tiles, held until the next row is done
            host += 4 * self.channels * items * 2 * BLEND * self.scale**2 * self.width
        gpu = device_budget(self.device)
        if self._footprint is None:
            # tiny inputs fit without asking: the probe would cost more than the work
            unmeasured = UNMEASURED_BOUND * self.channels * pixels
            if gpu is None and unmeasured + host <= host_budget():
                return True
            if gpu is not None and unmeasured <= gpu and host <= host_budget():
                return True
            self._footprint = measure(
                self.network,
                channels=self.channels,
                multiple=self.multiple,
                device=self.device,
                precision=self.precision,
            )
        model = self._footprint.planned(pixels)
        if gpu is None:
            return model + host <= host_budget()
        return model <= gpu and host <= host_budget()

    def plan(self, tile: int | None, batch_bytes: int) -> _Plan:
        """Whole planes when ``tile`` is 0, or None and a plane fits; else tiles of
        ``tile`` pixels, or (None) of the largest edge that fits."""
        if tile is None and not self.fits(*self._padded(), 1, tiled=False):
            tile = self._largest_tile()
            if self._cache_tiled:
                tile = min(tile, CPU_TILE)
        elif tile is None and self._cache_tiled and max(self.height, self.width) > CPU_TILE:
            tile = CPU_TILE
        elif tile == 0 or (tile is not None and tile >= max(self.height, self.width)):
            tile = None
        return self._plan_for(tile, batch_bytes)

    def _plan_for(self, tile: int | None, batch_bytes: int) -> _Plan:
        rows, cols = self.axes_for(tile)
        if tile is not None:  # the edge actually used: cores are evened out
            cores = [stop - start for axis in (rows, cols) for start, stop in axis.cores]
            tile = None if len(rows) * len(cols) == 1 else max(cores)
        batch = 1
        if tile is None:
            cap = max(1, batch_bytes // self.plane_bytes)
            padded = self._padded()
            while batch < cap and self.fits(*padded, min(2 * batch, cap), tiled=False):
                batch = min(2 * batch, cap)
        elif not self.method.spec.tiling_safe and not self._warned:
            self._warned = True
            warnings.warn(
                f"{self.method.name} is not tiling-safe (its output depends on more than a "
                f"bounded neighbourhood) and runs in {tile}-pixel tiles here; values near "
                "the seams may differ slightly from an untiled run",
                stacklevel=5,
            )
        return _Plan(rows, cols, tile, batch)

    @property
    def _cache_tiled(self) -> bool:
        """Whether automatic tiling also bounds tiles by :data:`CPU_TILE` (speed only)."""
        overlap = ((CPU_TILE + 2 * self.margin) / CPU_TILE) ** 2
        return (
            self.device.type == "cpu"
            and bool(self.method.spec.tiling_safe)
            and overlap < CPU_TILE_OVERLAP
        )

    @property
    def plane_bytes(self) -> int:
        """Bytes of one upscaled plane (all channels) in float32."""
        return 4 * self.channels * self.height * self.width * self.scale**2

    def _padded(self) -> tuple[int, int]:
        m = self.multiple
        return round_up(self.height, m), round_up(self.width, m)

    def _largest_tile(self) -> int:
        """The largest tile edge (a multiple of the size multiple) whose reads fit, or
        :data:`MIN_TILE` when even that does not."""
        m = self.multiple
        low, high = 1, max(1, max(self.height, self.width) // m)
        best = None
        while low <= high:
            mid = (low + high) // 2
            rows, cols = self.axes_for(mid * m)
            if self.fits(rows.largest_read(), cols.largest_read(), 1, tiled=True):
                best, low = mid * m, mid + 1
            else:
                high = mid - 1
        return max(best or 0, round_up(MIN_TILE, m))

    def smaller(self, plan: _Plan, error: BaseException) -> _Plan:
        """The plan to retry with after an out-of-memory error: half the batch, or half
        the tile edge; a RuntimeError below :data:`MIN_TILE`."""
        if plan.batch > 1:
            batch = plan.batch // 2
            warnings.warn(
                f"{self.device.type.upper()} ran out of memory on {plan.batch} planes at "
                f"once; retrying with {batch} per batch",
                stacklevel=4,
            )
            return _Plan(plan.rows, plan.cols, plan.tile, batch)
        current = plan.tile if plan.tile is not None else max(self.height, self.width)
        tile = current // 2 // self.multiple * self.multiple
        if tile < MIN_TILE:
            raise RuntimeError(
                f"{self.device.type.upper()} ran out of memory even with {current}-pixel "
                f"tiles; free memory on the device (other programs, other models), run on "
                "another device (device='cpu'), or use a smaller model"
            ) from error
        warnings.warn(
            f"{self.device.type.upper()} ran out of memory with "
            f"{'whole planes' if plan.tile is None else f'{current}-pixel tiles'}; "
            f"retrying with {tile}-pixel tiles",
            stacklevel=4,
        )
        return self._plan_for(tile, 0)

    # ----------------------------------------------------------------- running

    def run(self, plan: _Plan, src: list, dst: list, done) -> None:
        """Upscale the planes ``src`` (each (C, H, W)) into ``dst`` (each (C, H·s, W·s),
        of the output dtype), tile by tile; ``done(k, tiles)`` after the k-th tile."""

        def write(ys: slice, xs: slice, values: np.ndarray) -> None:
            for target, value in zip(dst, values, strict=True):
                target[:, ys, xs] = cast(value, target.dtype)

        stitcher = Stitcher(plan.rows, plan.cols, self.scale, write)
        tiles = list(itertools.product(range(len(plan.rows)), range(len(plan.cols))))
        for k, (r, c) in enumerate(tiles, start=1):
            raise_if_cancelled(self.cancel)
            batch = self._read(src, plan.rows.read(r), plan.cols.read(c))
            stitcher.add(r, c, denormalize(self._forward(batch), self.limits))
            done(k, len(tiles))

    def _read(self, src: list, ys: tuple[int, int], xs: tuple[int, int]) -> np.ndarray:
        """The normalised float32 input of one pass: the crop ``ys`` × ``xs`` of every
        plane, reflect-padded where it reaches past the image (to the size multiple)."""
        y0, y1 = ys
        x0, x1 = xs
        crop = np.stack([plane[:, y0 : min(y1, self.height), x0 : min(x1, self.width)]
                         for plane in src])  # fmt: skip
        batch = normalize(crop, self.limits)
        pad_y, pad_x = y1 - min(y1, self.height), x1 - min(x1, self.width)
        if pad_y or pad_x:
            batch = np.pad(batch, ((0, 0), (0, 0), (0, pad_y), (0, pad_x)), mode="reflect")
        return np.ascontiguousarray(batch, dtype=np.float32)

    def _forward(self, batch: np.ndarray) -> np.ndarray:
        """The model on a normalised (N, C, h, w) batch: (N, C, h·s, w·s) float32."""
        if self.onnx is not None:
            return self._forward_onnx(batch)
        x = torch.from_numpy(batch).to(self.device, self.dtype)
        x = x.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode(), autocast(self.device, self.precision):
            if not self.self_ensemble:
                y = self._call(x)
            else:
                y = None
                for flip, turns in itertools.product((False, True), range(4)):
                    raise_if_cancelled(self.cancel)
                    view = torch.rot90(x.flip(-1) if flip else x, turns, (-2, -1))
                    view = view.contiguous(memory_format=torch.channels_last)
                    part = torch.rot90(self._call(view), -turns, (-2, -1))
                    part = part.flip(-1) if flip else part
                    y = part.clone() if y is None else y.add_(part)
                y = y / 8
        return y.float().cpu().numpy()

    def _forward_onnx(self, batch: np.ndarray) -> np.ndarray:
        """:meth:`_forward` in ONNX Runtime, in NumPy throughout: no PyTorch operation
        runs, so PyTorch's threads do not spin beside ONNX Runtime's."""
        if not self.self_ensemble:
            return self._checked(batch.shape, self.onnx(batch))
        y = None
        for flip, turns in itertools.product((False, True), range(4)):
            raise_if_cancelled(self.cancel)
            view = np.rot90(batch[..., ::-1] if flip else batch, turns, (-2, -1))
            part = self._checked(view.shape, self.onnx(np.ascontiguousarray(view)))
            part = np.rot90(part, -turns, (-2, -1))
            part = part[..., ::-1] if flip else part
            y = part.copy() if y is None else np.add(y, part, out=y)
        return y / 8

    def _call(self, x: torch.Tensor) -> torch.Tensor:
        return self._checked(tuple(x.shape), self.network(x)).float()

    def _checked(self, shape: tuple[int, ...], y):
        """``y``, the output for an input of ``shape``, if it is ``scale`` times larger."""
        n, c, h, w = shape
        expected = (n, c, h * self.scale, w * self.scale)
        if tuple(y.shape) != expected:
            raise ValueError(
                f"{self.method.name} returned shape {tuple(y.shape)} for an input of shape "
                f"{tuple(shape)}; a ×{self.scale} model must return {expected}"
            )
        return y


class _Progress:
    """Reports determinate, monotonic progress in fixed units."""

    def __init__(self, progress: ProgressCallback | None, total: int) -> None:
        self.progress, self.total, self.reported = progress, max(total, 1), 0

    def set(self, done: int) -> None:
        done = min(int(done), self.total)
        if done > self.reported:
            self.reported = done
            report(self.progress, done, self.total)


def _check_tile(tile: Any) -> int | None:
    if tile is None:
        return None
    if isinstance(tile, bool) or not isinstance(tile, int | np.integer) or tile < 0:
        raise ValueError(
            f"tile must be None (automatic), 0 (never tile) or a positive number of input "
            f"pixels, not {tile!r}"
        )
    return int(tile)
