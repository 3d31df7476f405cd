"""Hostile and odd inputs to io.read / io.write: each gets one clear error, or is read with a
warning about what was ignored; nothing hangs, leaks library warnings or leaves files."""

from __future__ import annotations

import errno
import importlib.util
import os
import warnings

import numpy as np
import pytest
import tifffile
from PIL import Image as PILImage

from napari_sr import io
from napari_sr.image import Image
from napari_sr.utils import memory

# ------------------------------------------------------------------ writing: pixel types


@pytest.mark.parametrize(
    ("dtype", "shown"),
    [
        (object, "object"),
        (np.complex64, "complex64"),
        ("U3", "str"),
        ("S3", "bytes"),
        ([("a", "f4"), ("b", "i2")], "structured"),
        ("datetime64[s]", "datetime64"),
        ("timedelta64[s]", "timedelta64"),
    ],
)
@pytest.mark.parametrize("name", ["a.ome.tif", "a.png"])
def test_write_refuses_pixel_types_no_format_holds(tmp_path, dtype, shown, name):
    data = np.zeros((4, 4), dtype=dtype)
    with pytest.raises(ValueError, match=rf"pixels are of type {shown}.*(astype|np\.abs)"):
        io.write(tmp_path / name, data)
    with pytest.raises(ValueError, match=f"type {shown}"):  # an Image brings them too
        io.write(tmp_path / name, Image(data))
    assert list(tmp_path.iterdir()) == []


def test_write_object_array_of_numbers_names_the_fix(tmp_path):
    data = np.array([[1, 2], [3, 4]], dtype=object)
    with pytest.raises(ValueError, match=r"object \(Python objects\).*astype\(np.float32\)"):
        io.write(tmp_path / "o.ome.tif", data)


@pytest.mark.parametrize(
    ("dtype", "stored"),
    [
        (np.int64, np.int32),
        (np.uint64, np.uint32),
        (np.float16, np.float32),
        (bool, bool),
        (np.int8, np.int8),
        (np.uint32, np.uint32),
        (np.int32, np.int32),
        (">u2", np.uint16),
    ],
)
def test_write_converts_only_without_loss(tmp_path, rng, dtype, stored):
    data = (rng.random((5, 6)) * 100).astype(dtype)
    back = io.read(io.write(tmp_path / "a.ome.tif", data))
    assert back.dtype == np.dtype(stored)
    np.testing.assert_array_equal(back.data, data)


@pytest.mark.parametrize("value", [2**40, -(2**40)])
def test_write_refuses_64_bit_values_that_do_not_fit(tmp_path, value):
    data = np.full((4, 4), value, dtype=np.int64)
    with pytest.raises(ValueError, match=r"int64 with values from .* at most 32 bits.*astype"):
        io.write(tmp_path / "a.ome.tif", data)


# ---------------------------------------------------------------- writing: format, options


@pytest.mark.parametrize(
    ("shape", "dtype", "axes"),
    [
        ((6, 7), np.uint8, "YX"),
        ((6, 7), np.uint16, "YX"),
        ((6, 7), bool, "YX"),
        ((6, 7, 2), np.uint8, "YXC"),
        ((6, 7, 3), np.uint8, "YXC"),
        ((6, 7, 4), np.uint8, "YXC"),
    ],
)
def test_png_output_follows_the_extension(tmp_path, rng, shape, dtype, axes):
    data = (rng.random(shape) * 250).astype(dtype)
    image = Image(
        data, axes=axes, pixel_size={"Y": 0.25, "X": 0.5}, unit={"Y": "nm", "X": "nm"},
        origin={"X": 1.5}, metadata={"provenance": {"method": "bicubic"}},
    )  # fmt: skip
    path = io.write(tmp_path / "out.PNG", image)
    assert path.read_bytes().startswith(b"\x89PNG")
    with PILImage.open(path) as other:  # an outside reader sees the same pixels
        np.testing.assert_array_equal(np.asarray(other), data)
    back = io.read(path)
    assert back.axes == axes and back.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(back.data, data)
    assert back.pixel_size == {"Y": 0.25, "X": 0.5} and back.unit == {"Y": "nm", "X": "nm"}
    assert back.origin == {"X": 1.5}
    assert back.metadata["provenance"]["method"] == "bicubic"


