"""The training recipe: one validated, JSON-ready record saved inside every checkpoint.

:class:`TrainConfig` holds every number and name that decides what a training run computes
(patches, degradation, loss, optimiser, schedule, validation, seed). Run control that does
not change the result (progress callbacks, logging, device, file paths) stays outside it.
Every field is checked when the record is made, with an error that names the field and the
fix; :meth:`TrainConfig.from_dict` rejects unknown keys, so a misspelt option fails loudly.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..utils.jsonready import json_ready

CONFIG_VERSION = 1
"""Version of the record's layout; a checkpoint from a newer napari-sr is refused."""

LOSS_NAMES = ("l1", "mse", "charbonnier", "ssim", "tv", "texture", "shift_l1")
"""Loss terms :func:`~napari_sr.training.losses.build_loss` knows (weights in ``loss``)."""

SCHEDULES = ("cosine", "step", "constant")
"""Learning-rate schedules of :func:`~napari_sr.training.schedule.learning_rate`."""

AUGMENTATIONS = ("hflip", "vflip", "rot90")
"""Random flips (left-right, up-down) and rotations by multiples of 90° of each patch pair."""

DEGRADATION_KEYS = ("kernel", "blur", "psf", "noise")
"""Keyword arguments of :func:`~napari_sr.degrade` a ``degradation`` dict may give."""

MAX_SEED = 2**63
"""Seeds are below this (torch's generators take 64-bit seeds)."""

MAX_PHOTONS = 1e12
"""Largest Poisson peak of ``degradation["noise"]``: far beyond any camera (its shot
noise is below a millionth of the signal), and numpy's Poisson sampler fails near 1e19."""

DEFAULT_LR_PATCH = 48
"""Default patch side in low-resolution pixels (EDSR's 48: 96 HR pixels at ×2)."""

