"""The napari writer: an image layer to OME-TIFF or NIfTI with its geometry and provenance (the
formats with ``napari_writer`` in :data:`napari_sr.io.formats.FORMATS`; napari.yaml lists
their endings, and a test compares)."""

from __future__ import annotations

from typing import Any

from .layers import layer_to_image


def write_image(path: str, data: Any, attributes: dict[str, Any]) -> list[str]:
    """napari's single-layer writer hook: write ``data`` to ``path`` in the format its
    ending names (OME-TIFF for the endings napari offers).

    The layer's ``scale`` and ``translate`` become physical pixel sizes and origins (µm) of
    its spatial axes; napari-sr's record in ``metadata`` restores axes and provenance. The
    write is atomic. napari's save dialog asks before replacing a file, so an existing
    file is replaced here.

    Returns
    -------
    list of str
        The path written.
    """
    from ..io import write

    image = layer_to_image(data, attributes)
    written = write(path, image, overwrite=True)
    return [str(written)]
