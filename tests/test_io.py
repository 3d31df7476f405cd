"""Reading and writing with axes, pixel sizes, units and provenance; atomic writes."""

from __future__ import annotations

import os

import imageio.v3 as iio
import numpy as np
import pytest
import tifffile

from napari_sr import io
from napari_sr.image import Image, normalize_unit


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16, np.float32, np.float64])
def test_ome_round_trip_keeps_everything(tmp_path, rng, dtype):
    data = (rng.random((3, 2, 10, 12)) * 100).astype(dtype)
    image = Image(
        data,
        axes="ZCYX",
        pixel_size={"Z": 0.8, "Y": 0.2, "X": 0.25},
        origin={"Y": -0.05},
        metadata={"provenance": {"method": "bicubic"}},
    )
    path = io.write(tmp_path / "a.ome.tif", image)
    back = io.read(path)
    assert back.axes == "ZCYX"
    assert back.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(back.data, data)
    assert back.pixel_size == pytest.approx({"Z": 0.8, "Y": 0.2, "X": 0.25})
    assert back.unit == {"Z": "µm", "Y": "µm", "X": "µm"}
    assert back.origin == {"Y": -0.05}
    assert back.metadata["provenance"]["method"] == "bicubic"
    assert back.metadata["provenance"]["written_by"].startswith("napari-sr ")
    assert back.metadata["format"] == "OME-TIFF"


def test_write_array_with_keywords_and_units(tmp_path):
    data = np.arange(2 * 6 * 8, dtype=np.uint16).reshape(2, 6, 8)
    io.write(
        tmp_path / "b.ome.tif",
        data,
        axes="ZYX",
        pixel_size={"Z": 7, "Y": 0.5, "X": 0.5},
        unit="mm",
        provenance={"note": "mri"},
    )
    back = io.read(tmp_path / "b.ome.tif")
    assert back.pixel_size == {"Z": 7.0, "Y": 0.5, "X": 0.5}
    assert back.unit == {"Z": "mm", "Y": "mm", "X": "mm"}
    assert back.metadata["provenance"]["note"] == "mri"
    # the OME-XML itself says so, for other readers (Fiji, napari-ome-zarr, AICSImageIO)
    with tifffile.TiffFile(tmp_path / "b.ome.tif") as tif:
        assert 'PhysicalSizeZ="7' in tif.ome_metadata
        assert 'PhysicalSizeXUnit="mm"' in tif.ome_metadata


def test_rgb_round_trip(tmp_path, rng):
    data = rng.integers(0, 255, (10, 12, 3), dtype=np.uint8)
    io.write(tmp_path / "rgb.ome.tif", data, pixel_size=0.5)
    back = io.read(tmp_path / "rgb.ome.tif")
    assert back.axes == "YXC"
    np.testing.assert_array_equal(back.data, data)
    assert back.pixel_size == {"Y": 0.5, "X": 0.5}


def test_channels_last_are_moved_before_the_plane(tmp_path, rng):
    data = rng.random((10, 12, 5)).astype(np.float32)
    io.write(tmp_path / "c.ome.tif", data, axes="YXC")
    back = io.read(tmp_path / "c.ome.tif")
    assert back.axes == "CYX"
    np.testing.assert_array_equal(back.data, np.moveaxis(data, -1, 0))


def test_imagej_metadata(tmp_path, rng):
    """xy from the resolution tags (pixels per unit), z from 'spacing', the unit entry."""
    data = rng.integers(0, 4000, (5, 16, 20), dtype=np.uint16)
    tifffile.imwrite(
        tmp_path / "ij.tif",
        data,
        imagej=True,
        resolution=(1 / 0.2, 1 / 0.2),
        metadata={"axes": "ZYX", "spacing": 0.8, "unit": "micron"},
    )
    image = io.read(tmp_path / "ij.tif")
    assert image.metadata["format"] == "ImageJ TIFF"
    assert image.axes == "ZYX"
    assert image.pixel_size == pytest.approx({"X": 0.2, "Y": 0.2, "Z": 0.8})
    assert image.unit["X"] == "µm"
    np.testing.assert_array_equal(image.data, data)


def test_imagej_without_unit_has_no_sizes(tmp_path, rng):
    data = rng.integers(0, 255, (4, 8, 8), dtype=np.uint8)
    tifffile.imwrite(tmp_path / "ij.tif", data, imagej=True, metadata={"axes": "ZYX"})
    assert io.read(tmp_path / "ij.tif").pixel_size == {}


def test_plain_tiff_centimetre_resolution(tmp_path):
    data = np.zeros((8, 8), np.uint8)
    tifffile.imwrite(
        tmp_path / "cm.tif", data, resolution=(20000, 20000), resolutionunit="CENTIMETER"
    )
    image = io.read(tmp_path / "cm.tif")
    assert image.pixel_size == pytest.approx({"X": 0.5, "Y": 0.5})  # 1 cm / 20000 = 0.5 µm
    assert image.unit == {"X": "µm", "Y": "µm"}


