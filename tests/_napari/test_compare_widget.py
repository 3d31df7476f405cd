"""The Compare dock widget, driven as a person would in a real viewer."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

import napari_sr
from napari_sr._napari.compare_widget import grid_of

pytest.importorskip("napari")
LEFT = pytest.importorskip("qtpy.QtCore").Qt.MouseButton.LeftButton
pytestmark = pytest.mark.gui


def test_three_methods_layers_grid_table_and_csv(make_napari_viewer, qtbot, tmp_path):
    viewer = make_napari_viewer(show=True)
    viewer.open_sample("napari-sr", "cell")
    _dock, w = viewer.window.add_plugin_dock_widget("napari-sr", "Compare")
    model = napari_sr.create_model("espcn", scale=2)
    w.add_model("espcn (untrained)", model)
    w.set_checked(["bilinear", "bicubic", "espcn (untrained)"])
    w.scale.setValue(2)
    w.differences.setChecked(True)
    qtbot.mouseClick(w.run_button, LEFT)
    qtbot.waitUntil(lambda: w._worker is None, timeout=60_000)

    names = [layer.name for layer in viewer.layers]
    assert names == [
        "cell", "bilinear ×2", "|bilinear − ref|", "bicubic ×2", "|bicubic − ref|",
        "espcn (untrained) ×2", "|espcn (untrained) − ref|",
    ]  # fmt: skip
    grid = grid_of(viewer)
    assert grid.enabled
    # one panel per layer, the same world extent in each: the one camera shows the same spot
    positions = {grid.position(i, viewer.layers) for i in range(len(viewer.layers))}
    assert len(positions) == len(viewer.layers)
    # the grid opens fitted: Home (reset_view) changes nothing
    camera = viewer.scene.camera if hasattr(viewer, "scene") else viewer.camera  # napari 0.9
    center, zoom = tuple(camera.center), camera.zoom
    viewer.reset_view()
    assert tuple(camera.center) == pytest.approx(center) and camera.zoom == pytest.approx(zoom)
    differences = [layer for layer in viewer.layers if layer.name.startswith("|")]
    assert len(differences) == 3 and all(d.colormap.name == "inferno" for d in differences)
    assert all(layer.name_overlay.visible for layer in viewer.layers)  # labelled panels
    reference = viewer.layers["cell"]
    assert all(tuple(layer.translate) == tuple(reference.translate) for layer in viewer.layers)
    out = viewer.layers["bicubic ×2"]
    assert tuple(out.scale) == tuple(reference.scale)  # same grid as the reference

    # the table's numbers are napari_sr.psnr on the shown layers (the SR protocol)
    hr = reference.data[: reference.data.shape[0] // 2 * 2, : reference.data.shape[1] // 2 * 2]
    psnrs = [float(w.table.item(r, 1).text()) for r in range(w.table.rowCount())]
    assert psnrs == sorted(psnrs, reverse=True)  # best first, as it opens
    header = w.table.horizontalHeader()  # every column in view, parameters included
    assert header.sectionViewportPosition(4) + header.sectionSize(4) <= header.viewport().width()
    table = {w.table.item(r, 0).text(): r for r in range(w.table.rowCount())}
    for label in ("bilinear", "bicubic"):
        expected = napari_sr.psnr(hr, viewer.layers[f"{label} ×2"].data, crop_border=2)
        assert float(w.table.item(table[label], 1).text()) == pytest.approx(expected, abs=1e-3)
    assert w.table.item(table["bicubic"], 4).text() == "—"
    assert w.scoring.text() == "PSNR/SSIM with L = 255 (8-bit), 2-pixel border removed"
    count = sum(p.numel() for p in model.parameters())  # 21,284 for ESPCN x2
    assert w.table.item(table["espcn (untrained)"], 4).text() == f"{count:,}"
    w.table.sortItems(1)  # by PSNR, ascending: numeric, not text order
    psnrs = [float(w.table.item(r, 1).text()) for r in range(w.table.rowCount())]
    assert psnrs == sorted(psnrs)

    w.save_csv(str(tmp_path / "table.csv"))
    rows = list(csv.DictReader(open(tmp_path / "table.csv")))
    assert [r["method"] for r in rows][:2] == ["bilinear", "bicubic"] and len(rows) == 3

    viewer.reset_view()
    shot = viewer.screenshot(canvas_only=False)
    assert shot.ndim == 3 and shot.shape[2] == 4
    from imageio.v3 import imwrite

    # a test artifact: NAPARI_SR_ARTIFACTS names a folder to keep it in (else the tmp dir)
    folder = Path(os.environ.get("NAPARI_SR_ARTIFACTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    imwrite(folder / "compare_view.png", shot)


def test_low_resolution_layer_with_and_without_reference(make_napari_viewer, qtbot):
    """A real low-res acquisition: restored as it is, overlaid on it, scored if a reference
    is chosen."""
    viewer = make_napari_viewer()
    viewer.open_sample("napari-sr", "cell")
    hr = viewer.layers["cell"]
    hr_pixel = hr.scale[-1]
    # 2x2 area-average decimation: an LR pixel's centre lies between its two HR pixels
    viewer.add_image(
        napari_sr.degrade(hr.data, 2), name="cell LR", scale=[2 * hr_pixel] * 2,
        translate=[t + 0.5 * hr_pixel for t in hr.translate],
    )  # fmt: skip
    _dock, w = viewer.window.add_plugin_dock_widget("napari-sr", "Compare")
    assert not w.low_res.isEnabled()
    w.mode.setCurrentText("restore a low-res layer")
    assert w.low_res.isEnabled()
    w.low_res.setCurrentText("cell LR")
    w.reference.setCurrentText("cell")
    w.set_checked(["nearest", "bicubic"])
    w.differences.setChecked(True)
    qtbot.mouseClick(w.run_button, LEFT)
    qtbot.waitUntil(lambda: w._worker is None, timeout=60_000)

    names = [layer.name for layer in viewer.layers]
    assert names[2:] == [
        "nearest ×2", "|nearest − ref|", "bicubic ×2", "|bicubic − ref|",
    ]  # fmt: skip
    out = viewer.layers["bicubic ×2"]
    assert out.data.shape == hr.data.shape
    # on the reference's grid: the same pixel size and the same first-pixel centre
    assert tuple(out.scale) == pytest.approx(tuple(hr.scale))
    assert tuple(out.translate) == pytest.approx(tuple(hr.translate))
    assert grid_of(viewer).enabled
    table = {w.table.item(r, 0).text(): r for r in range(w.table.rowCount())}
    expected = napari_sr.psnr(hr.data, out.data, crop_border=2)
    assert float(w.table.item(table["bicubic"], 1).text()) == pytest.approx(expected, abs=1e-3)
    assert out.metadata["napari_sr_compare"]["psnr_db"] == pytest.approx(expected)
    # outputs are not offered as inputs for the next comparison
    assert [w.low_res.itemText(i) for i in range(w.low_res.count())] == ["cell", "cell LR"]

    # no reference: the outputs and their times, no scores, no difference layers
    w.reference.setCurrentText("(none: times only)")
    w.set_checked(["bilinear"])
    qtbot.mouseClick(w.run_button, LEFT)
    qtbot.waitUntil(lambda: w._worker is None, timeout=60_000)
    assert viewer.layers[-1].name == "bilinear ×2"
    assert w.table.rowCount() == 1
    assert [w.table.item(0, c).text() for c in (1, 2)] == ["—", "—"]
    assert float(w.table.item(0, 3).text()) >= 0


def test_low_resolution_reference_of_another_field(make_napari_viewer, qtbot, monkeypatch):
    errors = []
    monkeypatch.setattr("napari_sr._napari._task.show_error", errors.append)
    viewer = make_napari_viewer()
    viewer.open_sample("napari-sr", "cell")
    viewer.open_sample("napari-sr", "microaneurysms")
    _dock, w = viewer.window.add_plugin_dock_widget("napari-sr", "Compare")
    w.mode.setCurrentText("restore a low-res layer")
    w.low_res.setCurrentText("cell")
    w.reference.setCurrentText("microaneurysms")
    qtbot.mouseClick(w.run_button, LEFT)
    qtbot.waitUntil(lambda: w._worker is None, timeout=60_000)
    assert len(errors) == 1 and "same field" in errors[0]
    assert len(viewer.layers) == 2  # nothing added


def test_model_file_added_in_compare_is_offered_in_this_viewer_only(
    make_napari_viewer, qtbot, tmp_path, monkeypatch
):
    from napari_sr._napari import model_files

    path = napari_sr.save_model(
        napari_sr.create_model("espcn", scale=2), tmp_path / "espcn_x2.safetensors"
    )
    monkeypatch.setattr(
        model_files.QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), "")
    )
    viewer = make_napari_viewer()
    _dock, w = viewer.window.add_plugin_dock_widget("napari-sr", "Compare")
    qtbot.mouseClick(w.load_button, LEFT)
    assert "espcn_x2.safetensors" in w.checked_methods()
    assert w.models["espcn_x2.safetensors"] == str(path)
    _dock, up = viewer.window.add_plugin_dock_widget("napari-sr", "Super-resolve")
    assert up.method.findText("espcn_x2.safetensors") >= 0  # opened later: offered too
    other = make_napari_viewer()
    _dock, elsewhere = other.window.add_plugin_dock_widget("napari-sr", "Compare")
    assert "espcn_x2.safetensors" not in elsewhere.models


def test_sixteen_bit_microscopy_is_scored_on_its_own_span(make_napari_viewer, qtbot):
    """A 16-bit image using 0..~200 of 0..65535: L is the reference's span, not 65535."""
    viewer = make_napari_viewer()
    viewer.open_sample("napari-sr", "burst_ground_truth")
    hr = viewer.layers["burst (ground truth)"]
    assert hr.data.dtype == "uint16" and hr.data.max() < 1000
    _dock, w = viewer.window.add_plugin_dock_widget("napari-sr", "Compare")
    w.set_checked(["bicubic"])
    qtbot.mouseClick(w.run_button, LEFT)
    qtbot.waitUntil(lambda: w._worker is None, timeout=60_000)
    span = float(hr.data.max()) - float(hr.data.min())
    out = viewer.layers["bicubic ×2"]
    expected = napari_sr.psnr(hr.data, out.data, data_range=span, crop_border=2)
    assert 20 < expected < 60
    assert float(w.table.item(0, 1).text()) == pytest.approx(expected, abs=1e-3)
    assert f"L = {span:g} (the reference's max - min)" in w.scoring.text()


