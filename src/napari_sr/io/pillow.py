"""PNG and JPEG through Pillow: the readers, their probes, and the PNG writer of
:mod:`napari_sr.io`.

Both are 2-D formats: one plane, gray or with gray+alpha, RGB or RGBA samples in a last C
axis. The PNG writer keeps pixel sizes, origin and the provenance record in an ``iTXt``
chunk that the reader restores; JPEG is read only (it is lossy).
"""

from __future__ import annotations

import contextlib
import importlib.util
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..image import Image
from ..utils.atomic import atomic_write
from ._common import (
    PROVENANCE_KEY,
    FileInfo,
    check_memory,
    corrupt,
    parse_provenance,
    record_json,
    usable_origin,
    usable_sizes,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"


def read_png(path: Path) -> Image:
    """A PNG with the pixel sizes, origin and provenance napari-sr wrote into it."""
    return _read_pillow(path, "PNG")


def read_jpeg(path: Path) -> Image:
    """A JPEG's pixels (gray or RGB; CMYK and YCbCr converted to RGB)."""
    return _read_pillow(path, "JPEG")


def probe_png(path: Path) -> FileInfo:
    """Format, shape, dtype and axes of a PNG, without decoding pixels."""
    return _probe_pillow(path, "PNG")


def probe_jpeg(path: Path) -> FileInfo:
    """Format, shape, dtype and axes of a JPEG, without decoding pixels."""
    return _probe_pillow(path, "JPEG")


def _probe_pillow(path: Path, fmt: str) -> FileInfo:
    with _pillow_image(path, fmt) as pil:
        shape, dtype = _pillow_layout(pil, path, fmt)
    return FileInfo(fmt, shape, dtype, "YX" if len(shape) == 2 else "YXC")


@contextlib.contextmanager
def _pillow_image(path: Path, fmt: str) -> Iterator[Any]:
    """Open a PNG/JPEG with Pillow, its decompression-bomb guard turned into our error and
    its warning kept off stderr (the size is checked against memory here instead)."""
    from PIL import Image as PILImage

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PILImage.DecompressionBombWarning)
        try:
            pil = PILImage.open(path, formats=[fmt])
        except PILImage.DecompressionBombError:
            raise ValueError(
                f"cannot read {str(path)!r}: the {fmt} declares more pixels than Pillow's "
                f"safety limit of {2 * (PILImage.MAX_IMAGE_PIXELS or 0)} (a guard against "
                "decompression bombs); if the file is genuine, convert it to TIFF, or raise "
                "PIL.Image.MAX_IMAGE_PIXELS in Python"
            ) from None
        except Exception as exc:
            raise corrupt(path, fmt, exc) from exc
        try:
            yield pil
        finally:
            pil.close()


