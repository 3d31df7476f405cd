"""The model registry: every architecture napari-sr has, by name.

Every architecture is one :class:`~napari_sr.models.spec.ModelSpec` entry of
:data:`napari_sr.models._catalogue.ARCHITECTURES`: its name, the ``module:Class`` that builds
it, and a descriptor of what the inference engine and the user need to know (scales,
channels, size multiple, whether tiling and half precision are safe, the upsampling
framework, the paper). Importing this module registers them all in :data:`REGISTRY`; it
imports no torch, and building a model (:func:`napari_sr.models.factory.create_model`)
imports only its family's module.
"""

from __future__ import annotations

from ._catalogue import ARCHITECTURES
from .spec import (
    FRAMEWORKS,
    HYPERPARAMETER_FIELDS,
    DuplicateModelError,
    ModelSpec,
    Registry,
    UnknownModelError,
)

__all__ = [
    "FRAMEWORKS",
    "HYPERPARAMETER_FIELDS",
    "REGISTRY",
    "DuplicateModelError",
    "ModelSpec",
    "Registry",
    "UnknownModelError",
    "list_models",
]

REGISTRY = Registry(ARCHITECTURES)
"""Every architecture napari-sr has, registered from the table when this module is imported."""


def list_models(pattern: str | None = None) -> list[str]:
    """Names of the registered architectures, sorted, optionally filtered by a glob
    pattern (the public :func:`napari_sr.list_models` also lists the bundled weights).

    Examples
    --------
    >>> list_models("edsr*")  # doctest: +SKIP
    ['edsr', 'edsr_baseline', 'edsr_light']
    """
    return REGISTRY.names(pattern)
