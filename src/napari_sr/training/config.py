"""The training recipe: one validated, JSON-ready record that is the input of every
trainer and is saved inside every checkpoint.

:class:`TrainConfig` holds every number and name that decides what a training run computes
(architecture and its hyperparameters, patches, degradation, loss, optimiser, schedule,
validation, seed). :func:`~napari_sr.train` takes one (or builds one from its keyword
arguments: ``train("fsrcnn", images, scale=2, steps=500)``), and so do the trainers built
on it: zero-shot SR and isotropic reconstruction (:mod:`napari_sr.selfsup`) and learned
multi-frame fusion (:mod:`napari_sr.multiframe.learned`), whose recipes are subclasses
that add their own fields and change a few defaults (:attr:`TrainConfig.DEFAULTS`).

Each option is declared once, as a field here: its name, type, default and check, with
its documentation in the class's ``Attributes`` section. The keyword arguments of the
trainers, the command-line flags (:func:`describe_options`) and the Train widget's
tooltips are derived from these fields. Run control that does not change the result
(progress callbacks, logging, device, file paths) stays outside it. Every field is
checked when the record is made, with an error that names the field and the fix; unknown
names are refused with the closest field named, so a misspelt option fails loudly.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import json
import math
import numbers
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..utils.jsonready import json_ready

CONFIG_VERSION = 1
"""Version of the record's layout; a checkpoint from a newer napari-sr is refused. Fields
added since (with defaults that reproduce older runs) keep the version: older records
still load."""

LOSS_NAMES = (
    "l1", "mse", "charbonnier", "ssim", "tv", "texture", "shift_l1", "spectrum", "consistency",
    "vgg", "sr_features", "feature_matching",
)  # fmt: skip
"""Loss terms :func:`~napari_sr.training.losses.build_loss` knows (weights in ``loss``)."""

ADVERSARIAL_TERMS = ("feature_matching",)
"""Loss terms computed on the discriminator's features: adversarial runs only."""

GAN_LOSS_NAMES = ("vanilla", "lsgan", "hinge", "ragan")
"""Adversarial losses of :mod:`~napari_sr.training.adversarial` (``gan_loss``)."""

DISCRIMINATOR_NAMES = ("unet_sn", "vgg_style")
"""Discriminators of :mod:`napari_sr.models.discriminators` (``discriminator``)."""

DEFAULT_EMA_DECAY = 0.999
"""The weight average's decay of adversarial runs (ESRGAN's and Real-ESRGAN's)."""

ADVERSARIAL_FIELDS = (
    "perceptual_weights", "adversarial", "discriminator", "discriminator_hparams", "gan_loss",
    "adversarial_weight", "discriminator_lr",
)  # fmt: skip
"""The options of adversarial and perceptual training (single-image SR's ``train``)."""

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

RESUMABLE = ("steps", "checkpoint_every", "perceptual_weights")
"""Fields that may differ when a run is resumed: they do not change the computed weights
(a cosine or default step schedule does follow ``steps``; see :func:`learning_rate`);
``perceptual_weights`` is a path, and the same weights may have moved."""

MODEL_FIELDS = ("architecture", "hparams", "in_channels")
"""Fields that describe the network; a resume checks them through the model's own record
(architecture, hyperparameters, scale, channels) rather than as options."""


def without_adversarial(reason: str) -> dict[str, str]:
    """``FIXED`` entries of a recipe whose trainer takes no adversarial or perceptual
    options (:data:`ADVERSARIAL_FIELDS`), each refused with ``reason``."""
    return dict.fromkeys(ADVERSARIAL_FIELDS, reason)


class UnknownOptionError(ValueError, TypeError):
    """A keyword that is no field of the training recipe.

    Both a ValueError (a wrong option value of the call) and a TypeError (what Python
    raises for an unexpected keyword argument), so that either ``except`` catches it.
    """


def option(
    default: Any = dataclasses.MISSING,
    *,
    parse: Callable[[str], Any] | None = str,
    choices: tuple[str, ...] | None = None,
    metavar: str | None = None,
) -> Any:
    """A field of a training recipe, with how a command line gives it.

    Parameters
    ----------
    default
        The field's default; none for a required field.
    parse : callable or None
        Turns the text of a command-line flag into the value (``int``, ``float``, ``str``,
        :func:`parse_key_values`, :func:`parse_names`, :func:`parse_numbers`); None for a
        field that has no flag of its own (given another way, or not from a command line).
    choices, metavar
        For the flag's ``--help``.
    """
    metadata = {"parse": parse, "choices": choices, "metavar": metavar}
    return field(default=default, metadata=metadata)