@pytest.mark.parametrize(
    ("shape", "dtype", "axes", "what"),
    [
        ((6, 7), np.float32, "YX", "float32 pixels"),
        ((6, 7, 3), np.uint16, "YXC", "uint16 pixels"),
        ((3, 6, 7), np.uint8, "ZYX", "axes 'ZYX'"),
        ((6, 7), np.int16, "YX", "int16 pixels"),
    ],
)
def test_png_output_refuses_what_png_cannot_hold(tmp_path, shape, dtype, axes, what):
    with pytest.raises(ValueError, match=f"PNG holds one 2-D plane.*has {what}.*write .ome.tif"):
        io.write(tmp_path / "out.png", Image(np.zeros(shape, dtype), axes=axes))
    assert list(tmp_path.iterdir()) == []


def test_png_drops_length_one_axes_and_keeps_atomic_no_overwrite(tmp_path):
    target = tmp_path / "p.png"
    target.write_bytes(b"precious")
    data = np.arange(12, dtype=np.uint8).reshape(1, 3, 4)
    with pytest.raises(FileExistsError, match="already exists"):
        io.write(target, data, axes="ZYX")
    assert target.read_bytes() == b"precious"
    io.write(target, data, axes="ZYX", overwrite=True)
    np.testing.assert_array_equal(io.read(target).data, data[0])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.png"]


@pytest.mark.parametrize("name", ["out.jpg", "out.n5", "out", "out.tif.bak"])
def test_other_extensions_are_refused_before_work(tmp_path, name):
    with pytest.raises(
        ValueError,
        match=r"must end in .ome.tif \(or .tif/.tiff\), .ome.zarr, .nii.gz \(or .nii\) or .png",
    ):
        io.check_output_path(tmp_path / name)


def test_default_compression_is_lossless_zlib_readable_by_libtiff(tmp_path, rng):
    data = np.tile(np.arange(64, dtype=np.uint16) * 100, (48, 1))
    data[::3] += rng.integers(0, 50, (16, 64), dtype=np.uint16)
    small = io.write(tmp_path / "z.ome.tif", data)
    big = io.write(tmp_path / "n.ome.tif", data, compression="none")
    with tifffile.TiffFile(small) as tif:
        assert tif.pages.first.compression == tifffile.COMPRESSION.ADOBE_DEFLATE
        assert tif.pages.first.predictor == tifffile.PREDICTOR.HORIZONTAL
    with tifffile.TiffFile(big) as tif:
        assert tif.pages.first.compression == tifffile.COMPRESSION.NONE
    assert small.stat().st_size < big.stat().st_size / 2
    with PILImage.open(small) as other:  # Pillow decodes TIFF through libtiff
        np.testing.assert_array_equal(np.asarray(other), data)
    np.testing.assert_array_equal(io.read(small).data, data)


@pytest.mark.parametrize("compression", [None, "none", "NONE", "zlib", "deflate"])
@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.float32, np.float64, bool])
def test_every_compression_round_trips(tmp_path, rng, compression, dtype):
    data = (rng.random((3, 9, 10)) * 100).astype(dtype)
    path = io.write(tmp_path / "c.ome.tif", data, compression=compression)
    np.testing.assert_array_equal(io.read(path).data, data)


@pytest.mark.parametrize(
    ("value", "error", "match"),
    [
        ("lzw", ValueError, "is not one napari-sr writes; use 'zlib'"),
        ("jpeg", ValueError, "is not one napari-sr writes"),
        (5, TypeError, "must be 'zlib', 'zstd', 'none' or None, not int"),
    ],
)
def test_bad_compression_is_refused_before_work(tmp_path, value, error, match):
    with pytest.raises(error, match=match):
        io.write(tmp_path / "c.ome.tif", np.zeros((4, 4), np.uint8), compression=value)
    assert list(tmp_path.iterdir()) == []


def test_zstd_without_its_codec_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(io, "zstd_available", lambda: False)
    with pytest.raises(ValueError, match="zstd' needs the imagecodecs package"):
        io.write(tmp_path / "c.ome.tif", np.zeros((4, 4), np.uint8), compression="zstd")


