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

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .._atomic import atomic_write

STATE_FORMAT = "napari-sr-training-state"
STATE_VERSION = 1


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


def save_state(path: str | os.PathLike, state: TrainingState) -> Path:
    """Write ``state`` atomically to ``path`` (replacing an older state)."""
    from safetensors.torch import save_file

    tensors: dict[str, torch.Tensor] = {}
    for key, value in state.weights.items():
        tensors[f"model.{key}"] = _plain_tensor(value)
    for key, value in (state.best or {}).items():
        tensors[f"best.{key}"] = _plain_tensor(value)
    scalars: dict[str, dict[str, Any]] = {}
    for index, entries in state.optimizer["state"].items():
        for name, value in entries.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optimizer.{index}.{name}"] = _plain_tensor(value)
            else:
                scalars.setdefault(str(index), {})[name] = value
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
        "optimizer_param_groups": json.dumps(state.optimizer["param_groups"]),
        "optimizer_scalars": json.dumps(scalars),
    }
    return atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata=header), overwrite=True)


def load_state(path: str | os.PathLike) -> TrainingState:
    """Read a state written by :func:`save_state`.

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        The file is not a napari-sr training state, or is corrupt.
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
            f"{path.name} is not a readable training state ({err}); start a new run"
        ) from None
    if header.get("format") != STATE_FORMAT:
        raise ValueError(f"{path.name} is not a napari-sr training state")
    if int(header.get("version", "0")) > STATE_VERSION:
        raise ValueError(f"{path.name} was written by a newer napari-sr; upgrade to resume it")
    weights, best, rng = {}, {}, {}
    optimizer_state: dict[int, dict[str, Any]] = {}
    for key, tensor in tensors.items():
        kind, _, rest = key.partition(".")
        if kind == "model":
            weights[rest] = tensor
        elif kind == "best":
            best[rest] = tensor
        elif kind == "rng":
            rng[rest] = tensor
        elif kind == "optimizer":
            index, _, name = rest.partition(".")
            optimizer_state.setdefault(int(index), {})[name] = tensor
    for index, entries in json.loads(header["optimizer_scalars"]).items():
        optimizer_state.setdefault(int(index), {}).update(entries)
    groups = json.loads(header["optimizer_param_groups"])
    for group in groups:
        if isinstance(group.get("betas"), list):
            group["betas"] = tuple(group["betas"])
    return TrainingState(
        step=int(header["step"]),
        config=json.loads(header["config"]),
        model=json.loads(header["model"]),
        data=header["data"],
        progress=json.loads(header["progress"]),
        weights=weights,
        best=best if json.loads(header["has_best"]) else None,
        optimizer={"state": optimizer_state, "param_groups": groups},
        rng=rng,
    )


def _plain_tensor(value: torch.Tensor) -> torch.Tensor:
    # clones: safetensors refuses tensors that share storage, and wants them contiguous
    return value.detach().to("cpu").contiguous().clone()
