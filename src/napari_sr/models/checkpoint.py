"""Model files: safetensors weights plus JSON metadata, and safe reading of third-party files.

A napari-sr model file is one ``.safetensors`` file. The tensors are the model's state
dict; the header's metadata holds, under the key ``"napari_sr"``, a JSON document with the
architecture and its hyperparameters, scale, channels, intensity normalisation, the training
recipe, a description of the training data and measured metrics. Nothing is ever unpickled:
third-party ``.pth``/``.pt`` files are opened with ``torch.load(weights_only=True)``, which
only rebuilds tensors and plain containers.
"""

from __future__ import annotations

import datetime
import json
import os
from pathlib import Path
from typing import Any

from .._atomic import atomic_write
from .._jsonready import json_ready
from .._version import __version__
from ..normalization import Normalization

FORMAT = "napari-sr-model"
FORMAT_VERSION = 1
METADATA_KEY = "napari_sr"

SAFETENSORS_SUFFIXES = (".safetensors",)
PICKLE_SUFFIXES = (".pth", ".pt", ".ckpt")

# where trainers of other projects nest the weights inside a .pth dictionary
_NESTED_KEYS = ("params_ema", "params", "state_dict", "model", "net_g", "generator")


class CheckpointError(ValueError):
    """A model file cannot be read, or does not fit the architecture asked for."""


def save_model(
    model,
    path: str | os.PathLike,
    *,
    overwrite: bool = False,
    normalization: Normalization | dict | None = None,
    training: dict | None = None,
    data: dict | None = None,
    metrics: dict | None = None,
) -> Path:
    """Write a model to a ``.safetensors`` file with its description, atomically.

    Parameters
    ----------
    model : torch.nn.Module
        A model from :func:`~napari_sr.create_model`, :func:`load_model` or
        :func:`~napari_sr.train` (it carries ``spec``, ``scale``, ``in_channels`` and
        ``hparams``).
    path : path-like
        Output file; must end in ``.safetensors``.
    overwrite : bool
        Replace an existing file.
    normalization : Normalization or dict, optional
        Intensity normalisation the model was trained with; default ``model.normalization``
        when the model has one.
    training, data, metrics : dict, optional
        The training recipe, a description of the training data and measured metrics
        (JSON-ready values); default the model's ``checkpoint`` record when it was loaded
        from a file.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    TypeError
        ``model`` is not a registered napari-sr architecture, or a metadata value is not
        JSON-ready.
    ValueError
        ``path`` does not end in ``.safetensors``.
    FileExistsError
        ``path`` exists and ``overwrite`` is False.
    """
    from safetensors.torch import save_file

    path = Path(path)
    if path.suffix.lower() not in SAFETENSORS_SUFFIXES:
        raise ValueError(
            f"model files are written as safetensors; name the file '*.safetensors', not "
            f"{path.name!r}"
        )
    spec = getattr(model, "spec", None)
    if spec is None or not hasattr(model, "state_dict"):
        raise TypeError(
            "save_model needs a model made by napari_sr.create_model, load_model or train "
            f"(it records the architecture); got {type(model).__name__}"
        )
    previous = getattr(model, "checkpoint", None) or {}
    if normalization is None:
        normalization = getattr(model, "normalization", None)
    document = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "napari_sr_version": __version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "architecture": spec.name,
        "hparams": getattr(model, "hparams", {}),
        "scale": int(model.scale),
        "in_channels": int(model.in_channels),
        "parameters": sum(p.numel() for p in model.parameters()),
        "normalization": (
            None if normalization is None else Normalization.from_dict(normalization).to_dict()
        ),
        "training": training if training is not None else previous.get("training"),
        "data": data if data is not None else previous.get("data"),
        "metrics": metrics if metrics is not None else previous.get("metrics"),
    }
    header = {"format": FORMAT, METADATA_KEY: _to_json(document)}
    # clones: safetensors refuses views that share storage (tied or sliced weights)
    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in model.state_dict().items()}
    return atomic_write(
        path, lambda tmp: save_file(tensors, tmp, metadata=header), overwrite=overwrite
    )


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The JSON description stored in a napari-sr model file (no weights are loaded).

    Raises
    ------
    CheckpointError
        The file is not a readable safetensors file or has no napari-sr description.
    """
    path = _existing(path)
    header = _safetensors_header(path)
    if METADATA_KEY not in header:
        raise CheckpointError(
            f"{path.name} is a safetensors file without a napari-sr description; load it "
            "with load_model(path, architecture=..., scale=...)"
        )
    return _parse_document(path, header[METADATA_KEY])


def describes_itself(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a napari-sr model file (it says what model it holds), as opposed
    to bare third-party weights that :func:`load_model` needs ``architecture`` and
    ``scale`` for. Reads only the header.

    Raises
    ------
    FileNotFoundError
        No such file.
    CheckpointError
        A ``.safetensors`` file that cannot be read.
    """
    path = _existing(path)
    if path.suffix.lower() != ".safetensors":
        return False
    return METADATA_KEY in _safetensors_header(path)


