"""Learned multi-frame fusion: training on synthetic bursts, and prediction.

The network (:class:`~napari_sr.models.highresnet.HighResNet`) sees the frames of a burst
as the channels of one input and returns the fine image. It is trained with the loop of
:func:`napari_sr.training.loop.fit` on bursts made from high-resolution images by
:func:`~napari_sr.multiframe.simulate.make_burst` (random shifts, PSF, pixel integration,
Poisson noise).

Two kinds of network:

- **with a prior** (``prior=True``, the default of :func:`train_fusion` and of the bundled
  weights): the frames are registered and fused by the robust classical method first
  (:func:`~napari_sr.multiframe.fusion.fuse`, with the PSF the network was trained for),
  and the network corrects that fusion. It is trained with plain L1, as the prior already
  lies on frame 0's grid, on bursts of randomly flipped and turned images (the packed
  prior's sub-pixel channels would be scrambled by flipping patches instead);
- **without** (pure HighRes-net): the network registers implicitly; it is trained with the
  offset-tolerant ``shift_l1`` loss, may place its output a fraction of a pixel off frame
  0's grid, and prediction puts it back by registering the result against the reference
  frame and matching its brightness.

References
----------
.. [1] M. Deudon et al., "HighRes-net: Recursive fusion for multi-frame super-resolution of
   satellite imagery," 2020. arXiv:2002.06460
.. [2] S. Farsiu, M. D. Robinson, M. Elad, P. Milanfar, "Fast and robust multiframe super
   resolution," IEEE Trans. Image Process. 13(10), 1327-1344 (2004).
   doi:10.1109/TIP.2004.834669
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..normalization import MICROSCOPY
from ..training.config import (
    AUGMENTATIONS,
    TrainConfig,
    option,
    parse_numbers,
    without_adversarial,
)
from ..utils.progress import CancelToken, ProgressCallback, raise_if_cancelled, report
from ..utils.validate import check_integer, check_real, real_array
from .fusion import training_psf
from .simulate import make_burst

BURSTS_PER_IMAGE = 2
PEAKS = (100.0, 400.0)
"""Default range of the photon peaks of the training bursts (drawn log-uniformly)."""
SPARSE_FRACTION, SPARSE_GAMMAS = 0.5, (1.5, 3.0)
"""Contrast randomisation: this fraction of the bursts sees its image (scaled to [0, 1])
raised to a power γ uniform in this range: dark backgrounds with sparse bright structures,
as in fluorescence. Natural images alone teach the network the mid-grey, noisy-everywhere
statistics of photographs; it then mis-corrects sharp structures on dark backgrounds
(fluorescence), where the classical fusion is already clean."""
PRIOR_METHOD = "robust"
"""The classical fusion a prior-refining network corrects."""
GUARD_REGION, GUARD_MARGIN = 8, 0.01
"""The guard of a prior-refining network (:func:`holdout_weights`): regions of this many
low-resolution pixels a side, and the relative advantage in held-out prediction error
that earns the network's whole correction."""
MIN_HALF = 2
"""Frames in each half of the guard's split: fewer than twice this, no guard."""


