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
CLI and the widgets alike. Learned methods live in :mod:`napari_sr.engine.learned`, imported
(with torch) only when one is used.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from ..models.bundled import DEFAULT_ARCHITECTURES
from ..resample import INTERPOLATION_METHODS, resize

if TYPE_CHECKING:  # pragma: no cover
    from .learned import ModelMethod

DEFAULT_METHOD = "bicubic"
"""What ``method=None`` means at a scale without a bundled quality default."""

DEFAULT_KINDS = tuple(DEFAULT_ARCHITECTURES)
"""``method=`` names of the bundled single-image defaults, ``'quality'`` and ``'fast'`` (see
:func:`napari_sr.models.bundled.default_model`)."""

CHECKPOINT_SUFFIXES = (".safetensors", ".pth", ".pt", ".ckpt")
"""File endings ``method=`` treats as a model file."""


class MethodFallbackWarning(UserWarning):
    """No method was given and no learned default is bundled for the scale, so bicubic
    interpolation ran; pass ``method='bicubic'`` to choose it explicitly (and silence this)."""


class DefaultMethod(NamedTuple):
    """What ``method=None`` runs at a scale (see :func:`default_method`).

    Attributes
    ----------
    name : str
        The method that runs: bundled weights such as ``'edsr_light_x2.sr291'``, or
        ``'bicubic'``. It is what provenance records.
    note : str
        Why, in words for a label or tooltip: ``'quality default'``, or the sentence of the
        :class:`MethodFallbackWarning` when no learned default is bundled for the scale.
    fallback : bool
        True when ``name`` is bicubic because no learned default is bundled for the scale.
    """

    name: str
    note: str
    fallback: bool


def default_method(scale: float | None) -> DefaultMethod:
    """The method that ``method=None`` (the default) runs at ``scale``, and why.

    One rule for the API, the CLI and the widgets: the bundled quality default where one
    is bundled for ``scale``, otherwise bicubic interpolation, said aloud (the API warns
    with :class:`MethodFallbackWarning`, the CLI prints the note, the widgets show it).

    Parameters
    ----------
    scale : float or None
        The upscaling factor; None (unknown) means bicubic, without a note.

    Returns
    -------
    DefaultMethod
        ``(name, note, fallback)``.

    Examples
    --------
    >>> from napari_sr.engine.methods import default_method
    >>> default_method(2.5).name
    'bicubic'
    """
    from ..models.bundled import default_model, default_scales

    if scale is None:
        return DefaultMethod(DEFAULT_METHOD, "no scale given: interpolation", False)
    name = default_model(scale)
    if name is not None:
        return DefaultMethod(name, "quality default", False)
    have = default_scales("quality")
    bundled = f"bundled: {', '.join(f'x{s}' for s in have)}" if have else "none is bundled"
    note = (f"no learned quality default is bundled for x{scale:g} ({bundled}), so "
            f"{DEFAULT_METHOD} interpolation ran; pass method={DEFAULT_METHOD!r} to choose "
            "it explicitly")  # fmt: skip
    return DefaultMethod(DEFAULT_METHOD, note, True)


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
    """Every name ``method=`` accepts: interpolations, the default kinds and the bundled
    weights (models are also passed as objects or files, architectures by name)."""
    from ..models.bundled import single_image_models

    return (*INTERPOLATION_METHODS, *DEFAULT_KINDS, *single_image_models())


