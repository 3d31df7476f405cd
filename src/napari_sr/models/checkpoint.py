"""Model files: safetensors weights plus JSON metadata, and safe reading of third-party files.

A napari-sr model file is one ``.safetensors`` file. The tensors are the model's state
dict; the header's metadata holds, under the key ``"napari_sr"``, the model's record
(:class:`~napari_sr.models.info.ModelInfo`) as a JSON document: the architecture and its
hyperparameters, scale, channels, colour route, intensity normalisation, the training
recipe, a description of the training data and measured metrics. Nothing is ever unpickled:
third-party ``.pth``/``.pt`` files are opened with ``torch.load(weights_only=True)``, which
only rebuilds tensors and plain containers (TorchScript archives and zip bombs are refused
before PyTorch opens them).

Nothing in a file is trusted: the record is checked field by field
(:meth:`napari_sr.models.info.ModelInfo.from_dict`), the network it describes is planned
and sized without allocating it (:mod:`napari_sr.models.hyperparameters`) and its tensors
compared with the file's, by name, shape and kind of number, from the header alone; only
then are the weights read, and they must all be finite. Library warnings are silenced while a
file is read: what matters becomes one clear error.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import warnings
from pathlib import Path
from typing import Any

from .._version import __version__
from ..normalization import Normalization
from ..utils.atomic import atomic_write
from ..utils.jsonready import json_ready
from .info import FIX, FORMAT, ModelInfo, Provenance, check_document, parse_json

METADATA_KEY = "napari_sr"

SAFETENSORS_SUFFIXES = (".safetensors",)
"""Endings of the files napari-sr writes (and of bare third-party safetensors weights)."""

PICKLE_SUFFIXES = (".pth", ".pt", ".ckpt")
"""Endings of third-party PyTorch weights, read with ``torch.load(weights_only=True)``."""

BMZ_SUFFIXES = (".zip",)
"""BioImage Model Zoo packages (:func:`napari_sr.models.bmz_load.load_bmz`)."""

MODEL_FILE_SUFFIXES = SAFETENSORS_SUFFIXES + PICKLE_SUFFIXES + BMZ_SUFFIXES
"""Every ending :func:`load_model` reads."""

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
        Intensity normalisation the model was trained with; default the model record's
        (``model.info.normalization``).
    training, data, metrics : dict, optional
        The training recipe, a description of the training data (``data["color"] =
        "luma"`` says a 1-channel model was trained on luma, ``data["other_dtypes"]`` how
        a 0-255 model sees other dtypes; see :class:`~napari_sr.models.info.ModelInfo`) and
        measured metrics (JSON-ready values); default the model record's.

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
    record = getattr(model, "info", None)
    if not isinstance(record, ModelInfo) or not hasattr(model, "state_dict"):
        raise TypeError(
            "save_model needs a model made by napari_sr.create_model, load_model or train "
            f"(it records the architecture); got {type(model).__name__}"
        )
    document = record.to_dict()
    document.update(
        napari_sr_version=__version__,
        created=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        parameters=sum(p.numel() for p in model.parameters()),
    )
    if normalization is not None:
        document["normalization"] = Normalization.from_dict(normalization).to_dict()
    given = {"training": training, "data": data, "metrics": metrics}
    document.update({key: value for key, value in given.items() if value is not None})
    text = _to_json(document)
    # never write a file that load_model would refuse (e.g. a data record of the wrong type)
    _parse_info(text, path.name, fix="pass save_model values of those types")
    header = {"format": FORMAT, METADATA_KEY: text}
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
        ``generator`` and a ``module.`` prefix from DataParallel are unwrapped). Weights in
        a known upstream layout (:mod:`napari_sr.models.third_party`: ESRGAN and
        Real-ESRGAN's BasicSR RRDBNet) need no hint: architecture, scale, channels and
        hyperparameters are read from their tensors. A ``.zip`` is a BioImage Model Zoo
        package (:func:`napari_sr.models.bmz_load.load_bmz`; the ``bmz`` extra).
    architecture, scale, in_channels : optional
        Required for third-party files in no known layout (without ``in_channels``: 1
        channel if the weights fit, else 3). For napari-sr files they are checked against
        the description.
    device : str or torch.device
        Where to put the weights (``'auto'``, ``'cpu'``, ``'cuda'``, ``'cuda:1'``,
        ``'mps'``).
    **hparams
        Architecture hyperparameters of a third-party file (e.g. ``n_resblocks=32``).

    Returns
    -------
    SRModel
        In eval mode, with its record ``info``
        (:class:`~napari_sr.models.info.ModelInfo`: for a napari-sr file the file's,
        ``provenance.source`` its name; for third-party weights the architecture, scale,
        channels and hyperparameters given) and ``spec`` (the architecture's descriptor).

    Raises
    ------
    FileNotFoundError
        No such file.
    CheckpointError
        A corrupt file, a description with a field of the wrong type or out of range, a
        network too large to build, a pickle with anything but tensors, missing or
        unexpected weights, shape or dtype mismatches, NaN or infinite weights, or
        arguments that contradict the file's description (all ValueErrors).
    ValueError
        A device this machine does not have.
    """
    from ..utils.device import resolve_device
    from .factory import from_plan
    from .hyperparameters import describe, number_kind, plan
    from .third_party import recognise

    path = _existing(path)
    device = resolve_device(device)  # an unknown device is a ValueError naming those there are
    suffix = path.suffix.lower()
    if suffix in BMZ_SUFFIXES:
        given = {"architecture": architecture, "scale": scale, "in_channels": in_channels}
        if hparams or any(v is not None for v in given.values()):
            raise CheckpointError(
                f"{path.name} is a BioImage Model Zoo package, which says what it is: drop "
                "architecture, scale, in_channels and hyperparameters"
            )
        from .bmz_load import load_bmz

        return load_bmz(path).to(device)
    state, info = None, None
    if suffix in SAFETENSORS_SUFFIXES:
        header = _safetensors_header(path)
        document = _parse_document(path, header[METADATA_KEY]) if METADATA_KEY in header else None
        if document is not None:
            info = _info(path, document)
        layout = _safetensors_layout(path)
    elif suffix in PICKLE_SUFFIXES:
        document, state = None, _read_pickle(path)
        layout = {k: (tuple(v.shape), number_kind(v.dtype)) for k, v in state.items()}
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
        hparams = document["hparams"]
    else:
        upstream = recognise({k: shape for k, (shape, _) in layout.items()})
        if upstream is not None:  # shared weights in their authors' layout
            if state is None:
                state = _read_safetensors(path)
            architecture, scale, in_channels, hparams, state = _from_upstream(
                path, upstream, state, architecture, scale, in_channels, hparams
            )
            layout = {k: (tuple(v.shape), number_kind(v.dtype)) for k, v in state.items()}
    if document is None and (architecture is None or scale is None):
        raise CheckpointError(
            f"{path.name} holds bare weights without a napari-sr description; say what they "
            "are: load_model(path, architecture='edsr', scale=2, in_channels=3, ...)"
        )
    # the network is planned (types, ranges, size) and its tensors compared with the
    # file's before anything is allocated; bare weights without a channel count:
    # grayscale, else RGB (natural-image weights)
    planned, first = None, None
    for channels in [in_channels] if in_channels is not None else [1, 3]:
        try:
            candidate = plan(architecture, scale=scale, in_channels=channels, hparams=hparams)
        except ValueError as err:
            if document is not None:
                raise CheckpointError(
                    f"model file {path.name!r} describes a network that cannot be built: "
                    f"{err}; {FIX}"
                ) from None
            raise CheckpointError(f"{path.name}: {err}") from None
        problem = _layout_problem(candidate, layout)
        if problem is None:
            planned = candidate
            break
        first = first or (candidate, problem)
    if planned is None:
        candidate, problem = first
        fits = (
            f"{candidate.name} x{candidate.kwargs['scale']} with "
            f"{candidate.kwargs['in_channels']} channel(s)"
        )
        if document is not None:
            raise CheckpointError(
                f"model file {path.name!r}: its weights do not fit its description ({fits}, "
                f"{describe(candidate.hparams)}) - {problem}; {FIX}"
            )
        raise CheckpointError(
            f"{path.name} does not fit {fits} - {problem}. Check the architecture, scale, "
            "channels and hyperparameters."
        )
    if state is None:
        state = _read_safetensors(path)
    _check_values(path, state)
    try:
        model = from_plan(planned)
    except ValueError as err:
        raise CheckpointError(f"{path.name}: {err}") from None
    model.load_state_dict(state, strict=True)
    model.eval()
    model.to(device)
    if info is not None:  # the file's record, with the hyperparameters as planned
        model.info = info.replace(hparams=model.info.hparams)
    else:
        model.info = model.info.replace(provenance=Provenance(source=path.name))
    return model


