"""Isotropic reconstruction of stacks larger than memory: three passes through scratch
stores, every block computed as the in-memory path computes it.

The in-memory path (:func:`napari_sr.selfsup.isotropic.reconstruct`) interpolates each
(Z, Y, X) volume along z, restores its xz planes (one per y) and its yz planes (one per x),
and fuses the two. An xz plane spans all of z and x, a yz plane all of z and y, so the two
passes read the volume in orthogonal slabs. Out of core:

1. **Lanes.** The volume is copied, whole z planes at a time, into a scratch store chunked
   in narrow columns (``(planes, lane, lane)``): a slab of either orientation then reads
   exactly its own chunks, whatever the input's chunking (a stack stored plane by plane
   would otherwise be read once per slab).
2. **xz.** Slabs of ``lane`` rows are interpolated along z and restored by the lazy
   :func:`napari_sr.upscale` (whole planes per block, the limits of the whole stack); the
   predictions are written to a second scratch store in the same columns.
3. **yz and fusion.** Slabs of ``lane`` columns are interpolated and restored, fused with
   the matching columns of the xz predictions and cast: the result, a lazy dask array, or
   written block by block to ``out=``.

The cubic interpolation along z (:func:`napari_sr.resample.sample_at`) treats every
(y, x) column alone and the engine restores every plane alone, so each pixel is the
in-memory result. Passes 1 and 2 run when the call is made (with progress and
cancellation); the scratch stores live inside the output's ``.partial`` folder, so an
interrupted run resumes from the blocks it had written, or in a temporary folder that
lasts as long as the lazy result does.
"""

from __future__ import annotations

import math
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from ..normalization import default_normalization, intensity_sample
from ..resample import point_grid, sample_at
from ..utils.intensity import cast

__all__ = [
    "LANE_BYTES",
    "Scratch",
    "fuse_views",
    "fusion_limits",
    "interpolate_lazy",
    "lane_width",
    "restore_blockwise",
    "write_result",
]

LANE_BYTES = 64 * 2**20
"""A slab of the interpolated volume (float32, ``lane`` rows or columns of every z) holds
at most about this many bytes; its restored copy and the model's tiles come on top."""

MAX_LANE = 128
"""Columns of the scratch stores are at most this many pixels wide."""

LANE_PLANES_BYTES = 64 * 2**20
"""The lanes pass copies as many whole input planes per task as hold about this many
bytes."""


class Scratch:
    """The folder of the scratch stores; a temporary one is removed when the last
    reference to this object goes (the lazy result's graph holds one)."""

    def __init__(self, path: Path | None = None) -> None:
        self._temporary = None
        if path is None:
            self._temporary = tempfile.TemporaryDirectory(prefix="napari-sr-isotropic-")
            path = Path(self._temporary.name)
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)

    def __reduce__(self):  # a worker gets the path; only this process removes the folder
        return (_reopened, (str(self.path),))


def _reopened(path: str) -> Scratch:
    held = Scratch.__new__(Scratch)
    held._temporary, held.path = None, Path(path)
    return held


def lane_width(n_out: int, y: int, x: int) -> int:
    """Rows (or columns) per slab: as many as keep a float32 slab of ``n_out`` interpolated
    planes within :data:`LANE_BYTES` (at least one), at most :data:`MAX_LANE`."""
    fit = LANE_BYTES // (4 * n_out * max(y, x))
    return max(1, min(fit, MAX_LANE, max(y, x)))