@pytest.mark.skipif(not io.zstd_available(), reason="zstd needs imagecodecs")
def test_zstd_round_trip(tmp_path, rng):
    data = rng.integers(0, 999, (2, 16, 16), dtype=np.uint16)
    path = io.write(tmp_path / "c.ome.tif", data, compression="zstd")
    np.testing.assert_array_equal(io.read(path).data, data)


def test_reading_a_codec_that_is_missing_says_what_to_install(tmp_path):
    tifffile.imwrite(tmp_path / "z.tif", np.zeros((8, 8), np.uint8))
    with tifffile.TiffFile(tmp_path / "z.tif", mode="r+") as tif:
        tif.pages.first.tags["Compression"].overwrite(34712)  # JPEG 2000: imagecodecs only
    # without imagecodecs (a core install) the fix is named; with it (the bmz extra brings
    # it) the bytes, which are not JPEG 2000, are found corrupt
    installed = importlib.util.find_spec("imagecodecs") is not None
    missing = "compressed with JPEG2000.*pip install imagecodecs"
    expected = "truncated or corrupt" if installed else missing
    with pytest.raises(ValueError, match=expected):
        io.read(tmp_path / "z.tif")
    if not installed:  # probing reads no pixels: only a missing codec shows there
        with pytest.raises(ValueError, match=expected):
            io.probe(tmp_path / "z.tif")


def test_write_refuses_a_unit_that_is_not_a_length(tmp_path):
    with pytest.raises(ValueError, match="'parsec', is not a length napari-sr knows"):
        io.write(tmp_path / "u.ome.tif", np.zeros((4, 4), np.uint8), pixel_size=1, unit="parsec")


# ------------------------------------------------------------------- writing: disk full


@pytest.mark.parametrize(
    "failure",
    [
        OSError(errno.ENOSPC, "No space left on device"),
        OSError("524288 requested and 130960 written"),  # numpy's short write in tifffile
        OSError(errno.EDQUOT, "Disk quota exceeded"),
    ],
)
@pytest.mark.parametrize("name", ["full.ome.tif", "full.png"])
def test_disk_full_is_one_clear_oserror_and_leaves_nothing(tmp_path, monkeypatch, failure, name):
    from PIL import Image as PILImage

    def fill_then_fail(tmp, *args, **kwargs):
        with open(tmp if isinstance(tmp, str) else args[0], "wb") as fh:
            fh.write(b"half a file")
        raise failure

    monkeypatch.setattr(tifffile, "imwrite", fill_then_fail)
    monkeypatch.setattr(PILImage.Image, "save", lambda self, tmp, **kw: fill_then_fail(tmp))
    with pytest.raises(OSError, match="no space left on device while writing") as caught:
        io.write(tmp_path / name, np.zeros((1000, 1000), np.uint8))
    message = str(caught.value)
    assert caught.value.errno == errno.ENOSPC
    assert "needed about 1.0 MB" in message and "nothing was written" in message
    assert "free some space or choose another folder" in message
    assert "requested" not in message
    assert list(tmp_path.iterdir()) == []


def test_other_write_failures_keep_their_message(tmp_path, monkeypatch):
    def fail(*args, **kwargs):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(tifffile, "imwrite", fail)
    with pytest.raises(OSError, match="Input/output error"):
        io.write(tmp_path / "x.ome.tif", np.zeros((4, 4), np.uint8))


# ----------------------------------------------------------------- reading: not a file


def test_fifo_is_refused_at_once(tmp_path):
    fifo = tmp_path / "pipe.tif"
    os.mkfifo(fifo)  # opening it would wait for a writer forever
    for function in (io.read, io.probe):
        with pytest.raises(ValueError, match=r"is a named pipe \(FIFO\), not a regular file"):
            function(fifo)


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null", "/dev/urandom"])
def test_devices_are_refused(device):
    if not os.path.exists(device):
        pytest.skip(f"no {device}")
    with pytest.raises(ValueError, match="is a character device, not a regular file"):
        io.read(device)


def test_symlink_to_a_device_is_refused(tmp_path):
    if not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero")
    (tmp_path / "zero.tif").symlink_to("/dev/zero")
    with pytest.raises(ValueError, match="character device"):
        io.read(tmp_path / "zero.tif")