def _from_upstream(path: Path, upstream, state, architecture, scale, in_channels, hparams):
    """The architecture, scale, channels, hyperparameters and renamed tensors of weights
    in a known upstream layout (:mod:`.third_party`); what the caller gave must agree."""
    try:
        renamed, found_scale, found_channels, found = upstream.convert(state, scale)
    except ValueError as err:
        raise CheckpointError(f"{path.name}: {err}") from None
    given = {"architecture": (architecture, upstream.architecture),
             "scale": (scale, found_scale), "in_channels": (in_channels, found_channels),
             **{k: (v, found.get(k)) for k, v in hparams.items()}}  # fmt: skip
    wrong = [f"{k}={mine!r} (the file: {theirs!r})" for k, (mine, theirs) in given.items()
             if mine is not None and mine != theirs]  # fmt: skip
    if wrong:
        raise CheckpointError(
            f"{path.name} holds {upstream.name} weights, which disagree with "
            f"{', '.join(wrong)}; leave them out, they are read from the file"
        )
    return upstream.architecture, found_scale, found_channels, found, renamed


def _existing(path: str | os.PathLike) -> Path:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no model file {str(path)!r}; check the path")
    return path


def _safetensors_header(path: Path) -> dict[str, str]:
    from safetensors import safe_open

    try:
        with _quiet(), safe_open(str(path), framework="pt") as handle:
            return handle.metadata() or {}
    except Exception as err:  # safetensors raises its own SafetensorError, OSError, ...
        raise CheckpointError(
            f"{path.name} is not a readable safetensors file ({_first_line(err)}); it may be "
            "truncated or corrupt - copy or export it again"
        ) from None


