"""Single-image SR architectures: one module per family, one explicit registry, the
record every model carries, model files and the bundled weights.

``list_models`` reads the registry table and the weights folder and imports no torch;
``create_model`` imports the one family module it needs.
"""

from __future__ import annotations

from .factory import create_model
from .registry import (
    REGISTRY,
    DuplicateModelError,
    ModelSpec,
    UnknownModelError,
)

__all__ = [
    "REGISTRY",
    "DuplicateModelError",
    "ModelSpec",
    "UnknownModelError",
    "create_model",
    "list_models",
]


def list_models(pattern: str | None = None, *, pretrained: bool = False) -> list[str]:
    """Names of the registered architectures, optionally filtered by a glob pattern; with
    ``pretrained``, the names of the bundled weights instead
    (``<architecture>_x<scale>.<training data>``, see :mod:`napari_sr.models.bundled`).

    Examples
    --------
    >>> list_models("edsr*")  # doctest: +SKIP
    ['edsr', 'edsr_baseline', 'edsr_light']
    >>> list_models("highresnet_x2*", pretrained=True)  # doctest: +SKIP
    ['highresnet_x2.bursts291', 'highresnet_x2.microscope']
    """
    if pretrained:
        import fnmatch

        from .bundled import bundled_models

        names = list(bundled_models())
        return names if pattern is None else fnmatch.filter(names, pattern)
    from .registry import list_models as architectures

    return architectures(pattern)
