"""The napari reader: files of the formats napari opens through napari-sr (TIFF, OME-TIFF
and OME-Zarr: ``napari_reader`` in :data:`napari_sr.io.formats.FORMATS`) to image layers
with physical scale; large ones lazily, multiscale OME-Zarr as multiscale layers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..io.formats import format_for_name, get_format, strip_extension
from .layers import image_to_layers


def get_reader(path: str | list[str]) -> Callable | None:
    """napari's reader hook: a function that reads ``path``, or None for anything this
    plugin cannot read (other suffixes, folders, pipes, several files, files whose content
    is not of the format their name says, and files that :func:`napari_sr.io.probe` finds
    truncated, corrupt, with more than five axes, with an unavailable codec or too large for
    memory).

    Never raises: napari does not fall back to another reader when the chosen one fails,
    so a file is claimed only after its header and metadata were checked.
    """
    if isinstance(path, list | tuple):
        if len(path) != 1:
            return None
        path = path[0]
    try:
        file = Path(path)
        folder = file.is_dir()
        fmt = format_for_name(file, folder=folder)
        if folder and fmt is None:  # perhaps a folder of one DICOM series: probe decides
            fmt = get_format("DICOM")
        if fmt is None or not fmt.napari_reader or not (folder or file.is_file()):
            return None
        from ..io import probe

        if probe(file).format != fmt.name:  # e.g. a PNG named .tif
            return None
    except Exception:  # whatever the file holds, decline it
        return None
    return read_layers


def read_layers(path: str | list[str]) -> list[tuple]:
    """Read one file as napari layer data (see :mod:`.layers`): large files lazily (napari
    reads the planes it shows), a multiscale OME-Zarr as multiscale layers."""
    from ..io import read

    if isinstance(path, list | tuple):
        path = path[0]
    image = read(path)
    levels = int(image.metadata.get("levels", 1))
    coarser = [read(path, lazy=True, level=k).data for k in range(1, levels)]
    return image_to_layers(image, strip_extension(Path(path).name.rstrip("/")), coarser)
