"""The reader, writer and sample data through a real napari viewer (Xvfb via pytest-xvfb)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import napari_sr

REPO = Path(__file__).resolve().parents[2]
pytest.importorskip("napari")
pytestmark = pytest.mark.gui


def test_open_sample_through_the_plugin_menu_entry(make_napari_viewer):
    viewer = make_napari_viewer()
    viewer.open_sample("napari-sr", "anisotropic_stack")
    viewer.open_sample("napari-sr", "anisotropic_stack_ground_truth")
    low, truth = viewer.layers
    assert (low.name, truth.name) == ("anisotropic_stack", "anisotropic_stack (ground truth)")
    assert tuple(low.scale) == pytest.approx((0.8, 0.2, 0.2))
    assert tuple(truth.scale) == pytest.approx((0.2, 0.2, 0.2))
    assert low.data.shape == (32, 128, 128) and truth.data.shape == (128, 128, 128)


def test_open_and_save_through_the_plugin(make_napari_viewer, tmp_path):
    image = napari_sr.Image(
        np.arange(3 * 2 * 8 * 9, dtype=np.uint16).reshape(3, 2, 8, 9), "ZCYX",
        pixel_size={"Z": 1.0, "Y": 0.25, "X": 0.25}, origin={"Y": 0.5},
    )  # fmt: skip
    path = napari_sr.io.write(tmp_path / "cells.ome.tif", image)
    viewer = make_napari_viewer()
    viewer.open(str(path), plugin="napari-sr")
    assert [layer.name for layer in viewer.layers] == ["cells [c0]", "cells [c1]"]
    layer = viewer.layers["cells [c1]"]
    assert tuple(layer.scale) == pytest.approx((1.0, 0.25, 0.25))
    assert tuple(layer.translate) == pytest.approx((0.0, 0.5, 0.0))
    out = tmp_path / "c1.ome.tif"
    viewer.layers.selection = {layer}
    viewer.layers.save(str(out), selected=True, plugin="napari-sr")
    back = napari_sr.io.read(out)
    np.testing.assert_array_equal(back.data, image.data[:, 1])
    assert back.axes == "ZYX" and back.pixel_size == pytest.approx({"Z": 1, "Y": 0.25, "X": 0.25})
    assert back.origin["Y"] == pytest.approx(0.5)


def test_our_reader_is_preferred_for_tiff_unless_the_user_chose(make_napari_viewer, tmp_path):
    """File › Open of a .tif offers napari's reader and ours; napari's loses the pixel sizes.
    Once napari-sr is active, ours is the preference for TIFF patterns nobody chose, once:
    the user's choices (and a preference the user removed) stay as they are."""
    import yaml
    from napari.settings import get_settings

    from napari_sr._napari import activate

    path = napari_sr.io.write(
        tmp_path / "cells.tif", napari_sr.Image(np.zeros((8, 9), np.uint16), "YX",
                                                pixel_size={"Y": 0.5, "X": 0.25}),
    )  # fmt: skip
    viewer = make_napari_viewer()
    settings = get_settings()
    settings.config_path = tmp_path / "settings.yaml"
    settings.plugins.extension2reader = {"*.TIFF": "napari"}  # a choice the user made
    manifest = yaml.safe_load(open(REPO / "napari.yaml", encoding="utf-8"))
    (reader,) = manifest["contributions"]["readers"]
    assert tuple(reader["filename_patterns"]) == activate.READER_PATTERNS
    assert manifest["on_activate"] == "napari_sr._napari.activate:activate"

    activate.activate()  # what npe2 runs when napari first uses the plugin
    assert settings.plugins.extension2reader == {
        "*.TIFF": "napari", "*.tif": "napari-sr", "*.tiff": "napari-sr", "*.TIF": "napari-sr",
        "*.nii.gz": "napari-sr", "*.nii": "napari-sr", "*.dcm": "napari-sr",
        "*.NII.GZ": "napari-sr", "*.NII": "napari-sr", "*.DCM": "napari-sr",
    }  # fmt: skip
    # as File › Open does (plugin=None): the preference decides, no choice is asked
    viewer.open(str(path), plugin=None)
    assert viewer.layers["cells"].source.reader_plugin == "napari-sr"
    assert tuple(viewer.layers["cells"].scale) == pytest.approx((0.5, 0.25))

    settings.plugins.extension2reader = {"*.TIFF": "napari"}  # the user removed ours
    assert activate.prefer_our_reader() == []  # and it stays removed
    assert settings.plugins.extension2reader == {"*.TIFF": "napari"}
