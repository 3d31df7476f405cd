"""The Super-resolve dock widget, driven as a person would in a real viewer."""

from __future__ import annotations

import time

import numpy as np
import pytest

import napari_sr

pytest.importorskip("napari")
Qt = pytest.importorskip("qtpy.QtCore").Qt
LEFT = Qt.MouseButton.LeftButton
pytestmark = pytest.mark.gui


@pytest.fixture
def widget(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    _dock, widget = viewer.window.add_plugin_dock_widget("napari-sr", "Super-resolve")
    return viewer, widget


def _run(qtbot, widget, timeout=20_000):
    qtbot.mouseClick(widget.run_button, LEFT)
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
    # translate_out = translate_in + (0.5/s - 0.5) * scale_in (napari_sr.geometry)
    assert tuple(out.translate) == pytest.approx((0, 1 - 0.25 * 0.2, 2 - 0.25 * 0.2))
    assert out.colormap.name == "magma" and tuple(out.contrast_limits) == (0, 3000)
    record = out.metadata["napari_sr"]["provenance"]
    assert record["method"] == "bicubic" and record["scale"] == 2 and record["seconds"] >= 0
    assert w.progress.value() == w.progress.maximum() == 3
    assert source.data is data  # the input is untouched


def test_sample_opened_through_the_plugin_then_super_resolved(widget, qtbot):
    viewer, w = widget
    viewer.open_sample("napari-sr", "anisotropic_stack")
    source = viewer.layers["anisotropic_stack"]
    assert w.layer.currentText() == "anisotropic_stack" and w.axes.text() == "ZYX"
    w.method.setCurrentText("lanczos3")
    w.scale.setValue(2)
    _run(qtbot, w)
    out = viewer.layers["anisotropic_stack ×2 lanczos3"]
    assert out.data.shape == (32, 256, 256) and out.data.dtype == np.uint16
    assert tuple(out.scale) == pytest.approx((0.8, 0.1, 0.1))  # µm, Y and X halved
    assert tuple(out.translate) == pytest.approx((0.0, -0.05, -0.05))  # 0 + (0.25 - 0.5) 0.2
    record = out.metadata["napari_sr"]
    assert record["axes"] == "ZYX"
    assert record["pixel_size"] == pytest.approx({"Z": 0.8, "Y": 0.1, "X": 0.1})
    provenance = record["provenance"]
    assert provenance["method"] == "lanczos3" and provenance["scale"] == 2
    # where the input came from: the sample's own record travels along
    assert provenance["source_provenance"]["z_decimation"] == 4
    assert out.colormap.name == source.colormap.name


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
    qtbot.mouseClick(w.run_button, LEFT)
    qtbot.waitUntil(lambda: w.progress.value() > 0, timeout=20_000)
    assert w.run_button.text() == "Cancel"
    pressed = time.perf_counter()
    qtbot.mouseClick(w.run_button, LEFT)
    qtbot.waitUntil(lambda: w._worker is None, timeout=5_000)
    assert time.perf_counter() - pressed < 1.0 + 1.0  # about a second (shared CI machines)
    assert [layer.name for layer in viewer.layers] == ["big"]
    assert infos == ["napari-sr: cancelled; nothing was added"]
    assert w.run_button.text() == "Run" and w.run_button.isEnabled()


# ------------------------------------------------------------ bad choices: notifications


@pytest.fixture
def errors(monkeypatch):
    shown = []
    for where in ("_task", "upscale_widget", "model_files"):
        monkeypatch.setattr(f"napari_sr._napari.{where}.show_error", shown.append)
    return shown


@pytest.mark.parametrize(
    ("shape", "axes", "reason"),
    [
        ((3, 20, 24), "YX", "3 dimensions"),  # axes that do not fit the layer
        ((20, 24), "ZY", "Y and X"),  # no image plane for a 2D method
    ],
)
def test_axes_that_do_not_fit_the_layer(widget, qtbot, errors, shape, axes, reason):
    viewer, w = widget
    viewer.add_image(np.zeros(shape, np.float32), name="img")
    w.add_model("espcn", napari_sr.create_model("espcn", scale=2))
    w.axes.setText(axes)
    _run(qtbot, w)
    assert len(errors) == 1 and reason in errors[0], errors
    assert [layer.name for layer in viewer.layers] == ["img"]


def test_model_files_that_do_not_load(widget, qtbot, errors, monkeypatch, tmp_path):
    from napari_sr._napari import model_files, upscale_widget

    viewer, w = widget
    viewer.add_image(np.random.default_rng(2).random((12, 14), dtype=np.float32), name="img")
    chosen = {}
    monkeypatch.setattr(
        model_files.QFileDialog, "getOpenFileName", lambda *a, **k: (chosen["path"], "")
    )

    def choose(path):
        chosen["path"] = str(path)
        index = w.method.findText(upscale_widget.LOAD_MODEL)
        w.method.setCurrentIndex(index)
        w.method.activated.emit(index)

    (tmp_path / "broken.safetensors").write_bytes(b"\x00" * 40)
    choose(tmp_path / "broken.safetensors")
    assert "broken.safetensors is not a readable safetensors file" in errors[0]
    assert w.method.currentText() == w.default_method
    assert w.method.findText("broken.safetensors") < 0

    # bare weights: the widget asks what they are, then loads them
    import torch

    model = napari_sr.create_model("espcn", scale=2, in_channels=3)
    torch.save(model.state_dict(), tmp_path / "rgb_x2.pth")
    answers = {"getItem": ("fsrcnn", True), "getInt": (2, True)}
    for name in answers:
        monkeypatch.setattr(model_files.QInputDialog, name,
                            lambda *a, _n=name, **k: answers[_n])  # fmt: skip
    choose(tmp_path / "rgb_x2.pth")  # the wrong architecture: the reason, nothing added
    assert "rgb_x2.pth does not fit fsrcnn x2" in errors[1]
    assert w.method.findText("rgb_x2.pth") < 0
    answers["getItem"] = ("espcn", True)
    choose(tmp_path / "rgb_x2.pth")
    assert len(errors) == 2 and w.method.currentText() == "rgb_x2.pth"
    viewer.add_image(np.zeros((10, 12, 3), np.uint8), name="rgb", rgb=True)
    w.layer.setCurrentText("rgb")
    _run(qtbot, w)
    assert viewer.layers["rgb ×2 rgb_x2.pth"].data.shape == (20, 24, 3)


def test_not_enough_memory_is_a_notification(widget, qtbot, errors, monkeypatch):
    from napari_sr.utils import memory

    viewer, w = widget
    viewer.add_image(np.zeros((256, 256), np.float32), name="img")
    monkeypatch.setattr(memory, "available_memory", lambda: 1 << 20)  # 1 MiB free
    w.method.setCurrentText("bicubic")
    w.scale.setValue(4)
    _run(qtbot, w)
    assert len(errors) == 1 and "1.0 MiB is available" in errors[0]
    assert "use a smaller scale, crop the image" in errors[0]
    assert [layer.name for layer in viewer.layers] == ["img"]  # nothing half-written
    assert w.run_button.text() == "Run" and w.run_button.isEnabled()


def test_the_bundled_quality_default_is_preselected(
    make_napari_viewer, qtbot, errors, fake_weights, monkeypatch
):
    """With single-image defaults bundled, the widget offers 'quality' (chosen) and 'fast'.
    At a scale without quality weights the default does what the API's and the CLI's
    default does: bicubic, said in a warning, the layer named by the method that ran."""
    from napari_sr._napari import upscale_widget

    warned, infos = [], []
    monkeypatch.setattr(upscale_widget, "show_warning", warned.append)
    monkeypatch.setattr(upscale_widget, "show_info", infos.append)
    viewer = make_napari_viewer()
    _dock, w = viewer.window.add_plugin_dock_widget("napari-sr", "Super-resolve")
    data = np.random.default_rng(3).integers(0, 255, (16, 18), dtype=np.uint8)
    viewer.add_image(data, name="photo")
    items = [w.method.itemText(i) for i in range(w.method.count())]
    assert items[:3] == ["quality", "fast", "nearest"]
    assert w.method.currentText() == "quality"
    assert "EDSR-light" in w.method.itemData(0, Qt.ItemDataRole.ToolTipRole)
    w.scale.setValue(2)
    _run(qtbot, w)
    out = viewer.layers["photo ×2 quality"]
    assert out.metadata["napari_sr"]["provenance"]["method"] == "edsr_light_x2.sr291"
    model = napari_sr.load_model(fake_weights["edsr_light_x2.sr291"])
    np.testing.assert_array_equal(out.data, napari_sr.upscale(data, 2, method=model))
    assert infos[-1].startswith("napari-sr: 'photo ×2 quality' made by quality "
                                "(edsr_light_x2.sr291) in ")  # fmt: skip
    # white noise reads as noisy; no noise-trained weights are bundled here, and it says so
    assert " s; noisy input: noise " in infos[-1]
    assert infos[-1].endswith(
        "% of the range > 1 %, but no noise-trained weights are bundled at this scale"
    )
    assert not warned
    for scale in (2.5, 3):  # the quality default is bundled for x2 only here
        w.method.setCurrentText("quality")
        w.scale.setValue(scale)
        _run(qtbot, w)
        assert warned[-1] == (
            f"napari-sr: no learned quality default is bundled for ×{scale:g} (bundled for "
            "×2), so bicubic interpolation ran; choose bicubic to pick it yourself, or a "
            "scale with bundled weights"
        )
        out = viewer.layers[f"photo ×{scale:g} bicubic"]
        assert out.metadata["napari_sr"]["provenance"]["method"] == "bicubic"
        np.testing.assert_array_equal(out.data, napari_sr.upscale(data, scale, method="bicubic"))
        assert infos[-1].startswith(f"napari-sr: 'photo ×{scale:g} bicubic' made by bicubic")
    assert not errors and len(warned) == 2
    assert w.method.currentText() == "quality"  # still the choice for the next run
    w.method.setCurrentText("fast")  # chosen by name: its weights, or a refusal (as the API)
    _run(qtbot, w)
    assert viewer.layers["photo ×3 fast"].data.shape == (48, 54)
    w.scale.setValue(2.5)
    _run(qtbot, w)
    assert errors == ["napari-sr: the fast default is bundled for ×2, ×3, not ×2.5; choose "
                      "one of those scales or an interpolation"]  # fmt: skip
