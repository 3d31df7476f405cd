"""The table of single-image methods: everything ``method=`` of :func:`napari_sr.upscale`
takes, what it is, and where it runs.

One module answers, for the API, the command line and the widgets alike:

- which methods there are (:func:`list_methods`): the interpolations, the bundled defaults
  by role (``'quality'``, ``'fast'``), the bundled single-image weights and the registered
  architectures (whose name means their bundled weights at the scale asked);
- what any value of ``method=`` is (:func:`describe_method`): its kind (interpolation,
  default, bundled weights, architecture, model file, model object), whether it is learned,
  the scales it runs at and, where it cannot run at the scale asked, why;
- which bundled weights each default role runs at each scale (:func:`bundled_defaults`,
  :func:`default_for`) and at which scales a role is bundled (:func:`default_scales`);
- which file endings are model files (:data:`MODEL_FILE_SUFFIXES`, :func:`is_model_file`).

It reads names only (the registry, the weights folder's file names): no torch, no weights.
:mod:`napari_sr.engine.methods` resolves a method through this table.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from ..models import bundled
from ..models.bundled import DEFAULT_ARCHITECTURES, DEFAULT_NETWORKS, DEFAULT_WEIGHTS
from ..models.checkpoint import MODEL_FILE_SUFFIXES
from ..models.registry import REGISTRY
from ..resample import INTERPOLATION_METHODS

__all__ = [
    "DEFAULT_METHOD",
    "DIFFUSION",
    "KINDS",
    "MODEL_FILE_SUFFIXES",
    "DefaultChoice",
    "DefaultMethod",
    "MethodInfo",
    "available_methods",
    "bundled_defaults",
    "choose_default",
    "default_for",
    "default_method",
    "default_roles",
    "default_scales",
    "describe_method",
    "is_fusion",
    "is_learned",
    "is_model_file",
    "list_methods",
    "model_file_filter",
    "noise_note",
    "requested_role",
    "single_image_weights",
]

DIFFUSION, DIFFUSION_ARCHITECTURE = "diffusion", "diffusion_unet"
"""``method='diffusion'``: the bundled weights of the diffusion denoiser for the scale."""

KINDS = ("interpolation", "default", "bundled", "architecture", "file", "model")
"""Kinds of single-image method: an interpolation of :func:`napari_sr.resize`; a bundled
default by role (``'quality'``, ``'fast'``); bundled weights by name
(``'edsr_light_x2.sr291'``); a registered architecture, meaning its bundled weights at the
scale asked; a model file; a model object."""


@dataclass(frozen=True)
class MethodInfo:
    """One single-image method, as :func:`list_methods` and :func:`describe_method` give it.

    Attributes
    ----------
    name : str
        What ``method=`` takes: the name, the path of a model file, or the class name of a
        model object.
    kind : str
        One of :data:`KINDS`.
    learned : bool
        Whether it runs a network (it needs torch, and takes ``device``, ``tile``,
        ``precision`` and ``self_ensemble``).
    scales : tuple of int, or None
        The scales it runs at; None: any scale > 0 (an interpolation), or not known
        without reading the file (a model file).
    reason : str or None
        Why it cannot run at the scale asked (or, without a scale, at all), in words for
        an error message or a tooltip; None when it can.
    runs : str or None
        The bundled weights it runs at the scale asked (a default or an architecture);
        None otherwise.
    description : str
        One line for menus and help texts.
    """

    name: str
    kind: str
    learned: bool
    scales: tuple[int, ...] | None = None
    reason: str | None = None
    runs: str | None = None
    description: str = ""

    @property
    def available(self) -> bool:
        """True when it can run (at the scale asked)."""
        return self.reason is None


# ---------------------------------------------------------------- model files


def is_model_file(path: str | os.PathLike) -> bool:
    """Whether ``path`` ends like a model file (:data:`MODEL_FILE_SUFFIXES`:
    ``.safetensors``, ``.pth``, ``.pt``, ``.ckpt``); the file is not opened."""
    return Path(path).suffix.lower() in MODEL_FILE_SUFFIXES


def model_file_filter() -> str:
    """The file-dialog filter of model files, e.g. ``'Model files (*.safetensors *.pth)'``."""
    return f"Model files ({' '.join('*' + s for s in MODEL_FILE_SUFFIXES)})"


# ------------------------------------------------------------ bundled defaults


def default_roles() -> tuple[str, ...]:
    """The roles of the bundled single-image defaults: ``('quality', 'fast', 'perceptual')``
    (the first is ``method=None``'s)."""
    return tuple(DEFAULT_ARCHITECTURES)


def default_for(
    role: str, scale: float, *, noisy: bool = False, camera: bool = False
) -> str | None:
    """The bundled weights that ``method=role`` runs at ``scale`` on a clean 8-bit input (on
    a noisy one with ``noisy``, a clean one of another dtype with ``camera``: see
    :func:`choose_default`), or None where none are bundled (a ValueError for an unknown
    role)."""
    return bundled.default_model(scale, role, noisy=noisy, camera=camera)


class DefaultChoice(NamedTuple):
    """Which weights a default role runs on one image (see :func:`choose_default`).

    Attributes
    ----------
    name : str
        The bundled weights that run.
    noise : float
        The image's relative noise (:func:`napari_sr.noise.relative_noise`).
    noisy : bool
        Whether that is above ``threshold``.
    threshold : float
        :func:`~napari_sr.models.bundled.noise_threshold` of the scale.
    dtype : str
        The input's dtype; only :data:`~napari_sr.models.bundled.PROTOCOL_DTYPE` inputs
        that are not noisy run the bicubic-protocol weights.
    """

    name: str
    noise: float
    noisy: bool
    threshold: float
    dtype: str


def requested_role(method: Any) -> str | None:
    """The default role that ``method`` asks for: None asks for the first (``'quality'``),
    a role's name for that role; anything else for none."""
    if method is None:
        return default_roles()[0]
    if isinstance(method, str) and method.strip().lower() in default_roles():
        return method.strip().lower()
    return None


def choose_default(
    role: str, scale: float, image: Any, axes: str | None = None, *, protocol: bool = False
) -> DefaultChoice | None:
    """The weights of default ``role`` for ``image`` at ``scale``, chosen by its noise and
    dtype.

    The bicubic-protocol weights (``*.sr291``) recover detail best from inputs made as the
    SR benchmarks make them: 8-bit, noise-free, bicubic-downscaled. They sharpen noise as if
    it were detail, and do not undo the blur of a microscope's optics; the weights trained
    on random microscope degradations (``*.microscope``) do both. So the protocol weights
    run on clean 8-bit inputs only: the image's noise is estimated
    (:func:`napari_sr.noise.relative_noise`) and the microscope weights run above
    :func:`~napari_sr.models.bundled.noise_threshold` of ``scale``, and on every input of
    another dtype (:data:`~napari_sr.models.bundled.PROTOCOL_DTYPE`), except where they
    learnt noisy inputs only (:data:`~napari_sr.models.bundled.NOISY_ONLY`).

    Parameters
    ----------
    role, scale, image, axes
        The default role, the scale, the input and its axes.
    protocol : bool
        The caller made ``image`` by the bicubic protocol itself (``compare`` does): then
        only its noise counts, whatever its dtype.

    Returns
    -------
    DefaultChoice or None
        None where the role has no weights at ``scale`` (the caller says what runs then).
    """
    import numpy as np

    from ..image import Image
    from ..noise import relative_noise

    if default_for(role, scale) is None:
        return None
    noise = relative_noise(image, axes)
    threshold = bundled.noise_threshold(scale)
    noisy = noise > threshold
    data = image.data if isinstance(image, Image) else image  # (an ndarray's .data is a buffer)
    dtype = getattr(data, "dtype", None)
    dtype = str(np.asarray(data).dtype if dtype is None else np.dtype(dtype))
    camera = not (protocol or dtype == bundled.PROTOCOL_DTYPE)
    name = default_for(role, scale, noisy=noisy, camera=camera)
    return DefaultChoice(name, noise, noisy, threshold, dtype)


def noise_note(record: dict) -> str:
    """Why a default ran the weights it ran, in words, from the ``'default'`` record of
    :func:`~napari_sr.upscale`'s provenance (for the CLI's line and the widgets' note)."""
    noise, threshold = 100 * record["relative_noise"], 100 * record["threshold"]
    if record["weights"].endswith(f".{bundled.PERCEPTUAL_WEIGHTS}"):
        level = f"noise {noise:.1f} % of the range"
        warning = "; it may turn part of the noise into texture" if record["noisy"] else ""
        return f"{level}: the perceptual weights synthesise texture on every input{warning}"
    robust = record["weights"].endswith(f".{bundled.NOISY_WEIGHTS}")
    dtype = record.get("dtype", bundled.PROTOCOL_DTYPE)
    if record["noisy"]:
        said = f"noisy input: noise {noise:.1f} % of the range > {threshold:g} %"
        missing = ", but no noise-trained weights are bundled at this scale"
        return said if robust else said + missing
    level = f"noise {noise:.1f} % of the range <= {threshold:g} %"
    if dtype == bundled.PROTOCOL_DTYPE:
        return f"clean input: {level}"
    said = f"clean {dtype} input (not 8-bit as in the bicubic protocol): {level}"
    if robust:
        return said
    if bundled.noise_trained(record["weights"]) in bundled.NOISY_ONLY:
        return f"{said}; the microscope-trained weights at this scale are for noisy inputs"
    return f"{said}; no microscope-trained weights are bundled at this scale"


def default_scales(role: str = "quality") -> list[int]:
    """The scales at which the default ``role`` is bundled."""
    return bundled.default_scales(role)


def bundled_defaults() -> dict[str, dict[int, str]]:
    """Role → scale → bundled weights of every single-image default, e.g.
    ``{'quality': {2: 'edsr_light_x2.sr291', ...}, 'fast': {...}}``."""
    return {
        role: {s: bundled.default_model(s, role) for s in bundled.default_scales(role)}
        for role in default_roles()
    }


DEFAULT_METHOD = "bicubic"
"""What ``method=None`` means at a scale without a bundled quality default."""


class DefaultMethod(NamedTuple):
    """What ``method=None`` runs at a scale (see :func:`default_method`).

    Attributes
    ----------
    name : str
        The method that runs: bundled weights such as ``'edsr_light_x2.sr291'``, or
        ``'bicubic'``. It is what provenance records.
    note : str
        Why, in words for a label or tooltip: ``'quality default'``, or the sentence of the
        :class:`~napari_sr.engine.methods.MethodFallbackWarning` when no learned default is
        bundled for the scale.
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
    with :class:`~napari_sr.engine.methods.MethodFallbackWarning`, the CLI prints the note,
    the widgets show it).

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
    >>> from napari_sr.engine.method_table import default_method
    >>> default_method(2.5).name
    'bicubic'
    """
    if scale is None:
        return DefaultMethod(DEFAULT_METHOD, "no scale given: interpolation", False)
    role = default_roles()[0]
    name = default_for(role, scale)
    if name is not None:
        return DefaultMethod(name, f"{role} default", False)
    have = default_scales(role)
    bundled_at = f"bundled: {', '.join(f'x{s}' for s in have)}" if have else "none is bundled"
    note = (f"no learned {role} default is bundled for x{scale:g} ({bundled_at}), so "
            f"{DEFAULT_METHOD} interpolation ran; pass method={DEFAULT_METHOD!r} to choose "
            "it explicitly")  # fmt: skip
    return DefaultMethod(DEFAULT_METHOD, note, True)


def _default_description(role: str) -> str:
    scales = ", ".join(f"x{s}" for s in default_scales(role)) or "none bundled"
    network = DEFAULT_NETWORKS[DEFAULT_ARCHITECTURES[role]]
    if bundled.ROLE_WEIGHTS[role] == bundled.PERCEPTUAL_WEIGHTS:
        return (f"{role}: {network} fine-tuned adversarially on the 291-image set to "
                f"synthesise texture ({scales}); for pictures, not measurement")  # fmt: skip
    note = " (the default)" if role == default_roles()[0] else ""
    noisy = [s for s in default_scales(role)
             if default_for(role, s, noisy=True) != default_for(role, s)]  # fmt: skip
    also = ""
    if noisy:
        also = (f"; on noisy inputs, fine-tuned on microscope degradations "
                f"({', '.join(f'x{s}' for s in noisy)})")  # fmt: skip
    return f"{role}{note}: {network} trained on the 291-image set ({scales}){also}"


# -------------------------------------------------------------- bundled weights


def is_fusion(name: str) -> bool:
    """Whether ``name`` (an architecture or bundled weights) is a multi-frame fusion
    network, which :func:`napari_sr.misr` runs rather than ``upscale``."""
    if name in REGISTRY:
        return REGISTRY.spec(name).framework == "multiframe"
    return bundled.is_multiframe(name)


def single_image_weights() -> list[str]:
    """Names of the bundled weights that ``upscale`` runs (fusion networks left out)."""
    return [name for name in bundled.bundled_models() if not is_fusion(name)]


def _fuses_frames(name: str) -> str:
    return (f"{name} is a multi-frame fusion network: it fuses the frames of a burst; run "
            "napari_sr.misr(frames, scale, method='learned') (napari-sr misr --method "
            "learned) instead of upscale")  # fmt: skip


# ------------------------------------------------------------------- the table


def list_methods(scale: float | None = None) -> list[MethodInfo]:
    """Every single-image method by name, with whether it runs at ``scale`` and why not.

    Parameters
    ----------
    scale : float, optional
        The upscaling factor asked; without it, ``reason`` says why a method cannot run
        at any scale (e.g. an architecture without bundled weights).

    Returns
    -------
    list of MethodInfo
        The interpolations, the bundled defaults by role, the bundled single-image
        weights, then the registered single-image architectures (model files and objects
        are described by :func:`describe_method`).

    Examples
    --------
    >>> from napari_sr.engine.method_table import list_methods
    >>> [m.name for m in list_methods(2) if m.kind == "interpolation"][:2]
    ['nearest', 'bilinear']
    """
    names = [
        *INTERPOLATION_METHODS,
        *default_roles(),
        *single_image_weights(),
        *(n for n in REGISTRY.names() if REGISTRY.spec(n).single_image),
    ]
    return [describe_method(name, scale) for name in names]


def describe_method(method: Any, scale: float | None = None) -> MethodInfo:
    """What ``method`` (anything ``upscale``'s ``method=`` takes, None for the default) is,
    and whether it runs at ``scale``.

    Raises
    ------
    ValueError
        An unknown name (the message lists the known ones).
    TypeError
        Something that is neither a name, a path nor a model.
    """
    if method is None:
        return describe_method(default_method(scale).name, scale)
    learned = getattr(method, "learned", None)  # resolved already: PlaneMethod, ModelMethod
    if isinstance(learned, bool) and hasattr(method, "name"):
        kind = "model" if learned else "interpolation"
        return MethodInfo(method.name, kind, learned, _own_scales(method))
    if _is_module(method):
        name = type(method).__name__
        return MethodInfo(name, "model", True, _own_scales(method), description="a model")
    if isinstance(method, os.PathLike):
        return _file(os.fspath(method), scale)
    if not isinstance(method, str):
        raise TypeError(
            "method must be an interpolation name such as 'bicubic', a model file path or "
            f"a model (torch.nn.Module), not {type(method).__name__}"
        )
    name = method.strip().lower()
    if name in INTERPOLATION_METHODS:
        return MethodInfo(name, "interpolation", False, description=f"{name} interpolation")
    if name in default_roles():
        return _default(name, scale)
    if name in bundled.bundled_models():
        return _bundled(name, scale)
    if name in REGISTRY:
        return _architecture(name, scale)
    if name == DIFFUSION:
        info = _architecture(DIFFUSION_ARCHITECTURE, scale)
        words = "diffusion SR: its bundled weights for the scale, sampled"
        return dataclasses.replace(info, name=DIFFUSION, description=words)
    if is_model_file(method):
        return _file(method, scale)
    raise ValueError(
        f"unknown method {method!r}; available: {', '.join(available_methods())}, a model file "
        f"({', '.join(MODEL_FILE_SUFFIXES)}) or a model object"
    )


def is_learned(method: Any) -> bool:
    """Whether ``method`` runs a network (see :func:`describe_method`): the options
    ``device``, ``tile``, ``precision`` and ``self_ensemble`` apply to it."""
    return describe_method(method).learned


def available_methods() -> tuple[str, ...]:
    """Every name ``method=`` accepts but architectures: interpolations, the default roles
    and the bundled single-image weights (models are also passed as objects or files)."""
    return (*INTERPOLATION_METHODS, *default_roles(), DIFFUSION, *single_image_weights())


def _default(role: str, scale: float | None) -> MethodInfo:
    have = default_scales(role)
    runs = None if scale is None else default_for(role, scale)
    reason = None
    if not have:
        reason = (f"this installation bundles no {role} default (its weights are missing); "
                  "reinstall napari-sr, or choose an interpolation such as 'bicubic'")  # fmt: skip
    elif scale is not None and runs is None:
        reason = (f"no {role} default is bundled for x{scale:g} (bundled: "
                  f"{', '.join(f'x{s}' for s in have)}); choose one of those scales, or an "
                  "interpolation such as method='bicubic'")  # fmt: skip
    return MethodInfo(role, "default", True, tuple(have), reason, runs,
                      _default_description(role))  # fmt: skip


def _bundled(name: str, scale: float | None) -> MethodInfo:
    parts = bundled.parse_name(name)
    scales = None if parts is None else (parts[1],)
    reason = None
    if is_fusion(name):
        reason = _fuses_frames(name)
    elif scale is not None and scales is not None and float(scale) != scales[0]:
        reason = f"bundled for x{scales[0]} only"
    description = "bundled weights" if parts is None else (
        f"{parts[0]} at x{parts[1]} trained on {parts[2]} (bundled)")  # fmt: skip
    return MethodInfo(name, "bundled", True, scales, reason, None, description)


def _architecture(name: str, scale: float | None) -> MethodInfo:
    """An architecture name: its bundled weights at ``scale``."""
    weights = bundled.bundled_for(name)
    scales = tuple(sorted({p[1] for p in map(bundled.parse_name, weights) if p}))
    description = f"{name} with its bundled weights for the scale"
    if is_fusion(name):
        return MethodInfo(name, "architecture", True, scales, _fuses_frames(name), None,
                          description)  # fmt: skip
    fix = (
        f"pass a checkpoint path instead (method='my_{name}.safetensors', a model file "
        "that napari_sr.train or napari-sr train wrote) or, in Python, a trained model"
    )
    if scale is None:
        reason = None if weights else f"no pretrained weights of {name!r} are bundled; {fix}"
        return MethodInfo(name, "architecture", True, scales, reason, None, description)
    at_scale = [] if not float(scale).is_integer() else bundled.bundled_for(name, int(scale))
    if len(at_scale) > 1:  # several training sets: the defaults' one, if among them
        preferred = [n for n in at_scale if n.endswith(f".{DEFAULT_WEIGHTS}")]
        at_scale = preferred or at_scale
    if len(at_scale) == 1:
        return MethodInfo(name, "architecture", True, scales, None, at_scale[0], description)
    if at_scale:
        reason = (f"several bundled weights of {name!r} work at x{scale:g}: "
                  f"{', '.join(at_scale)}; name one of them as the method")  # fmt: skip
    else:
        where = f" (bundled for it: {', '.join(weights)})" if weights else ""
        reason = f"no pretrained weights of {name!r} are bundled at x{scale:g}{where}; {fix}"
    return MethodInfo(name, "architecture", True, scales, reason, None, description)


def _file(path: str, scale: float | None) -> MethodInfo:
    path = str(Path(path))
    if not is_model_file(path):
        reason = (f"method {path!r} is not a model file; model files end in "
                  f"{', '.join(MODEL_FILE_SUFFIXES)}")  # fmt: skip
    elif not Path(path).is_file():
        reason = f"method {path!r} looks like a model file but does not exist; check the path"
    else:
        reason = None
    return MethodInfo(path, "file", True, None, reason, None, "a model file")


def _is_module(method: Any) -> bool:
    torch = sys.modules.get("torch")  # a model object means torch is imported already
    return torch is not None and isinstance(method, torch.nn.Module)


def _own_scales(method: Any) -> tuple[int, ...] | None:
    scale = getattr(method, "scale", None)
    return (int(scale),) if isinstance(scale, int) and not isinstance(scale, bool) else None
