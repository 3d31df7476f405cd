"""Reading and writing images with their axes and physical pixel sizes.

:func:`read` opens TIFF and OME-TIFF (through tifffile), PNG and JPEG (through Pillow),
choosing the reader by the file's first bytes, not its name. Geometry comes from OME-XML
(``PhysicalSizeX/Y/Z`` and their units), from ImageJ metadata (x and y from the resolution
tags, z from ``spacing``, the ``unit`` entry), or from the resolution tags of a plain TIFF
when they are in centimetres. Resolution in inches is taken as a print setting (72 dpi and the
like) and ignored. A pixel size that is not a positive finite length in a known unit is
ignored with a :class:`MetadataWarning`; the pixels are still read.

:func:`write` saves OME-TIFF (zlib-compressed by default) or PNG, as the file name's
extension says, with axes, pixel sizes and a provenance note (JSON in the OME
``Image/Description``, or a PNG ``iTXt`` chunk), atomically, and refuses to overwrite unless
asked.

:func:`probe` checks, without decoding pixels, that :func:`read` can read a file.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import math
import os
import stat
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ._version import __version__
from .axes import AXIS_LETTERS, SPATIAL_AXES, default_axes, is_rgb, validate_axes
from .image import Image, normalize_unit, to_micrometres
from .utils.atomic import atomic_write, check_target

__all__ = [
    "COMPRESSIONS",
    "DEFAULT_COMPRESSION",
    "WRITE_FORMATS",
    "FileInfo",
    "MetadataWarning",
    "check_output_path",
    "probe",
    "read",
    "write",
]

PROVENANCE_KEY = "napari-sr"
"""Key of napari-sr's provenance record inside the OME Image Description JSON (and the
name of the PNG text chunk that holds it)."""

WRITE_FORMATS = {".ome.tif": "OME-TIFF", ".ome.tiff": "OME-TIFF", ".tif": "OME-TIFF",
                 ".tiff": "OME-TIFF", ".png": "PNG"}  # fmt: skip
"""Output file name endings (any case) and the format :func:`write` writes for each."""

COMPRESSIONS = ("zlib", "zstd", "none")
"""Lossless TIFF compressions :func:`write` offers (``None`` means ``"none"``)."""

DEFAULT_COMPRESSION = "zlib"
"""Deflate at level 1 with horizontal differencing for integer pixels: a x2 upscaled RGB
retina (2822 x 2822 x 3, uint8) takes 5.8 MB instead of 23.9 MB for about 0.7 s more, and
every TIFF reader (libtiff, Fiji/Bio-Formats, ImageJ, tifffile) reads it."""

MAX_AXES = len(AXIS_LETTERS)

_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_JPEG_MAGIC = b"\xff\xd8\xff"
_RESOLUTION_CENTIMETER = 3
_ZSTD = 50000  # TIFF compression code
_SIZE_RANGE_UM = (1e-6, 1e9)
"""Pixel sizes napari-sr believes, in µm: from a picometre (electron microscopy is above
that) to a kilometre. Anything outside is a broken field, not a measurement."""
_UNCALIBRATED = {"pixel", "pixels", "reference frame", ""}
_TIFF_DTYPES = {"u1", "u2", "u4", "i1", "i2", "i4", "f4", "f8", "b1"}
"""Pixel types OME-TIFF holds as they are (``b1`` is OME's ``bit``)."""


class MetadataWarning(UserWarning):
    """A file's metadata had a field napari-sr could not use (it was ignored)."""


@dataclass(frozen=True)
class FileInfo:
    """What :func:`probe` learns about an image file without decoding its pixels: shape
    and axes as stored (:func:`read` also restores length-1 axes napari-sr recorded)."""

    format: str
    shape: tuple[int, ...]
    dtype: np.dtype
    axes: str


# ----------------------------------------------------------------------------- reading


def read(path: str | os.PathLike, *, axes: str | None = None) -> Image:
    """Read an image file with its axes and physical pixel sizes.

    Parameters
    ----------
    path : path-like
        A TIFF, OME-TIFF, PNG or JPEG file.
    axes : str, optional
        Override the axes found in the file (or guessed from the shape when it has none).

    Returns
    -------
    Image
        ``data`` as stored (dtype kept), ``axes``, ``pixel_size`` and ``unit`` for the
        spatial axes whose size the file records, ``metadata`` with ``"path"``, ``"format"``
        and, for files napari-sr wrote, ``"provenance"``; ``"note"`` says what was
        ignored or guessed.

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    PermissionError
        If the file may not be read.
    ValueError
        If the path is not a regular file (a folder, a pipe, a device), is not a TIFF, PNG
        or JPEG image, is truncated or corrupt, has more than five axes, needs more memory
        than is available, or ``axes`` does not fit its shape.

    Warns
    -----
    MetadataWarning
        For each pixel size or unit in the file that is not usable (it is ignored).

    Examples
    --------
    >>> img = napari_sr.io.read("stack.ome.tif")  # doctest: +SKIP
    >>> img.axes, img.pixel_size  # doctest: +SKIP
    ('ZYX', {'Z': 0.8, 'Y': 0.2, 'X': 0.2})
    """
    path = Path(path)
    fmt = _sniff(path)
    if fmt == "TIFF":
        image = _read_tiff(path)
    else:
        image = _read_pillow(path, fmt)
    if image.data.size == 0:
        raise ValueError(f"{str(path)!r} holds an empty image of shape {image.data.shape}")
    if axes is not None:
        image = image.with_axes(validate_axes(axes, image.shape))
    return image


def probe(path: str | os.PathLike) -> FileInfo:
    """Check that :func:`read` can read ``path``, without decoding its pixels.

    Opens the file's header and metadata and checks the format, the axes, the pixel
    type and, for TIFF, that the image data lies within the file and its compression can
    be decoded. Cheap even for large files; napari's reader uses it to decline files it
    could not read.

    Returns
    -------
    FileInfo
        Format, shape, dtype and axes of the stored image.

    Raises
    ------
    FileNotFoundError, PermissionError, ValueError
        As :func:`read` would for the problems found this way.
    """
    path = Path(path)
    fmt = _sniff(path)
    if fmt == "TIFF":
        with _captured_log("tifffile") as log, _open_tiff(path, log) as tif:
            series, shape, dtype, axes = _tiff_layout(tif, path, log)
            _check_tiff_data(tif, series, path)
            _check_memory(shape, dtype, path)
        return FileInfo("TIFF", shape, dtype, axes)
    with _pillow_image(path, fmt) as pil:
        shape, dtype = _pillow_layout(pil, path, fmt)
    return FileInfo(fmt, shape, dtype, "YX" if len(shape) == 2 else "YXC")


def _sniff(path: Path) -> str:
    """The file's format from its first bytes, after checking that it is a regular,
    readable, non-empty file (reading a pipe or a device would wait forever)."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"no such file: {str(path)!r}") from None
    except OSError as exc:
        raise ValueError(f"cannot read {str(path)!r}: {exc.strerror or exc}") from exc
    if stat.S_ISDIR(info.st_mode):
        raise ValueError(f"{str(path)!r} is a folder, not an image file; give a file")
    if not stat.S_ISREG(info.st_mode):
        raise ValueError(
            f"{str(path)!r} is {_file_kind(info.st_mode)}, not a regular file; napari-sr "
            "reads image files - save the data to a file and give that"
        )
    try:
        with open(path, "rb") as fh:
            head = fh.read(_SNIFF_BYTES)
    except PermissionError as exc:
        raise PermissionError(
            f"cannot read {str(path)!r}: {exc.strerror or 'Permission denied'}; check the "
            "file's permissions"
        ) from exc
    except OSError as exc:
        raise ValueError(f"cannot read {str(path)!r}: {exc.strerror or exc}") from exc
    if head.startswith(_TIFF_MAGIC):
        return "TIFF"
    if head.startswith(_PNG_MAGIC):
        return "PNG"
    if head.startswith(_JPEG_MAGIC):
        return "JPEG"
    if not head:
        raise ValueError(f"{str(path)!r} is empty (0 bytes), not an image")
    kind = _other_format(head)
    if kind is None:
        raise ValueError(
            f"{str(path)!r} is not an image napari-sr can read; it reads TIFF, OME-TIFF, "
            "PNG and JPEG files"
        )
    if kind in ("gzip", "bzip2", "xz", "zstd"):
        fix = "decompress it first"
    elif kind in ("HDF5", "NumPy .npy", "zip"):
        fix = "save the array as TIFF first, e.g. tifffile.imwrite('image.tif', array)"
    else:
        fix = "convert it to TIFF first (e.g. in Fiji: File > Save As > Tiff...)"
    raise ValueError(
        f"{str(path)!r} is a {kind} file, not an image napari-sr can read; it reads TIFF, "
        f"OME-TIFF, PNG and JPEG files - {fix}"
    )


_SNIFF_BYTES = 352
_OTHER_FORMATS = (
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


def _other_format(head: bytes) -> str | None:
    """The name of a well-known non-image or unsupported format, from its magic bytes."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    for offset, magic, name in _OTHER_FORMATS:
        if head[offset : offset + len(magic)] == magic:
            if name == "BMP" and head[6:10] != bytes(4):
                continue  # text that happens to start with "BM"
            return name
    return None


def _file_kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


# ------------------------------------------------------------------------------- TIFF


@contextlib.contextmanager
def _open_tiff(path: Path, log: _LogCollector) -> Iterator[Any]:
    import tifffile

    try:
        tif = tifffile.TiffFile(path)
    except Exception as exc:  # tifffile raises many types for damaged files
        raise _corrupt(path, "TIFF", exc, log) from exc
    try:
        yield tif
    finally:
        tif.close()


def _tiff_layout(tif: Any, path: Path, log: _LogCollector) -> tuple[Any, tuple, np.dtype, str]:
    """The first series, the shape and dtype read() returns, and its axes."""
    try:
        series = tif.series[0]
        shape, dtype, raw_axes = tuple(int(n) for n in series.shape), series.dtype, series.axes
    except Exception as exc:
        raise _corrupt(path, "TIFF", exc, log) from exc
    if math.prod(shape) == 0:
        raise ValueError(f"{str(path)!r} holds an empty image of shape {shape}")
    _check_dtype_readable(dtype, path)
    axes, shape = _axes_from_tifffile(raw_axes, shape, path)
    return series, shape, dtype, axes


def _read_tiff(path: Path) -> Image:
    notes: list[str] = []
    with _captured_log("tifffile") as log, _open_tiff(path, log) as tif:
        series, shape, dtype, axes = _tiff_layout(tif, path, log)
        _check_tiff_data(tif, series, path)
        _check_memory(shape, dtype, path)
        try:
            if tif.is_ome and tif.ome_metadata:
                sizes, units, provenance = _ome_geometry(tif.ome_metadata, notes)
                fmt = "OME-TIFF"
            elif tif.is_imagej:
                ij = tif.imagej_metadata or {}
                sizes, units = _imagej_geometry(ij, tif.pages.first, notes)
                provenance, fmt = {}, "ImageJ TIFF"
            else:
                sizes, units = _tag_geometry(tif.pages.first, notes)
                provenance, fmt = {}, "TIFF"
        except Exception as exc:  # metadata never costs the pixels
            notes.append(f"its metadata could not be parsed ({_reason(exc)}); pixel sizes "
                         "were ignored")  # fmt: skip
            sizes, units, provenance, fmt = {}, {}, {}, "TIFF"
        try:
            data = series.asarray().reshape(shape)
        except Exception as exc:
            raise _corrupt(path, "TIFF", exc, log) from exc
        n_series = len(tif.series)
    recorded_axes, recorded_shape = provenance.pop("axes", None), provenance.pop("shape", None)
    if (
        isinstance(recorded_axes, str)
        and isinstance(recorded_shape, list)
        and all(isinstance(n, int) for n in recorded_shape)
        and len(recorded_axes) == len(recorded_shape) != data.ndim
        and math.prod(recorded_shape) == data.size
    ):
        with contextlib.suppress(ValueError):  # a record that does not fit is ignored
            axes = validate_axes(recorded_axes, recorded_shape)
            data = data.reshape(recorded_shape)  # restore length-1 axes
    sizes, units = _usable_sizes(sizes, units, axes, path, notes)
    origin = provenance.pop("origin", None)
    origin = _usable_origin(origin, axes)
    metadata: dict[str, Any] = {"path": str(path), "format": fmt}
    if provenance:
        metadata["provenance"] = provenance
    notes = list(log.messages) + notes
    if n_series > 1:
        notes.append(f"the file holds {n_series} image series; the first was read")
    if notes:
        metadata["note"] = "; ".join(notes)
    return Image(data, axes=axes, pixel_size=sizes, unit=units, origin=origin, metadata=metadata)


def _axes_from_tifffile(axes: str, shape: tuple[int, ...], path: Path) -> tuple[str, tuple]:
    """Translate tifffile's axes letters to napari-sr's; guess where they say nothing.

    Files with more than five axes lose their length-1 axes (unknown letters first); if
    that is not enough, they are refused with a message saying how to split them.
    """
    mapped = axes.upper().replace("S", "C")
    if len(mapped) != len(shape):
        mapped = "Q" * len(shape)
    if len(shape) > MAX_AXES:
        order = sorted(range(len(shape)), key=lambda i: mapped[i] in AXIS_LETTERS)
        drop = [i for i in order if shape[i] == 1][: len(shape) - MAX_AXES]
        if len(shape) - len(drop) > MAX_AXES:
            raise ValueError(
                f"cannot read {str(path)!r}: it is a {len(shape)}-D TIFF (axes {axes!r}, "
                f"shape {shape}), and napari-sr handles at most {MAX_AXES} axes "
                f"({AXIS_LETTERS}) - split it into files of at most {MAX_AXES} axes, e.g. one "
                "per position or time point (tifffile.imwrite(name, data[i]) for each i)"
            )
        shape = tuple(n for i, n in enumerate(shape) if i not in drop)
        mapped = "".join(a for i, a in enumerate(mapped) if i not in drop)
    known = set(mapped) <= set(AXIS_LETTERS) and len(set(mapped)) == len(mapped)
    if known and "Y" in mapped and "X" in mapped:
        return mapped, shape
    if len(shape) < 2:
        raise ValueError(
            f"cannot read {str(path)!r}: the TIFF is truncated or corrupt (its data has shape "
            f"{shape}, not an image with rows and columns)"
        )
    return default_axes(shape), shape  # generic letters such as I (sequence) or Q (unknown)


def _check_tiff_data(tif: Any, series: Any, path: Path) -> None:
    """Refuse a TIFF whose image data runs past the end of the file (it was cut short), or
    whose compression cannot be decoded here, before decoding anything."""
    import tifffile

    size = os.fstat(tif.filehandle.fileno()).st_size if _has_fileno(tif) else None
    try:
        pages = [p for p in (series.pages[0], series.pages[-1]) if p is not None]
    except Exception:  # no page list: asarray() will tell
        pages = []
    extents = [(series.dataoffset, series.nbytes)] if _contiguous(series) else []
    for page in pages:
        offsets, counts = getattr(page, "dataoffsets", ()), getattr(page, "databytecounts", ())
        extents += zip(offsets, counts, strict=False)  # a damaged page may lack counts
    end = max((int(o) + int(n) for o, n in extents), default=0)
    if size is not None and end > size:
        raise ValueError(
            f"cannot read {str(path)!r}: the TIFF is truncated or corrupt (its image data "
            f"runs to byte {end} but the file has {size} bytes); copy it again from "
            "its source"
        )
    for page in pages:
        if not hasattr(page, "dataoffsets"):
            continue
        compression = getattr(page, "compression", 1)
        if compression not in (1, None):
            try:
                if compression == _ZSTD and not zstd_available():  # looked up lazily
                    raise ImportError("zstd needs imagecodecs")
                tifffile.TIFF.DECOMPRESSORS[compression]
            except (KeyError, ImportError) as exc:
                raise ValueError(_codec_message(path, compression, exc)) from None
            except Exception:  # unknown to tifffile: asarray() will tell
                pass


def _contiguous(series: Any) -> bool:
    """True if the series is stored in one uncompressed block (tifffile knows where)."""
    try:
        return series.dataoffset is not None and series.nbytes > 0
    except Exception:
        return False


def _has_fileno(tif: Any) -> bool:
    try:
        tif.filehandle.fileno()
    except Exception:
        return False
    return True


def _codec_message(path: Path, compression: Any, exc: BaseException) -> str:
    name = getattr(compression, "name", str(compression))
    if "imagecodecs" in str(exc) or isinstance(exc, ImportError):
        return (
            f"cannot read {str(path)!r}: it is compressed with {name}, which needs the "
            "imagecodecs package - pip install imagecodecs"
        )
    return f"cannot read {str(path)!r}: its compression {name} is not supported ({_reason(exc)})"


def _check_dtype_readable(dtype: np.dtype, path: Path) -> None:
    if np.dtype(dtype).kind not in "biuf":
        raise ValueError(
            f"cannot read {str(path)!r}: its pixels are {np.dtype(dtype).name}, which "
            "napari-sr does not process; it reads integer and real (float) images"
        )


def _check_memory(shape: tuple[int, ...], dtype: np.dtype, path: Path) -> None:
    """Refuse an image that cannot fit in memory before allocating it (a header can claim
    any size; decoding would die in MemoryError or the kernel's OOM killer)."""
    from .utils import memory

    needed = math.prod(shape) * np.dtype(dtype).itemsize
    available = memory.available_memory()
    if available is not None and needed > available:
        raise ValueError(
            f"cannot read {str(path)!r}: its image of shape {shape} ({np.dtype(dtype).name}) "
            f"needs {_human(needed)} of memory but only {_human(available)} is available; "
            "crop or split the file first, or use a machine with more memory"
        )


def _ome_geometry(ome_xml: str, notes: list[str]) -> tuple[dict, dict, dict]:
    root = ET.fromstring(ome_xml)
    image_el = next((el for el in root.iter() if _local(el.tag) == "Image"), None)
    pixels = next((el for el in root.iter() if _local(el.tag) == "Pixels"), None)
    sizes: dict[str, Any] = {}
    units: dict[str, Any] = {}
    if pixels is not None:
        for axis in SPATIAL_AXES:
            value = pixels.get(f"PhysicalSize{axis}")
            if value is not None:
                sizes[axis] = (value, f"PhysicalSize{axis}")
                units[axis] = pixels.get(f"PhysicalSize{axis}Unit", "µm")
    provenance: dict[str, Any] = {}
    if image_el is not None:
        description = next((el for el in image_el if _local(el.tag) == "Description"), None)
        if description is not None and description.text:
            provenance = _parse_provenance(description.text)
    return sizes, units, provenance


def _imagej_geometry(ij: dict, page: Any, notes: list[str]) -> tuple[dict, dict]:
    raw_unit = ij.get("unit")
    unit = normalize_unit(raw_unit) if isinstance(raw_unit, str) else None
    if not unit or unit.lower() in _UNCALIBRATED or unit.lower() in ("inch", "in"):
        return {}, {}  # ImageJ's uncalibrated default, or a print setting
    sizes: dict[str, Any] = {
        a: (v, f"{a.lower()} resolution tag") for a, v in _resolution_sizes(page, 1.0).items()
    }
    if "spacing" in ij:
        sizes["Z"] = (ij["spacing"], "ImageJ spacing")
    return sizes, dict.fromkeys(sizes, raw_unit)


def _tag_geometry(page: Any, notes: list[str]) -> tuple[dict, dict]:
    tag = page.tags.get("ResolutionUnit")
    try:
        if tag is None or int(tag.value) != _RESOLUTION_CENTIMETER:
            return {}, {}
    except (TypeError, ValueError):
        return {}, {}
    sizes = {
        a: (v, f"{a.lower()} resolution tag") for a, v in _resolution_sizes(page, 1e4).items()
    }  # pixels per cm -> µm per pixel
    return sizes, dict.fromkeys(sizes, "µm")


def _resolution_sizes(page: Any, per_unit: float) -> dict[str, Any]:
    """Pixel sizes from the X/YResolution tags (pixels per unit), times ``per_unit``;
    tags that are not a positive fraction give their raw value (rejected later)."""
    sizes: dict[str, Any] = {}
    for axis, name in (("X", "XResolution"), ("Y", "YResolution")):
        tag = page.tags.get(name)
        if tag is None:
            continue
        try:
            num, den = (float(v) for v in tag.value)
        except (TypeError, ValueError):
            sizes[axis] = repr(tag.value)
            continue
        if num == 0 and den in (0, 1):
            continue  # "not set", as some writers say it
        sizes[axis] = per_unit * den / num if num > 0 and den > 0 else f"{num:g}/{den:g}"
    return sizes


def _usable_sizes(
    raw: dict[str, Any], units: dict[str, Any], axes: str, path: Path, notes: list[str]
) -> tuple[dict[str, float], dict[str, str]]:
    """Keep the pixel sizes that are positive finite lengths in a known unit, for axes the
    image has; warn about each other one (the image is still read)."""
    sizes: dict[str, float] = {}
    kept_units: dict[str, str] = {}
    for axis, entry in raw.items():
        value, field = entry if isinstance(entry, tuple) else (entry, f"pixel size {axis}")
        raw_unit = units.get(axis, "µm")
        unit = normalize_unit(raw_unit) if isinstance(raw_unit, str) else None
        if axis not in axes:
            continue
        if unit is not None and unit.lower() in _UNCALIBRATED:
            continue  # the file says "no physical size": nothing to warn about
        problem = None
        try:
            size = float(value)
        except (TypeError, ValueError, OverflowError):
            size, problem = math.nan, "not a number"
        if problem is None and not (math.isfinite(size) and size > 0):
            problem = "not a positive finite length"
        if problem is None:
            try:
                micrometres = to_micrometres(size, unit)
            except ValueError:
                problem = f"its unit {raw_unit!r} is not a length napari-sr knows"
            else:
                low, high = _SIZE_RANGE_UM
                if not low <= micrometres <= high:
                    problem = "outside any plausible pixel size (1 pm to 1 km)"
        if problem is not None:
            message = (
                f"{str(path)!r}: ignored the pixel size of axis {axis} ({field} = {value!r}, "
                f"unit {raw_unit!r}): {problem}; the pixels are read, {axis} without a "
                "physical size - correct the file's metadata (Fiji: Image > Properties) "
                "if it matters"
            )
            warnings.warn(message, MetadataWarning, stacklevel=4)
            notes.append(f"ignored pixel size {axis} = {value!r} ({problem})")
            continue
        sizes[axis] = size
        kept_units[axis] = unit or "µm"
    return sizes, kept_units


def _usable_origin(origin: Any, axes: str) -> dict[str, float]:
    if not isinstance(origin, dict):
        return {}
    kept = {}
    for axis, value in origin.items():
        with contextlib.suppress(TypeError, ValueError, AttributeError):
            number = float(value)
            if str(axis).upper() in axes and math.isfinite(number):
                kept[str(axis).upper()] = number
    return kept


def _parse_provenance(text: str) -> dict[str, Any]:
    try:
        record = json.loads(text)
    except (ValueError, RecursionError):
        return {}
    if isinstance(record, dict) and isinstance(record.get(PROVENANCE_KEY), dict):
        return dict(record[PROVENANCE_KEY])
    return {}


# ------------------------------------------------------------------------------ PNG, JPEG


@contextlib.contextmanager
def _pillow_image(path: Path, fmt: str) -> Iterator[Any]:
    """Open a PNG/JPEG with Pillow, its decompression-bomb guard turned into our error and
    its warning kept off stderr (the size is checked against memory here instead)."""
    from PIL import Image as PILImage

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PILImage.DecompressionBombWarning)
        try:
            pil = PILImage.open(path, formats=[fmt])
        except PILImage.DecompressionBombError:
            raise ValueError(
                f"cannot read {str(path)!r}: the {fmt} declares more pixels than Pillow's "
                f"safety limit of {2 * (PILImage.MAX_IMAGE_PIXELS or 0)} (a guard against "
                "decompression bombs); if the file is genuine, convert it to TIFF, or raise "
                "PIL.Image.MAX_IMAGE_PIXELS in Python"
            ) from None
        except Exception as exc:
            raise _corrupt(path, fmt, exc) from exc
        try:
            yield pil
        finally:
            pil.close()


