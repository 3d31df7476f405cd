"""``train``: fit a single-image SR model to high-resolution images.

One update per step: a batch of random patch pairs (:mod:`.data`), the weighted loss
(:mod:`.losses`), Adam at the rate of the schedule (:mod:`.schedule`). Every
``validate_every`` steps the model is scored on held-out images (:mod:`.validate`); the
best weights are kept and training stops early after ``patience`` validations without a
better PSNR. Every ``checkpoint_every`` steps the model file and the resume state
(:mod:`.state`) are written, so that a cancelled or crashed run continues exactly where
it stopped.
"""

from __future__ import annotations

import copy
import os
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..engine.device import resolve_device
from ..image import Image
from ..models.info import ModelInfo
from ..normalization import Normalization
from ..utils.atomic import check_target
from ..utils.jsonready import json_ready
from ..utils.progress import Cancelled, CancelToken, ProgressCallback, is_cancelled, report
from . import data as training_data
from .config import MODEL_FIELDS, RESUMABLE, TrainConfig, _int
from .denoising import Denoising
from .log import BelowInterpolationWarning
from .losses import build_loss
from .schedule import learning_rate
from .state import (
    RESUME_FIX,
    CheckpointWriteError,
    TrainingState,
    _few,
    fit_problems,
    guarded_write,
    load_state,
    optimizer_problems,
    save_state,
    state_path,
    weight_problems,
)
from .validate import PERCEPTUAL_SCORES, bicubic_scores, evaluate

INIT_CHOICES = ("bundled", "scratch")
"""Named starting points of :func:`train` besides the name of bundled weights."""

ImagesLike = np.ndarray | Image | str | os.PathLike | Sequence[Any]
LogCallback = Callable[[dict[str, Any]], None]


