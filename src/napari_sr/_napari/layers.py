"""Between :class:`~napari_sr.image.Image` and napari layer data, keeping the geometry.

A napari image layer has one ``scale`` and ``translate`` entry per dimension. Spatial axes
(``Z``, ``Y``, ``X``) get their physical pixel size and first-pixel position in µm; other
axes (``T``, and ``C`` when it is not split) get 1 and 0. The axes string, units and the
provenance record travel in the layer's ``metadata["napari_sr"]``, so that a layer written
back to a file keeps them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..axes import SPATIAL_AXES, default_axes, is_rgb, resolve_axes
from ..image import Image, to_micrometres
from ..io.nifti import WORLD_KEY, world_in
from ..utils.jsonready import json_ready
from ..utils.lazy import as_dask, is_lazy

META_KEY = "napari_sr"
"""Key of napari-sr's record in a layer's ``metadata``."""


def image_to_layers(
    image: Image, name: str, coarser: list[Any] | None = None
) -> list[tuple[Any, dict, str]]:
    """Layer-data tuples ``(data, kwargs, "image")`` for ``image``.

    An RGB(A) image (a last C axis of 3 or 4 uint8/uint16 values) is one RGB layer; any
    other C axis is split into one layer per channel, named ``"<name> [c<i>]"``. Lazy
    (dask) data stays lazy: napari reads the planes it shows.

    Parameters
    ----------
    image : Image
        The image, with axes and pixel sizes.
    name : str
        Layer name (per channel, a suffix is added).
    coarser : list of arrays, optional
        The coarser levels of a multiscale image (each half the previous along Y and X,
        same axes): the layers are then multiscale, ``[image.data, *coarser]``.
    """
    axes = image.axes
    levels = [image.data, *(coarser or [])]
    if "C" not in axes or is_rgb(axes, image.shape):
        parts = [(levels, image, axes, name)]
    else:
        c = axes.index("C")
        rest = axes.replace("C", "")
        parts = []
        for i in range(image.shape[c]):
            split = [np.take(level, i, axis=c) for level in levels]
            channel = Image(split[0], rest, image.pixel_size, image.unit, image.origin,
                            image.metadata)  # fmt: skip
            parts.append((split, channel, rest, f"{name} [c{i}]"))
    layers = []
    for split, part, part_axes, part_name in parts:
        kwargs = _layer_kwargs(part, part_axes, part_name)
        if len(split) > 1:
            kwargs["multiscale"] = True
        layers.append((split if len(split) > 1 else split[0], kwargs, "image"))
    return layers


def _layer_kwargs(image: Image, axes: str, name: str) -> dict[str, Any]:
    rgb = is_rgb(axes, image.shape)
    dims = axes[:-1] if rgb else axes  # napari's RGB axis has no scale entry
    scale = [_micrometres(image, a) for a in dims]
    translate = [
        to_micrometres(image.origin.get(a, 0.0), image.unit.get(a, "µm"))
        if a in image.pixel_size
        else 0.0
        for a in dims
    ]
    record = {
        "axes": axes,
        "pixel_size": {a: _micrometres(image, a) for a in image.pixel_size},
        "unit": "µm",
    }
    if "provenance" in image.metadata:
        record["provenance"] = image.metadata["provenance"]
    if "path" in image.metadata:
        record["source"] = str(image.metadata["path"])
    kwargs: dict[str, Any] = {
        "name": name,
        "scale": scale,
        "translate": translate,
        "rgb": rgb,
        "metadata": {META_KEY: record},
    }
    world = image.metadata.get(WORLD_KEY)
    if world is not None:  # a NIfTI's affine: napari places the layer in the world by it
        in_um = world_in(world, "µm")
        record[WORLD_KEY] = {"affine": in_um.tolist(), "unit": "µm"}
        affine = _napari_affine(in_um, dims)
        if not np.allclose(affine, np.eye(len(dims) + 1)):
            kwargs["affine"] = affine
    if "Z" in dims or "T" in dims:
        kwargs["axis_labels"] = tuple(dims)
    return kwargs


def _napari_affine(world: np.ndarray, dims: str) -> np.ndarray:
    """A world transform (X, Y, Z order) as napari's affine of a layer with axes
    ``dims``: applied after the layer's scale and translate; other axes unchanged."""
    n = len(dims)
    affine = np.eye(n + 1)
    spatial = [(dims.index(a), "XYZ".index(a)) for a in dims if a in "XYZ"]
    for row, r in spatial:
        for column, c in spatial:
            affine[row, column] = world[r, c]
        affine[row, n] = world[r, 3]
    return affine