def test_proc_file_is_not_an_image():
    if not os.path.exists("/proc/self/status"):
        pytest.skip("no /proc")
    with pytest.raises(ValueError, match="not an image napari-sr can read"):
        io.read("/proc/self/status")


def test_socket_is_refused(tmp_path):
    import socket

    path = tmp_path / "s.tif"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        try:
            server.bind(str(path))
        except OSError:
            pytest.skip("cannot bind a unix socket here")
        with pytest.raises(ValueError, match="is a socket, not a regular file"):
            io.read(path)


def test_permission_denied_is_a_permission_error(tmp_path, monkeypatch):
    path = io.write(tmp_path / "a.ome.tif", np.zeros((4, 4), np.uint8))
    real_open = open

    def deny(file, *args, **kwargs):
        if str(file) == str(path):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr("builtins.open", deny)
    with pytest.raises(PermissionError, match="cannot read .*Permission denied; check the file"):
        io.read(path)


# ------------------------------------------------------------------ reading: huge claims


def test_huge_sparse_tiff_is_refused_before_allocating_and_read_lazily(tmp_path, monkeypatch):
    path = tmp_path / "huge.tif"
    tifffile.imwrite(path, shape=(60000, 60000), dtype=np.uint16)  # 7.2 GB, sparse
    monkeypatch.setattr(memory, "available_memory", lambda: 1 << 30)
    with pytest.raises(ValueError, match=r"needs 6.7 GiB of memory but only 1.0 GiB"):
        io.read(path, lazy=False)
    lazy = io.read(path)  # larger than a quarter of the memory: lazy by default
    assert type(lazy.data).__module__.startswith("dask") and lazy.shape == (60000, 60000)
    assert int(lazy.data[30000:30002, :5].sum().compute()) == 0
    assert io.probe(path).shape == (60000, 60000)


def test_a_lazy_uncompressed_tiff_is_read_in_the_files_byte_order(tmp_path):
    data = np.arange(600 * 700, dtype=">u2").reshape(600, 700)
    tifffile.imwrite(tmp_path / "be.tif", data, byteorder=">")
    lazy = io.read(tmp_path / "be.tif", lazy=True)
    assert lazy.data.dtype == np.uint16
    np.testing.assert_array_equal(lazy.data[100:130, 5:9].compute(), data[100:130, 5:9])


@pytest.mark.parametrize(
    ("layout", "chunk"),
    [
        ({"rowsperstrip": 7}, (70, 700)),  # whole strips of full rows
        ({"rowsperstrip": 600}, (71, 700)),  # one strip: rows as many as fit
        ({"tile": (64, 64)}, (256, 256)),  # whole tiles
    ],
)
def test_a_plane_larger_than_a_chunk_is_cut_along_the_files_strips_or_tiles(
    tmp_path, monkeypatch, layout, chunk
):
    from napari_sr.io.tiff import LazyTiff

    monkeypatch.setattr(LazyTiff, "CHUNK_BYTES", 100_000)  # 50,000 uint16 pixels
    data = np.random.default_rng(0).integers(0, 4000, (600, 700), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "a.tif", data, compression="zlib", **layout)
    lazy = io.read(tmp_path / "a.tif", lazy=True)
    assert lazy.data.chunksize == chunk
    np.testing.assert_array_equal(lazy.data.compute(), data)


def test_sparse_file_with_only_a_tiff_signature(tmp_path):
    path = tmp_path / "sparse.tif"
    with open(path, "wb") as fh:
        fh.write(b"II*\x00\x08\x00\x00\x00")
        fh.truncate(1 << 40)  # a terabyte of holes
    with pytest.raises(ValueError, match="truncated or corrupt"):
        io.read(path)


def test_png_larger_than_memory_is_refused_before_decoding(tmp_path, monkeypatch):
    PILImage.new("L", (400, 300)).save(tmp_path / "a.png")
    monkeypatch.setattr(memory, "available_memory", lambda: 1000)
    with pytest.raises(ValueError, match=r"shape \(300, 400\) \(uint8\) needs 117.2 KiB"):
        io.read(tmp_path / "a.png")


