"""The resume state of a training run, written next to its model file without pickle.

A model file (``run.safetensors``, see :mod:`napari_sr.models.checkpoint`) holds what a
user needs to *use* the model. The resume state (``run.resume.safetensors``) holds what a
run needs to *continue* exactly: the current weights, the best weights so far, Adam's
moment estimates, the torch random state, the step, the validation history and
early-stopping counters, the training config and a fingerprint of the data.

It is a safetensors file: tensors under flat keys (``model.<name>``, ``best.<name>``,
``optimizer.<index>.<name>``, ``rng.torch``), everything else as JSON strings in the
header. Patch sampling needs no saved state: its generator is seeded by ``(seed, step)``.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..utils.atomic import atomic_write

STATE_FORMAT = "napari-sr-training-state"
STATE_VERSION = 1

HEADER_KEYS = (
    "format",
    "version",
    "step",
    "config",
    "model",
    "data",
    "progress",
    "has_best",
    "optimizer_param_groups",
    "optimizer_scalars",
)
"""Entries of a resume file's header; every one is required."""

RESUME_FIX = (
    "start without resume=True (--resume) to train anew (with overwrite=True / --overwrite "
    "to replace the old run), or point checkpoint= (--out) to the run's own model file"
)
"""What to do about a resume file that cannot be used (ends every such error)."""

NO_ROOM = {errno.ENOSPC: "no space left on device", errno.EFBIG: "file too large"}
if hasattr(errno, "EDQUOT"):
    NO_ROOM[errno.EDQUOT] = "disk quota exceeded"
"""Write errors that mean "the file system cannot hold this file", by errno."""


class CheckpointWriteError(OSError):
    """A training checkpoint or resume state could not be written (disk full, quota,
    file too large, or another I/O error).

    Training stops at the first failed write: a run that cannot save its state would
    otherwise go on for hours and lose everything at the end. Nothing partial is left
    (files are written to a temporary name and renamed into place), and the previous
    checkpoint is untouched.

    Attributes
    ----------
    errno : int
        ``errno.ENOSPC``, ``errno.EDQUOT``, ``errno.EFBIG`` or ``errno.EIO``.
    path : pathlib.Path
        The file that could not be written.
    model : torch.nn.Module or None
        The trained model as it was when the write failed (the best validation weights,
        else the last; eval mode, with ``training_report``), so that nothing is lost:
        save it elsewhere with :func:`napari_sr.save_model`. Set by
        :func:`~napari_sr.training.loop.train`.
    """

    def __init__(self, code: int, message: str, path: Path) -> None:
        super().__init__(code, message)
        self.path = Path(path)
        self.model = None

    def __str__(self) -> str:  # the message alone, without "[Errno 28]"
        return str(self.strerror)


def no_room_code(err: BaseException) -> int | None:
    """The errno of a write error that means the file system is full (or the file is too
    large for it), else None. safetensors reports I/O errors as its own
    ``SafetensorError`` ("... No space left on device (os error 28)"), not as OSError."""
    code = getattr(err, "errno", None)
    if isinstance(err, OSError) and code in NO_ROOM:
        return code
    text = str(err)
    for number in NO_ROOM:
        if f"os error {number})" in text or os.strerror(number) in text:
            return number
    return None


def is_write_error(err: BaseException) -> bool:
    """True for an OSError, or safetensors' own error type reporting an I/O failure."""
    if isinstance(err, OSError):
        return True
    return type(err).__name__ == "SafetensorError" and (
        "I/O error" in str(err) or "os error" in str(err) or "IoError" in str(err)
    )


