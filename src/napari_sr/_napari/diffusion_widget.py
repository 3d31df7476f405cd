"""The Diffusion SR dock widget: samples of an upscaled layer, their mean and their spread.

The work is :func:`napari_sr.upscale` with a diffusion model (the bundled one for the
scale, a loaded model file, or one trained in this session): the mean (or one sample)
becomes a layer over the input like every napari-sr result, the per-pixel standard
deviation a second layer beside it (where the data leave the answer open), and, when
asked, the samples a third, one sample per step of its first axis.
"""

from __future__ import annotations

import time
from typing import Any

import napari
import numpy as np
from napari.utils.notifications import show_error, show_info
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
)

from ..engine.method_table import DIFFUSION, describe_method
from ..engine.sampling import ESTIMATES
from ..image import Image
from . import session
from ._task import TaskWidget, device_choices, image_layer_names, set_choices
from .layers import add_result_layer, layer_input
from .model_files import ask_for_model_file

LOAD_MODEL = "Load model file…"
SCALES = (2, 3, 4)


class DiffusionWidget(TaskWidget):
    """Diffusion SR of an image layer with per-pixel uncertainty.

    Parameters
    ----------
    viewer : napari.viewer.Viewer
        The viewer whose image layers are offered and which receives the results.
    """

    def __init__(self, viewer: napari.viewer.Viewer) -> None:
        super().__init__()
        self.viewer = viewer
        self.models: dict[str, Any] = {}

        self.layer = QComboBox()
        self.method = QComboBox()
        self.method.addItems([DIFFUSION, LOAD_MODEL])
        self.method.setToolTip(describe_method(DIFFUSION).description)
        self.method.activated.connect(self._maybe_load_model)
        self.scale = QComboBox()
        self.scale.addItems([str(s) for s in SCALES])
        self.scale.setCurrentText("4")
        self.samples = QSpinBox(minimum=1, maximum=256, value=8)
        self.samples.setToolTip("samples drawn per plane; the spread needs at least 2")
        self.steps = QSpinBox(minimum=0, maximum=1000, value=0)
        self.steps.setSpecialValueText("the model's")
        self.steps.setToolTip("denoiser evaluations per sample (fewer: faster, blurrier)")
        self.seed = QSpinBox(minimum=0, maximum=2**31 - 1, value=0)
        self.estimate = QComboBox()
        self.estimate.addItems(list(ESTIMATES))
        self.estimate.setToolTip("the image layer: the samples' mean, or the first sample")
        self.uncertainty = QCheckBox("standard deviation layer")
        self.uncertainty.setChecked(True)
        self.keep_samples = QCheckBox("samples layer")
        self.axes = QLineEdit()
        self.axes.setPlaceholderText("from the layer, e.g. ZYX")
        self.device = QComboBox()
        self.device.addItems(["auto", *device_choices()])

        form = QFormLayout()
        for label, field in (
            ("image", self.layer),
            ("model", self.method),
            ("scale", self.scale),
            ("samples", self.samples),
            ("steps", self.steps),
            ("seed", self.seed),
            ("image is", self.estimate),
            ("axes", self.axes),
            ("device", self.device),
        ):
            form.addRow(label, field)
        form.addRow("", self.uncertainty)
        form.addRow("", self.keep_samples)
        box = QVBoxLayout(self)
        box.addLayout(form)
        box.addWidget(self.run_button)
        box.addWidget(self.progress)
        box.addStretch()
        self.watch_layers(viewer)
        session.subscribe(viewer, self.add_model)

    # ------------------------------------------------------------- choices

    def add_model(self, label: str, model: Any) -> None:
        """Offer ``model`` when it is a diffusion model (others belong to Super-resolve)."""
        if not _is_diffusion(model):
            return
        self.models[label] = model
        if self.method.findText(label) < 0:
            self.method.insertItem(self.method.count() - 1, label)
        self.method.setCurrentText(label)

    def _maybe_load_model(self, index: int) -> None:
        if self.method.itemText(index) != LOAD_MODEL:
            return
        chosen = ask_for_model_file(self)
        if chosen is None or not _is_diffusion(chosen[1]):
            if chosen is not None:
                show_error(f"napari-sr: {chosen[0]} is not a diffusion model")
            self.method.setCurrentText(DIFFUSION)
            return
        session.add_model(self.viewer, *chosen)

    def _refresh_layers(self, *_: Any) -> None:
        set_choices(self.layer, image_layer_names(self.viewer))

    # ---------------------------------------------------------------- work

    def start(self) -> None:
        """Check the choices and sample off the GUI thread."""
        name = self.layer.currentText()
        if name not in self.viewer.layers:
            show_error("napari-sr: choose an image layer to super-resolve")
            return
        label = self.method.currentText()
        if label == LOAD_MODEL:
            show_error("napari-sr: load a diffusion model file first")
            return
        method = self.models.get(label, label)
        scale = _model_scale(method) or int(self.scale.currentText())
        if method == DIFFUSION and (reason := describe_method(DIFFUSION, scale).reason):
            show_error(f"napari-sr: {reason}")
            return
        samples = self.samples.value()
        uncertainty = self.uncertainty.isChecked()
        if uncertainty and samples < 2:
            show_error("napari-sr: the standard deviation needs at least 2 samples")
            return
        options = {
            "method": method, "samples": samples, "seed": self.seed.value(),
            "steps": self.steps.value() or None, "estimate": self.estimate.currentText(),
            "uncertainty": uncertainty, "keep_samples": self.keep_samples.isChecked(),
            "device": self.device.currentText(),
        }  # fmt: skip
        source = self.viewer.layers[name]
        try:
            layer = layer_input(source, self.axes.text().strip() or None)
        except ValueError as err:
            show_error(f"napari-sr: {err}")
            return
        if layer.lazy:
            show_error("napari-sr: diffusion SR samples images in memory; crop the layer first")
            return
        started = time.perf_counter()
        progress, cancel = self.relay.progress.emit, self.cancel_event

        def work():
            from ..engine.upscaler import upscale

            return upscale(layer.load(), scale, progress=progress, cancel=cancel, **options)

        def returned(result):
            self._add_results(source, result, scale, label, started)

        self.launch(work, returned, total=1)

    def _add_results(self, source, result, scale: int, label: str, started: float) -> None:
        seconds = time.perf_counter() - started
        sampled = not isinstance(result, Image)
        image = result.image if sampled else result
        what = self.estimate.currentText()
        name = f"{source.name} ×{scale} {label} {what}"
        add_result_layer(self.viewer, source, image, name, seconds)
        added = [name]
        if sampled and self.uncertainty.isChecked():
            spread = add_result_layer(self.viewer, source, result.std, f"{name} std", seconds)
            spread.colormap = "magma"
            high = float(np.percentile(np.asarray(result.std.data), 99.5)) or 1.0
            spread.contrast_limits = (0.0, high)
            added.append(spread.name)
        if sampled and result.samples is not None:
            # the samples share the spread's axes (luma of an RGB image, without C)
            layer = self.viewer.add_image(
                result.samples, name=f"{name} samples", scale=_layer_scale(result.std),
                translate=_layer_translate(result.std), colormap=source.colormap.name,
            )  # fmt: skip
            added.append(layer.name)
        show_info(f"napari-sr: {', '.join(map(repr, added))} made in {seconds:.1f} s")


def _layer_scale(image) -> list[float]:
    """napari's ``scale`` of the samples layer: 1 for the samples' axis, then the image's."""
    return [1.0] + [float(image.pixel_size.get(a, 1.0)) for a in image.axes]


def _layer_translate(image) -> list[float]:
    return [0.0] + [float(image.origin.get(a, 0.0)) for a in image.axes]


def _model_scale(model: Any) -> int | None:
    """The scale of a model object or model file; None for the bundled name."""
    if isinstance(model, str) and model == DIFFUSION:
        return None
    scale = getattr(model, "scale", None)
    if scale is None:
        from ..models.checkpoint import read_metadata

        scale = read_metadata(model).get("scale")
    return int(scale)


def _is_diffusion(model: Any) -> bool:
    """Whether ``model`` (a model object or a model file path) is a diffusion model."""
    spec = getattr(model, "spec", None)
    if spec is not None:
        return spec.framework == "diffusion"
    try:
        from ..models.checkpoint import read_metadata
        from ..models.registry import REGISTRY

        architecture = read_metadata(model).get("architecture")
        return REGISTRY.spec(architecture).framework == "diffusion"
    except Exception:  # not a readable model file, or unknown: not offered here
        return False
