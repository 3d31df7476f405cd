"""The Train dock widget: train an SR model on image layers and/or a folder of images,
watch it learn, keep it.

The work is :func:`napari_sr.train` off the GUI thread, writing its checkpoint (the best
weights so far) to a temporary folder; Stop cancels it and keeps that checkpoint. A trained
model is shared with the Super-resolve and Compare widgets (:mod:`.session`) and can be
saved as a model file.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import napari
from napari.utils.notifications import show_error, show_info, show_warning
from qtpy.QtCore import QPointF
from qtpy.QtGui import QColor, QPainter, QPen, QPolygonF
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..io.formats import readable_text
from . import session
from ._task import CheckList, TaskWidget, image_layer_names
from .layers import layer_input
from .model_files import sr_models

LOSSES = (
    "l1", "mse", "charbonnier", "l1=1,ssim=0.2", "l1=1,texture=0.1",
    "l1=1,consistency=10,sr_features=5",
)  # fmt: skip
"""Losses the form offers (its box also takes any other ``loss`` of the recipe); the last
is a perceptual one for adversarial training."""
FORM_DEFAULTS = {
    "scale": 2,
    "steps": 500,
    "batch_size": 16,
    "patch_size": 64,
    "lr": 1e-3,
    "validation_fraction": 0.1,
}
"""The form's starting values, by field of the training recipe
(:class:`~napari_sr.training.config.TrainConfig`): a short run to watch in the viewer,
hence a larger learning rate than the recipe's default (1e-3, not 2e-4) and a tenth of
every image held out, so that the plot shows validation PSNR. Every option the form does
not show is the recipe's default."""
INIT_CHOICES = {"bundled weights": None, "scratch": "scratch"}
"""The "start from" choices and their ``train(init=...)`` values: None fine-tunes the
bundled weights of the architecture and scale where napari-sr ships them, else starts
from random weights (the status line says which)."""


class CurvePlot(QWidget):
    """Training loss (left scale, log) and validation PSNR (right scale) against step."""

    def __init__(self) -> None:
        super().__init__()
        self.setMinimumHeight(140)
        self.loss: list[tuple[int, float]] = []
        self.psnr: list[tuple[int, float]] = []
        self.steps = 1

    def clear(self, steps: int) -> None:
        self.loss, self.psnr, self.steps = [], [], max(1, steps)
        self.update()

    def add(self, record: dict) -> None:
        if record.get("event") == "step":
            self.loss.append((record["step"], max(float(record["loss"]), 1e-12)))
        elif record.get("event") == "validation":
            self.psnr.append((record["step"], float(record["psnr"])))
        else:
            return
        self.update()

    def paintEvent(self, event) -> None:  # Qt calls it by this name
        import math

        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(20, 20, 24))
        w, h = self.width() - 8, self.height() - 8
        for points, color, transform in (
            (self.loss, QColor(90, 170, 255), math.log10),
            (self.psnr, QColor(255, 170, 60), float),
        ):
            if not points:
                continue
            values = [transform(v) for _, v in points]
            low, high = min(values), max(values)
            span = (high - low) or 1.0
            polygon = QPolygonF(
                [
                    QPointF(4 + w * s / self.steps, 4 + h * (1 - (v - low) / span))
                    for (s, _), v in zip(points, values, strict=True)
                ]
            )
            painter.setPen(QPen(color, 2))
            painter.drawPolyline(polygon)
        painter.setPen(QColor(200, 200, 200))
        text = []
        if self.loss:
            text.append(f"loss {self.loss[-1][1]:.4g}")
        if self.psnr:
            text.append(f"val PSNR {self.psnr[-1][1]:.2f} dB")
        painter.drawText(8, 16, "   ".join(text))
        painter.end()


