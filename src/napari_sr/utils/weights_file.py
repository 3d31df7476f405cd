"""Reading a state dict of network weights that a user gives, without running code."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def read_state_dict(path: str | os.PathLike, what: str) -> dict[str, Any]:
    """The tensors of a weights file: ``.safetensors``, or a PyTorch file read with
    ``torch.load(weights_only=True)`` (a pickle that would run code is refused). A
    ``{"state_dict": {...}}`` wrapper is unwrapped.

    Parameters
    ----------
    path : path-like
        The file.
    what : str
        What it should hold, for the messages ("VGG19 weights").

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        A file that cannot be read this way, or that holds no dict.
    """
    import torch

    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(
            f"no such file {str(file)!r} ({what}); give the path of the file: napari-sr "
            "downloads nothing"
        )
    if file.suffix.lower() == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(file))
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as err:  # a pickle with code in it, or not a torch file at all
        raise ValueError(
            f"cannot read {str(file)!r} as {what} with weights_only=True ({err}); give a "
            "plain state dict (.pth) or a .safetensors file"
        ) from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ValueError(f"{str(file)!r} holds a {type(state).__name__}, not a state dict")
    return state