RESUMABLE = ("steps", "checkpoint_every")
"""Fields that may differ when a run is resumed: they do not change the computed weights
(a cosine or default step schedule does follow ``steps``; see :func:`learning_rate`)."""


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """A validated training recipe.

    Attributes
    ----------
    scale : int
        Upscaling factor the model learns (≥ 2).
    steps : int
        Optimiser updates (one batch each).
    patch_size : int
        Side of the square high-resolution patches, pixels; a multiple of ``scale``.
        Default ``48 * scale``.
    batch_size : int
        Patches per update.
    lr : float
        Peak learning rate of Adam.
    betas : tuple of float
        Adam's (β1, β2), each in [0, 1).
    loss : dict of str to float
        Weighted sum of loss terms, names from :data:`LOSS_NAMES`. A string gives one term
        (``"l1"``) or several (``"l1=1,ssim=0.2"``).
    schedule : {'cosine', 'step', 'constant'}
        Learning rate after the warm-up: cosine decay to ``min_lr`` at ``steps``,
        multiplication by ``decay_factor`` every ``decay_every`` steps, or constant.
    warmup_steps : int
        Steps of linear warm-up from ``lr / warmup_steps`` to ``lr``.
    min_lr : float
        Final learning rate of the cosine schedule.
    decay_every : int or None
        Period of the step schedule, steps; None for a quarter of the steps after warm-up.
    decay_factor : float
        Factor of the step schedule, in (0, 1].
    augment : tuple of str
        Random augmentations of each patch pair, from :data:`AUGMENTATIONS`; ``()`` for none.
    degradation : dict
        How low-resolution inputs are made from the high-resolution images: keyword
        arguments of :func:`~napari_sr.degrade` (``kernel``, ``blur``, ``psf``, ``noise``).
        Empty for MATLAB-bicubic downscaling alone, the SR benchmark protocol.
    normalization : dict or None
        Intensity normalisation (:class:`~napari_sr.normalization.Normalization`
        as a dict); None until :func:`~napari_sr.training.loop.train` picks the default for
        the images' dtype.
    validation_fraction : float
        When no validation images are given: the fraction of rows at the bottom of every
        training plane held out for validation (0 for no validation), in [0, 0.5].
    validate_every : int
        Steps between validations (and once at the end).
    patience : int or None
        Stop after this many validations without a better PSNR; None never stops early.
    checkpoint_every : int
        Steps between checkpoints when a checkpoint path is given (and at the end).
    seed : int
        Seeds the initial weights, patch positions, augmentations and noise (≥ 0).
    init : str or None
        Where the weights started: the name of the bundled weights that were fine-tuned
        (e.g. ``"fsrcnn_x2.sr291"``), ``"scratch"`` for random weights drawn from
        ``seed``, or None when a model object was given (its own weights) or the record
        predates this field.
    version : int
        Layout version of this record.
    """

    scale: int
    steps: int
    patch_size: int | None = None
    batch_size: int = 16
    lr: float = 2e-4
    betas: tuple[float, float] = (0.9, 0.999)
    loss: Any = "l1"
    schedule: str = "cosine"
    warmup_steps: int = 0
    min_lr: float = 0.0
    decay_every: int | None = None
    decay_factor: float = 0.5
    augment: tuple[str, ...] = AUGMENTATIONS
    degradation: Mapping[str, Any] | None = field(default=None)
    normalization: Mapping[str, Any] | None = None
    validation_fraction: float = 0.0
    validate_every: int = 100
    patience: int | None = None
    checkpoint_every: int = 100
    seed: int = 0
    init: str | None = None
    version: int = CONFIG_VERSION

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # frozen: normalised values are written once, here
        scale = _int(self.scale, "scale", minimum=1)  # 1: same-size restoration models
        set_(self, "scale", scale)
        set_(self, "steps", _int(self.steps, "steps", minimum=1))
        patch = DEFAULT_LR_PATCH * scale if self.patch_size is None else self.patch_size
        patch = _int(patch, "patch_size", minimum=2 * scale)
        if patch % scale:
            raise ValueError(
                f"patch_size must be a multiple of scale ({scale}), e.g. "
                f"{max(2, round(patch / scale)) * scale}; got {patch}"
            )
        set_(self, "patch_size", patch)
        set_(self, "batch_size", _int(self.batch_size, "batch_size", minimum=1))
        # Adam moves every weight by about lr per step: above 1 nothing can be learnt
        set_(self, "lr", _float(self.lr, "lr", low=0, high=1, low_open=True))
        betas = tuple(self.betas) if isinstance(self.betas, (list, tuple)) else None
        if betas is None or len(betas) != 2:
            raise ValueError(f"betas must be two numbers such as (0.9, 0.999), not {self.betas}")
        betas = tuple(_float(b, "betas", low=0, high=1, high_open=True) for b in betas)
        set_(self, "betas", betas)
        loss = parse_loss(self.loss)
        if "ssim" in loss and patch < 11:
            raise ValueError(
                f"the ssim loss needs patches of at least 11 pixels; patch_size is {patch}"
            )
        set_(self, "loss", loss)
        if self.schedule not in SCHEDULES:
            raise ValueError(
                f"unknown schedule {self.schedule!r}; choose one of {', '.join(SCHEDULES)}"
            )
        set_(self, "warmup_steps", _int(self.warmup_steps, "warmup_steps", minimum=0))
        set_(self, "min_lr", _float(self.min_lr, "min_lr", low=0))
        if self.min_lr > self.lr:
            raise ValueError(f"min_lr ({self.min_lr}) must not exceed lr ({self.lr})")
        if self.decay_every is not None:
            set_(self, "decay_every", _int(self.decay_every, "decay_every", minimum=1))
        set_(
            self,
            "decay_factor",
            _float(self.decay_factor, "decay_factor", low=0, high=1, low_open=True),
        )
        set_(self, "augment", _augment(self.augment))
        set_(self, "degradation", _degradation(self.degradation))
        if self.normalization is not None:
            from ..normalization import Normalization

            set_(self, "normalization", Normalization.from_dict(self.normalization).to_dict())
        set_(
            self,
            "validation_fraction",
            _float(self.validation_fraction, "validation_fraction", low=0, high=0.5),
        )
        set_(self, "validate_every", _int(self.validate_every, "validate_every", minimum=1))
        if self.patience is not None:
            set_(self, "patience", _int(self.patience, "patience", minimum=1))
        set_(self, "checkpoint_every", _int(self.checkpoint_every, "checkpoint_every", minimum=1))
        set_(self, "seed", _int(self.seed, "seed", minimum=0))
        if self.seed >= MAX_SEED:  # torch.manual_seed takes 64-bit seeds
            raise ValueError(f"seed must be below 2**63, not {self.seed}")
        if self.init is not None and not (isinstance(self.init, str) and self.init):
            raise TypeError(
                f"init must be 'bundled', 'scratch' or the name of bundled weights, not "
                f"{self.init!r}"
            )
        version = _int(self.version, "version", minimum=1)
        if version > CONFIG_VERSION:
            raise ValueError(
                f"this training record has version {version}, newer than this napari-sr "
                f"understands ({CONFIG_VERSION}); upgrade napari-sr"
            )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready copy (tuples as lists), the form stored in checkpoints."""
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[f.name] = json_ready(value)
        return out

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> TrainConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error listing the valid ones."""
        if not isinstance(values, Mapping):
            raise TypeError(f"a training config is a dict, not {type(values).__name__}")
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(values) - set(names))
        if unknown:
            raise ValueError(
                f"unknown training option(s) {', '.join(unknown)}; valid: {', '.join(names)}"
            )
        missing = [n for n in ("scale", "steps") if n not in values]
        if missing:
            raise ValueError(f"a training config needs {' and '.join(missing)}")
        return cls(**dict(values))

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def differences(self, other: TrainConfig) -> list[str]:
        """Names of the fields whose values differ from ``other``'s."""
        mine, theirs = self.to_dict(), other.to_dict()
        return [k for k in mine if mine[k] != theirs[k]]