def restore_blockwise(
    data: Any,
    factor: float,
    models: list[Any],
    fuse_limits: list[Any],
    *,
    fuse: str,
    dtype: np.dtype,
    device: str,
    tile: int | None,
    lane: int,
    scratch: Scratch,
    client: Any = None,
    counter: Any = None,
    cancel: Any = None,
):
    """Passes 1 and 2 now, pass 3 as the returned lazy (T, C, Z', Y, X) dask array.

    Parameters
    ----------
    data : dask.array.Array
        The stack as (T, C, Z, Y, X).
    factor : float
        The z factor.
    models : list
        One restoration network per channel.
    fuse_limits : list
        Per channel, a callable of the lazy xz stack that gives the limits of the
        geometric fusion (:func:`napari_sr.selfsup.isotropic.fusion_limits`).
    fuse, dtype, device, tile
        As :func:`napari_sr.isotropic` uses them.
    lane : int
        Scratch columns and slabs, in pixels (:func:`lane_width`).
    scratch : Scratch
        Where the scratch stores go; existing ones (a resumed run) are reused where
        complete.
    client : distributed.Client, optional
        Where the passes run (:func:`napari_sr.engine.cluster.run_tasks`); None: local
        threads.
    counter : Stages, optional
        The call's progress: pass 1 takes one unit per input plane, pass 2 one per xz
        plane (of every time point and channel).
    cancel : threading.Event or callable, optional
        Checked between tasks.
    """
    import dask.array as da

    from ..utils.progress import Stages
    from ._progress import share

    n_t, n_c, n_z, n_y, n_x = data.shape
    grid = point_grid(n_z, factor)
    work = np.float64 if np.dtype(dtype) == np.float64 else np.float32
    counter = counter or Stages(None, 1)
    lanes = _copy_lanes(data, scratch.path / "lanes.zarr", lane, client,
                        share(counter, n_t * n_c * n_z), cancel)  # fmt: skip
    counter.advance(n_t * n_c * n_z)
    volumes = da.from_zarr(lanes)
    xz_store = _open_stage(scratch.path / "xz.zarr", (n_t, n_c, len(grid), n_y, n_x),
                           (1, 1, len(grid), lane, lane), np.float32)  # fmt: skip
    limits, pending, predictions = {}, [], {}
    for t in range(n_t):
        for c in range(n_c):
            volume = volumes[t, c]
            xz_in = _interpolated(volume.rechunk((n_z, lane, n_x)), grid, work)
            xz_in = xz_in.transpose(1, 0, 2)  # (Y, Z', X): one xz plane per y
            limits[t, c] = fuse_limits[c](xz_in)
            predictions[t, c] = _restored(xz_in, models[c], device, tile)
    for (t, c), prediction in predictions.items():
        starts = np.cumsum((0,) + prediction.chunks[0])
        for k, block in enumerate(prediction.to_delayed().ravel()):
            pending.append(((t, c, k), block, int(starts[k]), int(starts[k + 1])))
    _write_xz(xz_store, pending, client, share(counter, n_t * n_c * n_y), cancel)
    counter.advance(n_t * n_c * n_y)
    first_all = da.from_zarr(xz_store.array)
    held = _held(scratch)
    fused = []
    for t in range(n_t):
        row = []
        for c in range(n_c):
            volume = volumes[t, c]
            yz_in = _interpolated(volume.rechunk((n_z, n_y, lane)), grid, work)
            second = _restored(yz_in.transpose(2, 0, 1), models[c], device, tile)
            second = second.transpose(1, 2, 0)  # (Z', Y, X), blocks of whole yz columns
            first = first_all[t, c].rechunk(second.chunks)
            row.append(da.map_blocks(_fused, first, second, held, fuse, limits[t, c], dtype,
                                     dtype=dtype, meta=np.empty((0, 0, 0), dtype)))  # fmt: skip
        fused.append(da.stack(row))
    return da.stack(fused)


# --------------------------------------------------------------------------- fusion


def fusion_limits(model: Any, dtype: np.dtype, fuse: str, xz_planes: Any):
    """The intensities the geometric fusion maps to 0 and 1 (None for the mean): the
    model's normalisation of the same sample of xz planes (numpy or dask, ``(Y, Z', X)``)
    the engine normalises them by (:func:`~napari_sr.normalization.intensity_sample`)."""
    if fuse == "mean":
        return None
    norm = getattr(model, "normalization", None) or default_normalization(dtype)
    return norm.limits(intensity_sample(xz_planes, "TYX"))