def _safetensors_layout(path: Path) -> dict[str, tuple[tuple[int, ...], str]]:
    """Name → (shape, kind of number) of every tensor, from the header alone."""
    from safetensors import safe_open

    try:
        with _quiet(), safe_open(str(path), framework="pt") as handle:
            layout = {}
            for key in handle.keys():
                piece = handle.get_slice(key)
                layout[key] = (tuple(piece.get_shape()), _safetensors_kind(piece.get_dtype()))
            return layout
    except Exception as err:
        raise CheckpointError(
            f"{path.name}: its list of weights cannot be read ({_first_line(err)}); it may be "
            "truncated or corrupt - copy or export it again"
        ) from None


def _read_safetensors(path: Path) -> dict:
    from safetensors.torch import load_file

    try:
        with _quiet():
            return load_file(str(path), device="cpu")
    except Exception as err:
        raise CheckpointError(
            f"{path.name}: its weights cannot be read ({_first_line(err)}); the file may be "
            "truncated - copy or export it again"
        ) from None


_EXPORT = (
    "export a plain state dict in Python: torch.save(model.state_dict(), 'weights.pth'), "
    "or save_model(...) to a .safetensors file"
)


def _read_pickle(path: Path) -> dict:
    import pickle

    import torch

    _check_archive(path)
    try:
        with _quiet():
            loaded = torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        # weights_only refuses a class (a "GLOBAL") before building it: a pickle with
        # objects; any other refusal (an unknown opcode) means it is no pickle at all
        found = [line.strip() for line in str(err).splitlines() if "GLOBAL" in line]
        if not found:
            raise CheckpointError(
                f"{path.name} is not a PyTorch weights file, or it is damaged "
                f"({_unpickling_reason(err)}); {_EXPORT}"
            ) from None
        raise CheckpointError(
            f"{path.name} holds Python objects other than tensors ({found[0]}), and "
            f"napari-sr never unpickles those (they can run code); {_EXPORT}"
        ) from None
    except (MemoryError, RuntimeError, OSError, EOFError, ValueError, KeyError) as err:
        raise CheckpointError(
            f"{path.name} cannot be read as PyTorch weights ({_first_line(err)}); it may be "
            f"truncated or corrupt; {_EXPORT}"
        ) from None
    except Exception as err:
        raise CheckpointError(
            f"{path.name} cannot be read as PyTorch weights ({type(err).__name__}: "
            f"{_first_line(err)}); {_EXPORT}"
        ) from None
    for key in _NESTED_KEYS:
        if isinstance(loaded, dict) and isinstance(loaded.get(key), dict):
            loaded = loaded[key]
            break
    if not isinstance(loaded, dict):
        raise CheckpointError(
            f"{path.name} holds {type(loaded).__name__}, not a state dict (a mapping of names "
            f"to tensors); {_EXPORT}"
        )
    for key, value in loaded.items():
        if not isinstance(key, str):
            raise CheckpointError(
                f"{path.name}: its state dict has a key {key!r} that is not a name; {_EXPORT}"
            )
        if not isinstance(value, torch.Tensor):
            raise CheckpointError(
                f"{path.name}: its entry {key!r} is {type(value).__name__}, not a tensor; "
                f"{_EXPORT}"
            )
        if value.layout != torch.strided or value.is_quantized or value.is_meta:
            raise CheckpointError(
                f"{path.name}: its entry {key!r} is not a plain dense tensor (layout "
                f"{value.layout}); {_EXPORT}"
            )
    return {k.removeprefix("module."): v for k, v in loaded.items()}


