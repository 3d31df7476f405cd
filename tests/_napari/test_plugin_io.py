"""The plugin's reader, writer and sample data, as layer data (no viewer needed)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import tifffile

import napari_sr
from napari_sr._napari import samples as plugin_samples
from napari_sr._napari.layers import META_KEY, image_to_layers, layer_to_image
from napari_sr._napari.reader import get_reader
from napari_sr._napari.writer import write_image
from napari_sr.samples import SAMPLES, sample_folder


def _stack(tmp_path, **kwargs):
    data = np.arange(2 * 3 * 5 * 7, dtype=np.uint16).reshape(2, 3, 5, 7)
    image = napari_sr.Image(
        data, "ZCYX", pixel_size={"Z": 0.8, "Y": 200, "X": 200}, unit={"Y": "nm", "X": "nm"},
        origin={"Z": 1.5, "Y": 100, "X": 300}, **kwargs,
    )  # fmt: skip
    return napari_sr.io.write(tmp_path / "stack.ome.tif", image)


def test_reader_splits_channels_with_physical_scale(tmp_path):
    path = _stack(tmp_path)
    reader = get_reader(str(path))
    assert reader is not None
    layers = reader(str(path))
    assert [kw["name"] for _, kw, _ in layers] == ["stack [c0]", "stack [c1]", "stack [c2]"]
    for i, (data, kwargs, kind) in enumerate(layers):
        assert kind == "image" and data.shape == (2, 5, 7)
        np.testing.assert_array_equal(data, np.arange(210).reshape(2, 3, 5, 7)[:, i])
        np.testing.assert_allclose(kwargs["scale"], [0.8, 0.2, 0.2])  # nm -> µm
        np.testing.assert_allclose(kwargs["translate"], [1.5, 0.1, 0.3])
        assert kwargs["metadata"][META_KEY]["axes"] == "ZYX"
        assert kwargs["rgb"] is False


@pytest.mark.parametrize(
    "content, name",
    [(b"\x89PNG\r\n\x1a\n", "a.png"), (b"not a tiff", "b.tif"), (b"", "c.tiff")],
)
def test_reader_declines_what_it_does_not_handle(tmp_path, content, name):
    (tmp_path / name).write_bytes(content)
    assert get_reader(str(tmp_path / name)) is None
    assert get_reader(str(tmp_path)) is None
    assert get_reader(str(tmp_path / "missing.tif")) is None
    assert get_reader([str(tmp_path / name)] * 2) is None


def _six_d(path):
    tifffile.imwrite(path, np.zeros((2, 2, 2, 2, 8, 8), np.uint8))


def _truncated(path):
    tifffile.imwrite(path, np.ones((4, 64, 64), np.uint16), photometric="minisblack")
    path.write_bytes(path.read_bytes()[:20000])


def _bad_ifd(path):
    path.write_bytes(b"II*\x00\xff\xff\xff\x7f" + bytes(100))  # first IFD past the end


def _garbage_after_magic(path):
    path.write_bytes(b"MM\x00*" + bytes(range(256)) * 4)


def _fifo(path):
    os.mkfifo(path)


def _huge(path):
    tifffile.imwrite(path, shape=(2**17, 2**17), dtype=np.uint16)  # 32 GiB claimed, sparse


def test_reader_claims_a_tiff_larger_than_memory_it_reads_lazily(tmp_path, monkeypatch):
    from napari_sr.utils import memory

    monkeypatch.setattr(memory, "available_memory", lambda: 1 << 30)
    path = tmp_path / "huge.tif"
    _huge(path)
    assert get_reader(str(path)) is not None


@pytest.mark.parametrize("make", [_six_d, _truncated, _bad_ifd, _garbage_after_magic, _fifo])
def test_reader_declines_tiffs_it_could_not_read(tmp_path, make, monkeypatch):
    """napari does not fall back when a reader raises, so these must not be claimed."""
    from napari_sr.utils import memory

    monkeypatch.setattr(memory, "available_memory", lambda: 1 << 30)
    path = tmp_path / "bad.tif"
    make(path)
    assert get_reader(str(path)) is None


def test_writer_refuses_object_data_with_a_clear_message(tmp_path):
    data = np.array([[1, 2], [3, 4]], dtype=object)
    with pytest.raises(ValueError, match=r"object \(Python objects\).*astype"):
        write_image(str(tmp_path / "o.ome.tif"), data, {})
    assert list(tmp_path.iterdir()) == []


def test_writer_then_reader_round_trip(tmp_path):
    path = str(_stack(tmp_path))
    layers = get_reader(path)(path)
    data, kwargs, _ = layers[1]
    kwargs["metadata"][META_KEY]["provenance"] = {"operation": "upscale", "method": "bicubic"}
    out = write_image(str(tmp_path / "out.ome.tif"), data, kwargs)
    assert out == [str(tmp_path / "out.ome.tif")]
    back = napari_sr.io.read(out[0])
    assert back.axes == "ZYX"
    np.testing.assert_array_equal(back.data, data)
    assert back.pixel_size == pytest.approx({"Z": 0.8, "Y": 0.2, "X": 0.2})
    assert back.origin == pytest.approx({"Z": 1.5, "Y": 0.1, "X": 0.3})
    assert back.metadata["provenance"]["method"] == "bicubic"
    again = get_reader(out[0])(out[0])
    np.testing.assert_allclose(again[0][1]["scale"], kwargs["scale"])


def test_writer_without_a_record_guesses_axes_from_napari_scale(tmp_path):
    data = np.ones((4, 6, 8), np.float32)
    out = write_image(
        str(tmp_path / "plain.tif"), data, {"scale": [2.0, 0.5, 0.25], "translate": [0, 1, 2],
                                           "metadata": {"note": "by hand"}},
    )  # fmt: skip
    back = napari_sr.io.read(out[0])
    assert back.axes == "ZYX" and back.pixel_size == pytest.approx({"Z": 2, "Y": 0.5, "X": 0.25})
    assert back.metadata["provenance"]["napari_metadata"] == {"note": "by hand"}


def test_writer_rgb_layer_and_multiscale_error(tmp_path):
    rgb = np.zeros((5, 6, 3), np.uint8)
    out = write_image(str(tmp_path / "rgb.ome.tif"), rgb, {"rgb": True, "scale": [0.5, 0.5]})
    back = napari_sr.io.read(out[0])
    assert back.axes == "YXC" and back.pixel_size == pytest.approx({"Y": 0.5, "X": 0.5})
    layers = image_to_layers(back, "rgb")
    assert len(layers) == 1 and layers[0][1]["rgb"] and layers[0][1]["scale"] == [0.5, 0.5]
    with pytest.raises(ValueError, match="multiscale"):
        layer_to_image([rgb, rgb[::2, ::2]], {})


def test_every_sample_file_has_a_sample_entry_with_its_scale():
    from npe2 import PluginManifest

    manifest = PluginManifest.from_file(Path(__file__).parents[2] / "napari.yaml")
    commands = {c.id: c.python_name for c in manifest.contributions.commands}
    entries = {s.key: commands[s.command] for s in manifest.contributions.sample_data}
    files = sorted(p.name for p in sample_folder().glob("*.ome.tif"))
    expected = sorted(
        [s.file for s in SAMPLES] + [s.ground_truth for s in SAMPLES if s.ground_truth]
    )
    assert files == expected and len(entries) == len(files)
    for key, python_name in entries.items():
        function = getattr(plugin_samples, python_name.split(":")[1])
        (data, kwargs, kind), *_ = function()
        base = key.removesuffix("_ground_truth")
        image = napari_sr.load_sample(base, ground_truth=key.endswith("_ground_truth"))
        assert kind == "image"
        np.testing.assert_array_equal(data, image.data)  # no C axis to split in the samples
        dims = image.axes[:-1] if kwargs["rgb"] else image.axes
        expected_scale = [image.pixel_size.get(a, 1.0) for a in dims]
        assert kwargs["scale"] == pytest.approx(expected_scale), key
        assert kwargs["name"] == base + (" (ground truth)" if key != base else "")


def test_nifti_reader_places_the_layer_by_its_affine_and_the_writer_keeps_it(tmp_path):
    nib = pytest.importorskip("nibabel")
    c, s = np.cos(0.4), np.sin(0.4)
    affine = np.eye(4)
    affine[:3, :3] = np.array([[c, 0, -s], [0, 1, 0], [s, 0, c]]) @ np.diag([1.0, 1.0, 3.0])
    affine[:3, 3] = [-90.0, 12.0, 40.0]
    data = np.arange(6 * 5 * 4, dtype=np.int16).reshape(6, 5, 4)  # x, y, z
    nib.save(nib.Nifti1Image(data, affine), str(tmp_path / "head.nii.gz"))
    path = str(tmp_path / "head.nii.gz")
    ((layer_data, kwargs, _),) = get_reader(path)(path)
    assert layer_data.shape == (4, 5, 6)  # Z, Y, X
    np.testing.assert_allclose(kwargs["scale"], [3000.0, 1000.0, 1000.0])  # mm in µm
    # napari's world position of a voxel (z, y, x): affine @ (scale * index + translate)
    index = np.array([2.0, 3.0, 1.0])
    position = kwargs["affine"] @ np.array([*(np.array(kwargs["scale"]) * index), 1.0])
    expected = affine @ np.array([1.0, 3.0, 2.0, 1.0])  # (x, y, z) in mm
    np.testing.assert_allclose(position[:3][::-1], expected[:3] * 1000, atol=1e-3)  # µm
    # what napari saves goes back to the same world position
    out = write_image(str(tmp_path / "saved.nii.gz"), layer_data, kwargs)
    saved = nib.load(out[0])
    np.testing.assert_allclose(saved.affine, affine, atol=1e-4)
    np.testing.assert_array_equal(np.asarray(saved.dataobj), data)


def test_dicom_series_opens_as_one_layer_placed_by_its_headers(tmp_path):
    pytest.importorskip("pydicom")
    from _dicom import new_series, write_slice

    series = new_series()
    for k in range(3):
        write_slice(tmp_path / f"IM{k}.dcm", np.full((4, 5), 10 * k, np.int16), series=series,
                    position=(-20.0, 30.0, 5.0 + 2.5 * k), spacing=(0.7, 0.6))  # fmt: skip
    path = str(tmp_path / "IM1.dcm")
    ((data, kwargs, _),) = get_reader(path)(path)
    assert data.shape == (3, 4, 5)
    np.testing.assert_array_equal(data[:, 0, 0], [0, 10, 20])
    np.testing.assert_allclose(kwargs["scale"], [2500.0, 700.0, 600.0])  # mm in µm
    # voxel (z, y, x) = (2, 0, 0) is at LPS (-20, 30, 10) mm: RAS (20, -30, 10)
    position = kwargs["affine"] @ np.array([2 * 2500.0, 0.0, 0.0, 1.0])
    np.testing.assert_allclose(position[:3][::-1], [20000.0, -30000.0, 10000.0], atol=1e-3)
    # the folder itself, as File → Open Folder gives it
    ((folder_data, _, _),) = get_reader(str(tmp_path))(str(tmp_path))
    np.testing.assert_array_equal(folder_data, data)
    (tmp_path / "other").mkdir()
    assert get_reader(str(tmp_path / "other")) is None  # an empty folder is not claimed