def load_model(
    path: str | os.PathLike,
    *,
    architecture: str | None = None,
    scale: int | None = None,
    in_channels: int | None = None,
    device: str = "cpu",
    **hparams: Any,
):
    """Rebuild a model from a napari-sr model file or a third-party weights file.

    Parameters
    ----------
    path : path-like
        A ``.safetensors`` file written by :func:`save_model` (everything is read from its
        description), or third-party weights: ``.safetensors`` without a description or
        ``.pth``/``.pt``/``.ckpt`` (read with ``torch.load(weights_only=True)``; weights
        nested under ``params_ema``, ``params``, ``state_dict``, ``model``, ``net_g`` or
        ``generator`` and a ``module.`` prefix from DataParallel are unwrapped).
    architecture, scale, in_channels : optional
        Required for third-party files (without ``in_channels``: 1 channel if the weights
        fit, else 3). For napari-sr files they are checked against the description.
    device : str or torch.device
        Where to put the weights.
    **hparams
        Architecture hyperparameters of a third-party file (e.g. ``n_resblocks=32``).

    Returns
    -------
    torch.nn.Module
        In eval mode, with ``spec``, ``scale``, ``in_channels``, ``hparams``,
        ``normalization`` (a :class:`~napari_sr.normalization.Normalization`, or
        None when the file does not say) and ``checkpoint`` (the description) attributes.

    Raises
    ------
    FileNotFoundError
        No such file.
    CheckpointError
        A corrupt file, a pickle with anything but tensors, missing or unexpected weights,
        shape mismatches, or arguments that contradict the file's description.
    """
    from .registry import create_model

    path = _existing(path)
    suffix = path.suffix.lower()
    if suffix in SAFETENSORS_SUFFIXES:
        header = _safetensors_header(path)
        document = _parse_document(path, header[METADATA_KEY]) if METADATA_KEY in header else None
        state = _read_safetensors(path)
    elif suffix in PICKLE_SUFFIXES:
        document, state = None, _read_pickle(path)
    else:
        raise CheckpointError(
            f"{path.name}: model files end in .safetensors (napari-sr) or .pth/.pt/.ckpt "
            "(third-party weights)"
        )

    if document is not None:
        _check_agrees(path, document, architecture=architecture, scale=scale,
                      in_channels=in_channels)  # fmt: skip
        if hparams:
            raise CheckpointError(
                f"{path.name} records its hyperparameters; do not pass {', '.join(hparams)}"
            )
        architecture, scale = document["architecture"], document["scale"]
        in_channels = document["in_channels"]
        hparams = {k: tuple(v) if isinstance(v, list) else v
                   for k, v in (document.get("hparams") or {}).items()}  # fmt: skip
    elif architecture is None or scale is None:
        raise CheckpointError(
            f"{path.name} holds bare weights without a napari-sr description; say what they "
            "are: load_model(path, architecture='edsr', scale=2, in_channels=3, ...)"
        )
    # bare weights without a channel count: grayscale, else RGB (natural-image weights)
    candidates = [in_channels] if in_channels else [1, 3]
    for attempt, channels in enumerate(candidates):
        try:
            model = create_model(architecture, scale=scale, in_channels=channels, **hparams)
        except ValueError as err:
            raise CheckpointError(f"{path.name}: {err}") from None
        try:
            _load_state(model, state, path)
            break
        except CheckpointError as err:
            if attempt == 0:
                first = err
            if attempt == len(candidates) - 1:
                raise first from None
    model.eval()
    model.to(device)
    model.normalization = (
        Normalization.from_dict(document["normalization"])
        if document is not None and document.get("normalization") is not None
        else None
    )
    model.checkpoint = document or {"architecture": architecture, "source": path.name}
    return model


