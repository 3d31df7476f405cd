"""Layers larger than memory in a real viewer: OME-Zarr opened lazily and multiscale, and
the Super-resolve widget on a dask-backed layer that must never be computed on the GUI
thread (its blocks raise there), writing its result block by block to disk."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import napari_sr

pytest.importorskip("napari")
da = pytest.importorskip("dask.array")
pytest.importorskip("zarr")
Qt = pytest.importorskip("qtpy.QtCore").Qt
LEFT = Qt.MouseButton.LeftButton
pytestmark = pytest.mark.gui


def test_ome_zarr_opens_as_a_lazy_multiscale_layer_with_physical_scale(make_napari_viewer,
                                                                        tmp_path):  # fmt: skip
    data = np.random.default_rng(0).integers(0, 4000, (4, 64, 80), dtype=np.uint16)
    image = napari_sr.Image(data, axes="ZYX", pixel_size={"Z": 1.0, "Y": 0.25, "X": 0.25},
                            origin={"Y": 5.0})  # fmt: skip
    path = napari_sr.io.write(tmp_path / "cells.ome.zarr", image, levels=3)
    viewer = make_napari_viewer()
    (layer,) = viewer.open(str(path), plugin="napari-sr")
    assert layer.name == "cells" and layer.multiscale
    assert [level.shape for level in layer.data] == [(4, 64, 80), (4, 32, 40), (4, 16, 20)]
    assert all(type(level).__module__.startswith("dask") for level in layer.data[1:])
    assert tuple(layer.scale) == pytest.approx((1.0, 0.25, 0.25))
    assert tuple(layer.translate) == pytest.approx((0.0, 5.0, 0.0))
    np.testing.assert_array_equal(np.asarray(layer.data[0]), data)
    assert layer.metadata["napari_sr"]["axes"] == "ZYX"


class GuiThreadGuard:
    """Blocks of a dask array that raise when computed on the GUI (main) thread while armed.
    dask's synchronous scheduler computes in the thread that asks, so the guard sees it."""

    def __init__(self) -> None:
        self.armed = False
        self.reads: list[str] = []

    def __call__(self, block):
        here = threading.current_thread()
        self.reads.append(here.name)
        if self.armed and here is threading.main_thread():
            raise AssertionError("a layer's pixels were computed on the GUI thread")
        return block


def test_upscale_widget_on_a_dask_layer_never_computes_it_on_the_gui_thread(
    make_napari_viewer, qtbot, monkeypatch
):
    import dask

    monkeypatch.setattr(dask.config, "config", {**dask.config.config, "scheduler": "sync"})
    data = np.random.default_rng(1).integers(0, 4000, (6, 48, 56), dtype=np.uint16)
    guard = GuiThreadGuard()
    lazy = da.from_array(data, chunks=(1, 48, 56)).map_blocks(guard, dtype=data.dtype)
    viewer = make_napari_viewer()
    _dock, widget = viewer.window.add_plugin_dock_widget("napari-sr", "Super-resolve")
    source = viewer.add_image(lazy, name="big", scale=(1.0, 0.2, 0.2))  # napari shows a plane
    guard.armed = True
    assert widget.layer.currentText() == "big" and widget.axes.text() == "ZYX"
    widget.method.setCurrentText("fast")
    widget.scale.setValue(2)
    qtbot.mouseClick(widget.run_button, LEFT)
    qtbot.waitUntil(lambda: widget._worker is None, timeout=60_000)
    out = viewer.layers["big ×2 fast"]
    assert type(out.data).__module__.startswith("dask")  # shown from its store on disk
    path = out.metadata["napari_sr"]["source"]
    assert path.endswith("big.ome.zarr")
    np.testing.assert_array_equal(np.asarray(out.data), napari_sr.upscale(data, 2, method="fast"))
    assert tuple(out.scale) == pytest.approx((1.0, 0.1, 0.1))
    assert source.data is lazy
    assert any(name != "MainThread" for name in guard.reads)  # the work read it, elsewhere


