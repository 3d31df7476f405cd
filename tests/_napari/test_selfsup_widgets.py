"""The Isotropic and Zero-shot SR dock widgets, driven as a person would."""

from __future__ import annotations

import numpy as np
import pytest

import napari_sr

pytest.importorskip("napari")
LEFT = pytest.importorskip("qtpy.QtCore").Qt.MouseButton.LeftButton
pytestmark = pytest.mark.gui


def _run(qtbot, widget, timeout=60_000):
    qtbot.mouseClick(widget.run_button, LEFT)
    qtbot.waitUntil(lambda: widget._worker is None, timeout=timeout)


def _stack(seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 1000, (6, 24, 24), dtype=np.uint16)


def test_isotropic_adds_the_reconstruction_and_cubic_z(make_napari_viewer, qtbot, tmp_path,
                                                       monkeypatch):  # fmt: skip
    import napari_sr.selfsup.isotropic as iso

    # a tiny network, so that the test trains in a second (the widget uses the defaults)
    monkeypatch.setitem(iso.DEFAULT_HPARAMS, "care_unet", {"n_first": 4, "depth": 1})
    viewer = make_napari_viewer()
    source = viewer.add_image(_stack(), name="stack", scale=(0.6, 0.2, 0.2),
                              translate=(1.0, 0.0, 0.0), colormap="magma")  # fmt: skip
    viewer.add_image(np.zeros((16, 16), np.float32), name="flat")  # 2D: not offered
    _dock, w = viewer.window.add_plugin_dock_widget("napari-sr", "Isotropic")
    assert [w.layer.itemText(i) for i in range(w.layer.count())] == ["stack"]
    assert w.factor.value() == pytest.approx(3.0)  # 0.6 / 0.2, from the layer's scale
    w.steps.setValue(4)
    _run(qtbot, w)
    out, cubic = viewer.layers["stack isotropic"], viewer.layers["stack cubic z"]
    assert out.data.shape == cubic.data.shape == (16, 24, 24)  # (6 - 1) * 3 + 1 planes
    assert tuple(out.scale) == pytest.approx((0.2, 0.2, 0.2))
    assert tuple(out.translate) == pytest.approx((1.0, 0.0, 0.0))  # the planes stay put
    np.testing.assert_array_equal(cubic.data[::3], source.data)
    assert out.colormap.name == "magma"
    assert out.metadata["napari_sr"]["provenance"]["method"] == "isotropic"
    assert "isotropic ×3" in w.status.text() and w.save_button.isEnabled()
    path = w.save_model(str(tmp_path / "iso.safetensors"))
    reused = napari_sr.isotropic(_stack(1), 3, model=str(path), device="cpu")
    assert reused.shape == (16, 24, 24)


def test_isotropic_cancel_adds_nothing(make_napari_viewer, qtbot, monkeypatch):
    infos = []
    monkeypatch.setattr("napari_sr._napari._task.show_info", infos.append)
    viewer = make_napari_viewer()
    viewer.add_image(_stack(), name="stack", scale=(0.8, 0.2, 0.2))
    _dock, w = viewer.window.add_plugin_dock_widget("napari-sr", "Isotropic")
    w.steps.setValue(100_000)
    qtbot.mouseClick(w.run_button, LEFT)
    qtbot.waitUntil(lambda: w.progress.value() >= 2, timeout=30_000)
    qtbot.mouseClick(w.run_button, LEFT)
    qtbot.waitUntil(lambda: w._worker is None, timeout=5_000)
    assert [layer.name for layer in viewer.layers] == ["stack"]
    assert infos == ["napari-sr: isotropic reconstruction cancelled; nothing was added"]


def test_zero_shot_sr_overlays_the_input(make_napari_viewer, qtbot, monkeypatch):
    import napari_sr.selfsup.zssr as zs

    monkeypatch.setattr(zs, "FATHER_SCALES", 2)  # fewer fathers: a quicker test
    viewer = make_napari_viewer()
    image = np.random.default_rng(2).integers(0, 255, (24, 26), dtype=np.uint8)
    viewer.add_image(image, name="img", scale=(0.4, 0.4), translate=(2.0, 3.0))
    _dock, w = viewer.window.add_plugin_dock_widget("napari-sr", "Zero-shot SR")
    w.steps.setValue(3)
    w.kernel.setCurrentText("Gaussian blur + decimation")
    assert w.blur.isEnabled()
    w.self_ensemble.setChecked(False)
    _run(qtbot, w)
    out = viewer.layers["img ×2 zssr"]
    assert out.data.shape == (48, 52) and out.data.dtype == np.uint8
    assert tuple(out.scale) == pytest.approx((0.2, 0.2))
    assert tuple(out.translate) == pytest.approx((2.0 - 0.1, 3.0 - 0.1))  # napari_sr.geometry
    record = out.metadata["napari_sr"]["provenance"]
    assert record["method"] == "zssr" and record["self_ensemble"] is False


def test_zero_shot_sr_refuses_a_kernel_with_a_fractional_scale(make_napari_viewer, qtbot,
                                                               monkeypatch):  # fmt: skip
    errors = []
    monkeypatch.setattr("napari_sr._napari.zssr_widget.show_error", errors.append)
    viewer = make_napari_viewer()
    viewer.add_image(np.zeros((24, 24), np.uint8), name="img")
    _dock, w = viewer.window.add_plugin_dock_widget("napari-sr", "Zero-shot SR")
    w.scale.setValue(2.5)
    w.kernel.setCurrentText("Gaussian blur + decimation")
    qtbot.mouseClick(w.run_button, LEFT)
    assert errors and "whole scale" in errors[0] and len(viewer.layers) == 1


def test_isotropic_on_a_thick_slice_nifti_keeps_its_place_in_the_world(
    make_napari_viewer, qtbot, tmp_path, monkeypatch
):
    nib = pytest.importorskip("nibabel")
    import napari_sr.selfsup.isotropic as iso

    monkeypatch.setitem(iso.DEFAULT_HPARAMS, "care_unet", {"n_first": 4, "depth": 1})
    affine = np.diag([1.0, 1.0, 3.0, 1.0])
    affine[:3, :3] = (
        np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]) @ affine[:3, :3]
    )
    affine[:3, 3] = [40.0, -60.0, 12.0]
    volume = (np.cumsum(np.ones((24, 24, 6)), axis=0) * 30).astype(np.int16)  # x, y, z
    nib.save(nib.Nifti1Image(volume, affine), str(tmp_path / "t2.nii.gz"))
    viewer = make_napari_viewer()
    (source,) = viewer.open(str(tmp_path / "t2.nii.gz"), plugin="napari-sr")
    _dock, w = viewer.window.add_plugin_dock_widget("napari-sr", "Isotropic")
    assert w.factor.value() == pytest.approx(3.0)  # from the voxel sizes
    w.steps.setValue(2)
    _run(qtbot, w)
    out = viewer.layers["t2 isotropic"]
    assert out.data.shape == (16, 24, 24)
    np.testing.assert_allclose(out.affine.affine_matrix, source.affine.affine_matrix)
    # a voxel of input slice 2 and its copy, output slice 6, at one world position
    before = source.data_to_world((2, 5, 7))
    after = out.data_to_world((6, 5, 7))
    np.testing.assert_allclose(before, after, atol=1e-6)
