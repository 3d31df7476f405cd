"""What a registered architecture is: its descriptor (:class:`ModelSpec`) and the table
type that holds them (:class:`Registry`), with typed errors.

This module imports nothing of napari-sr: the table of architectures
(:mod:`napari_sr.models._catalogue`) is built from it, and
:mod:`napari_sr.models.registry` fills the one registry from that table.
"""

from __future__ import annotations

import fnmatch
import importlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

FRAMEWORKS = ("pre", "post", "progressive", "iterative", "restoration", "multiframe",
              "diffusion")  # fmt: skip
"""Where upsampling happens: before the network (on an interpolated input), at its end,
in stages, or by repeated up/down projection; or nowhere: a same-size restoration network
(scale 1) that restores an image already interpolated to the target grid. ``multiframe``
networks fuse several frames of one scene (input ``(B, frames, H, W)``); they run through
:func:`napari_sr.misr`, not :func:`napari_sr.upscale`. ``diffusion`` networks are denoisers
of a diffusion: they predict the high-resolution image from a noisy state, the
interpolated input and a noise level, and run through the sampler of
:mod:`napari_sr.models.resshift`."""

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
    framework : str
        One of :data:`FRAMEWORKS`: the upsampling framework (Wang, Chen & Hoi 2020, "Deep
        learning for image SR: a survey"); or ``'restoration'``: a same-size network
        (output as large as its input) that restores an already-interpolated image, for
        self-supervised SR (isotropic reconstruction, zero-shot SR) that interpolates
        first, its only scale 1; or ``'multiframe'``: a fusion network whose input
        channels are the frames of a burst; or ``'diffusion'``: the denoiser of a
        diffusion sampler.
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

    @property
    def single_image(self) -> bool:
        """Whether :func:`napari_sr.upscale` runs it on one image by itself: not a
        multi-frame fusion network (:func:`napari_sr.misr` runs those) nor the denoiser of
        a diffusion (a sampler runs those)."""
        return self.framework not in ("multiframe", "diffusion")

    def __post_init__(self) -> None:
        if self.framework not in FRAMEWORKS:
            raise ValueError(f"framework must be one of {FRAMEWORKS}, not {self.framework!r}")
        if self.framework == "restoration" and tuple(self.scales) != (1,):
            raise ValueError(
                f"a restoration network keeps the image size: its scales are (1,), not "
                f"{self.scales}"
            )


class Registry:
    """An explicit table of :class:`ModelSpec`, with typed errors.

    Parameters
    ----------
    specs : iterable of ModelSpec
        The entries to register (a name may appear once).
    """

    def __init__(self, specs: Iterable[ModelSpec] = ()) -> None:
        self._specs: dict[str, ModelSpec] = {}
        for spec in specs:
            self.add(spec)

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