def parse_loss(value: Any) -> dict[str, float]:
    """A loss specification as ``{name: weight}``.

    Parameters
    ----------
    value : str or dict
        ``"l1"``; ``"l1=1,ssim=0.2"``; or ``{"l1": 1.0, "ssim": 0.2}``. Names from
        :data:`LOSS_NAMES`; weights finite and ≥ 0, at least one positive.

    Examples
    --------
    >>> parse_loss("l1=1,ssim=0.2")
    {'l1': 1.0, 'ssim': 0.2}
    """
    if isinstance(value, str):
        terms: dict[str, Any] = {}
        for part in filter(None, (p.strip() for p in value.split(","))):
            name, sep, weight = part.partition("=")
            terms[name.strip().lower()] = weight.strip() if sep else 1.0
        if not terms:
            raise ValueError("loss is empty; give e.g. 'l1' or 'l1=1,ssim=0.2'")
    elif isinstance(value, Mapping):
        terms = {str(k).lower(): v for k, v in value.items()}
    else:
        raise TypeError(
            f"loss must be a name such as 'l1' or a dict such as {{'l1': 1, 'ssim': 0.2}}, "
            f"not {type(value).__name__}"
        )
    unknown = sorted(set(terms) - set(LOSS_NAMES))
    if unknown:
        raise ValueError(f"unknown loss {', '.join(unknown)}; valid: {', '.join(LOSS_NAMES)}")
    weights = {}
    for name, weight in terms.items():
        try:
            number = float(weight)
        except (TypeError, ValueError):
            raise ValueError(f"loss weight of {name} must be a number, not {weight!r}") from None
        if not math.isfinite(number) or number < 0:
            raise ValueError(f"loss weight of {name} must be finite and ≥ 0, not {weight!r}")
        weights[name] = number
    if not any(weights.values()):
        raise ValueError("at least one loss weight must be positive")
    return weights


# ----------------------------------------------------------------------------- helpers


def _int(value: Any, name: str, *, minimum: int) -> int:
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a whole number, not {value!r}")
    if not isinstance(value, numbers.Integral):
        if isinstance(value, numbers.Real) and float(value).is_integer():
            value = int(value)  # 96.0 from JSON or a CLI float is fine
        else:
            raise TypeError(f"{name} must be a whole number, not {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, not {value}")
    return int(value)


