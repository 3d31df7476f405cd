"""``upscale`` of images larger than memory: lazily, block by block, on one machine or many.

An input that is a dask or zarr array (or an :class:`~napari_sr.image.Image` holding one),
or any input with ``out=``, comes here from :func:`napari_sr.upscale`:

1. The call is planned as the in-memory one (:func:`.job.plan_upscale`): the default role
   picks its weights from the noise of a few planes, the method is loaded once.
2. What depends on the whole image is computed once, before any block: a model's
   normalisation limits, from the same sample of planes the in-memory path uses
   (:func:`~napari_sr.normalization.intensity_sample`).
3. The image is cut into blocks of whole (Y, X) planes (and the whole C axis for RGB
   models), several planes per block up to :data:`BLOCK_BYTES` of output; each block is
   upscaled by the in-memory code (:func:`.job.upscale_planes`) with those limits, so every
   pixel equals the in-memory result, and no halo is needed.
4. Without ``out=``, the result is a lazy dask array (nothing computed). With
   ``out="x.ome.zarr"``, every block is a task that writes its own region of the store and
   records it (:class:`~napari_sr.io.omezarr.OmeZarrOutput`); the tasks run on local
   threads or a dask.distributed cluster (:mod:`.cluster`) with progress and
   cancellation, ``resume=True`` runs only the blocks not yet recorded, and the finished
   store is renamed into place.

The method travels to the workers as one dask key that every task depends on, so a cluster
worker receives (and loads) a model once, not once per task; tasks in one process share it
and run it one at a time (:data:`_MODEL_LOCK`), each using all of the process's cores.
"""

from __future__ import annotations

import math
import os
import threading
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from ..image import Image
from ..utils.lazy import as_dask, is_lazy, require
from ..utils.memory import check_finite
from .job import PLANE_AXES, UpscaleJob, plan_upscale, upscale_planes

__all__ = ["BLOCK_BYTES", "read_written", "upscale_blockwise"]

BLOCK_BYTES = 128 * 2**20
"""A block holds as many whole planes as give about this many output bytes in float32
(at least one plane): a worker's memory is set by it, never by the size of the image."""

_MODEL_LOCK = threading.Lock()
"""Held while a model runs on a block: the model object is shared by the tasks of a
process and is moved to its device and back around each run."""


def upscale_blockwise(
    image: Any,
    scale: float,
    *,
    method: Any = None,
    axes: str | None = None,
    dtype: Any = None,
    device: Any = "auto",
    tile: int | None = None,
    precision: str | None = None,
    self_ensemble: bool = False,
    out: str | os.PathLike | None = None,
    chunks: Any = None,
    levels: int = 1,
    overwrite: bool = False,
    resume: bool = False,
    client: Any = None,
    scheduler: str | None = None,
    workers: int | None = None,
    progress: Any = None,
    cancel: Any = None,
):
    """:func:`napari_sr.upscale` of a lazy input, or of any input into an OME-Zarr store
    (see its documentation for every parameter)."""
    require("dask", what="upscaling block by block")
    import dask.array as da

    source = image if isinstance(image, Image) else None
    data = source.data if source is not None else image
    if source is not None and axes is None:
        axes = source.axes
    if out is None:
        given = [name for name, value, default in (
            ("chunks", chunks, None), ("levels", levels, 1), ("resume", resume, False),
            ("client", client, None), ("scheduler", scheduler, None),
            ("workers", workers, None)) if value is not default and value != default]  # fmt: skip
        if given:
            raise ValueError(
                f"{', '.join(given)} only apply when writing the result (out='result.ome.zarr'); "
                "a lazy result is computed when you compute or save it"
            )
    lazy = as_dask(data) if is_lazy(data) else da.from_array(np.asarray(data))
    job = plan_upscale(lazy, scale, method=method, axes=axes, dtype=dtype, device=device,
                       tile=tile, precision=precision, self_ensemble=self_ensemble,
                       stacklevel=4)  # fmt: skip
    limits = _image_limits(job, lazy)
    whole = _whole_axes(job)
    if out is None:
        base = tuple(max(c) for c in lazy.chunks)
        result = _lazy_result(job, lazy, limits, _block_shape(job, whole, base))
        return result if source is None else _result_image(source, job, result, limits)

    from ..io.omezarr import OmeZarrOutput, check_chunks, ngff_axes
    from .cluster import check_where, cluster_client

    check_where(client, scheduler, workers)  # before anything is written
    order, perm = ngff_axes(job.axes)
    out_shape = tuple(job.out_shape[i] for i in perm)
    zarr_chunks = check_chunks(chunks, out_shape, order)
    base = [1] * len(job.axes)
    for k, i in enumerate(perm):
        base[i] = zarr_chunks[k]
    block = _block_shape(job, whole, tuple(base))
    geometry = _result_image(source or Image(lazy, axes=job.axes), job, None, limits)
    writer = OmeZarrOutput.create(
        out,
        shape=out_shape,
        dtype=job.out_dtype,
        axes=order,
        block=tuple(job.out_shape[i] if job.axes[i] in PLANE_AXES else block[i] for i in perm),
        chunks=zarr_chunks,
        pixel_size=geometry.pixel_size,
        unit=geometry.unit,
        origin=geometry.origin,
        provenance=geometry.metadata["provenance"],
        run=_run_record(job, limits, source, lazy),
        levels=levels,
        overwrite=overwrite,
        resume=resume,
    )
    if writer.complete:  # resumed after it had finished
        return read_written(writer.finish(), source)
    with cluster_client(client, scheduler, workers) as connected:
        _write_blocks(writer, job, lazy.rechunk(block), limits, perm, connected, progress,
                      cancel)  # fmt: skip
    return read_written(writer.finish(overwrite=overwrite), source)


