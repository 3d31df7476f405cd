"""Reading and writing images with their axes and physical pixel sizes.

:func:`read` opens TIFF and OME-TIFF (through tifffile), PNG and JPEG (through imageio),
choosing the reader by the file's first bytes, not its name. Geometry comes from OME-XML
(``PhysicalSizeX/Y/Z`` and their units), from ImageJ metadata (x and y from the resolution
tags, z from ``spacing``, the ``unit`` entry), or from the resolution tags of a plain TIFF
when they are in centimetres. Resolution in inches is taken as a print setting (72 dpi and the
like) and ignored.

:func:`write` saves OME-TIFF with axes, pixel sizes and a provenance note (JSON in the OME
``Image/Description``), atomically, and refuses to overwrite unless asked.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ._atomic import atomic_write, check_target
from ._version import __version__
from .axes import AXIS_LETTERS, SPATIAL_AXES, default_axes, is_rgb, validate_axes
from .image import Image, normalize_unit

__all__ = ["check_output_path", "read", "write"]

PROVENANCE_KEY = "napari-sr"
"""Key of napari-sr's provenance record inside the OME Image Description JSON."""

_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_JPEG_MAGIC = b"\xff\xd8\xff"
_WRITE_SUFFIXES = (".tif", ".tiff")
_RESOLUTION_CENTIMETER = 3


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
        and, for files napari-sr wrote, ``"provenance"``.

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    ValueError
        If the file is not a TIFF, PNG or JPEG image, or is truncated or corrupt, or
        ``axes`` does not fit its shape.

    Examples
    --------
    >>> img = napari_sr.io.read("stack.ome.tif")  # doctest: +SKIP
    >>> img.axes, img.pixel_size  # doctest: +SKIP
    ('ZYX', {'Z': 0.8, 'Y': 0.2, 'X': 0.2})
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file: {str(path)!r}")
    if path.is_dir():
        raise ValueError(f"{str(path)!r} is a folder, not an image file; give a file")
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        raise ValueError(f"cannot read {str(path)!r}: {exc.strerror or exc}") from exc
    if head.startswith(_TIFF_MAGIC):
        image = _read_tiff(path)
    elif head.startswith(_PNG_MAGIC) or head.startswith(_JPEG_MAGIC):
        image = _read_imageio(path, "PNG" if head.startswith(_PNG_MAGIC) else "JPEG")
    elif not head:
        raise ValueError(f"{str(path)!r} is empty (0 bytes), not an image")
    else:
        raise ValueError(
            f"{str(path)!r} is not an image napari-sr can read; it reads TIFF, OME-TIFF, "
            "PNG and JPEG files"
        )
    if image.data.size == 0:
        raise ValueError(f"{str(path)!r} holds an empty image of shape {image.data.shape}")
    if axes is not None:
        image = image.with_axes(validate_axes(axes, image.shape))
    return image


