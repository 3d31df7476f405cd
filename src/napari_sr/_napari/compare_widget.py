"""The Compare dock widget: interpolation against learned methods, side by side.

Two ways in. Either a high-resolution reference layer, degraded by the SR protocol and
restored by every method (:func:`napari_sr.evaluation.compare_methods`), or a layer that
is already low-resolution, restored as it is and scored against an optional reference
layer (:func:`napari_sr.evaluation.compare_low_resolution`). The widget adds one layer per
method (and optionally ``|output - reference|``), turns on grid view so that every panel
shows the same spot through one shared camera, and shows the scores in a sortable table
that can be saved as CSV.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import napari
import numpy as np
from napari.utils.notifications import show_error, show_info
from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from .. import metrics
from ..engine.method_table import DIFFUSION, describe_method
from ..metrics import describe_range, metric_labels, scoring_range
from ..resample import INTERPOLATION_METHODS
from . import session
from ._task import (
    TaskWidget,
    bundled_default_kinds,
    image_layer_names,
    missing_default,
    set_choices,
)
from .layers import META_KEY, image_to_layers, layer_input
from .model_files import ask_for_model_file


def columns(table: tuple | None = None) -> tuple[str, ...]:
    """Table headers, short so that all columns fit a dock's width: the method, one column
    per metric of ``table`` (by default :data:`napari_sr.metrics.METRICS`: ``"PSNR dB"``,
    ``"SSIM"``; a perceptual comparison adds NIQE, spectrum and consistency), seconds
    (``"s"``) and parameters (``"params"``)."""
    table = metrics.METRICS if table is None else table
    return ("method", *(m.short_title for m in table), "s", "params")


DEGRADE = "degrade a high-res reference"
LOW_RES = "restore a low-res layer"
NO_REFERENCE = "(none: times only)"


class _NumberItem(QTableWidgetItem):
    """A table cell that sorts by its number, not its text."""

    def __init__(self, value: float | None, text: str) -> None:
        super().__init__(text)
        self.value = -np.inf if value is None else float(value)

    def __lt__(self, other: QTableWidgetItem) -> bool:
        if isinstance(other, _NumberItem):
            return self.value < other.value
        return super().__lt__(other)


class CompareWidget(TaskWidget):
    """Compare SR methods on a high-resolution reference layer, or on a low-resolution
    layer with an optional reference.

    Parameters
    ----------
    viewer : napari.viewer.Viewer
        The viewer with the reference layer; receives one layer per method.
    """

    cancelled_message = "napari-sr: comparison cancelled; nothing was added"

    def __init__(self, viewer: napari.viewer.Viewer) -> None:
        super().__init__()
        self.viewer = viewer
        self.models: dict[str, Any] = {}
        self.result = None

        self.mode = QComboBox()
        self.mode.addItems([DEGRADE, LOW_RES])
        self.mode.setToolTip(
            "degrade: make the low-res input from the reference by MATLAB bicubic (the SR "
            "benchmark protocol); restore: upscale a real low-res layer as it is"
        )
        self.low_res = QComboBox()
        self.reference = QComboBox()
        self.scale = QDoubleSpinBox(minimum=1.5, maximum=8.0, value=2.0, singleStep=0.5)
        self.methods = QListWidget()
        # diffusion SR, where bundled, as one sample: what a single output of it looks like
        diffusion = [DIFFUSION] if describe_method(DIFFUSION).reason is None else []
        for name in [*bundled_default_kinds(), *diffusion, *INTERPOLATION_METHODS]:
            checked = name in ("quality", "nearest", "bilinear", "bicubic")
            self._add_method_item(name, checked=checked)
        self.load_button = QPushButton("Add model file…")
        self.load_button.clicked.connect(self._load_model)
        self.differences = QCheckBox("add |output − reference| layers")
        self.perceptual = QCheckBox("beyond PSNR: NIQE, spectrum, consistency maps")
        self.perceptual.setToolTip(
            "also score NIQE (no reference needed), the radial power spectrum against the "
            "reference, and the data consistency of each output: the output downscaled "
            "again against the input, added as an error-map layer per method (bright: "
            "where the output disagrees with the measured data)"
        )
        headers = columns()
        self.table = QTableWidget(0, len(headers))
        self.table.setHorizontalHeaderLabels(headers)
        header = self.table.horizontalHeader()
        # the numbers take what they need; the method column gets the rest and elides, so
        # that the last column (parameters) is never pushed out of the dock
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setMinimumSectionSize(24)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.table.verticalHeader().hide()
        self.table.setSortingEnabled(True)
        self.scoring = QLabel("")
        self.scoring.setWordWrap(True)
        self.export_button = QPushButton("Save table as CSV…")
        self.export_button.setEnabled(False)
        self.export_button.clicked.connect(self._export)

        form = QFormLayout()
        form.addRow("input", self.mode)
        form.addRow("low-res layer", self.low_res)
        form.addRow("reference (high-res)", self.reference)
        form.addRow("scale", self.scale)
        form.addRow("methods", self.methods)
        form.addRow("", self.load_button)
        form.addRow("", self.differences)
        form.addRow("", self.perceptual)
        box = QVBoxLayout(self)
        box.addLayout(form)
        box.addWidget(self.run_button)
        box.addWidget(self.progress)
        box.addWidget(self.scoring)
        box.addWidget(self.table)
        box.addWidget(self.export_button)

        for event in (viewer.layers.events.inserted, viewer.layers.events.removed):
            event.connect(self._refresh_layers)
        self.mode.currentTextChanged.connect(self._refresh_layers)
        self._refresh_layers()
        session.subscribe(viewer, self.add_model)  # trained or loaded models

    @property
    def low_res_mode(self) -> bool:
        return self.mode.currentText() == LOW_RES

    def add_model(self, label: str, model: Any) -> None:
        """Offer ``model`` (a model object or a model file path) as a method, checked."""
        self.models[label] = model
        if not self.methods.findItems(label, Qt.MatchFlag.MatchExactly):
            self._add_method_item(label, checked=True)

    def _load_model(self) -> None:
        chosen = ask_for_model_file(self)
        if chosen is not None:  # offered by every widget of this viewer
            session.add_model(self.viewer, *chosen)

    def checked_methods(self) -> list[str]:
        items = (self.methods.item(i) for i in range(self.methods.count()))
        return [item.text() for item in items if item.checkState() == Qt.CheckState.Checked]

    def set_checked(self, names: list[str]) -> None:
        for i in range(self.methods.count()):
            item = self.methods.item(i)
            item.setCheckState(
                Qt.CheckState.Checked if item.text() in names else Qt.CheckState.Unchecked
            )

    def _add_method_item(self, name: str, *, checked: bool) -> None:
        item = QListWidgetItem(name)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
        self.methods.addItem(item)

    def _refresh_layers(self, *_: Any) -> None:
        names = image_layer_names(
            self.viewer, lambda layer: not layer.metadata.get("napari_sr_compare")
        )
        set_choices(self.low_res, names)
        set_choices(self.reference, [NO_REFERENCE, *names] if self.low_res_mode else names)
        self.low_res.setEnabled(self.low_res_mode)

    # ---------------------------------------------------------------- work

    def start(self) -> None:
        """Check the choices and run the comparison off the GUI thread."""
        labels = self.checked_methods()
        if not labels:
            show_error("napari-sr: tick at least one method to compare")
            return
        layers = self.viewer.layers
        input_name = (
            self.low_res.currentText() if self.low_res_mode else self.reference.currentText()
        )
        if input_name not in layers:
            which = "low-resolution" if self.low_res_mode else "high-resolution reference"
            show_error(f"napari-sr: choose a {which} layer")
            return
        reference_name = self.reference.currentText() if self.low_res_mode else input_name
        source = layers[input_name]
        reference = layers[reference_name] if reference_name in layers else None
        try:  # shapes and attributes now; the pixels are read off the GUI thread
            image = layer_input(source)
            reference_input = None if reference is None else layer_input(reference)
        except ValueError as err:
            show_error(f"napari-sr: {err}")
            return
        methods = [self.models.get(label, label) for label in labels]
        scale = float(self.scale.value())
        unavailable = [label for label in labels if missing_default(label, scale)]
        if unavailable:  # e.g. 'quality' at x2.5: compare the rest, say what was left out
            labels = [label for label in labels if label not in unavailable]
            show_info(f"napari-sr: {', '.join(unavailable)} left out: no bundled weights "
                      f"for ×{scale:g}")  # fmt: skip
            if not labels:
                show_error("napari-sr: tick a method that works at this scale")
                return
            methods = [self.models.get(label, label) for label in labels]
        low_res_mode = self.low_res_mode
        perceptual = self.perceptual.isChecked()
        progress = self.relay.progress.emit

        def work():
            from ..evaluation import compare_low_resolution, compare_methods

            counts = [_parameters(m, scale) for m in methods]
            cancel = self.cancel_event  # launch() made it: read it here, not before
            loaded = image.load()
            if reference_input is None:
                reference_data = None
            elif not low_res_mode:  # the reference is the input: read it once
                reference_data = loaded.data
            else:
                reference_data = reference_input.load().data
            data_range = scoring_range(reference_data)  # 255 for 8-bit, else the span
            options = {"axes": loaded.axes, "data_range": data_range, "progress": progress,
                       "perceptual": perceptual}  # fmt: skip
            if low_res_mode:
                result = compare_low_resolution(
                    loaded.data, scale, methods, reference=reference_data, cancel=cancel,
                    **options,
                )  # fmt: skip
            else:
                result = compare_methods(loaded.data, scale, methods, cancel=cancel, **options)
            return result, loaded, data_range, counts

        def returned(outcome):
            result, loaded, data_range, counts = outcome
            placement = _placement(source, loaded, result, low_res_mode)
            self._show_result(source, reference, labels, result, placement, counts)
            self.scoring.setText(_describe_scoring(result, data_range, source.rgb))

        self.launch(work, returned, total=len(labels))

    def _show_result(
        self, source, reference, labels: list[str], result, placement, counts: list
    ) -> None:
        self.result = result
        kwargs = {**placement, "rgb": source.rgb}
        if not source.rgb:
            kwargs["colormap"] = source.colormap.name
            kwargs["contrast_limits"] = list(source.contrast_limits)
        for label, row in zip(labels, result.rows, strict=True):
            output = result.outputs[row["method"]]
            # the row's scores travel with the layer (and mark it as a comparison output)
            kwargs["metadata"] = {**placement["metadata"],
                                  "napari_sr_compare": {**row, "scale": result.scale}}  # fmt: skip
            # short names: each is its panel's label in grid view, and must fit a panel
            name = label if "×" in label else f"{label} ×{result.scale:g}"
            self.viewer.add_image(output, name=name, **kwargs)
            if self.differences.isChecked() and reference is not None:
                difference = result.difference(row["method"])
                if source.rgb:  # one value per pixel, so that it can be shown in inferno
                    difference = difference.max(axis=-1)
                self.viewer.add_image(
                    difference, name=f"|{label} − ref|", scale=kwargs["scale"],
                    translate=kwargs["translate"], colormap="inferno",
                    metadata=kwargs["metadata"],
                )  # fmt: skip
            if row["method"] in result.consistency_maps:
                self._add_consistency(label, result, kwargs)
        show_grid(self.viewer)
        self._fill_table(labels, result.rows, counts)
        self.export_button.setEnabled(True)

    def _add_consistency(self, label: str, result, kwargs: dict) -> None:
        """The data-consistency error of ``label`` as a layer on the input's grid: a pixel
        of the input covers ``scale`` output pixels, and its centre sits (scale − 1) / 2
        of them from the output's first pixel centre (napari_sr.geometry)."""
        error = result.consistency(label)
        if error.ndim == len(kwargs["scale"]) + 1:  # RGB: the worst channel
            error = error.max(axis=-1)
        spatial = len(kwargs["scale"])
        step = [float(s) for s in kwargs["scale"]]
        shift = [float(t) for t in kwargs["translate"]]
        for axis in (spatial - 2, spatial - 1):  # Y and X
            shift[axis] += (result.scale - 1) / 2 * step[axis]
            step[axis] *= result.scale
        self.viewer.add_image(
            error.astype(np.float32), name=f"{label} consistency", scale=step,
            translate=shift, colormap="magma", metadata=kwargs["metadata"],
        )  # fmt: skip

    def _fill_table(self, labels: list[str], rows: list[dict], counts: list) -> None:
        table = self.result.metrics if self.result is not None else metrics.METRICS
        headers = columns(table)
        self.table.setColumnCount(len(headers))
        self.table.setHorizontalHeaderLabels(headers)
        self.table.setSortingEnabled(False)
        self.table.setRowCount(len(rows))
        for r, (label, row, count) in enumerate(zip(labels, rows, counts, strict=True)):
            cells = [
                QTableWidgetItem(label),
                *(_NumberItem(row[m.key], m.format(row[m.key])) for m in table),  # "—": none
                _NumberItem(row["seconds"], f"{row['seconds']:.3f}"),
                _NumberItem(count, "—" if count is None else f"{count:,}"),
            ]
            cells[0].setToolTip(label)  # the full name, when the column elides it
            for c, cell in enumerate(cells):
                self.table.setItem(r, c, cell)
        self.table.setSortingEnabled(True)
        first = table[0]  # best first, by the first metric
        if any(row[first.key] is not None for row in rows):
            order = (
                Qt.SortOrder.DescendingOrder
                if first.higher_is_better
                else Qt.SortOrder.AscendingOrder
            )
            self.table.sortItems(1, order)
        else:  # no reference: fastest first
            self.table.sortItems(1 + len(table), Qt.SortOrder.AscendingOrder)

    def _export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save table", "comparison.csv", "CSV (*.csv)")
        if path:
            self.save_csv(path)

    def save_csv(self, path: str) -> None:
        """Write the scores as CSV (atomically; napari's dialog asked before replacing)."""
        from ..utils.atomic import atomic_write

        text = self.result.csv_text()
        atomic_write(path, lambda tmp: Path(tmp).write_text(text), overwrite=True)