def _pillow_layout(pil: Any, path: Path, fmt: str) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype of the array :func:`_read_pillow` makes, checking that it fits."""
    width, height = pil.size
    mode = _decoded_mode(pil)
    bands = {"1": 1, "L": 1, "I;16": 1, "I;16B": 1, "I;16L": 1, "I": 1, "F": 1, "LA": 2,
             "RGB": 3, "RGBA": 4}.get(mode)  # fmt: skip
    if bands is None or width == 0 or height == 0:
        raise ValueError(
            f"cannot read {str(path)!r}: its {fmt} pixel mode {pil.mode!r} is not one "
            "napari-sr reads (gray, gray+alpha, RGB, RGBA, palette, CMYK); convert it to TIFF"
        )
    dtype = np.dtype({"1": bool, "I;16": np.uint16, "I;16B": np.uint16, "I;16L": np.uint16,
                      "I": np.int32, "F": np.float32}.get(mode, np.uint8))  # fmt: skip
    shape = (height, width) if bands == 1 else (height, width, bands)
    if fmt == "PNG" and _png_is_16bit_colour(path):
        dtype = np.dtype(np.uint16)
    check_memory(shape, dtype, path)
    return shape, dtype


def _decoded_mode(pil: Any) -> str:
    if pil.mode == "P":
        return "RGBA" if "transparency" in pil.info else "RGB"
    if pil.mode in ("PA", "RGBa", "La"):
        return "RGBA" if pil.mode != "La" else "LA"
    if pil.mode in ("CMYK", "YCbCr", "LAB", "HSV", "RGBX"):
        return "RGB"
    return pil.mode


def _read_pillow(path: Path, fmt: str) -> Image:
    notes: list[str] = []
    record: dict[str, Any] = {}
    with _pillow_image(path, fmt) as pil:
        shape, _ = _pillow_layout(pil, path, fmt)
        mode = _decoded_mode(pil)
        if fmt == "PNG" and _png_is_16bit_colour(path):
            data = _read_png16_colour(path)
        else:
            try:
                if mode != pil.mode:
                    if pil.mode not in ("P", "PA"):
                        notes.append(f"converted from {pil.mode} to {mode}")
                    data = np.asarray(pil.convert(mode))
                else:
                    data = np.asarray(pil)
            except Exception as exc:
                raise corrupt(path, fmt, exc) from exc
        if getattr(pil, "n_frames", 1) > 1:
            notes.append(f"the file holds {pil.n_frames} frames; the first was read")
        text = getattr(pil, "text", {}) if fmt == "PNG" else {}
        if isinstance(text.get(PROVENANCE_KEY), str):
            record = parse_provenance(text[PROVENANCE_KEY])
    if data.ndim not in (2, 3) or data.shape[:2] != shape[:2]:
        raise ValueError(f"{str(path)!r} decodes to an array of shape {data.shape}, not an image")
    if data.dtype.byteorder not in ("=", "|"):
        data = data.astype(data.dtype.newbyteorder("="))
    axes = "YX" if data.ndim == 2 else "YXC"  # a 2D format: gray+alpha, RGB or RGBA samples
    record.pop("axes", None)
    record.pop("shape", None)
    geometry = record.pop("geometry", None)
    sizes, units, origin = {}, {}, {}
    if isinstance(geometry, dict):
        raw_sizes = geometry.get("pixel_size")
        raw_units = geometry.get("unit")
        if isinstance(raw_sizes, dict):
            sizes, units = usable_sizes(
                {str(a).upper(): v for a, v in raw_sizes.items()},
                {str(a).upper(): u for a, u in (raw_units or {}).items()}
                if isinstance(raw_units, dict) else {},
                axes, path, notes, stacklevel=5,
            )  # fmt: skip
        origin = usable_origin(geometry.get("origin"), axes)
    metadata: dict[str, Any] = {"path": str(path), "format": fmt}
    if record:
        metadata["provenance"] = record
    if notes:
        metadata["note"] = "; ".join(notes)
    return Image(data, axes=axes, pixel_size=sizes, unit=units, origin=origin, metadata=metadata)


def _png_is_16bit_colour(path: Path) -> bool:
    """True for 16-bit gray+alpha, RGB and RGBA PNGs, which Pillow decodes to 8 bits."""
    with open(path, "rb") as fh:
        head = fh.read(26)
    return len(head) == 26 and head[24] == 16 and head[25] in (2, 4, 6)


def _read_png16_colour(path: Path) -> np.ndarray:
    if importlib.util.find_spec("cv2") is None:
        raise ValueError(
            f"cannot read {str(path)!r}: it is a 16-bit colour PNG, and Pillow (which "
            "napari-sr reads PNG with) keeps only 8 of its bits - install OpenCV (pip install "
            "opencv-python-headless) to read all 16, or convert the file to TIFF"
        )
    import cv2

    data = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if data is None:
        raise ValueError(f"cannot read {str(path)!r}: the PNG is truncated or corrupt")
    if data.ndim == 3:  # OpenCV orders colours BGR(A)
        data = data[..., [2, 1, 0, 3][: data.shape[2]]] if data.shape[2] in (3, 4) else data
    return np.ascontiguousarray(data)


# ----------------------------------------------------------------------------- writing


_PNG_MODES = {
    ("b1", 1): "1",
    ("u1", 1): "L",
    ("u2", 1): "I;16",
    ("u1", 2): "LA",
    ("u1", 3): "RGB",
    ("u1", 4): "RGBA",
}


def write_png(
    path: Path, image: Image, record: dict[str, Any], *, overwrite: bool, compression: str | None
) -> Path:
    """PNG: one plane (Y X), with gray+alpha, RGB or RGBA samples in a last C axis; pixel
    sizes, origin and provenance go in an ``iTXt`` chunk that :func:`read` restores."""
    from PIL import Image as PILImage
    from PIL import PngImagePlugin

    axes, data = image.axes, image.data
    keep = [i for i, a in enumerate(axes) if a in "YX" or data.shape[i] != 1]
    plane_axes = "".join(axes[i] for i in keep)
    data = data.reshape([data.shape[i] for i in keep])
    if plane_axes == "CYX":
        data, plane_axes = np.moveaxis(data, 0, -1), "YXC"
    bands = 1 if plane_axes == "YX" else data.shape[-1] if plane_axes == "YXC" else 0
    mode = _PNG_MODES.get((data.dtype.str[1:], bands))
    if mode is None:
        what = (
            f"{data.dtype.name} pixels" if plane_axes in ("YX", "YXC") and bands <= 4
            else f"axes {axes!r} with shape {image.shape}"
        )  # fmt: skip
        raise ValueError(
            f"cannot write {str(path)!r} as PNG: PNG holds one 2-D plane of 8-bit gray, "
            "gray+alpha, RGB or RGBA, or 16-bit gray, and this image has "
            f"{what}; write .ome.tif to keep it as it is, or convert it (e.g. one plane, "
            "np.clip(plane, 0, 255).astype(np.uint8))"
        )
    geometry = {"pixel_size": image.pixel_size, "unit": image.unit, "origin": image.origin}
    record = {k: v for k, v in record.items() if k != "origin"}
    record["geometry"] = {k: v for k, v in geometry.items() if v}
    info = PngImagePlugin.PngInfo()
    info.add_itxt(PROVENANCE_KEY, record_json(record))
    pixels = np.ascontiguousarray(data)

    def _write(tmp: str) -> None:
        picture = PILImage.fromarray(pixels)  # the mode follows dtype and bands
        picture.save(tmp, format="PNG", pnginfo=info, compress_level=6)

    return atomic_write(path, _write, overwrite=overwrite, size_hint=pixels.nbytes)