@contextlib.contextmanager
def guarded_write(path: str | os.PathLike, what: str, size: int, kept: str) -> Iterator[None]:
    """Turn a failed write of ``path`` into one :class:`CheckpointWriteError`.

    Parameters
    ----------
    path : path-like
        The file being written.
    what : str
        What it is, for the message ("the training checkpoint").
    size : int
        About how many bytes it needs.
    kept : str
        What is still safe, e.g. "training state up to step 400 was kept in 'run.resume...'".
    """
    try:
        yield
    except Exception as err:
        if not is_write_error(err) or isinstance(err, (FileExistsError, IsADirectoryError)):
            raise
        path = Path(path)  # atomic_write has removed its temporary file; path is untouched
        # atomic_write reports every full disk as ENOSPC; the cause may say quota
        cause = err.__cause__
        code = (no_room_code(cause) if cause is not None else None) or no_room_code(err)
        megabytes = max(size / 1e6, 0.1)
        if code is not None:
            message = (
                f"{NO_ROOM[code]} while saving {what} {str(path)!r} (about "
                f"{megabytes:.1f} MB); free space or choose another folder (checkpoint=, "
                f"--out); {kept}"
            )
        else:
            code = getattr(err, "errno", None) or errno.EIO
            reason = str(err).removeprefix("Error while serializing: ")
            message = f"could not write {what} {str(path)!r} ({reason}); {kept}"
        raise CheckpointWriteError(code, message, path) from None


def state_path(checkpoint: str | os.PathLike) -> Path:
    """Where the resume state of model file ``checkpoint`` lives:
    ``run.safetensors`` → ``run.resume.safetensors``."""
    path = Path(checkpoint)
    return path.with_name(f"{path.stem}.resume.safetensors")


@dataclass
class TrainingState:
    """Everything a run needs to continue where it stopped.

    Attributes
    ----------
    step : int
        Updates done.
    config : dict
        :meth:`TrainConfig.to_dict` of the run.
    model : dict
        Architecture, hyperparameters, scale and channels of the model.
    data : str
        :func:`~napari_sr.training.data.fingerprint` of training and validation data.
    progress : dict
        Validation history, best scores, early-stopping counters (JSON-ready).
    weights : dict of str to torch.Tensor
        Current state dict.
    best : dict of str to torch.Tensor or None
        State dict of the best validation so far.
    optimizer : dict
        ``optimizer.state_dict()``.
    rng : dict of str to torch.Tensor
        ``"torch"`` (CPU generator state) and ``"cuda"`` when training on a GPU.
    discriminator, discriminator_optimizer : dict or None
        An adversarial run's discriminator weights and its optimiser's state dict.
    average : dict or None
        The generator's weight average (:meth:`WeightAverage.state_dict`: ``weights``,
        ``decay``, ``updates``) when the run keeps one.
    """

    step: int
    config: dict[str, Any]
    model: dict[str, Any]
    data: str
    progress: dict[str, Any]
    weights: dict[str, torch.Tensor]
    best: dict[str, torch.Tensor] | None
    optimizer: dict[str, Any]
    rng: dict[str, torch.Tensor] = field(default_factory=dict)
    discriminator: dict[str, torch.Tensor] | None = None
    discriminator_optimizer: dict[str, Any] | None = None
    average: dict[str, Any] | None = None


def save_state(path: str | os.PathLike, state: TrainingState) -> Path:
    """Write ``state`` atomically to ``path`` (replacing an older state)."""
    from safetensors.torch import save_file

    tensors: dict[str, torch.Tensor] = {}
    for key, value in state.weights.items():
        tensors[f"model.{key}"] = _plain_tensor(value)
    for key, value in (state.best or {}).items():
        tensors[f"best.{key}"] = _plain_tensor(value)
    for name, value in state.rng.items():
        tensors[f"rng.{name}"] = _plain_tensor(value)
    header = {
        "format": STATE_FORMAT,
        "version": str(STATE_VERSION),
        "step": str(state.step),
        "config": json.dumps(state.config),
        "model": json.dumps(state.model),
        "data": state.data,
        "progress": json.dumps(state.progress),
        "has_best": json.dumps(state.best is not None),
        **_optimizer_entries("optimizer", state.optimizer, tensors),
    }
    if state.discriminator is not None:
        for key, value in state.discriminator.items():
            tensors[f"discriminator.{key}"] = _plain_tensor(value)
        header.update(
            _optimizer_entries("discriminator_optimizer", state.discriminator_optimizer, tensors)
        )
    if state.average is not None:
        for key, value in state.average["weights"].items():
            tensors[f"average.{key}"] = _plain_tensor(value)
        header["average"] = json.dumps(
            {"decay": state.average["decay"], "updates": state.average["updates"]}
        )
    return atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata=header), overwrite=True)