def training_bursts(
    images: Sequence[np.ndarray],
    scale: int,
    frames: int,
    *,
    psf: float | tuple[float, float] | None = None,
    peaks: tuple[float, float] = PEAKS,
    bursts_per_image: int = BURSTS_PER_IMAGE,
    prior: bool = False,
    sparse_fraction: float = SPARSE_FRACTION,
    seed: int = 0,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
):
    """TrainingImage pairs: ``low`` = a burst's frames as channels (1, K, h, w), or with
    ``prior`` the frames and the packed classical fusion (1, K + s², h, w); ``high`` = the
    sharp image (1, 1, h·s, w·s); in photons, normalised by the frames' percentiles.

    Parameters
    ----------
    images : sequence of numpy.ndarray
        2D grayscale high-resolution images.
    scale, frames : int
        SR factor and frames per burst.
    psf : float or (float, float), optional
        Gaussian σ of the optics in high-resolution pixels (default ``0.5 * scale``), or
        the range each burst draws its σ from (uniformly; 0 for no optical blur): a network
        for any optics in that range, told the σ when it runs.
    peaks : (float, float)
        Range of the photon peaks (the brightest pixel's expected photon count), drawn
        log-uniformly per burst.
    bursts_per_image : int
        Bursts drawn from each image (other shifts, noise and peak).
    prior : bool
        Add the robust classical fusion of each burst (registration included, deblurring
        the burst's σ), for a prior-refining network; each burst is then made from the image
        flipped and turned at random (training must not flip patches).
    sparse_fraction : float
        The fraction of the bursts whose image is raised to a power γ in
        ``SPARSE_GAMMAS`` (see ``SPARSE_FRACTION``).
    seed : int
        Seeds shifts, noise, peaks (and turns).
    progress, cancel : optional
        ``progress(done, total)`` over the bursts; cancellation between bursts.
    """
    from ..training.data import TrainingImage

    scale, frames, psf = _check_burst_options(scale, frames, psf)
    low_peak, high_peak = check_peaks(peaks)
    bursts_per_image = check_integer(bursts_per_image, "bursts_per_image", minimum=1)
    sparse_fraction = check_real(sparse_fraction, "sparse_fraction", minimum=0.0, maximum=1.0)
    if len(images) == 0:
        raise ValueError("give at least one high-resolution image to make bursts from")
    rng = np.random.default_rng(seed)
    out = []
    total = len(images) * bursts_per_image
    for index, image in enumerate(images):
        for draw in range(bursts_per_image):
            raise_if_cancelled(cancel)
            peak = float(np.exp(rng.uniform(np.log(low_peak), np.log(high_peak))))
            turns, flip = int(rng.integers(4)), bool(rng.integers(2))
            sparse, gamma = rng.random() < sparse_fraction, float(rng.uniform(*SPARSE_GAMMAS))
            sigma = float(rng.uniform(*psf)) if isinstance(psf, tuple) else psf
            image_seen = np.asarray(image, dtype=np.float32)
            if sparse:
                low_value, span = float(image_seen.min()), float(np.ptp(image_seen)) or 1.0
                image_seen = ((image_seen - low_value) / span) ** gamma
            if prior:
                image_seen = np.rot90(image_seen[:, ::-1] if flip else image_seen, turns)
            burst, _, truth = make_burst(image_seen, scale, frames, psf=sigma, peak=peak,
                                         seed=rng)  # fmt: skip
            limits = MICROSCOPY.limits(burst)
            low = burst
            if prior:
                prior_image = classical_prior(burst, scale, sigma)
                low = np.concatenate([burst, unshuffle(prior_image, scale)])
            report(progress, len(out) + 1, total)
            out.append(
                TrainingImage(
                    name=f"image {index} burst {draw}",
                    high=truth[None, None],
                    low=low[None],
                    dtype=np.dtype(np.float32),
                    limits=limits,
                    peak=float(burst.max()),
                    axes="YX",
                    shape=tuple(truth.shape),
                )
            )
    return out


def parse_psf(text: str) -> float | tuple[float, ...]:
    """A command line's ``psf``: ``"1.0"`` (one σ) or ``"0,1.5"`` (a range)."""
    values = parse_numbers(text)
    return values[0] if len(values) == 1 else values