def _float(
    value: Any,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, not {value!r}")
    number = float(value)
    too_low = low is not None and (number <= low if low_open else number < low)
    too_high = high is not None and (number >= high if high_open else number > high)
    if not math.isfinite(number) or too_low or too_high:
        lo = "" if low is None else f"{'>' if low_open else '≥'} {low:g}"
        hi = "" if high is None else f"{'<' if high_open else '≤'} {high:g}"
        limits = " and ".join(p for p in (lo, hi) if p) or "finite"
        raise ValueError(f"{name} must be {limits}, not {value}")
    return number


def _augment(value: Any) -> tuple[str, ...]:
    if value is None or value is False:
        return ()
    if value is True:
        return AUGMENTATIONS
    if isinstance(value, str):
        names = (value,)
    elif isinstance(value, (list, tuple, set, frozenset)):
        names = tuple(value)
    else:
        raise TypeError(
            f"augment must be a list of {', '.join(AUGMENTATIONS)} (or () for none), not {value!r}"
        )
    unknown = sorted(set(names) - set(AUGMENTATIONS))
    if unknown:
        raise ValueError(
            f"unknown augmentation {', '.join(map(str, unknown))}; choose from "
            f"{', '.join(AUGMENTATIONS)} (or () for none)"
        )
    return tuple(a for a in AUGMENTATIONS if a in names)  # canonical order


def _degradation(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TypeError(
            "degradation must be a dict of napari_sr.degrade options, e.g. "
            f"{{'blur': 1.0, 'noise': {{'gaussian': 2}}}}, not {type(value).__name__}"
        )
    unknown = sorted(set(value) - set(DEGRADATION_KEYS))
    if unknown:
        raise ValueError(
            f"unknown degradation option(s) {', '.join(map(str, unknown))}; valid: "
            f"{', '.join(DEGRADATION_KEYS)} (as for napari_sr.degrade; scale is the model's)"
        )
    out = {k: v for k, v in value.items() if v is not None}
    if "kernel" in out and not isinstance(out["kernel"], str):
        raise TypeError(
            f"degradation kernel must be a name such as 'bicubic', not {out['kernel']!r}"
        )
    if "noise" in out:
        noise = out["noise"]
        if not isinstance(noise, Mapping) or set(noise) - {"poisson", "gaussian"}:
            raise ValueError(
                "degradation noise must be {'poisson': peak_photons}, {'gaussian': sigma} "
                f"or both, not {noise!r}"
            )
        out["noise"] = {k: float(_float(v, f"noise {k}", low=0)) for k, v in noise.items()}
        if out["noise"].get("poisson", 0) > MAX_PHOTONS:
            raise ValueError(
                f"degradation noise poisson (peak photons) must be at most {MAX_PHOTONS:g}, "
                f"not {out['noise']['poisson']:g}; leave poisson out for no shot noise"
            )
    if "blur" in out:
        out["blur"] = _blur(out["blur"])
    if "psf" in out and dataclasses.is_dataclass(out["psf"]):
        out["psf"] = dataclasses.asdict(out["psf"])  # a GaussianPSF, stored as its fields
    if "psf" in out and not isinstance(out["psf"], Mapping):
        raise TypeError(
            "degradation psf must be a napari_sr.GaussianPSF or a dict of its fields, e.g. "
            f"{{'na': 1.4, 'wavelength': 0.52, 'pixel_size': 0.1}}, not {out['psf']!r}"
        )
    return json_ready(out)


def _blur(value: Any) -> Any:
    """``degradation["blur"]``: a σ in pixels, one per axis (sequence), or ``{axis: σ}``."""
    fix = "give a Gaussian sigma in pixels such as 1.0, one per axis, or {'Y': 1, 'X': 1}"
    if isinstance(value, Mapping):
        return {str(k): _float(v, f"degradation blur {k}", low=0) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        if not value:
            raise ValueError(f"degradation blur is empty; {fix}")
        return [_float(v, "degradation blur", low=0) for v in value]
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"degradation blur must be a number, not {value!r}; {fix}")
    return _float(value, "degradation blur", low=0)
