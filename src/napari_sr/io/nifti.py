"""NIfTI-1 and NIfTI-2 volumes (``.nii``, ``.nii.gz``) through nibabel: the format of
research MRI.

Axes and geometry
-----------------
NIfTI stores a volume with its first array index ``i`` running fastest, and an affine
that maps voxel indices ``(i, j, k)`` to world coordinates (RAS+, millimetres). napari-sr's
arrays put the slowest axis first, so a NIfTI volume reads as ``ZYX`` with **Z = the
file's third axis (k), Y = its second (j), X = its first (i)**; a fourth axis (time) reads
as ``T`` in front (``TZYX``), a fifth as ``C``. Which anatomical direction Z is depends on
the affine: for an axial acquisition it is inferior-superior, for a thick-slice coronal one
anterior-posterior — in every case it is the file's third axis, the one thick slices are
usually stacked along.

Pixel sizes are the header's voxel sizes (``pixdim``) in the unit of ``xyzt_units``
(millimetres when unset). The affine is kept as the **world transform** of the image
(``metadata["world"]``): the map from napari-sr's axis-aligned physical coordinates (X, Y,
Z in the pixel-size unit, ``origin + index * pixel_size``) to world millimetres. It does not
change when the grid does (upscaling, isotropic reconstruction, cropping change pixel sizes
and origins), so the writer composes it with the new grid: an upscaled or isotropic volume
overlays its input in any viewer that honours the affine.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import numpy as np

from ..image import Image, normalize_unit, to_micrometres
from ..utils.atomic import atomic_write
from ._common import (
    PROVENANCE_KEY,
    FileInfo,
    check_dtype_readable,
    check_memory,
    corrupt,
    parse_provenance,
    record_json,
    wants_lazy,
)

__all__ = [
    "MAGIC",
    "WORLD_KEY",
    "WRITE_TYPES",
    "probe_nifti",
    "read_nifti",
    "world_affine",
    "world_in",
    "write_nifti",
]

MAGIC = ((344, b"n+1\x00"), (4, b"n+2\x00"))
"""NIfTI-1 (magic at byte 344) and NIfTI-2 (at byte 4), also inside a gzip file
(``.nii.gz``: :func:`napari_sr.io.formats.format_of_gzip`)."""
WORLD_KEY = "world"
"""``Image.metadata[WORLD_KEY]``: ``{"affine": 4 × 4 list, "unit": "mm"}``, the map from
the axis-aligned physical coordinates (X, Y, Z) to world coordinates."""
AXES_BY_DIMS = {2: "YX", 3: "ZYX", 4: "TZYX", 5: "CTZYX"}
"""napari-sr's axes of a NIfTI array with that many dimensions (after the transpose that
puts the file's last index first)."""
_UNITS = {"mm": "mm", "micron": "µm", "meter": "m", "unknown": "mm"}
"""nibabel's spatial units, as napari-sr names them (unset: NIfTI's default, mm)."""
WRITE_TYPES = ("uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "float64")
_PROVENANCE_CODE = 6  # a NIfTI "comment" extension holds napari-sr's record


def _load(path: Path):
    """The NIfTI image of ``path``, recognised by its bytes (not its name); its pixels
    stay in the file (memory-mapped when uncompressed) until asked for."""
    import nibabel as nib
    from nibabel.fileholders import FileHolder

    with open(path, "rb") as fh:
        head = fh.read(352)
    gzipped = head[:2] == b"\x1f\x8b"
    if gzipped:
        try:
            with gzip.open(path, "rb") as fh:
                head = fh.read(352)
        except (OSError, EOFError) as exc:
            raise corrupt(path, "NIfTI", exc) from exc
    if head[4:8] == b"n+2\x00":
        kind = nib.Nifti2Image
    elif head[344:348] == b"n+1\x00":
        kind = nib.Nifti1Image
    else:
        what = "a gzip file that is not a NIfTI volume" if gzipped else "not a NIfTI volume"
        raise ValueError(
            f"cannot read {str(path)!r}: it is {what} (no NIfTI-1/2 header); napari-sr "
            "reads .nii and .nii.gz volumes"
        )
    if gzipped and not str(path).lower().endswith(".gz"):  # nibabel decompresses by name
        holder = FileHolder(fileobj=gzip.open(path, "rb"))
    else:
        holder = FileHolder(filename=str(path))
    try:
        return kind.from_file_map({"header": holder, "image": holder})
    except Exception as exc:  # nibabel raises many kinds for damaged files
        raise corrupt(path, "NIfTI", exc) from exc


def _layout(nifti: Any, path: Path) -> tuple[tuple[int, ...], np.dtype, str]:
    shape = tuple(int(n) for n in nifti.shape)
    while len(shape) > 3 and shape[-1] == 1:  # trailing length-1 time or channel axes
        shape = shape[:-1]
    if len(shape) not in AXES_BY_DIMS:
        raise ValueError(
            f"cannot read {str(path)!r}: a NIfTI of {len(shape)} dimensions; napari-sr reads "
            "2 to 5 (x, y, z, time, a fifth as channels)"
        )
    dtype = np.dtype(nifti.get_data_dtype())
    if _scaled(nifti):
        dtype = np.dtype(np.float32 if dtype.itemsize <= 2 else np.float64)
    check_dtype_readable(dtype, path)
    return tuple(reversed(shape)), dtype, AXES_BY_DIMS[len(shape)]


def _scaled(nifti: Any) -> bool:
    """Whether the header scales the stored values (``scl_slope``/``scl_inter``)."""
    slope, inter = nifti.dataobj.slope, nifti.dataobj.inter
    return not (slope in (None, 1) and inter in (None, 0)) and np.isfinite(slope)


def probe_nifti(path: Path) -> FileInfo:
    """Format, shape, dtype and axes of a NIfTI volume, from its header."""
    shape, dtype, axes = _layout(_load(path), path)
    return FileInfo("NIfTI", shape, dtype, axes)


def read_nifti(path: Path, *, lazy: bool | None = None, level: int = 0) -> Image:
    """A NIfTI-1/2 volume: axes ``ZYX`` (``TZYX``, ``CTZYX``), voxel sizes in the
    header's unit, the affine as the image's world transform, napari-sr's provenance
    record if it wrote the file. Scaled integer data (``scl_slope``) reads as float."""
    if level != 0:
        raise ValueError(f"{str(path)!r} is a NIfTI file, which has no resolution levels")
    nifti = _load(path)
    shape, dtype, axes = _layout(nifti, path)
    header = nifti.header
    order = tuple(reversed(range(len(shape))))
    if wants_lazy(lazy, shape, dtype):  # an uncompressed .nii is memory-mapped
        import dask.array as da

        data = da.from_array(nifti.dataobj, chunks="auto").reshape(shape[::-1])
        data = data.transpose(order).astype(dtype)
    else:
        check_memory(shape, dtype, path)
        try:
            values = np.asanyarray(nifti.dataobj)
        except Exception as exc:
            raise corrupt(path, "NIfTI", exc) from exc
        data = np.ascontiguousarray(values.reshape(shape[::-1]).transpose(order)).astype(
            dtype, copy=False
        )
    space_unit = _UNITS.get(header.get_xyzt_units()[0], "mm")
    zooms = [float(str(z)) for z in header.get_zooms()[:3]]  # float32 as written: 0.9
    spatial = "XYZ"[: min(3, len(shape))]
    pixel_size = {a: zooms[i] for i, a in enumerate(spatial) if zooms[i] > 0}
    affine = np.asarray(nifti.affine, dtype=np.float64)
    world = _world_from_affine(affine, [pixel_size.get(a, 1.0) for a in "XYZ"])
    codes = {key: int(header[key]) for key in ("qform_code", "sform_code")}
    version = 2 if "Nifti2" in type(nifti).__name__ else 1
    metadata: dict[str, Any] = {
        "path": str(path),
        "format": "NIfTI",
        WORLD_KEY: {"affine": world.tolist(), "unit": "mm"},
        "nifti": {**codes, "version": version},
    }
    record = _provenance(nifti)
    if record is not None:
        metadata["provenance"] = record
    return Image(data, axes, pixel_size, dict.fromkeys(pixel_size, space_unit), {}, metadata)


def _world_from_affine(affine: np.ndarray, sizes: list[float]) -> np.ndarray:
    """The world transform of a volume read with origin 0: index = physical / size."""
    return affine @ np.diag([1 / s for s in sizes] + [1.0])


def world_affine(image: Image, unit: str = "mm") -> np.ndarray:
    """The NIfTI affine of ``image``'s grid: voxel indices ``(i, j, k)`` (X, Y, Z) to
    world coordinates in ``unit`` (mm), from its world transform (identity for an image
    without one: the physical coordinates) composed with its pixel sizes and origins."""
    world = image.metadata.get(WORLD_KEY) or {"affine": np.eye(4).tolist(), "unit": unit}
    frame = world.get("unit", "mm")
    grid = np.eye(4)
    for row, axis in enumerate("XYZ"):
        if axis in image.pixel_size:
            per = to_micrometres(1.0, image.unit.get(axis, "µm")) / to_micrometres(1.0, frame)
            grid[row, row] = float(image.pixel_size[axis]) * per
            grid[row, 3] = float(image.origin.get(axis, 0.0)) * per
    to_unit = np.diag([to_micrometres(1.0, frame) / to_micrometres(1.0, unit)] * 3 + [1.0])
    return to_unit @ np.asarray(world["affine"], dtype=np.float64) @ grid


def world_in(world: dict[str, Any], unit: str) -> np.ndarray:
    """A world transform (:data:`WORLD_KEY`) for coordinates in ``unit`` (both sides)."""
    ratio = to_micrometres(1.0, world.get("unit", "mm")) / to_micrometres(1.0, unit)
    affine = np.array(world["affine"], dtype=np.float64)
    affine[:3, 3] *= ratio
    return affine


def _provenance(nifti: Any) -> dict[str, Any] | None:
    for extension in nifti.header.extensions:
        if extension.get_code() != _PROVENANCE_CODE:
            continue
        content = extension.get_content()
        text = content.decode("utf-8", "replace") if isinstance(content, bytes) else str(content)
        try:
            wrapped = json.loads(text)
        except ValueError:
            continue
        if isinstance(wrapped, dict) and PROVENANCE_KEY in wrapped:
            return parse_provenance(json.dumps(wrapped[PROVENANCE_KEY]))
    return None


def write_nifti(
    path: Path, image: Image, record: dict[str, Any], *, overwrite: bool, compression: str | None
) -> Path:
    """NIfTI-1 (``.nii``, or gzip-compressed ``.nii.gz``): axes among T, C, Z, Y, X stored
    as (x, y, z, t, c), voxel sizes in mm (µm for images in µm without a world transform),
    the affine of the image's grid (:func:`world_affine`) as both qform and sform, and
    napari-sr's provenance record in a comment extension."""
    import nibabel as nib

    axes = image.axes
    present = [a for a in "XYZTC" if a in axes]
    data = np.transpose(np.asarray(image.data), [axes.index(a) for a in present])
    if "Z" not in present and len(present) > 2:  # planes over time: volumes of one slice
        data, present = data[:, :, np.newaxis], ["X", "Y", "Z", *present[2:]]
    if "C" in present and "T" not in present:  # channels are NIfTI's fifth dimension
        data = data[:, :, :, np.newaxis]
    if image.metadata.get(WORLD_KEY) is None and _space_unit(image) == "µm":
        affine, unit = world_affine(image, "µm"), "micron"  # microscopy without a world
    else:
        affine, unit = world_affine(image), "mm"
    nifti = nib.Nifti1Image(np.asfortranarray(data), affine)
    header = nifti.header
    header.set_xyzt_units(xyz=unit, t="sec")
    codes = image.metadata.get("nifti", {})
    nifti.set_qform(affine, code=int(codes.get("qform_code", 1)) or 1)
    nifti.set_sform(affine, code=int(codes.get("sform_code", 1)) or 1)
    payload = json.dumps({PROVENANCE_KEY: json.loads(record_json(record))}).encode()
    header.extensions.append(nib.nifti1.Nifti1Extension(_PROVENANCE_CODE, payload))
    raw = nifti.to_bytes()
    compressed = str(path).lower().endswith(".gz")

    def _write(tmp: str) -> None:
        with open(tmp, "wb") as fh:
            fh.write(gzip.compress(raw, compresslevel=6, mtime=0) if compressed else raw)

    return atomic_write(path, _write, overwrite=overwrite, size_hint=len(raw))


def _space_unit(image: Image) -> str:
    """µm for an image whose spatial sizes are all in µm-scale units below a millimetre
    (microscopy), else mm."""
    units = {normalize_unit(image.unit.get(a, "µm")) for a in "XYZ" if a in image.pixel_size}
    return "µm" if units and units <= {"µm", "nm"} else "mm"