@dataclass(frozen=True, kw_only=True)
class FusionConfig(TrainConfig):
    """The recipe of a learned multi-frame fusion network (:func:`train_fusion`).

    The training options are those of :class:`~napari_sr.training.config.TrainConfig`
    with the defaults of fusion: HighRes-net, 4000 steps, batches of 8 patches of
    ``32 * scale`` pixels, ``lr`` 1e-3 and a warm-up of a tenth of the steps (at most
    200); the loss and the augmentations follow the network's kind (see the module's
    docstring). The bursts are made as :func:`training_bursts` says.

    Attributes
    ----------
    architecture : str
        The fusion network to build (``highresnet``).
    hparams : dict or None
        Its hyperparameters; ``prior`` (default True) makes a network that refines the
        robust classical fusion.
    scale : int
        SR factor the network learns (the frames' pixels per fine pixel, ≥ 2).
    patch_size : int or None
        Side of the square high-resolution training patches; default ``32 * scale``.
    loss : str or dict or None
        Default ``l1`` for a prior-refining network (the prior lies on frame 0's grid),
        else the offset-tolerant ``shift_l1``.
    augment : tuple of str or None
        Default none for a prior-refining network (its bursts are made from flipped and
        turned images instead: flipping patches would scramble the packed prior's
        sub-pixel channels), else every flip and rotation.
    warmup_steps : int or None
        Steps of linear warm-up; default a tenth of the steps, at most 200.
    frames : int
        Frames per training burst (2-64).
    psf : float, (float, float) or None
        Gaussian σ of the optics in high-resolution pixels; default ``0.5 * scale``. A
        range ``(low, high)``: each burst draws its σ uniformly from it, and the network
        then takes the σ of the frames it fuses (``misr(..., psf=)``) within that range.
    peaks : (float, float)
        Range of the photon peaks of the bursts, drawn log-uniformly.
    sparse_fraction : float
        The fraction of the bursts whose image is raised to a power γ (fluorescence-like
        contrast; see ``SPARSE_FRACTION``), in [0, 1].
    bursts_per_image : int
        Bursts drawn from each image (other shifts, noise and peak).
    """

    TASK: ClassVar[str] = "fusion"
    DEFAULTS: ClassVar[Mapping[str, Any]] = {
        "architecture": "highresnet",
        "steps": 4000,
        "batch_size": 8,
        "lr": 1e-3,
        "loss": None,
        "augment": None,
        "warmup_steps": None,
        "normalization": MICROSCOPY,
    }
    FIXED: ClassVar[Mapping[str, str]] = {
        "in_channels": "the frames are the network's channels",
        "init": "a new network starts from random weights drawn from seed",
        "degradation": "bursts are simulated (frames, psf, photon peaks)",
        "normalization": "frames are normalised by their percentiles 1-99.8",
        "validation_fraction": "there is no validation",
        "validate_every": "there is no validation",
        "patience": "there is no validation",
        **without_adversarial("fusion networks are trained for fidelity, without a discriminator"),
    }
    DERIVED: ClassVar[tuple[str, ...]] = (
        "patch_size", "loss", "augment", "warmup_steps", "psf",
    )  # fmt: skip

    frames: int = option(parse=int)
    psf: float | tuple[float, float] | None = option(None, parse=parse_psf, metavar="SIGMA|LO,HI")
    peaks: tuple[float, float] = option(PEAKS, parse=parse_numbers, metavar="LO,HI")
    sparse_fraction: float = option(SPARSE_FRACTION, parse=float)
    bursts_per_image: int = option(BURSTS_PER_IMAGE, parse=int)

    @property
    def prior(self) -> bool:
        """Whether a new network refines the classical fusion (``hparams["prior"]``)."""
        return bool((self.hparams or {}).get("prior", True))

    def _derived(self) -> dict[str, Any]:
        prior = self.prior
        return {
            "patch_size": 32 * self.scale,
            "loss": "l1" if prior else "shift_l1",
            "augment": () if prior else AUGMENTATIONS,
            "warmup_steps": min(200, self.steps // 10),
            "psf": 0.5 * self.scale,
        }

    def _check(self) -> None:
        _, frames, psf = _check_burst_options(self.scale, self.frames, self.psf)
        set_ = object.__setattr__
        set_(self, "frames", frames)
        set_(self, "psf", psf)
        set_(self, "peaks", check_peaks(self.peaks))
        set_(self, "sparse_fraction", check_real(self.sparse_fraction, "sparse_fraction",
                                                 minimum=0.0, maximum=1.0))  # fmt: skip
        set_(self, "bursts_per_image",
             check_integer(self.bursts_per_image, "bursts_per_image", minimum=1))  # fmt: skip


def train_fusion(
    images: Sequence[np.ndarray],
    scale: int | None = None,
    frames: int | None = None,
    config: FusionConfig | Mapping[str, Any] | None = None,
    *,
    model: Any = None,
    bursts: Sequence[Any] | None = None,
    device: str = "auto",
    progress: ProgressCallback | None = None,
    log: Callable[[dict], None] | None = None,
    cancel: CancelToken | None = None,
    **overrides: Any,
):
    """Train a HighRes-net-style fusion network on synthetic bursts of ``images``.

    Parameters
    ----------
    images : sequence of numpy.ndarray
        2D grayscale high-resolution images.
    scale, frames : int, optional
        The config's ``scale`` and ``frames`` (SR factor, frames per burst), as the
        positions they always had: ``train_fusion(images, 2, 8, steps=1000)``.
    config : FusionConfig or dict, optional
        The recipe (:class:`FusionConfig`); keyword arguments that are its fields
        replace its values.
    model : str or torch.nn.Module, optional
        The architecture name (the config's ``architecture``), or a fusion model to train
        further (its own ``prior`` decides the loss and augmentations; ``hparams`` do not
        apply to it).
    bursts : sequence of TrainingImage, optional
        Pairs made before by :func:`training_bursts` with the same settings (to train
        several times on the same bursts without making them again; ``images`` is then
        only counted).
    device, progress, log, cancel
        As for :func:`napari_sr.train`.
    **overrides
        Fields of :class:`FusionConfig`.

    Returns
    -------
    torch.nn.Module
        The model; ``model.info.data["bursts"]`` records how the bursts were
        made: scale, frames, PSF, photon peaks, the prior.
    """
    from ..training.loop import fit

    for name, value in (("scale", scale), ("frames", frames)):
        if value is not None:
            overrides[name] = value
    if isinstance(model, str):
        if overrides.get("architecture", model) != model:
            raise ValueError("give the architecture once (model= or architecture=)")
        overrides["architecture"] = model
    config = FusionConfig.build(config, overrides, where="train_fusion")
    if model is None or isinstance(model, str):
        model, hparams = config.architecture, {"prior": True, **(config.hparams or {})}
    else:  # a network to train further: its own kind, its own hyperparameters
        hparams = None
        config = config.replace(hparams={"prior": bool(getattr(model, "prior", False))})
    with_prior = config.prior
    if bursts is None:
        bursts = training_bursts(images, config.scale, config.frames, psf=config.psf,
                                 peaks=config.peaks, bursts_per_image=config.bursts_per_image,
                                 prior=with_prior,
                                 sparse_fraction=config.sparse_fraction, seed=config.seed,
                                 cancel=cancel)  # fmt: skip
    record = {
        "scale": config.scale,
        "frames": config.frames,
        **psf_record(config.psf),
        "photon_peaks": list(config.peaks),
        "images": len(images),
        "bursts_per_image": round(len(bursts) / max(len(images), 1), 2),
        "prior": PRIOR_METHOD if with_prior else None,
        "sparse_fraction": config.sparse_fraction,
        "sparse_gammas": list(SPARSE_GAMMAS),
    }
    return fit(
        model, list(bursts), [], config, normalization=MICROSCOPY, in_channels=1,
        hparams=hparams, data_extra={"bursts": record},
        device=device, progress=progress, log=log, cancel=cancel,
    )  # fmt: skip


def _check_burst_options(
    scale: Any, frames: Any, psf: Any
) -> tuple[int, int, float | tuple[float, float]]:
    """Scale, frames per burst and PSF σ (default ``0.5 * scale``) or σ range of training
    bursts."""
    from .fusion import MAX_PSF_PER_SCALE, check_sr_scale

    scale = check_sr_scale(scale)
    frames = check_integer(frames, "frames", minimum=2, maximum=64,
                           hint="frames per burst, e.g. 8")  # fmt: skip
    if psf is None:
        return scale, frames, 0.5 * scale
    options = {"minimum": 0.0, "maximum": MAX_PSF_PER_SCALE * scale,
               "hint": "the optics' Gaussian sigma in high-resolution pixels"}  # fmt: skip
    if isinstance(psf, (tuple, list, np.ndarray)):
        if len(psf) != 2:
            raise ValueError(
                f"psf must be one sigma or a range (low, high) of sigmas, not {len(psf)} values"
            )
        low, high = (check_real(v, "psf", **options) for v in psf)
        if low > high:
            raise ValueError(f"the psf range must run from low to high, not {low:g} to {high:g}")
        return scale, frames, (low, high)
    return scale, frames, check_real(psf, "psf", **options)


def check_peaks(peaks: Any) -> tuple[float, float]:
    """A range ``(low, high)`` of photon peaks: positive, finite, low ≤ high."""
    values = tuple(peaks) if isinstance(peaks, (tuple, list, np.ndarray)) else (peaks,)
    if len(values) != 2:
        raise ValueError(f"peaks must be a range (low, high) of photon peaks, not {peaks!r}")
    low, high = (check_real(v, "peaks", minimum=1e-3, hint="photons at the brightest pixel")
                 for v in values)  # fmt: skip
    if low > high:
        raise ValueError(f"the peaks range must run from low to high, not {low:g} to {high:g}")
    return low, high


def psf_record(psf: float | tuple[float, float]) -> dict[str, Any]:
    """How a fusion network's record (``info.data["bursts"]``) states its training optics:
    ``psf_sigma_hr_px`` for one σ, ``psf_range_hr_px`` for a range."""
    if isinstance(psf, tuple):
        return {"psf_range_hr_px": [float(psf[0]), float(psf[1])]}
    return {"psf_sigma_hr_px": float(psf)}


def classical_prior(
    frames: np.ndarray,
    scale: int,
    psf: float,
    *,
    shifts: np.ndarray | None = None,
    weights: np.ndarray | None = None,
    reference: int = 0,
) -> np.ndarray:
    """The robust classical fusion of (N, Y, X) ``frames`` that a prior-refining network
    corrects (registered on frame ``reference`` unless ``shifts`` are given; frames that do
    not match are left out unless ``weights`` say otherwise). Float32, (Y·s, X·s)."""
    from .fusion import check_sr_scale, fuse
    from .registration import check_reference

    frames = real_array(frames, "frames").astype(np.float64)
    if frames.ndim != 3 or len(frames) < 2:
        raise ValueError(f"frames must be a (frames, Y, X) stack of 2 or more, not {frames.shape}")
    scale = check_sr_scale(scale)
    reference = check_reference(reference, len(frames))
    if shifts is None:
        shifts, weights = _registered(frames, reference, weights)
    fused = fuse(frames, shifts, scale, method=PRIOR_METHOD, psf=psf, weights=weights)
    return fused.astype(np.float32)


def _registered(
    frames: np.ndarray, reference: int, weights: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Shifts of ``frames`` measured on frame ``reference``, and ``weights`` (default: the
    frames that match, the reference always among them)."""
    from .registration import DEFAULT_UPSAMPLE, register

    registration = register(frames, reference=reference, upsample=DEFAULT_UPSAMPLE)
    if weights is None:
        weights = (~registration.outliers).astype(float)
        weights[reference] = 1.0
    return registration.shifts, weights


def unshuffle(image: np.ndarray, scale: int) -> np.ndarray:
    """(Y·s, X·s) → (s², Y, X): the image's sub-pixel phases as channels (the order of
    ``torch.nn.functional.pixel_unshuffle``: phase ``(i, j)`` is channel ``i·s + j``)."""
    h, w = image.shape[0] // scale, image.shape[1] // scale
    phases = image[: h * scale, : w * scale].reshape(h, scale, w, scale)
    return np.ascontiguousarray(phases.transpose(1, 3, 0, 2).reshape(scale * scale, h, w))


def prior_psf(model: Any, psf: float | None) -> float:
    """The σ a prior-refining network's classical fusion deblurs: the frames' ``psf`` for a
    network trained over a range of optics (0 when not given), else its training σ."""
    trained = training_psf(model)
    if isinstance(trained, tuple):
        return 0.0 if psf is None else float(psf)
    return trained


def fuse_learned(
    model: Any,
    frames: np.ndarray,
    *,
    shifts: np.ndarray | None = None,
    weights: np.ndarray | None = None,
    reference: int = 0,
    psf: float | None = None,
    guard: bool = True,
    device: str = "auto",
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> np.ndarray:
    """The fine image of (N, Y, X) ``frames`` by a fusion network, on frame ``reference``'s
    grid and brightness (float64, the frames' intensities).

    ``shifts`` and ``weights`` (0 leaves a frame out), as :func:`misr` measured them, are
    used for a prior-refining network's classical fusion; default measured here. ``psf``
    (σ in output pixels) is the frames' optics, for a network trained over a range of
    them (:func:`prior_psf`). ``guard``: a prior-refining network's correction is kept
    only where the frames confirm it (:func:`holdout_weights`; from 4 frames).
    """
    from .registration import _fourier_shift, register

    raise_if_cancelled(cancel)
    frames = np.asarray(frames)
    s = int(model.scale)
    with_prior = bool(getattr(model, "prior", False))
    if with_prior:
        sigma = prior_psf(model, psf)
        if shifts is None:  # measured once, for the prior and the guard
            shifts, weights = _registered(frames, reference, weights)
        prior = classical_prior(frames, s, sigma, shifts=shifts, weights=weights,
                                reference=reference)  # fmt: skip
        raise_if_cancelled(cancel)
    if weights is not None:  # the network sees the frames that were kept
        kept = np.flatnonzero(np.asarray(weights) > 0)
        reference = int(np.searchsorted(kept, reference))
        frames = frames[kept]
        shifts = None if shifts is None else np.asarray(shifts)[kept]
    fused = network_pass(model, frames, prior if with_prior else None, device)
    raise_if_cancelled(cancel)  # a cancel during the network's pass is honoured too
    if with_prior:  # already on the prior's grid and brightness
        if guard and len(frames) >= 2 * MIN_HALF:
            weight = holdout_weights(model, frames, shifts, sigma, device=device, cancel=cancel)
            fused = prior + upsample_weights(weight, s, prior.shape) * (fused - prior)
        report(progress, 1, 1)
        return fused
    # put the result on the reference frame's grid: the network may sit a little off it
    h, w = frames.shape[-2:]
    binned = fused[: h * s, : w * s].reshape(h, s, w, s).mean(axis=(1, 3))
    offset = register(np.stack([frames[reference], binned]), reference=0).shifts[1]
    # and on its brightness: the loss forgives a global offset, so the network may keep one
    fused = fused + (float(np.mean(frames)) - float(binned.mean()))
    report(progress, 1, 1)
    return _fourier_shift(fused, -offset * s)


def network_pass(model: Any, frames: np.ndarray, prior: np.ndarray | None, device: str):
    """The network's fine image of ``frames`` (and the packed ``prior``), float64, in the
    frames' intensities: in ONNX Runtime on a CPU where it is installed and faster
    (:mod:`napari_sr.engine.onnx_backend`, exported for this number of frames), else in
    PyTorch, channels-last."""
    import torch

    from ..engine import onnx_backend
    from ..engine.cpu_form import cpu_form
    from ..engine.device import placed, resolve_device
    from ..normalization import denormalize, normalize

    s = int(model.scale)
    run_device = resolve_device(device)
    norm = getattr(model, "normalization", None) or MICROSCOPY
    limits = norm.limits(frames)
    x = frames.astype(np.float32)
    if prior is not None:
        x = np.concatenate([x, unshuffle(prior, s)])
    x = np.ascontiguousarray(normalize(x, limits)[None], dtype=np.float32)
    onnx = None
    if onnx_backend.wanted(run_device, "fp32", x.shape[-2:]):
        onnx = onnx_backend.network_for(model, frames=len(frames))
    if onnx is not None:
        out = onnx(x)[0, 0]
    else:
        network = cpu_form(model) if run_device.type == "cpu" else model  # as ONNX Runtime's
        with placed(network, run_device), torch.inference_mode():
            batch = torch.from_numpy(x).to(run_device)
            out = network(batch.contiguous(memory_format=torch.channels_last))
            out = out[0, 0].float().cpu().numpy()
    return denormalize(out, limits).astype(np.float64)


def holdout_weights(
    model: Any,
    frames: np.ndarray,
    shifts: np.ndarray,
    psf: float,
    *,
    device: str = "auto",
    cancel: CancelToken | None = None,
) -> np.ndarray:
    """Where the frames confirm a prior-refining network's correction: a (Y, X) map of
    weights in [0, 1] on the frames' grid.

    The frames are split in two halves (even and odd positions). Each half is fused twice,
    by the robust classical fusion and by the network, and both results predict the other
    half's frames through the imaging model (shift, optics ``psf``, pixel integration). The
    held-out frames' noise is the same for both predictions and was fitted by neither, so
    the one nearer the truth predicts them better: the network's relative advantage in
    squared prediction error, averaged over :data:`GUARD_REGION`-pixel regions and both
    directions, maps to a weight (0.5 at no advantage, 1 at +:data:`GUARD_MARGIN`, 0 at
    −:data:`GUARD_MARGIN`). A correction the frames contradict — a network met with
    optics or structures it was not trained for — is so left out, and the result falls
    back to the robust fusion there.

    Parameters
    ----------
    model : torch.nn.Module
        A prior-refining fusion network.
    frames : numpy.ndarray
        (N, Y, X) frames, N ≥ 4.
    shifts : numpy.ndarray
        (N, 2) shifts of the frames relative to the output grid, low-resolution pixels.
    psf : float
        Gaussian σ of the optics, output pixels.
    """
    from scipy import ndimage

    from .fusion import _System

    s = int(model.scale)
    positions = np.arange(len(frames))
    halves = (positions[0::2], positions[1::2])
    advantage = 0.0
    error = 0.0
    for fit, held in (halves, halves[::-1]):
        prior = classical_prior(frames[fit], s, psf, shifts=shifts[fit])
        raise_if_cancelled(cancel)
        network = network_pass(model, frames[fit], prior, device)
        raise_if_cancelled(cancel)
        system = _System(frames.shape[-2:], s, shifts[held], psf)
        target = frames[held].astype(np.float64)
        by_prior = ((target - system.observe(prior)) ** 2).mean(axis=0)
        by_network = ((target - system.observe(network)) ** 2).mean(axis=0)
        advantage = advantage + ndimage.uniform_filter(by_prior - by_network, GUARD_REGION)
        error = error + ndimage.uniform_filter(by_prior, GUARD_REGION)
    relative = advantage / np.maximum(error, np.finfo(np.float64).tiny)
    return np.clip(0.5 + relative / (2 * GUARD_MARGIN), 0.0, 1.0)


def upsample_weights(weight: np.ndarray, scale: int, shape: tuple[int, int]) -> np.ndarray:
    """A low-resolution weight map on the fine grid (linear interpolation)."""
    from scipy import ndimage

    fine = ndimage.zoom(weight, scale, order=1, mode="nearest", grid_mode=True)
    return fine[: shape[0], : shape[1]]
