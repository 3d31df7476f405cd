"""Models trained or loaded in a napari viewer, shared by that viewer's widgets.

The Train widget adds the models it trains here, and the Super-resolve and Compare widgets
the model files they load; every widget of the same viewer subscribes and offers them as
methods, also when it is opened later. Another viewer (another window, another test) has
its own models.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from weakref import WeakKeyDictionary

Listener = Callable[[str, Any], None]
_MODELS: WeakKeyDictionary[Any, dict[str, Any]] = WeakKeyDictionary()
_LISTENERS: WeakKeyDictionary[Any, list[Listener]] = WeakKeyDictionary()


def add_model(viewer: Any, label: str, model: Any) -> None:
    """Share ``model`` (a model object or a model file path) under ``label`` with the
    widgets of ``viewer``."""
    _MODELS.setdefault(viewer, {})[label] = model
    listeners = _LISTENERS.setdefault(viewer, [])
    for listener in list(listeners):
        try:
            listener(label, model)
        except RuntimeError:  # the widget was closed and its Qt object deleted
            listeners.remove(listener)


def subscribe(viewer: Any, listener: Listener) -> None:
    """Call ``listener(label, model)`` for every model shared in ``viewer``, now and when
    one is added."""
    _LISTENERS.setdefault(viewer, []).append(listener)
    for label, model in _MODELS.get(viewer, {}).items():
        listener(label, model)
