"""What every format of :mod:`napari_sr.io` shares: the probe record, the metadata warning,
the checks of pixel sizes, origins, memory and pixel types, the provenance record and the
error messages for damaged files."""

from __future__ import annotations

import contextlib
import json
import logging
import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..axes import AXIS_LETTERS
from ..image import normalize_unit, to_micrometres

PROVENANCE_KEY = "napari-sr"
"""Key of napari-sr's provenance record inside the OME Image Description JSON (and the
name of the PNG text chunk that holds it)."""
MAX_AXES = len(AXIS_LETTERS)
_SIZE_RANGE_UM = (1e-6, 1e9)
"""Pixel sizes napari-sr believes, in µm: from a picometre (electron microscopy is above
that) to a kilometre. Anything outside is a broken field, not a measurement."""
UNCALIBRATED = {"pixel", "pixels", "reference frame", ""}


class MetadataWarning(UserWarning):
    """A file's metadata had a field napari-sr could not use (it was ignored)."""


@dataclass(frozen=True)
class FileInfo:
    """What :func:`napari_sr.io.probe` learns about an image file without decoding its
    pixels: shape and axes as stored (:func:`napari_sr.io.read` also restores length-1 axes
    napari-sr recorded)."""

    format: str
    shape: tuple[int, ...]
    dtype: np.dtype
    axes: str


def check_dtype_readable(dtype: np.dtype, path: Path) -> None:
    """Refuse pixels napari-sr does not process (complex, text, records...)."""
    if np.dtype(dtype).kind not in "biuf":
        raise ValueError(
            f"cannot read {str(path)!r}: its pixels are {np.dtype(dtype).name}, which "
            "napari-sr does not process; it reads integer and real (float) images"
        )


def check_memory(shape: tuple[int, ...], dtype: np.dtype, path: Path) -> None:
    """Refuse an image that cannot fit in memory before allocating it (a header can claim
    any size; decoding would die in MemoryError or the kernel's OOM killer)."""
    from ..utils import memory

    needed = math.prod(shape) * np.dtype(dtype).itemsize
    available = memory.available_memory()
    if available is not None and needed > available:
        raise ValueError(
            f"cannot read {str(path)!r}: its image of shape {shape} ({np.dtype(dtype).name}) "
            f"needs {human_size(needed)} of memory but only {human_size(available)} is available; "
            "crop or split the file first, or use a machine with more memory"
        )


LAZY_BYTES = 2**30
"""Images larger than this (or than a quarter of the memory available) are read lazily when
:func:`napari_sr.io.read` is not told otherwise."""


