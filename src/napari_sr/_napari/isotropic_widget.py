"""The Isotropic dock widget: restore z of an anisotropic stack, next to cubic z.

The work is :func:`napari_sr.selfsup.isotropic.reconstruct` (train on the stack, restore
it, keep the network), off the GUI thread. Two layers come back, on the same isotropic
grid: the learned reconstruction and cubic z-interpolation, the baseline to compare it
with. The trained network can be saved and reused on other stacks of the same microscope.
"""

from __future__ import annotations

import time
from typing import Any

import napari
from napari.utils.notifications import show_error
from qtpy.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
)

from ..selfsup.config import IsotropicConfig
from ..training.config import describe_options
from ._task import TaskWidget, image_layer_names, set_choices
from .layers import add_result_layer, layer_input, result_store, write_lazy


class IsotropicWidget(TaskWidget):
    """Isotropic reconstruction of a 3D image layer, trained on the layer itself.

    Parameters
    ----------
    viewer : napari.viewer.Viewer
        Its 3D image layers are offered; it receives the two result layers.
    """

    cancelled_message = "napari-sr: isotropic reconstruction cancelled; nothing was added"

    def __init__(self, viewer: napari.viewer.Viewer) -> None:
        super().__init__()
        self.viewer = viewer
        self.model = None

        self.layer = QComboBox()
        self.factor = QDoubleSpinBox(decimals=3, minimum=1.01, maximum=64.0, value=4.0)
        self.factor.setToolTip("z step / lateral pixel size; filled in from the layer's scale")
        self.psf = QDoubleSpinBox(decimals=2, minimum=-1.0, maximum=50.0, value=-1.0)
        self.psf.setSpecialValueText("auto (FWHM = factor)")  # shown for the minimum, -1
        self.steps = QSpinBox(minimum=1, maximum=1_000_000, value=IsotropicConfig().steps)
        # the help of each option is its field's, as the command line's --help shows it
        options = describe_options(IsotropicConfig)
        for name in ("psf", "steps"):
            getattr(self, name).setToolTip(options[name].help)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.save_button = QPushButton("Save model…")
        self.save_button.setEnabled(False)
        self.save_button.clicked.connect(self._save_dialog)

        form = QFormLayout()
        form.addRow("3D image", self.layer)
        form.addRow("z factor", self.factor)
        form.addRow("axial PSF σ", self.psf)
        form.addRow("training steps", self.steps)
        box = QVBoxLayout(self)
        box.addLayout(form)
        box.addWidget(self.run_button)
        box.addWidget(self.progress)
        box.addWidget(self.status)
        box.addWidget(self.save_button)
        box.addStretch()

        self.layer.currentTextChanged.connect(self._fill_factor)
        self.watch_layers(viewer)

    def _refresh_layers(self, *_: Any) -> None:
        set_choices(self.layer, image_layer_names(self.viewer, lambda layer: "Z" in _axes(layer)))
        self._fill_factor(self.layer.currentText())

    def _fill_factor(self, name: str) -> None:
        """The layer's z/xy anisotropy from its scale, when it has one."""
        if name not in self.viewer.layers:
            return
        from ..selfsup.isotropic import anisotropy

        try:
            factor = anisotropy(layer_input(self.viewer.layers[name]).image)
        except ValueError:  # no physical scale (or non-square pixels): keep the value
            return
        if factor > 1.01:
            self.factor.setValue(factor)

    # ---------------------------------------------------------------- work

    def start(self) -> None:
        """Check the choices, then train and reconstruct off the GUI thread."""
        name = self.layer.currentText()
        if name not in self.viewer.layers:
            show_error("napari-sr: choose a 3D image layer (one with a z axis)")
            return
        source = self.viewer.layers[name]
        try:  # shape and attributes now; the pixels are read off the GUI thread
            layer = layer_input(source)
        except ValueError as err:
            show_error(f"napari-sr: {err}")
            return
        image = layer.image
        if "C" in image.axes and image.shape[image.axes.index("C")] > 1:
            show_error("napari-sr: the layer has several channels; split them into layers first")
            return
        factor = float(self.factor.value())
        psf = None if self.psf.value() < 0 else float(self.psf.value())
        steps = int(self.steps.value())
        started = time.perf_counter()
        planes = sum(image.shape[image.axes.index(a)] for a in "YX")
        total = steps + planes

        def work():
            from ..selfsup.isotropic import interpolate_axial, reconstruct

            options = {"psf": psf, "steps": steps, "progress": self.relay.progress.emit,
                       "cancel": self.cancel_event}  # fmt: skip
            if layer.lazy:  # out of core, written block by block to stores on disk
                image = layer.lazy_image()
                run = reconstruct(image, factor, out=result_store(name), **options)
                cubic = write_lazy(interpolate_axial(image, factor), f"{name} cubic z")
                return run.models[0], run.image, cubic
            image = layer.load()
            run = reconstruct(image, factor, **options)
            return run.models[0], run.image, interpolate_axial(image, factor)

        def returned(result):
            model, restored, cubic = result
            seconds = time.perf_counter() - started
            self.model = model
            add_result_layer(self.viewer, source, cubic, f"{name} cubic z", 0.0)
            add_result_layer(self.viewer, source, restored, f"{name} isotropic", seconds)
            report = model.training_report or {}
            gain = report.get("gain_db")
            text = f"isotropic ×{factor:g} in {seconds:.0f} s"
            if gain is not None:
                text += f"; on held-out lateral columns {gain:+.2f} dB over cubic"
            self.status.setText(text)
            self.save_button.setEnabled(True)

        self.status.setText(f"training on the lateral planes of {name}…")
        self.launch(work, returned, total=total)

    def _save_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Save model", "isotropic.safetensors", "Model files (*.safetensors)"
        )
        if path:
            self.save_model(path)

    def save_model(self, path: str):
        """Write the trained network (napari's dialog asked before replacing)."""
        from ..models.checkpoint import save_model

        return save_model(self.model, path, overwrite=True)


def _axes(layer: Any) -> str:
    try:
        return layer_input(layer).axes
    except ValueError:
        return ""
