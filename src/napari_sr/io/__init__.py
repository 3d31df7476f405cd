"""Reading and writing images with their axes and physical pixel sizes.

:func:`read` opens the formats of :data:`~napari_sr.io.formats.FORMATS` (TIFF and
OME-TIFF through tifffile, PNG and JPEG through Pillow), choosing the reader by the file's
first bytes, not its name. Geometry comes from the file's metadata (OME-XML, ImageJ
metadata, TIFF resolution tags in centimetres, napari-sr's PNG text chunk; see
:mod:`napari_sr.io.tiff` and :mod:`napari_sr.io.pillow`). A pixel size that is not a
positive finite length in a known unit is ignored with a :class:`MetadataWarning`; the
pixels are still read.

:func:`write` saves OME-TIFF (zlib-compressed by default) or PNG, as the file name's
extension says, with axes, pixel sizes and a provenance note (JSON in the OME
``Image/Description``, or a PNG ``iTXt`` chunk), atomically, and refuses to overwrite unless
asked.

:func:`probe` checks, without decoding pixels, that :func:`read` can read a file.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .._version import __version__
from ..axes import validate_axes
from ..image import Image, to_micrometres
from ..utils.atomic import check_target
from ..utils.lazy import is_lazy
from . import formats
from ._common import MAX_AXES, PROVENANCE_KEY, FileInfo, MetadataWarning
from .formats import FORMATS, FileFormat, get_format
from .tiff import zstd_available

__all__ = [
    "COMPRESSIONS",
    "DEFAULT_COMPRESSION",
    "FORMATS",
    "MAX_AXES",
    "PROVENANCE_KEY",
    "WRITE_FORMATS",
    "FileFormat",
    "FileInfo",
    "MetadataWarning",
    "check_output_path",
    "get_format",
    "output_format",
    "probe",
    "read",
    "write",
    "zstd_available",
]

WRITE_FORMATS = {e: f.output_name for f in FORMATS if f.write is not None for e in f.extensions}
"""Output file name endings (any case) and the format :func:`write` writes for each."""

COMPRESSIONS = ("zlib", "zstd", "none")
"""Lossless TIFF compressions :func:`write` offers (``None`` means ``"none"``)."""

DEFAULT_COMPRESSION = "zlib"
"""Deflate at level 1 with horizontal differencing for integer pixels: a x2 upscaled RGB
retina (2822 x 2822 x 3, uint8) takes 5.8 MB instead of 23.9 MB for about 0.7 s more, and
every TIFF reader (libtiff, Fiji/Bio-Formats, ImageJ, tifffile) reads it."""

_WRITABLE_TYPES = {np.dtype(t).str[1:] for f in FORMATS if f.write for t in f.dtypes}
"""Pixel types some format holds as they are (``b1`` is bool); others are converted where
that loses nothing, or refused."""


# ----------------------------------------------------------------------------- reading


def read(
    path: str | os.PathLike,
    *,
    axes: str | None = None,
    lazy: bool | None = None,
    level: int = 0,
) -> Image:
    """Read an image file with its axes and physical pixel sizes.

    Parameters
    ----------
    path : path-like
        A file of a format napari-sr reads (:data:`~napari_sr.io.formats.FORMATS`): TIFF,
        OME-TIFF, NIfTI, DICOM, PNG or JPEG; an OME-Zarr folder (NGFF 0.4 or 0.5); or a
        folder of one DICOM series' files.
    axes : str, optional
        Override the axes found in the file (or guessed from the shape when it has none).
    lazy : bool, optional
        TIFF and OME-Zarr: True returns the pixels as a dask array read block by block
        when needed (for data larger than memory; every napari-sr function takes it);
        False reads them whole; None (default) is lazy for images larger than 1 GiB or a
        quarter of the available memory. PNG and JPEG are always read whole.
    level : int
        Resolution level of a multiscale OME-Zarr or pyramidal OME-TIFF: 0 (default) the
        full resolution, 1 the next coarser, ...

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
    path = _dicom_series(Path(path))
    fmt = _sniff(path)
    if fmt.lazy:
        image = fmt.read(path, lazy=lazy, level=level)
    elif level != 0:
        raise ValueError(f"{str(path)!r} is a {fmt.name} file, which has no resolution "
                         f"levels; leave level at 0")  # fmt: skip
    else:
        image = fmt.read(path)
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
    path = _dicom_series(Path(path))
    return _sniff(path).probe(path)


def _dicom_series(path: Path) -> Path:
    """A folder of DICOM files as the first file of its series (which reads the series);
    any other path as it is."""
    if path.is_dir() and formats.format_for_name(path, folder=True) is None:
        from .dicom import series_file

        return series_file(path) or path
    return path