def load_state(path: str | os.PathLike) -> TrainingState:
    """Read a state written by :func:`save_state`, checking it as a whole.

    Every header entry (:data:`HEADER_KEYS`) and tensor group must be there with the
    right type; what is missing or wrong is listed in one error. Whether the state fits
    the model and run it is resumed into is checked by :func:`fit_problems`.

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        The file is not a napari-sr training state, or is incomplete or corrupt; the
        message names every problem and the fix.
    """
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"no training state {str(path)!r} to resume from; train without resume=True "
            "(--resume) to start a new run"
        )
    try:
        with safe_open(str(path), framework="pt") as handle:
            header = handle.metadata() or {}
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    except Exception as err:  # safetensors raises its own error types
        raise ValueError(
            f"cannot resume: {str(path)!r} is not a readable training state ({err}); {RESUME_FIX}"
        ) from None
    if header.get("format") != STATE_FORMAT:
        raise ValueError(
            f"cannot resume: {str(path)!r} is not a napari-sr training state (its header "
            f"has no format {STATE_FORMAT!r}); {RESUME_FIX}"
        )
    version = _parse(header, "version", int)
    if isinstance(version, int) and version > STATE_VERSION:
        raise ValueError(
            f"cannot resume: {str(path)!r} was written by a newer napari-sr (state version "
            f"{version}, this one reads {STATE_VERSION}); upgrade napari-sr to resume it"
        )
    problems: list[str] = []
    fields = {
        "version": version,
        "step": _parse(header, "step", int),
        "config": _parse(header, "config", json.loads, dict),
        "model": _parse(header, "model", json.loads, dict),
        "data": _parse(header, "data", str),
        "progress": _parse(header, "progress", json.loads, dict),
        "has_best": _parse(header, "has_best", json.loads, bool),
        "groups": _parse(header, "optimizer_param_groups", json.loads, list),
        "scalars": _parse(header, "optimizer_scalars", json.loads, dict),
    }
    for value in fields.values():
        if isinstance(value, _Bad):
            problems.append(value.text)
    step = fields["step"]
    if isinstance(step, int) and step < 0:
        problems.append(f"step is {step}, not a number of steps done (>= 0)")

    weights, best, rng, critic, averaged = {}, {}, {}, {}, {}
    optimizer_state: dict[str, dict[int, dict[str, Any]]] = {OPTIMIZERS[0]: {}, OPTIMIZERS[1]: {}}
    for key, tensor in tensors.items():
        kind, _, rest = key.partition(".")
        named = {"model": weights, "best": best, "rng": rng, "discriminator": critic,
                 "average": averaged}  # fmt: skip
        if kind in named and rest:
            named[kind][rest] = tensor
        elif kind in OPTIMIZERS:
            index, _, name = rest.partition(".")
            if not index.isdigit() or not name:
                problems.append(f"unexpected tensor {key!r}")
                continue
            optimizer_state[kind].setdefault(int(index), {})[name] = tensor
        else:
            problems.append(f"unexpected tensor {key!r}")
    if not weights:
        problems.append("missing the model weights (tensors 'model.*')")
    if fields["has_best"] is True and not best:
        problems.append("missing the best weights (tensors 'best.*') that has_best announces")
    if "torch" in rng and (rng["torch"].dtype != torch.uint8 or rng["torch"].ndim != 1):
        problems.append("the random state 'rng.torch' is not a 1-D uint8 tensor")
    groups = fields["groups"]
    _read_optimizer("optimizer", fields["scalars"], groups, optimizer_state["optimizer"], problems)
    critic_optimizer = None
    if critic or "discriminator_optimizer_param_groups" in header:
        critic_groups = _parse(header, "discriminator_optimizer_param_groups", json.loads, list)
        critic_scalars = _parse(header, "discriminator_optimizer_scalars", json.loads, dict)
        for value in (critic_groups, critic_scalars):
            if isinstance(value, _Bad):
                problems.append(value.text)
        if not critic:
            problems.append("missing the discriminator weights (tensors 'discriminator.*')")
        state_of = optimizer_state["discriminator_optimizer"]
        _read_optimizer(
            "discriminator_optimizer", critic_scalars, critic_groups, state_of, problems
        )
        critic_optimizer = {"state": state_of, "param_groups": critic_groups}
    average = None
    if averaged or "average" in header:
        record = _parse(header, "average", json.loads, dict)
        if isinstance(record, _Bad):
            problems.append(record.text)
        elif not {"decay", "updates"} <= set(record):
            problems.append("header entry 'average' lacks decay and updates")
        else:
            average = {"weights": averaged, **record}
        if not averaged:
            problems.append("missing the weight average (tensors 'average.*')")
    if problems:
        raise ValueError(
            f"cannot resume: the training state {str(path)!r} is incomplete or damaged: "
            f"{'; '.join(problems)}; {RESUME_FIX}"
        )
    return TrainingState(
        step=step,
        config=fields["config"],
        model=fields["model"],
        data=fields["data"],
        progress=fields["progress"],
        weights=weights,
        best=best if fields["has_best"] else None,
        optimizer={"state": optimizer_state["optimizer"], "param_groups": groups},
        rng=rng,
        discriminator=critic or None,
        discriminator_optimizer=critic_optimizer,
        average=average,
    )


