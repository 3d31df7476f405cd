"""The napari reader: TIFF and OME-TIFF files to image layers with physical scale."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .layers import image_to_layers

SUFFIXES = (".tif", ".tiff")
"""Also covers ``.ome.tif`` and ``.ome.tiff``."""


def get_reader(path: str | list[str]) -> Callable | None:
    """napari's reader hook: a function that reads ``path``, or None for anything this
    plugin cannot read (other suffixes, folders, pipes, several files, and TIFFs that
    :func:`napari_sr.io.probe` finds truncated, corrupt, with more than five axes, with an
    unavailable codec or too large for memory).

    Never raises: napari does not fall back to another reader when the chosen one fails,
    so a file is claimed only after its header and metadata were checked.
    """
    if isinstance(path, list | tuple):
        if len(path) != 1:
            return None
        path = path[0]
    try:
        file = Path(path)
        if file.suffix.lower() not in SUFFIXES or not file.is_file():
            return None
        with open(file, "rb") as fh:
            if fh.read(4) not in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
                return None
        from ..io import probe

        probe(file)
    except Exception:  # whatever the file holds, decline it
        return None
    return read_layers


def read_layers(path: str | list[str]) -> list[tuple]:
    """Read one TIFF/OME-TIFF file as napari layer data (see :mod:`.layers`)."""
    from ..io import read

    if isinstance(path, list | tuple):
        path = path[0]
    image = read(path)
    return image_to_layers(image, _layer_name(Path(path)))


def _layer_name(path: Path) -> str:
    name = path.name
    for suffix in (".ome.tiff", ".ome.tif", ".tiff", ".tif"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem
