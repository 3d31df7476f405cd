"""OME-Zarr (NGFF 0.4 and 0.5) and lazy TIFF reading: stores written by ome-zarr-py (the
OME reference implementation) and by napari-sr, read back lazily with their geometry."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

pytest.importorskip("dask")
zarr = pytest.importorskip("zarr")
pytest.importorskip("ome_zarr")

import tifffile  # noqa: E402

from napari_sr import Image, io  # noqa: E402
from napari_sr.io.omezarr import OmeZarrOutput  # noqa: E402


def _reference_store(path, data, version, *, axes="zyx", scale=(2.0, 0.5, 0.5), levels=1):
    """A store written by ome-zarr-py alone, as other software writes them."""
    from ome_zarr.format import FormatV04, FormatV05

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from ome_zarr.writer import write_multiscale

    fmt = FormatV05() if version == "0.5" else FormatV04()
    group = zarr.open_group(str(path), mode="w", zarr_format=3 if version == "0.5" else 2)
    pyramid = [data]
    for _ in range(1, levels):
        pyramid.append(pyramid[-1][..., ::2, ::2])
    transforms = []
    for level in range(levels):
        factor = [1.0] * (len(axes) - 2) + [2.0**level] * 2
        transforms.append([
            {"type": "scale", "scale": [s * f for s, f in zip(scale, factor, strict=True)]},
            {"type": "translation", "translation": [0.0] * (len(axes) - 2) + [3.0, 4.0]},
        ])  # fmt: skip
    axes_meta = [{"name": a, "type": "channel" if a == "c" else "space",
                  **({} if a == "c" else {"unit": "micrometer"})} for a in axes]  # fmt: skip
    with warnings.catch_warnings():  # translations need the older, deprecated argument
        warnings.simplefilter("ignore", DeprecationWarning)
        write_multiscale(pyramid, group, fmt=fmt, axes=axes_meta,
                         coordinate_transformations=transforms)  # fmt: skip
    return path


@pytest.mark.parametrize("version", ["0.4", "0.5"])
def test_stores_of_the_reference_writer_are_read_lazily_with_geometry(tmp_path, rng, version):
    data = rng.integers(0, 4000, (3, 20, 24), dtype=np.uint16)
    path = _reference_store(tmp_path / "ref.ome.zarr", data, version, levels=2)
    image = io.read(path, lazy=True)
    assert type(image.data).__module__.startswith("dask")
    assert image.axes == "ZYX" and image.metadata["ngff_version"] == version
    assert image.pixel_size == {"Z": 2.0, "Y": 0.5, "X": 0.5}
    assert image.unit == {"Z": "µm", "Y": "µm", "X": "µm"}
    assert image.origin == {"Y": 3.0, "X": 4.0}
    assert image.metadata["levels"] == 2
    np.testing.assert_array_equal(image.data.compute(), data)
    small = io.read(path, level=1)
    assert isinstance(small.data, np.ndarray)  # small: read whole by default
    np.testing.assert_array_equal(small.data, data[:, ::2, ::2])
    assert small.pixel_size["X"] == 1.0
    info = io.probe(path)
    assert (info.format, info.shape, info.axes) == ("OME-Zarr", (3, 20, 24), "ZYX")


def test_napari_sr_stores_round_trip_with_provenance_and_ngff_order(tmp_path, rng):
    data = rng.random((4, 2, 10, 12)).astype(np.float32)
    image = Image(data, axes="ZCYX", pixel_size={"Z": 1.5, "Y": 200.0, "X": 200.0},
                  unit={"Y": "nm", "X": "nm"}, origin={"X": -2.0},
                  metadata={"provenance": {"method": "test"}})  # fmt: skip
    path = io.write(tmp_path / "a.ome.zarr", image, chunks={"Y": 4, "X": 8})
    back = io.read(path)
    assert back.axes == "CZYX"  # NGFF stores channels before z
    np.testing.assert_array_equal(back.data, np.moveaxis(data, 1, 0))
    assert back.pixel_size == image.pixel_size and back.unit["Y"] == "nm"
    assert back.origin == {"X": -2.0}
    assert back.metadata["provenance"]["method"] == "test"
    group = zarr.open_group(str(path), mode="r")
    assert group["0"].chunks == (1, 1, 4, 8)
    meta = group.attrs["ome"]["multiscales"][0]
    assert [a["name"] for a in meta["axes"]] == ["c", "z", "y", "x"]
    assert meta["axes"][2] == {"name": "y", "type": "space", "unit": "nanometer"}


def test_a_lazy_image_is_written_without_loading_it(tmp_path, rng):
    import dask.array as da

    data = rng.integers(0, 255, (6, 16, 16), dtype=np.uint8)
    reads = []

    def counted(block, block_info=None):
        reads.append(block.nbytes)
        return block

    lazy = da.from_array(data, chunks=(1, 16, 16)).map_blocks(counted, dtype=np.uint8)
    path = io.write(tmp_path / "l.ome.zarr", Image(lazy, axes="ZYX"), compression="zlib")
    assert max(reads) == 16 * 16  # block by block
    np.testing.assert_array_equal(io.read(path).data, data)


def test_bioformats2raw_layout_opens_its_first_image(tmp_path, rng):
    data = rng.integers(0, 100, (2, 8, 8), dtype=np.uint16)
    root = tmp_path / "converted.ome.zarr"
    zarr.open_group(str(root), mode="w", zarr_format=2).attrs["bioformats2raw.layout"] = 3
    _reference_store(root / "0", data, "0.4")
    np.testing.assert_array_equal(io.read(root).data, data)


def test_what_is_not_an_ome_zarr_image_is_said(tmp_path):
    plate = zarr.open_group(str(tmp_path / "plate.ome.zarr"), mode="w", zarr_format=2)
    plate.attrs["plate"] = {"wells": []}
    with pytest.raises(ValueError, match=r"a plate \(HCS\), not an OME-Zarr image"):
        io.read(tmp_path / "plate.ome.zarr")
    (tmp_path / "empty.zarr").mkdir()
    with pytest.raises(ValueError, match="not a zarr store|no multiscale image"):
        io.read(tmp_path / "empty.zarr")
    data = np.zeros((4, 4), np.uint8)
    path = _reference_store(tmp_path / "one.ome.zarr", data, "0.5", axes="yx", scale=(1, 1))
    with pytest.raises(ValueError, match="resolution levels 0 to 0, not 2"):
        io.read(path, level=2)
    meta = json.loads((path / "zarr.json").read_text())
    meta["attributes"]["ome"]["multiscales"][0]["axes"][0]["name"] = "angle"
    (path / "zarr.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="axis 'angle' is none of t, c, z, y, x"):
        io.read(path)


def test_output_store_records_blocks_and_refuses_a_half_run(tmp_path):
    out = OmeZarrOutput.create(tmp_path / "o.ome.zarr", shape=(4, 8, 8), dtype=np.uint16,
                               axes="ZYX", block=(2, 8, 8), chunks=(1, 4, 4))  # fmt: skip
    assert out.grid == (2, 1, 1) and out.pending() == [(0, 0, 0), (1, 0, 0)]
    out.write_block((1, 0, 0), np.ones((2, 8, 8), np.uint16))
    assert out.pending() == [(0, 0, 0)]
    with pytest.raises(RuntimeError, match="1 of 2 blocks .* are not written"):
        out.finish()
    with pytest.raises(ValueError, match="must be a multiple of the chunks"):
        OmeZarrOutput.create(tmp_path / "b.ome.zarr", shape=(4, 8, 8), dtype=np.uint16,
                             axes="ZYX", block=(2, 6, 8), chunks=(1, 4, 4))  # fmt: skip
    again = OmeZarrOutput.create(tmp_path / "o.ome.zarr", shape=(4, 8, 8), dtype=np.uint16,
                                 axes="ZYX", block=(2, 8, 8), resume=True)  # fmt: skip
    again.write_block((0, 0, 0), np.zeros((2, 8, 8), np.uint16))
    path = again.finish()
    assert io.read(path).data[2:].all() and not io.read(path).data[:2].any()


def test_a_large_tiff_is_read_lazily_page_range_by_page_range(tmp_path, rng):
    data = rng.integers(0, 4000, (5, 30, 40), dtype=np.uint16)
    path = tmp_path / "s.ome.tif"
    io.write(path, Image(data, axes="ZYX", pixel_size={"X": 0.2, "Y": 0.2}))
    lazy = io.read(path, lazy=True)
    eager = io.read(path)
    assert type(lazy.data).__module__.startswith("dask") and isinstance(eager.data, np.ndarray)
    assert lazy.pixel_size == eager.pixel_size and lazy.axes == eager.axes
    np.testing.assert_array_equal(lazy.data[2:4, 5:9].compute(), data[2:4, 5:9])
    # a pyramidal OME-TIFF's levels
    pyramid = tmp_path / "p.ome.tif"
    with tifffile.TiffWriter(pyramid) as tif:
        tif.write(data[0], subifds=1, metadata={"axes": "YX"})
        tif.write(data[0, ::2, ::2], subfiletype=1)
    np.testing.assert_array_equal(io.read(pyramid, level=1, lazy=True).data, data[0, ::2, ::2])


def test_png_has_no_levels(tmp_path):
    path = io.write(tmp_path / "a.png", np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match="has no resolution levels"):
        io.read(path, level=1)