def test_cancel_adds_nothing_and_leaves_the_viewer_idle(make_napari_viewer, qtbot, monkeypatch):
    import time

    import numpy as np

    infos = []
    monkeypatch.setattr("napari_sr._napari._task.show_info", infos.append)
    viewer = make_napari_viewer()
    viewer.add_image(np.zeros((300, 256, 256), np.float32), name="big")
    _dock, w = viewer.window.add_plugin_dock_widget("napari-sr", "Compare")
    w.set_checked(["lanczos3", "bicubic", "nearest"])
    w.scale.setValue(4)
    qtbot.mouseClick(w.run_button, LEFT)
    qtbot.waitUntil(lambda: w.run_button.text() == "Cancel", timeout=5_000)
    time.sleep(0.3)  # well into the first method
    pressed = time.perf_counter()
    qtbot.mouseClick(w.run_button, LEFT)
    qtbot.waitUntil(lambda: w._worker is None, timeout=5_000)
    assert time.perf_counter() - pressed < 1.0 + 1.0  # about a second (shared CI machines)
    assert [layer.name for layer in viewer.layers] == ["big"]
    assert infos == ["napari-sr: comparison cancelled; nothing was added"]
    assert w.table.rowCount() == 0 and not w.export_button.isEnabled()


def test_bundled_defaults_are_compared_and_left_out_where_missing(
    make_napari_viewer, qtbot, monkeypatch, fake_weights
):
    """'quality' is ticked by default; at a scale without its weights the comparison runs
    without it and says so."""
    from napari_sr._napari import compare_widget

    shown = []
    monkeypatch.setattr(compare_widget, "show_info", shown.append)
    viewer = make_napari_viewer()
    viewer.open_sample("napari-sr", "microaneurysms")
    _dock, w = viewer.window.add_plugin_dock_widget("napari-sr", "Compare")
    assert {"quality", "bicubic"} <= set(w.checked_methods())
    w.set_checked(["bicubic", "fast", "quality"])
    w.scale.setValue(3)
    qtbot.mouseClick(w.run_button, LEFT)
    qtbot.waitUntil(lambda: w._worker is None, timeout=60_000)
    assert shown == ["napari-sr: quality left out: no bundled weights for ×3"]
    rows = {w.table.item(r, 0).text(): r for r in range(w.table.rowCount())}
    assert sorted(rows) == ["bicubic", "fast"]
    from napari_sr.models.checkpoint import read_metadata

    count = read_metadata(fake_weights["fsrcnn_x3.sr291"])["parameters"]  # bundled: counted
    assert w.table.item(rows["fast"], 4).text() == f"{count:,}"
    assert "fast ×3" in viewer.layers


