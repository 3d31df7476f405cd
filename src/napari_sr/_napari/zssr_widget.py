"""The Zero-shot SR dock widget: upscale a layer with a network trained on it alone.

The work is :func:`napari_sr.zssr` off the GUI thread; the result overlays the input
(``scale / s``, shifted ``translate``) as the Super-resolve widget's results do.
"""

from __future__ import annotations

import time
from typing import Any

import napari
from napari.utils.notifications import show_error
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QSpinBox,
    QVBoxLayout,
)

from ..selfsup.config import ZSSRConfig
from ..training.config import describe_options
from ._task import TaskWidget, image_layer_names, set_choices
from .layers import add_result_layer, layer_input

BICUBIC = "MATLAB bicubic"
GAUSSIAN = "Gaussian blur + decimation"


class ZSSRWidget(TaskWidget):
    """Zero-shot SR (ZSSR) of an image layer.

    Parameters
    ----------
    viewer : napari.viewer.Viewer
        Its image layers are offered; it receives the upscaled layer.
    """

    cancelled_message = "napari-sr: zero-shot SR cancelled; nothing was added"

    def __init__(self, viewer: napari.viewer.Viewer) -> None:
        super().__init__()
        self.viewer = viewer

        self.layer = QComboBox()
        self.scale = QDoubleSpinBox(minimum=1.1, maximum=8.0, value=2.0, singleStep=0.5)
        self.kernel = QComboBox()
        self.kernel.addItems([BICUBIC, GAUSSIAN])
        self.kernel.setToolTip("how the image was made from the finer one it should become")
        self.blur = QDoubleSpinBox(decimals=2, minimum=0.1, maximum=20.0, value=1.0)
        recipe = ZSSRConfig()  # the recipe's defaults
        self.steps = QSpinBox(minimum=1, maximum=1_000_000, value=recipe.steps)
        self.gradual = QCheckBox("gradual ×2 stages")
        self.self_ensemble = QCheckBox("×8 self-ensemble")
        self.back_projection = QCheckBox("back-projection")
        for name in ("gradual", "self_ensemble", "back_projection"):
            getattr(self, name).setChecked(getattr(recipe, name))
        # the help of each option is its field's, as the command line's --help shows it
        options = describe_options(ZSSRConfig)
        for name in ("blur", "steps", "gradual", "self_ensemble", "back_projection"):
            getattr(self, name).setToolTip(options[name].help)

        form = QFormLayout()
        form.addRow("image", self.layer)
        form.addRow("scale", self.scale)
        form.addRow("kernel", self.kernel)
        form.addRow("blur σ", self.blur)
        form.addRow("training steps", self.steps)
        for box in (self.gradual, self.self_ensemble, self.back_projection):
            form.addRow("", box)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.run_button)
        layout.addWidget(self.progress)
        layout.addStretch()

        self.kernel.currentTextChanged.connect(self._kernel_changed)
        self._kernel_changed(self.kernel.currentText())
        self.watch_layers(viewer)

    def _kernel_changed(self, kernel: str) -> None:
        self.blur.setEnabled(kernel == GAUSSIAN)

    def _refresh_layers(self, *_: Any) -> None:
        set_choices(self.layer, image_layer_names(self.viewer))

    def start(self) -> None:
        """Check the choices and run ZSSR off the GUI thread."""
        name = self.layer.currentText()
        if name not in self.viewer.layers:
            show_error("napari-sr: choose an image layer to super-resolve")
            return
        source = self.viewer.layers[name]
        try:  # shape and attributes now; the pixels are read off the GUI thread
            layer = layer_input(source)
        except ValueError as err:
            show_error(f"napari-sr: {err}")
            return
        scale = float(self.scale.value())
        options: dict[str, Any] = {}
        if self.kernel.currentText() == GAUSSIAN:
            if not scale.is_integer():
                show_error("napari-sr: a blur kernel is followed by decimation; use a whole scale")
                return
            options["blur"] = float(self.blur.value())
        options |= {
            "steps": int(self.steps.value()),
            "gradual": self.gradual.isChecked(),
            "self_ensemble": self.self_ensemble.isChecked(),
            "back_projection": self.back_projection.isChecked(),
        }
        started = time.perf_counter()

        def work():
            from ..selfsup.zssr import zssr

            return zssr(
                layer.load(), scale, progress=self.relay.progress.emit, cancel=self.cancel_event,
                **options,
            )  # fmt: skip

        def returned(result):
            add_result_layer(self.viewer, source, result, f"{name} ×{scale:g} zssr",
                             time.perf_counter() - started)  # fmt: skip

        self.launch(work, returned, total=1)
