"""Turning ``method=`` into something that upscales planes.

``method`` is one of: an interpolation name of :mod:`napari_sr.resample`; a torch module
(from :func:`napari_sr.create_model`, :func:`napari_sr.models.checkpoint.load_model` or
training); or the path of a model file (``.safetensors``, ``.pth``, ``.pt``, ``.ckpt``),
loaded with :func:`~napari_sr.models.checkpoint.load_model`. Registered architecture names
are recognised but have no bundled weights yet. Learned methods live in
:mod:`napari_sr.engine.learned`, imported (with torch) only when one is used.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..resample import INTERPOLATION_METHODS, resize

if TYPE_CHECKING:  # pragma: no cover
    from .learned import ModelMethod

DEFAULT_METHOD = "bicubic"
"""What ``method=None`` means: the best bundled default (bicubic until weights ship)."""

CHECKPOINT_SUFFIXES = (".safetensors", ".pth", ".pt", ".ckpt")
"""File endings ``method=`` treats as a model file."""


@dataclass(frozen=True)
class PlaneMethod:
    """A single-image SR method working on batches of float (Y, X) planes.

    Attributes
    ----------
    name : str
        Name recorded in provenance.
    run : callable
        ``run(planes, scale) -> planes`` on float32/float64 arrays of shape (N, Y, X).
    """

    name: str
    run: Callable[[np.ndarray, float], np.ndarray]


def available_methods() -> tuple[str, ...]:
    """Every interpolation name ``method=`` accepts (models are passed as objects or files)."""
    return INTERPOLATION_METHODS


def resolve_method(method: Any) -> PlaneMethod | ModelMethod:
    """Look up ``method`` (None for the default).

    Returns
    -------
    PlaneMethod or ModelMethod
        An interpolation, or a learned model described by
        :class:`~napari_sr.engine.learned.ModelMethod`.

    Raises
    ------
    ValueError
        For an unknown name (listing the known ones), a registered architecture without
        weights, or a model file that does not exist.
    TypeError
        For something that is neither a name, a path nor a model.
    """
    if method is None:
        method = DEFAULT_METHOD
    torch = sys.modules.get("torch")  # a model object means torch is imported already
    if torch is not None and isinstance(method, torch.nn.Module):
        from .learned import wrap_model

        return wrap_model(method)
    if isinstance(method, os.PathLike):
        return _load(Path(method))
    if not isinstance(method, str):
        raise TypeError(
            "method must be an interpolation name such as 'bicubic', a model file path or "
            f"a model (torch.nn.Module), not {type(method).__name__}"
        )
    name = method.strip().lower()
    if name in INTERPOLATION_METHODS:
        return _interpolation(name)
    from ..models.registry import list_models

    if name in list_models():
        raise ValueError(
            f"no pretrained weights are bundled for {name!r} yet; pass a checkpoint path "
            f"(method='my_{name}.safetensors') or a trained model (from napari_sr.train, or "
            f"napari_sr.create_model({name!r}, scale=...) after training) instead"
        )
    if Path(method).suffix.lower() in CHECKPOINT_SUFFIXES:
        return _load(Path(method))
    raise ValueError(
        f"unknown method {method!r}; available: {', '.join(available_methods())}, "
        f"a model file ({', '.join(CHECKPOINT_SUFFIXES)}) or a model object"
    )


def _interpolation(name: str) -> PlaneMethod:
    def run(planes: np.ndarray, scale: float) -> np.ndarray:
        return resize(
            planes, {"Y": scale, "X": scale}, method=name, axes="TYX", dtype=planes.dtype
        )

    return PlaneMethod(name=name, run=run)


def _load(path: Path) -> ModelMethod:
    if path.suffix.lower() not in CHECKPOINT_SUFFIXES:
        raise ValueError(
            f"method {str(path)!r} is not a model file; model files end in "
            f"{', '.join(CHECKPOINT_SUFFIXES)}"
        )
    if not path.is_file():
        raise ValueError(
            f"method {str(path)!r} looks like a model file but does not exist; check the path"
        )
    from ..models.checkpoint import load_model
    from .learned import wrap_model

    return wrap_model(load_model(path), checkpoint=str(path))
