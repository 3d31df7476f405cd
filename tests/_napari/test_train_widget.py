"""The Train dock widget: train, watch the plot, stop, keep and use the model."""

from __future__ import annotations

import numpy as np
import pytest

import napari_sr

pytest.importorskip("napari")
LEFT = pytest.importorskip("qtpy.QtCore").Qt.MouseButton.LeftButton
pytestmark = pytest.mark.gui


def _setup(make_napari_viewer):
    viewer = make_napari_viewer()
    viewer.open_sample("napari-sr", "burst_ground_truth")
    _dock, train = viewer.window.add_plugin_dock_widget("napari-sr", "Train")
    train.set_checked(["burst (ground truth)"])
    train.architecture.setCurrentText("espcn")
    train.patch.setValue(16)
    train.batch.setValue(4)
    return viewer, train


def test_train_plot_and_use_the_model(make_napari_viewer, qtbot, tmp_path, monkeypatch):
    warned = []
    monkeypatch.setattr("napari_sr._napari._task.show_warning", warned.append)
    monkeypatch.setattr("napari_sr._napari.train_widget.show_warning", warned.append)
    viewer, train = _setup(make_napari_viewer)
    train.steps.setValue(20)
    qtbot.mouseClick(train.run_button, LEFT)
    qtbot.waitUntil(lambda: train._worker is None, timeout=60_000)
    assert len(train.plot.loss) == 20 and train.plot.psnr  # the plot followed the run
    # the model file's scores are shown; 20 steps from random weights: below bicubic
    metrics = train.model.checkpoint["metrics"]
    psnr = metrics["validation"]["psnr"] if "validation" in metrics else metrics["psnr"]
    gain = metrics["gain_db"]
    assert gain < 0
    assert f"validation PSNR {psnr:.2f} dB, {gain:+.2f} dB over bicubic" in train.status.text()
    assert not train.warning.isHidden() and "BELOW bicubic" in train.warning.text()
    assert len(warned) == 1 and "below bicubic interpolation" in warned[0], warned
    assert train.progress.value() == 20
    assert train.model is not None and train.save_button.isEnabled()
    path = train.save_model(str(tmp_path / "espcn.safetensors"))
    assert napari_sr.load_model(path).spec.name == "espcn"

    # the trained model is offered by the Super-resolve widget, and runs there
    _dock, up = viewer.window.add_plugin_dock_widget("napari-sr", "Super-resolve")
    label = "espcn ×2 (trained)"
    assert up.method.findText(label) >= 0
    up.layer.setCurrentText("burst (ground truth)")
    up.method.setCurrentText(label)
    qtbot.mouseClick(up.run_button, LEFT)
    qtbot.waitUntil(lambda: up._worker is None, timeout=30_000)
    out = viewer.layers[f"burst (ground truth) ×2 {label}"]
    assert out.data.shape == (512, 512)


def test_stop_keeps_the_best_checkpoint(make_napari_viewer, qtbot):
    _viewer, train = _setup(make_napari_viewer)
    train.steps.setValue(100_000)
    qtbot.mouseClick(train.run_button, LEFT)
    # stop long before the first periodic checkpoint: Stop itself writes the best weights
    qtbot.waitUntil(lambda: train.progress.value() >= 3, timeout=60_000)
    qtbot.mouseClick(train.run_button, LEFT)
    qtbot.waitUntil(lambda: train._worker is None, timeout=30_000)
    assert train.model is not None and "stopped; kept the best weights" in train.status.text()
    x = np.random.default_rng(0).random((12, 12), dtype=np.float32)
    assert napari_sr.upscale(x, 2, method=train.model).shape == (24, 24)


