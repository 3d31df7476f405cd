"""How much memory a model's forward pass needs, and how much the engine may use.

The working memory of a convolutional network grows with the number of pixels it sees, at
a rate set by its widest feature maps, skip connections, concatenations and attention
windows, which no formula over the descriptor captures for every architecture. So it is
measured: a *probe* runs the model on two tiny inputs (8² and 16² pixels, rounded up to the
size multiple; larger probes give the same slopes) under a
:class:`torch.overrides.TorchFunctionMode` that adds up the bytes of every tensor the
forward pass creates, subtracts them when they are freed, and records the peak. The two
peaks give a fixed part (weight copies made by autocast, say) and a part per input pixel.
The estimate for a tile is that line times :data:`SAFETY`, which covers what the probe
does not see: convolution workspaces and allocator slack (measured CPU peaks of FSRCNN,
ESPCN, SRCNN, VDSR, EDSR-baseline and CARN on 512² inputs were 1.05 to 1.7 times the
probe's live-tensor peak). The probe runs once per model, device and precision and is
cached while the model lives.

Budgets: on the CPU (and MPS, whose memory is the host's) the engine keeps its working
memory, the model's and its own buffers together, under :data:`HOST_BUDGET` (by default a
quarter of the available memory, at least 1 GiB; never more than half of it). On CUDA the
model may use :data:`CUDA_FRACTION` of the GPU's free memory, and the engine's host
buffers stay under the host budget.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import torch
from torch.overrides import TorchFunctionMode

from ..utils.memory import available_memory
from .device import autocast
from .tiling import round_up

HOST_BUDGET: int | None = None
"""Bytes of working memory (beyond the input and output arrays) the engine may use on the
host: model activations on CPU, tiles, blending bands. None: a quarter of the available
memory, at least :data:`MIN_HOST_BUDGET` (and never more than half of what is available).
Whole planes run faster than overlapping tiles (EDSR-light ×2 on a 1024² plane needs
~2.7 GB: tiled into 1 GiB it computes 1.4× the pixels)."""

MIN_HOST_BUDGET = 2**30

CUDA_FRACTION = 0.8
"""Share of a CUDA GPU's free memory a forward pass may plan to use."""

SAFETY = 2.0
"""Factor between the probe's live-tensor peak and the memory planned for a forward pass."""

PROBE_SIDES = (8, 16)
"""Edges, in input pixels, of the two probe inputs."""

_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class Footprint:
    """Peak bytes of tensors alive during one forward pass, as a line in the pixel count.

    Attributes
    ----------
    fixed : float
        Bytes independent of the input size.
    per_pixel : float
        Bytes per input pixel (Y × X) of one batch item with all its channels.
    """

    fixed: float
    per_pixel: float

    def planned(self, pixels: int) -> int:
        """Bytes to plan for a forward pass over ``pixels`` input pixels (batch included),
        with the safety factor."""
        return int(SAFETY * (self.fixed + self.per_pixel * pixels))


class _LiveTensorBytes(TorchFunctionMode):
    """Adds up the storage bytes of tensors created by torch functions while active,
    frees them when their last tracked tensor dies, and keeps the peak."""

    def __init__(self) -> None:
        super().__init__()
        self._live: dict[int, list[int]] = {}  # storage pointer -> [bytes, tracked tensors]
        self.current = 0
        self.peak = 0

    def _release(self, key: int) -> None:
        entry = self._live.get(key)
        if entry is not None:
            entry[1] -= 1
            if entry[1] == 0:
                self.current -= entry[0]
                del self._live[key]

    def _track(self, value) -> None:
        if isinstance(value, torch.Tensor):
            try:
                storage = value.untyped_storage()
                key, nbytes = storage.data_ptr(), storage.nbytes()
            except (RuntimeError, NotImplementedError):  # tensors without plain storage
                return
            entry = self._live.get(key)
            if entry is None:
                entry = self._live[key] = [nbytes, 0]
                self.current += nbytes
                self.peak = max(self.peak, self.current)
            entry[1] += 1
            weakref.finalize(value, self._release, key)
        elif isinstance(value, tuple | list):
            for item in value:
                self._track(item)

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        self._track(out)
        return out


def _peak(model: torch.nn.Module, side: int, channels: int, device, precision: str) -> int:
    x = torch.rand(1, channels, side, side, device=device)
    with torch.inference_mode(), autocast(device, precision):
        counter = _LiveTensorBytes()
        with counter:
            out = model(x)
        del out
    return counter.peak


def measure(
    model: torch.nn.Module, *, channels: int, multiple: int, device, precision: str
) -> Footprint:
    """The :class:`Footprint` of ``model`` on ``device`` in ``precision`` (cached).

    The model must already be on ``device`` and in eval mode.
    """
    key = (str(device), precision, channels)
    per_model = _CACHE.setdefault(model, {})
    if key not in per_model:
        small = round_up(PROBE_SIDES[0], multiple)
        large = max(round_up(PROBE_SIDES[1], multiple), 2 * small)
        low = _peak(model, small, channels, device, precision)
        high = _peak(model, large, channels, device, precision)
        per_pixel = max(high - low, 0) / (large**2 - small**2)
        fixed = max(low - per_pixel * small**2, 0.0)
        # a model whose tensors the probe cannot see still gets a plausible estimate
        per_pixel = max(per_pixel, 64.0 * channels)
        per_model[key] = Footprint(fixed, per_pixel)
    return per_model[key]


def host_budget() -> int:
    """Bytes the engine may use on the host: :data:`HOST_BUDGET` (by default a quarter of
    the available memory, at least :data:`MIN_HOST_BUDGET`), or half of the available
    memory when that is less."""
    available = available_memory()
    budget = HOST_BUDGET
    if budget is None:
        budget = MIN_HOST_BUDGET if available is None else max(MIN_HOST_BUDGET, available // 4)
    return budget if available is None else max(1, min(budget, available // 2))


def device_budget(device: torch.device) -> int | None:
    """Bytes a forward pass may use on a GPU (None on CPU and MPS, where the host budget
    covers everything)."""
    if device.type != "cuda":
        return None
    free, _ = torch.cuda.mem_get_info(device)
    # memory PyTorch holds in its cache is free for our tensors too
    cached = torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
    return int(CUDA_FRACTION * (free + cached))
