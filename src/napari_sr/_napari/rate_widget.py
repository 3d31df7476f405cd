"""The Rate dock widget: a blind rating study of SR outputs in the viewer.

Tick two or more image layers of the same size (the outputs of different methods on one
image, e.g. the Compare widget's), choose pairs or 1-5 scores, and Start: crops of the
same place are shown without names, the methods and their sides drawn at random
(:class:`napari_sr.rating.RatingSession`). Click (or press ←, →, ↓, or 1-5). When every
trial is answered the widget shows each method's mean opinion score or preference rate
with its 95 % interval and, for pairs, Bradley–Terry ranks; the session saves as CSV and
loads again, to go on rating or to score again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import napari
import numpy as np
from napari.utils.notifications import show_error, show_info
from qtpy.QtCore import Qt
from qtpy.QtGui import QImage, QPixmap
from qtpy.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..rating import CHOICES, MODES, SCORES, RatingSession
from ._task import CheckList, image_layer_names

SHOWN = 320
"""Side of each crop on screen, pixels (the crop is enlarged by whole pixels, no smoothing,
so that the rater sees the output's pixels and not an interpolation of them)."""

KEYS = {Qt.Key.Key_Left: "left", Qt.Key.Key_Right: "right", Qt.Key.Key_Down: "same"}
"""Keyboard answers of pair trials (scores: the keys 1-5)."""


class RateWidget(QWidget):
    """Blind A/B rating (or 1-5 scoring) of image layers, with MOS and Bradley–Terry.

    Parameters
    ----------
    viewer : napari.viewer.Viewer
        Its image layers are the outputs to rate.
    """

    def __init__(self, viewer: napari.viewer.Viewer) -> None:
        super().__init__()
        self.viewer = viewer
        self.session: RatingSession | None = None
        self.images: dict[str, np.ndarray] = {}
        self.limits: tuple[float, float] = (0.0, 1.0)
        self.current: int | None = None

        self.layers = CheckList()
        self.mode = QComboBox()
        self.mode.addItems(MODES)
        self.mode.setToolTip("pairs: pick the better of two crops; scores: rate one crop 1-5")
        self.trials = QSpinBox(minimum=1, maximum=10_000, value=20)
        self.size = QSpinBox(minimum=8, maximum=4096, value=96)
        self.size.setToolTip("side of the square crops, pixels of the layers")
        self.seed = QSpinBox(minimum=0, maximum=2**31 - 1, value=0)
        self.seed.setToolTip("draws the crops and the order: the same seed shows the same trials")
        self.rater = QLineEdit()
        self.rater.setPlaceholderText("optional: who rates")
        self.start_button = QPushButton("Start")
        self.start_button.clicked.connect(self.start)
        self.load_button = QPushButton("Load session…")
        self.load_button.clicked.connect(self._load_dialog)

        self.question = QLabel("")
        self.left = QLabel()
        self.right = QLabel()
        for view in (self.left, self.right):
            view.setFixedSize(SHOWN, SHOWN)
            view.setAlignment(Qt.AlignmentFlag.AlignCenter)
        views = QHBoxLayout()
        views.addWidget(self.left)
        views.addWidget(self.right)
        self.answers = QHBoxLayout()
        self.answer_buttons: dict[Any, QPushButton] = {}
        labels = {"left": "◀ left is better", "same": "the same", "right": "right is better ▶"}
        for answer in ("left", "same", "right", *SCORES):
            button = QPushButton(labels.get(answer, str(answer)))
            button.clicked.connect(lambda _=False, a=answer: self.give(a))
            self.answer_buttons[answer] = button
            self.answers.addWidget(button)
        self.table = QTableWidget(0, 0)
        self.table.verticalHeader().hide()
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        self.save_button = QPushButton("Save session as CSV…")
        self.save_button.clicked.connect(self._save_dialog)

        form = QFormLayout()
        form.addRow("outputs to rate", self.layers)
        form.addRow("mode", self.mode)
        form.addRow("trials", self.trials)
        form.addRow("crop size", self.size)
        form.addRow("seed", self.seed)
        form.addRow("rater", self.rater)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.load_button)
        box = QVBoxLayout(self)
        box.addLayout(form)
        box.addLayout(buttons)
        box.addWidget(self.question)
        box.addLayout(views)
        box.addLayout(self.answers)
        box.addWidget(self.summary)
        box.addWidget(self.table)
        box.addWidget(self.save_button)
        self._show_answers(None)
        self.save_button.setEnabled(False)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

        for event in (viewer.layers.events.inserted, viewer.layers.events.removed):
            event.connect(self._refresh_layers)
        self._refresh_layers()

    # ---------------------------------------------------------------- layers

    def _refresh_layers(self, *_: Any) -> None:
        self.layers.show_names(image_layer_names(self.viewer))

    def checked_layers(self) -> list[str]:
        return self.layers.checked()

    def set_checked(self, names: list[str]) -> None:
        self.layers.set_checked(names)

    def _gather(self, names: list[str]) -> bool:
        """Read the layers to rate (the plane on screen of stacks); False after an error."""
        images, shapes = {}, set()
        for name in names:
            if name not in self.viewer.layers:
                show_error(f"napari-sr: there is no layer {name!r} to rate; open it first")
                return False
            layer = self.viewer.layers[name]
            data = np.asarray(layer.data)
            keep = 3 if layer.rgb else 2
            if data.ndim > keep:  # a stack: the plane the viewer shows
                step = self.viewer.dims.current_step
                data = data[tuple(step[-data.ndim + i] for i in range(data.ndim - keep))]
            images[name] = data
            shapes.add(data.shape[:2])
        if len(shapes) > 1:
            show_error(
                "napari-sr: the layers to rate have different sizes "
                f"({', '.join(map(str, sorted(shapes)))}): rate outputs of the same image "
                "at the same scale"
            )
            return False
        self.images = images
        first = self.viewer.layers[names[0]]  # one contrast for all: no method stands out
        self.limits = tuple(float(v) for v in first.contrast_limits)
        return True

    # ---------------------------------------------------------------- the study

    def start(self) -> None:
        """Draw the trials from the ticked layers and show the first."""
        names = self.checked_layers()
        if len(names) < 2:
            show_error("napari-sr: tick two or more image layers (outputs) to rate")
            return
        if not self._gather(names):
            return
        shape = next(iter(self.images.values())).shape[:2]
        try:
            self.session = RatingSession(
                names, shape, trials=self.trials.value(), mode=self.mode.currentText(),
                size=self.size.value(), seed=self.seed.value(),
            )  # fmt: skip
        except ValueError as err:
            show_error(f"napari-sr: {err}")
            return
        self._advance()

    def load_session(self, path: str | Path) -> None:
        """Read a saved session; rate its remaining trials (or score it again)."""
        try:
            session = RatingSession.read_csv(path)
        except (OSError, ValueError) as err:
            show_error(f"napari-sr: {err}")
            return
        if not self._gather(session.methods):
            return
        shape = next(iter(self.images.values())).shape[:2]
        if any(t.y + t.size > shape[0] or t.x + t.size > shape[1] for t in session.trials):
            show_error(
                f"napari-sr: the crops of {str(path)!r} do not fit layers of {shape}: open "
                "the outputs that session was made for"
            )
            return
        self.session = session
        self.mode.setCurrentText(session.mode)
        self._advance()

    def give(self, answer: Any) -> None:
        """Answer the trial on screen (what the buttons and keys do)."""
        if self.session is None or self.current is None:
            return
        self.session.answer(self.current, answer, self.rater.text().strip())
        self._advance()

    def keyPressEvent(self, event) -> None:  # Qt calls it by this name
        if self.session is None or self.current is None:
            return super().keyPressEvent(event)
        if self.session.mode == "pairs" and event.key() in KEYS:
            self.give(KEYS[event.key()])
        elif self.session.mode == "scores" and event.text() in {str(s) for s in SCORES}:
            self.give(int(event.text()))
        else:
            super().keyPressEvent(event)

    def _advance(self) -> None:
        session = self.session
        self.current = session.next_trial()
        self.save_button.setEnabled(True)
        if self.current is None:
            self.question.setText("every trial is rated")
            self.left.hide()  # room for the results
            self.right.hide()
            self._show_answers(None)
            self._show_results()
            return
        left, right = session.crops(self.current, self.images)
        self.left.show()
        self.left.setPixmap(self._pixmap(left))
        self.right.setVisible(right is not None)
        if right is not None:
            self.right.setPixmap(self._pixmap(right))
        done = sum(t.answer is not None for t in session.trials)
        ask = "Which looks better?" if session.mode == "pairs" else "How good is it (1-5)?"
        self.question.setText(f"trial {done + 1} of {len(session.trials)}: {ask}")
        self._show_answers(session.mode)
        self.setFocus()

    def _show_answers(self, mode: str | None) -> None:
        for answer, button in self.answer_buttons.items():
            button.setVisible(mode == ("pairs" if answer in CHOICES else "scores"))

    def _pixmap(self, crop: np.ndarray) -> QPixmap:
        low, high = self.limits
        scaled = np.clip((crop.astype(np.float64) - low) / ((high - low) or 1.0), 0, 1)
        pixels = np.ascontiguousarray(np.rint(scaled * 255).astype(np.uint8))
        zoom = max(1, SHOWN // max(pixels.shape[:2]))
        pixels = np.ascontiguousarray(pixels.repeat(zoom, axis=0).repeat(zoom, axis=1))
        rows, cols = pixels.shape[:2]
        if pixels.ndim == 3:
            image = QImage(pixels.data, cols, rows, 3 * cols, QImage.Format.Format_RGB888)
        else:
            image = QImage(pixels.data, cols, rows, cols, QImage.Format.Format_Grayscale8)
        return QPixmap.fromImage(image.copy())  # copy: the array goes out of scope

    def _show_results(self) -> None:
        results = self.session.results()
        pairs = self.session.mode == "pairs"
        headers = ["rank", "method", "trials", "preferred" if pairs else "MOS", "95% CI"]
        if pairs:
            headers += ["Bradley–Terry", "95% CI "]
        self.table.setColumnCount(len(headers))
        self.table.setHorizontalHeaderLabels(headers)
        self.table.setRowCount(len(results))
        for row, r in enumerate(results):
            cells = [str(r.rank), r.method, str(r.trials),
                     "—" if r.mean is None else f"{r.mean:.2f}",
                     "—" if r.low is None else f"{r.low:.2f}-{r.high:.2f}"]  # fmt: skip
            if pairs:
                cells += [f"{r.strength:+.2f}",
                          "—" if r.strength_low is None
                          else f"{r.strength_low:+.2f}..{r.strength_high:+.2f}"]  # fmt: skip
            for column, text in enumerate(cells):
                self.table.setItem(row, column, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
        intervals = (
            "Wilson for preference rates, bootstrap for Bradley–Terry strengths (log scale)"
            if pairs
            else "Student t for the mean opinion scores"
        )
        self.summary.setText(f"{len(self.session.trials)} trials; 95% intervals: {intervals}")

    # ---------------------------------------------------------------- files

    def _save_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save ratings", "ratings.csv", "CSV (*.csv)")
        if path:
            self.save_session(path)

    def save_session(self, path: str | Path) -> Path:
        """Write the session (trials and answers so far) as CSV (napari's dialog asked
        before replacing a file)."""
        written = self.session.write_csv(path, overwrite=True)
        show_info(f"napari-sr: wrote {written}")
        return written

    def _load_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load ratings", "", "CSV (*.csv)")
        if path:
            self.load_session(path)
