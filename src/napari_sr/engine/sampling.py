"""Diffusion SR in the engine: samples of each plane, their mean and their spread.

A diffusion model (framework ``"diffusion"``, :class:`~napari_sr.models.diffusion_unet.
DiffusionUNet`) does not map an image to its upscaling in one pass: ResShift's sampler
(:func:`napari_sr.models.resshift.sample`) starts from the model's condition ``y0`` (the
plane interpolated to the output grid, or its prior network's estimate) plus noise and
calls the denoiser once per step. Here every plane of a stack is

1. normalised as the model was trained (its record's normalisation, limits from the whole
   image), its condition computed (tile by tile for a prior network);
2. sampled ``samples`` times together, the whole plane one state: at each step the
   denoiser runs on overlapping tiles of the output grid, and their predictions are
   blended (linear ramps over :data:`BLEND` output pixels around each seam) into one
   prediction before the step's Gaussian update. The noise of a pixel is drawn for the
   whole plane, from generators seeded by ``(seed, plane, sample)``, so it does not depend
   on the tiling, the device or the batch; tiled and untiled runs have the same
   statistics (tested), and a run is repeated exactly by its seed;
3. summarised: the per-pixel mean (or the first sample) and the standard deviation over
   the samples (ddof = 1), mapped back to the image's intensities.

Progress counts tiles over steps and planes; cancel is checked before every tile.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..models import resshift
from ..normalization import denormalize, normalize
from ..resample import resize
from ..utils.intensity import cast
from ..utils.progress import CancelToken, ProgressCallback, raise_if_cancelled
from .device import autocast, free_cached_memory, is_out_of_memory, placed
from .tiling import Stitcher, round_up, split_axis

DENOISER_TILE = 256
"""Default core edge of the denoiser's tiles, in output pixels: near the training patches,
so that its GroupNorm statistics are those it learnt on, and small enough for any device."""

BLEND = 16
"""Half-width, in output pixels, of the band where neighbouring tiles are blended."""

MIN_TILE = 32
"""Smallest denoiser tile an out-of-memory retry goes down to, output pixels."""

ESTIMATES = ("mean", "sample")
"""What the image output of a sampled run is: the per-pixel mean of the samples, or the
first sample itself (a realistic picture; the mean is smoother)."""


@dataclass(frozen=True)
class SamplingOptions:
    """How a diffusion model samples (checked).

    Attributes
    ----------
    samples : int
        Samples per plane, drawn together (1-256).
    steps : int or None
        Denoiser evaluations per sample; None: every level of the model's schedule.
    seed : int
        Seed of the noise (≥ 0).
    estimate : {'mean', 'sample'}
        The image returned (:data:`ESTIMATES`).
    """

    samples: int = 1
    steps: int | None = None
    seed: int = 0
    estimate: str = "mean"

    def __post_init__(self) -> None:
        if isinstance(self.samples, bool) or not isinstance(self.samples, int | np.integer):
            raise TypeError(f"samples must be a whole number such as 8, not {self.samples!r}")
        if not 1 <= self.samples <= 256:
            raise ValueError(f"samples must be from 1 to 256, not {self.samples}")
        if self.steps is not None and (
            isinstance(self.steps, bool) or not isinstance(self.steps, int | np.integer)
        ):
            raise TypeError(f"steps must be a whole number such as 4, or None, not {self.steps!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int | np.integer):
            raise TypeError(f"seed must be a whole number, not {self.seed!r}")
        if not 0 <= self.seed < 2**63:
            raise ValueError(f"seed must be from 0 to 2**63 - 1, not {self.seed}")
        if self.estimate not in ESTIMATES:
            raise ValueError(
                f"estimate must be one of {', '.join(map(repr, ESTIMATES))}, not {self.estimate!r}"
            )


@dataclass(frozen=True)
class Sampled:
    """What :func:`napari_sr.upscale` returns for a diffusion model with ``uncertainty``
    or ``keep_samples``.

    Attributes
    ----------
    image : numpy.ndarray or Image
        The upscaled image: the per-pixel mean of the samples, or the first sample
        (``estimate``), in the output dtype; what ``upscale`` returns otherwise.
    std : numpy.ndarray or Image
        Per-pixel standard deviation over the samples (ddof = 1; zeros for one sample),
        float32, in the image's intensity units; the image's shape, except that a luma
        model on RGB gives the spread of luma (Y of YCbCr, on the 0-255 or dtype scale),
        without the C axis.
    samples : numpy.ndarray or None
        With ``keep_samples``: every sample (float32, the image's intensities, luma for
        an RGB image), stacked on a new first axis.
    interval_scale : float or None
        ``k`` of the model's calibrated interval ``mean ± k·std`` (its record's
        ``metrics["calibration"]``), None when the model has none.
    coverage : float or None
        The share of pixels that interval was calibrated to cover (e.g. 0.9).
    """

    image: Any
    std: Any
    samples: np.ndarray | None = None
    interval_scale: float | None = None
    coverage: float | None = None

    def interval(self, k: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(mean - k·std, mean + k·std)`` as float32 arrays; ``k`` defaults to the
        model's calibrated :attr:`interval_scale`.

        Raises
        ------
        ValueError
            Without ``k`` for a model with no calibration, or for a luma model on RGB
            (its spread is of luma, not of the RGB image).
        """
        k = self.interval_scale if k is None else k
        if k is None:
            raise ValueError(
                "this model records no calibrated interval; give k, e.g. interval(k=1.645)"
            )
        from ..image import Image

        # an Image's pixels (an ndarray's own ``.data`` is its buffer)
        mean, std = (np.asarray(x.data if isinstance(x, Image) else x, dtype=np.float32)
                     for x in (self.image, self.std))  # fmt: skip
        if mean.shape != std.shape:
            raise ValueError(
                "the spread is of luma, the image RGB: compute the interval on luma "
                "(napari_sr.color.luma of the image)"
            )
        return mean - k * std, mean + k * std


