"""The file formats napari-sr reads and writes: one table, asked by everything.

:func:`napari_sr.io.read` recognises a file by its first bytes (``magic``) and
:func:`napari_sr.io.write` picks the format from the output name's ending (``extensions``);
the CLI's help texts, its output checks and the napari reader and writer (and, through a
test, the patterns in ``napari.yaml``) all come from :data:`FORMATS`.

Adding a format
---------------
Write its reader, probe and (optionally) writer with the signatures of :class:`FileFormat`
in a module beside this one (``io/tiff.py`` and ``io/pillow.py`` are the examples), add one
:class:`FileFormat` to :data:`FORMATS`, add it to the round trip of
``tests/test_io_formats.py``, and, if napari should open or save it through napari-sr, set
``napari_reader``/``napari_writer`` and list its patterns in ``napari.yaml`` (a test compares
them). A format stored as a folder (OME-Zarr) sets ``folder=True``: folders are recognised
by their name's ending.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..image import Image
from ._common import FileInfo
from .dicom import MAGIC as DICOM_MAGIC
from .dicom import probe_dicom, read_dicom
from .nifti import MAGIC as NIFTI_MAGIC
from .nifti import WRITE_TYPES as NIFTI_TYPES
from .nifti import probe_nifti, read_nifti, write_nifti
from .omezarr import probe_ome_zarr, read_ome_zarr, write_ome_zarr
from .pillow import JPEG_MAGIC, PNG_MAGIC, probe_jpeg, probe_png, read_jpeg, read_png, write_png
from .tiff import MAGIC as TIFF_MAGIC
from .tiff import probe_tiff, read_tiff, write_tiff

__all__ = [
    "FORMATS",
    "FileFormat",
    "format_for_name",
    "format_of_gzip",
    "format_of_header",
    "get_format",
    "napari_reader_patterns",
    "napari_writer_extensions",
    "output_help",
    "read_suffixes",
    "readable_text",
    "strip_extension",
    "unsupported_format",
    "writable_text",
]

Reader = Callable[[Path], Image]
"""``read(path) -> Image``: the pixels as stored, ``axes``, pixel sizes, units and origin
the file records, ``metadata`` with ``"path"``, ``"format"`` and, for files napari-sr
wrote, ``"provenance"``. Raises ValueError for damaged files (napari_sr.io checks that the
path is a readable regular file first)."""
Prober = Callable[[Path], FileInfo]
"""``probe(path) -> FileInfo``: what read() would return, checked without decoding pixels."""
Writer = Callable[..., Path]
"""``write(path, image, record, *, overwrite, compression) -> Path``: save ``image`` (pixel
types already checked by napari_sr.io.write) with ``record``, napari-sr's provenance dict,
atomically (:func:`napari_sr.utils.atomic.atomic_write`); ``compression`` is one of
napari_sr.io.COMPRESSIONS as tifffile names it (None: uncompressed), for formats that
compress."""

METADATA = ("axes", "pixel_size", "unit", "origin", "provenance")
"""What a format may keep of an :class:`~napari_sr.image.Image` through a write and read."""


@dataclass(frozen=True)
class FileFormat:
    """One file format of :data:`FORMATS`.

    Attributes
    ----------
    name : str
        Short name, also :attr:`FileInfo.format` of its files: ``"TIFF"``.
    extensions : tuple of str
        Lower-case name endings (matched in any case), the recommended one first.
    magic : tuple of (int, bytes)
        ``(offset, bytes)`` pairs; a file whose bytes at ``offset`` are ``bytes`` is of this
        format (any pair suffices).
    read : callable
        The reader, ``read(path) -> Image`` (see :data:`Reader`).
    probe : callable
        ``probe(path) -> FileInfo`` (see :data:`Prober`).
    write : callable or None
        The writer (see :data:`Writer`); None for formats napari-sr only reads.
    written_as : str
        What the writer makes, if not ``name``: TIFF files are written as ``"OME-TIFF"``.
    extension_hint : str
        How messages spell the endings (default: all of them, joined by ``/``).
    holds : str
        What the writer holds, in words, for help texts.
    keeps : tuple of str
        Which of :data:`METADATA` a write then read keeps.
    dtypes : tuple of str
        Pixel types (numpy names) the writer stores as they are.
    requires : tuple of str
        Modules the reader and writer need (importable names).
    optional : str
        What optional packages add, in words (``""``: none).
    folder : bool
        Stored as a folder rather than a file.
    lazy : bool
        The reader takes ``lazy=`` (None: lazy above
        :func:`~napari_sr.io._common.lazy_threshold`) and ``level=`` (a resolution level of
        a multiscale file), and can return dask data.
    napari_reader, napari_writer : bool
        napari opens (saves) this format through napari-sr's reader (writer).
    gzipped : bool
        Files may be gzip-compressed as a whole (``.nii.gz``): their decompressed first
        bytes are matched against ``magic``.
    """

    name: str
    extensions: tuple[str, ...]
    magic: tuple[tuple[int, bytes], ...]
    read: Reader
    probe: Prober
    write: Writer | None = None
    written_as: str = ""
    extension_hint: str = ""
    holds: str = ""
    keeps: tuple[str, ...] = ()
    dtypes: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()
    optional: str = ""
    folder: bool = False
    lazy: bool = False
    napari_reader: bool = False
    napari_writer: bool = False
    gzipped: bool = False

    @property
    def output_name(self) -> str:
        """What :func:`napari_sr.io.write` writes: ``written_as`` or ``name``."""
        return self.written_as or self.name

    @property
    def hint(self) -> str:
        """The endings as messages spell them."""
        return self.extension_hint or "/".join(self.extensions)

    def matches(self, head: bytes) -> bool:
        """Whether a file starting with ``head`` is of this format."""
        return any(head[offset : offset + len(m)] == m for offset, m in self.magic)

    def missing(self) -> str | None:
        """The modules this format needs that are not installed, in words; None if none."""
        absent = [m for m in self.requires if importlib.util.find_spec(m) is None]
        return ", ".join(absent) or None


_TIFF_TYPES = ("uint8", "uint16", "uint32", "int8", "int16", "int32", "float32", "float64",
               "bool")  # fmt: skip

FORMATS: tuple[FileFormat, ...] = (
    FileFormat(
        name="TIFF",
        extensions=(".ome.tif", ".ome.tiff", ".tif", ".tiff"),
        magic=tuple((0, m) for m in TIFF_MAGIC),
        read=read_tiff,
        probe=probe_tiff,
        write=write_tiff,
        written_as="OME-TIFF",
        extension_hint=".ome.tif (or .tif/.tiff)",
        holds="any image",
        keeps=METADATA,
        dtypes=_TIFF_TYPES,
        requires=("tifffile",),
        optional="imagecodecs: zstd compression, and reading JPEG 2000, LZW-zstd and other codecs",
        lazy=True,
        napari_reader=True,
        napari_writer=True,
    ),
    FileFormat(
        name="OME-Zarr",
        extensions=(".ome.zarr", ".zarr"),
        magic=(),
        read=read_ome_zarr,
        probe=probe_ome_zarr,
        write=write_ome_zarr,
        extension_hint=".ome.zarr",
        holds="any image, in chunks; for data larger than memory",
        keeps=METADATA,
        dtypes=_TIFF_TYPES,
        requires=("zarr", "dask", "ome_zarr"),
        optional="",
        folder=True,
        lazy=True,
        napari_reader=True,
    ),
    FileFormat(
        name="NIfTI",
        extensions=(".nii.gz", ".nii"),
        magic=NIFTI_MAGIC,
        read=read_nifti,
        probe=probe_nifti,
        write=write_nifti,
        extension_hint=".nii.gz (or .nii)",
        holds="a volume (x, y, z, time, channels) placed in the world by its affine",
        keeps=("axes", "pixel_size", "unit", "provenance"),
        dtypes=NIFTI_TYPES,
        requires=("nibabel",),
        lazy=True,
        gzipped=True,
        napari_reader=True,
        napari_writer=True,
    ),
    FileFormat(
        name="DICOM",
        extensions=(".dcm",),
        magic=DICOM_MAGIC,
        read=read_dicom,
        probe=probe_dicom,
        requires=("pydicom",),
        optional="pylibjpeg or gdcm: compressed (JPEG, JPEG 2000) pixel data",
        napari_reader=True,
    ),
    FileFormat(
        name="PNG",
        extensions=(".png",),
        magic=((0, PNG_MAGIC),),
        read=read_png,
        probe=probe_png,
        write=write_png,
        holds="a 2-D 8/16-bit image",
        keeps=METADATA,
        dtypes=("uint8", "uint16", "bool"),
        requires=("PIL",),
        optional="opencv-python-headless: all 16 bits of 16-bit colour PNGs",
    ),
    FileFormat(
        name="JPEG",
        extensions=(".jpg", ".jpeg"),
        magic=((0, JPEG_MAGIC),),
        read=read_jpeg,
        probe=probe_jpeg,
        requires=("PIL",),
    ),
)
"""Every format napari-sr reads or writes, in the order messages list them."""


def get_format(name: str) -> FileFormat:
    """The format called ``name`` (as :attr:`FileFormat.name` or ``written_as``, any case).

    Raises
    ------
    ValueError
        If there is none; the message names those there are.
    """
    if isinstance(name, str):
        for fmt in FORMATS:
            if name.strip().lower() in (fmt.name.lower(), fmt.output_name.lower()):
                return fmt
    known = ", ".join(fmt.name for fmt in FORMATS)
    raise ValueError(f"unknown file format {name!r}; napari-sr knows {known}")


def format_of_header(head: bytes) -> FileFormat | None:
    """The format a file starting with ``head`` is in (None: none napari-sr reads)."""
    return next((fmt for fmt in FORMATS if not fmt.folder and fmt.matches(head)), None)


def format_of_gzip(path: Path, head: bytes) -> FileFormat | None:
    """The format of a gzip-compressed file (``.nii.gz``) from its decompressed first bytes,
    among the formats that are read compressed (:attr:`FileFormat.gzipped`); None if
    ``head`` is not gzip's or the content is none of them."""
    if head[:2] != GZIP_MAGIC or not any(fmt.gzipped for fmt in FORMATS):
        return None
    import gzip

    try:
        with gzip.open(path, "rb") as fh:
            inner = fh.read(SNIFF_BYTES)
    except (OSError, EOFError):
        return None  # a damaged gzip file: named as gzip by the caller
    return next((fmt for fmt in FORMATS if fmt.gzipped and fmt.matches(inner)), None)


