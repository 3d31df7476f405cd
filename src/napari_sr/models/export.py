"""Export a network to ONNX or TorchScript, for ONNX Runtime, the BioImage Model Zoo and any
tool that runs those formats.

What is exported is the network alone. Its input is float32 of shape (N, C, H, W) — for a
fusion network (N, K, H, W), K frames, fixed when exporting — with intensities normalised
as the model's record says (``model.normalization``; the bundled defaults map 0-255 to
0-1); its output is (N, C, H·s, W·s) in the same units. Batch, height and width are
dynamic: any size that is a multiple of the network's size multiple
(``model.spec.size_multiple``). Tiling, normalisation, colour conversion and casting stay
in napari-sr (or in the BioImage Model Zoo package's processing steps).

The model's record (architecture, scale, channels, normalisation, colour route) travels in
the file as JSON: the ONNX metadata property ``napari_sr``, the TorchScript extra file
``napari_sr.json``. Every export is checked before it is put in place: the file is read
back and run at two sizes (and two batch sizes), and must equal PyTorch's forward pass to
:data:`TOLERANCE`.
"""

from __future__ import annotations

import contextlib
import copy
import importlib.util
import json
import logging
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .._version import __version__
from ..utils.atomic import atomic_write
from ..utils.jsonready import json_ready

ONNX_SUFFIXES = (".onnx",)
TORCHSCRIPT_SUFFIXES = (".pt", ".ts", ".torchscript")
EXPORT_SUFFIXES = ONNX_SUFFIXES + TORCHSCRIPT_SUFFIXES
"""Endings :func:`export_model` writes: ONNX, or a TorchScript archive."""

OPSET = 18
"""The ONNX opset written (ONNX Runtime 1.14 and later run it)."""

TOLERANCE = 1e-4
"""Largest absolute difference allowed between an export and PyTorch, in normalised units."""

INPUT_NAME, OUTPUT_NAME = "input", "output"
METADATA_KEY = "napari_sr"
TORCHSCRIPT_RECORD = "napari_sr.json"

CHECK_SIZES = ((20, 27), (33, 18))
"""(height, width) of the two check inputs, rounded up to the size multiple."""


class ExportError(ValueError):
    """A network does not export, or its export does not compute what PyTorch computes."""


def export_format(path: str | os.PathLike) -> str:
    """``'onnx'`` or ``'torchscript'``, from the ending of ``path``; a ValueError naming
    the endings otherwise."""
    name = Path(path).name.lower()
    if name.endswith(ONNX_SUFFIXES):
        return "onnx"
    if name.endswith(TORCHSCRIPT_SUFFIXES):
        return "torchscript"
    raise ValueError(
        f"cannot tell the export format of {Path(path).name!r}: name it '*.onnx' for ONNX or "
        f"'*.pt' for TorchScript"
    )


def export_model(
    model: Any,
    path: str | os.PathLike,
    *,
    frames: int | None = None,
    overwrite: bool = False,
    opset: int = OPSET,
) -> Path:
    """Write ``model`` as ONNX or TorchScript (from the ending of ``path``), checked.

    Parameters
    ----------
    model : torch.nn.Module, str or path-like
        A napari-sr network (from :func:`~napari_sr.create_model`,
        :func:`~napari_sr.load_model` or training), the name of bundled weights
        (``'edsr_light_x2.sr291'``) or a model file.
    path : path-like
        ``*.onnx`` (ONNX, opset ``opset``) or ``*.pt`` (TorchScript).
    frames : int, optional
        For a fusion network: the number of frames K its input holds (fixed in the file).
    overwrite : bool
        Replace an existing file.
    opset : int
        ONNX opset version.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ValueError
        An unknown ending, a model name or file that does not exist, ``frames`` missing
        for a fusion network or given for a single-image one.
    FileExistsError
        ``path`` exists and ``overwrite`` is False.
    ExportError
        The written network differs from PyTorch's by more than :data:`TOLERANCE`
        (nothing is written).
    """
    kind = export_format(path)
    network, record = exportable(model, frames=frames)
    example = example_input(record, frames, *CHECK_SIZES[0])

    def write(tmp: str) -> None:
        if kind == "onnx":
            Path(tmp).write_bytes(onnx_bytes(network, record, example, opset=opset))
            run = _onnx_runner(tmp)
        else:
            _save_torchscript(network, record, example, tmp)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                run = _torch_runner(torch.jit.load(tmp, map_location="cpu").eval())
        check_export(network, run, record, frames, what=f"the {kind} export")

    return atomic_write(path, write, overwrite=overwrite)