def resolve_method(method: Any, scale: float | None = None) -> PlaneMethod | ModelMethod:
    """Look up ``method`` (None for the default) for upscaling by ``scale``.

    Parameters
    ----------
    method : None, str, path or torch.nn.Module
        See the module docstring.
    scale : float, optional
        The upscaling factor: picks the bundled default (None, ``'quality'``, ``'fast'``)
        or an architecture's bundled weights. Without it, None means bicubic.

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
    from ..models import bundled

    if method is None:
        default = default_method(scale)
        if default.fallback:  # said aloud: the user may have expected a learned model
            warnings.warn(default.note, MethodFallbackWarning, stacklevel=3)
        if default.name in INTERPOLATION_METHODS:
            return _interpolation(default.name)
        return _bundled(default.name)
    if isinstance(method, PlaneMethod):  # resolved already (the CLI resolves up front)
        return method
    torch = sys.modules.get("torch")  # a model object means torch is imported already
    if torch is not None:
        from .learned import ModelMethod, wrap_model

        if isinstance(method, ModelMethod):
            return method
        if isinstance(method, torch.nn.Module):
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
    if name in DEFAULT_KINDS:
        default = None if scale is None else bundled.default_model(scale, name)
        if default is None:
            raise ValueError(_no_default(name, scale))
        return _bundled(default)
    if name in bundled.bundled_models():
        return _bundled(name)
    from ..models.registry import list_models

    if name in list_models():
        return _bundled(_architecture_weights(name, scale))
    if Path(method).suffix.lower() in CHECKPOINT_SUFFIXES:
        return _load(Path(method))
    raise ValueError(
        f"unknown method {method!r}; available: {', '.join(available_methods())}, "
        f"a model file ({', '.join(CHECKPOINT_SUFFIXES)}) or a model object"
    )


def _no_default(kind: str, scale: float | None) -> str:
    """Why ``method=kind`` cannot run at ``scale``."""
    from ..models.bundled import default_scales

    if scale is None:
        return f"method={kind!r} needs the scale: its weights depend on it"
    have = default_scales(kind)
    if not have:
        return (f"this installation bundles no {kind} default (its weights are missing); "
                "reinstall napari-sr, or choose an interpolation such as 'bicubic'")  # fmt: skip
    return (f"no {kind} default is bundled for x{scale:g} (bundled: "
            f"{', '.join(f'x{s}' for s in have)}); choose one of those scales, or an "
            "interpolation such as method='bicubic'")  # fmt: skip


def _architecture_weights(architecture: str, scale: float | None) -> str:
    """The bundled weights that a registered architecture name stands for at ``scale``."""
    from ..models.bundled import DEFAULT_WEIGHTS, bundled_for
    from ..models.registry import REGISTRY

    if REGISTRY.spec(architecture).framework == "multiframe":
        raise ValueError(_fuses_frames(architecture))
    if scale is None:
        raise ValueError(
            f"method={architecture!r} needs the scale to pick its bundled weights; give the "
            "scale, or name the weights (napari-sr models lists them)"
        )
    at_scale = [] if scale is None else bundled_for(architecture, scale)
    if len(at_scale) > 1:  # several training sets: the defaults' one, if among them
        preferred = [n for n in at_scale if n.endswith(f".{DEFAULT_WEIGHTS}")]
        at_scale = preferred or at_scale
    if len(at_scale) == 1:
        return at_scale[0]
    if at_scale:
        raise ValueError(
            f"several bundled weights of {architecture!r} work at x{scale:g}: "
            f"{', '.join(at_scale)}; name one of them as the method"
        )
    others = bundled_for(architecture)
    where = f" (bundled for it: {', '.join(others)})" if others else ""
    raise ValueError(
        f"no pretrained weights of {architecture!r} are bundled at x{scale:g}{where}; pass a "
        f"checkpoint path instead (method='my_{architecture}.safetensors', a model file that "
        f"napari_sr.train or napari-sr train wrote) or, in Python, a trained model"
    )


def _fuses_frames(name: str) -> str:
    return (f"{name} is a multi-frame fusion network: it fuses the frames of a burst; run "
            "napari_sr.misr(frames, scale, method='learned') (napari-sr misr --method "
            "learned) instead of upscale")  # fmt: skip


def _bundled(name: str) -> ModelMethod:
    """Bundled weights ``name``, loaded, recorded under that name."""
    import dataclasses

    from ..models.bundled import bundled_path, is_multiframe

    if is_multiframe(name):
        raise ValueError(_fuses_frames(name))
    return dataclasses.replace(_load(bundled_path(name)), name=name)


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
