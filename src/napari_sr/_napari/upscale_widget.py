"""The Super-resolve dock widget: one layer in, one upscaled layer out, off the GUI thread.

The widget only collects choices and shows results; the work is
:func:`napari_sr.upscale` on the layer's :class:`~napari_sr.image.Image`, whose geometry
rules give the output layer ``scale = input scale / s`` and the shifted ``translate`` that
overlays it on the input.
"""

from __future__ import annotations

import time
from typing import Any

import napari
from napari.utils.notifications import show_error, show_info, show_warning
from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
)

from ..engine.method_table import default_method, describe_method, is_learned, noise_note
from ..resample import INTERPOLATION_METHODS
from . import session
from ._task import (
    TaskWidget,
    bundled_default_kinds,
    device_choices,
    image_layer_names,
    missing_default,
    set_choices,
)
from .layers import add_result_layer, layer_input, result_store
from .model_files import ask_for_model_file

LOAD_MODEL = "Load model file…"


class UpscaleWidget(TaskWidget):
    """Super-resolve an image layer with an interpolation or a learned model.

    Parameters
    ----------
    viewer : napari.viewer.Viewer
        The viewer whose image layers are offered and which receives the result.
    """

    def __init__(self, viewer: napari.viewer.Viewer) -> None:
        super().__init__()
        self.viewer = viewer
        self.models: dict[str, Any] = {}  # label -> model file path or model object

        self.layer = QComboBox()
        self.method = QComboBox()
        defaults = bundled_default_kinds()
        self.method.addItems([*defaults, *INTERPOLATION_METHODS, LOAD_MODEL])
        for index, kind in enumerate(defaults):
            tip = describe_method(kind).description
            self.method.setItemData(index, tip, Qt.ItemDataRole.ToolTipRole)
        self.default_method = defaults[0] if defaults else "bicubic"
        self.method.setCurrentText(self.default_method)
        self.method.activated.connect(self._maybe_load_model)
        self.scale = QDoubleSpinBox(minimum=1.0, maximum=16.0, value=2.0, singleStep=0.5)
        self.axes = QLineEdit()
        self.axes.setPlaceholderText("from the layer, e.g. ZYX")
        self.device = QComboBox()
        self.device.addItems(["auto", *device_choices()])
        self.tile = QSpinBox(minimum=-1, maximum=65536, value=-1)
        self.tile.setSpecialValueText("auto")  # shown for the minimum, -1
        self.tile.setToolTip("tile edge in input pixels; auto bounds memory, 0 never tiles")
        self.precision = QComboBox()
        self.precision.addItems(["auto", "fp32", "bf16", "fp16"])
        self.self_ensemble = QCheckBox("×8 self-ensemble")

        form = QFormLayout()
        for label, field in (
            ("image", self.layer),
            ("method", self.method),
            ("scale", self.scale),
            ("axes", self.axes),
            ("device", self.device),
            ("tile", self.tile),
            ("precision", self.precision),
        ):
            form.addRow(label, field)
        form.addRow("", self.self_ensemble)
        box = QVBoxLayout(self)
        box.addLayout(form)
        box.addWidget(self.run_button)
        box.addWidget(self.progress)
        box.addStretch()

        self.layer.currentTextChanged.connect(self._fill_axes)
        self.watch_layers(viewer)
        session.subscribe(viewer, self.add_model)  # trained or loaded models

    # ------------------------------------------------------------- choices

    def add_model(self, label: str, model: Any) -> None:
        """Offer ``model`` (a model object or a model file path) as a method."""
        self.models[label] = model
        if self.method.findText(label) < 0:
            self.method.insertItem(self.method.count() - 1, label)
        self.method.setCurrentText(label)

    def _maybe_load_model(self, index: int) -> None:
        if self.method.itemText(index) != LOAD_MODEL:
            return
        chosen = ask_for_model_file(self)
        if chosen is None:
            self.method.setCurrentText(self.default_method)
        else:  # offered by every widget of this viewer; add_model selects it here
            session.add_model(self.viewer, *chosen)

    def _refresh_layers(self, *_: Any) -> None:
        set_choices(self.layer, image_layer_names(self.viewer))
        self._fill_axes(self.layer.currentText())

    def _fill_axes(self, name: str) -> None:
        if name not in self.viewer.layers:
            return
        try:  # the layer's shape and attributes only: its pixels are read by the work
            self.axes.setText(layer_input(self.viewer.layers[name]).axes)
        except ValueError:  # e.g. a layer without pixels: said when Run is pressed
            self.axes.clear()

    # ---------------------------------------------------------------- work

    def start(self) -> None:
        """Check the choices and upscale the layer off the GUI thread."""
        name = self.layer.currentText()
        if name not in self.viewer.layers:
            show_error("napari-sr: choose an image layer to super-resolve")
            return
        source = self.viewer.layers[name]
        method_label = self.method.currentText()
        if method_label == LOAD_MODEL:
            show_error("napari-sr: load a model file first, or choose an interpolation")
            return
        method = self.models.get(method_label, method_label)
        scale = float(self.scale.value())
        fallback = None
        if method_label == self.default_method and method_label in bundled_default_kinds():
            # the preselected default behaves as the API's and CLI's method=None does
            default = default_method(scale)
            if default.fallback:
                method = method_label = default.name
                fallback = _fallback_message(scale, default.name)
        if (message := missing_default(method_label, scale)) is not None:
            show_error(message)
            return
        options: dict[str, Any] = {}
        if _learned(method):
            options = {
                "device": self.device.currentText(),
                "tile": None if self.tile.value() < 0 else self.tile.value(),
                "precision": None if self.precision.currentText() == "auto"
                else self.precision.currentText(),
                "self_ensemble": self.self_ensemble.isChecked(),
            }  # fmt: skip
        try:  # checked now; the pixels are read off the GUI thread
            layer = layer_input(source, self.axes.text().strip() or None)
        except ValueError as err:
            show_error(f"napari-sr: {err}")
            return
        if fallback is not None:
            show_warning(fallback)
        started = time.perf_counter()

        progress, cancel = self.relay.progress.emit, self.cancel_event

        def work():
            from ..engine.upscaler import upscale

            if layer.lazy:  # read and written block by block, never whole
                out = result_store(source.name)
                return upscale(layer.lazy_image(), scale, method=method, progress=progress,
                               cancel=cancel, out=out, **options)  # fmt: skip
            return upscale(layer.load(), scale, method=method, progress=progress,
                           cancel=cancel, **options)  # fmt: skip

        def returned(result):
            self._add_result(source, result, scale, method_label, started)

        self.launch(work, returned, total=1)

    def _add_result(self, source, result, scale: float, label: str, started: float) -> None:
        name = f"{source.name} ×{scale:g} {label}"
        seconds = time.perf_counter() - started
        add_result_layer(self.viewer, source, result, name, seconds)
        provenance = result.metadata.get("provenance", {})
        ran = provenance.get("method", label)
        how = label if ran == label else f"{label} ({ran})"
        why = f"; {noise_note(provenance['default'])}" if "default" in provenance else ""
        where = result.metadata.get("path")
        kept = f"; held on disk in {where} (File > Save Layers keeps it)" if where else ""
        show_info(f"napari-sr: {name!r} made by {how} in {seconds:.1f} s{why}{kept}")


def _learned(method: Any) -> bool:
    """Whether the model options apply to ``method`` (asked of the table of methods)."""
    try:
        return is_learned(method)
    except (TypeError, ValueError):  # upscale says what is wrong with it, off the GUI thread
        return True


def _fallback_message(scale: float, method: str) -> str:
    """What the widget says when its default has no bundled weights for ``scale``."""
    from ..engine.method_table import default_scales

    have = ", ".join(f"×{s}" for s in default_scales("quality")) or "no scale"
    return (f"napari-sr: no learned quality default is bundled for ×{scale:g} (bundled for "
            f"{have}), so {method} interpolation ran; choose {method} to pick it yourself, "
            "or a scale with bundled weights")  # fmt: skip
