"""The Multi-frame SR dock widget, driven as a person would."""

from __future__ import annotations

import numpy as np
import pytest

import napari_sr

pytest.importorskip("napari")
LEFT = pytest.importorskip("qtpy.QtCore").Qt.MouseButton.LeftButton
pytestmark = pytest.mark.gui


@pytest.mark.parametrize(
    ("method", "optics", "gain"),
    # the bundled sample is simulated without optical blur; the learned fusion also gets a
    # burst blurred by a PSF of σ = 1, which the person types in
    [("shift-add", None, 5.0), ("learned", None, 5.0), ("learned", 1.0, 4.0)],
)
def test_fuses_a_burst_beside_single_frame_results(make_napari_viewer, qtbot, method, optics,
                                                   gain):  # fmt: skip
    from napari_sr.multiframe.simulate import make_burst

    viewer = make_napari_viewer()
    truth = napari_sr.load_sample("burst", ground_truth=True).data
    if optics is None:
        viewer.open_sample("napari-sr", "burst")
    else:
        frames, _, truth = make_burst(truth, 2, 8, psf=optics, peak=200, seed=0)
        viewer.add_image(frames, name="burst")
    _dock, w = viewer.window.add_plugin_dock_widget("napari-sr", "Multi-frame SR")
    assert w.layer.currentText() == "burst" and w.axes.text() == "TYX"
    w.method.setCurrentText(method)
    w.psf.setValue(optics or 0.0)
    qtbot.mouseClick(w.run_button, LEFT)
    qtbot.waitUntil(lambda: w._worker is None, timeout=60_000)
    names = [layer.name for layer in viewer.layers]
    assert names == ["burst", "burst frame 0 ×2 bicubic", "burst frame 0 ×2 lanczos3",
                     f"burst ×2 misr {method}"]  # fmt: skip
    fused = viewer.layers[f"burst ×2 misr {method}"]
    bicubic = viewer.layers["burst frame 0 ×2 bicubic"]
    assert fused.data.shape == bicubic.data.shape == (256, 256)
    # on the same grid: they overlay
    assert tuple(fused.scale) == pytest.approx(tuple(bicubic.scale))
    assert tuple(fused.translate) == pytest.approx(tuple(bicubic.translate))
    span = float(np.ptp(truth))

    def score(layer):
        return napari_sr.psnr(truth, layer.data, data_range=span, crop_border=2)

    assert score(fused) > score(bicubic) + gain
    assert "fused 8 frames" in w.status.text()


def test_a_layer_without_frames_is_a_notification(make_napari_viewer, qtbot, monkeypatch):
    errors = []
    monkeypatch.setattr("napari_sr._napari.misr_widget.show_error", errors.append)
    viewer = make_napari_viewer()
    viewer.add_image(np.zeros((4, 16, 16), np.float32), name="stack")
    _dock, w = viewer.window.add_plugin_dock_widget("napari-sr", "Multi-frame SR")
    w.axes.setText("ZYX")
    qtbot.mouseClick(w.run_button, LEFT)
    w.axes.setText("TYX")
    w.reference.setValue(9)
    qtbot.mouseClick(w.run_button, LEFT)
    w.reference.setValue(0)
    w.method.setCurrentText("learned")
    w.scale.setValue(3)
    qtbot.mouseClick(w.run_button, LEFT)
    assert "need a T" in errors[0] and "4 frames" in errors[1]
    assert "bundled for ×2, ×4" in errors[2]
    assert len(viewer.layers) == 1


def test_the_fusion_menu_is_the_table_of_fusion_methods(make_napari_viewer, qtbot, monkeypatch):
    from napari_sr.multiframe.fusion import DEFAULT_FUSION, fusion_names

    errors = []
    monkeypatch.setattr("napari_sr._napari.misr_widget.show_error", errors.append)
    viewer = make_napari_viewer()
    viewer.add_image(np.zeros((4, 16, 16), np.float32), name="stack")
    _dock, w = viewer.window.add_plugin_dock_widget("napari-sr", "Multi-frame SR")
    items = tuple(w.method.itemText(i) for i in range(w.method.count()))
    assert items == fusion_names() and "highresnet_x4.bursts291" in items
    assert w.method.currentText() == DEFAULT_FUSION
    assert all(name in w.method.toolTip() for name in items)
    w.axes.setText("TYX")
    w.method.setCurrentText("highresnet_x4.bursts291")  # a bundled network, at x2
    qtbot.mouseClick(w.run_button, LEFT)
    assert errors == [
        "napari-sr: the fusion network highresnet_x4.bursts291 is bundled for ×4; choose one "
        "of those scales or a classical fusion"
    ]
    assert len(viewer.layers) == 1