def exportable(model: Any, *, frames: int | None = None) -> tuple[nn.Module, dict[str, Any]]:
    """A copy of ``model`` ready to trace (CPU, float32, eval mode, in its export form) and
    the record that goes with it (see :func:`export_record`)."""
    network = resolve_network(model)
    if network.spec.framework == "diffusion":
        raise ValueError(
            f"{network.info.architecture} is the denoiser of a diffusion (three inputs, run "
            "step by step by a sampler); napari-sr does not export diffusion networks"
        )
    fusion = _is_fusion(network)
    if fusion and frames is None:
        raise ValueError(
            f"{network.info.architecture} fuses frames: give frames=K (--frames K), the "
            "number of frames the exported network takes"
        )
    if not fusion and frames is not None:
        raise ValueError(f"{network.info.architecture} upscales one image: drop frames={frames}")
    if frames is not None and (isinstance(frames, bool) or int(frames) != frames or frames < 1):
        raise ValueError(f"frames must be a positive whole number, not {frames!r}")
    record = export_record(network, frames)
    copied = copy.deepcopy(network).float().cpu().eval()
    form = copied.for_export() if hasattr(copied, "for_export") else copied
    return form.eval(), record


def export_record(model: nn.Module, frames: int | None = None) -> dict[str, Any]:
    """What an exported file says about itself: the model's record
    (:meth:`~napari_sr.models.info.ModelInfo.to_dict`) and the tensors' layout."""
    spec = model.spec
    channels = model.info.in_channels
    if frames is not None:  # a prior-refining fusion network also takes the packed prior
        channels = frames + (model.info.scale**2 if getattr(model, "prior", False) else 0)
    document = model.info.to_dict()
    document.update(
        napari_sr_version=__version__,
        exported={
            "input": _tensor(INPUT_NAME, "NCHW" if frames is None else "NKHW", channels),
            "output": _tensor(OUTPUT_NAME, "NCHW", model.info.in_channels),
            "scale": int(model.info.scale),
            "size_multiple": int(spec.size_multiple),
            "halo": int(spec.halo),
            "frames": frames,
            "prior": bool(getattr(model, "prior", False)),
        },
    )
    return json_ready(document)


def _tensor(name: str, axes: str, channels: int) -> dict[str, Any]:
    return {"name": name, "axes": axes, "channels": int(channels), "dtype": "float32"}