def plane_seed(seed: int, plane: int) -> int:
    """The seed of plane ``plane`` (0-based, in the stack's order) of a run of ``seed``."""
    state = np.random.SeedSequence([int(seed), int(plane)]).generate_state(2, np.uint32)
    return (int(state[0]) << 31) | (int(state[1]) >> 1)


def sample_planes(
    method,
    planes: np.ndarray,
    limits: tuple[float, float],
    settings,
    options: SamplingOptions,
    *,
    keep_samples: bool = False,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, dict[str, Any]]:
    """Sample every plane of ``planes`` (N, h, w) with the diffusion ``method``.

    Parameters
    ----------
    method : ModelMethod
        A diffusion model (1 channel).
    planes : numpy.ndarray
        (N, h, w) planes in the image's intensities (float).
    limits : (float, float)
        The normalisation limits of the whole image.
    settings : RunSettings
        Device, precision and tile (input pixels; None: :data:`DENOISER_TILE` output
        pixels; 0: whole planes).
    options : SamplingOptions
    keep_samples : bool
        Return the samples too.
    progress, cancel
        Progress over planes × steps × tiles; cancel before every tile.

    Returns
    -------
    (estimate, std, samples, record)
        ``estimate`` and ``std`` (N, h·s, w·s) float32 in the image's intensities (the
        standard deviation in its units); ``samples`` (S, N, h·s, w·s) or None; what ran,
        for provenance.
    """
    model = method.model
    schedule = model.schedule
    scale = int(method.scale)
    levels = schedule.sampling_levels(options.steps)
    count, height, width = planes.shape
    out_h, out_w = height * scale, width * scale
    tile = settings.tile
    core = DENOISER_TILE if tile is None else (None if tile == 0 else int(tile) * scale)
    denoiser = _TiledDenoiser(model, settings, core, (out_h, out_w), cancel)
    total = max(1, count * len(levels) * denoiser.tiles)
    estimate = np.empty((count, out_h, out_w), np.float32)
    spread = np.empty((count, out_h, out_w), np.float32)
    kept = np.empty((options.samples, count, out_h, out_w), np.float32) if keep_samples else None
    span = float(limits[1] - limits[0])
    with placed(model, settings.device):
        for index in range(count):
            raise_if_cancelled(cancel)
            low = normalize(planes[index], limits).astype(np.float32)
            y0 = torch.from_numpy(_condition(model, low, scale, settings))[None, None]
            denoiser._step = 0
            denoiser.progress = _share(progress, index * len(levels), len(levels), total)
            drawn = resshift.sample(
                denoiser, y0, schedule, samples=options.samples, steps=options.steps,
                seed=plane_seed(options.seed, index), cancel=cancel,
            )[:, 0]  # fmt: skip
            mean, std = resshift.summarise(drawn)
            picked = mean if options.estimate == "mean" else drawn[0].numpy()
            estimate[index] = denormalize(picked, limits)
            spread[index] = std * span
            if kept is not None:
                kept[:, index] = denormalize(drawn.numpy(), limits)
    raise_if_cancelled(cancel)
    record = {
        "device": str(settings.device),
        "backend": f"PyTorch {torch.__version__}",
        "precision": settings.precision,
        "tile": denoiser.core,
        "sampler": "ResShift posterior steps (Yue et al. 2023)",
        "levels": levels,
        "samples": options.samples,
        "seed": options.seed,
        "estimate": options.estimate,
        "limits": [float(limits[0]), float(limits[1])],
    }
    return estimate, spread, kept, record