MAX_ZIP_RATIO = 100
"""A ``.pth`` archive whose members unpack to more than this many times its size is a
zip bomb (``torch.save`` stores its members uncompressed)."""


def _check_archive(path: Path) -> None:
    """Refuse TorchScript archives and zip bombs before PyTorch opens a ``.pth`` file."""
    import zipfile

    try:
        if not zipfile.is_zipfile(path):
            return  # the legacy format, or not PyTorch at all: torch.load decides
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (OSError, zipfile.BadZipFile, ValueError) as err:
        raise CheckpointError(
            f"{path.name} is a damaged zip archive ({_first_line(err)}); {_EXPORT}"
        ) from None
    names = [m.filename for m in members]
    if any(n.endswith("constants.pkl") or "/code/" in n for n in names):
        raise CheckpointError(
            f"{path.name} is a TorchScript archive (a compiled program), not weights; "
            "napari-sr reads plain state dicts: in Python, "
            "torch.save(torch.jit.load(path).state_dict(), 'weights.pth'), then load that "
            "with load_model('weights.pth', architecture=..., scale=...)"
        )
    unpacked = sum(m.file_size for m in members)
    if unpacked > MAX_ZIP_RATIO * max(path.stat().st_size, 1) + 2**20:
        raise CheckpointError(
            f"{path.name} unpacks to {unpacked:,} bytes from {path.stat().st_size:,}: a zip "
            f"bomb, not PyTorch weights; {_EXPORT}"
        )
    available = _available_memory()
    if available is not None and unpacked > available:
        raise CheckpointError(
            f"{path.name} unpacks to {unpacked / 2**30:.1f} GiB, more than the "
            f"{available / 2**30:.1f} GiB of memory available; free memory or use a machine "
            "with more"
        )


