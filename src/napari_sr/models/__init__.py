"""Single-image SR architectures: one module per family, one explicit registry.

``list_models`` reads the registry table and imports no torch; ``create_model`` imports the
one family module it needs.
"""

from .registry import (
    REGISTRY,
    DuplicateModelError,
    ModelSpec,
    UnknownModelError,
    create_model,
    list_models,
)

__all__ = [
    "REGISTRY",
    "DuplicateModelError",
    "ModelSpec",
    "UnknownModelError",
    "create_model",
    "list_models",
]
