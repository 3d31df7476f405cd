"""The base class of every registered architecture: a torch module that carries its record.

A network built by :func:`~napari_sr.create_model` or :func:`~napari_sr.load_model` holds
one :class:`~napari_sr.models.info.ModelInfo` as ``info``. The other names scripts use are
views of it (``hparams``, ``normalization``, ``checkpoint``) or of the registry (``spec``,
the architecture's descriptor with this network's own halo and size multiple), so that
nothing about a model is stored twice.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from torch import nn

from ..normalization import Normalization
from .info import ModelInfo
from .registry import HYPERPARAMETER_FIELDS, REGISTRY, ModelSpec


class SRModel(nn.Module):
    """A registered SR architecture with its record.

    Subclasses set ``scale`` and ``in_channels`` (and, where their hyperparameters decide
    them, ``halo`` and ``size_multiple``) in their constructor;
    :func:`~napari_sr.models.factory.create_model` sets ``info``.

    Attributes
    ----------
    info : ModelInfo or None
        The record; None for a network constructed directly from its class.
    """

    info: ModelInfo | None = None

    def for_inference(self) -> nn.Module:
        """The module the engine runs on a CPU: this one, or (where an architecture knows a
        faster form of the same function, equal to rounding) a copy in that form."""
        return self

    def _record(self, name: str) -> ModelInfo:
        if self.info is None:
            raise AttributeError(
                f"{type(self).__name__} has no {name}: it was constructed directly; build it "
                "with napari_sr.create_model or load_model, which record what it is"
            )
        return self.info

    @property
    def spec(self) -> ModelSpec:
        """The architecture's descriptor, with this network's own ``halo`` and
        ``size_multiple`` where its hyperparameters set them."""
        spec = REGISTRY.spec(self._record("spec").architecture)
        own = {f: int(getattr(self, f)) for f in HYPERPARAMETER_FIELDS if hasattr(self, f)}
        return dataclasses.replace(spec, **own) if own else spec

    @property
    def hparams(self) -> dict[str, Any]:
        """``info.hparams``: the hyperparameters given beyond the paper's defaults."""
        return self._record("hparams").hparams

    @property
    def normalization(self) -> Normalization | None:
        """``info.normalization``; setting it (a Normalization, its dict, or None) records
        a new one."""
        return self._record("normalization").normalization

    @normalization.setter
    def normalization(self, value: Normalization | dict | None) -> None:
        value = None if value is None else Normalization.from_dict(value)
        self.info = self._record("normalization").replace(normalization=value)

    @property
    def checkpoint(self) -> dict[str, Any]:
        """``info`` in the model file's layout (:meth:`ModelInfo.to_dict`), a copy."""
        return self._record("checkpoint").to_dict()
