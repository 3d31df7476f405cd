"""`Image`: an array together with its axes and physical pixel sizes."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .axes import SPATIAL_AXES, resolve_axes
from .utils.lazy import is_dask, is_zarr

_UNIT_ALIASES = {
    "micron": "µm",
    "microns": "µm",
    "um": "µm",
    "µm": "µm",
    "μm": "µm",  # Greek mu, as some writers use
    "\\u00b5m": "µm",  # ImageJ writes this escape literally
    "micrometer": "µm",
    "micrometre": "µm",
    "nm": "nm",
    "nanometer": "nm",
    "nanometre": "nm",
    "pm": "pm",
    "picometer": "pm",
    "picometre": "pm",
    "å": "Å",
    "\u212b": "Å",  # the Angstrom sign, which OME also allows
    "angstrom": "Å",
    "km": "km",
    "in": "in",
    "inch": "in",
    "mm": "mm",
    "millimeter": "mm",
    "millimetre": "mm",
    "cm": "cm",
    "m": "m",
    "meter": "m",
    "metre": "m",
    "pixel": "pixel",
    "pixels": "pixel",
}


CARRIED_METADATA = ("world",)
"""Metadata an :meth:`Image.resampled` result keeps: ``"world"``, the map from the image's
axis-aligned physical coordinates to a world frame (a NIfTI affine,
:mod:`napari_sr.io.nifti`), which a new grid on the same frame shares."""

_MICROMETRES_PER = {"pm": 1e-6, "Å": 1e-4, "nm": 1e-3, "µm": 1.0, "mm": 1e3, "cm": 1e4,
                    "m": 1e6, "km": 1e9, "in": 25400.0}  # fmt: skip


def to_micrometres(value: float, unit: str | None) -> float:
    """A length in µm; raises ValueError for units that are not lengths (e.g. pixel)."""
    factor = _MICROMETRES_PER.get(normalize_unit(unit) or "µm")
    if factor is None:
        raise ValueError(
            f"pixel size unit {unit!r} is not a length napari-sr can convert to µm; give the "
            "pixel size in µm, nm, mm, cm or m"
        )
    return value * factor


def normalize_unit(unit: str | None) -> str | None:
    """Spell a length unit one way (``micron``, ``um`` and ``\\u00B5m`` become ``µm``).

    Unknown spellings are returned stripped but otherwise unchanged; None stays None.
    """
    if unit is None:
        return None
    text = str(unit).strip()
    return _UNIT_ALIASES.get(text.lower(), text)


@dataclass(frozen=True)
class Image:
    """An n-D image with the metadata napari-sr keeps: axes and physical geometry.

    Parameters
    ----------
    data : numpy.ndarray, dask array or zarr array
        The pixels. A dask or zarr array stays as it is (lazy: nothing is read until a
        block is needed; :func:`napari_sr.io.read` gives one for large files); anything
        else becomes a numpy array.
    axes : str, optional
        One letter per dimension from ``TZCYX``; guessed from the shape when omitted.
    pixel_size : dict of str to float, optional
        Physical size of one pixel along each spatial axis that has one (``Z``, ``Y``,
        ``X``), in ``unit``. Axes without an entry have no known size.
    unit : dict of str to str, optional
        Length unit per axis in ``pixel_size`` (``"µm"`` when omitted).
    origin : dict of str to float, optional
        Physical position of the first pixel's centre per spatial axis (0 when absent);
        napari's ``translate``.
    metadata : dict, optional
        Anything else: provenance of how the image was made, the file it came from.
    """

    data: np.ndarray
    axes: str | None = None
    pixel_size: dict[str, float] = field(default_factory=dict)
    unit: dict[str, str] = field(default_factory=dict)
    origin: dict[str, float] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        data = self.data if is_dask(self.data) or is_zarr(self.data) else np.asarray(self.data)
        axes = resolve_axes(self.axes, data.shape)
        sizes = {k.upper(): float(v) for k, v in self.pixel_size.items()}
        for axis, size in sizes.items():
            if axis not in SPATIAL_AXES or axis not in axes:
                raise ValueError(
                    f"pixel_size has an entry for axis {axis!r}, which is not a spatial axis "
                    f"of this image (axes {axes!r}); give sizes for {_spatial(axes)!r} only"
                )
            if not np.isfinite(size) or size <= 0:
                raise ValueError(
                    f"pixel_size[{axis!r}] = {size} is not a positive finite length; "
                    "give the physical size of one pixel, e.g. 0.1 (µm)"
                )
        units = {
            a: normalize_unit(self.unit.get(a, self.unit.get(a.lower(), "µm"))) for a in sizes
        }
        object.__setattr__(self, "data", data)
        object.__setattr__(self, "axes", axes)
        object.__setattr__(self, "pixel_size", sizes)
        object.__setattr__(self, "unit", units)
        object.__setattr__(self, "origin", {k.upper(): float(v) for k, v in self.origin.items()})
        object.__setattr__(self, "metadata", dict(self.metadata))

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    def replace(self, **changes: Any) -> Image:
        """A copy with some fields changed (``dataclasses.replace``)."""
        return replace(self, **changes)

    def with_axes(self, axes: str) -> Image:
        """A copy with other axes letters; pixel sizes and origins of axes that are no
        longer there are dropped."""
        axes = resolve_axes(axes, self.shape)
        if axes == self.axes:
            return self
        keep = [a for a in self.pixel_size if a in axes]
        return self.replace(
            axes=axes,
            pixel_size={a: self.pixel_size[a] for a in keep},
            unit={a: self.unit[a] for a in keep},
            origin={a: v for a, v in self.origin.items() if a in axes},
        )

    def resampled(
        self,
        data: np.ndarray,
        factors: dict[str, float],
        provenance: dict[str, Any],
        *,
        keep_origin: bool = False,
    ) -> Image:
        """The Image of ``data``, made from this one by resampling axis ``a`` by
        ``factors[a]`` (> 1 enlarges): pixel sizes divided by the factors, origins moved
        so that both grids cover the same footprint (:mod:`napari_sr.geometry`), and
        ``provenance`` recorded with this image's file and provenance as its source.
        ``keep_origin`` keeps the first pixel where it was (decimation samples it)."""
        from .geometry import upscaled_origin, upscaled_pixel_size

        pixel_size = dict(self.pixel_size)
        origin = dict(self.origin)
        for axis, factor in factors.items():
            if axis not in pixel_size:
                continue  # no physical grid to keep: the new array starts a fresh one
            size = pixel_size[axis]
            pixel_size[axis] = upscaled_pixel_size(size, factor)
            if keep_origin:
                continue
            origin[axis] = upscaled_origin(origin.get(axis, 0.0), size, factor)
        record = dict(provenance)
        if "path" in self.metadata:
            record["source"] = self.metadata["path"]
        if "provenance" in self.metadata:
            record["source_provenance"] = self.metadata["provenance"]
        metadata = {"provenance": record}
        for key in CARRIED_METADATA:  # the frame the grid lies in, not the grid
            if key in self.metadata:
                metadata[key] = self.metadata[key]
        return Image(
            data,
            axes=self.axes,
            pixel_size=pixel_size,
            unit=self.unit,
            origin=origin,
            metadata=metadata,
        )

    def describe_pixel_size(self) -> str:
        """Human-readable pixel sizes, e.g. ``Z 0.8 µm, Y 0.2 µm, X 0.2 µm``."""
        if not self.pixel_size:
            return "unknown"
        parts = [
            f"{a} {self.pixel_size[a]:.6g} {self.unit[a]}"
            for a in self.axes
            if a in self.pixel_size
        ]
        return ", ".join(parts)


def _spatial(axes: str) -> str:
    return "".join(a for a in axes if a in SPATIAL_AXES)