def lazy_threshold() -> int:
    """Bytes above which :func:`napari_sr.io.read` returns lazy (dask) data by default:
    :data:`LAZY_BYTES`, or a quarter of the available memory if that is less."""
    from ..utils import memory

    available = memory.available_memory()
    return LAZY_BYTES if available is None else min(LAZY_BYTES, available // 4)


def wants_lazy(lazy: bool | None, shape: tuple[int, ...], dtype: Any) -> bool:
    """Whether a reader returns dask data: as asked, or (None) above :func:`lazy_threshold`."""
    if lazy is not None:
        return bool(lazy)
    return math.prod(shape) * np.dtype(dtype).itemsize > lazy_threshold()


def usable_sizes(
    raw: dict[str, Any],
    units: dict[str, Any],
    axes: str,
    path: Path,
    notes: list[str],
    stacklevel: int = 4,
) -> tuple[dict[str, float], dict[str, str]]:
    """Keep the pixel sizes that are positive finite lengths in a known unit, for axes the
    image has; warn about each other one (the image is still read). ``stacklevel`` points
    the warning at the caller of :func:`napari_sr.io.read` (4: read, a format's reader,
    this function)."""
    sizes: dict[str, float] = {}
    kept_units: dict[str, str] = {}
    for axis, entry in raw.items():
        value, field = entry if isinstance(entry, tuple) else (entry, f"pixel size {axis}")
        raw_unit = units.get(axis, "µm")
        unit = normalize_unit(raw_unit) if isinstance(raw_unit, str) else None
        if axis not in axes:
            continue
        if unit is not None and unit.lower() in UNCALIBRATED:
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
            warnings.warn(message, MetadataWarning, stacklevel=stacklevel)
            notes.append(f"ignored pixel size {axis} = {value!r} ({problem})")
            continue
        sizes[axis] = size
        kept_units[axis] = unit or "µm"
    return sizes, kept_units


def usable_origin(origin: Any, axes: str) -> dict[str, float]:
    """The finite origins of axes the image has, from a recorded ``origin`` dict."""
    if not isinstance(origin, dict):
        return {}
    kept = {}
    for axis, value in origin.items():
        with contextlib.suppress(TypeError, ValueError, AttributeError):
            number = float(value)
            if str(axis).upper() in axes and math.isfinite(number):
                kept[str(axis).upper()] = number
    return kept


def parse_provenance(text: str) -> dict[str, Any]:
    """napari-sr's record from the JSON text a file holds ({} if it holds none)."""
    try:
        record = json.loads(text)
    except (ValueError, RecursionError):
        return {}
    if isinstance(record, dict) and isinstance(record.get(PROVENANCE_KEY), dict):
        return dict(record[PROVENANCE_KEY])
    return {}


def codec_message(path: Path, compression: Any, exc: BaseException) -> str:
    """The error for a compression this installation cannot decode."""
    name = getattr(compression, "name", str(compression))
    if "imagecodecs" in str(exc) or isinstance(exc, ImportError):
        return (
            f"cannot read {str(path)!r}: it is compressed with {name}, which needs the "
            "imagecodecs package - pip install imagecodecs"
        )
    return f"cannot read {str(path)!r}: its compression {name} is not supported ({reason(exc)})"


def corrupt(path: Path, fmt: str, exc: BaseException, log: Any = None) -> ValueError:
    """The ValueError for a file of format ``fmt`` that failed to decode with ``exc``
    (with the first message ``log`` collected from the library)."""
    if "imagecodecs" in str(exc) or isinstance(exc, ImportError):
        return ValueError(codec_message(path, "a codec", exc))
    if isinstance(exc, MemoryError):
        return ValueError(
            f"cannot read {str(path)!r}: not enough memory to decode it; crop or split the "
            "file first, or use a machine with more memory"
        )
    messages = log.messages[:1] if log is not None else []
    why = "; ".join([reason(exc), *messages])
    return ValueError(f"cannot read {str(path)!r}: the {fmt} is truncated or corrupt ({why})")


class LogCollector(logging.Handler):
    """Keeps a logger's warnings as one-line messages."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(" ".join(record.getMessage().split()))


@contextlib.contextmanager
def captured_log(name: str) -> Iterator[LogCollector]:
    """Collect a library's warnings instead of letting them print: the CLI prints one line
    per error, and a readable file's warnings belong in its metadata."""
    logger = logging.getLogger(name)
    collector = LogCollector()
    logger.addHandler(collector)
    propagate, logger.propagate = logger.propagate, False
    try:
        yield collector
    finally:
        logger.removeHandler(collector)
        logger.propagate = propagate


def local_tag(tag: str) -> str:
    """An XML tag without its ``{namespace}``."""
    return tag.rsplit("}", 1)[-1]


def reason(exc: BaseException) -> str:
    """The first line of an exception's message (its type if it has none)."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def human_size(nbytes: float) -> str:
    """A number of bytes in words: ``'1.5 GiB'``."""
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if nbytes < 1024 or unit == "TiB":
            return f"{nbytes:.0f} {unit}" if unit == "bytes" else f"{nbytes:.1f} {unit}"
        nbytes /= 1024
    return f"{nbytes:.1f} TiB"


def record_json(record: dict[str, Any]) -> str:
    """``record`` as the JSON text files hold: ``{"napari-sr": record}``."""
    try:
        return json.dumps({PROVENANCE_KEY: record}, default=_json_default)
    except (ValueError, TypeError, RecursionError) as exc:  # e.g. a record that holds itself
        raise ValueError(
            f"the provenance record cannot be saved as JSON ({reason(exc)}); give a dict of "
            "plain numbers, strings, lists and dicts"
        ) from None


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (np.ndarray, tuple, set)):
        return list(np.asarray(list(value) if isinstance(value, set) else value).tolist())
    return str(value)