def _sniff(path: Path) -> FileFormat:
    """The file's format from its first bytes, after checking that it is a regular,
    readable, non-empty file (reading a pipe or a device would wait forever)."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"no such file: {str(path)!r}") from None
    except OSError as exc:
        raise ValueError(f"cannot read {str(path)!r}: {exc.strerror or exc}") from exc
    if stat.S_ISDIR(info.st_mode):
        fmt = formats.format_for_name(path, folder=True)
        if fmt is not None:
            return _available(fmt, path)
        raise ValueError(f"{str(path)!r} is a folder, not an image file; give a file")
    if not stat.S_ISREG(info.st_mode):
        raise ValueError(
            f"{str(path)!r} is {_file_kind(info.st_mode)}, not a regular file; napari-sr "
            "reads image files - save the data to a file and give that"
        )
    try:
        with open(path, "rb") as fh:
            head = fh.read(formats.SNIFF_BYTES)
    except PermissionError as exc:
        raise PermissionError(
            f"cannot read {str(path)!r}: {exc.strerror or 'Permission denied'}; check the "
            "file's permissions"
        ) from exc
    except OSError as exc:
        raise ValueError(f"cannot read {str(path)!r}: {exc.strerror or exc}") from exc
    fmt = formats.format_of_header(head) or formats.format_of_gzip(path, head)
    if fmt is not None:
        return _available(fmt, path)
    if not head:
        raise ValueError(f"{str(path)!r} is empty (0 bytes), not an image")
    kind = formats.unsupported_format(head)
    readable = formats.readable_text()
    if kind is None:
        raise ValueError(
            f"{str(path)!r} is not an image napari-sr can read; it reads {readable} files"
        )
    if kind in ("gzip", "bzip2", "xz", "zstd"):
        fix = "decompress it first"
    elif kind in ("HDF5", "NumPy .npy", "zip"):
        fix = "save the array as TIFF first, e.g. tifffile.imwrite('image.tif', array)"
    else:
        fix = "convert it to TIFF first (e.g. in Fiji: File > Save As > Tiff...)"
    raise ValueError(
        f"{str(path)!r} is a {kind} file, not an image napari-sr can read; it reads "
        f"{readable} files - {fix}"
    )


def _available(fmt: FileFormat, path: Path) -> FileFormat:
    """``fmt``, if the packages it needs are installed."""
    missing = fmt.missing()
    if missing is not None:
        raise ValueError(
            f"cannot read {str(path)!r}: {fmt.name} files need {missing} (pip install "
            f"{missing.replace(',', '')})"
        )
    return fmt


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
    chunks: Any = None,
    levels: int = 1,
) -> Path:
    """Save an image as OME-TIFF, OME-Zarr or PNG with its axes, pixel sizes and provenance.

    The format follows the file name (:data:`~napari_sr.io.formats.FORMATS`): ``.ome.tif``,
    ``.tif``, ``.tiff`` (any case) write OME-TIFF, ``.ome.zarr`` (or ``.zarr``) an
    OME-Zarr folder (NGFF 0.5; a lazy image is written block by block, never loaded
    whole), ``.png`` writes PNG.

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
        write). PNG is always deflate-compressed; this is ignored there. OME-Zarr
        compresses each chunk with gzip (``"zlib"``) or zstd.
    chunks : int, dict or sequence of int, optional
        OME-Zarr only: the chunk shape, as one edge for Y and X, a dict per axis
        (``{"Z": 8, "Y": 512, "X": 512}``) or one size per axis; default one plane per
        chunk in 1024 × 1024 tiles.
    levels : int
        OME-Zarr only: resolution levels, 1 (default) the image alone; each further level
        halves Y and X (means of 2 × 2 pixels), for fast viewing of large images.

    Notes
    -----
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
    path = check_output_path(path, overwrite=overwrite)
    fmt = _output_format(path)
    compression = _check_compression(compression, needs_codecs=not fmt.folder)
    if not isinstance(image, Image):
        _check_writable_dtype(np.dtype(image.dtype) if is_lazy(image) else
                              np.asarray(image).dtype, path, fmt.output_name)  # fmt: skip
        image = Image(image, axes=axes)
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
    if fmt.folder:  # written block by block: the pixel type must already be one it holds
        _check_writable_dtype(np.dtype(image.dtype), path, fmt.output_name)
        data = image.data
    else:
        data = _writable_data(np.asarray(image.data), path, fmt.output_name)

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
    options = {"chunks": chunks, "levels": levels} if fmt.folder else {}
    return fmt.write(path, image.replace(data=data), record, overwrite=overwrite,
                     compression=compression, **options)  # fmt: skip


def output_format(path: str | os.PathLike) -> str | None:
    """The format :func:`write` writes for ``path`` ("OME-TIFF" or "PNG"), or None."""
    fmt = formats.format_for_name(path, writable=True)
    return None if fmt is None else fmt.output_name


def _output_format(path: Path) -> FileFormat:
    fmt = formats.format_for_name(path, writable=True)
    if fmt is None:
        names, endings = formats.writable_text()
        raise ValueError(
            f"cannot write {str(path)!r}: napari-sr writes {names}, so the name must end in "
            f"{endings}"
        )
    return fmt


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
    return check_target(path, overwrite=overwrite, folder=_output_format(path).folder)


def _check_compression(compression: Any, *, needs_codecs: bool = True) -> str | None:
    """The compression for ``compression`` (None: uncompressed); ``needs_codecs``: zstd
    needs imagecodecs (TIFF; zarr has its own codecs)."""
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
    if name == "zstd" and needs_codecs and not zstd_available():
        raise ValueError(
            "compression 'zstd' needs the imagecodecs package (pip install imagecodecs); "
            "use 'zlib' instead"
        )
    return None if name == "none" else name


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
    if code not in _WRITABLE_TYPES:  # e.g. float128
        raise ValueError(
            f"cannot write {str(path)!r}: {fmt} cannot hold pixels of type {data.dtype.name}; "
            "convert them first, e.g. image.astype(np.float64)"
        )
    return data


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
