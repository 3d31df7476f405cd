"""The table of file formats (napari_sr.io.formats): every entry does what it declares,
and napari.yaml lists the endings the table gives napari."""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from napari_sr import io
from napari_sr.image import Image
from napari_sr.io import formats
from napari_sr.io.formats import FORMATS, get_format

REPO = Path(__file__).resolve().parents[1]
WRITABLE = [fmt for fmt in FORMATS if fmt.write is not None]


def _sample(fmt, dtype, rng) -> Image:
    """A small image of ``dtype`` that ``fmt`` holds, with every kind of metadata."""
    axes = "YX" if fmt.name == "PNG" else "ZYX"  # PNG holds one plane
    shape = (5, 7) if axes == "YX" else (3, 5, 7)
    if dtype == np.bool_:
        data = rng.random(shape) > 0.5
    elif np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        data = rng.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)
    else:
        data = (rng.standard_normal(shape) * 1e3).astype(dtype)
    sizes = {"Y": 0.25, "X": 0.125, **({"Z": 2.0} if "Z" in axes else {})}
    return Image(
        data, axes, pixel_size=sizes, unit=dict.fromkeys(sizes, "µm"),
        origin={"Y": 1.5, "X": -0.5}, metadata={"provenance": {"method": "test", "n": 3}},
    )  # fmt: skip


@pytest.mark.parametrize(
    ("fmt", "dtype"),
    [(f, t) for f in WRITABLE for t in f.dtypes],
    ids=lambda v: getattr(v, "name", v),
)
def test_every_writer_is_read_back_with_its_declared_metadata(tmp_path, rng, fmt, dtype):
    image = _sample(fmt, np.dtype(dtype).type, rng)
    path = io.write(tmp_path / f"x{fmt.extensions[0]}", image)
    back = io.read(path)
    assert back.dtype == np.dtype(dtype)  # stored as it is
    np.testing.assert_array_equal(back.data, image.data)
    assert io.probe(path).format == fmt.name
    assert set(fmt.keeps) <= set(formats.METADATA)
    for field in fmt.keeps:
        if field == "provenance":
            kept = {k: back.metadata["provenance"][k] for k in ("method", "n")}
            assert kept == image.metadata["provenance"]
        elif field == "axes":
            assert back.axes == image.axes
        else:
            assert getattr(back, field) == pytest.approx(getattr(image, field)), field


@pytest.mark.parametrize("fmt", WRITABLE, ids=lambda f: f.name)
def test_every_ending_of_a_writable_format_chooses_it(tmp_path, fmt):
    for ending in fmt.extensions:
        for name in (f"a{ending}", f"a{ending.upper()}"):
            assert io.output_format(name) == fmt.output_name
            assert io.WRITE_FORMATS[ending] == fmt.output_name
            assert io.check_output_path(tmp_path / name) == tmp_path / name
    assert fmt.holds and fmt.hint in formats.output_help()


def test_a_read_only_format_is_refused_for_writing_with_the_choices(tmp_path):
    jpeg = get_format("JPEG")
    assert io.output_format(f"a{jpeg.extensions[0]}") is None
    expected = (
        r"writes OME-TIFF, OME-Zarr, NIfTI or PNG, so the name must end in "
        r"\.ome\.tif \(or \.tif/\.tiff\), \.ome\.zarr, \.nii\.gz \(or \.nii\) or \.png"
    )
    with pytest.raises(ValueError, match=expected):
        io.write(tmp_path / f"a{jpeg.extensions[0]}", np.zeros((4, 4), np.uint8))


@pytest.mark.parametrize("fmt", [f for f in FORMATS if not f.folder], ids=lambda f: f.name)
def test_every_format_is_recognised_by_its_first_bytes(tmp_path, fmt):
    path = tmp_path / f"picture{fmt.extensions[-1]}"
    if fmt.write is not None:
        io.write(path, np.arange(64, dtype=np.uint8).reshape(8, 8))
    elif fmt.name == "DICOM":  # written by a scanner
        pytest.importorskip("pydicom")
        from _dicom import new_series, write_slice

        write_slice(path, np.arange(64, dtype=np.uint8).reshape(8, 8), series=new_series())
    else:  # written by another program
        PILImage.fromarray(np.arange(64, dtype=np.uint8).reshape(8, 8)).save(path, fmt.name)
    head = path.read_bytes()[: formats.SNIFF_BYTES]
    assert formats.format_of_header(head) is fmt
    assert [f.name for f in FORMATS if f.matches(head)] == [fmt.name]  # no other claims it
    info = io.probe(path)
    assert (info.format, info.shape, info.axes) == (fmt.name, (8, 8), "YX")
    assert io.read(path).metadata["format"].endswith(fmt.name)  # OME-TIFF for TIFF
    # the content decides, not the name
    other = tmp_path / "misnamed.dat"
    other.write_bytes(path.read_bytes())
    assert io.probe(other).format == fmt.name


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.name)
def test_every_format_has_what_it_requires(fmt):
    assert fmt.missing() is None
    assert fmt.extensions and all(e == e.lower() and e.startswith(".") for e in fmt.extensions)
    assert fmt is get_format(fmt.name) is get_format(fmt.output_name.lower())


def test_a_missing_requirement_is_named_with_how_to_install_it(tmp_path):
    path = io.write(tmp_path / "a.png", np.zeros((4, 4), np.uint8))
    png = get_format("PNG")
    lacking = dataclasses.replace(png, requires=("no_such_module_for_png",))
    assert lacking.missing() == "no_such_module_for_png"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(formats, "FORMATS", tuple(lacking if f is png else f for f in FORMATS))
        needs = r"PNG files need no_such_module_for_png \(pip install no_such_module_for_png\)"
        with pytest.raises(ValueError, match=needs):
            io.read(path)