def train(
    model_or_config: str | torch.nn.Module | TrainConfig,
    images: ImagesLike,
    config: TrainConfig | Mapping[str, Any] | None = None,
    *,
    validation: ImagesLike | None = None,
    checkpoint: str | os.PathLike | None = None,
    resume: bool = False,
    overwrite: bool = False,
    device: str | torch.device = "auto",
    log_every: int | None = None,
    progress: ProgressCallback | None = None,
    log: LogCallback | None = None,
    cancel: CancelToken | None = None,
    **overrides: Any,
) -> torch.nn.Module:
    """Train a single-image SR model on high-resolution images.

    Low-resolution inputs are made on the fly from the images by
    :func:`napari_sr.degrade` (MATLAB-bicubic downscaling by ``scale``, plus the blur, PSF
    and noise of ``degradation``), so only high-resolution images are needed.

    The recipe is a :class:`~napari_sr.training.config.TrainConfig`: given as ``config``
    (or as the first argument), built from keyword arguments that are its fields
    (``train("fsrcnn", images, scale=2, steps=2000, lr=1e-3)``), or both (the keywords
    change the given config). Its fields, with their defaults and checks, are the options
    of training: architecture, ``hparams``, ``in_channels``, ``init``, ``scale``,
    ``steps``, ``patch_size``, ``batch_size``, ``lr``, ``betas``, ``loss``,
    ``schedule``, ``warmup_steps``, ``min_lr``, ``decay_every``, ``decay_factor``,
    ``augment``, ``degradation``, ``normalization``, ``validation_fraction``,
    ``validate_every``, ``patience``, ``checkpoint_every``, ``seed``.

    Parameters
    ----------
    model_or_config : str, torch.nn.Module or TrainConfig
        A registered architecture (:func:`~napari_sr.list_models`), started as
        ``init`` says; a model from :func:`~napari_sr.create_model` or
        :func:`~napari_sr.load_model` to train further (fine-tuning from its weights);
        or a config that names its ``architecture``.
    images : array, Image, path, folder or a sequence of these
        High-resolution training images: 2D ``YX`` images, stacks (every plane is a
        training image), RGB for 3-channel models. Folders contribute every file of a format
        napari-sr reads (:data:`~napari_sr.training.data.IMAGE_SUFFIXES`).
    config : TrainConfig or dict, optional
        The recipe (a dict of its fields, such as a model file's ``training`` record).
    validation : same kinds as ``images``, optional
        Held-out high-resolution images for validation PSNR/SSIM, early stopping and the
        choice of the best weights (instead of ``validation_fraction``).
    checkpoint : path-like, optional
        Model file (``*.safetensors``) written every ``checkpoint_every`` steps, on
        cancellation and at the end, with the best weights so far; next to it,
        ``*.resume.safetensors`` holds the state to continue from
        (:func:`~napari_sr.training.state.state_path`).
    resume : bool
        Continue the run saved at ``checkpoint``. The options must be the ones it was
        started with, except ``steps`` (to extend it) and ``checkpoint_every``; the data
        must be the same. The result equals that of an uninterrupted run bit for bit on
        the CPU (tested); on a GPU, only as far as its kernels are deterministic (see
        :func:`torch.use_deterministic_algorithms`). A cosine or default step schedule
        follows ``steps``, so extending such a run changes the remaining rates. A run that
        stopped early stays stopped. A resume state that is incomplete, damaged or from
        another model is refused with one error listing every problem.
    overwrite : bool
        Replace an existing ``checkpoint`` (and its resume state) when starting anew.
    device : str or torch.device
        ``"auto"`` (CUDA, then MPS, then CPU), ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"mps"``.
    log_every : int, optional
        Steps between ``"step"`` records; default a twentieth of the steps.
    progress : callable, optional
        ``progress(done, total)`` after every step.
    log : callable, optional
        Called with one dict per event: ``{"event": "start", ...}`` (with ``init`` and
        ``init_note``: how the weights started, and why); ``"step"`` every ``log_every``
        steps (``step``, ``steps``, ``loss`` and each term's mean since the last record,
        ``lr``, ``elapsed_s``, ``eta_s``); ``"validation"`` (``psnr`` dB, ``ssim``,
        ``best_psnr``, ``improved``, ``bicubic_psnr``); ``"checkpoint"``;
        ``"early_stop"``; ``"done"``. :func:`~napari_sr.training.log.format_record` makes
        them one-line text.
    cancel : threading.Event or callable, optional
        Checked before every step and during validation. When set, a checkpoint
        is saved (if ``checkpoint`` is given) and
        :class:`~napari_sr.utils.progress.Cancelled` is raised.
    **overrides
        Fields of :class:`~napari_sr.training.config.TrainConfig`, e.g. ``scale=2,
        steps=2000``; they replace the config's. Fine-tuned bundled weights (``init``)
        keep the bundled models' intensity route (fixed 0-255 for uint8, percentiles
        0.1-99.99 for other dtypes, grayscale mapped to luma's 16-235), in training and in
        use; from pretrained weights the starting point is validated too (step 0), so
        that training never returns a model worse on the validation images than the one
        it started from.

    Returns
    -------
    torch.nn.Module
        The trained model in eval mode, on ``device``, holding the best validation weights
        (the last ones without validation). Attributes: ``spec``, ``scale``,
        ``in_channels``, ``hparams``, ``normalization``
        (:class:`~napari_sr.normalization.Normalization`), ``training_config``
        (:class:`TrainConfig`, with ``architecture``, ``in_channels``, ``init`` and
        ``normalization`` as used), ``training_report`` (steps done, why it stopped, final
        loss, best validation PSNR/SSIM and its step, the bicubic baseline, the gain in
        dB, the validation history, seconds) and ``info`` (its record, with the training,
        data and metrics records that :func:`~napari_sr.save_model` writes by default;
        ``checkpoint`` is that record in the model file's layout).

    Raises
    ------
    ValueError, TypeError
        Invalid options or images (checked before any training), a checkpoint that
        exists without ``overwrite``, or a resume that does not match the saved run.
        A keyword that is no field of the config raises
        :class:`~napari_sr.training.config.UnknownOptionError` (both), naming the
        closest field.
    CheckpointWriteError
        An :class:`OSError` (``errno.ENOSPC`` when the disk is full) when a checkpoint or
        resume state cannot be written. Training stops there: nothing partial is left,
        the previous checkpoint stays as it was (the message says up to which step), and
        the error's ``model`` attribute holds the trained model as it was, best weights
        included, to save elsewhere with :func:`~napari_sr.save_model`.
    Cancelled
        When ``cancel`` is set, even during the last step.

    Warns
    -----
    BelowInterpolationWarning
        When the trained model's validation PSNR ends below bicubic interpolation's
        (both numbers and what to do are in the message; ``metrics["gain_db"]`` < 0).

    Examples
    --------
    >>> model = napari_sr.train("fsrcnn", "hr_images/", scale=2, steps=2000,
    ...                         validation="held_out/", checkpoint="fsrcnn_x2.safetensors")
    ...                         # doctest: +SKIP
    >>> from napari_sr.training import TrainConfig
    >>> recipe = TrainConfig(architecture="fsrcnn", scale=2, steps=2000)
    >>> model = napari_sr.train(recipe, "hr_images/", lr=1e-3)  # doctest: +SKIP
    >>> napari_sr.upscale(image, 2, method=model)  # doctest: +SKIP
    """
    model_or_name, config = _split_model_and_config(model_or_config, config, overrides)

    def given(name: str) -> Any:  # an option as the call gives it, before the checks
        if name in overrides:
            return overrides[name]
        return config.get(name) if isinstance(config, Mapping) else getattr(config, name, None)

    # the scale first: a wrong one would otherwise surface as a patch_size error
    if given("scale") is None:
        raise TypeError("train() needs scale, e.g. scale=2 (or a config that has it)")
    scale = _int(given("scale"), "scale", minimum=1)
    given_model = _check_model_argument(
        model_or_name, scale, given("in_channels"), given("hparams"), given("architecture")
    )
    config = TrainConfig.build(config, overrides, where="train")
    in_channels, hparams, init = config.in_channels, config.hparams, config.init
    if log_every is not None:
        log_every = _int(log_every, "log_every", minimum=1)
    for name, callback in (("progress", progress), ("log", log)):
        if callback is not None and not callable(callback):
            raise TypeError(
                f"{name} must be a function (called as {name}(...)) or None, not "
                f"{type(callback).__name__}"
            )
    for name, flag in (("resume", resume), ("overwrite", overwrite)):
        if not isinstance(flag, (bool, np.bool_)):
            raise TypeError(f"{name} must be True or False, not {flag!r}")
    if given_model is not None and init is not None:
        raise ValueError(
            f"init={init!r} applies to a model built from a name; a given model starts from "
            "its own weights (leave init out, or pass the architecture's name)"
        )
    paths = _check_checkpoint(checkpoint, resume=resume, overwrite=overwrite)
    run_device = resolve_device(device)

    # ---- data: read, split, degrade, normalise (all checks before any training)
    named = training_data.collect(images, "images")
    held_out = None
    if validation is not None:
        if config.validation_fraction:
            raise ValueError("give either validation images or validation_fraction, not both")
        held_out = training_data.collect(validation, "validation")
    elif config.validation_fraction:
        named, held_out = training_data.split_rows(named, config.validation_fraction, config.scale)
    start_note = None
    if given_model is not None:
        channels = int(given_model.in_channels)
    else:
        channels = in_channels or training_data.default_channels(named)
        bundled, start_note = _resolve_init(init, model_or_name, config.scale, channels, hparams)
        config = config.replace(init=bundled or "scratch")
        if bundled is not None:
            from ..models.bundled import load_bundled

            given_model = load_bundled(bundled)
            hparams = None  # the bundled model's own, which agree with those given
    # a model that records how inference maps its intensities (the bundled weights and
    # models fine-tuned from them) is trained through the same route
    record = getattr(given_model, "info", None)
    record = record if isinstance(record, ModelInfo) else None
    luma = channels == 1 and record is not None and record.luma
    other_dtypes = None
    normalization = config.normalization
    if normalization is None and given_model is not None:
        normalization = getattr(given_model, "normalization", None)
        if record is not None:
            other_dtypes = record.input.other_dtypes
    if normalization is not None:
        norm = Normalization.from_dict(normalization)
    else:
        norm, other_dtypes = training_data.default_normalization(named), None
    # the record says what was trained, as it was resolved
    architecture = model_or_name if given_model is None else given_model.spec.name
    config = config.replace(
        architecture=architecture, in_channels=channels, normalization=norm.to_dict()
    )
    prepare = {
        "scale": config.scale,
        "in_channels": channels,
        "degradation": config.degradation,
        "normalization": norm,
        "seed": config.seed,
        "other_dtypes": other_dtypes,
        "luma": luma,
    }
    train_images = training_data.prepare(named, validation=False, **prepare)
    training_data.check_sizes(train_images, config.patch_size, "patch_size")
    val_images = training_data.prepare(held_out, validation=True, **prepare) if held_out else []
    # SSIM needs 11 pixels after the border crop of `scale` on each side
    training_data.check_sizes(val_images, 11 + 2 * config.scale, "the validation minimum")
    data_extra: dict[str, Any] = {"validation_fraction": config.validation_fraction}
    if luma:
        data_extra["color"] = "luma"
    if other_dtypes is not None:
        data_extra["other_dtypes"] = other_dtypes.to_dict()
    if config.init not in (None, "scratch"):
        data_extra["started_from"] = config.init
    model = fit(
        given_model if given_model is not None else model_or_name,
        train_images,
        val_images,
        config,
        normalization=norm,
        in_channels=channels,
        hparams=hparams,
        data_extra=data_extra,
        paths=paths,
        resume=resume,
        device=run_device,
        progress=progress,
        log=log,
        log_every=log_every,
        cancel=cancel,
        validate_start=given_model is not None,
        start_note=start_note,
    )
    metrics = model.info.metrics
    # adversarial runs and diffusion samples trade PSNR for texture by design: PSNR is no
    # verdict on them
    generative = config.adversarial or model.spec.framework == "diffusion"
    if not generative and metrics.gain_db is not None and metrics.gain_db < 0:
        warnings.warn(
            BelowInterpolationWarning(
                below_interpolation_message(metrics, config, model.spec.name)
            ),
            stacklevel=2,
        )
    return model


