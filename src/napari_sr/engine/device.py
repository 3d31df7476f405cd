"""Where a model runs and in which number format: device choice and precision.

``device="auto"`` picks CUDA, then Apple MPS, then the CPU. Precision ``None`` picks
bfloat16 on CUDA GPUs that support it and float16 on other CUDA GPUs, for models whose
descriptor says half precision is safe, and float32 everywhere else. Half precision runs
under :func:`torch.autocast`, so the weights stay float32 and numerically delicate
operations (reductions, normalisations) stay in float32 too.

This module imports torch; it is only imported once a learned model is used.
"""

from __future__ import annotations

import contextlib
import itertools
import warnings
from collections.abc import Iterator
from typing import Any

import torch

# device choice lives in the bottom layer (model files resolve devices too); re-exported here
from ..utils.device import available_devices, mps_available, resolve_device

__all__ = [
    "PRECISIONS",
    "autocast",
    "available_devices",
    "free_cached_memory",
    "is_out_of_memory",
    "mps_available",
    "resolve_device",
    "resolve_precision",
]

PRECISIONS = ("fp32", "bf16", "fp16")
"""Precision names ``upscale(precision=...)`` accepts (plus the aliases below)."""

_ALIASES = {
    "fp32": "fp32",
    "float32": "fp32",
    "float": "fp32",
    "bf16": "bf16",
    "bfloat16": "bf16",
    "fp16": "fp16",
    "float16": "fp16",
    "half": "fp16",
}
_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_precision(precision: Any, device: torch.device, *, half_safe: bool) -> str:
    """The precision name (``'fp32'``, ``'bf16'`` or ``'fp16'``) to run a model in.

    Parameters
    ----------
    precision : str, torch.dtype or None
        None for automatic: on CUDA bf16 if ``half_safe`` and the GPU supports bf16, else
        fp16 if ``half_safe``, else fp32; on CPU and MPS fp32. Explicit names (and
        ``'float32'``, ``'bfloat16'``, ``'float16'``, ``'half'``, torch dtypes) are taken
        as given, with a warning where the model is not marked safe in half precision.
    device : torch.device
        Where the model runs.
    half_safe : bool
        The model descriptor's ``half_precision_safe``.

    Raises
    ------
    ValueError
        For an unknown name, or fp16 on the CPU (slow and poorly supported there; bf16
        works).
    """
    if precision is None:
        if device.type == "cuda" and half_safe:
            return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        return "fp32"
    if isinstance(precision, torch.dtype):
        names = {v: k for k, v in _DTYPES.items()}
        name = names.get(precision)
    else:
        name = _ALIASES.get(str(precision).strip().lower())
    if name is None:
        raise ValueError(
            f"precision {precision!r} is not supported; use None (automatic), "
            f"{', '.join(repr(p) for p in PRECISIONS)}"
        )
    if name == "fp16" and device.type == "cpu":
        raise ValueError(
            "precision 'fp16' is not supported on the CPU; use precision='bf16' or 'fp32' "
            "there, or a GPU device"
        )
    if name != "fp32" and not half_safe:
        warnings.warn(
            f"this model is not marked safe in half precision; {name} may overflow or lose "
            "detail (precision='fp32' is the safe choice)",
            stacklevel=4,
        )
    return name


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """A context in which ``precision`` applies to the forward pass on ``device``."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=_DTYPES[precision])


def is_out_of_memory(error: BaseException) -> bool:
    """True for a GPU out-of-memory error (CUDA's typed one, or MPS's RuntimeError)."""
    if isinstance(error, torch.cuda.OutOfMemoryError):
        return True
    return isinstance(error, RuntimeError) and "MPS backend out of memory" in str(error)


def free_cached_memory(device: torch.device) -> None:
    """Give the allocator's cached blocks back after an out-of-memory error."""
    if device.type == "cuda":
        torch.cuda.empty_cache()
    elif device.type == "mps" and hasattr(torch, "mps"):
        torch.mps.empty_cache()


@contextlib.contextmanager
def placed(model: torch.nn.Module, device: torch.device) -> Iterator[None]:
    """The model on ``device`` in eval mode, put back where and how it was afterwards."""
    first = next(itertools.chain(model.parameters(), model.buffers()), None)
    home = first.device if first is not None else None
    training = model.training
    # channels-last (NHWC) runs oneDNN's and cuDNN's fastest convolutions: ~1.5x on EDSR
    # on a CPU (benchmarks/inference.py)
    model.to(device, memory_format=torch.channels_last)
    model.eval()
    try:
        yield
    finally:
        model.to(memory_format=torch.contiguous_format)
        if home is not None:
            model.to(home)
        model.train(training)