def test_train_on_a_folder_of_images(make_napari_viewer, qtbot, tmp_path, monkeypatch):
    import tifffile
    from imageio.v3 import imwrite

    from napari_sr.models.checkpoint import read_metadata

    errors = []
    monkeypatch.setattr("napari_sr._napari.train_widget.show_error", errors.append)
    monkeypatch.setattr("napari_sr._napari._task.show_error", errors.append)
    viewer = make_napari_viewer()
    _dock, train = viewer.window.add_plugin_dock_widget("napari-sr", "Train")
    train.architecture.setCurrentText("espcn")
    train.patch.setValue(16)
    train.batch.setValue(4)
    train.steps.setValue(5)

    # nothing chosen, then a folder that does not exist: a notification, no run
    qtbot.mouseClick(train.run_button, LEFT)
    train.folder.setText(str(tmp_path / "missing"))
    qtbot.mouseClick(train.run_button, LEFT)
    assert "or choose a folder" in errors[0] and "does not exist" in errors[1]
    assert not train.busy

    # a folder without images: the training's reason, shown when it fails off the GUI thread
    folder = tmp_path / "images"
    folder.mkdir()
    (folder / "notes.txt").write_text("not an image")
    train.folder.setText(str(folder))
    qtbot.mouseClick(train.run_button, LEFT)
    qtbot.waitUntil(lambda: train._worker is None, timeout=30_000)
    assert "has no image files" in errors[2] and train.model is None

    cell = napari_sr.load_sample("cell").data
    tifffile.imwrite(folder / "a.tif", cell[:192, :96])
    imwrite(folder / "b.png", cell[200:392, 100:180])  # 10 % held out: 19 rows
    qtbot.mouseClick(train.run_button, LEFT)
    qtbot.waitUntil(lambda: train._worker is None, timeout=60_000)
    assert len(errors) == 3 and train.model is not None
    record = read_metadata(train.save_model(str(tmp_path / "espcn.safetensors")))
    names = [image["name"] for image in record["data"]["training"]["images"]]
    assert names == ["a.tif", "b.png"]  # the folder's images, in name order


def test_start_from_bundled_weights_or_scratch(make_napari_viewer, qtbot, tmp_path):
    from napari_sr.models.checkpoint import read_metadata

    _viewer, train = _setup(make_napari_viewer)
    train.architecture.setCurrentText("fsrcnn")
    assert train.init.currentText() == "bundled weights"  # the default
    train.steps.setValue(3)
    for choice, start in (("bundled weights", "fsrcnn_x2.sr291"), ("scratch", "scratch")):
        train.init.setCurrentText(choice)
        qtbot.mouseClick(train.run_button, LEFT)
        qtbot.waitUntil(lambda: train._worker is None, timeout=60_000)
        record = read_metadata(train.save_model(str(tmp_path / f"{start}.safetensors")))
        assert record["training"]["init"] == start
    train.init.setCurrentText("bundled weights")
    qtbot.mouseClick(train.run_button, LEFT)
    qtbot.waitUntil(lambda: train._worker is None, timeout=60_000)
    assert "fine-tuning the bundled fsrcnn_x2.sr291" in train.status.text()


def test_adversarial_training_from_the_form(make_napari_viewer, qtbot, monkeypatch):
    """Ticking the discriminator shows its options; the run trains against it, keeps the
    latest weights and does not call the model worse than bicubic for its PSNR."""
    warned = []
    monkeypatch.setattr("napari_sr._napari.train_widget.show_warning", warned.append)
    _viewer, train = _setup(make_napari_viewer)
    assert train.discriminator.isHidden() and train.adversarial_weight.isHidden()
    train.adversarial.setChecked(True)
    assert not train.discriminator.isHidden() and not train.gan_loss.isHidden()
    assert train.adversarial.toolTip().startswith("Train against a discriminator")
    train.gan_loss.setCurrentText("hinge")
    train.adversarial_weight.setValue(0.05)
    train.steps.setValue(4)
    records = []
    train.relay.record.connect(records.append)
    qtbot.mouseClick(train.run_button, LEFT)
    qtbot.waitUntil(lambda: train._worker is None, timeout=120_000)
    config = train.model.training_config
    chosen = (config.adversarial, config.gan_loss, config.adversarial_weight)
    assert chosen == (True, "hinge", 0.05)
    steps = [r for r in records if r.get("event") == "step"]
    assert steps and "d_accuracy" in steps[-1]["losses"]
    assert "the latest weights" in train.status.text()
    assert train.warning.isHidden() and not warned
