"""What every dock widget shares: pixels read off the GUI thread, Cancel honoured to the
end, warnings shown as napari's, docks in one tab group. Driven in a real viewer."""

from __future__ import annotations

import threading
import warnings

import numpy as np
import pytest

import napari_sr

pytest.importorskip("napari")
LEFT = pytest.importorskip("qtpy.QtCore").Qt.MouseButton.LeftButton
pytestmark = pytest.mark.gui

WIDGETS = ("Super-resolve", "Compare", "Train", "Isotropic", "Zero-shot SR", "Multi-frame SR")


class LazyArray:
    """An array held elsewhere (as dask or zarr hold theirs): napari reads pieces with
    ``[]``; reading the whole of it goes through ``__array__``, which notes the thread."""

    def __init__(self, array: np.ndarray) -> None:
        self._array = array
        self.readers: list[threading.Thread] = []

    shape = property(lambda self: self._array.shape)
    dtype = property(lambda self: self._array.dtype)
    ndim = property(lambda self: self._array.ndim)
    size = property(lambda self: self._array.size)

    def __len__(self) -> int:
        return len(self._array)

    def __getitem__(self, key):
        return self._array[key]

    def __array__(self, dtype=None, copy=None):
        self.readers.append(threading.current_thread())
        return self._array if dtype is None else self._array.astype(dtype)


def _run(qtbot, widget, timeout=30_000):
    qtbot.mouseClick(widget.run_button, LEFT)
    qtbot.waitUntil(lambda: widget._worker is None, timeout=timeout)