def _guarded_layer(viewer, data, chunks, name, **kwargs):
    """A dask-backed layer whose blocks raise if computed on the GUI thread once armed."""
    guard = GuiThreadGuard()
    lazy = da.from_array(data, chunks=chunks).map_blocks(guard, dtype=data.dtype)
    return viewer.add_image(lazy, name=name, **kwargs), guard


def test_isotropic_widget_on_a_dask_layer_writes_its_results_to_disk(
    make_napari_viewer, qtbot, monkeypatch
):
    import dask

    import napari_sr.selfsup.isotropic as iso
    from napari_sr.selfsup.isotropic import interpolate_axial

    monkeypatch.setattr(dask.config, "config", {**dask.config.config, "scheduler": "sync"})
    monkeypatch.setitem(iso.DEFAULT_HPARAMS, "care_unet", {"n_first": 4, "depth": 1})
    rng = np.random.default_rng(2)
    data = (np.cumsum(rng.integers(0, 3, (6, 24, 24)), axis=-1) * 50).astype(np.uint16)
    viewer = make_napari_viewer()
    source, guard = _guarded_layer(viewer, data, (1, 24, 24), "deep", scale=(0.6, 0.2, 0.2))
    _dock, w = viewer.window.add_plugin_dock_widget("napari-sr", "Isotropic")
    guard.armed = True
    assert w.layer.currentText() == "deep" and w.factor.value() == pytest.approx(3.0)
    w.steps.setValue(3)
    qtbot.mouseClick(w.run_button, LEFT)
    qtbot.waitUntil(lambda: w._worker is None, timeout=120_000)
    out, cubic = viewer.layers["deep isotropic"], viewer.layers["deep cubic z"]
    assert out.data.shape == cubic.data.shape == (16, 24, 24)
    for layer in (out, cubic):  # shown from their stores on disk
        assert type(layer.data).__module__.startswith("dask")
        assert layer.metadata["napari_sr"]["source"].endswith(".ome.zarr")
    assert tuple(out.scale) == pytest.approx((0.2, 0.2, 0.2))
    expected = interpolate_axial(data, 3.0)
    np.testing.assert_array_equal(np.asarray(cubic.data), expected)
    assert np.asarray(out.data).std() > 0
    assert type(source.data).__module__.startswith("dask")  # the layer is left as it was
    assert any(name != "MainThread" for name in guard.reads)


def test_misr_widget_on_a_dask_layer_writes_its_results_to_disk(
    make_napari_viewer, qtbot, monkeypatch
):
    import dask

    from napari_sr.multiframe.misr import misr
    from napari_sr.multiframe.simulate import make_burst

    monkeypatch.setattr(dask.config, "config", {**dask.config.config, "scheduler": "sync"})
    scene = napari_sr.load_sample("burst", ground_truth=True).data[:96, :96]
    frames, _, _ = make_burst(scene, 2, 5, peak=200, seed=0)
    viewer = make_napari_viewer()
    _source, guard = _guarded_layer(viewer, frames, (1, 48, 48), "frames")
    _dock, w = viewer.window.add_plugin_dock_widget("napari-sr", "Multi-frame SR")
    guard.armed = True
    assert w.layer.currentText() == "frames" and w.axes.text() == "TYX"
    w.method.setCurrentText("shift-add")
    qtbot.mouseClick(w.run_button, LEFT)
    qtbot.waitUntil(lambda: w._worker is None, timeout=60_000)
    fused = viewer.layers["frames ×2 misr shift-add"]
    assert type(fused.data).__module__.startswith("dask")
    expected = misr(frames, 2, method="shift-add")
    np.testing.assert_array_equal(np.asarray(fused.data), expected)
    bicubic = viewer.layers["frames frame 0 ×2 bicubic"]
    np.testing.assert_array_equal(np.asarray(bicubic.data),
                                  napari_sr.upscale(frames[0], 2, method="bicubic"))  # fmt: skip
    assert any(name != "MainThread" for name in guard.reads)
