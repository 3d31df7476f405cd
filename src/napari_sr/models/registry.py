"""The model registry: names, what each model is, and how to build it.

Every architecture is one :class:`ModelSpec` line in :data:`REGISTRY` (see
``_catalogue.py``): its name, the ``module:Class`` that builds it, and a descriptor of what
the inference engine and the user need to know (scales, channels, size multiple, whether
tiling and half precision are safe, the upsampling framework, the paper). Building a model
imports only its family's module.
"""

from __future__ import annotations

import fnmatch
import importlib
from dataclasses import dataclass, field
from typing import Any

FRAMEWORKS = ("pre", "post", "progressive", "iterative", "restoration", "multiframe")
"""Where upsampling happens: before the network (on an interpolated input), at its end,
in stages, or by repeated up/down projection; or nowhere: a same-size restoration network
(scale 1) that restores an image already interpolated to the target grid. ``multiframe``
networks fuse several frames of one scene (input ``(B, frames, H, W)``); they run through
:func:`napari_sr.misr`, not :func:`napari_sr.upscale`."""

HYPERPARAMETER_FIELDS = ("halo", "size_multiple")
"""Descriptor fields a built model may set as attributes of its own when they depend on its
hyperparameters (a U-Net's depth sets both); :func:`create_model` puts them in its spec."""


class UnknownModelError(ValueError):
    """No model of that name is registered."""


class DuplicateModelError(ValueError):
    """A model of that name is already registered."""


@dataclass(frozen=True)
class ModelSpec:
    """Descriptor of a registered architecture.

    Attributes
    ----------
    name : str
        Registry name, lower case, e.g. ``"edsr_baseline"``.
    builder : str
        ``"module:Class"`` inside :mod:`napari_sr.models`; the class takes keyword-only
        hyperparameters including ``scale`` and ``in_channels``.
    framework : {'pre', 'post', 'progressive', 'iterative', 'restoration', 'multiframe'}
        Upsampling framework (Wang, Chen & Hoi 2020, "Deep learning for image SR: a survey"),
        or ``'restoration'``: a same-size network (output as large as its input) that
        restores an already-interpolated image, for self-supervised SR (isotropic
        reconstruction, zero-shot SR) that interpolates first; its only scale is 1; or
        ``'multiframe'``: a fusion network whose input channels are the frames of a burst.
    scales : tuple of int
        Scales the architecture supports.
    paper : str
        Reference with DOI or arXiv id.
    size_multiple : int
        Input height and width must be multiples of this (the engine pads and crops). At
        the paper's defaults; a model whose multiple depends on its hyperparameters has a
        ``size_multiple`` attribute, which :func:`create_model` puts in its spec.
    tiling_safe : bool
        Output depends on a bounded neighbourhood only, so tiles with a halo reproduce the
        untiled result.
    halo : int
        Context, in input pixels, a tile needs on each side to reproduce the untiled output.
        At the paper's defaults; a model whose receptive field depends on its
        hyperparameters has a ``halo`` attribute, which :func:`create_model` puts in its
        spec.
    half_precision_safe : bool
        Runs in fp16/bf16 without overflow or visible loss.
    defaults : dict
        The paper's default hyperparameters (documentation; the class defaults are these).
    """

    name: str
    builder: str
    framework: str
    scales: tuple[int, ...]
    paper: str
    size_multiple: int = 1
    tiling_safe: bool = True
    halo: int = 16
    half_precision_safe: bool = True
    defaults: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.framework not in FRAMEWORKS:
            raise ValueError(f"framework must be one of {FRAMEWORKS}, not {self.framework!r}")
        if self.framework == "restoration" and tuple(self.scales) != (1,):
            raise ValueError(
                f"a restoration network keeps the image size: its scales are (1,), not "
                f"{self.scales}"
            )