def _micrometres(image: Image, axis: str) -> float:
    if axis not in image.pixel_size:
        return 1.0
    return to_micrometres(image.pixel_size[axis], image.unit.get(axis, "µm"))


def layer_to_image(data: Any, attributes: dict[str, Any]) -> Image:
    """The :class:`Image` of a napari image layer's data and attributes (as napari gives a
    writer): axes from napari-sr's record when it fits, else guessed from the shape; pixel
    sizes from ``scale`` and origins from ``translate`` for spatial axes, in µm.

    Raises
    ------
    ValueError
        For a layer whose data is not one array (multiscale) or has no pixels.
    """
    if isinstance(data, list | tuple):
        if len(data) != 1:
            raise ValueError(
                "napari-sr writes single-resolution image layers; this layer is multiscale - "
                "save its full-resolution level (layer.data[0]) as its own layer"
            )
        data = data[0]
    data = np.asarray(data)
    if data.size == 0:
        raise ValueError(f"the layer has no pixels (shape {data.shape}); nothing to write")
    return _with_geometry(data, attributes)


def _with_geometry(data: np.ndarray, attributes: dict[str, Any]) -> Image:
    """``data`` (the pixels, or a placeholder of their shape) as an Image with the
    geometry of the layer ``attributes``."""
    metadata = dict(attributes.get("metadata") or {})
    record = metadata.get(META_KEY) or {}
    axes = record.get("axes")
    try:
        axes = resolve_axes(axes, data.shape) if axes else None
    except ValueError:
        axes = None  # the layer was reshaped since it was read: guess again
    if axes is None:
        axes = _guess_layer_axes(data.shape, bool(attributes.get("rgb")))
    dims = axes[:-1] if is_rgb(axes, data.shape) and attributes.get("rgb") else axes
    scale = list(attributes.get("scale") or [1.0] * len(dims))
    translate = list(attributes.get("translate") or [0.0] * len(dims))
    pixel_size, origin = {}, {}
    for axis, step, shift in zip(dims, scale[-len(dims) :], translate[-len(dims) :], strict=True):
        if axis in SPATIAL_AXES and float(step) > 0:
            pixel_size[axis] = float(step)
            origin[axis] = float(shift)
    extra = {k: v for k, v in metadata.items() if k != META_KEY}
    provenance = record.get("provenance")
    image_meta: dict[str, Any] = {}
    if provenance is not None:
        image_meta["provenance"] = provenance
    elif extra:
        image_meta["provenance"] = {"napari_metadata": json_ready(extra)}
    if WORLD_KEY in record:  # the layer's place in the world (a NIfTI's affine)
        image_meta[WORLD_KEY] = record[WORLD_KEY]
    return Image(data, axes, pixel_size, {a: "µm" for a in pixel_size}, origin, image_meta)


@dataclass(frozen=True)
class LayerInput:
    """An image layer as a widget's input: its geometry now, its pixels later.

    Reading a layer's pixels can take minutes or more memory than there is (a dask or zarr
    array on disk, a multiscale pyramid), so the GUI thread never does it: the form uses
    :attr:`image`, whose geometry is the layer's and whose pixels are a zero-copy
    placeholder of the right shape and dtype; the worker calls :meth:`load`.

    Attributes
    ----------
    image : Image
        Axes, pixel sizes, origins and provenance; ``data`` is a read-only placeholder.
    pixels : array-like
        The layer's full-resolution array, not read yet (level 0 of a multiscale layer).
    name : str
        The layer's name, for messages.
    """

    image: Image
    pixels: Any
    name: str

    @property
    def axes(self) -> str:
        return self.image.axes

    @property
    def shape(self) -> tuple[int, ...]:
        return self.image.shape

    @property
    def lazy(self) -> bool:
        """Whether the pixels are held lazily (a dask or zarr array, or a multiscale
        level): then the work reads them block by block rather than whole."""
        return is_lazy(self.pixels)

    def lazy_image(self) -> Image:
        """The layer as an Image whose data is a dask array (no pixel read): for work that
        runs block by block (:func:`napari_sr.upscale` with ``out=``)."""
        return self.image.replace(data=as_dask(self.pixels))

    def with_axes(self, axes: str | None) -> LayerInput:
        """The same input with other axes letters (None keeps them)."""
        if axes is None:
            return self
        return replace(self, image=self.image.with_axes(axes))

    def load(self) -> Image:
        """Read the pixels into memory: call it off the GUI thread.

        Raises
        ------
        ValueError
            When the layer is held lazily (dask, zarr, multiscale) and its full-resolution
            level would not fit in the memory available.
        """
        pixels = self.pixels
        if not isinstance(pixels, np.ndarray):
            _check_loadable(self.name, self.shape, self.image.dtype)
            pixels = np.asarray(pixels)
        if pixels.shape != self.shape:  # an array-like whose __array__ disagrees with .shape
            raise ValueError(
                f"layer {self.name!r} gave pixels of shape {pixels.shape} but says its shape "
                f"is {self.shape}; make it a numpy array first (numpy.asarray(layer.data))"
            )
        return self.image.replace(data=pixels)