def parse_key_values(text: str) -> dict[str, Any]:
    """``"d=32,s=5,flag=true"`` as ``{"d": 32, "s": 5, "flag": True}``: values are JSON
    numbers, booleans or lists, else text (how a command line gives ``hparams``).

    >>> parse_key_values("d=32, name=x, ratio=0.5")
    {'d': 32, 'name': 'x', 'ratio': 0.5}
    """
    result = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"takes KEY=VALUE pairs such as d=32,s=5, not {item!r}")
        try:
            result[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            result[key.strip()] = value.strip()
    return result


def parse_names(text: str) -> tuple[str, ...]:
    """``"hflip,rot90"`` as ``("hflip", "rot90")``; ``"none"`` (or nothing) as ``()``."""
    names = tuple(filter(None, (part.strip() for part in text.split(","))))
    return () if names in ((), ("none",)) else names


def parse_numbers(text: str) -> tuple[float, ...]:
    """``"0.9,0.999"`` as ``(0.9, 0.999)``."""
    try:
        return tuple(float(part) for part in text.split(","))
    except ValueError:
        raise ValueError(
            f"takes numbers separated by commas such as 0.9,0.999, not {text!r}"
        ) from None


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """A validated training recipe.

    Build one with keyword arguments (``TrainConfig(scale=2, steps=500)``), from a dict
    (:meth:`from_dict`, e.g. the ``training`` record of a model file), or let
    :func:`~napari_sr.train` build it from its keyword arguments. Options left at None are
    derived where it says so.

    Attributes
    ----------
    architecture : str or None
        The registered architecture to build (:func:`~napari_sr.list_models`), e.g.
        ``"fsrcnn"``. Given as the first argument of :func:`~napari_sr.train` (a name, or a
        model whose architecture it records) or here.
    hparams : dict or None
        Hyperparameters of a network built from its name (FSRCNN's ``d``, ``s``, ``m``,
        …); the architecture's defaults where left out. A dict such as ``{"d": 32}``.
    in_channels : int or None
        Channels of a network built from its name; by default 3 when every image is RGB,
        else 1. A 1-channel network treats every channel of other images as a plane.
    init : str or None
        How a network built from its name starts: ``bundled`` (the bundled weights of the
        architecture at ``scale``; an error where there are none that fit), ``scratch``
        (random weights drawn from ``seed``) or the name of bundled weights such as
        ``fsrcnn_x3.sr291``; by default the bundled weights where napari-sr ships them and
        they fit (1 channel, ``hparams`` that agree with theirs), else random weights.
        A finished run records the choice (the bundled name or ``"scratch"``; None for a
        given model, which starts from its own weights).
    scale : int
        Upscaling factor the model learns (≥ 2; 1 for same-size restoration networks).
    steps : int
        Optimiser updates (one batch each).
    patch_size : int or None
        Side of the square high-resolution training patches, pixels (default
        ``48 * scale``); a multiple of ``scale`` and, divided by it, of the architecture's
        size multiple.
    batch_size : int
        Patches per update.
    lr : float
        Peak learning rate of Adam.
    betas : tuple of float
        Adam's (β1, β2), each in [0, 1).
    loss : str or dict of str to float
        The loss: one term of ``l1``, ``mse``, ``charbonnier``, ``ssim`` (1 − SSIM), ``tv``
        (total variation), ``texture`` (Gram matrices of fixed random features),
        ``shift_l1``, ``spectrum``, ``consistency``, ``vgg``, ``sr_features`` and
        ``feature_matching`` (:data:`LOSS_NAMES`), or a weighted sum such as
        ``l1=1,ssim=0.2``.
        As a dict: ``{"l1": 1.0, "ssim": 0.2}``. Terms for adversarial (perceptual)
        training: ``spectrum`` (L1 between the log amplitude spectra of output and target
        patches: the truth's power at every frequency, whatever its phase),
        ``consistency`` (L1 between the MATLAB-bicubic downscalings of output and
        target: the output keeps the truth's low frequencies), ``vgg`` (ESRGAN's L1 on
        VGG19 conv5_4 features, from ``perceptual_weights``), ``sr_features`` (L1 on the
        features of napari-sr's own bundled SR network, no download) and
        ``feature_matching`` (L1 on the discriminator's features of output and target;
        adversarial runs only).
    perceptual_weights : str or None
        A VGG19 weights file (torchvision's ``vgg19-dcbb9e9d.pth`` or any state dict with
        its ``features.N.weight`` keys; ``.pth`` read with ``weights_only=True``, or
        ``.safetensors``) for the ``vgg`` loss term. napari-sr downloads nothing.
    adversarial : bool
        Train against a discriminator (a GAN): the generator's loss adds
        ``adversarial_weight`` times the adversarial loss to ``loss``, and validation keeps
        the latest weights rather than the best PSNR (adversarial training trades PSNR for
        realistic texture). Start from a PSNR-trained network (ESRGAN's recipe; ``init``).
    discriminator : {'unet_sn', 'vgg_style'}
        The discriminator of an adversarial run: Real-ESRGAN's U-Net with spectral
        normalisation (a score per pixel, any patch size divisible by 8) or SRGAN/ESRGAN's
        VGG-style network (one score per patch; ``patch_size`` 128 or 256).
    discriminator_hparams : dict or None
        Its hyperparameters, e.g. ``{"features": 32}`` (default 64); its ``in_channels``
        is the model's.
    gan_loss : {'vanilla', 'lsgan', 'hinge', 'ragan'}
        The adversarial loss: the original GAN's (non-saturating), least squares, hinge, or
        ESRGAN's relativistic average.
    adversarial_weight : float
        Weight of the adversarial term in the generator's loss (≥ 0; Real-ESRGAN's 0.1
        with ``l1=1``; ESRGAN's 0.005 with ``l1=0.01,vgg=1``).
    discriminator_lr : float or None
        Peak learning rate of the discriminator's Adam, following the same warm-up and
        schedule as the generator's; by default ``lr``.
    ema_decay : float or None
        Decay of the moving average of the generator's weights that is validated and saved
        (``params_ema`` of ESRGAN), in [0, 1); 0 for none. By default 0.999 for
        adversarial runs and none otherwise.
    schedule : {'cosine', 'step', 'constant'}
        Learning rate after the warm-up: cosine decay to ``min_lr`` at ``steps``,
        multiplication by ``decay_factor`` every ``decay_every`` steps, or constant.
    warmup_steps : int
        Steps of linear warm-up from ``lr / warmup_steps`` to ``lr``.
    min_lr : float
        Final learning rate of the cosine schedule.
    decay_every : int or None
        Period of the step schedule, steps; by default a quarter of the steps after the
        warm-up.
    decay_factor : float
        Factor of the step schedule, in (0, 1].
    augment : tuple of str
        Random flips (``hflip``, ``vflip``) and quarter turns (``rot90``) of each patch
        pair; empty for none.
    degradation : dict
        How low-resolution inputs are made from the high-resolution images: keyword
        arguments of :func:`~napari_sr.degrade` (``kernel``, ``blur`` σ in HR pixels,
        ``psf``, ``noise`` as ``{"poisson": peak, "gaussian": sigma}``, drawn afresh per
        patch). Empty for MATLAB-bicubic downscaling alone, the SR benchmark protocol.
        ``{"random": {...}}`` instead draws a realistic microscope degradation afresh for
        every patch from the training generator (seeded by ``seed``), with the fields of
        :class:`~napari_sr.degradation.DegradationRange` as ``[low, high]`` lists or one
        number: ``blur`` σ (HR pixels), ``anisotropic`` (σ_y, σ_x drawn apart),
        ``kernel`` (default ``"area"``, pixel integration), ``peak`` (photo-electrons at
        the image maximum, log-uniform), ``clean`` (probability of no noise),
        ``read_noise`` (σ, electrons), ``gain`` (ADU per electron), ``offset`` (ADU),
        ``bits`` (bit depths to draw from, e.g. ``[8, 16]``). Example:
        ``{"random": {"blur": [0.5, 2], "peak": [20, 1000], "clean": 0.2}}``; ``na``,
        ``wavelength`` (µm), ``pixel_size`` (µm) and ``psf_kinds`` add a physical PSF.
        ``{"photo": {...}}`` draws Real-ESRGAN's second-order degradation of photographs
        (blur, resize, noise, JPEG, twice;
        :class:`~napari_sr.photo_degradation.PhotoDegradationRange`; ``{}`` for its
        published ranges).
    normalization : dict or None
        Intensity normalisation (:class:`~napari_sr.normalization.Normalization`, as a
        dict). None: a given model's, else fixed 0-255 for uint8 images and percentiles
        1-99.8 otherwise; a finished run records the one it used.
    validation_fraction : float
        When no validation images are given: the fraction of rows at the bottom of every
        training plane held out for validation (0 for no validation), in [0, 0.5].
    validate_every : int
        Steps between validations (and once at the end).
    patience : int or None
        Stop after this many validations without a better PSNR; by default training never
        stops early.
    checkpoint_every : int
        Steps between checkpoints when a checkpoint path is given (and at the end).
    seed : int
        Seeds the initial weights, patch positions, augmentations and noise (≥ 0): the
        same seed, data and options give the same weights (on the same device and
        library versions).
    version : int
        Layout version of this record.
    """

    TASK: ClassVar[str] = "sr"
    """What the recipe trains; stored as ``task`` in :meth:`to_dict`."""
    DEFAULTS: ClassVar[Mapping[str, Any]] = {}
    """A subclass's defaults of inherited fields (the field stays declared once, here)."""
    FIXED: ClassVar[Mapping[str, str]] = {}
    """Fields a subclass's trainer sets itself (or does not use), each with the reason
    given when one is set to anything but its default."""
    DERIVED: ClassVar[tuple[str, ...]] = ("patch_size", "ema_decay")
    """Fields that, left None, take a value derived from the others (:meth:`_derived`)."""

    architecture: str | None = option(None, parse=None)
    hparams: Mapping[str, Any] | None = option(
        None, parse=parse_key_values, metavar="KEY=VALUE,..."
    )
    in_channels: int | None = option(None, parse=int)
    init: str | None = option(None, metavar="bundled|scratch|NAME")
    scale: int = option(parse=int)
    steps: int = option(parse=int)
    patch_size: int | None = option(None, parse=int)
    batch_size: int = option(16, parse=int)
    lr: float = option(2e-4, parse=float)
    betas: tuple[float, float] = option((0.9, 0.999), parse=parse_numbers, metavar="B1,B2")
    loss: str | Mapping[str, float] = option("l1", metavar="NAME or NAME=WEIGHT,...")
    perceptual_weights: str | None = option(None, metavar="FILE")
    adversarial: bool = option(False, parse=bool)
    discriminator: str = option("unet_sn", choices=DISCRIMINATOR_NAMES)
    discriminator_hparams: Mapping[str, Any] | None = option(
        None, parse=parse_key_values, metavar="KEY=VALUE,..."
    )
    gan_loss: str = option("ragan", choices=GAN_LOSS_NAMES)
    adversarial_weight: float = option(0.1, parse=float)
    discriminator_lr: float | None = option(None, parse=float)
    ema_decay: float | None = option(None, parse=float)
    schedule: str = option("cosine", choices=SCHEDULES)
    warmup_steps: int = option(0, parse=int)
    min_lr: float = option(0.0, parse=float)
    decay_every: int | None = option(None, parse=int)
    decay_factor: float = option(0.5, parse=float)
    augment: tuple[str, ...] = option(AUGMENTATIONS, parse=parse_names, metavar="NAME,...|none")
    degradation: Mapping[str, Any] | None = option(None, parse=None)
    normalization: Mapping[str, Any] | None = option(None, parse=None)
    validation_fraction: float = option(0.0, parse=float)
    validate_every: int = option(100, parse=int)
    patience: int | None = option(None, parse=int)
    checkpoint_every: int = option(100, parse=int)
    seed: int = option(0, parse=int)
    version: int = option(CONFIG_VERSION, parse=None)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Give a subclass the defaults of its :attr:`DEFAULTS` before ``@dataclass``
        builds it: each such field is re-made from the base field (its metadata kept)
        with the new default, so that the subclass's constructor has it."""
        super().__init_subclass__(**kwargs)
        _TASKS[cls.TASK] = cls
        own = cls.__dict__.get("DEFAULTS", {})
        if not own:
            return
        base = {f.name: f for f in dataclasses.fields(cls.__mro__[1])}
        annotations = dict(inspect.get_annotations(cls))
        for name, value in own.items():
            if name not in base:
                raise TypeError(f"{cls.__name__}.DEFAULTS names {name!r}, which is no field")
            annotations.setdefault(name, base[name].type)
            setattr(cls, name, field(default=value, metadata=base[name].metadata))
        cls.__annotations__ = annotations
        _TASKS[cls.TASK] = cls

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # frozen: normalised values are written once, here
        # the network first, then scale and steps, which the derived defaults read
        if self.architecture is not None and not (
            isinstance(self.architecture, str) and self.architecture
        ):
            raise TypeError(
                f"architecture must be a registered name such as 'fsrcnn', not "
                f"{self.architecture!r}"
            )
        set_(self, "hparams", _hparams(self.hparams))
        if self.in_channels is not None:
            set_(self, "in_channels", _channels(self.in_channels))
        if self.init is not None and not (isinstance(self.init, str) and self.init):
            raise TypeError(
                f"init must be 'bundled', 'scratch' or the name of bundled weights, not "
                f"{self.init!r}"
            )
        scale = _int(self.scale, "scale", minimum=1)  # 1: same-size restoration models
        set_(self, "scale", scale)
        set_(self, "steps", _int(self.steps, "steps", minimum=1))
        derived = tuple(n for n in self.DERIVED if getattr(self, n) is None)
        values = self._derived()
        for name in derived:
            set_(self, name, values.get(name))
        set_(self, "_derived_fields", derived)  # derived again by replace()
        if self.patch_size is not None:  # None: a trainer picks it from its data
            patch = _int(self.patch_size, "patch_size", minimum=2 * scale)
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
        if "ssim" in loss and self.patch_size is not None and self.patch_size < 11:
            raise ValueError(
                f"the ssim loss needs patches of at least 11 pixels; patch_size is "
                f"{self.patch_size}"
            )
        set_(self, "loss", loss)
        self._check_adversarial()
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
        version = _int(self.version, "version", minimum=1)
        if version > CONFIG_VERSION:
            raise ValueError(
                f"this training record has version {version}, newer than this napari-sr "
                f"understands ({CONFIG_VERSION}); upgrade napari-sr"
            )
        self._check()
        self._check_fixed()

    def _check_adversarial(self) -> None:
        """The perceptual and adversarial options (after ``loss`` and ``lr``)."""
        set_ = object.__setattr__
        if self.perceptual_weights is not None:
            if not isinstance(self.perceptual_weights, (str, os.PathLike)):
                raise TypeError(
                    "perceptual_weights must be the path of a VGG19 weights file, not "
                    f"{self.perceptual_weights!r}"
                )
            set_(self, "perceptual_weights", os.fspath(self.perceptual_weights))
        if "vgg" in self.loss and self.loss["vgg"] > 0 and self.perceptual_weights is None:
            raise ValueError(
                "the vgg loss needs VGG19 weights: pass perceptual_weights='vgg19.pth' "
                "(--perceptual-weights), or use the texture or sr_features term instead"
            )
        if isinstance(self.adversarial, str) or self.adversarial not in (True, False):
            raise TypeError(f"adversarial must be True or False, not {self.adversarial!r}")
        set_(self, "adversarial", bool(self.adversarial))
        if self.discriminator not in DISCRIMINATOR_NAMES:
            raise ValueError(
                f"unknown discriminator {self.discriminator!r}; choose one of "
                f"{', '.join(DISCRIMINATOR_NAMES)}"
            )
        hparams = _hparams(self.discriminator_hparams)
        if hparams and "in_channels" in hparams:
            raise ValueError(
                "discriminator_hparams must not set in_channels: the discriminator takes the "
                "model's channels"
            )
        set_(self, "discriminator_hparams", hparams)
        if self.gan_loss not in GAN_LOSS_NAMES:
            raise ValueError(
                f"unknown gan_loss {self.gan_loss!r}; choose one of {', '.join(GAN_LOSS_NAMES)}"
            )
        set_(self, "adversarial_weight", _float(self.adversarial_weight, "adversarial_weight",
                                                low=0))  # fmt: skip
        if self.discriminator_lr is not None:
            set_(self, "discriminator_lr", _float(self.discriminator_lr, "discriminator_lr",
                                                  low=0, high=1, low_open=True))  # fmt: skip
        if self.ema_decay is None:
            set_(self, "ema_decay", DEFAULT_EMA_DECAY if self.adversarial else 0.0)
        set_(self, "ema_decay", _float(self.ema_decay, "ema_decay", low=0, high=1,
                                       high_open=True))  # fmt: skip
        if not self.adversarial:
            used = [n for n in ADVERSARIAL_TERMS if self.loss.get(n, 0) > 0]
            if used:
                raise ValueError(
                    f"the {' and '.join(used)} loss is computed by the discriminator: set "
                    "adversarial=True (--adversarial), or drop it from loss"
                )
            return
        if self.patience is not None:
            raise ValueError(
                "adversarial training does not stop early: patience follows validation PSNR, "
                "which adversarial training trades for texture; leave patience out"
            )
        if self.discriminator == "vgg_style" and self.patch_size is not None:
            size = int((hparams or {}).get("input_size", 128))
            if self.patch_size != size:
                raise ValueError(
                    f"the vgg_style discriminator scores {size}² patches, but patch_size is "
                    f"{self.patch_size}: set patch_size={size}, or use unet_sn, which takes "
                    "any size divisible by 8"
                )
        if self.discriminator == "unet_sn" and self.patch_size is not None:
            if self.patch_size % 8:
                raise ValueError(
                    f"the unet_sn discriminator needs patches divisible by 8; patch_size is "
                    f"{self.patch_size}, e.g. use {max(8, round(self.patch_size / 8) * 8)} "
                    f"(a multiple of 8 and of scale {self.scale})"
                )

    # ---- what a subclass adds

    def _derived(self) -> dict[str, Any]:
        """Values of the :attr:`DERIVED` fields left None (``scale`` and ``steps`` are
        checked by then); a missing one stays None."""
        return {
            "patch_size": DEFAULT_LR_PATCH * self.scale,
            "ema_decay": DEFAULT_EMA_DECAY if self.adversarial is True else 0.0,
        }

    def _check(self) -> None:
        """Check (and normalise, with ``object.__setattr__``) a subclass's own fields."""

    def _check_fixed(self) -> None:
        for name, reason in self.FIXED.items():
            default = self.__dataclass_fields__[name].default
            if hasattr(default, "to_dict"):  # a Normalization, kept as its dict
                default = default.to_dict()
            value = getattr(self, name)
            if value != default and not (value in ({}, ()) and default is None):
                raise ValueError(f"{self.TASK} does not take {name} ({reason}); leave {name} out")

    # ---- records

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready copy (tuples as lists) with the ``task``, the form stored in
        checkpoints and model files."""
        out: dict[str, Any] = {"task": self.TASK}
        for f in dataclasses.fields(self):
            out[f.name] = json_ready(getattr(self, f.name))
        return out

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> TrainConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error listing the valid ones.

        A record of another ``task`` (a subclass's) is read by that subclass when it is
        called on :class:`TrainConfig`; records without ``task`` (older ones) are of
        :class:`TrainConfig`.
        """
        if not isinstance(values, Mapping):
            raise TypeError(f"a training config is a dict, not {type(values).__name__}")
        values = dict(values)
        task = values.pop("task", cls.TASK)
        if task != cls.TASK:
            if cls is not TrainConfig or task not in _TASKS:
                raise ValueError(
                    f"this is a training record of task {task!r}, not {cls.TASK!r}; read it "
                    f"with the config of that task"
                )
            return _TASKS[task].from_dict(values)
        names = cls.field_names()
        unknown = sorted(set(values) - set(names))
        if unknown:
            raise ValueError(
                f"unknown training option(s) {', '.join(unknown)}; valid: {', '.join(names)}"
                f"{_suggestions(unknown, names)}"
            )
        missing = [
            f.name
            for f in dataclasses.fields(cls)
            if f.default is dataclasses.MISSING and f.name not in values
        ]
        if missing:
            raise ValueError(f"a training config needs {' and '.join(missing)}")
        return cls(**values)

    # ---- building from a call

    @classmethod
    def field_names(cls) -> list[str]:
        """The options of this recipe, in declaration order."""
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def check_names(cls, names: Any, where: str) -> None:
        """Refuse names that are no field, naming the closest field of each.

        Raises
        ------
        UnknownOptionError
            A ValueError and TypeError: ``"train() got unexpected options lerning_rate
            (did you mean lr?); ..."``.
        """
        valid = cls.field_names()
        unknown = sorted(set(names) - set(valid))
        if unknown:
            raise UnknownOptionError(
                f"{where}() got unexpected options {', '.join(unknown)}"
                f"{_suggestions(unknown, valid)}; training options are the fields of "
                f"{cls.__name__}: {', '.join(valid)}"
            )

    @classmethod
    def build(
        cls,
        config: TrainConfig | Mapping[str, Any] | None = None,
        overrides: Mapping[str, Any] | None = None,
        *,
        where: str = "train",
    ) -> TrainConfig:
        """The recipe of a call: ``config`` (a recipe of this class, a dict of its fields
        such as :meth:`to_dict` gives, or None for the defaults) with ``overrides`` (field
        names) applied and checked.

        Examples
        --------
        >>> TrainConfig.build(None, {"scale": 2, "steps": 10}).patch_size
        96
        >>> TrainConfig.build(TrainConfig(scale=2, steps=10), {"scale": 3}).patch_size
        144
        """
        overrides = dict(overrides or {})
        cls.check_names(overrides, where)
        if config is None:
            missing = [
                f.name
                for f in dataclasses.fields(cls)
                if f.default is dataclasses.MISSING and f.name not in overrides
            ]
            if missing:
                raise TypeError(_needs(where, missing))
            return cls(**overrides)
        if isinstance(config, Mapping):
            if config.get("task", cls.TASK) != cls.TASK:
                raise ValueError(
                    f"{where}() takes a {cls.__name__} record, not one of task {config['task']!r}"
                )
            return cls.from_dict({**config, **overrides})
        if type(config) is not cls:
            raise TypeError(
                f"{where}() takes a {cls.__name__} (or a dict of its fields) as config, not "
                f"{type(config).__name__}"
            )
        return config.replace(**overrides) if overrides else config

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with some fields changed (validated again); fields that were derived
        (left None) are derived again from the new values."""
        self.check_names(changes, "replace")
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        for name in getattr(self, "_derived_fields", ()):
            values[name] = None
        return type(self)(**{**values, **changes})

    def differences(self, other: TrainConfig) -> list[str]:
        """Names of the fields whose values differ from ``other``'s."""
        mine, theirs = self.to_dict(), other.to_dict()
        return [k for k in mine if mine[k] != theirs.get(k)]


_TASKS: dict[str, type[TrainConfig]] = {"sr": TrainConfig}
"""Recipe classes by ``task``, filled as subclasses are defined."""


# ----------------------------------------------------------------- options described


@dataclass(frozen=True)
class OptionDoc:
    """One option of a recipe, as front ends show it (see :func:`describe_options`).

    Attributes
    ----------
    name : str
        The field's name (a keyword argument of the trainer).
    type : str
        Its type, as the class's docstring gives it.
    help : str
        The first sentence of its documentation, markup removed.
    doc : str
        Its whole documentation.
    default : Any
        The class's default (None where it is derived or absent).
    required : bool
        True for a field without a default.
    parse : callable or None
        Text of a flag → value; None when the field has no flag of its own.
    choices : tuple of str or None
    metavar : str or None
    flag : str
        ``--patch-size`` for ``patch_size``.
    """

    name: str
    type: str
    help: str
    doc: str
    default: Any
    required: bool
    parse: Callable[[str], Any] | None
    choices: tuple[str, ...] | None
    metavar: str | None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


def describe_options(cls: type[TrainConfig] = TrainConfig) -> dict[str, OptionDoc]:
    """The options of a recipe class, by name: what front ends (command-line flags,
    widget tooltips) show, taken from the fields and the class's docstrings.

    Fields in ``cls.FIXED`` (set by the trainer) are left out.

    Examples
    --------
    >>> describe_options()["batch_size"].help
    'Patches per update.'
    >>> describe_options()["patch_size"].flag
    '--patch-size'
    """
    docs = _attribute_docs(cls)
    out = {}
    for f in dataclasses.fields(cls):
        if f.name in cls.FIXED:
            continue
        if f.name not in docs:
            raise TypeError(f"{cls.__name__}.{f.name} is not documented under Attributes")
        kind, text = docs[f.name]
        required = f.default is dataclasses.MISSING
        out[f.name] = OptionDoc(
            name=f.name,
            type=kind,
            help=_plain(_first_sentence(text)),
            doc=text,
            default=None if required else f.default,
            required=required,
            parse=f.metadata.get("parse", str),
            choices=f.metadata.get("choices"),
            metavar=f.metadata.get("metavar"),
        )
    return out


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
    if "random" in value or "photo" in value:
        return _random_degradation(value)
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


def _random_degradation(value: Mapping[str, Any]) -> dict[str, Any]:
    """``{"random": {...}}`` or ``{"photo": {...}}``: the fields of
    :class:`~napari_sr.degradation.DegradationRange` or
    :class:`~napari_sr.photo_degradation.PhotoDegradationRange`, checked and stored in
    full (lists for ranges)."""
    from ..degradation import DegradationRange
    from ..photo_degradation import PhotoDegradationRange

    kind = "random" if "random" in value else "photo"
    example = {
        "random": "{'random': {'blur': [0.5, 2], 'peak': [20, 1000], 'clean': 0.2}}",
        "photo": "{'photo': {}} (Real-ESRGAN's ranges) or {'photo': {'jpeg': [60, 95]}}",
    }
    others = sorted(k for k in value if k != kind)
    if others:
        raise ValueError(
            f"degradation {kind!r} replaces {', '.join(map(str, others))}: give the ranges "
            f"inside it, e.g. {example[kind]}"
        )
    ranges = value[kind]
    if not isinstance(ranges, Mapping):
        raise TypeError(
            f"degradation {kind} must be a dict of ranges such as {example[kind]}, not {ranges!r}"
        )
    cls = DegradationRange if kind == "random" else PhotoDegradationRange
    try:
        spec = cls.from_dict(ranges)
    except (TypeError, ValueError) as err:
        raise type(err)(f"degradation {kind}: {err}") from None
    return json_ready({kind: spec.to_dict()})


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


def _hparams(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise TypeError(
            f"hparams must be a dict of the architecture's settings such as {{'d': 32}}, not "
            f"{value!r}"
        )
    return json_ready(dict(value))


def _channels(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"in_channels must be a positive whole number, not {value!r}")
    return int(value)


def _needs(where: str, missing: list[str]) -> str:
    examples = {"scale": "scale=2", "steps": "steps=1000"}
    shown = ", ".join(examples.get(n, f"{n}=...") for n in missing)
    return f"{where}() needs {' and '.join(missing)}, e.g. {shown} (or a config that has them)"


def _suggestions(unknown: list[str], valid: list[str]) -> str:
    """`` (did you mean lr?)`` for the unknown names that resemble a valid one."""
    close = []
    for name in unknown:
        match = difflib.get_close_matches(name, valid, n=1, cutoff=0.6)
        if match:
            close.append(f"{match[0]} for {name}" if len(unknown) > 1 else match[0])
    return f" (did you mean {', '.join(close)}?)" if close else ""


_ENTRY = re.compile(r"^(\w+) : (.+)$")


def _attribute_docs(cls: type) -> dict[str, tuple[str, str]]:
    """``{name: (type, text)}`` from the ``Attributes`` sections of ``cls`` and its bases
    (a subclass's entry replaces its base's)."""
    out: dict[str, tuple[str, str]] = {}
    for klass in reversed(cls.__mro__):
        doc = klass.__dict__.get("__doc__")
        if not doc or "Attributes\n" not in inspect.cleandoc(doc):
            continue
        lines = inspect.cleandoc(doc).split("Attributes\n", 1)[1].splitlines()[1:]
        name = None
        for line in lines:
            entry = _ENTRY.match(line)
            if entry:
                name = entry.group(1)
                out[name] = (entry.group(2).strip(), "")
            elif line.startswith("    ") and name:
                kind, text = out[name]
                out[name] = (kind, f"{text} {line.strip()}".strip())
            elif line.strip() and not line.startswith(" "):
                break  # the next section
    return out


def _first_sentence(text: str) -> str:
    for match in re.finditer(r"\.(?=\s|$)", text):
        if not re.search(r"\b(e\.g|i\.e|etc|vs)$", text[: match.start()]):
            return text[: match.end()]
    return text


def _plain(text: str) -> str:
    """Docstring markup removed: ``x`` → x, :func:`~a.b` → b."""
    text = re.sub(r":\w+:`~?(?:[\w.]+\.)?([^`]+)`", r"\1", text)
    return text.replace("``", "")
