"""The Diffusion SR dock widget, driven as a person would in a real viewer: a diffusion
model file loaded into the session, the mean, standard deviation and samples layers, and
the choices refused before any work."""

from __future__ import annotations

import numpy as np
import pytest

import napari_sr

pytest.importorskip("napari")
Qt = pytest.importorskip("qtpy.QtCore").Qt
LEFT = Qt.MouseButton.LeftButton
pytestmark = pytest.mark.gui

TINY = {"features": 8, "multipliers": (1, 2, 2), "blocks": 1, "levels": 3, "kappa": 0.5}


@pytest.fixture
def widget(make_napari_viewer):
    viewer = make_napari_viewer()
    _dock, widget = viewer.window.add_plugin_dock_widget("napari-sr", "Diffusion SR")
    return viewer, widget


def _run(qtbot, widget, timeout=30_000):
    qtbot.mouseClick(widget.run_button, LEFT)
    qtbot.waitUntil(lambda: widget._worker is None, timeout=timeout)


def test_mean_spread_and_samples_become_layers(widget, qtbot, tmp_path):
    viewer, w = widget
    model = napari_sr.create_model("diffusion_unet", scale=2, **TINY)
    path = napari_sr.save_model(model, tmp_path / "tiny_diffusion.safetensors")
    image = np.random.default_rng(0).integers(0, 255, (2, 12, 16), dtype=np.uint8)
    viewer.add_image(image, name="cells", scale=(1.0, 0.4, 0.4))
    from napari_sr._napari import session

    session.add_model(viewer, "tiny_diffusion.safetensors", str(path))
    assert w.method.currentText() == "tiny_diffusion.safetensors"
    w.samples.setValue(3)
    w.keep_samples.setChecked(True)
    _run(qtbot, w)
    name = "cells ×2 tiny_diffusion.safetensors mean"
    mean, spread = viewer.layers[name], viewer.layers[f"{name} std"]
    samples = viewer.layers[f"{name} samples"]
    expected = napari_sr.upscale(image, 2, method=str(path), samples=3, uncertainty=True)
    np.testing.assert_array_equal(mean.data, expected.image)
    np.testing.assert_allclose(spread.data, expected.std, rtol=1e-5, atol=1e-4)
    assert samples.data.shape == (3, 2, 24, 32)
    assert tuple(spread.scale) == pytest.approx((1.0, 0.2, 0.2))
    assert tuple(samples.scale)[1:] == pytest.approx((1.0, 0.2, 0.2))
    assert spread.colormap.name == "magma"
    record = mean.metadata["napari_sr"]["provenance"]
    assert record["samples"] == 3 and record["seed"] == 0
    assert w.progress.value() == w.progress.maximum()


def test_other_models_are_not_offered_and_bad_choices_are_refused(widget, qtbot):
    viewer, w = widget
    from napari_sr._napari import session

    session.add_model(viewer, "espcn", napari_sr.create_model("espcn", scale=2))
    assert w.method.findText("espcn") < 0
    viewer.add_image(np.zeros((8, 8), np.uint8), name="flat")
    w.samples.setValue(1)
    w.method.setCurrentText("diffusion")
    w.scale.setCurrentText("3")
    w.start()  # no bundled weights at ×3, or one sample with the spread asked: refused
    assert w._worker is None and not any("flat ×3" in layer.name for layer in viewer.layers)
