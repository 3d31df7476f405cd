"""The Super-resolve dock widget, driven as a person would in a real viewer."""

from __future__ import annotations

import time

import numpy as np
import pytest

import napari_sr

pytest.importorskip("napari")
pytestmark = pytest.mark.gui


@pytest.fixture
def widget(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    _dock, widget = viewer.window.add_plugin_dock_widget("napari-sr", "Super-resolve")
    return viewer, widget


def _run(qtbot, widget, timeout=20_000):
    qtbot.mouseClick(widget.run_button, 1)  # Qt.LeftButton
    qtbot.waitUntil(lambda: widget._worker is None, timeout=timeout)


def test_bicubic_layer_overlays_the_input(widget, qtbot):
    viewer, w = widget
    data = np.random.default_rng(0).integers(0, 4000, (3, 20, 24), dtype=np.uint16)
    source = viewer.add_image(data, name="stack", scale=(0.8, 0.2, 0.2), translate=(0, 1, 2),
                              colormap="magma", contrast_limits=(0, 3000))  # fmt: skip
    assert w.layer.currentText() == "stack" and w.axes.text() == "ZYX"
    w.method.setCurrentText("bicubic")
    w.scale.setValue(2)
    _run(qtbot, w)
    out = viewer.layers["stack ×2 bicubic"]
    np.testing.assert_array_equal(out.data, napari_sr.upscale(data, 2, method="bicubic"))
    assert tuple(out.scale) == pytest.approx((0.8, 0.1, 0.1))
    # translate_out = translate_in + (0.5/s - 0.5) * scale_in (DESIGN.md)
    assert tuple(out.translate) == pytest.approx((0, 1 - 0.25 * 0.2, 2 - 0.25 * 0.2))
    assert out.colormap.name == "magma" and tuple(out.contrast_limits) == (0, 3000)
    record = out.metadata["napari_sr"]["provenance"]
    assert record["method"] == "bicubic" and record["scale"] == 2 and record["seconds"] >= 0
    assert w.progress.value() == w.progress.maximum() == 3
    assert source.data is data  # the input is untouched


def test_trained_model_runs_with_its_options(widget, qtbot, tmp_path):
    viewer, w = widget
    model = napari_sr.create_model("espcn", scale=2)
    path = napari_sr.save_model(model, tmp_path / "espcn.safetensors")
    viewer.add_image(np.random.default_rng(1).random((16, 18), dtype=np.float32), name="img")
    w.add_model("espcn.safetensors", str(path))
    w.tile.setValue(8)
    w.self_ensemble.setChecked(True)
    _run(qtbot, w)
    out = viewer.layers["img ×2 espcn.safetensors"]
    assert out.data.shape == (32, 36)
    record = out.metadata["napari_sr"]["provenance"]
    assert record["self_ensemble"] is True and record["device"] == "cpu"


def test_bad_choice_is_a_notification_not_a_crash(widget, qtbot, monkeypatch):
    viewer, w = widget
    shown = []
    monkeypatch.setattr("napari_sr._napari._task.show_error", shown.append)
    viewer.add_image(np.zeros((8, 8), np.float32), name="img")
    model = napari_sr.create_model("espcn", scale=3)
    w.add_model("espcn x3", model)
    w.scale.setValue(2)
    _run(qtbot, w)
    assert len(viewer.layers) == 1
    assert shown and "does not match the model's scale 3" in shown[0]
    assert w.run_button.text() == "Run"


def test_cancel_leaves_no_layer_and_the_viewer_idle(widget, qtbot, monkeypatch):
    viewer, w = widget
    infos = []
    monkeypatch.setattr("napari_sr._napari._task.show_info", infos.append)
    viewer.add_image(np.zeros((400, 256, 256), np.float32), name="big")
    w.method.setCurrentText("lanczos3")
    w.scale.setValue(4)
    qtbot.mouseClick(w.run_button, 1)
    qtbot.waitUntil(lambda: w.progress.value() > 0, timeout=20_000)
    assert w.run_button.text() == "Cancel"
    pressed = time.perf_counter()
    qtbot.mouseClick(w.run_button, 1)
    qtbot.waitUntil(lambda: w._worker is None, timeout=5_000)
    assert time.perf_counter() - pressed < 1.0 + 1.0  # about a second (shared CI machines)
    assert [layer.name for layer in viewer.layers] == ["big"]
    assert infos == ["napari-sr: cancelled; nothing was added"]
    assert w.run_button.text() == "Run" and w.run_button.isEnabled()