def format_for_name(
    path: str | os.PathLike, *, writable: bool = False, folder: bool | None = None
) -> FileFormat | None:
    """The format whose ending ``path``'s name has (the longest one that fits, any case):
    among the formats with a writer if ``writable``, among folder formats if ``folder`` is
    True, file formats if False (None: either). None if there is none."""
    name = Path(path).name.lower()
    best, length = None, 0
    for fmt in FORMATS:
        if (writable and fmt.write is None) or (folder is not None and fmt.folder != folder):
            continue
        for ending in fmt.extensions:
            if name.endswith(ending) and len(ending) > length:
                best, length = fmt, len(ending)
    return best


def strip_extension(name: str) -> str:
    """``name`` without the ending of any format (``cells.ome.tif`` → ``cells``); as it is
    when it has none."""
    lower = name.lower()
    endings = sorted((e for fmt in FORMATS for e in fmt.extensions), key=len, reverse=True)
    for ending in endings:
        if lower.endswith(ending) and len(name) > len(ending):
            return name[: -len(ending)]
    return name


def read_suffixes() -> tuple[str, ...]:
    """The endings of the files napari-sr reads, without those another one covers
    (``.ome.tif`` ends in ``.tif``): ``('.tif', '.tiff', '.png', '.jpg', '.jpeg')``."""
    return _shortest(e for fmt in FORMATS if not fmt.folder for e in fmt.extensions)


