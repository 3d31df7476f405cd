"""ONNX Runtime as the CPU backend of learned models (single-image and fusion networks).

On a CPU, ONNX Runtime's convolutions (MLAS) run some of napari-sr's networks faster than
PyTorch's oneDNN ones: the quality default's 32-feature 3×3 convolutions about 1.7×
(``benchmarks/defaults_speed.py``). When the optional ``onnxruntime`` is installed
(``pip install "napari-sr[onnx]"``) the engine runs a model's forward passes there — same
tiles, normalisation, self-ensemble and casting; the network in its inference form
(:mod:`.cpu_form`) with PReLU as :func:`prelu_as_scalings` — whenever

- the device is the CPU and the precision float32;
- a plane has at least :data:`MIN_PLANE_PIXELS` pixels and :data:`MIN_PLANE_SIDE` rows
  and columns (the export, seconds once per network, does not pay for small images);
- the network exports, its export equals PyTorch to 1e-4 at two sizes
  (:func:`napari_sr.models.export.check_export`), and it runs faster there than in PyTorch
  on this machine (timed once, on :data:`TIMING_TILES`); otherwise PyTorch runs, as always.

Each network is exported once per process and kept as a file in the cache folder
(``$NAPARI_SR_CACHE``, else ``$XDG_CACHE_HOME/napari-sr``, else ``~/.cache/napari-sr``)
named by a hash of its record, its weights and the library versions (or a marker saying
PyTorch runs it), so that the next process decides in milliseconds.
``NAPARI_SR_BACKEND=torch`` turns the backend off.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import importlib.util
import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from .._version import __version__
from .cpu_form import cpu_form

BACKEND_ENV = "NAPARI_SR_BACKEND"
"""``torch`` runs every model in PyTorch; unset (or ``auto``) uses ONNX Runtime where it
applies."""

CACHE_ENV = "NAPARI_SR_CACHE"

MIN_PLANE_PIXELS = 256 * 256
"""Smallest plane (input pixels) whose forward passes go to ONNX Runtime."""

MIN_PLANE_SIDE = 16
"""Narrowest plane (input pixels) whose forward passes go to ONNX Runtime: the exported
inference form assumes inputs wider than a folded tail's edge strips (:mod:`.cpu_form`)."""

TIMING_TILES = ((384, 384), (368, 384))
"""Inputs (rows, cols) on which ONNX Runtime and PyTorch are timed once per network (the
faster runs it from then on): the engine's CPU tile (``learned.CPU_TILE``) and a smaller
one, as the engine's tiles differ in size. Timing one input over and over misleads:
FSRCNN ×2 looked 10 % faster in ONNX Runtime on a repeated 384² input and ran 1.6× faster
in PyTorch on the 384² tiles of 1024² planes; a sequence of two sizes shows the latter."""

TIMING_ROUNDS = 2
"""Timed rounds over :data:`TIMING_TILES` per backend (after one warm-up round), the best
counted."""

FORM = 3
"""Version of what is exported (2: the inference form, :mod:`.cpu_form`; 3: PReLU as
:func:`prelu_as_scalings`); part of the cache key, so that networks exported in an older
form are exported again."""

IDLE_RELEASE_S = 2.0
"""Seconds after its last run that a session gives its working memory back."""

OnnxNetwork = Callable[[np.ndarray], np.ndarray]

KEPT = 8
"""Exported networks kept in memory (ONNX Runtime sessions), the latest used."""

_sessions: dict[tuple[str, int], OnnxNetwork | None] = {}
_lock = threading.Lock()


def backend_name() -> str:
    """``'onnxruntime X.Y.Z'`` (what provenance records)."""
    import onnxruntime

    return f"onnxruntime {onnxruntime.__version__}"


def wanted(device: torch.device, precision: str, plane: tuple[int, int]) -> bool:
    """Whether a run on ``device`` in ``precision`` over planes of ``plane`` (rows, cols)
    input pixels goes to ONNX Runtime, if the network exports."""
    choice = os.environ.get(BACKEND_ENV, "auto").strip().lower()
    if choice not in ("auto", "", "onnxruntime", "torch"):
        raise ValueError(
            f"{BACKEND_ENV}={choice!r} is not a backend: use 'torch' (PyTorch only) or unset "
            "it (ONNX Runtime on the CPU where installed)"
        )
    return (
        choice != "torch"
        and device.type == "cpu"
        and precision == "fp32"
        and plane[0] * plane[1] >= MIN_PLANE_PIXELS
        and min(plane) >= MIN_PLANE_SIDE
        and all(importlib.util.find_spec(name) for name in ("onnxruntime", "onnx", "onnxscript"))
    )