def _share(progress, first_step: int, steps: int, total: int):
    """``progress`` for one plane's sampling: its tile counts, placed among all planes'."""
    if progress is None:
        return None
    return lambda step, tile, tiles: progress(
        min(total, (first_step + step) * tiles + tile), total
    )


def _condition(model, low: np.ndarray, scale: int, settings) -> np.ndarray:
    """The model's condition of one normalised plane (h, w), on the output grid: its
    prior network's estimate, computed tile by tile as the engine runs single-image
    networks, or MATLAB-bicubic interpolation."""
    if model.prior is None:
        return resize(low, {"Y": scale, "X": scale}, method="bicubic", axes="YX")
    from ..models.registry import REGISTRY

    halo = int(REGISTRY.spec(model.prior_name).halo)  # its receptive field, input pixels
    tile = 128 if settings.tile in (None, 0) else int(settings.tile)
    rows, cols = (split_axis(n, tile, margin=halo + 8, blend=8) for n in low.shape)
    out = np.empty((low.shape[0] * scale, low.shape[1] * scale), np.float32)

    def write(ys, xs, values):
        out[ys, xs] = values[0]

    stitcher = Stitcher(rows, cols, scale, write)
    for r, c in itertools.product(range(len(rows)), range(len(cols))):
        (y0, y1), (x0, x1) = rows.read(r), cols.read(c)
        crop = torch.from_numpy(np.ascontiguousarray(low[y0:y1, x0:x1]))[None, None]
        with torch.inference_mode(), autocast(settings.device, settings.precision):
            values = model.prior(crop.to(settings.device)).float().cpu().numpy()
        stitcher.add(r, c, values[0])
    return out


