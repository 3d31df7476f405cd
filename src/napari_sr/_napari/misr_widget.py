"""The Multi-frame SR dock widget: fuse the frames of a layer, next to single-frame results.

The work is :func:`napari_sr.misr` off the GUI thread. Beside the fused image come the
reference frame upscaled by bicubic interpolation and by the chosen single-image method,
all on the reference frame's finer grid, so that the three overlay and can be compared.
"""

from __future__ import annotations

import time
from typing import Any

import napari
from napari.utils.notifications import show_error
from qtpy.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
)

from ..multiframe.fusion import DEFAULT_FUSION, fusion_help, fusion_methods
from ..resample import INTERPOLATION_METHODS
from . import session
from ._task import (
    TaskWidget,
    bundled_default_kinds,
    image_layer_names,
    missing_default,
    set_choices,
)
from .layers import add_result_layer, layer_input, result_store, write_lazy


class MISRWidget(TaskWidget):
    """Multi-image SR of a layer whose frames hold sub-pixel shifts of one scene.

    Parameters
    ----------
    viewer : napari.viewer.Viewer
        Its image layers with at least 3 dimensions are offered; it receives the results.
    """

    cancelled_message = "napari-sr: multi-frame SR cancelled; nothing was added"

    def __init__(self, viewer: napari.viewer.Viewer) -> None:
        super().__init__()
        self.viewer = viewer
        self.models: dict[str, Any] = {}

        self.layer = QComboBox()
        self.axes = QLineEdit()
        self.axes.setToolTip("axes of the layer; T holds the frames (e.g. TYX, TZYX)")
        self.method = QComboBox()  # the table of fusion methods
        self.method.addItems([entry.name for entry in fusion_methods()])
        self.method.setCurrentText(DEFAULT_FUSION)
        self.method.setToolTip(fusion_help())
        self.scale = QSpinBox(minimum=2, maximum=8, value=2)
        self.psf = QDoubleSpinBox(minimum=0.0, maximum=20.0, singleStep=0.1, decimals=2)
        self.psf.setToolTip(
            "Gaussian sigma of the optics in output pixels (0: the camera pixels only), "
            "deblurred by the classical fusions and by the learned one's robust prior; "
            "about 0.5 x scale at the diffraction limit"
        )
        self.reference = QSpinBox(minimum=0, maximum=100_000, value=0)
        self.reference.setToolTip("the frame whose grid the results lie on")
        self.single = QComboBox()
        self.single.addItems([*bundled_default_kinds(), *INTERPOLATION_METHODS])
        self.single.setCurrentText("lanczos3")
        self.single.setToolTip("single-image method applied to the reference frame, to compare")
        self.status = QLabel("")
        self.status.setWordWrap(True)

        form = QFormLayout()
        for label, field in (
            ("frames", self.layer),
            ("axes", self.axes),
            ("fusion", self.method),
            ("scale", self.scale),
            ("PSF σ (px)", self.psf),
            ("reference frame", self.reference),
            ("single-image", self.single),
        ):
            form.addRow(label, field)
        box = QVBoxLayout(self)
        box.addLayout(form)
        box.addWidget(self.run_button)
        box.addWidget(self.progress)
        box.addWidget(self.status)
        box.addStretch()

        self.layer.currentTextChanged.connect(self._fill_axes)
        self.watch_layers(viewer)
        session.subscribe(viewer, self.add_model)  # trained or loaded models

    def add_model(self, label: str, model: Any) -> None:
        """Offer ``model`` as the single-image method to compare with."""
        self.models[label] = model
        if self.single.findText(label) < 0:
            self.single.addItem(label)

    def _refresh_layers(self, *_: Any) -> None:
        set_choices(self.layer, image_layer_names(self.viewer, lambda layer: layer.ndim >= 3))
        self._fill_axes(self.layer.currentText())

    def _fill_axes(self, name: str) -> None:
        """The layer's axes, with T for the frames (a 3D layer without T: its first axis)."""
        if name not in self.viewer.layers:
            return
        try:  # the layer's shape and attributes only: its pixels are read by the work
            axes = layer_input(self.viewer.layers[name]).axes
        except ValueError:  # e.g. a layer without pixels: said when Run is pressed
            return
        if "T" not in axes and len(axes) >= 3:
            axes = "T" + axes[1:]
        self.axes.setText(axes)

    def start(self) -> None:
        """Check the choices and fuse off the GUI thread."""
        name = self.layer.currentText()
        if name not in self.viewer.layers:
            show_error("napari-sr: choose a layer of frames (3D or more, frames along T)")
            return
        source = self.viewer.layers[name]
        try:
            layer = layer_input(source, self.axes.text().strip() or None)
        except ValueError as err:
            show_error(f"napari-sr: {err}")
            return
        image = layer.image  # the geometry: the pixels are read off the GUI thread
        if "T" not in image.axes:
            show_error("napari-sr: the axes need a T for the frames, e.g. TYX")
            return
        frames = image.shape[image.axes.index("T")]
        reference = int(self.reference.value())
        if reference >= frames:
            show_error(f"napari-sr: the layer has {frames} frames; choose a reference below it")
            return
        method, scale = self.method.currentText(), int(self.scale.value())
        psf = float(self.psf.value())
        entry = next(m for m in fusion_methods() if m.name == method)
        if entry.unavailable(scale) is not None:
            have = ", ".join(f"×{s}" for s in entry.scales) or "no scale"
            name = "learned fusion" if method == "learned" else f"fusion network {method}"
            show_error(f"napari-sr: the {name} is bundled for {have}; choose one of "
                       "those scales or a classical fusion")  # fmt: skip
            return
        single_label = self.single.currentText()
        single = self.models.get(single_label, single_label)
        if (message := missing_default(single_label, scale)) is not None:
            show_error(message)
            return
        started = time.perf_counter()

        def work():
            from ..engine.upscaler import upscale
            from ..multiframe.misr import misr

            image = layer.lazy_image() if layer.lazy else layer.load()
            fused = misr(image, scale, method=method, reference=reference, psf=psf,
                         progress=self.relay.progress.emit, cancel=self.cancel_event)  # fmt: skip
            t = image.axes.index("T")
            index = (slice(None),) * t + (reference,)
            frame = image.replace(data=image.data[index], axes=image.axes.replace("T", ""))
            options = {"cancel": self.cancel_event}
            if layer.lazy:  # every result written to a store on disk, never held whole
                fused = write_lazy(fused, f"{name} misr")
                bicubic = upscale(frame, scale, method="bicubic",
                                  out=result_store(f"{name} bicubic"), **options)  # fmt: skip
                store = result_store(f"{name} {single_label}")
                single_out = upscale(frame, scale, method=single, out=store, **options)
                return fused, bicubic, single_out
            bicubic = upscale(frame, scale, method="bicubic", **options)
            single_out = upscale(frame, scale, method=single, **options)
            return fused, bicubic, single_out

        def returned(result):
            fused, bicubic, single_out = result
            seconds = time.perf_counter() - started
            prefix = f"{name} frame {reference} ×{scale}"
            add_result_layer(self.viewer, source, bicubic, f"{prefix} bicubic", 0.0)
            if single_label != "bicubic":
                add_result_layer(self.viewer, source, single_out, f"{prefix} {single_label}", 0.0)
            add_result_layer(self.viewer, source, fused, f"{name} ×{scale} misr {method}", seconds)
            left_out = fused.metadata["provenance"]["left_out"]
            note = f"; frames {left_out} left out (do not match)" if left_out else ""
            self.status.setText(f"fused {frames} frames in {seconds:.1f} s{note}")

        self.launch(work, returned, total=1)