def _describe_scoring(result, data_range: float | None, rgb: bool) -> str:
    if result.reference is None:
        return "no reference: outputs and times only"
    luma = ", on luma (Y)" if rgb and result.y_channel else ""
    return (
        f"{metric_labels()} with {describe_range(data_range)}, {result.crop_border}-pixel "
        f"border removed{luma}"
    )


def _placement(source, image, result, low_res_mode: bool) -> dict[str, Any]:
    """``scale``, ``translate`` and ``metadata`` of the output layers: on the reference's
    grid when it was degraded; else the low-resolution layer's grid refined by the scale,
    so that the outputs overlay the input exactly (napari_sr.geometry)."""
    metadata: dict[str, Any] = {"napari_sr_compare": True}  # not offered as an input again
    if not low_res_mode:
        return {"scale": list(source.scale), "translate": list(source.translate),
                "metadata": metadata}  # fmt: skip
    some_output = next(iter(result.outputs.values()))
    refined = image.resampled(
        some_output, {"Y": result.scale, "X": result.scale}, {"operation": "compare"}
    )
    (_, kwargs, _), *_ = image_to_layers(refined, source.name)
    metadata[META_KEY] = kwargs["metadata"][META_KEY]
    return {"scale": kwargs["scale"], "translate": kwargs["translate"], "metadata": metadata}