def read_written(path: Any, source: Image | None):
    """The store written, read lazily: an Image for an Image input, else its dask array."""
    from ..io.omezarr import read_ome_zarr

    written = read_ome_zarr(Path(path), lazy=True)
    return written.data if source is None else written


# ----------------------------------------------------------------------------- planning


def _whole_axes(job: UpscaleJob) -> str:
    """Axes every block holds whole: Y and X, and C where a model sees the channels
    together (a 3-channel model, or the luma route of RGB)."""
    plan = job.plan
    together = plan.learned and (plan.in_channels == 3 or job.luma)
    return PLANE_AXES + ("C" if together and "C" in job.axes else "")


def _block_shape(job: UpscaleJob, whole: str, base: tuple[int, ...]) -> tuple[int, ...]:
    """Input elements per block: the whole of ``whole`` axes; along the others multiples
    of ``base`` (the output's chunks), the innermost axis grown first, up to
    :data:`BLOCK_BYTES` of float32 output."""
    y, x = job.plane_axes
    plane = 4 * job.out_shape[y] * job.out_shape[x]
    for a in whole:
        if a not in PLANE_AXES:
            plane *= job.shape[job.axes.index(a)]
    room = max(1, BLOCK_BYTES // plane)
    block = [n if a in whole else min(b, n) for a, n, b in zip(job.axes, job.shape, base,
                                                                strict=True)]  # fmt: skip
    room = max(1, room // math.prod(b for a, b in zip(job.axes, block, strict=True)
                                    if a not in whole))  # fmt: skip
    for i in reversed(range(len(job.axes))):
        if job.axes[i] in whole or room <= 1:
            continue
        grow = min(room, math.ceil(job.shape[i] / block[i]))
        block[i] *= grow
        room //= grow
        block[i] = min(block[i], job.shape[i])
    return tuple(block)


def _image_limits(job: UpscaleJob, data: Any) -> tuple[float, float] | None:
    """A model's normalisation limits for the whole image (None for interpolation)."""
    if not job.plan.learned:
        return None
    from .learned import image_limits

    if not job.luma:
        return image_limits(job.plan, data, job.axes)
    from ..color import nominal_range, rgb_to_ycbcr

    white = nominal_range(job.in_dtype)
    rgb = data.rechunk({len(job.axes) - 1: -1})
    luma = rgb.map_blocks(
        lambda block: rgb_to_ycbcr(block, white).astype(np.float32)[..., 0],
        drop_axis=len(job.axes) - 1,
        dtype=np.float32,
    )
    return image_limits(job.plan, luma, job.axes[:-1], rgb_dtype=job.in_dtype)


def _lazy_result(job: UpscaleJob, data: Any, limits, block: tuple[int, ...]):
    """The upscaled image as a dask array: blocks of ``block`` input elements."""
    import dask
    import dask.array as da

    x = data.rechunk(block)
    y, xx = job.plane_axes
    chunks = list(x.chunks)
    chunks[y], chunks[xx] = (job.out_shape[y],), (job.out_shape[xx],)
    # one key holds the method: a cluster worker receives it once
    method = dask.delayed(job, name=f"napari-sr-method-{uuid.uuid4().hex}")
    return da.map_blocks(
        _upscale_block,
        x,
        method,
        limits,
        dtype=job.out_dtype,
        chunks=tuple(chunks),
        meta=np.empty((0,) * x.ndim, job.out_dtype),
        name=f"napari-sr-upscale-{uuid.uuid4().hex}",
    )


