"""The Compare dock widget, driven as a person would in a real viewer."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

import napari_sr
from napari_sr._napari.compare_widget import grid_of

pytest.importorskip("napari")
pytestmark = pytest.mark.gui


def test_three_methods_layers_grid_table_and_csv(make_napari_viewer, qtbot, tmp_path):
    viewer = make_napari_viewer()
    viewer.open_sample("napari-sr", "cell")
    _dock, w = viewer.window.add_plugin_dock_widget("napari-sr", "Compare")
    model = napari_sr.create_model("espcn", scale=2)
    w.add_model("espcn (untrained)", model)
    w.set_checked(["bilinear", "bicubic", "espcn (untrained)"])
    w.scale.setValue(2)
    w.differences.setChecked(True)
    qtbot.mouseClick(w.run_button, 1)
    qtbot.waitUntil(lambda: w._worker is None, timeout=60_000)

    names = [layer.name for layer in viewer.layers]
    assert names == [
        "cell", "cell ×2 bilinear", "|bilinear − cell|", "cell ×2 bicubic", "|bicubic − cell|",
        "cell ×2 espcn (untrained)", "|espcn (untrained) − cell|",
    ]  # fmt: skip
    assert grid_of(viewer).enabled
    reference = viewer.layers["cell"]
    out = viewer.layers["cell ×2 bicubic"]
    assert tuple(out.scale) == tuple(reference.scale)  # same grid as the reference

    # the table's numbers are napari_sr.psnr on the shown layers (the SR protocol)
    hr = reference.data[: reference.data.shape[0] // 2 * 2, : reference.data.shape[1] // 2 * 2]
    table = {w.table.item(r, 0).text(): r for r in range(w.table.rowCount())}
    for label in ("bilinear", "bicubic"):
        expected = napari_sr.psnr(hr, viewer.layers[f"cell ×2 {label}"].data, crop_border=2)
        assert float(w.table.item(table[label], 1).text()) == pytest.approx(expected, abs=1e-3)
    assert w.table.item(table["bicubic"], 4).text() == "—"
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