def test_plain_tiff_inch_resolution_is_ignored(tmp_path):
    data = np.zeros((8, 8), np.uint8)
    tifffile.imwrite(tmp_path / "dpi.tif", data, resolution=(72, 72), resolutionunit="INCH")
    assert io.read(tmp_path / "dpi.tif").pixel_size == {}


def test_multipage_tiff_without_axes_gets_default(tmp_path, rng):
    data = rng.integers(0, 255, (5, 8, 9), dtype=np.uint8)
    tifffile.imwrite(tmp_path / "m.tif", data, metadata=None, photometric="minisblack")
    image = io.read(tmp_path / "m.tif")
    assert image.axes == "ZYX"
    np.testing.assert_array_equal(image.data, data)


@pytest.mark.parametrize("ext", ["png", "jpg"])
def test_png_and_jpeg(tmp_path, ext):
    data = np.tile(np.arange(0, 240, 15, dtype=np.uint8), (16, 1))
    iio.imwrite(tmp_path / f"x.{ext}", data)
    image = io.read(tmp_path / f"x.{ext}")
    assert image.axes == "YX"
    assert image.shape == (16, 16)
    assert image.metadata["format"] == ("PNG" if ext == "png" else "JPEG")
    if ext == "png":
        np.testing.assert_array_equal(image.data, data)


def test_reader_goes_by_content_not_name(tmp_path, rng):
    data = rng.integers(0, 255, (8, 8), dtype=np.uint8)
    iio.imwrite(tmp_path / "x.png", data)
    os.rename(tmp_path / "x.png", tmp_path / "really_a_png.tif")
    np.testing.assert_array_equal(io.read(tmp_path / "really_a_png.tif").data, data)


def test_axes_override(tmp_path):
    io.write(tmp_path / "t.ome.tif", np.zeros((4, 6, 6), np.uint8), axes="ZYX")
    assert io.read(tmp_path / "t.ome.tif", axes="TYX").axes == "TYX"
    with pytest.raises(ValueError, match="has 2 letters but the array has 3"):
        io.read(tmp_path / "t.ome.tif", axes="YX")


# ------------------------------------------------------------------------- bad input


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        io.read(tmp_path / "nope.tif")


def test_not_an_image(tmp_path):
    (tmp_path / "notes.tif").write_text("these are my notes, not pixels")
    with pytest.raises(ValueError, match="not an image napari-sr can read"):
        io.read(tmp_path / "notes.tif")


def test_empty_file(tmp_path):
    (tmp_path / "empty.tif").write_bytes(b"")
    with pytest.raises(ValueError, match="is empty"):
        io.read(tmp_path / "empty.tif")


@pytest.mark.parametrize("keep", [0.5, 0.02])
def test_truncated_tiff(tmp_path, rng, keep):
    tifffile.imwrite(
        tmp_path / "full.tif",
        rng.integers(0, 999, (4, 64, 64), dtype=np.uint16),
        photometric="minisblack",
    )
    raw = (tmp_path / "full.tif").read_bytes()
    (tmp_path / "cut.tif").write_bytes(raw[: int(len(raw) * keep)])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        io.read(tmp_path / "cut.tif")


def test_corrupt_tiff_header(tmp_path, caplog):
    tifffile.imwrite(tmp_path / "ok.tif", np.zeros((8, 8), np.uint8))
    raw = bytearray((tmp_path / "ok.tif").read_bytes())
    raw[4:8] = b"\xff\xff\xff\x7f"  # first IFD offset far past the end
    (tmp_path / "bad.tif").write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="truncated or corrupt"):
        io.read(tmp_path / "bad.tif")
    assert not [r for r in caplog.records if r.name == "tifffile"]  # collected, not printed


def test_corrupt_png(tmp_path, rng):
    iio.imwrite(tmp_path / "x.png", rng.integers(0, 255, (32, 32), dtype=np.uint8))
    raw = (tmp_path / "x.png").read_bytes()
    (tmp_path / "y.png").write_bytes(raw[:60])
    with pytest.raises(ValueError, match="PNG is truncated or corrupt"):
        io.read(tmp_path / "y.png")


# ------------------------------------------------------------------------- safe writing


def test_write_refuses_to_overwrite(tmp_path):
    target = tmp_path / "out.ome.tif"
    target.write_bytes(b"precious")
    with pytest.raises(FileExistsError, match="already exists.*overwrite=True"):
        io.write(target, np.zeros((4, 4), np.uint8))
    assert target.read_bytes() == b"precious"
    io.write(target, np.ones((4, 4), np.uint8), overwrite=True)
    np.testing.assert_array_equal(io.read(target).data, 1)


