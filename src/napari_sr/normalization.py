"""Intensity normalisation for learned models, and its inverse.

Networks see intensities mapped so that the bulk of the image lies in about [0, 1]:
a fixed range for 8-bit natural images, percentiles for microscopy (as CARE does; Weigert
et al. 2018, doi:10.1038/s41592-018-0216-7, and its ``csbdeep.utils.normalize``). The
output is mapped back with the same two numbers. A model records which normalisation it was
trained with (:meth:`Normalization.to_dict`), and inference uses the same.

References
----------
.. [1] M. Weigert et al., "Content-aware image restoration: pushing the limits of
   fluorescence microscopy," Nature Methods 15, 1090-1097 (2018).
   doi:10.1038/s41592-018-0216-7
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .axes import resolve_axes
from .utils.planes import pick_planes

KINDS = ("percentile", "range")

PERCENTILE_SAMPLE = 2**22
"""Percentiles of a large stack are taken on an evenly strided sample of about this many
values: the limits move by far less than one grey level, and memory stays bounded."""

SAMPLE_PLANES = 64
"""Planes of a stack (evenly spaced) that :func:`intensity_sample` looks at: every plane
of most stacks, and of a stack larger than memory a read of a few per cent of it."""


@dataclass(frozen=True)
class Normalization:
    """How intensities are mapped to the network's range.

    Attributes
    ----------
    kind : {'percentile', 'range'}
        ``'percentile'``: ``low`` and ``high`` are percentiles (0-100) of the input image,
        computed per call; ``'range'``: ``low`` and ``high`` are fixed intensities.
    low, high : float
        Percentiles or intensities mapped to 0 and 1.
    """

    kind: str = "percentile"
    low: float = 1.0
    high: float = 99.8

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"normalisation kind must be one of {KINDS}, not {self.kind!r}")
        if not (np.isfinite(self.low) and np.isfinite(self.high)) or self.high <= self.low:
            raise ValueError(
                f"normalisation needs finite low < high, got low={self.low}, high={self.high}"
            )
        if self.kind == "percentile" and not (0 <= self.low < self.high <= 100):
            raise ValueError(
                f"percentiles must satisfy 0 <= low < high <= 100, got {self.low}, {self.high}"
            )

    def limits(self, data: np.ndarray) -> tuple[float, float]:
        """The intensities mapped to 0 and 1 for ``data`` (any shape).

        For percentiles a flat image (high == low) gets a unit-wide range around its value
        so that it passes through unchanged instead of dividing by zero.
        """
        if self.kind == "range":
            return float(self.low), float(self.high)
        flat = np.asarray(data).reshape(-1)
        step = max(1, flat.size // PERCENTILE_SAMPLE)
        lo, hi = np.percentile(flat[::step], [self.low, self.high])
        lo, hi = float(lo), float(hi)
        if not hi > lo:
            hi = lo + 1.0
        return lo, hi

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description, stored in checkpoints."""
        return {"kind": self.kind, "low": float(self.low), "high": float(self.high)}

    @classmethod
    def from_dict(cls, value: dict[str, Any] | Normalization | None) -> Normalization:
        """Inverse of :meth:`to_dict`; None gives the microscopy default (percentiles 1, 99.8)."""
        if value is None:
            return cls()
        if isinstance(value, Normalization):
            return value
        try:
            return cls(str(value["kind"]), float(value["low"]), float(value["high"]))
        except (KeyError, TypeError) as err:
            raise ValueError(
                "normalisation must be a dict with 'kind', 'low' and 'high', "
                f"e.g. {{'kind': 'percentile', 'low': 1, 'high': 99.8}}; got {value!r}"
            ) from err


MICROSCOPY = Normalization("percentile", 1.0, 99.8)
"""Percentiles 1 and 99.8 of the input: robust to hot pixels and empty background."""

NATURAL_8BIT = Normalization("range", 0.0, 255.0)
"""8-bit natural images: the full uint8 range (the SR literature's convention)."""


IMAGE_RANGE = Normalization("percentile", 0.1, 99.99)
"""Nearly the image's whole range mapped to 0-1, as an 8-bit image fills 0-255: how the
bundled natural-image defaults see uint16 and float images. Percentiles 1 and 99.8 put
bright structures above 1, where those networks never learnt (measured on real
microscopy planes at ×2: +1.9 instead of -0.3 dB over bicubic on a Golgi stack), and 0.1 /
99.99 % leave a few hundred hot pixels no say."""


def default_normalization(dtype: np.dtype) -> Normalization:
    """The normalisation to train with when none is given: fixed for uint8, else percentiles."""
    return NATURAL_8BIT if np.dtype(dtype) == np.uint8 else MICROSCOPY


def intensity_sample(data: Any, axes: str | None = None) -> np.ndarray:
    """The values an image's percentile limits are computed on, the same for a numpy, dask
    or zarr array of the same values.

    Up to :data:`SAMPLE_PLANES` evenly spaced (Y, X) planes
    (:func:`~napari_sr.utils.planes.pick_planes`; with a channel axis, every channel plane
    counts as one), each read on a regular grid of every k-th row and column, k the
    smallest that keeps the sample within about :data:`PERCENTILE_SAMPLE` values. So a
    stack larger than memory is read only where the sample lies (its chunks), and the
    limits, hence the output of every block, are those of the in-memory path.

    Parameters
    ----------
    data : array-like
        numpy, dask or zarr array with ``axes``.
    axes : str, optional
        Its axes (default: guessed from the shape).

    Returns
    -------
    numpy.ndarray
        1-D sample in ``data``'s dtype.
    """
    shape = tuple(int(n) for n in data.shape)
    axes = resolve_axes(axes, shape)
    height, width = shape[axes.index("Y")], shape[axes.index("X")]
    planes = math.prod(shape) // max(1, height * width)
    pixels = min(planes, SAMPLE_PLANES) * height * width
    k = max(1, math.ceil(math.sqrt(pixels / PERCENTILE_SAMPLE)))
    grid = {"Y": slice(None, None, k), "X": slice(None, None, k)}
    return np.concatenate([p.ravel() for p in pick_planes(data, axes, SAMPLE_PLANES, crop=grid)])


def normalize(data: np.ndarray, limits: tuple[float, float]) -> np.ndarray:
    """Map ``limits[0] -> 0`` and ``limits[1] -> 1`` (float32 unless ``data`` is float64)."""
    lo, hi = limits
    out_dtype = np.float64 if np.asarray(data).dtype == np.float64 else np.float32
    return ((np.asarray(data, dtype=out_dtype) - lo) / (hi - lo)).astype(out_dtype, copy=False)


def denormalize(data: np.ndarray, limits: tuple[float, float]) -> np.ndarray:
    """Inverse of :func:`normalize`."""
    lo, hi = limits
    return data * (hi - lo) + lo