def test_unknown_format_names_the_known_ones():
    known = "unknown file format 'GIF'; napari-sr knows TIFF, OME-Zarr, NIfTI, DICOM, PNG, JPEG"
    with pytest.raises(ValueError, match=known):
        get_format("GIF")


def test_what_the_table_says_in_words():
    assert formats.readable_text() == "TIFF, OME-TIFF, OME-Zarr, NIfTI, DICOM, PNG and JPEG"
    assert formats.readable_text("or") == "TIFF, OME-TIFF, OME-Zarr, NIfTI, DICOM, PNG or JPEG"
    assert formats.writable_text() == (
        "OME-TIFF, OME-Zarr, NIfTI or PNG",
        ".ome.tif (or .tif/.tiff), .ome.zarr, .nii.gz (or .nii) or .png",
    )
    endings = (".tif", ".tiff", ".nii.gz", ".nii", ".dcm", ".png", ".jpg", ".jpeg")
    assert formats.read_suffixes() == endings
    assert formats.strip_extension("Cells.OME.TIF") == "Cells"
    assert formats.strip_extension("a.tiff") == "a"
    assert formats.strip_extension("notes.txt") == "notes.txt"
    assert formats.strip_extension(".tif") == ".tif"  # a name that is only an ending stays


def test_a_file_of_no_format_lists_what_napari_sr_reads(tmp_path):
    (tmp_path / "a.tif").write_bytes(b"plain text, not an image")
    reads = "it reads TIFF, OME-TIFF, OME-Zarr, NIfTI, DICOM, PNG and JPEG files$"
    with pytest.raises(ValueError, match=reads):
        io.read(tmp_path / "a.tif")
    (tmp_path / "b.tif").write_bytes(b"GIF89a" + bytes(20))
    reads = "is a GIF file.*it reads TIFF, OME-TIFF, OME-Zarr, NIfTI, DICOM, PNG and JPEG"
    with pytest.raises(ValueError, match=reads):
        io.read(tmp_path / "b.tif")


def test_napari_yaml_lists_the_tables_endings():
    """napari.yaml is static; the table is the source, this test keeps them together."""
    yaml = pytest.importorskip("yaml")
    manifest = yaml.safe_load((REPO / "napari.yaml").read_text(encoding="utf-8"))
    (reader,) = manifest["contributions"]["readers"]
    (writer,) = manifest["contributions"]["writers"]
    assert tuple(reader["filename_patterns"]) == formats.napari_reader_patterns()
    assert tuple(writer["filename_extensions"]) == formats.napari_writer_extensions()
    assert formats.napari_reader_patterns() == (
        "*.tif",
        "*.tiff",
        "*.zarr",
        "*.nii.gz",
        "*.nii",
        "*.dcm",
        "*.TIF",
        "*.TIFF",
        "*.ZARR",
        "*.NII.GZ",
        "*.NII",
        "*.DCM",
    )
    assert reader["accepts_directories"] == any(f.folder for f in FORMATS if f.napari_reader)


@pytest.mark.parametrize("name", ["a.png", "b.tif"])
def test_metadata_warnings_point_at_the_caller(tmp_path, name):
    """Each reader warns about a pixel size it ignores on the line that called io.read."""
    path = tmp_path / name
    if name.endswith(".png"):
        from PIL import PngImagePlugin

        info = PngImagePlugin.PngInfo()
        info.add_itxt(io.PROVENANCE_KEY, '{"napari-sr": {"geometry": {"pixel_size": {"Y": -1}}}}')
        PILImage.fromarray(np.zeros((4, 4), np.uint8)).save(path, pnginfo=info)
    else:
        import tifffile

        tifffile.imwrite(path, np.zeros((3, 4, 4), np.uint8), imagej=True, resolution=(2, 2),
                         metadata={"axes": "ZYX", "spacing": -2.0, "unit": "micron"})  # fmt: skip
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        io.read(path)
    (warning,) = [w for w in caught if issubclass(w.category, io.MetadataWarning)]
    assert warning.filename == __file__


def test_a_folder_format_plugs_in_by_its_ending(tmp_path, monkeypatch):
    """How OME-Zarr will plug in: a folder whose name has the format's ending."""
    stored = Image(np.arange(12, dtype=np.uint16).reshape(3, 4), "YX")

    def read_folder(path):
        return stored.replace(metadata={"path": str(path), "format": "FOLDER"})

    def probe_folder(path):
        return io.FileInfo("FOLDER", stored.shape, stored.dtype, stored.axes)

    folder_format = formats.FileFormat(
        name="FOLDER", extensions=(".fold",), magic=(), read=read_folder, probe=probe_folder,
        folder=True,
    )  # fmt: skip
    monkeypatch.setattr(formats, "FORMATS", (*FORMATS, folder_format))
    (tmp_path / "scan.fold").mkdir()
    (tmp_path / "plain").mkdir()
    image = io.read(tmp_path / "scan.fold")
    np.testing.assert_array_equal(image.data, stored.data)
    assert io.probe(tmp_path / "scan.fold").format == "FOLDER"
    with pytest.raises(ValueError, match="is a folder, not an image file"):
        io.read(tmp_path / "plain")
    assert formats.format_for_name(tmp_path / "scan.fold", folder=False) is None  # not a file