def test_difference_layers_are_inferno_for_rgb_too(make_napari_viewer, qtbot):
    """|output − reference| of an RGB layer is one value per pixel (the largest of the
    three channels), shown in inferno like a grayscale layer's."""
    import numpy as np

    viewer = make_napari_viewer()
    rgb = np.random.default_rng(4).integers(0, 255, (24, 20, 3), dtype=np.uint8)
    viewer.add_image(rgb, name="photo", rgb=True)
    _dock, w = viewer.window.add_plugin_dock_widget("napari-sr", "Compare")
    w.set_checked(["bicubic"])
    w.differences.setChecked(True)
    qtbot.mouseClick(w.run_button, LEFT)
    qtbot.waitUntil(lambda: w._worker is None, timeout=60_000)
    difference = viewer.layers["|bicubic − ref|"]
    assert not difference.rgb and difference.colormap.name == "inferno"
    expected = np.abs(viewer.layers["bicubic ×2"].data.astype(np.float32) - rgb).max(axis=-1)
    np.testing.assert_allclose(difference.data, expected)


def test_a_metric_added_to_the_table_is_a_column(make_napari_viewer, qtbot, monkeypatch):
    """The columns come from napari_sr.metrics.METRICS: a metric added there (here a mean
    absolute error, lower is better, ranking first) gets its column, and ranks the rows."""
    import numpy as np

    from napari_sr import metrics

    def mae(reference, test, *, crop_border=0):
        c = crop_border
        return float(np.abs(reference - test)[..., c:-c, c:-c].mean())  # planes: (T, Y, X)

    added = metrics.Metric("mae", mae, False, "MAE", "", "mae", 2, options=("crop_border",))
    monkeypatch.setattr(metrics, "METRICS", (added, *metrics.METRICS))
    viewer = make_napari_viewer()
    viewer.open_sample("napari-sr", "cell")
    _dock, w = viewer.window.add_plugin_dock_widget("napari-sr", "Compare")
    headers = [w.table.horizontalHeaderItem(c).text() for c in range(w.table.columnCount())]
    assert headers == ["method", "MAE", "PSNR dB", "SSIM", "s", "params"]
    w.set_checked(["nearest", "bicubic"])
    qtbot.mouseClick(w.run_button, LEFT)
    qtbot.waitUntil(lambda: w._worker is None, timeout=60_000)
    errors = [float(w.table.item(r, 1).text()) for r in range(w.table.rowCount())]
    assert errors == sorted(errors)  # lower is better: best first
    assert w.table.item(0, 0).text() == "bicubic"
    assert w.scoring.text().startswith("MAE/PSNR/SSIM with L = 255 (8-bit)")


