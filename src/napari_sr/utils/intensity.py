"""Dtype policy: which dtypes are accepted, the float type to compute in, casting back."""

from __future__ import annotations

import numpy as np

SUPPORTED_DTYPES = tuple(
    np.dtype(t) for t in (np.uint8, np.uint16, np.int16, np.float32, np.float64)
)


def check_dtype(dtype: np.dtype, name: str = "image") -> np.dtype:
    """Return ``dtype`` if napari-sr supports it, else raise a TypeError naming the fix."""
    dtype = np.dtype(dtype).newbyteorder("=")  # big-endian data from files is fine
    if dtype not in SUPPORTED_DTYPES:
        names = ", ".join(d.name for d in SUPPORTED_DTYPES)
        raise TypeError(
            f"{name} has dtype {dtype.name}, which napari-sr does not handle; supported are "
            f"{names} - convert first, e.g. image.astype(numpy.float32)"
        )
    return dtype


def working_dtype(dtype: np.dtype) -> np.dtype:
    """The float dtype to compute in: float64 stays float64, everything else float32."""
    return np.dtype(np.float64) if np.dtype(dtype) == np.float64 else np.dtype(np.float32)


def cast(array: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Cast float results to ``dtype``: integers are rounded half to even and clipped."""
    dtype = np.dtype(dtype)
    if dtype.kind in "ui":
        info = np.iinfo(dtype)
        return np.clip(np.rint(array), info.min, info.max).astype(dtype)
    return array.astype(dtype, copy=False)


def check_finite(array: np.ndarray, name: str = "image") -> None:
    """Raise a ValueError if a float array holds NaN or infinite values."""
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        bad = int(np.count_nonzero(~np.isfinite(array)))
        raise ValueError(
            f"{name} contains {bad} NaN or infinite value(s); replace them first, "
            "e.g. numpy.nan_to_num(image)"
        )
