"""Arrays larger than memory: dask arrays and zarr arrays, recognised without importing them.

napari-sr takes three kinds of lazy input wherever it takes an array: a dask array, a
zarr array (opened from an OME-Zarr store or made by the caller), and an
:class:`~napari_sr.image.Image` holding either. They are recognised by their type's module,
so that a plain numpy call never imports dask or zarr; :func:`as_dask` turns a zarr array
into a dask array chunked as it is stored.

dask, distributed, zarr and ome-zarr are the optional extra ``napari-sr[large]``;
:func:`require` says how to install them when a lazy path is asked for without them.
"""

from __future__ import annotations

import importlib.util
from typing import Any

__all__ = ["LARGE_EXTRA", "as_dask", "is_dask", "is_lazy", "is_zarr", "require"]

LARGE_EXTRA = 'pip install "napari-sr[large]"'
"""How to install what the lazy and distributed paths need."""

_PACKAGES = {"dask": "dask[array]", "distributed": "distributed", "zarr": "zarr>=3",
             "ome_zarr": "ome-zarr"}  # fmt: skip


def _module(value: Any) -> str:
    return type(value).__module__ or ""


def is_dask(value: Any) -> bool:
    """Whether ``value`` is a dask array (checked without importing dask)."""
    return _module(value).startswith("dask.") and hasattr(value, "chunks")


def is_zarr(value: Any) -> bool:
    """Whether ``value`` is a zarr array (checked without importing zarr)."""
    return _module(value).startswith("zarr.") and hasattr(value, "chunks")


def is_lazy(value: Any) -> bool:
    """Whether ``value`` (or an Image's ``data``) is a dask or zarr array: data that stays
    on disk or in a task graph until a block of it is needed."""
    data = getattr(value, "data", None) if _module(value).startswith("napari_sr.") else value
    return is_dask(data) or is_zarr(data)


def require(*modules: str, what: str = "this") -> None:
    """Raise an ImportError naming the install command if any of ``modules`` is missing."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        names = ", ".join(_PACKAGES.get(m, m) for m in missing)
        raise ImportError(f"{what} needs {names}; install them with {LARGE_EXTRA}")


def as_dask(value: Any):
    """``value`` as a dask array: a dask array as it is, a zarr array chunked as stored.

    Raises
    ------
    TypeError
        For anything else (numpy arrays are not turned lazy here: the in-memory path is
        faster for them).
    """
    if is_dask(value):
        return value
    if is_zarr(value):
        require("dask", what="reading a zarr array lazily")
        import dask.array as da

        return da.from_zarr(value)
    raise TypeError(f"expected a dask or zarr array, not {type(value).__name__}")