class TrainWidget(TaskWidget):
    """Train a registered architecture on high-resolution image layers, the image files of
    a folder, or both.

    Parameters
    ----------
    viewer : napari.viewer.Viewer
        Its image layers are the training images.
    """

    run_text = "Train"
    cancel_text = "Stop"
    cancelling_text = "Stopping…"

    def __init__(self, viewer: napari.viewer.Viewer) -> None:
        super().__init__()
        self.viewer = viewer
        self.model = None
        self._folder = tempfile.TemporaryDirectory(prefix="napari-sr-train-")

        self.images = CheckList()
        self.folder = QLineEdit()
        self.folder.setPlaceholderText(f"optional: a folder of {readable_text('or')} images")
        self.folder.setToolTip(
            "every image file in the folder (not its subfolders) is a high-resolution "
            "training image, read when training starts"
        )
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._choose_folder)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder)
        folder_row.addWidget(browse)
        self.architecture = QComboBox()
        self.architecture.addItems(sr_models())  # upsampling networks (scale >= 2)
        self.architecture.setCurrentText("fsrcnn")
        start = FORM_DEFAULTS
        self.scale = QSpinBox(minimum=2, maximum=8, value=start["scale"])
        self.init = QComboBox()
        self.init.addItems(list(INIT_CHOICES))
        self.blur = QDoubleSpinBox(minimum=0.0, maximum=10.0, value=0.0, singleStep=0.1)
        self.blur.setToolTip("Gaussian blur sigma of the degradation, HR pixels (0: none)")
        self.noise = QDoubleSpinBox(minimum=0.0, maximum=1000.0, value=0.0)
        self.noise.setToolTip("Gaussian noise sigma of the degradation, grey levels (0: none)")
        self.steps = QSpinBox(minimum=1, maximum=10_000_000, value=start["steps"])
        self.batch = QSpinBox(minimum=1, maximum=1024, value=start["batch_size"])
        self.patch = QSpinBox(minimum=8, maximum=1024, value=start["patch_size"])
        self.lr = QDoubleSpinBox(
            decimals=5, minimum=1e-5, maximum=1.0, value=start["lr"], singleStep=1e-4
        )
        self.loss = QComboBox()
        self.loss.addItems(LOSSES)
        self.loss.setEditable(True)
        self.validation = QDoubleSpinBox(
            minimum=0.0, maximum=0.5, value=start["validation_fraction"], singleStep=0.05
        )
        # adversarial (GAN) training: the discriminator's options show when it is ticked
        from ..training.config import DISCRIMINATOR_NAMES, GAN_LOSS_NAMES, TrainConfig

        defaults = TrainConfig.__dataclass_fields__
        self.adversarial = QCheckBox("train against a discriminator (GAN)")
        self.discriminator = QComboBox()
        self.discriminator.addItems(DISCRIMINATOR_NAMES)
        self.gan_loss = QComboBox()
        self.gan_loss.addItems(GAN_LOSS_NAMES)
        self.gan_loss.setCurrentText(defaults["gan_loss"].default)
        self.adversarial_weight = QDoubleSpinBox(
            decimals=4, minimum=0.0, maximum=10.0, singleStep=0.01,
            value=defaults["adversarial_weight"].default,
        )  # fmt: skip
        self.adversarial.toggled.connect(self._show_adversarial)
        # the help of each option is its field's, as the command line's --help shows it
        for name, control in self.recipe_controls().items():
            control.setToolTip(recipe_help(name))
        self.plot = CurvePlot()
        self.relay.record.connect(self.plot.add)
        self.relay.record.connect(self._note_start)
        self._below_warned = False
        self._start_note = ""
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.warning = QLabel("")  # shown when the model scores below bicubic
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet(
            "QLabel { color: #1a1a1a; background: #ffb347; font-weight: bold; padding: 6px; }"
        )
        self.warning.hide()
        self.save_button = QPushButton("Save model…")
        self.save_button.setEnabled(False)
        self.save_button.clicked.connect(self._save_dialog)

        form = QFormLayout()
        form.addRow("images (high-res)", self.images)
        form.addRow("and/or folder", folder_row)
        for label, field in (
            ("architecture", self.architecture),
            ("scale", self.scale),
            ("start from", self.init),
            ("blur σ", self.blur),
            ("noise σ", self.noise),
            ("steps", self.steps),
            ("batch", self.batch),
            ("patch", self.patch),
            ("learning rate", self.lr),
            ("loss", self.loss),
            ("validation fraction", self.validation),
            ("adversarial", self.adversarial),
            ("discriminator", self.discriminator),
            ("adversarial loss", self.gan_loss),
            ("adversarial weight", self.adversarial_weight),
        ):
            form.addRow(label, field)
        self._form = form
        self._show_adversarial(False)
        box = QVBoxLayout(self)
        box.addLayout(form)
        box.addWidget(self.run_button)
        box.addWidget(self.progress)
        box.addWidget(self.plot)
        box.addWidget(self.status)
        box.addWidget(self.warning)
        box.addWidget(self.save_button)

        self.watch_layers(viewer)

    def _refresh_layers(self, *_: Any) -> None:
        self.images.show_names(image_layer_names(self.viewer))

    def _show_adversarial(self, shown: bool) -> None:
        for control in (self.discriminator, self.gan_loss, self.adversarial_weight):
            self._form.setRowVisible(control, shown)

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of training images")
        if folder:
            self.folder.setText(folder)

    def recipe_controls(self) -> dict[str, QWidget]:
        """The form's controls of the training recipe's fields, by field name."""
        return {
            "architecture": self.architecture,
            "scale": self.scale,
            "init": self.init,
            "steps": self.steps,
            "batch_size": self.batch,
            "patch_size": self.patch,
            "lr": self.lr,
            "loss": self.loss,
            "validation_fraction": self.validation,
            "adversarial": self.adversarial,
            "discriminator": self.discriminator,
            "gan_loss": self.gan_loss,
            "adversarial_weight": self.adversarial_weight,
        }

    def checked_layers(self) -> list[str]:
        return self.images.checked()

    def set_checked(self, names: list[str]) -> None:
        self.images.set_checked(names)

    # ---------------------------------------------------------------- work

    @property
    def checkpoint(self) -> Path:
        """Where the running training keeps its best weights."""
        return Path(self._folder.name) / f"{self.architecture.currentText()}.safetensors"

    def start(self) -> None:
        """Check the choices and train off the GUI thread."""
        names = self.checked_layers()
        folder = self.folder.text().strip()
        if not names and not folder:
            show_error(
                "napari-sr: tick at least one high-resolution image layer to train on, or "
                "choose a folder of training images"
            )
            return
        if folder and not Path(folder).is_dir():
            show_error(
                f"napari-sr: the training folder {folder!r} does not exist; choose a folder "
                "of high-resolution images (or clear the field)"
            )
            return
        try:
            layers = [layer_input(self.viewer.layers[name]) for name in names]
        except ValueError as err:
            show_error(f"napari-sr: {err}")
            return
        extra = [folder] if folder else []  # read off the GUI thread, by the training
        degradation: dict[str, Any] = {}
        if self.blur.value() > 0:
            degradation["blur"] = float(self.blur.value())
        if self.noise.value() > 0:
            degradation["noise"] = {"gaussian": float(self.noise.value())}
        options = {
            "scale": int(self.scale.value()),
            "steps": int(self.steps.value()),
            "batch_size": int(self.batch.value()),
            "patch_size": int(self.patch.value()),
            "lr": float(self.lr.value()),
            "loss": self.loss.currentText().strip(),
            "validation_fraction": float(self.validation.value()),
            "degradation": degradation or None,
        }
        if self.adversarial.isChecked():
            options.update(
                adversarial=True,
                discriminator=self.discriminator.currentText(),
                gan_loss=self.gan_loss.currentText(),
                adversarial_weight=float(self.adversarial_weight.value()),
            )
        if options["validation_fraction"] > 0:
            options["validate_every"] = max(1, options["steps"] // 10)
        architecture = self.architecture.currentText()
        init = INIT_CHOICES[self.init.currentText()]
        checkpoint = self.checkpoint
        for stale in checkpoint.parent.glob(f"{checkpoint.stem}*"):
            stale.unlink()

        def work():
            from ..training.loop import train

            images = [layer.load() for layer in layers] + extra
            return train(
                architecture, images, checkpoint=checkpoint, overwrite=True,
                checkpoint_every=max(1, options["steps"] // 10), init=init,
                progress=self.relay.progress.emit, log=self.relay.record.emit,
                cancel=self.cancel_event, **options,
            )  # fmt: skip

        self.plot.clear(options["steps"])
        self.warning.hide()
        self._below_warned = False
        self._start_note = ""
        kind = " against a discriminator" if options.get("adversarial") else ""
        self.status.setText(f"training {architecture} ×{options['scale']}{kind}…")
        self.launch(work, self._trained, total=options["steps"])

    def _trained(self, model) -> None:
        self._keep(model, "finished")

    def _keep(self, model, how: str) -> None:
        self.model = model
        label = f"{model.spec.name} ×{model.scale} (trained)"
        psnr, gain = validation_scores(model)
        config = getattr(model, "training_config", None)
        adversarial = bool(getattr(config, "adversarial", False))
        text = f"{how}: {label}"
        if self._start_note:
            text += f", {self._start_note}"
        if psnr is not None:
            text += f"; validation PSNR {psnr:.2f} dB"
            if gain is not None:
                text += f", {gain:+.2f} dB over bicubic"
        niqe = ((getattr(model, "training_report", None) or {}).get("validation") or {}).get(
            "niqe"
        )
        if niqe is not None:
            text += f", NIQE {niqe:.2f}"
        if adversarial:
            text += " (adversarial: the latest weights; PSNR is traded for texture)"
        self.status.setText(text)
        if gain is not None and gain < 0 and not adversarial:
            message = (
                f"This model scores {-gain:.2f} dB BELOW bicubic interpolation on the "
                "held-out part of the images: it makes them worse than interpolation. "
                "Start from bundled weights, train longer or on more images, or use bicubic."
            )
            self.warning.setText(message)
            self.warning.show()
            if not self._below_warned:  # train() said it already (a stopped run does not)
                show_warning(f"napari-sr: {label}: {message}")
        session.add_model(self.viewer, label, model)
        self.save_button.setEnabled(True)

    def _note_start(self, record: dict) -> None:
        """The training's "start" record says how the weights started: show it."""
        note = record.get("init_note") if record.get("event") == "start" else None
        if note:  # e.g. "fine-tuning the bundled fsrcnn_x2.sr291 (init='scratch', …)"
            self._start_note = note.split(" (init=")[0]
            self.status.setText(f"{self.status.text()} {self._start_note}")

    def _warned(self, args: tuple) -> None:
        if args[1].__name__ == "BelowInterpolationWarning":
            self._below_warned = True
        super()._warned(args)

    def cancelled(self, result: Any = None) -> None:
        """Stop pressed: keep the best weights so far (the model, when the training got
        to its end before it saw the Stop; else the checkpoint it wrote)."""
        if result is not None:
            self._keep(result, "stopped; kept the best weights")
        elif self.checkpoint.is_file():
            from ..models.checkpoint import load_model

            self._keep(load_model(self.checkpoint), "stopped; kept the best weights")
        else:
            show_info("napari-sr: training stopped before its first checkpoint")

    def _save_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Save model", "model.safetensors", "Model files (*.safetensors)"
        )
        if path:
            self.save_model(path)

    def save_model(self, path: str) -> Path:
        """Write the trained model as a model file (napari's dialog asked before replacing)."""
        from ..models.checkpoint import save_model

        return save_model(self.model, path, overwrite=True)


def recipe_help(name: str) -> str:
    """The documentation of a training recipe field, as a tooltip."""
    from ..training.config import TrainConfig, describe_options

    return describe_options(TrainConfig)[name].help


def validation_scores(model: Any) -> tuple[float | None, float | None]:
    """A trained model's best validation PSNR (dB) and its gain over bicubic (dB), from
    the metrics of its record (``model.info.metrics``); None where unknown (no validation
    set)."""
    from ..models.info import info_of

    metrics = info_of(model).metrics
    if metrics is None:
        return None, None
    return metrics.validation_psnr, metrics.gain_over_bicubic