def test_decompression_bomb_is_our_error_and_its_warning_stays_quiet(tmp_path, monkeypatch):
    PILImage.new("L", (100, 100)).save(tmp_path / "bomb.png")
    monkeypatch.setattr(PILImage, "MAX_IMAGE_PIXELS", 4000)  # 10000 px > 2 x limit: error
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="more pixels than Pillow's safety limit of 8000"):
            io.read(tmp_path / "bomb.png")
        monkeypatch.setattr(PILImage, "MAX_IMAGE_PIXELS", 6000)  # above the limit: a warning
        assert io.read(tmp_path / "bomb.png").shape == (100, 100)  # ...kept quiet


# --------------------------------------------------------------- reading: odd structure


def test_six_d_tiff_is_named_not_called_corrupt(tmp_path):
    tifffile.imwrite(tmp_path / "six.tif", np.zeros((2, 2, 2, 2, 8, 8), np.uint8))
    for function in (io.read, io.probe):
        with pytest.raises(ValueError, match=r"6-D TIFF \(axes 'QQQQYX'.*at most 5 axes") as e:
            function(tmp_path / "six.tif")
        assert "corrupt" not in str(e.value) and "split it" in str(e.value)


def test_six_d_tiff_with_a_length_one_axis_is_read(tmp_path, rng):
    data = rng.integers(0, 9, (2, 1, 3, 2, 8, 8), dtype=np.uint8)
    tifffile.imwrite(tmp_path / "six.tif", data)
    image = io.read(tmp_path / "six.tif")
    assert image.shape == (2, 3, 2, 8, 8) and image.axes == "TZCYX"
    np.testing.assert_array_equal(image.data, data[:, 0])
    assert io.probe(tmp_path / "six.tif").shape == (2, 3, 2, 8, 8)


def test_six_d_ome_tiff_with_known_axes(tmp_path, rng):
    data = rng.integers(0, 9, (2, 3, 1, 2, 8, 8), dtype=np.uint8)
    tifffile.imwrite(tmp_path / "six.ome.tif", data, ome=True, metadata={"axes": "TZQCYX"})
    image = io.read(tmp_path / "six.ome.tif")
    assert image.axes == "TZCYX"
    np.testing.assert_array_equal(image.data, data[:, :, 0])


def _ome_with(tmp_path, attributes: str):
    path = tmp_path / "m.ome.tif"
    tifffile.imwrite(path, np.arange(16, dtype=np.uint8).reshape(4, 4), ome=True)
    with tifffile.TiffFile(path) as tif:
        xml = tif.ome_metadata
    tifffile.tiffcomment(path, xml.replace("<Pixels ", f"<Pixels {attributes} ").encode())
    return path


@pytest.mark.parametrize(
    ("value", "unit", "problem"),
    [
        ("abc", "µm", "not a number"),
        ("-1", "µm", "not a positive finite length"),
        ("0", "µm", "not a positive finite length"),
        ("NaN", "µm", "not a positive finite length"),
        ("INF", "µm", "not a positive finite length"),
        ("1e300", "µm", "outside any plausible pixel size"),
        ("1e-30", "m", "outside any plausible pixel size"),
        ("0.5", "parsec", "unit 'parsec' is not a length"),
    ],
)
def test_bad_ome_pixel_size_is_ignored_with_a_warning(tmp_path, value, unit, problem):
    path = _ome_with(tmp_path, f'PhysicalSizeX="{value}" PhysicalSizeXUnit="{unit}" '
                               'PhysicalSizeY="0.5" PhysicalSizeYUnit="nm"')  # fmt: skip
    with pytest.warns(io.MetadataWarning, match=rf"PhysicalSizeX = '{value}'.*{problem}"):
        image = io.read(path)
    np.testing.assert_array_equal(image.data, np.arange(16).reshape(4, 4))
    assert image.pixel_size == {"Y": 0.5} and image.unit == {"Y": "nm"}
    assert "ignored pixel size X" in image.metadata["note"]


def test_more_length_units_are_understood(tmp_path):
    path = _ome_with(tmp_path, 'PhysicalSizeX="2" PhysicalSizeXUnit="Å" '
                               'PhysicalSizeY="1" PhysicalSizeYUnit="pixel"')  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "pixel" means uncalibrated: nothing to warn about
        image = io.read(path)
    assert image.pixel_size == {"X": 2.0} and image.unit == {"X": "Å"}


