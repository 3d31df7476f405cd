"""Weights that ship inside the package, each with its model card.

A bundled model is a napari-sr model file in ``models/weights/`` named
``<architecture>_x<scale>.<training data>.safetensors`` (the name separates the
architecture from the weights, e.g. ``highresnet_x2.bursts291``: HighRes-net at ×2
trained on bursts of the 291-image set), beside ``<name>.md``, its model card
(architecture, training data, recipe, steps, device and time, measured results, licence).
Nothing is downloaded: these files are all there is. Listing reads file names only and
imports no torch.
"""

from __future__ import annotations

from pathlib import Path

WEIGHTS_DIR = Path(__file__).parent / "weights"
SUFFIX = ".safetensors"


def bundled_models() -> dict[str, Path]:
    """Name → file of every bundled model, sorted by name."""
    if not WEIGHTS_DIR.is_dir():
        return {}
    files = sorted(WEIGHTS_DIR.glob(f"*{SUFFIX}"))
    return {f.name[: -len(SUFFIX)]: f for f in files}


def bundled_path(name: str) -> Path:
    """The file of bundled model ``name``; a ValueError that lists them if there is none."""
    models = bundled_models()
    if name not in models:
        available = ", ".join(models) or "none"
        raise ValueError(f"no bundled model is named {name!r}; bundled: {available}")
    return models[name]


def load_bundled(name: str, *, device: str = "cpu"):
    """The bundled model ``name``, loaded (see :func:`napari_sr.load_model`)."""
    from .checkpoint import load_model

    return load_model(bundled_path(name), device=device)


def model_card(name: str) -> str:
    """The model card of bundled model ``name`` (Markdown text)."""
    bundled_path(name)  # a clear error for an unknown name
    return (WEIGHTS_DIR / f"{name}.md").read_text(encoding="utf-8")