OPTIMIZERS = ("optimizer", "discriminator_optimizer")
"""Prefixes of the optimisers' tensors in a resume file: the model's and, in adversarial
runs, the discriminator's."""


def _optimizer_entries(
    prefix: str, optimizer: Mapping[str, Any], tensors: dict[str, torch.Tensor]
) -> dict[str, str]:
    """Put an optimiser state dict's tensors into ``tensors`` (``prefix.<index>.<name>``);
    its groups and per-parameter scalars as the header entries returned."""
    scalars: dict[str, dict[str, Any]] = {}
    for index, entries in optimizer["state"].items():
        for name, value in entries.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{prefix}.{index}.{name}"] = _plain_tensor(value)
            else:
                scalars.setdefault(str(index), {})[name] = value
    return {
        f"{prefix}_param_groups": json.dumps(optimizer["param_groups"]),
        f"{prefix}_scalars": json.dumps(scalars),
    }


def _read_optimizer(
    prefix: str, scalars: Any, groups: Any, state: dict[int, dict[str, Any]], problems: list
) -> None:
    """Merge the header's per-parameter scalars into ``state``; check the groups."""
    if isinstance(scalars, dict):
        for index, entries in scalars.items():
            if not (str(index).isdigit() and isinstance(entries, dict)):
                problems.append(f"{prefix}_scalars entry {index!r} is not an index and a dict")
                continue
            state.setdefault(int(index), {}).update(entries)
    if isinstance(groups, list):
        for group in groups:
            params = group.get("params") if isinstance(group, dict) else None
            if not (isinstance(params, list) and all(isinstance(i, int) for i in params)):
                problems.append(f"{prefix}_param_groups is not a list of groups with 'params'")
                break
            if isinstance(group.get("betas"), list):
                group["betas"] = tuple(group["betas"])


ADAM_STATE = ("step", "exp_avg", "exp_avg_sq")
"""What Adam keeps per parameter once it has made a step."""


