"""NIfTI-1/2 volumes: axes (Z = the file's third axis), voxel sizes and units, the affine
kept as the image's world transform and composed with every new grid, so that an upscaled
or isotropic volume overlays its input in world coordinates."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

nib = pytest.importorskip("nibabel")

import napari_sr  # noqa: E402
from napari_sr import io  # noqa: E402
from napari_sr.io.nifti import world_affine  # noqa: E402
from napari_sr.selfsup.isotropic import interpolate_axial  # noqa: E402


def _oblique(sizes=(0.9, 0.9, 4.0), angle=0.3, shift=(-80.0, 10.0, -30.0)) -> np.ndarray:
    """An affine rotated about z, with thick slices: voxel (i, j, k) to RAS mm."""
    c, s = np.cos(angle), np.sin(angle)
    affine = np.eye(4)
    affine[:3, :3] = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]) @ np.diag(sizes)
    affine[:3, 3] = shift
    return affine


@pytest.fixture
def volume_file(tmp_path, rng):
    data = (rng.random((20, 18, 7)) * 1000).astype(np.int16)  # x, y, z as NIfTI stores
    image = nib.Nifti1Image(data, _oblique())
    image.header.set_xyzt_units("mm")
    path = tmp_path / "t1.nii.gz"
    nib.save(image, str(path))
    return path, data


def _world(affine: np.ndarray, index) -> np.ndarray:
    return (affine @ np.array([*index, 1.0]))[:3]


def test_read_axes_sizes_units_and_affine(volume_file):
    path, data = volume_file
    image = io.read(path)
    assert image.axes == "ZYX" and image.shape == (7, 18, 20) and image.dtype == np.int16
    np.testing.assert_array_equal(image.data, data.transpose(2, 1, 0))  # Z = the third axis
    assert image.pixel_size == {"X": 0.9, "Y": 0.9, "Z": 4.0}
    assert image.unit == dict.fromkeys("XYZ", "mm")
    np.testing.assert_allclose(world_affine(image), _oblique(), atol=1e-5)
    info = io.probe(path)
    assert (info.format, info.shape, info.axes) == ("NIfTI", (7, 18, 20), "ZYX")


def test_upscaled_volume_overlays_its_input_in_world_coordinates(tmp_path, volume_file):
    path, _ = volume_file
    up = napari_sr.upscale(io.read(path), 2, method="bicubic")
    written = nib.load(str(io.write(tmp_path / "up.nii.gz", up)))
    assert written.shape == (40, 36, 7)
    np.testing.assert_allclose(written.header.get_zooms(), (0.45, 0.45, 4.0), rtol=1e-6)
    # output pixel (i', j') covers input (i' + 0.5) / 2 - 0.5: both grids, one footprint
    for index in [(0, 0, 0), (39, 35, 6), (13, 8, 3)]:
        source = ((index[0] + 0.5) / 2 - 0.5, (index[1] + 0.5) / 2 - 0.5, index[2])
        np.testing.assert_allclose(
            _world(written.affine, index), _world(_oblique(), source), atol=1e-4
        )
    assert written.header["sform_code"] == 1 and written.header["qform_code"] == 1


def test_isotropic_volume_keeps_its_planes_in_place(tmp_path, volume_file):
    path, _ = volume_file
    iso = interpolate_axial(io.read(path), 4.0)  # plane k of the input is plane 4k
    written = nib.load(str(io.write(tmp_path / "iso.nii", iso)))
    assert written.shape == (20, 18, 25)
    np.testing.assert_allclose(written.header.get_zooms(), (0.9, 0.9, 1.0), rtol=1e-6)
    np.testing.assert_allclose(
        _world(written.affine, (3, 2, 8)), _world(_oblique(), (3, 2, 2)), atol=1e-4
    )
    back = io.read(tmp_path / "iso.nii")
    assert back.metadata["provenance"]["method"] == "cubic z interpolation"


def test_round_trip_of_time_series_and_planes(tmp_path, rng):
    data = (rng.random((3, 4, 10, 12)) * 100).astype(np.float32)
    sizes = {"Z": 2.0, "Y": 1.0, "X": 1.0}
    series = napari_sr.Image(data, "TZYX", pixel_size=sizes, unit=dict.fromkeys("ZYX", "mm"))
    back = io.read(io.write(tmp_path / "fmri.nii.gz", series))
    assert back.axes == "TZYX" and back.shape == (3, 4, 10, 12)
    np.testing.assert_array_equal(back.data, series.data)
    plane = napari_sr.Image(np.arange(30, dtype=np.uint8).reshape(5, 6), "YX")
    back = io.read(io.write(tmp_path / "plane.nii", plane))
    assert back.axes == "YX"
    np.testing.assert_array_equal(back.data, plane.data)


def test_microscopy_without_a_world_keeps_micrometres(tmp_path, rng):
    stack = napari_sr.Image((rng.random((3, 8, 8)) * 1000).astype(np.uint16), "ZYX",
                            pixel_size={"Z": 0.5, "Y": 0.1, "X": 0.1})  # µm  # fmt: skip
    written = nib.load(str(io.write(tmp_path / "cells.nii.gz", stack)))
    assert written.header.get_xyzt_units()[0] == "micron"
    back = io.read(tmp_path / "cells.nii.gz")
    assert back.pixel_size == pytest.approx({"Z": 0.5, "Y": 0.1, "X": 0.1})
    assert back.unit == dict.fromkeys("XYZ", "µm")


def test_scaled_integers_read_as_float(tmp_path):
    image = nib.Nifti1Image(np.arange(24, dtype=np.int16).reshape(2, 3, 4), np.eye(4))
    image.header.set_slope_inter(0.5, 10.0)
    nib.save(image, str(tmp_path / "scaled.nii"))
    back = io.read(tmp_path / "scaled.nii")
    assert back.dtype == np.float32
    np.testing.assert_allclose(back.data, np.arange(24).reshape(2, 3, 4).transpose(2, 1, 0) * 0.5
                               + 10)  # fmt: skip


def test_lazy_read_equals_eager(volume_file):
    path, data = volume_file
    lazy = io.read(path, lazy=True)
    assert type(lazy.data).__module__.startswith("dask")
    np.testing.assert_array_equal(np.asarray(lazy.data), data.transpose(2, 1, 0))


def test_content_not_name_decides_and_damage_is_reported(tmp_path, volume_file):
    path, data = volume_file
    misnamed = tmp_path / "scan.dat"
    misnamed.write_bytes(path.read_bytes())
    np.testing.assert_array_equal(io.read(misnamed).data, data.transpose(2, 1, 0))
    not_nifti = tmp_path / "notes.nii.gz"
    not_nifti.write_bytes(gzip.compress(b"just text, not a volume" * 30))
    with pytest.raises(ValueError, match="is a gzip file, not an image .* decompress it first"):
        io.read(not_nifti)
    truncated = tmp_path / "cut.nii"
    full = tmp_path / "full.nii"
    nib.save(nib.Nifti1Image(data, np.eye(4)), str(full))
    truncated.write_bytes(full.read_bytes()[:600])
    with pytest.raises(ValueError, match="cut.nii"):
        io.read(truncated)


def test_channels_and_time_are_the_fifth_and_fourth_axes(tmp_path):
    image = napari_sr.Image(np.zeros((2, 3, 8, 8), np.float32), "CTYX")
    io.write(tmp_path / "ok.nii.gz", image)  # channels and time: the fifth and fourth axes
    assert io.read(tmp_path / "ok.nii.gz").shape == (2, 3, 1, 8, 8)


def test_isotropic_command_on_a_thick_slice_volume(capsys, tmp_path, rng):
    from test_cli import run

    smooth = np.cumsum(rng.integers(0, 3, (24, 24, 5)), axis=0) * 40  # x, y, z
    nib.save(nib.Nifti1Image(smooth.astype(np.int16), _oblique(sizes=(1.0, 1.0, 3.0))),
             str(tmp_path / "t2.nii.gz"))  # fmt: skip
    source, target = str(tmp_path / "t2.nii.gz"), str(tmp_path / "iso.nii.gz")
    code, out, err = run(capsys, "isotropic", source, target, "--steps", "2", "--device", "cpu")
    assert code == 0, err
    assert out.startswith(f"wrote {target}")
    written = nib.load(str(tmp_path / "iso.nii.gz"))
    assert written.shape == (24, 24, 13)  # (5 - 1) * 3 + 1 slices
    np.testing.assert_allclose(written.header.get_zooms(), (1.0, 1.0, 1.0), rtol=1e-6)
    # slice k of the input is slice 3k of the output, in the same place
    np.testing.assert_allclose(
        _world(written.affine, (4, 7, 9)),
        _world(_oblique(sizes=(1.0, 1.0, 3.0)), (4, 7, 3)),
        atol=1e-4,
    )