def _pillow_layout(pil: Any, path: Path, fmt: str) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype of the array :func:`_read_pillow` makes, checking that it fits."""
    width, height = pil.size
    mode = _decoded_mode(pil)
    bands = {"1": 1, "L": 1, "I;16": 1, "I;16B": 1, "I;16L": 1, "I": 1, "F": 1, "LA": 2,
             "RGB": 3, "RGBA": 4}.get(mode)  # fmt: skip
    if bands is None or width == 0 or height == 0:
        raise ValueError(
            f"cannot read {str(path)!r}: its {fmt} pixel mode {pil.mode!r} is not one "
            "napari-sr reads (gray, gray+alpha, RGB, RGBA, palette, CMYK); convert it to TIFF"
        )
    dtype = np.dtype({"1": bool, "I;16": np.uint16, "I;16B": np.uint16, "I;16L": np.uint16,
                      "I": np.int32, "F": np.float32}.get(mode, np.uint8))  # fmt: skip
    shape = (height, width) if bands == 1 else (height, width, bands)
    if fmt == "PNG" and _png_is_16bit_colour(path):
        dtype = np.dtype(np.uint16)
    _check_memory(shape, dtype, path)
    return shape, dtype


def _decoded_mode(pil: Any) -> str:
    if pil.mode == "P":
        return "RGBA" if "transparency" in pil.info else "RGB"
    if pil.mode in ("PA", "RGBa", "La"):
        return "RGBA" if pil.mode != "La" else "LA"
    if pil.mode in ("CMYK", "YCbCr", "LAB", "HSV", "RGBX"):
        return "RGB"
    return pil.mode


def _read_pillow(path: Path, fmt: str) -> Image:
    notes: list[str] = []
    record: dict[str, Any] = {}
    with _pillow_image(path, fmt) as pil:
        shape, _ = _pillow_layout(pil, path, fmt)
        mode = _decoded_mode(pil)
        if fmt == "PNG" and _png_is_16bit_colour(path):
            data = _read_png16_colour(path)
        else:
            try:
                if mode != pil.mode:
                    if pil.mode not in ("P", "PA"):
                        notes.append(f"converted from {pil.mode} to {mode}")
                    data = np.asarray(pil.convert(mode))
                else:
                    data = np.asarray(pil)
            except Exception as exc:
                raise _corrupt(path, fmt, exc) from exc
        if getattr(pil, "n_frames", 1) > 1:
            notes.append(f"the file holds {pil.n_frames} frames; the first was read")
        text = getattr(pil, "text", {}) if fmt == "PNG" else {}
        if isinstance(text.get(PROVENANCE_KEY), str):
            record = _parse_provenance(text[PROVENANCE_KEY])
    if data.ndim not in (2, 3) or data.shape[:2] != shape[:2]:
        raise ValueError(f"{str(path)!r} decodes to an array of shape {data.shape}, not an image")
    if data.dtype.byteorder not in ("=", "|"):
        data = data.astype(data.dtype.newbyteorder("="))
    axes = "YX" if data.ndim == 2 else "YXC"  # a 2D format: gray+alpha, RGB or RGBA samples
    record.pop("axes", None)
    record.pop("shape", None)
    geometry = record.pop("geometry", None)
    sizes, units, origin = {}, {}, {}
    if isinstance(geometry, dict):
        raw_sizes = geometry.get("pixel_size")
        raw_units = geometry.get("unit")
        if isinstance(raw_sizes, dict):
            sizes, units = _usable_sizes(
                {str(a).upper(): v for a, v in raw_sizes.items()},
                {str(a).upper(): u for a, u in (raw_units or {}).items()}
                if isinstance(raw_units, dict) else {},
                axes, path, notes,
            )  # fmt: skip
        origin = _usable_origin(geometry.get("origin"), axes)
    metadata: dict[str, Any] = {"path": str(path), "format": fmt}
    if record:
        metadata["provenance"] = record
    if notes:
        metadata["note"] = "; ".join(notes)
    return Image(data, axes=axes, pixel_size=sizes, unit=units, origin=origin, metadata=metadata)


def _png_is_16bit_colour(path: Path) -> bool:
    """True for 16-bit gray+alpha, RGB and RGBA PNGs, which Pillow decodes to 8 bits."""
    with open(path, "rb") as fh:
        head = fh.read(26)
    return len(head) == 26 and head[24] == 16 and head[25] in (2, 4, 6)


def _read_png16_colour(path: Path) -> np.ndarray:
    if importlib.util.find_spec("cv2") is None:
        raise ValueError(
            f"cannot read {str(path)!r}: it is a 16-bit colour PNG, and Pillow (which "
            "napari-sr reads PNG with) keeps only 8 of its bits - install OpenCV (pip install "
            "opencv-python-headless) to read all 16, or convert the file to TIFF"
        )
    import cv2

    data = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if data is None:
        raise ValueError(f"cannot read {str(path)!r}: the PNG is truncated or corrupt")
    if data.ndim == 3:  # OpenCV orders colours BGR(A)
        data = data[..., [2, 1, 0, 3][: data.shape[2]]] if data.shape[2] in (3, 4) else data
    return np.ascontiguousarray(data)


# ------------------------------------------------------------------------------ helpers


def _corrupt(path: Path, fmt: str, exc: BaseException, log: Any = None) -> ValueError:
    if "imagecodecs" in str(exc) or isinstance(exc, ImportError):
        return ValueError(_codec_message(path, "a codec", exc))
    if isinstance(exc, MemoryError):
        return ValueError(
            f"cannot read {str(path)!r}: not enough memory to decode it; crop or split the "
            "file first, or use a machine with more memory"
        )
    messages = log.messages[:1] if log is not None else []
    reason = "; ".join([_reason(exc), *messages])
    return ValueError(f"cannot read {str(path)!r}: the {fmt} is truncated or corrupt ({reason})")


class _LogCollector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(" ".join(record.getMessage().split()))


@contextlib.contextmanager
def _captured_log(name: str) -> Iterator[_LogCollector]:
    """Collect a library's warnings instead of letting them print: the CLI prints one line
    per error, and a readable file's warnings belong in its metadata."""
    logger = logging.getLogger(name)
    collector = _LogCollector()
    logger.addHandler(collector)
    propagate, logger.propagate = logger.propagate, False
    try:
        yield collector
    finally:
        logger.removeHandler(collector)
        logger.propagate = propagate


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _human(nbytes: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if nbytes < 1024 or unit == "TiB":
            return f"{nbytes:.0f} {unit}" if unit == "bytes" else f"{nbytes:.1f} {unit}"
        nbytes /= 1024
    return f"{nbytes:.1f} TiB"


# ----------------------------------------------------------------------------- writing


def write(
    path: str | os.PathLike,
    image: Image | np.ndarray,
    *,
    axes: str | None = None,
    pixel_size: float | Mapping[str, float] | None = None,
    unit: str = "µm",
    provenance: Mapping[str, Any] | None = None,
    overwrite: bool = False,
    compression: str | None = DEFAULT_COMPRESSION,
) -> Path:
    """Save an image as OME-TIFF or PNG with its axes, pixel sizes and provenance.

    The format follows the file name: ``.ome.tif``, ``.tif``, ``.tiff`` (any case) write
    OME-TIFF, ``.png`` writes PNG.

    Parameters
    ----------
    path : path-like
        Output file, ending in ``.ome.tif`` (recommended), ``.tif``, ``.tiff`` or ``.png``.
    image : Image or numpy.ndarray
        What to save. An :class:`Image` brings its axes, pixel sizes, origin and metadata
        provenance; the keyword arguments below override them.
    axes : str, optional
        Axes of the array (default: the Image's, or guessed from the shape).
    pixel_size : float or dict of str to float, optional
        Physical pixel size: one number for both Y and X, or a per-axis dict such as
        ``{"Z": 0.8, "Y": 0.2, "X": 0.2}``.
    unit : str
        Unit of ``pixel_size`` when given here (default µm): µm, nm, mm, cm, m, ...
    provenance : dict, optional
        JSON-serialisable record of how the image was made (method, scale, source...).
    overwrite : bool
        Replace an existing file. Default False: an existing file is an error.
    compression : {"zlib", "zstd", "none"} or None
        Lossless TIFF compression. ``"zlib"`` (default; deflate, read by every TIFF
        reader), ``"zstd"`` (faster and smaller, needs the imagecodecs package, read by
        tifffile and recent Bio-Formats), ``"none"`` or None (uncompressed, fastest to
        write). PNG is always deflate-compressed; this is ignored there.

    Pixel types: OME-TIFF keeps uint8, uint16, uint32, int8, int16, int32, float32,
    float64 and bool as they are; float16 is written as float32, and int64/uint64 as
    int32/uint32 when every value fits (else an error). PNG keeps 8-bit gray, gray+alpha,
    RGB and RGBA, 16-bit gray, and bool (1-bit). Other types (complex, object, strings,
    records, dates) are refused: convert them first, e.g. ``image.astype(np.float32)``.

    Returns
    -------
    pathlib.Path
        The written file. It appears whole, or not at all if writing fails.

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``overwrite`` is False.
    ValueError
        For a name that is not ``.tif``/``.tiff``/``.png``, an unknown compression, an
        empty array, or pixels the format cannot hold.
    OSError
        When the disk is full (errno ENOSPC; nothing is left behind).
    """
    compression = _check_compression(compression)
    path = check_output_path(path, overwrite=overwrite)
    fmt = output_format(path)
    if not isinstance(image, Image):
        _check_writable_dtype(np.asarray(image).dtype, path, fmt)
        image = Image(np.asarray(image), axes=axes)
    elif axes is not None:
        image = image.with_axes(axes)
    if pixel_size is not None:  # given sizes override, the others stay
        sizes = _pixel_size_dict(pixel_size)
        image = image.replace(
            pixel_size={**image.pixel_size, **sizes},
            unit={**image.unit, **dict.fromkeys(sizes, unit)},
        )
    if image.data.size == 0:
        raise ValueError(f"cannot write an empty image of shape {image.shape}")
    for axis, axis_unit in image.unit.items():
        _check_unit(axis, axis_unit)
    data = _writable_data(image.data, path, fmt)

    if provenance is not None and not isinstance(provenance, Mapping):
        raise TypeError(
            f"provenance must be a dict such as {{'method': 'bicubic'}}, not "
            f"{type(provenance).__name__}"
        )
    record = dict(image.metadata.get("provenance") or {})
    if provenance:
        record.update(provenance)
    if image.origin:
        record["origin"] = image.origin
    record["written_by"] = f"napari-sr {__version__}"
    if fmt == "PNG":
        return _write_png(path, image.replace(data=data), record, overwrite)

    data, file_axes, rgb = _file_layout(image.replace(data=data))
    # TIFF readers drop axes of length 1; the record lets read() restore them
    record["axes"] = file_axes.replace("S", "C")
    record["shape"] = list(data.shape)
    metadata: dict[str, Any] = {
        "axes": file_axes,
        "Description": _record_json(record),
    }
    for axis, size in image.pixel_size.items():
        metadata[f"PhysicalSize{axis}"] = size
        metadata[f"PhysicalSize{axis}Unit"] = image.unit[axis]
    options = _tiff_compression_options(compression, data.dtype)

    def _write(tmp: str) -> None:
        import tifffile

        tifffile.imwrite(
            tmp,
            data,
            ome=True,
            photometric="rgb" if rgb else "minisblack",
            metadata=metadata,
            **options,
        )

    return atomic_write(path, _write, overwrite=overwrite, size_hint=data.nbytes)


def output_format(path: str | os.PathLike) -> str | None:
    """The format :func:`write` writes for ``path`` ("OME-TIFF" or "PNG"), or None."""
    name = Path(path).name.lower()
    for suffix in sorted(WRITE_FORMATS, key=len, reverse=True):
        if name.endswith(suffix):
            return WRITE_FORMATS[suffix]
    return None


def check_output_path(path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Check, before any work, that :func:`write` could create ``path``.

    Raises
    ------
    ValueError
        If the name does not end in ``.ome.tif``, ``.tif``, ``.tiff`` or ``.png``.
    FileExistsError
        If the file exists and ``overwrite`` is False.
    FileNotFoundError
        If its folder does not exist.
    """
    path = Path(path)
    if output_format(path) is None:
        raise ValueError(
            f"cannot write {str(path)!r}: napari-sr writes OME-TIFF or PNG, so the name must "
            "end in .ome.tif (or .tif/.tiff) or .png"
        )
    return check_target(path, overwrite=overwrite)


def _check_compression(compression: Any) -> str | None:
    """The tifffile compression for ``compression`` (None: uncompressed)."""
    if compression is None:
        return None
    if not isinstance(compression, str):
        raise TypeError(
            f"compression must be 'zlib', 'zstd', 'none' or None, not {type(compression).__name__}"
        )
    name = {"deflate": "zlib", "zstandard": "zstd", "": "none"}.get(
        compression.strip().lower(), compression.strip().lower()
    )
    if name not in COMPRESSIONS:
        raise ValueError(
            f"compression {compression!r} is not one napari-sr writes; use 'zlib' (the "
            "default, read everywhere), 'zstd' (needs the imagecodecs package) or 'none'"
        )
    if name == "zstd" and not zstd_available():
        raise ValueError(
            "compression 'zstd' needs the imagecodecs package (pip install imagecodecs); "
            "use 'zlib' instead"
        )
    return None if name == "none" else name


def zstd_available() -> bool:
    """True where tifffile can write zstd: imagecodecs, or Python 3.14's compression.zstd."""
    for module in ("imagecodecs", "compression.zstd"):
        with contextlib.suppress(ImportError, ValueError):
            if importlib.util.find_spec(module) is not None:
                return True
    return False


def _tiff_compression_options(compression: str | None, dtype: np.dtype) -> dict[str, Any]:
    if compression is None:
        return {}
    options: dict[str, Any] = {"compression": compression}
    if compression == "zlib":
        options["compressionargs"] = {"level": 1}  # level 6 is ~4x slower for ~20% less
    if dtype.kind in "ui":
        # differencing along rows: smaller files for smooth images; every reader has it.
        # (The floating-point predictor needs imagecodecs and is less widely read.)
        options["predictor"] = 2
    return options


def _check_unit(axis: str, unit: Any) -> None:
    try:
        to_micrometres(1.0, unit)
    except (ValueError, TypeError, AttributeError):
        raise ValueError(
            f"the unit of axis {axis}, {unit!r}, is not a length napari-sr knows; give pixel "
            "sizes in µm, nm, mm, cm or m"
        ) from None


def _dtype_name(dtype: np.dtype) -> str:
    return {"O": "object (Python objects)", "U": "str (text)", "S": "bytes",
            "V": "structured (records)", "M": "datetime64", "m": "timedelta64"}.get(
        dtype.kind, dtype.name
    )  # fmt: skip


def _check_writable_dtype(dtype: np.dtype, path: Path, fmt: str | None) -> None:
    """Refuse pixel types no format holds, before anything else looks at the array."""
    if dtype.kind in "biuf":
        return
    if dtype.kind == "c":
        fix = "write its magnitude, np.abs(image), or its real part, image.real"
    else:
        fix = "convert it first, e.g. image.astype(np.float32)"
    raise ValueError(
        f"cannot write {str(path)!r}: the image's pixels are of type {_dtype_name(dtype)}, "
        f"which {fmt or 'an image file'} cannot hold; {fix} (OME-TIFF holds uint8, uint16, "
        "uint32, int8, int16, int32, float32, float64 and bool)"
    )


def _writable_data(data: np.ndarray, path: Path, fmt: str) -> np.ndarray:
    """``data`` in a pixel type the format holds, converted only where that loses nothing
    (float16 to float32, 64-bit integers that fit in 32 bits); else a ValueError."""
    _check_writable_dtype(data.dtype, path, fmt)
    if data.dtype.byteorder not in ("=", "|"):
        data = data.astype(data.dtype.newbyteorder("="))
    code = data.dtype.str[1:]
    if code == "f2":
        return data.astype(np.float32)
    if code in ("i8", "u8"):
        narrow = np.dtype(np.int32 if code == "i8" else np.uint32)
        low, high = (int(data.min()), int(data.max())) if data.size else (0, 0)
        limits = np.iinfo(narrow)
        if limits.min <= low and high <= limits.max:
            return data.astype(narrow)
        raise ValueError(
            f"cannot write {str(path)!r}: the image is {data.dtype.name} with values from "
            f"{low} to {high}, and {fmt} holds integers of at most 32 bits; scale the values "
            "or convert them, e.g. image.astype(np.float64)"
        )
    if code not in _TIFF_DTYPES:  # e.g. float128
        raise ValueError(
            f"cannot write {str(path)!r}: {fmt} cannot hold pixels of type {data.dtype.name}; "
            "convert them first, e.g. image.astype(np.float64)"
        )
    return data


def _file_layout(image: Image) -> tuple[np.ndarray, str, bool]:
    """Order the axes as OME-TIFF needs them: Y and X last, or Y X S for RGB samples."""
    axes, data = image.axes, image.data
    rgb = is_rgb(axes, data.shape) and data.dtype in (np.uint8, np.uint16)
    tail = "YXC" if rgb else "YX"
    order = [axes.index(a) for a in axes if a not in tail] + [axes.index(a) for a in tail]
    file_axes = "".join(axes[i] for i in order)
    if rgb:
        file_axes = file_axes[:-1] + "S"
    return np.transpose(data, order), file_axes, rgb


_PNG_MODES = {
    ("b1", 1): "1",
    ("u1", 1): "L",
    ("u2", 1): "I;16",
    ("u1", 2): "LA",
    ("u1", 3): "RGB",
    ("u1", 4): "RGBA",
}


def _write_png(path: Path, image: Image, record: dict[str, Any], overwrite: bool) -> Path:
    """PNG: one plane (Y X), with gray+alpha, RGB or RGBA samples in a last C axis; pixel
    sizes, origin and provenance go in an ``iTXt`` chunk that :func:`read` restores."""
    from PIL import Image as PILImage
    from PIL import PngImagePlugin

    axes, data = image.axes, image.data
    keep = [i for i, a in enumerate(axes) if a in "YX" or data.shape[i] != 1]
    plane_axes = "".join(axes[i] for i in keep)
    data = data.reshape([data.shape[i] for i in keep])
    if plane_axes == "CYX":
        data, plane_axes = np.moveaxis(data, 0, -1), "YXC"
    bands = 1 if plane_axes == "YX" else data.shape[-1] if plane_axes == "YXC" else 0
    mode = _PNG_MODES.get((data.dtype.str[1:], bands))
    if mode is None:
        what = (
            f"{data.dtype.name} pixels" if plane_axes in ("YX", "YXC") and bands <= 4
            else f"axes {axes!r} with shape {image.shape}"
        )  # fmt: skip
        raise ValueError(
            f"cannot write {str(path)!r} as PNG: PNG holds one 2-D plane of 8-bit gray, "
            "gray+alpha, RGB or RGBA, or 16-bit gray, and this image has "
            f"{what}; write .ome.tif to keep it as it is, or convert it (e.g. one plane, "
            "np.clip(plane, 0, 255).astype(np.uint8))"
        )
    geometry = {"pixel_size": image.pixel_size, "unit": image.unit, "origin": image.origin}
    record = {k: v for k, v in record.items() if k != "origin"}
    record["geometry"] = {k: v for k, v in geometry.items() if v}
    info = PngImagePlugin.PngInfo()
    info.add_itxt(PROVENANCE_KEY, _record_json(record))
    pixels = np.ascontiguousarray(data)

    def _write(tmp: str) -> None:
        picture = PILImage.fromarray(pixels)  # the mode follows dtype and bands
        picture.save(tmp, format="PNG", pnginfo=info, compress_level=6)

    return atomic_write(path, _write, overwrite=overwrite, size_hint=pixels.nbytes)


def _pixel_size_dict(pixel_size: float | Mapping[str, float]) -> dict[str, float]:
    try:
        if isinstance(pixel_size, Mapping):
            return {str(k).upper(): float(v) for k, v in pixel_size.items()}
        if isinstance(pixel_size, (str, bytes)):
            raise TypeError
        size = float(pixel_size)
    except (TypeError, ValueError):
        raise ValueError(
            f"pixel_size must be a number (for Y and X) or a dict of numbers such as "
            f"{{'Z': 0.8, 'Y': 0.2, 'X': 0.2}}, not {pixel_size!r}"
        ) from None
    return {"Y": size, "X": size}


def _record_json(record: dict[str, Any]) -> str:
    try:
        return json.dumps({PROVENANCE_KEY: record}, default=_json_default)
    except (ValueError, TypeError, RecursionError) as exc:  # e.g. a record that holds itself
        raise ValueError(
            f"the provenance record cannot be saved as JSON ({_reason(exc)}); give a dict of "
            "plain numbers, strings, lists and dicts"
        ) from None


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (np.ndarray, tuple, set)):
        return list(np.asarray(list(value) if isinstance(value, set) else value).tolist())
    return str(value)