def network_for(model: torch.nn.Module, frames: int | None = None) -> OnnxNetwork | None:
    """``model``'s forward pass in ONNX Runtime (numpy float32 NCHW in and out), or None
    when it does not export faithfully or PyTorch runs it faster. A fusion network
    (multi-frame) is exported for ``frames`` frames. Kept, by the hash of its record and
    weights, for the process (the :data:`KEPT` latest) and on disk across processes."""
    from ..models.info import ModelInfo

    if not isinstance(getattr(model, "info", None), ModelInfo):
        return None  # a bare module: nothing says what it is
    threads = torch.get_num_threads()
    key = _cache_key(model, frames)
    with _lock:
        if (key, threads) not in _sessions:
            _sessions[key, threads] = _load_or_export(model, frames, key, threads)
            while len(_sessions) > KEPT:
                _sessions.pop(next(iter(_sessions)))
        return _sessions[key, threads]


def cache_folder() -> Path:
    """Where exported networks are kept."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "napari-sr"


def _load_or_export(
    model: torch.nn.Module, frames: int | None, key: str, threads: int
) -> OnnxNetwork | None:
    from ..models.export import (
        check_export,
        example_input,
        export_record,
        exportable,
        onnx_bytes,
    )

    folder = cache_folder() / "onnx"
    path, skip = folder / f"{key}.onnx", folder / f"{key}.torch"
    if skip.exists():  # did not export, or PyTorch was faster
        return None
    if path.exists():
        try:
            return _Network(path.read_bytes(), threads, *_shape(export_record(model, frames)))
        except Exception:  # a damaged cache file: export again
            path.unlink(missing_ok=True)
    try:
        form = cpu_form(model)  # what PyTorch would run, e.g. with a folded tail
        network, record = exportable(form, frames=frames)
        data = onnx_bytes(network, record, example_input(record, frames, 24, 24))
        data = prelu_as_scalings(data)
        run = _Network(data, threads, *_shape(record))
        check_export(network, run, record, frames, what="the ONNX Runtime export")
        faster = _faster_than_torch(form, run, record)
    except Exception:  # whatever fails, PyTorch runs, as without the backend
        faster = False
    if not faster:
        _remember(skip, lambda tmp: Path(tmp).write_text("PyTorch runs this network\n"))
        return None
    _remember(path, lambda tmp: Path(tmp).write_bytes(data))
    return run


def prelu_as_scalings(data: bytes) -> bytes:
    """The ONNX model ``data`` with every PReLU of constant per-channel slopes ``a`` written
    as ``(1 - a)·relu(x) + a·x``, the per-channel factors as BatchNormalization (mean 0,
    variance 1, ε 0): the same function to rounding.

    ONNX Runtime runs convolutions in a blocked channel layout (NCHWc) but has no blocked
    PReLU: each PReLU converts its input out of that layout and back, and PReLU with these
    conversions took ~40 % of HighRes-net's time. Relu, BatchNormalization (a per-channel
    scaling, which ONNX Runtime runs as a convolution) and Add stay in the blocked layout:
    HighRes-net's forward pass takes ~0.83 of its time this way on the developers' CPU.
    """
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load_from_string(data)
    graph = model.graph
    constants = {t.name: t for t in graph.initializer}
    nodes, added = [], []
    for node in graph.node:
        slope = constants.get(node.input[1]) if node.op_type == "PRelu" else None
        values = None if slope is None else numpy_helper.to_array(slope)
        if values is None or not _per_channel(values.shape):
            nodes.append(node)
            continue
        a = values.reshape(-1).astype(np.float32)
        x, name = node.input[0], node.output[0]
        names = {k: f"{name}__{k}" for k in ("relu", "pos", "neg", "a", "b", "zero", "one")}
        for key, value in (("a", a), ("b", 1 - a), ("zero", 0 * a), ("one", 1 + 0 * a)):
            added.append(numpy_helper.from_array(value, names[key]))
        statistics = [names["zero"], names["zero"], names["one"]]  # bias, mean, variance
        nodes += [
            helper.make_node("Relu", [x], [names["relu"]]),
            helper.make_node("BatchNormalization", [names["relu"], names["b"], *statistics],
                             [names["pos"]], epsilon=0.0),
            helper.make_node("BatchNormalization", [x, names["a"], *statistics],
                             [names["neg"]], epsilon=0.0),
            helper.make_node("Add", [names["pos"], names["neg"]], [name]),
        ]  # fmt: skip
    if not added:
        return data
    used = {name for node in nodes for name in node.input}
    kept = [t for t in graph.initializer if t.name in used]  # the slopes are gone
    del graph.node[:], graph.initializer[:]
    graph.node.extend(nodes)
    graph.initializer.extend(kept + added)
    return model.SerializeToString()


def _per_channel(shape: tuple[int, ...]) -> bool:
    """Whether a PReLU slope of ``shape`` broadcasts over the channels (axis 1) of NCHW."""
    return len(shape) in (3, 4) and shape[-2:] == (1, 1) and shape[:-3] in ((), (1,))


def _faster_than_torch(model: torch.nn.Module, run: OnnxNetwork, record: dict) -> bool:
    """Whether ONNX Runtime runs the :data:`TIMING_TILES` at least as fast as PyTorch does
    in the engine (channels-last, inference mode), rounds alternating, the best of
    :data:`TIMING_ROUNDS` each. Which wins depends on the network and the processor: on the
    developers' CPU, ONNX Runtime runs EDSR-light 1.3× faster, PyTorch FSRCNN 1.5× faster."""
    from ..models.export import example_input

    network = copy.deepcopy(model).float().cpu().eval().to(memory_format=torch.channels_last)
    inputs = [example_input(record, None, *shape) for shape in TIMING_TILES]
    arrays = [x.numpy() for x in inputs]
    inputs = [x.contiguous(memory_format=torch.channels_last) for x in inputs]
    seconds_torch, seconds_onnx = [], []
    with torch.inference_mode():
        for _ in range(1 + TIMING_ROUNDS):  # the first round warms up: allocations, kernels
            seconds_torch.append(_seconds(lambda: [network(x) for x in inputs]))
            seconds_onnx.append(_seconds(lambda: [run(x) for x in arrays]))
    return min(seconds_onnx[1:]) <= min(seconds_torch[1:])