@pytest.mark.parametrize("spacing", ["abc", -2.0, 0.0, float("nan"), float("inf")])
def test_bad_imagej_spacing_is_ignored_with_a_warning(tmp_path, spacing):
    tifffile.imwrite(
        tmp_path / "ij.tif", np.zeros((3, 4, 4), np.uint8), imagej=True,
        resolution=(2, 2), metadata={"axes": "ZYX", "spacing": spacing, "unit": "micron"},
    )  # fmt: skip
    with pytest.warns(io.MetadataWarning, match="ImageJ spacing"):
        image = io.read(tmp_path / "ij.tif")
    assert image.pixel_size == {"X": 0.5, "Y": 0.5}


def test_bad_resolution_tags_are_ignored_with_a_warning(tmp_path):
    tifffile.imwrite(
        tmp_path / "r.tif", np.zeros((4, 4), np.uint8), resolution=(1, 5),
        resolutionunit="CENTIMETER",
    )  # fmt: skip
    with tifffile.TiffFile(tmp_path / "r.tif", mode="r+") as tif:
        tif.pages.first.tags["XResolution"].overwrite((1, 0))  # a zero denominator
    with pytest.warns(io.MetadataWarning, match="x resolution tag"):
        image = io.read(tmp_path / "r.tif")
    assert image.pixel_size == pytest.approx({"Y": 2000.0})


def test_broken_ome_xml_costs_the_sizes_not_the_pixels(tmp_path):
    path = _ome_with(tmp_path, "")
    with tifffile.TiffFile(path) as tif:
        xml = tif.ome_metadata
    tifffile.tiffcomment(path, xml.replace("</OME>", "<unclosed></OME>").encode())
    image = io.read(path)
    np.testing.assert_array_equal(image.data, np.arange(16).reshape(4, 4))


def test_garbled_provenance_record_is_ignored(tmp_path):
    path = io.write(tmp_path / "p.ome.tif", np.zeros((2, 4, 4), np.uint8), axes="ZYX")
    with tifffile.TiffFile(path) as tif:
        xml = tif.ome_metadata
    start = xml.index("<Description>") + len("<Description>")
    end = xml.index("</Description>")
    garbage = '{"napari-sr": {"axes": "QQ", "shape": [1.5, "x"], "origin": {"Z": "a"}}}'
    garbage = garbage.replace('"', "&quot;")
    tifffile.tiffcomment(path, (xml[:start] + garbage + xml[end:]).encode())
    image = io.read(path)
    assert image.axes == "ZYX" and image.origin == {}


# -------------------------------------------------------------------- reading: PNG/JPEG


def test_sixteen_bit_colour_png_keeps_sixteen_bits(tmp_path, rng):
    cv2 = pytest.importorskip("cv2")
    data = rng.integers(0, 65535, (6, 5, 3), dtype=np.uint16)
    cv2.imwrite(str(tmp_path / "c16.png"), data[..., ::-1])  # OpenCV writes BGR
    image = io.read(tmp_path / "c16.png")
    assert image.dtype == np.uint16 and image.axes == "YXC"
    np.testing.assert_array_equal(image.data, data)


def test_sixteen_bit_colour_png_without_opencv_is_refused_not_truncated(tmp_path, monkeypatch):
    cv2 = pytest.importorskip("cv2")
    data = np.full((6, 5, 3), 40000, np.uint16)
    cv2.imwrite(str(tmp_path / "c16.png"), data)
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "cv2" else real(name, *a)
    )
    with pytest.raises(ValueError, match="16-bit colour PNG.*keeps only 8.*opencv"):
        io.read(tmp_path / "c16.png")


@pytest.mark.parametrize(
    ("make", "shape", "dtype"),
    [
        (lambda: PILImage.new("CMYK", (5, 4), (0, 255, 0, 0)), (4, 5, 3), np.uint8),
        (lambda: PILImage.new("L", (5, 4), 9).convert("P"), (4, 5, 3), np.uint8),
        (lambda: PILImage.new("1", (5, 4), 1), (4, 5), bool),
        (lambda: PILImage.new("LA", (5, 4)), (4, 5, 2), np.uint8),
    ],
)
def test_pillow_modes_become_arrays_napari_sr_handles(tmp_path, make, shape, dtype):
    picture = make()
    name = "x.jpg" if picture.mode == "CMYK" else "x.png"
    picture.save(tmp_path / name)
    image = io.read(tmp_path / name)
    assert image.shape == shape and image.dtype == np.dtype(dtype)
    assert io.probe(tmp_path / name).shape == shape


