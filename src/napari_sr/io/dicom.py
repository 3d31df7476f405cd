"""DICOM series through pydicom (the optional extra ``napari-sr[dicom]``): the slices of one
series, read from any one of its files, stacked into a volume.

Given one file (or a folder of one series' files), every file of its folder that belongs to
the same series (``SeriesInstanceUID``) is read, and the slices are ordered along the slice
normal (the cross product of the two ``ImageOrientationPatient`` directions) by their
``ImagePositionPatient``. The volume's axes are ``ZYX``: Z along the normal, Y down the rows
(``PixelSpacing[0]`` apart), X along the columns (``PixelSpacing[1]``); the z spacing is
the distance between slice positions (not ``SliceThickness``, which may overlap or leave
gaps). The geometry becomes the image's world transform as for NIfTI
(:mod:`napari_sr.io.nifti`), converted from DICOM's LPS to RAS, so a volume written as
NIfTI lands where the scanner put it. ``RescaleSlope``/``RescaleIntercept`` other than 1/0
give float32 values (Hounsfield units for CT).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..image import Image
from ._common import FileInfo, check_memory, corrupt
from .nifti import WORLD_KEY

__all__ = ["MAGIC", "probe_dicom", "read_dicom", "series_file"]

MAGIC = ((128, b"DICM"),)
"""A DICOM Part 10 file: a 128-byte preamble, then ``DICM``."""
_LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


def _is_dicom(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(132)[128:132] == b"DICM"
    except OSError:
        return False


def series_file(folder: Path) -> Path | None:
    """The first DICOM file of ``folder`` (reading the folder reads its series), or None
    when the folder holds no DICOM file.

    Raises
    ------
    ValueError
        The folder holds slices of several series (with pydicom installed to tell them
        apart): which one to read is the user's choice, by opening one of its files.
    """
    files = [f for f in sorted(folder.iterdir()) if f.is_file() and _is_dicom(f)]
    if not files:
        return None
    try:
        import pydicom
    except ImportError:
        return files[0]  # reading it names the missing extra
    series: dict[str, Path] = {}
    for file in files:
        try:
            header = pydicom.dcmread(str(file), stop_before_pixels=True)
        except Exception:  # a damaged slice: reading the series says so
            continue
        series.setdefault(str(getattr(header, "SeriesInstanceUID", "")), file)
    if len(series) > 1:
        examples = ", ".join(repr(f.name) for f in list(series.values())[:3])
        raise ValueError(
            f"{str(folder)!r} holds {len(series)} DICOM series; open one of their files "
            f"(e.g. {examples}) to read that series"
        )
    return files[0]


def _series(path: Path) -> list[Any]:
    """The headers of every slice of ``path``'s series in its folder, ordered along the
    slice normal."""
    import pydicom

    try:
        first = pydicom.dcmread(str(path), stop_before_pixels=True)
    except Exception as exc:  # pydicom raises many kinds for damaged files
        raise corrupt(path, "DICOM", exc) from exc
    uid = getattr(first, "SeriesInstanceUID", None)
    slices = []
    for candidate in sorted(path.parent.iterdir()):
        if not candidate.is_file():
            continue
        try:
            if not _is_dicom(candidate):
                continue
            header = pydicom.dcmread(str(candidate), stop_before_pixels=True)
        except (OSError, ValueError, pydicom.errors.InvalidDicomError):
            continue
        if getattr(header, "SeriesInstanceUID", None) == uid and "Rows" in header:
            slices.append((candidate, header))
    if not slices:
        raise ValueError(f"cannot read {str(path)!r}: the DICOM file holds no image")
    normal = _normal(first, path)
    slices.sort(key=lambda item: float(np.dot(_position(item[1], item[0]), normal)))
    return slices


def _orientation(header: Any, path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        values = [float(v) for v in header.ImageOrientationPatient]
    except (AttributeError, TypeError, ValueError):
        return np.array([1.0, 0, 0]), np.array([0, 1.0, 0])  # a secondary capture
    if len(values) != 6:
        raise ValueError(f"cannot read {str(path)!r}: ImageOrientationPatient needs 6 values")
    return np.array(values[:3]), np.array(values[3:])


def _normal(header: Any, path: Path) -> np.ndarray:
    row, column = _orientation(header, path)
    return np.cross(row, column)


def _position(header: Any, path: Path) -> np.ndarray:
    try:
        return np.array([float(v) for v in header.ImagePositionPatient])
    except (AttributeError, TypeError, ValueError):
        number = float(getattr(header, "InstanceNumber", 0) or 0)
        return np.array([0.0, 0.0, number])  # no position: the instance order


def _layout(slices: list, path: Path) -> tuple[tuple[int, ...], np.dtype]:
    header = slices[0][1]
    rows, columns = int(header.Rows), int(header.Columns)
    if any((int(h.Rows), int(h.Columns)) != (rows, columns) for _, h in slices):
        raise ValueError(
            f"cannot read {str(path)!r}: the slices of its series differ in size; convert "
            "the series to NIfTI (dcm2niix) first"
        )
    if int(getattr(header, "SamplesPerPixel", 1)) != 1:
        raise ValueError(
            f"cannot read {str(path)!r}: colour DICOM images are not volumes napari-sr reads"
        )
    signed = int(getattr(header, "PixelRepresentation", 0)) == 1
    bits = int(getattr(header, "BitsAllocated", 16))
    dtype = np.dtype(f"{'i' if signed else 'u'}{max(1, bits // 8)}")
    if _rescaled(header):
        dtype = np.dtype(np.float32)
    return (len(slices), rows, columns), dtype


def _rescaled(header: Any) -> bool:
    slope = float(getattr(header, "RescaleSlope", 1) or 1)
    intercept = float(getattr(header, "RescaleIntercept", 0) or 0)
    return slope != 1 or intercept != 0


def probe_dicom(path: Path) -> FileInfo:
    """Format, shape, dtype and axes of the series ``path`` belongs to, from headers."""
    slices = _series(path)
    shape, dtype = _layout(slices, path)
    if shape[0] == 1:
        return FileInfo("DICOM", shape[1:], dtype, "YX")
    return FileInfo("DICOM", shape, dtype, "ZYX")


def read_dicom(path: Path) -> Image:
    """The series of the DICOM file ``path`` as a ``ZYX`` volume in mm (a single image as
    ``YX``), placed in the world (RAS) by its headers."""
    import pydicom

    slices = _series(path)
    shape, dtype = _layout(slices, path)
    check_memory(shape, dtype, path)
    volume = np.empty(shape, dtype)
    for index, (file, _) in enumerate(slices):
        try:
            dataset = pydicom.dcmread(str(file))
            pixels = dataset.pixel_array
        except Exception as exc:
            raise corrupt(file, "DICOM", exc) from exc
        if _rescaled(dataset):
            slope = float(getattr(dataset, "RescaleSlope", 1) or 1)
            pixels = pixels * slope + float(getattr(dataset, "RescaleIntercept", 0) or 0)
        volume[index] = pixels
    header = slices[0][1]
    row_spacing, column_spacing = (float(v) for v in getattr(header, "PixelSpacing", (1, 1)))
    positions = np.array([_position(h, f) for f, h in slices])
    normal = _normal(header, path)
    steps = np.diff(positions @ normal)
    z_spacing = float(np.median(steps)) if len(steps) else float(
        getattr(header, "SliceThickness", 1) or 1)  # fmt: skip
    if len(steps) and not np.allclose(steps, z_spacing, rtol=0.01, atol=1e-3):
        raise ValueError(
            f"cannot read {str(path)!r}: its slices are not evenly spaced (from "
            f"{steps.min():.3g} to {steps.max():.3g} mm); resample the series first"
        )
    z_spacing = abs(z_spacing) or 1.0
    row, column = _orientation(header, path)
    affine = np.eye(4)  # voxel (x = column, y = row, z = slice) to LPS mm
    affine[:3, 0] = row * column_spacing
    affine[:3, 1] = column * row_spacing
    affine[:3, 2] = normal * z_spacing
    affine[:3, 3] = positions[0]
    world = _LPS_TO_RAS @ affine @ np.diag([1 / column_spacing, 1 / row_spacing, 1 / z_spacing, 1])
    pixel_size = {"X": column_spacing, "Y": row_spacing, "Z": z_spacing}
    metadata = {
        "path": str(path),
        "format": "DICOM",
        WORLD_KEY: {"affine": world.tolist(), "unit": "mm"},
        "dicom": {
            "series": str(getattr(header, "SeriesInstanceUID", "")),
            "modality": str(getattr(header, "Modality", "")),
            "slices": len(slices),
        },
    }
    if len(slices) == 1:  # one image (a radiograph, one slice): a plane
        del pixel_size["Z"]
        return Image(volume[0], "YX", pixel_size, dict.fromkeys("XY", "mm"), {}, metadata)
    return Image(volume, "ZYX", pixel_size, dict.fromkeys("XYZ", "mm"), {}, metadata)