def _seconds(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


class _Network:
    """An ONNX Runtime session as a function of a numpy batch, with its memory given back.

    ONNX Runtime keeps the memory of its largest run in an arena for the next one (the
    runs of one ``upscale`` call reuse it, as they would in PyTorch's allocator), but never
    returns it: after a 1024² plane of EDSR-light ×3 the process would hold ~7 GB. So
    :data:`IDLE_RELEASE_S` seconds after its last run the session runs once more on a tiny
    input with arena shrinkage on, which frees every chunk no run is using.
    """

    def __init__(self, data: bytes, threads: int, channels: int, multiple: int) -> None:
        import onnxruntime

        from ..models.export import INPUT_NAME

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads  # the same threads PyTorch would use
        options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(
            data, options, providers=["CPUExecutionProvider"]
        )
        self.name = INPUT_NAME
        self.shrink = onnxruntime.RunOptions()
        self.shrink.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
        side = max(8, multiple)
        self.tiny = np.zeros((1, channels, side, side), np.float32)
        self.lock = threading.Lock()
        self.timer: threading.Timer | None = None

    def __call__(self, x: np.ndarray) -> np.ndarray:
        with self.lock:
            if self.timer is not None:
                self.timer.cancel()
            y = self.session.run(None, {self.name: np.ascontiguousarray(x, np.float32)})[0]
            self.timer = threading.Timer(IDLE_RELEASE_S, self.release)
            self.timer.daemon = True
            self.timer.start()
        return y

    def release(self) -> None:
        """Give the arena's memory back (it grows again on the next run)."""
        with self.lock:
            self.session.run(None, {self.name: self.tiny}, self.shrink)


def _shape(record: dict) -> tuple[int, int]:
    """(channels, size multiple) of an exported network's input."""
    layout = record["exported"]
    return layout["input"]["channels"], layout["size_multiple"]


def _remember(path: Path, writer: Callable[[str], None]) -> None:
    """Write a cache entry; a cache that cannot be written only costs a later export."""
    from ..utils.atomic import atomic_write

    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, writer, overwrite=True)


def _cache_key(model: torch.nn.Module, frames: int | None = None) -> str:
    """A hash of what the export depends on: the record, the weights, the versions."""
    import onnx

    from ..models.export import OPSET, export_record

    digest = hashlib.sha256()
    versions = [__version__, torch.__version__, onnx.__version__, OPSET, FORM]
    record = export_record(model, frames)  # a fusion network's frames: its input channels
    digest.update(json.dumps([record, versions], sort_keys=True).encode())
    for name, tensor in model.state_dict().items():
        values = tensor.detach().cpu().contiguous()
        digest.update(f"{name}{tuple(values.shape)}{values.dtype}".encode())
        digest.update(values.numpy().tobytes())
    return digest.hexdigest()[:32]
