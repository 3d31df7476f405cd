"""Where a model runs: the devices this machine has, and ``device=`` names resolved.

``device="auto"`` picks CUDA, then Apple MPS, then the CPU. This module imports torch; it
is only imported once a model is loaded or run (:mod:`napari_sr.engine.device` adds the
precision choice and the out-of-memory handling of inference).
"""

from __future__ import annotations

from typing import Any

import torch


def mps_available() -> bool:
    """True where PyTorch can use an Apple GPU (Metal Performance Shaders)."""
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def available_devices() -> list[str]:
    """Names of the devices this machine offers, CPU first, e.g. ``['cpu', 'cuda:0']``."""
    names = ["cpu"]
    if torch.cuda.is_available():
        names += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if mps_available():
        names.append("mps")
    return names


def resolve_device(device: Any = "auto") -> torch.device:
    """The :class:`torch.device` for ``device``.

    Parameters
    ----------
    device : str or torch.device
        ``'auto'`` (CUDA, then MPS, then CPU), ``'cpu'``, ``'cuda'``, ``'cuda:1'``,
        ``'mps'``, or a :class:`torch.device`.

    Raises
    ------
    ValueError
        For a device this machine does not have, naming the ones it has.
    TypeError
        For something that is not a device name.
    """
    if device is None or (isinstance(device, str) and device.strip().lower() == "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if mps_available() else torch.device("cpu")
    if not isinstance(device, str | torch.device):
        raise TypeError(
            f"device must be 'auto', a name such as 'cpu' or 'cuda:0', or a torch.device, "
            f"not {type(device).__name__}"
        )
    try:
        resolved = torch.device(device.strip().lower() if isinstance(device, str) else device)
    except (RuntimeError, ValueError):
        resolved = None
    ok = resolved is not None and (
        resolved.type == "cpu"
        or (
            resolved.type == "cuda"
            and torch.cuda.is_available()
            and (resolved.index is None or resolved.index < torch.cuda.device_count())
        )
        or (resolved.type == "mps" and mps_available())
    )
    if not ok:
        raise ValueError(
            f"device {str(device)!r} is not available on this machine; available: "
            f"{', '.join(['auto', *available_devices()])}"
        )
    return resolved