def layer_input(layer: Any, axes: str | None = None) -> LayerInput:
    """The :class:`LayerInput` of a napari image layer, without reading its pixels:
    geometry from its ``scale`` and ``translate``, other ``axes`` letters if given.

    Safe on the GUI thread: only the layer's shape, dtype and attributes are looked at.
    A multiscale layer is its full-resolution level (``layer.data[0]``).
    """
    pixels = layer.data[0] if getattr(layer, "multiscale", False) else layer.data
    shape = tuple(int(n) for n in pixels.shape)
    try:
        dtype = np.dtype(pixels.dtype)
    except TypeError:  # an array-like with a dtype numpy does not know: read as float
        dtype = np.dtype(np.float64)
    if 0 in shape:
        raise ValueError(f"layer {layer.name!r} has no pixels (shape {shape}); choose another")
    placeholder = np.broadcast_to(np.zeros((), dtype), shape)  # no memory, read-only
    image = _with_geometry(
        placeholder,
        {
            "scale": list(layer.scale),
            "translate": list(layer.translate),
            "metadata": dict(layer.metadata),
            "rgb": layer.rgb,
        },
    )
    return LayerInput(image, pixels, layer.name).with_axes(axes)


def _check_loadable(name: str, shape: tuple[int, ...], dtype: np.dtype) -> None:
    from ..utils.memory import _human, available_memory

    needed = int(np.prod(shape, dtype=object)) * dtype.itemsize
    available = available_memory()
    if available is not None and needed > available:
        raise ValueError(
            f"layer {name!r} is held on disk or in chunks and its full-resolution level "
            f"{shape} ({dtype.name}) would need {_human(needed)} of memory, but only "
            f"{_human(available)} is available; work on a crop of it (add a layer of e.g. "
            "layer.data[0][..., :2048, :2048]) or a coarser level"
        )


def _guess_layer_axes(shape: tuple[int, ...], rgb: bool) -> str:
    # a napari layer without a record says whether it is RGB; if not, the last two axes
    # are the image plane
    return default_axes(shape, rgb=None if rgb else False)


def add_result_layer(viewer: Any, source: Any, result: Image, name: str, seconds: float):
    """Add the Image ``result``, computed from the layer ``source``, as a new layer that
    overlays it: geometry from the Image (``scale``/``translate`` in µm), the source's
    colormap, contrast and blending, and the provenance with ``seconds`` in ``metadata``.

    Returns the new layer.
    """
    (data, kwargs, _), *rest = image_to_layers(result, name)
    if rest:  # the input was one layer, so the output is one layer too
        raise AssertionError("one layer in, one layer out")
    record = kwargs["metadata"][META_KEY]
    record["provenance"] = {**record.get("provenance", {}), "seconds": round(seconds, 3)}
    kwargs["name"] = name
    if not kwargs["rgb"]:
        kwargs["colormap"] = source.colormap.name
        kwargs["contrast_limits"] = list(source.contrast_limits)
    kwargs["blending"] = source.blending
    return viewer.add_image(data, **kwargs)


def result_store(name: str) -> str:
    """A new OME-Zarr store in a temporary folder for the result of a lazy layer (written
    block by block there; napari shows it from disk)."""
    import re
    import tempfile
    from pathlib import Path

    folder = Path(tempfile.mkdtemp(prefix="napari-sr-"))
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "result"
    return str(folder / f"{stem}.ome.zarr")


def write_lazy(image: Image, name: str) -> Image:
    """A lazy result written to a new store (:func:`result_store`) in chunks that are its
    dask blocks, so each block is computed once; returned read lazily from there. Call it
    off the GUI thread."""
    from ..io import read, write

    chunks = {a: max(c) for a, c in zip(image.axes, image.data.chunks, strict=True)}
    return read(write(result_store(name), image, chunks=chunks), lazy=True)