def fuse_views(first: np.ndarray, second: np.ndarray, fuse: str, limits, dtype) -> np.ndarray:
    """The xz and yz predictions (float32, the same (Z', Y, X) region) fused, in
    ``dtype``: their mean, or the geometric mean of their intensities above ``limits``'
    low end (a structure must appear in both views)."""
    if fuse == "mean":
        fused = 0.5 * (first + second)
    else:
        low, high = limits
        span = (high - low) or 1.0
        a = np.maximum((first - low) / span, 0)
        b = np.maximum((second - low) / span, 0)
        fused = np.sqrt(a * b) * span + low
    return cast(fused, dtype)


# --------------------------------------------------------------------------- passes


def interpolate_lazy(data: Any, axes: str, grid: np.ndarray):
    """``data`` (dask or zarr, axes ``axes``) interpolated along Z to ``grid`` as a dask
    array in its dtype: blocks of whole z columns, as many rows (Y) as keep a block within
    :data:`LANE_BYTES` in float32."""
    from ..utils.lazy import as_dask

    x = as_dask(data)
    z, y = axes.index("Z"), axes.index("Y")
    row = 4 * len(grid) * math.prod(max(c) for i, c in enumerate(x.chunks) if i not in (z, y))
    x = x.rechunk({z: -1, y: max(1, min(x.shape[y], LANE_BYTES // row))})
    chunks = list(x.chunks)
    chunks[z] = (len(grid),)
    return x.map_blocks(_sample_z, grid, z, x.dtype, chunks=tuple(chunks), dtype=x.dtype)


def _interpolated(volume: Any, grid: np.ndarray, work: type):
    """``volume`` (dask, whole z per block) interpolated along z to ``grid``, in ``work``
    (float) precision."""
    chunks = ((len(grid),), *volume.chunks[1:])
    return volume.map_blocks(_sample_z, grid, 0, work, chunks=chunks, dtype=work)


def _sample_z(block: np.ndarray, grid: np.ndarray, axis: int, dtype: Any) -> np.ndarray:
    """One block of whole z columns interpolated along ``axis``, cast to ``dtype``."""
    from ..utils.memory import check_finite

    check_finite(block)
    return cast(sample_at(block, grid, axis=axis), dtype)


def _restored(planes: Any, model: Any, device: str, tile: int | None):
    """The lazy restoration of a (N, Z', W) stack of planes, as the in-memory pass
    calls the engine."""
    from ..engine.upscaler import upscale

    return upscale(planes, 1, method=model, axes="TYX", dtype=np.float32, device=device,
                   tile=tile)  # fmt: skip


def _fused(first, second, held, fuse: str, limits, dtype):
    return fuse_views(first, second, fuse, limits, dtype)


def _held(scratch: Scratch):
    """The scratch folder as one key of the graph: the lazy result keeps it alive."""
    import dask

    return dask.delayed(scratch, name=f"napari-sr-scratch-{uuid.uuid4().hex}")


class _Stage:
    """A scratch array written by tasks, with a record of the blocks written."""

    def __init__(self, path: Path) -> None:
        import zarr

        self.path = path
        self.array = zarr.open_array(str(path / "data"), mode="r+")

    def mark(self, key: str) -> None:
        (self.path / "written").mkdir(exist_ok=True)
        (self.path / "written" / key).touch()

    def written(self) -> set[str]:
        folder = self.path / "written"
        return {p.name for p in folder.iterdir()} if folder.is_dir() else set()


def _open_stage(path: Path, shape, chunks, dtype) -> _Stage:
    """The scratch array at ``path``, made unless a resumed run made it (same shape)."""
    import zarr

    data = path / "data"
    if data.exists():
        existing = zarr.open_array(str(data), mode="r")
        if existing.shape == tuple(shape) and existing.chunks == tuple(chunks):
            return _Stage(path)
        shutil.rmtree(path)
    group = zarr.open_group(str(path), mode="w")
    group.create_array("data", shape=tuple(shape), chunks=tuple(chunks), dtype=dtype,
                       fill_value=0)  # fmt: skip
    return _Stage(path)


def _copy_lanes(data: Any, path: Path, lane: int, client, progress, cancel):
    """Pass 1: ``data`` copied, whole planes at a time, into columns ``lane`` wide."""
    import dask

    from ..engine.cluster import run_tasks

    n_t, n_c, n_z, n_y, n_x = data.shape
    per_task = max(1, LANE_PLANES_BYTES // (data.dtype.itemsize * n_y * n_x))
    stage = _open_stage(path, data.shape, (1, 1, per_task, lane, lane), data.dtype)
    done = stage.written()
    tasks = []
    for t in range(n_t):
        for c in range(n_c):
            for z0 in range(0, n_z, per_task):
                key = f"{t}-{c}-{z0}"
                if key in done:
                    continue
                planes = data[t, c, z0 : z0 + per_task]
                tasks.append(dask.delayed(_write_region, pure=True)(
                    planes, str(path), (t, c, slice(z0, z0 + per_task)), key,
                    dask_key_name=f"napari-sr-lanes-{uuid.uuid4().hex}"))  # fmt: skip
    total = n_t * n_c * math.ceil(n_z / per_task)
    run_tasks(tasks, client=client, progress=progress, cancel=cancel, done=total - len(tasks),
              total=total)  # fmt: skip
    return stage.array


def _write_region(values: np.ndarray, path: str, region: tuple, key: str) -> str:
    stage = _Stage(Path(path))
    stage.array[region] = np.asarray(values)
    stage.mark(key)
    return key


def _write_xz(stage: _Stage, pending: list, client, progress, cancel) -> None:
    """Pass 2: every xz block not yet written, restored and written to its rows."""
    import dask

    from ..engine.cluster import run_tasks

    done = stage.written()
    tasks = []
    for (t, c, k), block, y0, y1 in pending:
        key = f"{t}-{c}-{k}"
        if key in done:
            continue
        tasks.append(dask.delayed(_write_xz_block, pure=True)(
            block, str(stage.path), t, c, y0, y1, key,
            dask_key_name=f"napari-sr-xz-{uuid.uuid4().hex}"))  # fmt: skip
    run_tasks(tasks, client=client, progress=progress, cancel=cancel,
              done=len(pending) - len(tasks), total=len(pending))  # fmt: skip


def _write_xz_block(block: np.ndarray, path: str, t: int, c: int, y0: int, y1: int,
                    key: str) -> str:  # fmt: skip
    values = np.ascontiguousarray(np.asarray(block).transpose(1, 0, 2))  # (Z', rows, X)
    return _write_region(values, path, (t, c, slice(None), slice(y0, y1)), key)


def write_result(writer: Any, result: Any, lane: int, client, progress, cancel) -> None:
    """Pass 3 into an OME-Zarr store: one task per block of ``result`` (whole z and y,
    columns of x) not yet written; it writes the store's blocks (``lane`` columns each)
    it covers. ``result`` is in the store's axis order, X last."""
    import dask

    from ..engine.cluster import run_tasks

    pending = set(writer.pending())
    grid = writer.grid
    blocks = result.to_delayed()
    starts = np.cumsum((0,) + result.chunks[-1])
    tasks, total = [], 0
    for index in np.ndindex(*blocks.shape):
        first, stop = int(starts[index[-1]]) // lane, math.ceil(int(starts[index[-1] + 1]) / lane)
        lead = tuple(index[:-1])
        covered = [(*lead, k) for k in range(first, min(stop, grid[-1]))]
        total += 1
        if not any(tuple(i) in pending for i in covered):
            continue
        tasks.append(dask.delayed(_write_result_block, pure=True)(
            blocks[index], writer.spec(), covered,
            dask_key_name=f"napari-sr-result-{uuid.uuid4().hex}"))  # fmt: skip
    run_tasks(tasks, client=client, progress=progress, cancel=cancel, done=total - len(tasks),
              total=total)  # fmt: skip


def _write_result_block(values: np.ndarray, spec, covered: list) -> int:
    from ..io.omezarr import OmeZarrOutput

    writer = OmeZarrOutput.open_block_writer(spec)
    first = writer.region(covered[0])[-1].start
    for index in covered:
        region = writer.region(index)[-1]
        writer.write_block(index, values[..., region.start - first : region.stop - first])
    return len(covered)