def below_interpolation_message(
    metrics: Mapping[str, Any], config: TrainConfig, architecture: str
) -> str:
    """One line: the model's and bicubic's validation PSNR, and what to do about it."""
    from ..models.bundled import bundled_for

    fine_tune = ""
    if config.init == "scratch" and bundled_for(architecture, config.scale):
        fine_tune = "fine-tune from the bundled weights (init='bundled', --init bundled), "
    return (
        f"the trained model is below bicubic interpolation on the validation images: PSNR "
        f"{metrics['psnr']:.2f} dB against bicubic's {metrics['bicubic_psnr']:.2f} dB "
        f"({metrics['gain_db']:+.2f} dB); train longer (more steps), on more or more "
        f"varied images, {fine_tune}or use bicubic for such images "
        "(method='bicubic', --method bicubic)"
    )


def _resolve_init(
    init: Any, name: str, scale: int, channels: int, hparams: Mapping[str, Any] | None
) -> tuple[str | None, str]:
    """The bundled weights a model built from ``name`` starts from (None for random
    weights), and a note on the choice for the log."""
    from ..models.bundled import DEFAULT_WEIGHTS, bundled_for, bundled_models, parse_name

    if init is not None and not isinstance(init, str):
        raise TypeError(
            "init must be 'bundled', 'scratch', the name of bundled weights or None, not "
            f"{type(init).__name__}"
        )
    if init == "scratch":
        return None, "from random weights (init='scratch')"
    explicit = init is not None
    if init is None or init == "bundled":
        candidates = sorted(
            bundled_for(name, scale), key=lambda n: (parse_name(n)[2] != DEFAULT_WEIGHTS, n)
        )
        if not candidates:
            reason = f"napari-sr ships no weights for {name} at x{scale}"
            if explicit:
                raise ValueError(f"init='bundled': {reason}; use init='scratch' (--init scratch)")
            return None, f"from random weights: {reason}"
        choice = candidates[0]
    else:
        parts = parse_name(init)
        if init not in bundled_models() or parts is None:
            raise ValueError(
                f"init must be 'bundled', 'scratch' or the name of bundled weights "
                f"({', '.join(bundled_for(name)) or 'none for ' + name}), not {init!r}"
            )
        if (parts[0], parts[1]) != (name, scale):
            raise ValueError(
                f"init={init!r} holds {parts[0]} x{parts[1]} weights, but {name} x{scale} is "
                f"trained; pick weights of {name} x{scale} or init='scratch'"
            )
        choice = init
    problem = _bundled_mismatch(choice, name, channels, hparams)
    if problem:
        if explicit:
            raise ValueError(
                f"cannot start from the bundled {choice}: {problem}; change that, or use "
                "init='scratch' (--init scratch)"
            )
        return None, f"from random weights: the bundled {choice} do not fit ({problem})"
    return choice, (
        f"fine-tuning the bundled {choice} (init='scratch', --init scratch, for random weights)"
    )


def _bundled_mismatch(
    bundled: str, name: str, channels: int, hparams: Mapping[str, Any] | None
) -> str | None:
    """Why bundled weights ``bundled`` cannot start a ``name`` model with ``channels`` and
    ``hparams``; None when they can."""
    import inspect

    from ..models.bundled import bundled_path
    from ..models.checkpoint import read_metadata
    from ..models.registry import REGISTRY

    record = read_metadata(bundled_path(bundled))
    if int(record.get("in_channels", 1)) != channels:
        return (
            f"they take {record.get('in_channels')} channel(s), the model {channels}; pass "
            f"in_channels={record.get('in_channels')} (--in-channels) to train on each "
            "channel as a grayscale plane"
        )
    defaults = {
        p.name: p.default
        for p in inspect.signature(REGISTRY.builder(name)).parameters.values()
        if p.kind == p.KEYWORD_ONLY and p.default is not inspect.Parameter.empty
    }
    theirs = {**defaults, **(record.get("hparams") or {})}
    different = [
        f"{k}={v!r} (theirs {theirs.get(k, 'none')!r})"
        for k, v in dict(hparams or {}).items()
        if k not in theirs or theirs[k] != v
    ]
    if different:
        return f"hparams {', '.join(different)} change the network"
    return None


