"""Turning ``method=`` into something that upscales planes.

``method`` is one of: an interpolation name of :mod:`napari_sr.resample`; a torch module
(from :func:`napari_sr.create_model`, :func:`napari_sr.models.checkpoint.load_model` or
training); or the path of a model file (``.safetensors``, ``.pth``, ``.pt``, ``.ckpt``),
loaded with :func:`~napari_sr.models.checkpoint.load_model`; the name of bundled weights
(``'edsr_light_x2.sr291'``, :func:`napari_sr.list_models` with ``pretrained=True``); a
registered architecture name, meaning its bundled weights for the scale asked for; or
``'quality'`` / ``'fast'``, the bundled single-image defaults for that scale.

None (the default) is the quality default where one is bundled for the scale, else bicubic
with a :class:`MethodFallbackWarning`; :func:`default_method` says which, for the API, the
CLI and the widgets alike. What each name is, and where it runs, is the table of
:mod:`napari_sr.engine.method_table`. Learned methods live in
:mod:`napari_sr.engine.learned`, imported (with torch) only when one is used.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..resample import resize
from .method_table import (
    DEFAULT_METHOD,
    DefaultMethod,
    available_methods,
    default_method,
    describe_method,
    is_fusion,
)

if TYPE_CHECKING:  # pragma: no cover
    from .learned import ModelMethod

__all__ = [
    "DEFAULT_METHOD",
    "DefaultMethod",
    "MethodFallbackWarning",
    "PlaneMethod",
    "available_methods",
    "default_method",
    "resolve_method",
]


class MethodFallbackWarning(UserWarning):
    """No method was given and no learned default is bundled for the scale, so bicubic
    interpolation ran; pass ``method='bicubic'`` to choose it explicitly (and silence this)."""


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

    @property
    def learned(self) -> bool:
        """False: an interpolation (:func:`~napari_sr.engine.method_table.is_learned`)."""
        return False


def resolve_method(
    method: Any, scale: float | None = None, *, stacklevel: int = 3
) -> PlaneMethod | ModelMethod:
    """Look up ``method`` (None for the default) for upscaling by ``scale``.

    What a name or path is, and why it cannot run at ``scale``, is the table's
    (:func:`~napari_sr.engine.method_table.describe_method`); this function loads it.

    Parameters
    ----------
    method : None, str, path or torch.nn.Module
        See the module docstring.
    scale : float, optional
        The upscaling factor: picks the bundled default (None, ``'quality'``, ``'fast'``)
        or an architecture's bundled weights. Without it, None means bicubic.
    stacklevel : int
        Of the fallback warning: 3 points at the caller of this function's caller.

    Returns
    -------
    PlaneMethod or ModelMethod
        An interpolation, or a learned model described by
        :class:`~napari_sr.engine.learned.ModelMethod`.

    Warns
    -----
    MethodFallbackWarning
        When ``method`` is None and no learned default is bundled for ``scale``: bicubic
        runs (:func:`default_method`).

    Raises
    ------
    ValueError
        For an unknown name (listing the known ones), a registered architecture or a
        default kind without bundled weights for ``scale``, or a model file that does not
        exist.
    TypeError
        For something that is neither a name, a path nor a model.
    """
    if method is None:
        default = default_method(scale)
        if default.fallback:  # said aloud: the user may have expected a learned model
            warnings.warn(default.note, MethodFallbackWarning, stacklevel=stacklevel)
        method = default.name
    if isinstance(method, PlaneMethod):  # resolved already (the CLI resolves up front)
        return method
    torch = sys.modules.get("torch")  # a model object means torch is imported already
    if torch is not None:
        from .learned import ModelMethod, wrap_model

        if isinstance(method, ModelMethod):
            return method
        if isinstance(method, torch.nn.Module):
            return wrap_model(method)
    info = describe_method(method, scale)  # unknown names and other types raise here
    if info.kind == "interpolation":
        return _interpolation(info.name)
    needs_scale = scale is None and info.kind in ("default", "architecture")
    if needs_scale and not is_fusion(info.name):
        raise ValueError(
            f"method={info.name!r} needs the scale: its weights depend on it"
            if info.kind == "default"
            else f"method={info.name!r} needs the scale to pick its bundled weights; give the "
            "scale, or name the weights (napari-sr models lists them)"
        )
    if info.kind == "bundled":  # at another scale, the model's own check says so
        if is_fusion(info.name):
            raise ValueError(info.reason)
        return _bundled(info.name)
    if info.reason is not None:
        raise ValueError(info.reason)
    if info.kind == "file":
        return _load(Path(info.name))
    return _bundled(info.runs)  # a default or an architecture: its weights at the scale


def _bundled(name: str) -> ModelMethod:
    """Bundled weights ``name``, loaded, recorded under that name."""
    import dataclasses

    from ..models.bundled import bundled_path

    return dataclasses.replace(_load(bundled_path(name)), name=name)


def _interpolation(name: str) -> PlaneMethod:
    def run(planes: np.ndarray, scale: float) -> np.ndarray:
        return resize(
            planes, {"Y": scale, "X": scale}, method=name, axes="TYX", dtype=planes.dtype
        )

    return PlaneMethod(name=name, run=run)


def _load(path: Path) -> ModelMethod:
    from ..models.checkpoint import load_model
    from .learned import wrap_model

    return wrap_model(load_model(path), checkpoint=str(path))