def test_beyond_psnr_scores_and_consistency_maps(make_napari_viewer, qtbot):
    """NIQE, spectrum and consistency join the table; each method's consistency error is a
    layer on the input's grid, equal to napari_sr.data_consistency of its output."""
    import numpy as np

    viewer = make_napari_viewer()
    viewer.open_sample("napari-sr", "cell")
    _dock, w = viewer.window.add_plugin_dock_widget("napari-sr", "Compare")
    w.set_checked(["nearest", "bicubic"])
    w.perceptual.setChecked(True)
    qtbot.mouseClick(w.run_button, LEFT)
    qtbot.waitUntil(lambda: w._worker is None, timeout=60_000)
    headers = [w.table.horizontalHeaderItem(c).text() for c in range(w.table.columnCount())]
    assert headers == ["method", "PSNR dB", "SSIM", "NIQE", "spectrum dB",
                       "consistency RMS", "s", "params"]  # fmt: skip
    reference = viewer.layers["cell"]
    layer = viewer.layers["bicubic consistency"]
    assert layer.colormap.name == "magma"
    np.testing.assert_allclose(layer.scale, np.asarray(reference.scale) * 2)
    np.testing.assert_allclose(
        layer.translate, np.asarray(reference.translate) + 0.5 * np.asarray(reference.scale)
    )
    expected = napari_sr.data_consistency(
        viewer.layers["bicubic ×2"].data, w.result.low_resolution, 2, fit_intensity=False
    )
    np.testing.assert_allclose(layer.data, expected.error.astype(np.float32))
    rows = {w.table.item(r, 0).text(): r for r in range(w.table.rowCount())}
    shown = float(w.table.item(rows["bicubic"], 5).text())
    assert shown == pytest.approx(expected.rse, abs=1e-3)
    assert "consistency_rms" in w.result.csv_text().splitlines()[0]