def _safetensors_kind(dtype: str) -> str:
    """Kind of number of a safetensors dtype name (``F32``, ``BF16``, ``I64``, ``BOOL``)."""
    if dtype.startswith(("F", "BF")):
        return "floating point"
    if dtype.startswith(("I", "U")):
        return "integer"
    if dtype.startswith("C"):
        return "complex"
    return "true/false" if dtype == "BOOL" else dtype


def _layout_problem(planned, layout: dict[str, tuple[tuple[int, ...], str]]) -> str | None:
    """What differs between the planned network's tensors and the file's, or None."""
    expected = planned.shapes
    missing = sorted(set(expected) - set(layout))
    unexpected = sorted(set(layout) - set(expected))
    mismatched = [
        f"{k} {layout[k][0]} vs {shape}"
        for k, (shape, _) in expected.items()
        if k in layout and tuple(layout[k][0]) != tuple(shape)
    ]
    kinds = [
        f"{k} ({layout[k][1]} in the file, {kind} in the model)"
        for k, (shape, kind) in expected.items()
        if k in layout and tuple(layout[k][0]) == tuple(shape) and layout[k][1] != kind
    ]
    parts = []
    for label, names in (
        ("missing", missing),
        ("unexpected", unexpected),
        ("wrong shape (file vs model)", mismatched),
        ("wrong kind of number", kinds),
    ):
        if names:
            more = f" and {len(names) - 4} more" if len(names) > 4 else ""
            shown = ", ".join(names[:4]) + more
            parts.append(f"{label}: {shown}")
    return "; ".join(parts) or None


def _check_values(path: Path, state: dict) -> None:
    """Every floating-point weight finite (NaN or infinite weights give a blank or NaN
    image, silently)."""
    import torch

    bad = {}
    for key, tensor in state.items():
        if tensor.is_floating_point():
            count = int(tensor.numel() - torch.isfinite(tensor).sum())
            if count:
                bad[key] = count
    if bad:
        names = list(bad)
        where = names[0] + (f" and {len(names) - 1} more tensors" if len(names) > 1 else "")
        raise CheckpointError(
            f"model file {path.name!r} has {sum(bad.values()):,} non-finite weights (NaN or "
            f"infinity) in {where}; it is damaged or its training diverged - retrain, or use "
            "another file"
        )


def _available_memory() -> int | None:
    try:
        from ..utils.memory import available_memory

        return available_memory()
    except Exception:  # a probe that fails leaves the other checks
        return None


@contextlib.contextmanager
def _quiet():
    """Silence the warnings of the libraries that read model files: what matters becomes
    our own error, and an error stays one line."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _unpickling_reason(err: BaseException) -> str:
    """The line of PyTorch's long weights-only message that says what went wrong."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    told = [line for line in lines if line.startswith(("Unsupported", "invalid", "could not"))]
    return (told or lines or [type(err).__name__])[0][:200]


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0][:200] if text else type(err).__name__


def _check_agrees(path: Path, document: dict, **given: Any) -> None:
    for key, value in given.items():
        if value is not None and value != document.get(key):
            raise CheckpointError(
                f"{path.name} holds {key}={document.get(key)!r}, not {value!r}; leave "
                f"{key} out to use the file's"
            )


def _parse_document(path: Path, text: str) -> dict[str, Any]:
    """The checked JSON document of ``path``'s record (a CheckpointError if it is bad)."""
    try:
        return check_document(parse_json(text, f"model file {path.name!r}"),
                              f"model file {path.name!r}")  # fmt: skip
    except ValueError as err:
        raise CheckpointError(str(err)) from None


def _info(path: Path, document: dict[str, Any]) -> ModelInfo:
    """The record of a checked document (a CheckpointError if it is bad)."""
    try:
        return ModelInfo.from_dict(document, source=path.name)
    except ValueError as err:
        raise CheckpointError(str(err)) from None


def _parse_info(text: str, name: str, *, fix: str) -> ModelInfo:
    return ModelInfo.from_json(text, source=name, fix=fix)


def _to_json(document: dict) -> str:
    return json.dumps(json_ready(document, strict=True, where="metadata"), allow_nan=False)