def fit_problems(
    state: TrainingState, model: torch.nn.Module, optimizer: torch.optim.Optimizer
) -> list[str]:
    """What in ``state`` does not fit ``model`` and its (fresh) ``optimizer``: weight
    names and shapes, the best weights, the optimiser's groups and per-parameter state.
    An empty list when it fits."""
    problems = []
    if "torch" not in state.rng:  # train always saves it: the run continues bit for bit
        problems.append("missing the random state (tensor 'rng.torch')")
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    for label, tensors in (("model weights", state.weights), ("best weights", state.best)):
        if tensors is not None:
            problems += weight_problems(label, tensors, expected)
    problems += optimizer_problems("the optimiser", state.optimizer, optimizer, state.step)
    return problems


def weight_problems(
    label: str, tensors: Mapping[str, torch.Tensor], expected: Mapping[str, tuple]
) -> list[str]:
    """What in saved ``tensors`` does not fit the ``expected`` names and shapes."""
    problems = []
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    wrong = [
        f"{k} {tuple(tensors[k].shape)} (the network's {expected[k]})"
        for k in sorted(set(expected) & set(tensors))
        if tuple(tensors[k].shape) != expected[k]
    ]
    if missing:
        problems.append(f"{label} lack {_few(missing)}")
    if extra:
        problems.append(f"{label} have entries the network does not: {_few(extra)}")
    if wrong:
        problems.append(f"{label} have other shapes: {_few(wrong)}")
    return problems


def optimizer_problems(
    label: str, saved_state: Mapping[str, Any], optimizer: torch.optim.Optimizer, step: int
) -> list[str]:
    """What in an Adam state dict saved after ``step`` updates does not fit ``optimizer``
    (fresh, over the same parameters); ``label`` names it ("the optimiser")."""
    problems = []
    params = [p for group in optimizer.param_groups for p in group["params"]]
    groups = saved_state.get("param_groups") or []
    saved = [i for group in groups for i in group.get("params", [])]
    if len(groups) != len(optimizer.param_groups) or len(saved) != len(params):
        problems.append(
            f"{label} state has {len(groups)} group(s) of {len(saved)} parameter(s), "
            f"the run's {len(optimizer.param_groups)} of {len(params)}"
        )
        return problems
    per_param = saved_state.get("state") or {}
    unknown = sorted(set(per_param) - set(saved))
    if unknown:
        problems.append(f"{label} state names parameters {_few(unknown)} it has not")
    if step > 0:
        lacking = [i for i in saved if not set(ADAM_STATE) <= set(per_param.get(i, {}))]
        if lacking:
            problems.append(
                f"{label} state lacks {', '.join(ADAM_STATE)} for parameter(s) {_few(lacking)}"
            )
    for index, param in zip(saved, params, strict=True):
        for name in ("exp_avg", "exp_avg_sq"):
            value = per_param.get(index, {}).get(name)
            if isinstance(value, torch.Tensor) and tuple(value.shape) != tuple(param.shape):
                problems.append(
                    f"{label}'s {name} of parameter {index} has shape "
                    f"{tuple(value.shape)}, the parameter {tuple(param.shape)}"
                )
    return problems


class _Bad:
    """A header entry that is missing or could not be read (its problem's text)."""

    def __init__(self, text: str) -> None:
        self.text = text


def _parse(header: Mapping[str, str], key: str, parse, kind: type | None = None):
    if key not in header:
        return _Bad(f"missing header entry {key!r}")
    try:
        value = parse(header[key])
    except (TypeError, ValueError):
        return _Bad(f"header entry {key!r} is not readable ({header[key][:40]!r})")
    if kind is not None and not isinstance(value, kind):
        return _Bad(f"header entry {key!r} is a {type(value).__name__}, not a {kind.__name__}")
    return value


def _few(items: list, limit: int = 4) -> str:
    shown = ", ".join(map(str, items[:limit]))
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _plain_tensor(value: torch.Tensor) -> torch.Tensor:
    # clones: safetensors refuses tensors that share storage, and wants them contiguous
    return value.detach().to("cpu").contiguous().clone()