def test_lazy_and_multiscale_layers_are_read_off_the_gui_thread(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    data = np.random.default_rng(0).integers(0, 255, (24, 20), dtype=np.uint8)
    lazy = LazyArray(data)
    pyramid = [LazyArray(data), LazyArray(data[::2, ::2])]
    stack = LazyArray(np.random.default_rng(1).integers(0, 255, (6, 16, 16), dtype=np.uint8))
    viewer.add_image(lazy, name="lazy", contrast_limits=(0, 255))
    viewer.add_image(pyramid, name="pyramid", multiscale=True, contrast_limits=(0, 255))
    viewer.add_image(stack, name="stack", scale=(4, 1, 1), contrast_limits=(0, 255))
    docks = {name: viewer.window.add_plugin_dock_widget("napari-sr", name)[1] for name in WIDGETS}
    up, compare = docks["Super-resolve"], docks["Compare"]
    docks["Isotropic"].layer.setCurrentText("stack")  # fills the z factor from the scale
    assert docks["Isotropic"].factor.value() == pytest.approx(4)
    docks["Multi-frame SR"].layer.setCurrentText("stack")
    assert docks["Multi-frame SR"].axes.text() == "TYX"
    expected = napari_sr.upscale(data, 2, method="bicubic")
    for name in ("lazy", "pyramid"):
        up.layer.setCurrentText(name)  # the form is filled from the shape alone
        assert up.axes.text() == "YX"
        up.method.setCurrentText("bicubic")
        up.scale.setValue(2)
        _run(qtbot, up)
        np.testing.assert_array_equal(viewer.layers[f"{name} ×2 bicubic"].data, expected)
    compare.reference.setCurrentText("lazy")
    compare.set_checked(["bicubic"])
    _run(qtbot, compare)
    assert compare.table.rowCount() == 1
    # read once per run, in the worker; never on the GUI thread (napari itself reads the
    # coarsest level of a pyramid for its thumbnail: not ours to count)
    assert len(lazy.readers) == 2 and len(pyramid[0].readers) == 1 and not stack.readers
    assert threading.main_thread() not in lazy.readers + pyramid[0].readers


def test_a_lazy_layer_too_big_for_memory_is_refused_with_the_fix(
    make_napari_viewer, qtbot, monkeypatch
):
    from napari_sr.utils import memory

    errors = []
    monkeypatch.setattr("napari_sr._napari._task.show_error", errors.append)
    viewer = make_napari_viewer()
    _dock, up = viewer.window.add_plugin_dock_widget("napari-sr", "Super-resolve")
    lazy = LazyArray(np.zeros((64, 64), np.float32))
    viewer.add_image([lazy, LazyArray(np.zeros((32, 32), np.float32))], name="big",
                     multiscale=True, contrast_limits=(0, 1))  # fmt: skip
    monkeypatch.setattr(memory, "available_memory", lambda: 1024)
    up.method.setCurrentText("bicubic")
    _run(qtbot, up)
    assert len(errors) == 1 and "held on disk or in chunks" in errors[0], errors
    assert "(64, 64) (float32) would need 16.0 KiB" in errors[0]
    assert "work on a crop of it" in errors[0]
    assert not lazy.readers and [layer.name for layer in viewer.layers] == ["big"]


def test_cancel_pressed_during_the_last_batch_adds_nothing(make_napari_viewer, qtbot, monkeypatch):
    """Cancel pressed when the last batch reports its progress: whether the work raised or
    finished anyway, no layer is added and the notification says so."""
    infos = []
    monkeypatch.setattr("napari_sr._napari._task.show_info", infos.append)
    viewer = make_napari_viewer()
    _dock, up = viewer.window.add_plugin_dock_widget("napari-sr", "Super-resolve")
    viewer.add_image(np.zeros((3, 16, 16), np.float32), name="img")
    up.method.setCurrentText("bicubic")

    def press_cancel_on_the_last(done: int, total: int) -> None:
        if done == total and up.run_button.text() == "Cancel":
            qtbot.mouseClick(up.run_button, LEFT)

    up.relay.progress.connect(press_cancel_on_the_last)
    _run(qtbot, up)
    assert [layer.name for layer in viewer.layers] == ["img"]
    assert infos == ["napari-sr: cancelled; nothing was added"]
    assert up.run_button.text() == "Run" and up.run_button.isEnabled()
    up.relay.progress.disconnect(press_cancel_on_the_last)
    _run(qtbot, up)  # the next run is not cancelled
    assert "img ×2 bicubic" in viewer.layers


def test_warnings_of_the_work_become_napari_warnings(make_napari_viewer, qtbot, monkeypatch):
    shown = []
    monkeypatch.setattr("napari_sr._napari._task.show_warning", shown.append)
    viewer = make_napari_viewer()
    _dock, up = viewer.window.add_plugin_dock_widget("napari-sr", "Super-resolve")
    returned = []

    def work():
        from napari_sr.engine.methods import MethodFallbackWarning

        warnings.warn("no weights for x2.5, bicubic ran", MethodFallbackWarning, stacklevel=1)
        return 7

    up.launch(work, returned.append, total=1)
    qtbot.waitUntil(lambda: up._worker is None, timeout=10_000)
    assert returned == [7]
    assert shown == ["napari-sr: no weights for x2.5, bicubic ran"]


def test_the_six_docks_open_as_tabs(make_napari_viewer, qtbot):
    """Opened one after another, as from the Plugins menu, the docks share one tab group
    instead of stacking (which grew the window to 2,542 px)."""
    from qtpy.QtWidgets import QDockWidget

    viewer = make_napari_viewer(show=True)
    window = viewer.window._qt_window
    height = window.height()
    docks = []
    for name in WIDGETS:
        dock, _widget = viewer.window.add_plugin_dock_widget("napari-sr", name)
        qtbot.waitUntil(lambda d=dock: not docks or bool(window.tabifiedDockWidgets(d)))
        docks.append(dock)
    assert all(isinstance(d, QDockWidget) for d in docks)
    assert set(window.tabifiedDockWidgets(docks[0])) == set(docks[1:])
    assert docks[-1].visibleRegion().isEmpty() is False  # the last opened is in front
    qtbot.wait(50)
    assert window.height() <= max(height, 1100)