def example_input(record: dict[str, Any], frames: int | None, height: int, width: int,
                  batch: int = 1, seed: int = 0) -> torch.Tensor:  # fmt: skip
    """A seeded input in [0, 1] for the exported network of ``record``, its size rounded up
    to the size multiple."""
    layout = record["exported"]
    m = max(1, layout["size_multiple"])
    shape = (batch, layout["input"]["channels"], -(-height // m) * m, -(-width // m) * m)
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(shape, generator=generator)


def onnx_bytes(
    network: nn.Module, record: dict[str, Any], example: torch.Tensor, *, opset: int = OPSET
) -> bytes:
    """The ONNX model of ``network`` (from :func:`exportable`), batch, height and width
    dynamic, ``record`` in its metadata, serialised."""
    require_onnx()
    import onnx

    dynamic = {0: "batch", 2: "height", 3: "width"}
    try:
        with _quiet_exporter():
            program = torch.onnx.export(
                network,
                (example,),
                input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAME],
                dynamic_axes={INPUT_NAME: dynamic, OUTPUT_NAME: dynamic},
                opset_version=opset,
                dynamo=True,
                verbose=False,
            )
    except Exception as exc:  # the exporter's errors are pages long; the cause is one line
        cause = exc.__cause__ or exc
        reason = f"{type(cause).__name__}: {str(cause).strip().splitlines()[0]}"
        raise ExportError(
            f"{record['architecture']} does not export to ONNX with dynamic height and width "
            f"({reason[:200]}); write TorchScript instead ('*.pt')"
        ) from exc
    proto = program.model_proto
    onnx.helper.set_model_props(proto, {METADATA_KEY: json.dumps(record)})
    proto.producer_name, proto.producer_version = "napari-sr", __version__
    return proto.SerializeToString()


def require_onnx() -> None:
    """An ImportError that says how to install what ONNX export needs, when it is missing."""
    missing = [name for name in ("onnx", "onnxscript") if importlib.util.find_spec(name) is None]
    if missing:
        raise ImportError(
            f"ONNX export needs {' and '.join(missing)}, which are not installed: "
            "pip install 'napari-sr[onnx]' (or write TorchScript: name the file '*.pt')"
        )


def check_export(network: nn.Module, run, record: dict[str, Any], frames: int | None,
                 *, what: str) -> float:  # fmt: skip
    """Largest difference between ``run`` (numpy in, numpy out) and ``network`` over the
    check inputs; an :class:`ExportError` above :data:`TOLERANCE`."""
    worst = 0.0
    for k, (height, width) in enumerate(CHECK_SIZES):
        x = example_input(record, frames, height, width, batch=1 + k, seed=k + 1)
        with torch.inference_mode():
            expected = network(x).numpy()
        got = run(x.numpy())
        if got.shape != expected.shape:
            raise ExportError(
                f"{what} returned shape {got.shape} for an input of shape {tuple(x.shape)}; "
                f"PyTorch returns {expected.shape}: the network does not export with dynamic "
                "sizes"
            )
        worst = max(worst, float(np.max(np.abs(got - expected))))
    if not worst <= TOLERANCE:
        raise ExportError(
            f"{what} differs from PyTorch by up to {worst:.3g} (allowed {TOLERANCE:g}); "
            "nothing was written"
        )
    return worst


def resolve_network(model: Any) -> nn.Module:
    """The napari-sr network ``model`` names: itself, bundled weights by name, or a model
    file (loaded); a TypeError for a module without a record, a ValueError naming the
    choices for anything else."""
    from .bundled import bundled_models, load_bundled
    from .checkpoint import load_model
    from .info import ModelInfo

    if isinstance(model, nn.Module):
        if not isinstance(getattr(model, "info", None), ModelInfo):
            raise TypeError(
                "export needs a model made by napari_sr.create_model, load_model or train (it "
                f"records the architecture); got {type(model).__name__}"
            )
        return model
    if not isinstance(model, str | os.PathLike):
        raise TypeError(f"model must be a network, a bundled name or a file, not {model!r}")
    if str(model) in bundled_models():
        return load_bundled(str(model))
    if Path(model).exists():
        return load_model(model)
    raise ValueError(
        f"{str(model)!r} is neither bundled weights (napari-sr models lists them) nor an "
        "existing model file"
    )


def _is_fusion(network: nn.Module) -> bool:
    return network.spec.framework == "multiframe"


def _save_torchscript(network: nn.Module, record: dict, example: torch.Tensor, tmp: str) -> None:
    # TorchScript is deprecated in favour of torch.export, whose files no other tool reads
    # yet; the tracer's notes about shapes are checked by running the file at two sizes
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        traced = torch.jit.trace(network, (example,), check_trace=False)
        torch.jit.save(traced, tmp, _extra_files={TORCHSCRIPT_RECORD: json.dumps(record)})


def _torch_runner(module):
    def run(x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return module(torch.from_numpy(x)).numpy()

    return run


def _onnx_runner(path: str):
    """Runs the ONNX file with ONNX Runtime where installed, else with ONNX's reference
    evaluator (slow, but needs nothing beyond ``onnx``)."""
    try:
        import onnxruntime
    except ImportError:
        from onnx.reference import ReferenceEvaluator

        evaluator = ReferenceEvaluator(path)
        return lambda x: evaluator.run(None, {INPUT_NAME: x})[0]
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    return lambda x: session.run(None, {INPUT_NAME: x})[0]


@contextlib.contextmanager
def _quiet_exporter():
    """The exporter logs a warning per torchvision operator it skips and prints its steps;
    none of that matters to a user whose network exported."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                yield
    finally:
        logger.setLevel(level)