def napari_reader_patterns() -> tuple[str, ...]:
    """napari's ``filename_patterns`` of napari-sr's reader: ``*<ending>`` for every
    napari-read ending, in lower then upper case (napari matches them case-sensitively)."""
    endings = _shortest(e for fmt in FORMATS if fmt.napari_reader for e in fmt.extensions)
    return tuple(f"*{e}" for e in endings) + tuple(f"*{e.upper()}" for e in endings)


def napari_writer_extensions() -> tuple[str, ...]:
    """napari's ``filename_extensions`` of napari-sr's writer (every ending of the formats
    napari saves through it)."""
    return tuple(e for fmt in FORMATS if fmt.napari_writer for e in fmt.extensions)


def readable_text(conjunction: str = "and") -> str:
    """The formats napari-sr reads, in words: ``'TIFF, OME-TIFF, PNG and JPEG'``."""
    names: list[str] = []
    for fmt in FORMATS:
        names += [fmt.name] + ([fmt.written_as] if fmt.written_as else [])
    return _join(names, conjunction)


def writable_text() -> tuple[str, str]:
    """The formats :func:`napari_sr.io.write` writes and the endings that choose them, for
    messages: ``('OME-TIFF, OME-Zarr or PNG', '.ome.tif (or .tif/.tiff), .ome.zarr or .png')``."""
    writable = [fmt for fmt in FORMATS if fmt.write is not None]
    return (
        _join([fmt.output_name for fmt in writable], "or"),
        _join([fmt.hint for fmt in writable], "or"),
    )


