"""Loading a model file from a dock widget: the file dialog, and the questions bare
third-party weights need (which architecture, which scale)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from napari.utils.notifications import show_error
from qtpy.QtWidgets import QFileDialog, QInputDialog, QWidget

from ..engine.method_table import model_file_filter

MODEL_FILTER = model_file_filter()
"""The file dialog's filter: every ending the table of methods calls a model file."""


def ask_for_model_file(parent: QWidget) -> tuple[str, Any] | None:
    """Let the user pick a model file; ``(label, model)`` to offer as a method, or None
    when they cancel or the file does not load (then a notification says why).

    A napari-sr model file is returned as its path (loaded when it runs); bare weights are
    loaded now, after asking which architecture and scale they are.
    """
    path, _ = QFileDialog.getOpenFileName(parent, "Load model file", "", MODEL_FILTER)
    if not path:
        return None
    try:
        model = _open(parent, path)
    except Exception as err:  # any reason the file does not load is shown, not raised
        show_error(f"napari-sr: {err}")
        return None
    return None if model is None else (Path(path).name, model)


def _open(parent: QWidget, path: str) -> Any:
    from ..models.checkpoint import describes_itself, load_model

    if describes_itself(path):
        return path
    name = Path(path).name
    architecture, ok = QInputDialog.getItem(
        parent, "Bare weights", f"{name} does not say what it holds. Architecture:",
        sr_models(), 0, False,
    )  # fmt: skip
    if not ok:
        return None
    scale, ok = QInputDialog.getInt(
        parent, "Bare weights", f"Upscaling factor {name} was trained for:", 2, 2, 8
    )
    if not ok:
        return None
    return load_model(path, architecture=architecture, scale=scale)


def sr_models() -> list[str]:
    """Registered upsampling architectures (scale >= 2): those the Train widget trains and
    bare weights are loaded as; the same-size restoration networks serve the
    self-supervised widgets."""
    from ..models.registry import REGISTRY, list_models

    return [
        n
        for n in list_models()
        if REGISTRY.spec(n).single_image and REGISTRY.spec(n).framework != "restoration"
    ]