def write(
    path: str | os.PathLike,
    image: Image | np.ndarray,
    *,
    axes: str | None = None,
    pixel_size: float | Mapping[str, float] | None = None,
    unit: str = "µm",
    provenance: Mapping[str, Any] | None = None,
    overwrite: bool = False,
    compression: str | None = None,
) -> Path:
    """Save an image as OME-TIFF with its axes, pixel sizes and provenance.

    Parameters
    ----------
    path : path-like
        Output file, ending in ``.tif`` or ``.tiff`` (``.ome.tif`` recommended).
    image : Image or numpy.ndarray
        What to save. An :class:`Image` brings its axes, pixel sizes, origin and metadata
        provenance; the keyword arguments below override them.
    axes : str, optional
        Axes of the array (default: the Image's, or guessed from the shape).
    pixel_size : float or dict of str to float, optional
        Physical pixel size: one number for both Y and X, or a per-axis dict such as
        ``{"Z": 0.8, "Y": 0.2, "X": 0.2}``.
    unit : str
        Unit of ``pixel_size`` when given here (default µm).
    provenance : dict, optional
        JSON-serialisable record of how the image was made (method, scale, source...).
    overwrite : bool
        Replace an existing file. Default False: an existing file is an error.
    compression : str, optional
        tifffile compression, e.g. ``"zlib"`` (lossless); default none, the fastest.

    Returns
    -------
    pathlib.Path
        The written file. It appears whole, or not at all if writing fails.

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``overwrite`` is False.
    ValueError
        For a name that is not ``.tif``/``.tiff``, or an empty or unsuitable array.
    """
    import tifffile

    path = check_output_path(path, overwrite=overwrite)
    if not isinstance(image, Image):
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

    data, file_axes, rgb = _file_layout(image)
    record = dict(image.metadata.get("provenance", {}))
    if provenance:
        record.update(provenance)
    if image.origin:
        record["origin"] = image.origin
    record["written_by"] = f"napari-sr {__version__}"
    # TIFF readers drop axes of length 1; the record lets read() restore them
    record["axes"] = file_axes.replace("S", "C")
    record["shape"] = list(data.shape)
    metadata: dict[str, Any] = {
        "axes": file_axes,
        "Description": json.dumps({PROVENANCE_KEY: record}, default=_json_default),
    }
    for axis, size in image.pixel_size.items():
        metadata[f"PhysicalSize{axis}"] = size
        metadata[f"PhysicalSize{axis}Unit"] = image.unit[axis]

    def _write(tmp: str) -> None:
        tifffile.imwrite(
            tmp,
            data,
            ome=True,
            photometric="rgb" if rgb else "minisblack",
            metadata=metadata,
            compression=compression,
        )

    return atomic_write(path, _write, overwrite=overwrite)


