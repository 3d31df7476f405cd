"""OME-Zarr (OME-NGFF 0.4 and 0.5): the format for images larger than memory.

Reading
-------
:func:`read_ome_zarr` opens a multiscale image lazily: the chosen resolution level (0,
the full resolution, by default) becomes a dask array chunked as stored, so nothing is
read until a block is needed. Axes come from the ``multiscales`` axes (``t``, ``c``,
``z``, ``y``, ``x``), pixel sizes and origin from the level's ``scale`` and
``translation`` transformations (times the multiscale's own, when it has them), units from
the axes' ``unit`` (``micrometer``…). A ``bioformats2raw`` folder opens its first image.
NGFF 0.4 (zarr format 2) and 0.5 (zarr format 3, metadata under ``"ome"``) are both read.

Writing
-------
The metadata (multiscales, axes, units, coordinate transformations) is written by
``ome-zarr-py`` (:func:`ome_zarr.writer.write_multiscales_metadata`), the OME consortium's
reference implementation: it validates axes order and transformations against the
specification for 0.4 and 0.5, and is what napari-ome-zarr reads with. ngff-zarr
(a sound alternative) converts whole images through its own in-memory model, and iohub
serves high-content-screening plates and pins older zarr; the pixels themselves are
written here, block by block, with zarr, because napari-sr must control which blocks a
run writes (each task its own region; completion recorded for resuming).

:class:`OmeZarrOutput` is that block-by-block writer: the store is made under
``NAME.partial`` next to the target, every finished block is recorded in a small array
of the store (:data:`BLOCKS_ARRAY`, one chunk per block, so concurrent tasks never write
the same file), and :meth:`OmeZarrOutput.finish` writes the optional pyramid, removes the
record and renames the folder into place. A run that fails, is cancelled or killed leaves
only ``NAME.partial``, which ``resume=True`` completes.

Axes are stored in the order the specification requires (``TCZYX``, those present).
napari-sr's provenance record is kept in the group's attributes under ``"napari-sr"``.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..image import Image, normalize_unit
from ..utils.atomic import check_target
from ..utils.lazy import require
from ._common import (
    PROVENANCE_KEY,
    FileInfo,
    check_dtype_readable,
    check_memory,
    reason,
    usable_origin,
    usable_sizes,
    wants_lazy,
)

__all__ = [
    "BLOCKS_ARRAY",
    "NGFF_ORDER",
    "OmeZarrOutput",
    "default_chunks",
    "ngff_axes",
    "probe_ome_zarr",
    "read_ome_zarr",
    "write_ome_zarr",
]

NGFF_ORDER = "TCZYX"
"""The axes order OME-NGFF requires (time, channel, then space)."""

WRITE_VERSION = "0.5"
"""The NGFF version written unless another is asked for (``"0.4"`` for older readers)."""

PARTIAL_SUFFIX = ".partial"
"""Suffix of the folder a store is written under until it is complete."""

BLOCKS_ARRAY = "napari-sr-blocks"
"""Array of a store being written: 1 for every block written (one chunk per block)."""
SCRATCH_FOLDER = "napari-sr-scratch"
"""Folder of a store being written that holds a run's intermediate data
(:attr:`OmeZarrOutput.scratch`)."""

CHUNK_EDGE = 1024
"""Default chunk edge along Y and X (one plane per chunk along the other axes): a
1024 × 1024 chunk is 2 MiB of uint16, read quickly plane by plane as napari and the
blockwise engine read."""

_AXIS_NAMES = {"t": "T", "time": "T", "c": "C", "channel": "C", "z": "Z", "y": "Y", "x": "X"}
_AXIS_TYPES = {"T": "time", "C": "channel", "Z": "space", "Y": "space", "X": "space"}
_NGFF_UNITS = {"µm": "micrometer", "nm": "nanometer", "mm": "millimeter", "cm": "centimeter",
               "m": "meter", "Å": "angstrom", "pm": "picometer", "km": "kilometer",
               "in": "inch"}  # fmt: skip


# ----------------------------------------------------------------------------- reading


def _open_group(path: Path) -> tuple[Any, str]:
    """The zarr group holding the multiscale image at ``path`` and its NGFF version."""
    import zarr

    try:
        group = zarr.open_group(str(path), mode="r")
    except Exception as exc:
        raise ValueError(
            f"cannot read {str(path)!r}: it is not a zarr store ({reason(exc)})"
        ) from exc
    attrs = dict(group.attrs)
    ome = attrs.get("ome") if isinstance(attrs.get("ome"), dict) else None
    meta = ome if ome is not None else attrs
    if "multiscales" not in meta and "bioformats2raw.layout" in meta and "0" in group:
        return _open_group(path / "0")  # bioformats2raw: the images are 0, 1, ...
    if "multiscales" not in meta:
        what = "a plate (HCS)" if "plate" in meta or "well" in meta else "no multiscale image"
        raise ValueError(
            f"cannot read {str(path)!r}: the zarr store holds {what}, not an OME-Zarr image; "
            "give the folder of one image (for a plate, e.g. plate.ome.zarr/A/1/0)"
        )
    version = str((ome or {}).get("version") or _first(meta["multiscales"]).get("version", "0.4"))
    return group, version


def _first(multiscales: Any) -> dict:
    if (
        not isinstance(multiscales, list)
        or not multiscales
        or not isinstance(multiscales[0], dict)
    ):
        raise ValueError("the 'multiscales' metadata is not a list of multiscale images")
    return multiscales[0]


def _layout(path: Path) -> tuple[Any, str, dict, str]:
    """Group, version, first multiscale and napari-sr axes letters."""
    group, version = _open_group(path)
    attrs = dict(group.attrs)
    meta = attrs.get("ome", attrs)
    try:
        multiscale = _first(meta["multiscales"])
        axes = _axes_letters(multiscale.get("axes"), path)
    except ValueError as exc:
        raise ValueError(f"cannot read {str(path)!r}: {exc}") from None
    if not multiscale.get("datasets"):
        raise ValueError(f"cannot read {str(path)!r}: its multiscales list no datasets")
    return group, version, multiscale, axes


def _axes_letters(axes: Any, path: Path) -> str:
    if axes is None:  # NGFF 0.1/0.2: always 5-D TCZYX
        return NGFF_ORDER
    letters = []
    for axis in axes:
        name = axis.get("name") if isinstance(axis, dict) else axis
        letter = _AXIS_NAMES.get(str(name).lower())
        if letter is None:
            raise ValueError(
                f"its axis {name!r} is none of t, c, z, y, x, the axes napari-sr handles"
            )
        letters.append(letter)
    if len(set(letters)) != len(letters) or not {"Y", "X"} <= set(letters):
        raise ValueError(f"its axes {''.join(letters)!r} need Y and X, each axis once")
    return "".join(letters)


def _transform(transforms: Any, kind: str, ndim: int, default: float) -> list[float]:
    for item in transforms or ():
        if isinstance(item, dict) and item.get("type") == kind and kind in item:
            values = [float(v) for v in item[kind]]
            if len(values) == ndim:
                return values
    return [default] * ndim


def _units(multiscale: dict, axes: str) -> dict[str, Any]:
    units = {}
    for letter, axis in zip(axes, multiscale.get("axes") or (), strict=False):
        if isinstance(axis, dict) and axis.get("unit") is not None:
            units[letter] = axis["unit"]
    return units


def _level_array(group: Any, multiscale: dict, level: int, path: Path) -> tuple[Any, dict]:
    datasets = multiscale["datasets"]
    if isinstance(level, bool) or not isinstance(level, int | np.integer):
        raise TypeError(f"level must be an integer, not {type(level).__name__}")
    if not 0 <= level < len(datasets):
        raise ValueError(
            f"{str(path)!r} has resolution levels 0 to {len(datasets) - 1}, not {level}; "
            "give level=0 for the full resolution"
        )
    dataset = datasets[level]
    try:
        array = group[str(dataset["path"])]
    except Exception as exc:
        raise ValueError(
            f"cannot read {str(path)!r}: level {level} ({dataset.get('path')!r}) is missing "
            f"({reason(exc)})"
        ) from exc
    return array, dataset


def read_ome_zarr(path: Path, *, lazy: bool | None = None, level: int = 0) -> Image:
    """An OME-Zarr image as an :class:`Image`, lazily (dask data chunked as stored).

    Parameters
    ----------
    path : pathlib.Path
        The image's folder (``…ome.zarr``), or a ``bioformats2raw`` folder.
    lazy : bool, optional
        True: dask data; False: numpy (read whole, if it fits in memory); None (default):
        lazy above :func:`~napari_sr.io._common.lazy_threshold`.
    level : int
        Resolution level: 0 (default) the full resolution, 1 the next coarser, ...

    Returns
    -------
    Image
        The data of that level; its axes, pixel sizes, units and origin; ``metadata`` with
        ``"path"``, ``"format"`` (``OME-Zarr``), ``"ngff_version"``, ``"level"``,
        ``"levels"`` and, for stores napari-sr wrote, ``"provenance"``.
    """
    require("dask", "zarr", what="reading OME-Zarr")
    import dask.array as da

    group, version, multiscale, axes = _layout(path)
    array, dataset = _level_array(group, multiscale, level, path)
    if array.ndim != len(axes):
        raise ValueError(
            f"cannot read {str(path)!r}: level {level} has {array.ndim} dimensions but the "
            f"metadata names {len(axes)} axes ({axes!r})"
        )
    check_dtype_readable(array.dtype, path)
    if math.prod(array.shape) == 0:
        raise ValueError(f"{str(path)!r} holds an empty image of shape {array.shape}")
    scale, origin, units = _geometry(multiscale, dataset, axes)
    notes: list[str] = []
    raw = {a: (scale[i], f"scale of axis {a}") for i, a in enumerate(axes)
           if a in "ZYX" and a in units}  # fmt: skip
    sizes, kept_units = usable_sizes(raw, units, axes, path, notes)
    unitless = [a for i, a in enumerate(axes) if a in "ZYX" and a not in units and scale[i] != 1]
    if unitless:
        notes.append(f"axes {''.join(unitless)} have a scale but no unit; their pixel sizes "
                     "were ignored")  # fmt: skip
    attrs = dict(group.attrs)
    provenance = attrs.get(PROVENANCE_KEY)
    metadata: dict[str, Any] = {
        "path": str(path),
        "format": "OME-Zarr",
        "ngff_version": version,
        "level": int(level),
        "levels": len(multiscale["datasets"]),
    }
    if isinstance(provenance, dict):
        metadata["provenance"] = dict(provenance)
    if notes:
        metadata["note"] = "; ".join(notes)
    origin = usable_origin({a: origin[i] for i, a in enumerate(axes) if a in sizes and origin[i]},
                           axes)  # fmt: skip
    data = da.from_zarr(array)
    if not wants_lazy(lazy, data.shape, data.dtype):
        check_memory(tuple(data.shape), data.dtype, path)
        data = np.asarray(array[...])
    return Image(data, axes=axes, pixel_size=sizes, unit=kept_units, origin=origin,
                 metadata=metadata)  # fmt: skip


def _geometry(multiscale: dict, dataset: dict, axes: str):
    """Scale, translation (composed with the multiscale's own) and units per axis."""
    n = len(axes)
    scale = _transform(dataset.get("coordinateTransformations"), "scale", n, 1.0)
    shift = _transform(dataset.get("coordinateTransformations"), "translation", n, 0.0)
    outer = multiscale.get("coordinateTransformations")
    outer_scale = _transform(outer, "scale", n, 1.0)
    outer_shift = _transform(outer, "translation", n, 0.0)
    scale = [s * o for s, o in zip(scale, outer_scale, strict=True)]
    shift = [t * o + u for t, o, u in zip(shift, outer_scale, outer_shift, strict=True)]
    return scale, shift, _units(multiscale, axes)


def probe_ome_zarr(path: Path) -> FileInfo:
    """Format, shape, dtype and axes of an OME-Zarr image's full resolution, from its
    metadata (no pixels are read)."""
    require("zarr", what="reading OME-Zarr")
    group, _version, multiscale, axes = _layout(path)
    array, _ = _level_array(group, multiscale, 0, path)
    check_dtype_readable(array.dtype, path)
    return FileInfo("OME-Zarr", tuple(int(n) for n in array.shape), np.dtype(array.dtype), axes)


def is_ome_zarr(path: Path) -> bool:
    """Whether ``path`` is a folder holding zarr metadata (``zarr.json`` or ``.zattrs``)."""
    return path.is_dir() and any((path / name).is_file() for name in ("zarr.json", ".zattrs",
                                                                     ".zgroup"))  # fmt: skip


# ----------------------------------------------------------------------------- writing


def ngff_axes(axes: str) -> tuple[str, tuple[int, ...]]:
    """The NGFF order of ``axes`` and the transposition that gives it: ``'ZCYX'`` →
    ``('CZYX', (1, 0, 2, 3))``."""
    order = "".join(a for a in NGFF_ORDER if a in axes)
    if len(order) != len(axes):
        raise ValueError(f"OME-Zarr holds the axes T, C, Z, Y, X only, not {axes!r}")
    return order, tuple(axes.index(a) for a in order)


def default_chunks(shape: Sequence[int], axes: str, edge: int = CHUNK_EDGE) -> tuple[int, ...]:
    """One plane per chunk, ``edge`` pixels along Y and X (or the whole axis)."""
    return tuple(min(int(n), edge) if a in "YX" else 1 for n, a in zip(shape, axes, strict=True))


def check_chunks(chunks: Any, shape: Sequence[int], axes: str) -> tuple[int, ...]:
    """``chunks`` (None: :func:`default_chunks`; an int: Y and X; a dict per axis; or one
    per axis) as one positive int per axis, capped at the axis length."""
    base = list(default_chunks(shape, axes))
    if chunks is None:
        return tuple(base)
    if isinstance(chunks, dict):
        unknown = set(map(str.upper, chunks)) - set(axes)
        if unknown:
            raise ValueError(f"chunks names axes {''.join(sorted(unknown))!r} the image lacks "
                             f"(its axes are {axes!r})")  # fmt: skip
        upper = {str(k).upper(): v for k, v in chunks.items()}
        values = [upper.get(a, b) for a, b in zip(axes, base, strict=True)]
    elif isinstance(chunks, int | np.integer) and not isinstance(chunks, bool):
        values = [int(chunks) if a in "YX" else b for a, b in zip(axes, base, strict=True)]
    else:
        values = list(chunks)
        if len(values) != len(axes):
            raise ValueError(
                f"chunks {tuple(values)} must give one size per axis of {axes!r}, or be one "
                "number (Y and X) or a dict such as {'Y': 512, 'X': 512}"
            )
    checked = []
    for value, n in zip(values, shape, strict=True):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(f"chunk sizes must be positive integers, not {value!r}")
        checked.append(min(int(value), int(n)))
    return tuple(checked)


def _codecs(compression: str | None, zarr_format: int) -> Any:
    if compression is None:
        return None
    if zarr_format == 2:
        import numcodecs

        return numcodecs.GZip(level=1) if compression == "zlib" else numcodecs.Zstd(level=3)
    import zarr.codecs

    if compression == "zlib":
        return zarr.codecs.GzipCodec(level=1)
    return zarr.codecs.ZstdCodec(level=3)


class OmeZarrOutput:
    """An OME-Zarr image being written block by block, resumable.

    Make one with :meth:`create` (or :meth:`resume`); tasks, in this process or on other
    machines, reopen it from :attr:`partial` with :meth:`open_block_writer` and call
    :meth:`write_block`; then :meth:`finish` puts it in place.

    The array is cut into blocks of :attr:`block` elements (whole chunks); each block is
    written by one task, which records it as written (:data:`BLOCKS_ARRAY`) after its
    pixels. A block recorded as written is complete, so resuming recomputes exactly those
    that are not.
    """

    def __init__(self, path: Path, partial: Path | None, block: tuple[int, ...]) -> None:
        self.path, self.block = Path(path), tuple(block)
        self.partial = None if partial is None else Path(partial)
        import zarr

        if self.partial is None:  # the run had finished: nothing left to write
            self.array = zarr.open_array(str(self.path / "0"), mode="r")
            self.blocks = None
            return
        self.array = zarr.open_array(str(self.partial / "0"), mode="r+")
        self.blocks = zarr.open_array(str(self.partial / BLOCKS_ARRAY), mode="r+")

    # ----------------------------------------------------------------- creating

    @classmethod
    def create(
        cls,
        path: str | os.PathLike,
        *,
        shape: Sequence[int],
        dtype: Any,
        axes: str,
        block: Sequence[int],
        chunks: Sequence[int] | None = None,
        pixel_size: dict[str, float] | None = None,
        unit: dict[str, str] | None = None,
        origin: dict[str, float] | None = None,
        provenance: dict[str, Any] | None = None,
        run: dict[str, Any] | None = None,
        levels: int = 1,
        compression: str | None = "zstd",
        version: str = WRITE_VERSION,
        overwrite: bool = False,
        resume: bool = False,
    ) -> OmeZarrOutput:
        """Start writing ``path`` (or, with ``resume``, go on with an interrupted run).

        Parameters
        ----------
        path : path-like
            The store to make, ending in ``.ome.zarr`` (or ``.zarr``).
        shape, dtype, axes
            The image; ``axes`` in NGFF order (:func:`ngff_axes`).
        block : sequence of int
            Elements per block along each axis: a multiple of ``chunks`` (or the whole
            axis), so that every chunk belongs to one block.
        chunks : sequence of int, optional
            Chunk shape (default :func:`default_chunks`).
        pixel_size, unit, origin, provenance
            The geometry and the record to store.
        run : dict, optional
            What the run computes (method, scale, input...), JSON: a resumed run must be
            the same run, checked against this.
        levels : int
            Resolution levels: 1 (default) the image only; more add a pyramid, each level
            half the previous along Y and X (block means), written by :meth:`finish`.
        compression : {'zstd', 'zlib'} or None
            Chunk compression (zstd level 3, or gzip level 1; None uncompressed).
        version : {'0.5', '0.4'}
            NGFF version: 0.5 (zarr format 3) or 0.4 (zarr format 2) for older readers.
        overwrite : bool
            Replace an existing ``path`` (when the run finishes) and discard an earlier
            interrupted run.
        resume : bool
            Go on with the interrupted run of ``path`` (its ``.partial`` folder), if any;
            a finished ``path`` made by the same run is taken as it is
            (:attr:`complete`).

        Raises
        ------
        FileExistsError
            ``path`` exists (without ``overwrite``), or an interrupted run of it exists and
            neither ``resume`` nor ``overwrite`` was given.
        ValueError
            A resumed run that is not the same run, bad chunks or block, a bad version.
        """
        require("zarr", "ome_zarr", what="writing OME-Zarr")
        path = Path(path)
        partial = path.with_name(path.name + PARTIAL_SUFFIX)
        shape = tuple(int(n) for n in shape)
        chunks = check_chunks(chunks, shape, axes)
        block = _check_block(block, chunks, shape)
        if version not in ("0.4", "0.5"):
            raise ValueError(f"version must be '0.5' or '0.4', not {version!r}")
        run_record = json.loads(json.dumps(run or {}, default=str))
        if path.exists() and resume and not overwrite and not partial.exists():
            # resuming a run that had finished: nothing to do if it is the same run
            cls._check_same_run(path, path, shape, dtype, block, run_record)
            return cls(path, None, block)
        check_target(path, overwrite=overwrite, folder=True)
        if partial.exists():
            if resume:
                cls._check_same_run(path, partial, shape, dtype, block, run_record)
                return cls(path, partial, block)
            if not overwrite:
                raise FileExistsError(
                    f"an interrupted run of {str(path)!r} left {str(partial)!r}; pass "
                    "resume=True (--resume) to finish it, or overwrite=True (--overwrite) to "
                    "start again"
                )
            shutil.rmtree(partial)
        _create_store(partial, shape, dtype, axes, chunks, block, compression, version,
                      levels, pixel_size or {}, unit or {}, origin or {},
                      provenance or {}, run_record)  # fmt: skip
        return cls(path, partial, block)

    @staticmethod
    def _check_same_run(path, store, shape, dtype, block, run_record) -> None:
        """Raise unless ``store`` (the partial store, or a finished one) was made by the
        same run."""
        import zarr

        try:
            group = zarr.open_group(str(store), mode="r")
            state = dict(group.attrs)["napari-sr-run"]
        except Exception as exc:
            raise ValueError(
                f"cannot resume {str(path)!r}: {str(store)!r} is not a run napari-sr can "
                f"resume ({reason(exc)}); pass overwrite=True to start again"
            ) from exc
        mine = {"shape": list(shape), "dtype": np.dtype(dtype).str, "block": list(block),
                "run": run_record}  # fmt: skip
        theirs = {k: state.get(k) for k in mine}
        if theirs != mine:
            differs = [k for k in mine if theirs[k] != mine[k]]
            detail = _difference(theirs, mine, differs)
            raise ValueError(
                f"cannot resume {str(path)!r}: the run that made it differs from this one "
                f"({detail}); run it as before, or pass overwrite=True to start again"
            )

    # ----------------------------------------------------------------- blocks

    @property
    def grid(self) -> tuple[int, ...]:
        """Blocks along each axis."""
        return tuple(math.ceil(n / b) for n, b in zip(self.array.shape, self.block, strict=True))

    def region(self, index: Sequence[int]) -> tuple[slice, ...]:
        """The slices of block ``index`` in the array."""
        return tuple(
            slice(i * b, min((i + 1) * b, n))
            for i, b, n in zip(index, self.block, self.array.shape, strict=True)
        )

    def all_blocks(self) -> Iterator[tuple[int, ...]]:
        """Every block index, in C order."""
        return iter(np.ndindex(*self.grid))

    @property
    def complete(self) -> bool:
        """Whether the store was finished already (a resumed run that had ended)."""
        return self.partial is None

    def pending(self) -> list[tuple[int, ...]]:
        """The blocks not recorded as written, in C order."""
        if self.blocks is None:
            return []
        done = np.asarray(self.blocks[...]).astype(bool)
        return [tuple(int(i) for i in index) for index in zip(*np.nonzero(~done), strict=True)]

    def write_block(self, index: Sequence[int], values: np.ndarray) -> None:
        """Write block ``index`` and record it as written (idempotent: writing it again
        writes the same chunks)."""
        region = self.region(index)
        expected = tuple(s.stop - s.start for s in region)
        if tuple(values.shape) != expected:
            raise ValueError(
                f"block {tuple(index)} must have shape {expected}, not {values.shape}"
            )
        self.array[region] = values
        self.blocks[tuple(int(i) for i in index)] = 1

    @property
    def scratch(self) -> Path | None:
        """A folder for a run's intermediate data, inside :attr:`partial` (so it is kept
        with the blocks for a resumed run); :meth:`finish` removes it. None once
        finished."""
        return None if self.partial is None else self.partial / SCRATCH_FOLDER

    def update_provenance(self, record: dict[str, Any]) -> None:
        """Replace the provenance record (what a run learns while it runs)."""
        import zarr

        group = zarr.open_group(str(self.partial), mode="r+")
        group.attrs[PROVENANCE_KEY] = json.loads(json.dumps(record, default=str))

    def spec(self) -> tuple[str, str, tuple[int, ...]]:
        """What a task needs to reopen this writer (:meth:`open_block_writer`): picklable."""
        return str(self.path), str(self.partial), self.block

    @classmethod
    def open_block_writer(cls, spec: tuple[str, str, tuple[int, ...]]) -> OmeZarrOutput:
        """The writer of :meth:`spec`, opened in a task (in any process)."""
        path, partial, block = spec
        return cls(Path(path), Path(partial), tuple(block))

    # ----------------------------------------------------------------- finishing

    def finish(self, *, overwrite: bool = False) -> Path:
        """Check every block is written, write the pyramid, drop the block record and put
        the store at :attr:`path`.

        Raises
        ------
        RuntimeError
            If a block is missing (the run did not complete).
        FileExistsError
            If :attr:`path` appeared meanwhile and ``overwrite`` is False.
        """
        if self.partial is None:
            return self.path
        missing = self.pending()
        if missing:
            raise RuntimeError(
                f"{len(missing)} of {math.prod(self.grid)} blocks of {str(self.path)!r} are "
                "not written; the run did not complete (resume it with resume=True)"
            )
        import zarr

        shutil.rmtree(self.partial / SCRATCH_FOLDER, ignore_errors=True)
        group = zarr.open_group(str(self.partial), mode="r+")
        _write_pyramid(group)  # the run's record stays: resuming a finished run is a no-op
        shutil.rmtree(self.partial / BLOCKS_ARRAY)
        _remove_group_entry(self.partial, BLOCKS_ARRAY)
        return _put_in_place(self.partial, self.path, overwrite=overwrite)


def _check_block(block: Sequence[int], chunks: Sequence[int], shape: Sequence[int]):
    block = tuple(int(b) for b in block)
    if len(block) != len(shape):
        raise ValueError(f"block {block} must give one size per axis ({len(shape)})")
    for b, c, n in zip(block, chunks, shape, strict=True):
        if b < 1 or (b % c and b < n):
            raise ValueError(
                f"block {block} must be a multiple of the chunks {tuple(chunks)} (or span "
                "the whole axis), so that no chunk is written by two tasks"
            )
    return tuple(min(b, int(n)) for b, n in zip(block, shape, strict=True))


def _difference(theirs: dict, mine: dict, keys: list[str]) -> str:
    parts = []
    for key in keys:
        if key == "run" and isinstance(theirs[key], dict) and isinstance(mine[key], dict):
            inner = sorted(k for k in set(theirs[key]) | set(mine[key])
                           if theirs[key].get(k) != mine[key].get(k))  # fmt: skip
            parts += [f"{k}: {theirs[key].get(k)!r} then, {mine[key].get(k)!r} now" for k in inner]
        else:
            parts.append(f"{key}: {theirs[key]!r} then, {mine[key]!r} now")
    return "; ".join(parts)


def _create_store(partial: Path, shape, dtype, axes, chunks, block, compression, version,
                  levels, pixel_size, unit, origin, provenance, run_record) -> None:  # fmt: skip
    import zarr

    zarr_format = 3 if version == "0.5" else 2
    levels = int(levels)
    if levels < 1:
        raise ValueError(f"levels must be at least 1 (the image itself), not {levels}")
    group = zarr.open_group(str(partial), mode="w", zarr_format=zarr_format)
    codec = _codecs(compression, zarr_format)
    shapes = [tuple(shape)]
    for _ in range(1, levels):
        above = zip(shapes[-1], axes, strict=True)
        shapes.append(tuple(max(1, n // 2) if a in "YX" else n for n, a in above))
    for level, level_shape in enumerate(shapes):
        group.create_array(
            str(level),
            shape=level_shape,
            chunks=tuple(min(c, n) for c, n in zip(chunks, level_shape, strict=True)),
            dtype=np.dtype(dtype),
            fill_value=0,
            compressors=codec,
            **({"dimension_names": [a.lower() for a in axes]} if zarr_format == 3 else {}),
        )
    grid = tuple(math.ceil(n / b) for n, b in zip(shape, block, strict=True))
    group.create_array(BLOCKS_ARRAY, shape=grid, chunks=(1,) * len(grid), dtype="uint8",
                       fill_value=0, compressors=None)  # fmt: skip
    _write_metadata(group, axes, levels, pixel_size, unit, origin, version)
    record = json.loads(json.dumps(provenance, default=str))
    group.attrs.update({
        PROVENANCE_KEY: record,
        "napari-sr-run": {"shape": list(shape), "dtype": np.dtype(dtype).str,
                          "block": list(block), "run": run_record},
    })  # fmt: skip


def _write_metadata(group, axes: str, levels: int, pixel_size, unit, origin, version) -> None:
    import warnings

    from ome_zarr.format import FormatV04, FormatV05

    with warnings.catch_warnings():  # ome-zarr 0.14+ deprecates a default it builds on import
        warnings.simplefilter("ignore", DeprecationWarning)
        from ome_zarr.writer import write_multiscales_metadata

    fmt = FormatV05() if version == "0.5" else FormatV04()
    axes_meta = []
    for a in axes:
        entry = {"name": a.lower(), "type": _AXIS_TYPES[a]}
        if a in pixel_size:
            entry["unit"] = _NGFF_UNITS.get(
                normalize_unit(unit.get(a, "µm")) or "µm", "micrometer"
            )
        axes_meta.append(entry)
    datasets = []
    for level in range(levels):
        factor = 2**level
        scale = [pixel_size.get(a, 1.0) * (factor if a in "YX" else 1) for a in axes]
        # a coarser pixel is the mean of factor x factor finer ones: its centre moves by
        # (factor - 1) / 2 finer pixels
        shift = [origin.get(a, 0.0) + ((factor - 1) / 2 * pixel_size.get(a, 1.0) if a in "YX"
                                       else 0.0) for a in axes]  # fmt: skip
        transforms = [{"type": "scale", "scale": scale}]
        if any(shift):
            transforms.append({"type": "translation", "translation": shift})
        datasets.append({"path": str(level), "coordinateTransformations": transforms})
    write_multiscales_metadata(group, datasets, fmt=fmt, axes=axes_meta)


def _write_pyramid(group) -> None:
    """Levels 1, 2, ... as the means of 2 × 2 blocks (Y, X) of the level above."""
    import dask.array as da

    level = 1
    while str(level) in group:
        above = da.from_zarr(group[str(level - 1)])
        below = group[str(level)]
        factors = _pyramid_factors(above.shape, below.shape)
        coarse = da.coarsen(np.mean, above.astype(np.float64), factors, trim_excess=True)
        if np.dtype(below.dtype).kind in "ui":
            info = np.iinfo(below.dtype)
            coarse = da.clip(da.round(coarse), info.min, info.max)
        coarse = coarse.astype(below.dtype).rechunk(below.chunks)
        da.store(coarse, below, lock=False)
        level += 1


def _pyramid_factors(above, below) -> dict[int, int]:
    return {i: (2 if a > b else 1) for i, (a, b) in enumerate(zip(above, below, strict=True))}


def _remove_group_entry(partial: Path, name: str) -> None:
    """Drop ``name`` from a zarr format 2 group's consolidated listing, if there is one."""
    listing = partial / ".zmetadata"
    if listing.is_file():
        data = json.loads(listing.read_text())
        meta = data.get("metadata", {})
        for key in [k for k in meta if k.startswith(f"{name}/")]:
            del meta[key]
        listing.write_text(json.dumps(data))


def _put_in_place(partial: Path, path: Path, *, overwrite: bool) -> Path:
    """Rename the finished store into place; an existing one (``overwrite``) is moved
    aside first and removed after, so that ``path`` is never half of either."""
    if path.exists():
        if not overwrite:
            raise FileExistsError(
                f"{str(path)!r} appeared while it was being written; nothing was overwritten; "
                f"the result is in {str(partial)!r}"
            )
        old = path.with_name(f".{path.name}.{os.getpid()}.old")
        os.replace(path, old)
        os.replace(partial, path)
        if old.is_dir():
            shutil.rmtree(old, ignore_errors=True)
        else:
            old.unlink(missing_ok=True)
        return path
    os.replace(partial, path)
    return path


def write_ome_zarr(
    path: Path, image: Image, record: dict[str, Any], *, overwrite: bool,
    compression: str | None, levels: int = 1, chunks: Any = None, version: str = WRITE_VERSION,
) -> Path:  # fmt: skip
    """Write ``image`` (numpy or lazy data) as an OME-Zarr image, chunk-aligned block by
    block (a lazy image is never loaded whole), then put it in place atomically.

    ``compression`` ``'zlib'`` writes gzip, ``'zstd'`` zstd, None uncompressed.
    """
    order, transpose = ngff_axes(image.axes)
    data = image.data
    if transpose != tuple(range(len(transpose))):
        data = data.transpose(transpose) if hasattr(data, "transpose") else np.transpose(
            data, transpose)  # fmt: skip
    shape = tuple(int(n) for n in data.shape)
    chunk_shape = check_chunks(chunks, shape, order)
    output = OmeZarrOutput.create(
        path, shape=shape, dtype=data.dtype, axes=order, block=chunk_shape, chunks=chunk_shape,
        pixel_size=image.pixel_size, unit=image.unit, origin=image.origin, provenance=record,
        levels=levels, compression=compression, version=version, overwrite=True,
    )  # fmt: skip
    try:
        for index in output.all_blocks():
            output.write_block(index, np.asarray(data[output.region(index)]))
        return output.finish(overwrite=overwrite)
    except BaseException:
        shutil.rmtree(output.partial, ignore_errors=True)
        raise
