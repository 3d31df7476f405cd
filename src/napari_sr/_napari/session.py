"""Models trained or loaded in this napari session, shared by the widgets.

The Train widget adds a model here; the Super-resolve and Compare widgets subscribe and
offer it as a method, also when they are opened later.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_MODELS: dict[str, Any] = {}
_LISTENERS: list[Callable[[str, Any], None]] = []


def add_model(label: str, model: Any) -> None:
    """Share ``model`` (a model object or a model file path) under ``label``."""
    _MODELS[label] = model
    for listener in list(_LISTENERS):
        try:
            listener(label, model)
        except RuntimeError:  # the widget was closed and its Qt object deleted
            _LISTENERS.remove(listener)


def subscribe(listener: Callable[[str, Any], None]) -> None:
    """Call ``listener(label, model)`` for every shared model, now and when one is added."""
    _LISTENERS.append(listener)
    for label, model in _MODELS.items():
        listener(label, model)