@pytest.mark.parametrize("keep", [0.5, 0.9])
def test_truncated_jpeg(tmp_path, rng, keep):
    PILImage.fromarray(rng.integers(0, 255, (64, 64), dtype=np.uint8)).save(tmp_path / "a.jpg")
    raw = (tmp_path / "a.jpg").read_bytes()
    (tmp_path / "b.jpg").write_bytes(raw[: int(len(raw) * keep)])
    with pytest.raises(ValueError, match="JPEG is truncated or corrupt"):
        io.read(tmp_path / "b.jpg")


def test_truncated_tiff_is_found_by_probe(tmp_path, rng):
    data = rng.integers(0, 999, (4, 64, 64), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "full.tif", data, photometric="minisblack")
    raw = (tmp_path / "full.tif").read_bytes()
    (tmp_path / "cut.tif").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match="truncated or corrupt .*runs to byte"):
        io.probe(tmp_path / "cut.tif")


def test_probe_reports_what_read_returns(tmp_path):
    io.write(tmp_path / "a.ome.tif", np.zeros((3, 5, 7), np.uint16), axes="ZYX")
    info = io.probe(tmp_path / "a.ome.tif")
    assert (info.format, info.shape, info.dtype, info.axes) == ("TIFF", (3, 5, 7), "uint16", "ZYX")


# ------------------------------------------------------------- reading: other formats


def _gif(path):
    PILImage.new("L", (4, 4)).save(path, format="GIF")


def _bmp(path):
    PILImage.new("L", (4, 4)).save(path, format="BMP")


def _webp(path):
    PILImage.new("RGB", (4, 4)).save(path, format="WEBP")


def _npy(path):
    with open(path, "wb") as fh:
        np.save(fh, np.zeros((4, 4)))


def _gzip(path):
    import gzip

    path.write_bytes(gzip.compress(b"II*\x00" + bytes(100)))


@pytest.mark.parametrize(
    ("make", "kind", "fix"),
    [
        (_gif, "GIF", "convert it to TIFF"),
        (_bmp, "BMP", "convert it to TIFF"),
        (_webp, "WebP", "convert it to TIFF"),
        (_npy, "NumPy .npy", r"tifffile.imwrite\('image.tif', array\)"),
        (_gzip, "gzip", "decompress it first"),
    ],
)
def test_other_formats_are_named_with_the_fix(tmp_path, make, kind, fix):
    path = tmp_path / "image.tif"  # the name says TIFF; the bytes say otherwise
    make(path)
    with pytest.raises(ValueError, match=rf"is a {kind} file, not an image .* - .*{fix}"):
        io.read(path)


def test_text_starting_like_a_bmp_is_just_not_an_image(tmp_path):
    (tmp_path / "notes.tif").write_text("BMI of the mice, week 3: 21.5, 22.0, 22.4")
    with pytest.raises(ValueError, match="is not an image napari-sr can read"):
        io.read(tmp_path / "notes.tif")


# ------------------------------------------------------------ writing: bad arguments


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"pixel_size": "abc"}, ValueError, "pixel_size must be a number .* not 'abc'"),
        ({"pixel_size": {"X": "wide"}}, ValueError, "pixel_size must be a number"),
        ({"pixel_size": [1, 2]}, ValueError, "pixel_size must be a number"),
        ({"pixel_size": -1.0}, ValueError, "not a positive finite length"),
        ({"provenance": ["a"]}, TypeError, "provenance must be a dict"),
        ({"axes": "QX"}, ValueError, "unknown letter"),
    ],
)
def test_write_argument_errors_name_the_fix(tmp_path, kwargs, error, match):
    with pytest.raises(error, match=match):
        io.write(tmp_path / "a.ome.tif", np.zeros((4, 4), np.uint8), **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_self_referencing_provenance_is_refused(tmp_path):
    record: dict = {}
    record["self"] = record
    with pytest.raises(ValueError, match="cannot be saved as JSON"):
        io.write(tmp_path / "a.ome.tif", np.zeros((4, 4), np.uint8), provenance=record)