def check_output_path(path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Check, before any work, that :func:`write` could create ``path``.

    Raises
    ------
    ValueError
        If the name does not end in ``.tif``/``.tiff``.
    FileExistsError
        If the file exists and ``overwrite`` is False.
    FileNotFoundError
        If its folder does not exist.
    """
    path = Path(path)
    if not path.name.lower().endswith(_WRITE_SUFFIXES):
        raise ValueError(
            f"cannot write {str(path)!r}: napari-sr writes OME-TIFF, so the name must end "
            "in .ome.tif (or .tif/.tiff)"
        )
    return check_target(path, overwrite=overwrite)


# ----------------------------------------------------------------------------- reading


def _read_tiff(path: Path) -> Image:
    import tifffile

    try:
        with _captured_log("tifffile") as log, tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            data = series.asarray()
            axes = _axes_from_tifffile(series.axes, data.shape)
            if tif.is_ome and tif.ome_metadata:
                sizes, units, provenance = _ome_geometry(tif.ome_metadata)
                fmt = "OME-TIFF"
            elif tif.is_imagej:
                sizes, units = _imagej_geometry(tif.imagej_metadata or {}, tif.pages.first)
                provenance, fmt = {}, "ImageJ TIFF"
            else:
                sizes, units = _tag_geometry(tif.pages.first)
                provenance, fmt = {}, "TIFF"
            n_series = len(tif.series)
    except Exception as exc:  # tifffile raises many types for damaged files
        reason = "; ".join([_reason(exc), *log.messages[:1]])
        raise ValueError(
            f"cannot read {str(path)!r}: the TIFF is truncated or corrupt ({reason})"
        ) from exc
    recorded_axes, recorded_shape = provenance.pop("axes", None), provenance.pop("shape", None)
    if (
        isinstance(recorded_axes, str)
        and isinstance(recorded_shape, list)
        and len(recorded_axes) == len(recorded_shape) != data.ndim
        and math.prod(recorded_shape) == data.size
    ):
        data, axes = data.reshape(recorded_shape), recorded_axes  # restore length-1 axes
    sizes = {a: s for a, s in sizes.items() if a in axes and np.isfinite(s) and s > 0}
    origin = provenance.pop("origin", {}) if isinstance(provenance.get("origin"), dict) else {}
    metadata: dict[str, Any] = {"path": str(path), "format": fmt}
    if provenance:
        metadata["provenance"] = provenance
    notes = list(log.messages)
    if n_series > 1:
        notes.append(f"the file holds {n_series} image series; the first was read")
    if notes:
        metadata["note"] = "; ".join(notes)
    return Image(
        data,
        axes=axes,
        pixel_size=sizes,
        unit={a: units[a] for a in sizes},
        origin={a: v for a, v in origin.items() if a in axes},
        metadata=metadata,
    )


def _read_imageio(path: Path, fmt: str) -> Image:
    import imageio.v3 as iio

    try:
        data = np.asarray(iio.imread(path))
    except Exception as exc:
        raise ValueError(
            f"cannot read {str(path)!r}: the {fmt} is truncated or corrupt ({_reason(exc)})"
        ) from exc
    if data.ndim not in (2, 3):
        raise ValueError(f"{str(path)!r} decodes to a {data.ndim}-D array, not an image")
    axes = "YX" if data.ndim == 2 else "YXC"  # a 2D format: gray+alpha, RGB or RGBA samples
    return Image(data, axes=axes, metadata={"path": str(path), "format": fmt})


def _axes_from_tifffile(axes: str, shape: tuple[int, ...]) -> str:
    """Translate tifffile's axes letters to napari-sr's; guess where they say nothing."""
    mapped = axes.upper().replace("S", "C")
    known = set(mapped) <= set(AXIS_LETTERS) and len(set(mapped)) == len(mapped)
    if known and len(mapped) == len(shape) and "Y" in mapped and "X" in mapped:
        return mapped
    return default_axes(shape)  # generic letters such as I (sequence) or Q (unknown)


def _ome_geometry(ome_xml: str) -> tuple[dict, dict, dict]:
    root = ET.fromstring(ome_xml)
    image_el = next((el for el in root.iter() if _local(el.tag) == "Image"), None)
    pixels = next((el for el in root.iter() if _local(el.tag) == "Pixels"), None)
    sizes: dict[str, float] = {}
    units: dict[str, str] = {}
    if pixels is not None:
        for axis in SPATIAL_AXES:
            value = pixels.get(f"PhysicalSize{axis}")
            if value is not None:
                sizes[axis] = float(value)
                units[axis] = normalize_unit(pixels.get(f"PhysicalSize{axis}Unit", "µm"))
    provenance: dict[str, Any] = {}
    if image_el is not None:
        description = next((el for el in image_el if _local(el.tag) == "Description"), None)
        if description is not None and description.text:
            provenance = _parse_provenance(description.text)
    return sizes, units, provenance


def _imagej_geometry(ij: dict, page: Any) -> tuple[dict, dict]:
    unit = normalize_unit(ij.get("unit"))
    if not unit or unit == "pixel":
        return {}, {}  # ImageJ's uncalibrated default
    sizes = _resolution_sizes(page, per_unit=1.0)
    if "spacing" in ij:
        sizes["Z"] = float(ij["spacing"])
    return sizes, dict.fromkeys(sizes, unit)


def _tag_geometry(page: Any) -> tuple[dict, dict]:
    tag = page.tags.get("ResolutionUnit")
    if tag is None or int(tag.value) != _RESOLUTION_CENTIMETER:
        return {}, {}
    sizes = _resolution_sizes(page, per_unit=1e4)  # pixels per cm -> µm per pixel
    return sizes, dict.fromkeys(sizes, "µm")


def _resolution_sizes(page: Any, per_unit: float) -> dict[str, float]:
    """Pixel sizes from the X/YResolution tags (pixels per unit), times ``per_unit``."""
    sizes = {}
    for axis, name in (("X", "XResolution"), ("Y", "YResolution")):
        tag = page.tags.get(name)
        if tag is None:
            continue
        num, den = tag.value
        if num > 0 and den > 0:
            sizes[axis] = per_unit * den / num
    return sizes


def _parse_provenance(text: str) -> dict[str, Any]:
    try:
        record = json.loads(text)
    except ValueError:
        return {}
    if isinstance(record, dict) and isinstance(record.get(PROVENANCE_KEY), dict):
        return dict(record[PROVENANCE_KEY])
    return {}


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


# ----------------------------------------------------------------------------- writing


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


def _pixel_size_dict(pixel_size: float | Mapping[str, float]) -> dict[str, float]:
    if isinstance(pixel_size, Mapping):
        return {str(k).upper(): float(v) for k, v in pixel_size.items()}
    size = float(pixel_size)
    return {"Y": size, "X": size}


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (np.ndarray, tuple, set)):
        return list(np.asarray(list(value) if isinstance(value, set) else value).tolist())
    return str(value)
