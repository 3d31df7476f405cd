"""The Rate dock widget: a blind study driven by clicks and keys, its results and CSV."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

pytest.importorskip("napari")
QtCore = pytest.importorskip("qtpy.QtCore")
LEFT = QtCore.Qt.MouseButton.LeftButton
pytestmark = pytest.mark.gui


def _viewer_with_outputs(make_napari_viewer):
    rng = np.random.default_rng(0)
    sharp = (rng.random((96, 96)) * 255).astype(np.uint8)
    blurred = ndimage.gaussian_filter(sharp, 2)
    viewer = make_napari_viewer()
    viewer.add_image(sharp, name="sharp")
    viewer.add_image(blurred, name="blurred")
    viewer.add_image(np.zeros((50, 50), np.uint8), name="other size")
    _dock, rate = viewer.window.add_plugin_dock_widget("napari-sr", "Rate")
    return viewer, rate


def test_a_blind_pair_study_ranks_what_the_rater_prefers(make_napari_viewer, qtbot, tmp_path):
    viewer, rate = _viewer_with_outputs(make_napari_viewer)
    rate.set_checked(["sharp", "blurred"])
    rate.trials.setValue(6)
    rate.size.setValue(32)
    qtbot.mouseClick(rate.start_button, LEFT)
    assert rate.question.text().startswith("trial 1 of 6")
    assert not rate.answer_buttons["left"].isHidden() and rate.answer_buttons[1].isHidden()
    sides = []
    for _ in range(6):
        trial = rate.session.trials[rate.current]
        # nothing on screen names the methods: only the pictures differ
        assert "sharp" not in rate.question.text() and "blurred" not in rate.question.text()
        left, right = rate.session.crops(rate.current, rate.images)
        sides.append(trial.left)
        # the rater prefers the crisper crop: its pixels vary more
        key = QtCore.Qt.Key.Key_Left if left.std() > right.std() else QtCore.Qt.Key.Key_Right
        qtbot.keyClick(rate, key)
    assert set(sides) == {"sharp", "blurred"}  # the sides were drawn, not fixed
    assert rate.question.text() == "every trial is rated"
    assert rate.table.rowCount() == 2 and rate.table.item(0, 1).text() == "sharp"
    assert rate.table.item(0, 3).text() == "1.00"  # preferred every time
    path = rate.save_session(tmp_path / "ratings.csv")
    assert path.read_text().count("\n") == 7

    # a second rater: the same trials, from the file
    other = viewer.window.add_plugin_dock_widget("napari-sr", "Rate")[1]
    from napari_sr.rating import RatingSession

    blank = RatingSession.read_csv(path)
    for trial in blank.trials:
        trial.answer = None
    blank.write_csv(tmp_path / "again.csv")
    other.load_session(tmp_path / "again.csv")
    assert other.question.text().startswith("trial 1 of 6")
    for _ in range(6):
        qtbot.mouseClick(other.answer_buttons["same"], LEFT)
    assert {other.table.item(r, 3).text() for r in range(2)} == {"0.50"}


def test_scores_mode_and_checks(make_napari_viewer, qtbot, monkeypatch):
    errors = []
    monkeypatch.setattr("napari_sr._napari.rate_widget.show_error", errors.append)
    _viewer, rate = _viewer_with_outputs(make_napari_viewer)
    rate.set_checked(["sharp"])
    qtbot.mouseClick(rate.start_button, LEFT)
    assert "two or more" in errors[-1]
    rate.set_checked(["sharp", "other size"])
    qtbot.mouseClick(rate.start_button, LEFT)
    assert "different sizes" in errors[-1]
    rate.set_checked(["sharp", "blurred"])
    rate.mode.setCurrentText("scores")
    rate.trials.setValue(4)
    rate.size.setValue(24)
    qtbot.mouseClick(rate.start_button, LEFT)
    assert not rate.answer_buttons[5].isHidden() and rate.right.isHidden()
    for _ in range(4):
        trial = rate.session.trials[rate.current]
        qtbot.keyClick(rate, "5" if trial.left == "sharp" else "2")
    assert rate.table.item(0, 1).text() == "sharp" and rate.table.item(0, 3).text() == "5.00"