def _existing(path: str | os.PathLike) -> Path:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no model file {str(path)!r}; check the path")
    return path


def _safetensors_header(path: Path) -> dict[str, str]:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            return handle.metadata() or {}
    except Exception as err:  # safetensors raises its own SafetensorError, OSError, ...
        raise CheckpointError(
            f"{path.name} is not a readable safetensors file ({err}); it may be truncated "
            "or corrupt - copy or export it again"
        ) from None


def _read_safetensors(path: Path) -> dict:
    from safetensors.torch import load_file

    try:
        return load_file(str(path), device="cpu")
    except Exception as err:
        raise CheckpointError(
            f"{path.name}: its weights cannot be read ({err}); the file may be truncated"
        ) from None


def _read_pickle(path: Path) -> dict:
    import pickle

    import torch

    try:
        loaded = torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise CheckpointError(
            f"{path.name} holds Python objects other than tensors, and napari-sr never "
            f"unpickles those (they can run code); export a plain state dict. ({err})"
        ) from None
    except Exception as err:
        raise CheckpointError(f"{path.name} cannot be read as PyTorch weights ({err})") from None
    for key in _NESTED_KEYS:
        if isinstance(loaded, dict) and isinstance(loaded.get(key), dict):
            loaded = loaded[key]
            break
    if not isinstance(loaded, dict) or not all(
        isinstance(v, torch.Tensor) for v in loaded.values()
    ):
        raise CheckpointError(
            f"{path.name} does not hold a state dict (a mapping of names to tensors)"
        )
    return {k.removeprefix("module."): v for k, v in loaded.items()}


def _load_state(model, state: dict, path: Path) -> None:
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    mismatched = [
        f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and tuple(state[k].shape) != tuple(v.shape)
    ]
    if missing or unexpected or mismatched:
        parts = []
        for label, names in (
            ("missing", missing),
            ("unexpected", unexpected),
            ("wrong shape (file vs model)", mismatched),
        ):
            if names:
                shown = ", ".join(names[:4]) + (
                    f" and {len(names) - 4} more" if len(names) > 4 else ""
                )
                parts.append(f"{label}: {shown}")
        raise CheckpointError(
            f"{path.name} does not fit {model.spec.name} x{model.scale} with "
            f"{model.in_channels} channel(s) - " + "; ".join(parts) + ". Check the "
            "architecture, scale, channels and hyperparameters."
        )
    model.load_state_dict(state, strict=True)


def _check_agrees(path: Path, document: dict, **given: Any) -> None:
    for key, value in given.items():
        if value is not None and value != document.get(key):
            raise CheckpointError(
                f"{path.name} holds {key}={document.get(key)!r}, not {value!r}; leave "
                f"{key} out to use the file's"
            )


def _parse_document(path: Path, text: str) -> dict[str, Any]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as err:
        raise CheckpointError(f"{path.name}: its description is not valid JSON ({err})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise CheckpointError(f"{path.name}: its description is not a napari-sr model record")
    if int(document.get("format_version", 0)) > FORMAT_VERSION:
        raise CheckpointError(
            f"{path.name} was written by a newer napari-sr (format "
            f"{document['format_version']}); upgrade napari-sr to read it"
        )
    for key in ("architecture", "scale", "in_channels"):
        if key not in document:
            raise CheckpointError(f"{path.name}: its description lacks {key!r}")
    return document


def _to_json(document: dict) -> str:
    return json.dumps(json_ready(document, strict=True, where="metadata"), allow_nan=False)
