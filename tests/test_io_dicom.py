"""DICOM series: the slices of a series, read from any of its files, ordered along the slice
normal, spaced by their positions, placed in the world (LPS converted to RAS); written as
NIfTI, the volume lands where the scanner put it."""

from __future__ import annotations

import numpy as np
import pytest

pydicom = pytest.importorskip("pydicom")
nib = pytest.importorskip("nibabel")

from _dicom import new_series, write_slice  # noqa: E402
from napari_sr import io  # noqa: E402
from napari_sr.io.nifti import world_affine  # noqa: E402

ROW = np.array([np.cos(0.2), np.sin(0.2), 0.0])  # along a row: increasing column
COLUMN = np.array([0.0, 0.0, -1.0])  # down the columns: increasing row (a coronal slice)
NORMAL = np.cross(ROW, COLUMN)
SPACING = (0.8, 0.5)  # between rows, between columns (mm)
STEP = 3.0  # between slices (mm)
FIRST = np.array([-100.0, 40.0, 60.0])  # LPS position of the first slice's first pixel


def _slice(path, pixels, k, series, *, slope=None):
    write_slice(path, pixels, series=series, position=FIRST + k * STEP * NORMAL,
                orientation=(*ROW, *COLUMN), spacing=SPACING, instance=k + 1,
                slope=slope)  # fmt: skip


@pytest.fixture
def series(tmp_path, rng):
    volume = rng.integers(0, 2000, (5, 6, 7)).astype(np.int16)  # slices, rows, columns
    uid = new_series()
    for k in [3, 0, 4, 1, 2]:  # the file names do not follow the slices' order
        _slice(tmp_path / f"IM{(7 * k) % 5:04d}.dcm", volume[k], k, uid)
    _slice(tmp_path / "other.dcm", volume[0], 0, new_series())  # another series
    (tmp_path / "notes.txt").write_text("not DICOM")
    return tmp_path, volume


def _ras(index_xyz) -> np.ndarray:
    x, y, z = index_xyz
    lps = FIRST + x * SPACING[1] * ROW + y * SPACING[0] * COLUMN + z * STEP * NORMAL
    return lps * np.array([-1.0, -1.0, 1.0])


def test_a_series_reads_as_one_volume_in_its_place(series):
    folder, volume = series
    image = io.read(folder / "IM0000.dcm")  # any file of the series
    assert image.axes == "ZYX" and image.shape == (5, 6, 7) and image.dtype == np.int16
    np.testing.assert_array_equal(image.data, volume)  # slices ordered along the normal
    assert image.pixel_size == pytest.approx({"X": 0.5, "Y": 0.8, "Z": 3.0})
    assert image.unit == dict.fromkeys("XYZ", "mm")
    affine = world_affine(image)
    for index in [(0, 0, 0), (6, 5, 4), (2, 3, 1)]:
        np.testing.assert_allclose((affine @ [*index, 1.0])[:3], _ras(index), atol=1e-6)
    info = io.probe(folder / "IM0003.dcm")
    assert (info.format, info.shape, info.axes) == ("DICOM", (5, 6, 7), "ZYX")


def test_written_as_nifti_it_lands_where_the_scanner_put_it(tmp_path, series):
    folder, volume = series
    path = io.write(tmp_path / "series.nii.gz", io.read(folder / "IM0001.dcm"))
    written = nib.load(str(path))
    np.testing.assert_array_equal(np.asarray(written.dataobj), volume.transpose(2, 1, 0))
    np.testing.assert_allclose((written.affine @ [6, 5, 4, 1.0])[:3], _ras((6, 5, 4)),
                               atol=1e-3)  # fmt: skip


def test_rescaled_values_and_uneven_slices(tmp_path, rng):
    uid = new_series()
    for k in range(3):
        _slice(tmp_path / f"s{k}.dcm", np.full((4, 4), 100 * k, np.int16), k, uid, slope=2.0)
    image = io.read(tmp_path / "s0.dcm")
    assert image.dtype == np.float32
    np.testing.assert_array_equal(image.data[:, 0, 0], [-1024.0, -824.0, -624.0])
    uneven = tmp_path / "uneven"
    uneven.mkdir()
    uid = new_series()
    for k in (0, 1, 3):  # a slice missing
        _slice(uneven / f"s{k}.dcm", np.zeros((4, 4), np.int16), k, uid)
    with pytest.raises(ValueError, match="not evenly spaced"):
        io.read(uneven / "s0.dcm")


def test_a_folder_of_one_series_reads_as_its_volume(tmp_path, rng):
    volume = rng.integers(0, 2000, (3, 6, 7)).astype(np.int16)
    uid = new_series()
    for k in [2, 0, 1]:
        _slice(tmp_path / f"slice{k}", volume[k], k, uid)  # scanners often write no ending
    (tmp_path / "DICOMDIR.txt").write_text("index")
    image = io.read(tmp_path)
    np.testing.assert_array_equal(image.data, volume)
    assert image.pixel_size["Z"] == pytest.approx(STEP)
    assert io.probe(tmp_path).format == "DICOM"


def test_a_folder_of_several_series_asks_which(series):
    folder, _ = series
    with pytest.raises(ValueError, match=r"holds 2 DICOM series; open one of their files"):
        io.read(folder)


def test_a_folder_without_dicom_files_is_still_not_an_image(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match="is a folder, not an image file"):
        io.read(tmp_path)