class Registry:
    """An explicit table of :class:`ModelSpec`, with typed errors."""

    def __init__(self) -> None:
        self._specs: dict[str, ModelSpec] = {}

    def add(self, spec: ModelSpec) -> ModelSpec:
        if spec.name in self._specs:
            raise DuplicateModelError(f"a model named {spec.name!r} is already registered")
        self._specs[spec.name] = spec
        return spec

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def spec(self, name: str) -> ModelSpec:
        if not isinstance(name, str):
            raise UnknownModelError(
                f"a model is named by a string such as 'edsr', not {type(name).__name__} "
                f"{name!r}; list them with napari_sr.list_models()"
            )
        try:
            return self._specs[name]
        except KeyError:
            close = [n for n in self._specs if name.lower().replace("-", "_") in n]
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise UnknownModelError(
                f"unknown model {name!r}{hint}; list them with napari_sr.list_models()"
            ) from None

    def names(self, pattern: str | None = None) -> list[str]:
        names = sorted(self._specs)
        return names if pattern is None else fnmatch.filter(names, pattern.lower())

    def builder(self, name: str) -> type:
        module, _, cls = self.spec(name).builder.partition(":")
        return getattr(importlib.import_module(f"napari_sr.models.{module}"), cls)


REGISTRY = Registry()


def list_models(pattern: str | None = None, *, pretrained: bool = False) -> list[str]:
    """Names of the registered architectures, optionally filtered by a glob pattern; with
    ``pretrained``, the names of the bundled weights instead
    (``<architecture>_x<scale>.<training data>``, see :mod:`napari_sr.models.bundled`).

    Examples
    --------
    >>> list_models("edsr*")  # doctest: +SKIP
    ['edsr', 'edsr_baseline']
    >>> list_models("highresnet*", pretrained=True)  # doctest: +SKIP
    ['highresnet_x2.bursts291', 'highresnet_x4.bursts291']
    """
    if pretrained:
        import fnmatch

        from .bundled import bundled_models

        names = list(bundled_models())
        return names if pattern is None else fnmatch.filter(names, pattern)
    from . import _catalogue  # noqa: F401 - fills REGISTRY

    return REGISTRY.names(pattern)


def create_model(name: str, *, scale: int, in_channels: int = 1, **hparams: Any):
    """Build a registered architecture with fresh weights.

    Parameters
    ----------
    name : str
        A name from :func:`list_models`.
    scale : int
        Upscaling factor; must be one of the model's ``scales``.
    in_channels : int
        Image channels in and out (1 for microscopy, 3 for RGB).
    **hparams
        Hyperparameters of the architecture, overriding the paper's defaults. Unknown
        names are an error listing the valid ones.

    Returns
    -------
    SRModel
        A torch module whose ``info`` (:class:`~napari_sr.models.info.ModelInfo`) records
        the architecture, the hyperparameters given here, scale and channels, without a
        training record; ``spec`` is its :class:`ModelSpec`, with the model's own ``halo``
        and ``size_multiple`` where it has them (they follow its hyperparameters).

    Raises
    ------
    UnknownModelError
        No model of that name.
    ValueError
        A scale the model does not support, an unknown hyperparameter, a value of the
        wrong type or out of range, or a network too large to build (its size is
        estimated before any memory is allocated; see
        :mod:`napari_sr.models.hyperparameters`).
    """
    from .hyperparameters import plan

    # types, ranges and the network's size are checked before anything is allocated
    return from_plan(plan(name, scale=scale, in_channels=in_channels, hparams=hparams))


def from_plan(planned):
    """Build a network planned by :func:`napari_sr.models.hyperparameters.plan`, with the
    record :func:`create_model` documents."""
    from .hyperparameters import build
    from .info import ModelInfo

    model = build(planned)
    model.info = ModelInfo(
        architecture=planned.name,
        scale=int(planned.kwargs["scale"]),
        in_channels=int(planned.kwargs["in_channels"]),
        # what save_model records to rebuild the same architecture
        hparams=dict(planned.hparams),
        parameters=sum(p.numel() for p in model.parameters()),
    )
    return model