def show_grid(viewer: napari.viewer.Viewer) -> None:
    """Grid view: one panel per layer, all through one camera (zoom and pan in one panel
    move them all), panels a little apart and each labelled with its layer's name."""
    grid = grid_of(viewer)
    grid.enabled = True
    if hasattr(grid, "spacing") and not grid.spacing:
        grid.spacing = 0.02  # of a panel's size: panels that do not look like one image
    for layer in viewer.layers:
        overlay = getattr(layer, "name_overlay", None)  # napari >= 0.6
        if overlay is not None:
            overlay.visible = True
    viewer.reset_view()  # fit every panel: the camera was set for one panel, not the grid


def grid_of(viewer: napari.viewer.Viewer):
    """The viewer's grid settings (``viewer.canvas.grid`` since napari 0.9, before that
    ``viewer.grid``)."""
    canvas = getattr(viewer, "canvas", None)
    return canvas.grid if canvas is not None and hasattr(canvas, "grid") else viewer.grid


def _parameters(method: Any, scale: float) -> int | None:
    """Parameter count of a method: a model object, a model file, a bundled default
    (``'quality'``, ``'fast'``) or bundled weights by name; None for interpolations (what
    each is: the table of methods)."""
    from ..engine.method_table import describe_method

    try:
        info = None if method is None else describe_method(method, scale)
    except (TypeError, ValueError):
        return None
    if info is None or not info.learned or (info.kind == "default" and info.runs is None):
        return None  # an interpolation, or a default without weights for the scale
    if info.kind != "model":
        from ..models.bundled import bundled_path
        from ..models.checkpoint import read_metadata

        try:
            path = info.name if info.kind == "file" else bundled_path(info.runs or info.name)
            return int(read_metadata(path).get("parameters"))
        except (ValueError, TypeError, OSError):
            return None
    try:
        return sum(p.numel() for p in method.parameters())
    except (AttributeError, TypeError):
        return None