def fit(
    model_or_name: str | torch.nn.Module,
    train_images: Sequence[training_data.TrainingImage],
    val_images: Sequence[training_data.TrainingImage],
    config: TrainConfig,
    *,
    normalization: Normalization,
    in_channels: int = 1,
    hparams: Mapping[str, Any] | None = None,
    data_extra: Mapping[str, Any] | None = None,
    paths: tuple[Path, Path] | None = None,
    resume: bool = False,
    device: str | torch.device = "auto",
    progress: ProgressCallback | None = None,
    log: LogCallback | None = None,
    log_every: int | None = None,
    cancel: CancelToken | None = None,
    validate_start: bool = False,
    start_note: str | None = None,
) -> torch.nn.Module:
    """The training loop of :func:`train` on prepared pairs: what every napari-sr method
    that learns (supervised SR, the self-supervised methods of :mod:`napari_sr.selfsup`)
    runs.

    Parameters
    ----------
    model_or_name : str or torch.nn.Module
        A registered architecture, built with fresh weights drawn from ``config.seed``, or
        a model to train further.
    train_images, val_images : sequence of TrainingImage
        Pairs of (N, C, Y, X) planes: ``low`` is the model's input, ``high`` its target,
        ``config.scale`` times larger (the same size for scale-1 restoration models).
        ``val_images`` may be empty.
    config : TrainConfig
        The recipe; its ``degradation`` is not applied here (the pairs are made).
    normalization : Normalization
        What the model maps intensities with (recorded with it).
    in_channels, hparams
        For a model built from a name.
    data_extra : dict, optional
        Added to the data record the model file keeps (e.g. how the pairs were made).
    paths : (Path, Path), optional
        Model file and resume state, written every ``config.checkpoint_every`` steps.
    resume : bool
        Continue the run saved at ``paths``.
    device, progress, log, log_every, cancel
        As for :func:`train`.
    validate_start : bool
        Validate the weights before the first step too (pretrained weights), so that
        the best weights returned can be the starting ones.
    start_note : str, optional
        How the weights started, for the ``"start"`` log record (``init``).

    Returns
    -------
    torch.nn.Module
        As :func:`train` returns it.
    """
    run_device = resolve_device(device)
    data_record = {
        "training": training_data.describe(train_images),
        "validation": training_data.describe(val_images) if val_images else None,
        **dict(data_extra or {}),
    }
    data_hash = training_data.fingerprint(list(train_images) + list(val_images))

    # ---- model and optimiser
    devices = [run_device.index or 0] if run_device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):  # seeded here, the caller's RNG untouched
        torch.manual_seed(config.seed)
        if isinstance(model_or_name, str):
            from ..models.factory import create_model

            model = create_model(
                model_or_name, scale=config.scale, in_channels=in_channels,
                **dict(hparams or {}),
            )  # fmt: skip
        else:
            model = model_or_name
        if config.adversarial and model.spec.framework == "diffusion":
            raise ValueError(
                f"{model.spec.name} is the denoiser of a diffusion, which samples its texture "
                "instead of learning it from a discriminator; train it with adversarial=False"
            )
        multiple = int(getattr(model.spec, "size_multiple", 1) or 1)
        if (config.patch_size // config.scale) % multiple:
            raise ValueError(
                f"{model.spec.name} needs inputs whose size is a multiple of {multiple}; "
                f"choose patch_size as a multiple of {multiple * config.scale}"
            )
        model.to(run_device)
        model.train()
        model.normalization = normalization  # what inference (and validation) maps with
        # validation runs the model through upscale, which reads the route (luma,
        # other_dtypes) from its record: give it the one this run trains with
        _check_batch_memory(model, config, int(model.in_channels), run_device)
        if isinstance(getattr(model, "info", None), ModelInfo):
            model.info = model.info.updated(data=data_record)
        optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, betas=config.betas)
        adversary = None
        if config.adversarial:
            from .adversary import Adversary

            adversary = Adversary(config, int(model.in_channels), run_device)
        average = None
        if config.ema_decay:
            from .ema import WeightAverage

            average = WeightAverage(model, config.ema_decay)  # with normalisation and record
        model_record = {
            "architecture": model.spec.name,
            "hparams": getattr(model, "hparams", {}),
            "scale": int(model.scale),
            "in_channels": int(model.in_channels),
        }
        run = _Run(
            model=model,
            optimizer=optimizer,
            config=config,
            normalization=normalization,
            device=run_device,
            paths=paths,
            data_record=data_record,
            data_hash=data_hash,
            model_record=model_record,
            val_images=list(val_images),
            log=log,
            validate_start=validate_start,
            start_note=start_note,
            adversary=adversary,
            average=average,
            denoising=Denoising(config.seed) if model.spec.framework == "diffusion" else None,
        )
        if resume:
            run.restore(load_state(paths[1]))
        sampler = training_data.PatchSampler(
            train_images,
            scale=config.scale,
            patch_size=config.patch_size,
            batch_size=config.batch_size,
            augment=config.augment,
            noise=config.degradation.get("noise"),
            seed=config.seed,
        )
        try:
            run.loop(
                sampler,
                progress=progress,
                cancel=cancel,
                log_every=int(log_every) if log_every else max(1, config.steps // 20),
            )
        except CheckpointWriteError as err:
            # a run that cannot save stops here (it would lose everything at the end
            # otherwise); what it learnt goes back with the error
            err.model = run.finish()
            raise
    return run.finish()


# ----------------------------------------------------------------------------- the run


@dataclass
class _Tracker:
    """Validation history, best scores and early-stopping counters (JSON-ready)."""

    best_psnr: float | None = None
    best_ssim: float | None = None
    best_step: int | None = None
    bad_validations: int = 0
    validated_step: int = 0
    stopped: str | None = None
    final_loss: float | None = None
    bicubic: dict[str, float] | None = None
    seconds: float = 0.0
    loss_sums: dict[str, float] = field(default_factory=dict)
    loss_count: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> _Tracker:
        return cls(**values)


@dataclass
class _Run:
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    config: TrainConfig
    normalization: Normalization
    device: torch.device
    paths: tuple[Path, Path] | None
    data_record: dict[str, Any]
    data_hash: str
    model_record: dict[str, Any]
    val_images: list
    log: LogCallback | None
    validate_start: bool = False
    start_note: str | None = None
    adversary: Any = None  # an Adversary in adversarial runs
    average: Any = None  # a WeightAverage of the model's weights, when the run keeps one
    denoising: Denoising | None = None  # a diffusion denoiser's objective
    step: int = 0
    saved_step: int | None = None
    tracker: _Tracker = field(default_factory=_Tracker)
    best: dict[str, torch.Tensor] | None = None
    _mark: float = 0.0

    # ---- resume

    def restore(self, state: TrainingState) -> None:
        where = str(self.paths[1]) if self.paths else "the resume state"
        try:
            saved = TrainConfig.from_dict(state.config)
        except (TypeError, ValueError) as err:
            raise ValueError(
                f"cannot resume: the training state {where!r} holds no usable training "
                f"options ({err}); {RESUME_FIX}"
            ) from None
        # the network itself is checked through its record below
        changed = [
            k
            for k in self.config.differences(saved)
            if k not in RESUMABLE and k not in MODEL_FIELDS
        ]
        if changed:
            details = ", ".join(
                f"{k}={getattr(self.config, k)!r} (saved {getattr(saved, k)!r})" for k in changed
            )
            raise ValueError(
                f"cannot resume: the run was started with other options: {details}; pass the "
                "saved values, or start a new run with overwrite=True (--overwrite) instead"
            )
        if state.model != json_ready(self.model_record):
            raise ValueError(
                f"cannot resume: the checkpoint trained {state.model}, not "
                f"{json_ready(self.model_record)}; pass the same model"
            )
        if state.data != self.data_hash:
            raise ValueError(
                "cannot resume: the training or validation images differ from those the run "
                "was started with; pass the same images"
            )
        problems = fit_problems(state, self.model, self.optimizer)
        problems += self._part_problems(state)
        if state.step > saved.steps:
            problems.append(f"step {state.step} is beyond the run's {saved.steps} steps")
        fields = set(vars(_Tracker()))
        progress = state.progress if isinstance(state.progress, Mapping) else {}
        if set(progress) != fields:
            wrong = sorted(set(progress) ^ fields)
            problems.append(f"the progress record has other entries ({_few(wrong)})")
        if problems:
            raise ValueError(
                f"cannot resume: the training state {where!r} does not fit this model and "
                f"run: {'; '.join(problems)}; {RESUME_FIX}"
            )
        if state.step > self.config.steps:
            raise ValueError(
                f"cannot resume with steps={self.config.steps}: the run has already made "
                f"{state.step} steps; pass steps of at least {state.step}"
            )
        try:
            tracker = _Tracker.from_dict(progress)
            self.model.load_state_dict(state.weights, strict=True)
            self.optimizer.load_state_dict(state.optimizer)
            if self.adversary is not None:
                self.adversary.load_state_dict(
                    {"weights": state.discriminator, "optimizer": state.discriminator_optimizer}
                )
            if self.average is not None:
                self.average.load_state_dict(state.average)
            if "torch" in state.rng:
                torch.set_rng_state(state.rng["torch"])
            if "cuda" in state.rng and self.device.type == "cuda":
                torch.cuda.set_rng_state(state.rng["cuda"], self.device)
        except (RuntimeError, TypeError, ValueError, KeyError) as err:
            raise ValueError(
                f"cannot resume: the training state {where!r} is damaged ({err}); {RESUME_FIX}"
            ) from None
        self.step = self.saved_step = state.step
        self.tracker = tracker
        self.best = state.best

    def _part_problems(self, state: TrainingState) -> list[str]:
        """What in ``state`` does not fit the discriminator and weight average of this run."""
        problems = []
        if self.adversary is None and state.discriminator is not None:
            problems.append("it holds a discriminator, but this run is not adversarial")
        if self.adversary is not None:
            if state.discriminator is None:
                problems.append("it holds no discriminator, but this run is adversarial")
            else:
                network = self.adversary.network
                expected = {k: tuple(v.shape) for k, v in network.state_dict().items()}
                problems += weight_problems("discriminator weights", state.discriminator,
                                            expected)  # fmt: skip
                problems += optimizer_problems("the discriminator's optimiser",
                                               state.discriminator_optimizer or {},
                                               self.adversary.optimizer, state.step)  # fmt: skip
        if (self.average is None) != (state.average is None):
            problems.append(
                "it holds a weight average, but this run keeps none"
                if self.average is None
                else "it holds no weight average, but this run keeps one (ema_decay)"
            )
        elif self.average is not None:
            expected = {k: tuple(v.shape) for k, v in self.model.state_dict().items()}
            problems += weight_problems("weight average", state.average["weights"], expected)
        return problems

    @property
    def keeps_latest(self) -> bool:
        """Whether validation keeps the latest weights rather than those of the best PSNR,
        and scores them beyond PSNR: adversarial runs and diffusion denoisers, whose PSNR
        falls as realistic texture appears (a denoiser that adds none scores best)."""
        return self.config.adversarial or self.denoising is not None

    def scored_model(self) -> torch.nn.Module:
        """The network validated, kept and saved: the weight average when the run keeps
        one, else the model being trained."""
        return self.average.average if self.average is not None else self.model

    # ---- the loop

    def loop(
        self,
        sampler: training_data.PatchSampler,
        *,
        progress: ProgressCallback | None,
        cancel: CancelToken | None,
        log_every: int,
    ) -> None:
        config, model = self.config, self.model
        loss_fn = build_loss(
            config.loss, scale=config.scale, perceptual_weights=config.perceptual_weights
        )
        started = self._mark = time.perf_counter()
        first = self.step
        if self.val_images and self.tracker.bicubic is None:
            self.tracker.bicubic = bicubic_scores(
                self.val_images, config.scale, perceptual=self.keeps_latest,
                degradation=config.degradation,
            )  # fmt: skip
        self._emit(
            event="start",
            step=self.step,
            steps=config.steps,
            device=str(self.device),
            architecture=model.spec.name,
            parameters=sum(p.numel() for p in model.parameters()),
            training_planes=self.data_record["training"]["planes"],
            validation_planes=(self.data_record["validation"] or {}).get("planes", 0),
            bicubic=self.tracker.bicubic,
            init=config.init,
            init_note=self.start_note,
        )
        sums = self.tracker.loss_sums  # since the last "step" record; saved, for resumes
        try:
            stop = self.tracker.stopped == "early"  # a run that stopped early stays stopped
            # pretrained weights are scored before any step: the best may be where it began
            start = self.validate_start and self.val_images and self.step == 0
            if not stop and start and not self.tracker.history:
                stop = self._validate(cancel)
            # a run cancelled during a validation redoes it first
            if not stop and self._validation_due(self.step):
                if self.tracker.validated_step < self.step:
                    stop = self._validate(cancel)
            while not stop and self.step < config.steps:
                if is_cancelled(cancel):
                    raise Cancelled("cancelled by the caller")
                total, terms = self._update(sampler, loss_fn)
                self.step += 1
                for name, value in {"loss": total, **terms}.items():
                    sums[name] = sums.get(name, 0.0) + value
                self.tracker.loss_count += 1
                report(progress, self.step, config.steps)
                if self.step % log_every == 0 or self.step == config.steps:
                    elapsed = time.perf_counter() - started
                    rate = elapsed / max(1, self.step - first)
                    means = {k: v / self.tracker.loss_count for k, v in sums.items()}
                    self.tracker.final_loss = means["loss"]
                    self._emit(
                        event="step",
                        step=self.step,
                        steps=config.steps,
                        loss=means["loss"],
                        losses={k: v for k, v in means.items() if k != "loss"},
                        lr=self.optimizer.param_groups[0]["lr"],
                        elapsed_s=elapsed,
                        eta_s=rate * (config.steps - self.step),
                    )
                    sums.clear()
                    self.tracker.loss_count = 0
                if self._validation_due(self.step):
                    stop = self._validate(cancel)
                at_end = stop or self.step == config.steps  # saved below in any case
                if self.paths and self.step % config.checkpoint_every == 0 and not at_end:
                    self.save()
            # a cancel that came during the last step (or validation) is not ignored
            if is_cancelled(cancel):
                raise Cancelled("cancelled by the caller")
        except Cancelled:
            self.tracker.stopped = "cancelled"
            self._tick()
            if self.paths:
                self.save()
                where = (
                    f"; checkpoint saved to {self.paths[0]}; continue with resume=True (--resume)"
                )
            else:
                where = "; nothing was saved (no checkpoint path was given)"
            raise Cancelled(
                f"training cancelled after {self.step} of {config.steps} steps{where}"
            ) from None
        if self.tracker.loss_count:
            self.tracker.final_loss = sums["loss"] / self.tracker.loss_count
        if self.tracker.stopped != "early":
            self.tracker.stopped = "completed"
        self._tick()
        if self.paths:
            self.save()
        self._emit(event="done", step=self.step, steps=config.steps, **self.metrics())

    def _update(self, sampler, loss_fn) -> tuple[float, dict[str, float]]:
        config = self.config
        rate = learning_rate(
            self.step,
            lr=config.lr,
            steps=config.steps,
            schedule=config.schedule,
            warmup_steps=config.warmup_steps,
            min_lr=config.min_lr,
            decay_every=config.decay_every,
            decay_factor=config.decay_factor,
        )
        for group in self.optimizer.param_groups:
            group["lr"] = rate
        low, high = sampler.batch(self.step)
        x = torch.from_numpy(low).to(self.device)
        target = torch.from_numpy(high).to(self.device)
        self.optimizer.zero_grad(set_to_none=True)
        if self.denoising is not None:
            prediction = self.denoising.predict(self.model, x, target, self.step)
        else:
            prediction = self.model(x)
        total, terms = loss_fn(prediction, target)
        if self.adversary is not None:
            adversarial, more = self.adversary.generator_terms(prediction, target)
            total = total + adversarial
            terms.update(more)
        value = float(total.detach())
        if not np.isfinite(value):
            raise ValueError(
                f"training diverged: the loss is {value} at step {self.step + 1}; use a "
                f"smaller lr (now {config.lr:g}) or more warmup_steps"
            )
        total.backward()
        self.optimizer.step()
        if self.adversary is not None:  # then the discriminator, on the same batch
            terms.update(self.adversary.update(target, prediction.detach(), rate))
        if self.average is not None:
            self.average.update(self.model)
        return value, terms

    def _validation_due(self, step: int) -> bool:
        if not self.val_images or step <= 0:
            return False
        return step % self.config.validate_every == 0 or step == self.config.steps

    def _validate(self, cancel: CancelToken | None) -> bool:
        """Score the model; keep the best weights; True when it is time to stop early."""
        latest = self.keeps_latest
        scored = self.scored_model()
        scores = evaluate(scored, self.val_images, device=self.device, cancel=cancel,
                          perceptual=latest,
                          degradation=self.config.degradation)  # fmt: skip
        tracker = self.tracker
        improved = latest or tracker.best_psnr is None or scores["psnr"] > tracker.best_psnr
        if improved:
            tracker.best_psnr, tracker.best_ssim = scores["psnr"], scores["ssim"]
            tracker.best_step, tracker.bad_validations = self.step, 0
            self.best = {
                k: v.detach().to("cpu", copy=True) for k, v in scored.state_dict().items()
            }
        else:
            tracker.bad_validations += 1
        tracker.validated_step = self.step
        tracker.history.append({"step": self.step, **scores})
        self._emit(
            event="validation",
            step=self.step,
            steps=self.config.steps,
            psnr=scores["psnr"],
            ssim=scores["ssim"],
            improved=improved,
            best_psnr=tracker.best_psnr,
            best_step=tracker.best_step,
            bicubic_psnr=(tracker.bicubic or {}).get("psnr"),
            bicubic_ssim=(tracker.bicubic or {}).get("ssim"),
            kept="latest" if latest else "best",
            **{k: v for k, v in scores.items() if k not in ("psnr", "ssim")},
        )
        patience = self.config.patience
        if patience is not None and tracker.bad_validations >= patience:
            tracker.stopped = "early"
            self._emit(event="early_stop", step=self.step, best_step=tracker.best_step)
            return True
        return False

    # ---- records and files

    def metrics(self) -> dict[str, Any]:
        """What the model file records under ``metrics``.

        ``steps_done``, ``stopped``, ``final_loss``; ``psnr`` and ``ssim`` (the best
        validation scores), ``bicubic_psnr`` and ``bicubic_ssim`` (bicubic's on the same
        images) and ``gain_db`` (``psnr - bicubic_psnr``; negative: below bicubic), each
        None without validation; ``validation`` (the best scores with their step and
        protocol) and ``bicubic`` (dicts, or None).
        """
        t = self.tracker
        bicubic = t.bicubic or {}
        out: dict[str, Any] = {
            "steps_done": self.step,
            "stopped": t.stopped,
            "final_loss": t.final_loss,
            "psnr": t.best_psnr,
            "ssim": t.best_ssim,
            "bicubic_psnr": bicubic.get("psnr"),
            "bicubic_ssim": bicubic.get("ssim"),
            "gain_db": None,
            "validation": None,
            "bicubic": t.bicubic,
        }
        if t.best_psnr is not None:
            out["validation"] = {
                "psnr": t.best_psnr,
                "ssim": t.best_ssim,
                "step": t.best_step,
                "images": len(self.val_images),
                "crop_border": self.config.scale,
                "y_channel": bool(self.val_images and self.val_images[0].rgb),
                "data_range": "255 for uint8, else the reference's max - min",
                "kept": "latest" if self.keeps_latest else "best",
            }
            latest = t.history[-1] if t.history else {}
            for name in PERCEPTUAL_SCORES:  # those of the weights kept (adversarial: latest)
                if name in latest:
                    out["validation"][name] = latest[name]
            if t.bicubic:
                out["gain_db"] = t.best_psnr - t.bicubic["psnr"]
        return out

    def _tick(self) -> None:
        """Add the time since the last tick to the run's total (kept across resumes)."""
        now = time.perf_counter()
        self.tracker.seconds += now - self._mark
        self._mark = now

    def save(self) -> None:
        """Write the resume state, then the model file (best weights so far).

        A write that fails (disk full, quota, I/O error; safetensors reports these as its
        own error type) raises :class:`CheckpointWriteError`, an OSError, whose message
        says what is still on disk; :func:`fit` stops the run there.
        """
        from ..models.checkpoint import save_model

        self._tick()
        model_path, resume_path = self.paths
        rng = {"torch": torch.get_rng_state()}
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        weights = self.model.state_dict()
        model_bytes = sum(v.numel() * v.element_size() for v in weights.values())
        if self.saved_step is None:
            kept = "no checkpoint of this run had been saved yet"
        else:
            kept = (
                f"training state up to step {self.saved_step} was kept in "
                f"{str(resume_path)!r} (continue with resume=True, --resume)"
            )
        parts: dict[str, Any] = {}
        size = 4 * model_bytes  # weights, best weights and Adam's two moments
        if self.adversary is not None:
            critic = self.adversary.state_dict()
            parts["discriminator"] = critic["weights"]
            parts["discriminator_optimizer"] = critic["optimizer"]
            size += 3 * sum(v.numel() * v.element_size() for v in critic["weights"].values())
        if self.average is not None:
            parts["average"] = self.average.state_dict()
            size += model_bytes
        with guarded_write(resume_path, "the training state", size, kept):
            save_state(
                resume_path,
                TrainingState(
                    step=self.step,
                    config=self.config.to_dict(),
                    model=json_ready(self.model_record),
                    data=self.data_hash,
                    progress=json_ready(self.tracker.to_dict()),
                    weights=weights,
                    best=self.best,
                    optimizer=self.optimizer.state_dict(),
                    rng=rng,
                    **parts,
                ),
            )
        self.saved_step = self.step
        kept = (
            f"training state up to step {self.step} was kept in {str(resume_path)!r} "
            "(continue with resume=True, --resume)"
        )
        exported = self._exported()
        with guarded_write(model_path, "the training checkpoint", model_bytes, kept):
            save_model(
                exported,
                model_path,
                overwrite=True,
                normalization=self.normalization,
                training=self.config.to_dict(),
                data=self.data_record,
                metrics=self.metrics(),
            )
        self._emit(event="checkpoint", step=self.step, path=str(model_path))

    def _kept_weights(self) -> dict[str, torch.Tensor] | None:
        """The weights the run returns and saves, where they are not the model's own: the
        best (or, adversarial, latest) validated ones, else the weight average."""
        if self.best is not None:
            return self.best
        if self.average is not None:
            return self.average.average.state_dict()
        return None

    def _exported(self) -> torch.nn.Module:
        kept = self._kept_weights()
        if kept is None:
            return self.model
        snapshot = copy.deepcopy(self.model).to("cpu")
        snapshot.load_state_dict(kept)
        return snapshot

    def finish(self) -> torch.nn.Module:
        model = self.model
        kept = self._kept_weights()
        if kept is not None:
            model.load_state_dict(kept)
        model.eval()
        model.normalization = self.normalization
        model.training_config = self.config
        metrics = self.metrics()
        model.training_report = {
            **metrics,
            "history": list(self.tracker.history),
            "seconds": self.tracker.seconds,
            "device": str(self.device),
        }
        # the record save_model writes by default (model.checkpoint is its file layout)
        model.info = model.info.updated(
            training=self.config.to_dict(), data=self.data_record, metrics=metrics
        )
        return model

    def _emit(self, **record: Any) -> None:
        if self.log is not None:
            self.log(record)


# ----------------------------------------------------------------------------- checks


def _check_batch_memory(
    model: torch.nn.Module, config: TrainConfig, channels: int, device: torch.device
) -> None:
    """Refuse a batch whose training step cannot fit in memory, before allocating it.

    The activations per input pixel are counted on a small forward pass (every module's
    output); a step keeps them for the backward pass, with their gradients, so it needs
    about three times their bytes for the batch, plus the patches themselves.
    """
    from ..utils.memory import available_memory

    multiple = int(getattr(model.spec, "size_multiple", 1) or 1)
    side = -(-8 // multiple) * multiple  # at least 8 pixels, a multiple of the model's
    counted = [0]

    def count(_module, _inputs, output):
        if isinstance(output, torch.Tensor):
            counted[0] += output.numel()

    hooks = [m.register_forward_hook(count) for m in model.modules() if m is not model]
    model.eval()  # batch norm in training mode would update its statistics
    try:
        with torch.no_grad():
            model(torch.zeros(1, channels, side, side, device=device))
    except Exception:  # a model that cannot run this probe: leave the check to torch
        return
    finally:
        for hook in hooks:
            hook.remove()
        model.train()
    per_pixel = max(counted[0], 1) / (side * side)
    lr_side = config.patch_size // config.scale
    pixels = config.batch_size * lr_side * lr_side
    needed = int(3 * 4 * per_pixel * pixels + 4 * config.batch_size * channels * (
        lr_side**2 + config.patch_size**2
    ))  # fmt: skip
    if device.type == "cuda":
        available = int(torch.cuda.mem_get_info(device)[0])
    else:
        available = available_memory()
    if available is not None and needed > available:
        raise ValueError(
            f"one training step with batch_size={config.batch_size} and patch_size="
            f"{config.patch_size} needs about {needed / 2**30:.1f} GiB of memory on "
            f"{device}, but {available / 2**30:.1f} GiB is available; use a smaller "
            "batch_size or patch_size"
        )


def _split_model_and_config(
    model_or_config: Any, config: Any, overrides: dict[str, Any]
) -> tuple[str | torch.nn.Module, Any]:
    """The model (a name or a module) and the config of a :func:`train` call; a name
    given as the first argument becomes the ``architecture`` override."""
    TrainConfig.check_names(overrides, "train")
    if isinstance(model_or_config, TrainConfig):
        if config is not None:
            raise TypeError("give the config once: as the first argument or as config=")
        config = model_or_config
        if overrides.get("architecture", config.architecture) is None:
            raise ValueError(
                "the config names no architecture; set architecture='fsrcnn' (or another "
                "name of napari_sr.list_models()) or pass a model as the first argument"
            )
        return overrides.get("architecture", config.architecture), config
    if config is not None and not isinstance(config, (TrainConfig, Mapping)):
        raise TypeError(
            f"config must be a TrainConfig or a dict of its fields, not {type(config).__name__}"
        )
    if isinstance(model_or_config, str):
        if "architecture" in overrides and overrides["architecture"] != model_or_config:
            raise ValueError(
                f"the first argument trains {model_or_config!r} but architecture="
                f"{overrides['architecture']!r}; give the architecture once"
            )
        overrides["architecture"] = model_or_config
    return model_or_config, config


def _check_model_argument(model_or_name, scale: int, in_channels, hparams, architecture=None):
    """The model object, or None for a registry name (checked when it is built); the
    scale is checked against the architecture before the other options, whose errors it
    would otherwise cause."""
    if isinstance(model_or_name, str):  # its in_channels and hparams: TrainConfig checks them
        from ..models.registry import REGISTRY

        spec = REGISTRY.spec(model_or_name)  # unknown names fail here, before any work
        if scale not in spec.scales:
            raise ValueError(
                f"{spec.name} supports scales {', '.join(map(str, spec.scales))}, not {scale}"
            )
        return None
    model = model_or_name
    if not isinstance(model, torch.nn.Module) or getattr(model, "spec", None) is None:
        raise TypeError(
            "model_or_config must be a registered model name such as 'fsrcnn', a model from "
            f"napari_sr.create_model or load_model, or a TrainConfig, not {type(model).__name__}"
        )
    if architecture is not None and architecture != model.spec.name:
        raise ValueError(
            f"the config trains {architecture!r}, but the model given is a {model.spec.name}; "
            "leave architecture out when passing a model"
        )
    if int(model.scale) != scale:
        raise ValueError(f"the model upscales by {model.scale}, but scale={scale} was asked for")
    if in_channels is not None and in_channels != model.in_channels:
        raise ValueError(
            f"the model takes {model.in_channels} channel(s), not in_channels={in_channels}; "
            "leave in_channels out when passing a model"
        )
    if hparams:
        raise ValueError("hparams only apply to a model built from a name; the model is built")
    return model


def _check_checkpoint(checkpoint, *, resume: bool, overwrite: bool) -> tuple[Path, Path] | None:
    if checkpoint is None:
        if resume:
            raise ValueError("resume=True needs checkpoint=PATH, the run's model file")
        return None
    if not isinstance(checkpoint, (str, os.PathLike)):
        raise TypeError(
            "checkpoint must be a file path such as 'model.safetensors', not "
            f"{type(checkpoint).__name__}"
        )
    path = Path(checkpoint)
    if path.suffix.lower() != ".safetensors":
        raise ValueError(
            f"checkpoint must name a '.safetensors' file, not {path.name!r}; e.g. "
            "checkpoint='model.safetensors'"
        )
    state = state_path(path)
    if resume:
        if not state.is_file():
            raise FileNotFoundError(
                f"no training state {str(state)!r} to resume from; train without resume=True "
                "(--resume) to start a new run"
            )
        return path, state
    check_target(path, overwrite=overwrite)
    check_target(state, overwrite=overwrite)
    return path, state