class _TiledDenoiser:
    """The denoiser over a whole plane's state, tile by tile, predictions blended; a
    :data:`~napari_sr.models.resshift.Denoiser`."""

    def __init__(self, model, settings, core: int | None, shape: tuple[int, int], cancel) -> None:
        self.model, self.settings, self.cancel = model, settings, cancel
        self.shape = shape
        self.multiple = max(1, int(getattr(model, "size_multiple", 1)))
        self.halo = int(model.spec.halo)
        self.progress = None
        self._step = 0
        self._cut(core)

    def _cut(self, core: int | None) -> None:
        if core is not None and core >= max(self.shape):
            core = None
        self.core = None if core is None else round_up(core, self.multiple)
        self.rows, self.cols = (
            split_axis(n, self.core, margin=self.halo + BLEND, blend=BLEND,
                       multiple=self.multiple)
            for n in self.shape
        )  # fmt: skip

    @property
    def tiles(self) -> int:
        return len(self.rows) * len(self.cols)

    def __call__(self, state: torch.Tensor, y0: torch.Tensor, t: int) -> torch.Tensor:
        while True:
            try:
                clean = self._predict(state, y0, t)
            except Exception as err:
                if not is_out_of_memory(err):
                    raise
                if self.core is not None and self.core <= MIN_TILE:
                    raise RuntimeError(
                        f"{self.settings.device.type.upper()} ran out of memory even with "
                        f"{self.core}-pixel tiles; use fewer samples at a time, another "
                        "device (device='cpu') or free memory on this one"
                    ) from err
            else:
                self._step += 1
                return clean
            free_cached_memory(self.settings.device)
            current = self.core or max(self.shape)
            self._cut(max(MIN_TILE, current // 2))

    def _predict(self, state: torch.Tensor, y0: torch.Tensor, t: int) -> torch.Tensor:
        samples = state.shape[0]
        out = np.empty((samples, *self.shape), np.float32)

        def write(ys, xs, values):
            out[:, ys, xs] = values

        stitcher = Stitcher(self.rows, self.cols, 1, write)
        scale_in = self.model.schedule.input_scale(t)
        device, dtype = self.settings.device, torch.float32
        level = torch.full((samples,), t, dtype=torch.long, device=device)
        tiles = list(itertools.product(range(len(self.rows)), range(len(self.cols))))
        for k, (r, c) in enumerate(tiles, start=1):
            raise_if_cancelled(self.cancel)
            ys, xs = self.rows.read(r), self.cols.read(c)
            x = _crop(state[:, 0], ys, xs, self.shape).to(device, dtype)[:, None]
            cond = _crop(y0[:, 0], ys, xs, self.shape).to(device, dtype)[:, None]
            cond = cond.expand(samples, *cond.shape[1:])
            with torch.inference_mode(), autocast(device, self.settings.precision):
                predicted = self.model(x * scale_in, cond, level)
            stitcher.add(r, c, predicted[:, 0].float().cpu().numpy())
            if self.progress is not None:
                self.progress(self._step, k, len(tiles))
        return torch.from_numpy(out)[:, None]


def _crop(planes: torch.Tensor, ys, xs, shape) -> torch.Tensor:
    """Rows ``ys`` and columns ``xs`` of (N, H, W) ``planes``, reflect-padded where the
    range reaches past the plane (to the network's size multiple)."""
    (y0, y1), (x0, x1) = ys, xs
    height, width = shape
    crop = planes[:, y0 : min(y1, height), x0 : min(x1, width)]
    pad_y, pad_x = y1 - min(y1, height), x1 - min(x1, width)
    if pad_y or pad_x:
        mode = "reflect" if pad_y < crop.shape[-2] and pad_x < crop.shape[-1] else "replicate"
        crop = torch.nn.functional.pad(crop[None], (0, pad_x, 0, pad_y), mode=mode)[0]
    return crop


def run_sampled(
    job,
    data: np.ndarray,
    options: SamplingOptions,
    *,
    keep_samples: bool = False,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, str, dict[str, Any]]:
    """Sample every plane of ``data`` (the planned ``upscale`` job of a diffusion model).

    Returns the output (the job's shape and dtype), the standard deviation (float32; of
    luma without the C axis for a luma model on RGB), the samples or None, the axes of
    the standard deviation, and the provenance record.
    """
    from ..color import nominal_range, rgb_to_ycbcr, ycbcr_to_rgb
    from .learned import image_limits

    method, axes = job.plan, job.axes
    if job.luma:  # the network on Y of YCbCr, the chroma interpolated
        white = nominal_range(data.dtype)
        ycbcr = rgb_to_ycbcr(data, white).astype(np.float32)
        work, work_axes, rgb_dtype = ycbcr[..., 0], axes[:-1], data.dtype
    else:
        work, work_axes, rgb_dtype = data, axes, None
    limits = image_limits(method, work, work_axes, rgb_dtype)
    y, x = work_axes.index("Y"), work_axes.index("X")
    src = np.moveaxis(work, (y, x), (-2, -1))
    lead, (height, width) = src.shape[:-2], src.shape[-2:]
    planes = src.reshape(-1, height, width).astype(np.float32)
    estimate, spread, kept, record = sample_planes(
        method, planes, limits, job.settings, options, keep_samples=keep_samples,
        progress=progress, cancel=cancel,
    )  # fmt: skip
    scale = int(method.scale)
    out_plane = (height * scale, width * scale)

    def back(values: np.ndarray, extra: tuple[int, ...] = ()) -> np.ndarray:
        values = values.reshape(*extra, *lead, *out_plane)
        shift = len(extra)
        return np.moveaxis(values, (shift + len(lead), shift + len(lead) + 1),
                           (shift + y, shift + x))  # fmt: skip

    estimate, spread = back(estimate), back(spread)
    if kept is not None:
        kept = back(kept, (options.samples,))
    if job.luma:
        chroma = resize(ycbcr[..., 1:], {"Y": scale, "X": scale}, method="bicubic", axes=axes)
        rgb = ycbcr_to_rgb(np.concatenate([estimate[..., None], chroma], axis=-1), white)
        out = cast(rgb, job.out_dtype)
        record["color"] = "YCbCr: the diffusion on Y, Cb and Cr by bicubic"
    else:
        out = cast(estimate, job.out_dtype)
    if method.checkpoint is not None:
        record["checkpoint"] = method.checkpoint
    return out, np.ascontiguousarray(spread), kept, work_axes, record


__all__ = ["BLEND", "DENOISER_TILE", "ESTIMATES", "Sampled", "SamplingOptions", "plane_seed",
           "run_sampled", "sample_planes"]  # fmt: skip