def _upscale_block(block: np.ndarray, job: UpscaleJob, limits) -> np.ndarray:
    """One block of whole planes, upscaled as the in-memory path does."""
    check_finite(block)
    shape = list(block.shape)
    for axis in job.plane_axes:
        shape[axis] = job.out_shape[axis]
    out = np.empty(shape, job.out_dtype)
    if job.plan.learned:
        with _MODEL_LOCK:
            upscale_planes(job, block, out, limits=limits)
    else:
        upscale_planes(job, block, out)
    return out


def _model_record(job: UpscaleJob, limits) -> dict[str, Any]:
    """What a model ran with, for provenance (as ``run_model`` records it)."""
    if not job.plan.learned:
        return {}
    settings = job.settings
    norm = job.plan.normalization(job.in_dtype)
    record = {
        "device": str(settings.device),
        "precision": settings.precision,
        "tile": settings.tile,
        "self_ensemble": job.self_ensemble,
        "normalization": {**norm.to_dict(), "limits": [float(limits[0]), float(limits[1])]},
    }
    if job.plan.checkpoint is not None:
        record["checkpoint"] = job.plan.checkpoint
    return record


def _result_image(source: Image, job: UpscaleJob, result: Any, limits) -> Image:
    """The result's Image (geometry and provenance); ``result`` None gives its geometry
    on a stand-in array of the output's shape (nothing allocated)."""
    if result is None:
        import dask.array as da

        result = da.empty(job.out_shape, dtype=job.out_dtype, chunks=job.out_shape)
    provenance = {**job.record(), **_model_record(job, limits), "blockwise": True}
    return source.with_axes(job.axes).resampled(
        result, dict.fromkeys(PLANE_AXES, job.scale), provenance
    )


def _run_record(job: UpscaleJob, limits, source: Image | None, data: Any) -> dict[str, Any]:
    """What makes two runs the same run (a resumed run must be): method, options, limits,
    and the input (its file, else its shape and type)."""
    record = {
        **job.record(),
        "dtype": np.dtype(job.out_dtype).str,
        "input": (source.metadata.get("path") if source is not None else None)
        or {"shape": list(job.shape), "dtype": np.dtype(job.in_dtype).str},
        "axes": job.axes,
    }
    if job.plan.learned:
        record.update(
            limits=[float(limits[0]), float(limits[1])],
            precision=job.settings.precision,
            tile=job.settings.tile,
            self_ensemble=job.self_ensemble,
            checkpoint=job.plan.checkpoint,
        )
    return record


# ----------------------------------------------------------------------------- writing


def _write_blocks(writer, job, blocks, limits, perm, client, progress, cancel) -> None:
    """Upscale and write every block not yet recorded, on local threads (``client``
    None) or a cluster: one task per block, which reads its input, upscales it and writes
    it, so that no upscaled block waits in memory for another task."""
    import dask

    from .cluster import run_tasks

    if client is not None:  # the method goes to every worker once, not through the scheduler
        method = client.scatter(job, broadcast=True, hash=False)
    else:
        method = dask.delayed(job, name=f"napari-sr-method-{uuid.uuid4().hex}")
    inputs = blocks.to_delayed()
    pending = writer.pending()
    total = math.prod(writer.grid)
    spec = writer.spec()
    task = dask.delayed(_upscale_and_write, pure=True)
    tasks = []
    for index in pending:
        source = [0] * len(index)
        for k, i in enumerate(perm):  # the output's axes are the input's, reordered
            source[i] = index[k]
        key = f"napari-sr-write-{spec[1]}-{index}"
        tasks.append(task(inputs[tuple(source)], method, limits, perm, spec, index,
                          dask_key_name=key))  # fmt: skip
    run_tasks(tasks, client=client, progress=progress, cancel=cancel,
              done=total - len(pending), total=total)  # fmt: skip


def _upscale_and_write(block: np.ndarray, job: UpscaleJob, limits, perm, spec, index):
    """One task: upscale one block and write it to its region of the store (it reopens the
    store, so it runs in any process)."""
    from ..io.omezarr import OmeZarrOutput

    values = _upscale_block(block, job, limits)
    if perm != tuple(range(len(perm))):
        values = np.ascontiguousarray(values.transpose(perm))
    OmeZarrOutput.open_block_writer(spec).write_block(index, values)
    return tuple(index)
