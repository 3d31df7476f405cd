"""TIFF, OME-TIFF and ImageJ TIFF through tifffile: the reader, its probe, and the OME-TIFF
writer of :mod:`napari_sr.io`.

Geometry comes from OME-XML (``PhysicalSizeX/Y/Z`` and their units), from ImageJ metadata
(x and y from the resolution tags, z from ``spacing``, the ``unit`` entry), or from the
resolution tags of a plain TIFF when they are in centimetres. Resolution in inches is taken
as a print setting (72 dpi and the like) and ignored. The writer saves OME-TIFF with the
provenance record as JSON in the OME ``Image/Description``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import math
import os
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..axes import AXIS_LETTERS, SPATIAL_AXES, default_axes, is_rgb, validate_axes
from ..image import Image, normalize_unit
from ..utils.atomic import atomic_write
from ._common import (
    MAX_AXES,
    UNCALIBRATED,
    FileInfo,
    LogCollector,
    captured_log,
    check_dtype_readable,
    check_memory,
    codec_message,
    corrupt,
    local_tag,
    parse_provenance,
    reason,
    record_json,
    usable_origin,
    usable_sizes,
    wants_lazy,
)

MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
"""First bytes of a TIFF: byte order, then 42 (classic) or 43 (BigTIFF)."""
_RESOLUTION_CENTIMETER = 3
_ZSTD = 50000  # TIFF compression code


def probe_tiff(path: Path) -> FileInfo:
    """Format, shape, dtype and axes of a TIFF, its data checked to lie within the file and
    its compression to be decodable, without decoding pixels (a TIFF larger than memory
    passes: :func:`read_tiff` reads it lazily)."""
    with captured_log("tifffile") as log, _open_tiff(path, log) as tif:
        series, shape, dtype, axes = _tiff_layout(tif, path, log)
        _check_tiff_data(tif, series, path)
    return FileInfo("TIFF", shape, dtype, axes)


@contextlib.contextmanager
def _open_tiff(path: Path, log: LogCollector) -> Iterator[Any]:
    import tifffile

    try:
        tif = tifffile.TiffFile(path)
    except Exception as exc:  # tifffile raises many types for damaged files
        raise corrupt(path, "TIFF", exc, log) from exc
    try:
        yield tif
    finally:
        tif.close()


def _tiff_layout(tif: Any, path: Path, log: LogCollector) -> tuple[Any, tuple, np.dtype, str]:
    """The first series, the shape and dtype read() returns, and its axes."""
    try:
        series = tif.series[0]
        shape, dtype, raw_axes = tuple(int(n) for n in series.shape), series.dtype, series.axes
    except Exception as exc:
        raise corrupt(path, "TIFF", exc, log) from exc
    if math.prod(shape) == 0:
        raise ValueError(f"{str(path)!r} holds an empty image of shape {shape}")
    check_dtype_readable(dtype, path)
    axes, shape = _axes_from_tifffile(raw_axes, shape, path)
    return series, shape, dtype, axes


def read_tiff(path: Path, *, lazy: bool | None = None, level: int = 0) -> Image:
    """A TIFF, OME-TIFF or ImageJ TIFF with its axes, pixel sizes, origin and provenance.

    ``lazy`` True gives dask data read page range by page range (:class:`LazyTiff`), None
    does so above :func:`~napari_sr.io._common.lazy_threshold`. ``level`` is a resolution
    level of a pyramidal OME-TIFF (0, the full resolution, by default)."""
    notes: list[str] = []
    with captured_log("tifffile") as log, _open_tiff(path, log) as tif:
        series, shape, dtype, axes = _tiff_layout(tif, path, log)
        _check_tiff_data(tif, series, path)
        levels = len(getattr(series, "levels", ())) or 1
        if isinstance(level, bool) or not isinstance(level, int) or not 0 <= level < levels:
            raise ValueError(
                f"{str(path)!r} has resolution levels 0 to {levels - 1}, not {level!r}; give "
                "level=0 for the full resolution"
            )
        if level:
            series = series.levels[level]
            shape = tuple(int(n) for n in series.shape)
            axes, shape = _axes_from_tifffile(series.axes, shape, path)
        lazy = wants_lazy(lazy, shape, dtype)
        if not lazy:
            check_memory(shape, dtype, path)
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
            notes.append(f"its metadata could not be parsed ({reason(exc)}); pixel sizes "
                         "were ignored")  # fmt: skip
            sizes, units, provenance, fmt = {}, {}, {}, "TIFF"
        try:
            if lazy:
                data = LazyTiff(str(path), level, tuple(int(n) for n in series.shape),
                                dtype, _stored_block(series)).as_dask().reshape(shape)  # fmt: skip
            else:
                data = series.asarray().reshape(shape)
        except Exception as exc:
            raise corrupt(path, "TIFF", exc, log) from exc
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
    sizes, units = usable_sizes(sizes, units, axes, path, notes)
    origin = provenance.pop("origin", None)
    origin = usable_origin(origin, axes)
    metadata: dict[str, Any] = {"path": str(path), "format": fmt}
    if provenance:
        metadata["provenance"] = provenance
    notes = list(log.messages) + notes
    if n_series > 1:
        notes.append(f"the file holds {n_series} image series; the first was read")
    if notes:
        metadata["note"] = "; ".join(notes)
    return Image(data, axes=axes, pixel_size=sizes, unit=units, origin=origin, metadata=metadata)


class LazyTiff:
    """The first series of a TIFF (one resolution level) as an array-like that dask reads
    region by region: every read opens the file, so the object pickles as a path and
    dask.distributed workers read the file themselves (it must be on a file system they
    share).

    Regions of an uncompressed series stored in one block are read through a memory map
    of the file (only the region's bytes); others through tifffile's zarr view of the
    series (``aszarr``), which decodes the strips or tiles that hold the region, so a plane
    larger than a chunk is cut into whole strips or tiles.
    """

    CHUNK_BYTES = 64 * 2**20
    """Bytes of a dask chunk: whole planes, as many as fit, or Y and X cut when one plane
    is larger."""

    def __init__(
        self,
        path: str,
        level: int,
        shape: tuple[int, ...],
        dtype: Any,
        stored: tuple[int, int] | None = None,
    ) -> None:
        self.path, self.level, self.shape = path, int(level), tuple(shape)
        self.dtype, self.ndim = np.dtype(dtype), len(shape)
        self.stored = stored  # (rows, columns) of the file's strips or tiles

    def __getitem__(self, region: tuple) -> np.ndarray:
        import tifffile
        import zarr

        with tifffile.TiffFile(self.path) as tif:
            series = tif.series[0]
            series = series.levels[self.level] if self.level else series
            if _contiguous(series):  # uncompressed, one block: map it, read only the region
                stored = np.dtype(series.dtype).newbyteorder(tif.byteorder)  # as in the file
                mapped = np.memmap(self.path, dtype=stored, mode="r",
                                   offset=series.dataoffset, shape=self.shape)  # fmt: skip
                return np.array(mapped[region], dtype=self.dtype)
            store = tif.series[0].aszarr(level=self.level)
            try:
                return np.asarray(zarr.open_array(store, mode="r")[region])
            finally:
                store.close()

    def chunks(self) -> tuple[int, ...]:
        """One dask chunk: planes of the last two axes, as many as fit
        :data:`CHUNK_BYTES` (or the plane cut to fit)."""
        if self.ndim < 2:
            return self.shape
        *lead, height, width = self.shape
        plane = height * width * self.dtype.itemsize
        if plane > self.CHUNK_BYTES:
            return (1,) * len(lead) + self._plane_chunk(height, width)
        planes = max(1, self.CHUNK_BYTES // plane)
        chunks = []
        for n in reversed(lead):  # fill the innermost leading axes first
            take = min(n, planes)
            chunks.append(take)
            planes = max(1, planes // n) if take == n else 1
        return (*reversed(chunks), height, width)

    def _plane_chunk(self, height: int, width: int) -> tuple[int, int]:
        """(rows, columns) of a chunk of a plane larger than :data:`CHUNK_BYTES`: whole
        strips or tiles of the file, since a read decodes every one it touches (a square
        chunk of a striped plane would decode its strips' full width: 10× the bytes of a
        60,000-pixel-wide plane)."""
        pixels = max(1, self.CHUNK_BYTES // self.dtype.itemsize)
        rows, columns = self.stored or (1, 1)
        if self.stored is not None and columns >= width:  # strips: full rows
            count = max(1, pixels // width)
            count = count // rows * rows if rows <= count else count  # whole strips if any fit
            return min(height, count), width
        edge = max(256, int(math.sqrt(pixels)))
        tall = max(1, edge // rows) * rows
        wide = max(1, edge // columns) * columns
        return min(height, tall), min(width, wide)

    def as_dask(self):
        """This series as a dask array (``inline_array``: every task reads by path)."""
        from ..utils.lazy import require

        require("dask", "zarr", what="reading a TIFF lazily")
        import dask.array as da

        return da.from_array(self, chunks=self.chunks(), asarray=True, lock=False,
                             fancy=False, inline_array=True,
                             meta=np.empty((0,) * self.ndim, self.dtype))  # fmt: skip


def _stored_block(series: Any) -> tuple[int, int] | None:
    """(rows, columns) of one strip or tile of the series' planes, None when unknown."""
    page = getattr(series, "keyframe", None)
    try:
        if page.is_tiled:
            return int(page.tilelength), int(page.tilewidth)
        return min(int(page.rowsperstrip), int(page.imagelength)), int(page.imagewidth)
    except (AttributeError, TypeError, ValueError):
        return None


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
                raise ValueError(codec_message(path, compression, exc)) from None
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


def _ome_geometry(ome_xml: str, notes: list[str]) -> tuple[dict, dict, dict]:
    root = ET.fromstring(ome_xml)
    image_el = next((el for el in root.iter() if local_tag(el.tag) == "Image"), None)
    pixels = next((el for el in root.iter() if local_tag(el.tag) == "Pixels"), None)
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
        description = next((el for el in image_el if local_tag(el.tag) == "Description"), None)
        if description is not None and description.text:
            provenance = parse_provenance(description.text)
    return sizes, units, provenance


def _imagej_geometry(ij: dict, page: Any, notes: list[str]) -> tuple[dict, dict]:
    raw_unit = ij.get("unit")
    unit = normalize_unit(raw_unit) if isinstance(raw_unit, str) else None
    if not unit or unit.lower() in UNCALIBRATED or unit.lower() in ("inch", "in"):
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


# ----------------------------------------------------------------------------- writing


def write_tiff(
    path: Path, image: Image, record: dict[str, Any], *, overwrite: bool, compression: str | None
) -> Path:
    """Save ``image`` as OME-TIFF: pixel sizes and units in the OME ``Pixels``, ``record``
    (with the axes and shape, so that length-1 axes survive) as JSON in its Description."""
    data, file_axes, rgb = _file_layout(image)
    # TIFF readers drop axes of length 1; the record lets read() restore them
    record = {**record, "axes": file_axes.replace("S", "C"), "shape": list(data.shape)}
    metadata: dict[str, Any] = {
        "axes": file_axes,
        "Description": record_json(record),
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