def test_failed_write_leaves_nothing(tmp_path, monkeypatch):
    def broken(path, data, **kwargs):
        with open(path, "wb") as fh:
            fh.write(b"II*\x00half a file")
        raise OSError("disk full")

    monkeypatch.setattr(tifffile, "imwrite", broken)
    with pytest.raises(OSError, match="disk full"):
        io.write(tmp_path / "out.ome.tif", np.zeros((4, 4), np.uint8))
    assert list(tmp_path.iterdir()) == []


def test_failed_overwrite_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "out.ome.tif"
    io.write(target, np.full((4, 4), 7, np.uint8))

    def broken(path, data, **kwargs):
        raise RuntimeError("cancelled")

    monkeypatch.setattr(tifffile, "imwrite", broken)
    with pytest.raises(RuntimeError):
        io.write(target, np.zeros((4, 4), np.uint8), overwrite=True)
    monkeypatch.undo()
    np.testing.assert_array_equal(io.read(target).data, 7)
    assert [p.name for p in tmp_path.iterdir()] == ["out.ome.tif"]


def test_written_file_has_normal_permissions(tmp_path):
    path = io.write(tmp_path / "p.ome.tif", np.zeros((4, 4), np.uint8))
    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask


@pytest.mark.parametrize(
    ("name", "error", "match"),
    [
        ("out.jpg", ValueError, "must end in .ome.tif"),
        ("missing_folder/out.ome.tif", FileNotFoundError, "does not exist"),
    ],
)
def test_write_path_errors(tmp_path, name, error, match):
    with pytest.raises(error, match=match):
        io.write(tmp_path / name, np.zeros((4, 4), np.uint8))


def test_write_rejects_empty(tmp_path):
    with pytest.raises(ValueError, match="empty"):
        io.write(tmp_path / "e.ome.tif", np.zeros((0, 4), np.uint8))


def test_image_validates_pixel_size():
    with pytest.raises(ValueError, match="not a spatial axis"):
        Image(np.zeros((2, 4, 4)), axes="TYX", pixel_size={"T": 1.0})
    with pytest.raises(ValueError, match="not a positive finite length"):
        Image(np.zeros((4, 4)), pixel_size={"X": -1})


@pytest.mark.parametrize(
    ("raw", "unit"),
    [
        ("micron", "µm"),
        ("um", "µm"),
        ("\\u00B5m", "µm"),
        ("μm", "µm"),
        ("mm", "mm"),
        ("parsec", "parsec"),
    ],
)
def test_normalize_unit(raw, unit):
    assert normalize_unit(raw) == unit


# ------------------------------------------------------------------------- real files


def test_real_imagej_stacks(shared_data):
    """Pixel sizes as documented in ../shared/data/README.md."""
    golgi = io.read(shared_data / "microscopy-dev" / "xyz_calibrated_16bit__golgi_bfa.tif")
    assert golgi.shape == (25, 137, 147) and golgi.axes == "ZYX"
    assert golgi.pixel_size["X"] == pytest.approx(0.351, abs=5e-4)
    assert golgi.pixel_size["Z"] == pytest.approx(0.388, abs=5e-4)
    mri = io.read(shared_data / "microscopy-dev" / "xyz_8bit_calibrated_anisotropic__mri_head.tif")
    assert mri.pixel_size["Z"] == pytest.approx(7.0)
    assert mri.pixel_size["X"] == pytest.approx(0.5)


# ------------------------------------------------------------------------- regressions


@pytest.mark.parametrize(
    ("shape", "axes"), [((1, 6, 7), "ZYX"), ((1, 6, 7), "CYX"), ((2, 1, 5, 5), "TZYX")]
)
def test_length_one_axes_survive_a_round_trip(tmp_path, shape, axes):
    sizes = {"Z": 3.0} if "Z" in axes else {}
    io.write(
        tmp_path / "a.ome.tif", Image(np.zeros(shape, np.float32), axes=axes, pixel_size=sizes)
    )
    back = io.read(tmp_path / "a.ome.tif")
    assert back.shape == shape and back.axes == axes
    assert back.pixel_size == sizes


def test_gray_alpha_png_is_one_plane_with_channels(tmp_path):
    data = np.zeros((20, 30, 2), np.uint8)
    iio.imwrite(tmp_path / "la.png", data)
    assert io.read(tmp_path / "la.png").axes == "YXC"


def test_write_pixel_size_overrides_only_what_it_names(tmp_path):
    image = Image(np.zeros((2, 8, 8), np.uint8), axes="ZYX", pixel_size={"Z": 0.8, "Y": 1, "X": 1})
    io.write(tmp_path / "s.ome.tif", image, pixel_size=0.1)
    assert io.read(tmp_path / "s.ome.tif").pixel_size == pytest.approx(
        {"Z": 0.8, "Y": 0.1, "X": 0.1}
    )
    io.write(tmp_path / "t.ome.tif", image, axes="CYX")  # renamed axis: its size is dropped
    assert io.read(tmp_path / "t.ome.tif").pixel_size == pytest.approx({"Y": 1, "X": 1})