def output_help() -> str:
    """The help text of an output file argument: each ending and what it writes."""
    parts = [
        f"{fmt.hint} for {fmt.output_name} ({fmt.holds})" if fmt.holds
        else f"{fmt.hint} for {fmt.output_name}"
        for fmt in FORMATS
        if fmt.write is not None
    ]  # fmt: skip
    return "output file, in the format its name ends with: " + "; ".join(parts)


def unsupported_format(head: bytes) -> str | None:
    """The name of a well-known format napari-sr does not read (GIF, HDF5, gzip...), from a
    file's first bytes; None if it is none of them."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    for offset, magic, name in _UNSUPPORTED:
        if head[offset : offset + len(magic)] == magic:
            if name == "BMP" and head[6:10] != bytes(4):
                continue  # text that happens to start with "BM"
            return name
    return None


SNIFF_BYTES = 352
GZIP_MAGIC = b"\x1f\x8b"
"""How many first bytes :func:`format_of_header` and :func:`unsupported_format` look at."""
_UNSUPPORTED = (
    (0, b"GIF8", "GIF"),
    (0, b"BM", "BMP"),  # with reserved zeros at 6-9, checked below
    (0, b"\x00\x00\x00\x0cjP  ", "JPEG 2000"),
    (0, b"\xffO\xffQ", "JPEG 2000"),
    (0, b"\x89HDF\r\n\x1a\n", "HDF5"),
    (0, b"\x93NUMPY", "NumPy .npy"),
    (0, b"PK\x03\x04", "zip"),
    (0, b"\x1f\x8b\x08", "gzip"),
    (0, b"BZh", "bzip2"),
    (0, b"\xfd7zXZ\x00", "xz"),
    (0, b"(\xb5/\xfd", "zstd"),
    (0, b"ZISRAWFILE", "Zeiss CZI"),
    (0, b"%PDF", "PDF"),
    (128, b"DICM", "DICOM"),
    (344, b"n+1\x00", "NIfTI"),
    (344, b"ni1\x00", "NIfTI"),
)
"""Formats recognised only to say what to do with them (a format of :data:`FORMATS` is
recognised first, so a line here may stay when its format is added there)."""


def _shortest(endings: Any) -> tuple[str, ...]:
    """The endings, in order, without those that end in another one of them."""
    endings = list(dict.fromkeys(endings))
    return tuple(e for e in endings if not any(e != f and e.endswith(f) for f in endings))


def _join(words: list[str], conjunction: str) -> str:
    """``'a, b and c'``."""
    if len(words) < 2:
        return "".join(words)
    return f"{', '.join(words[:-1])} {conjunction} {words[-1]}"
