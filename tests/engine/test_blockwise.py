"""upscale on data larger than memory: lazy (dask, zarr) inputs, block by block, into
OME-Zarr with progress, cancellation and resume. Every result is compared with the
in-memory path on the same values: they must be equal bit for bit."""

from __future__ import annotations

import threading

import numpy as np
import pytest

pytest.importorskip("dask")
pytest.importorskip("zarr")
pytest.importorskip("torch")

import dask.array as da
import zarr

import napari_sr
from napari_sr import Image, io, upscale
from napari_sr.engine import blockwise
from napari_sr.utils.progress import Cancelled


@pytest.fixture
def one_plane_blocks(monkeypatch):
    """Blocks of one plane each: the smallest blocks, the most seams between them."""
    monkeypatch.setattr(blockwise, "BLOCK_BYTES", 1)


def _lazy(data, chunks):
    return da.from_array(data, chunks=chunks)


def _stack(rng, shape, dtype):
    if np.dtype(dtype).kind == "f":
        return rng.random(shape).astype(dtype)
    high = 255 if np.dtype(dtype) == np.uint8 else 4000
    smooth = np.cumsum(rng.integers(0, 3, shape), axis=-1) % high
    return (smooth + rng.integers(0, high // 20, shape)).astype(dtype)


CASES = [
    # (axes, shape, dtype, scale, method)
    ("ZYX", (3, 40, 52), np.uint16, 2, "bicubic"),
    ("ZYX", (3, 40, 52), np.uint16, 2, "lanczos3"),
    ("ZYX", (3, 33, 41), np.float32, 1.5, "area"),
    ("ZYX", (3, 40, 52), np.uint16, 2, "fast"),
    ("ZYX", (3, 40, 52), np.uint16, 2, "quality"),
    ("TZYX", (2, 2, 36, 30), np.uint8, 3, "fast"),
    ("ZCYX", (2, 2, 30, 36), np.float32, 4, "quality"),
    ("CYX", (2, 30, 36), np.float32, 2, "edsr_light"),
    ("YXC", (30, 36, 3), np.uint8, 2, "quality"),  # RGB: the luma route
    ("ZYXC", (2, 30, 36, 3), np.uint8, 3, "bicubic"),
]


@pytest.mark.parametrize(("axes", "shape", "dtype", "scale", "method"), CASES)
def test_lazy_equals_in_memory_for_every_method_and_axes_order(
    rng, one_plane_blocks, axes, shape, dtype, scale, method
):
    data = _stack(rng, shape, dtype)
    expected = upscale(data, scale, method=method, axes=axes)
    chunks = tuple(
        1 if a not in "YX" else max(1, n // 2) for a, n in zip(axes, shape, strict=True)
    )
    lazy = upscale(_lazy(data, chunks), scale, method=method, axes=axes)
    assert type(lazy).__module__.startswith("dask")
    assert lazy.shape == expected.shape and lazy.dtype == expected.dtype
    np.testing.assert_array_equal(lazy.compute(), expected)


def test_a_zarr_array_and_a_lazy_image_are_taken_too(rng, tmp_path, one_plane_blocks):
    data = _stack(rng, (3, 24, 28), np.uint16)
    store = zarr.open_array(tmp_path / "a.zarr", mode="w", shape=data.shape, chunks=(1, 12, 28),
                            dtype=data.dtype)  # fmt: skip
    store[...] = data
    expected = upscale(data, 2, method="fast")
    np.testing.assert_array_equal(upscale(store, 2, method="fast").compute(), expected)
    image = Image(_lazy(data, (1, 24, 28)), axes="ZYX", pixel_size={"Y": 0.4, "X": 0.4},
                  metadata={"path": "in.ome.zarr"})  # fmt: skip
    result = upscale(image, 2, method="fast")
    assert type(result.data).__module__.startswith("dask")
    assert result.pixel_size == {"Y": 0.2, "X": 0.2}
    record = result.metadata["provenance"]
    assert record["method"] == "fsrcnn_x2.microscope" and record["source"] == "in.ome.zarr"
    assert record["default"]["weights"] == "fsrcnn_x2.microscope"
    np.testing.assert_array_equal(np.asarray(result.data), expected)


def test_nothing_is_computed_until_asked(rng, one_plane_blocks):
    data = _stack(rng, (4, 24, 28), np.uint16)
    reads = []

    def counted(block, block_info=None):
        reads.append(block_info[None]["chunk-location"])
        return block

    lazy = _lazy(data, (1, 24, 28)).map_blocks(counted, dtype=data.dtype)
    result = upscale(lazy, 2, method="bicubic")
    assert reads == []  # interpolation needs no statistics
    result = upscale(lazy, 2, method="quality")
    # the noise estimate and the normalisation sample read planes, once each call
    assert 0 < len(reads) <= 8
    reads.clear()
    result[1].compute()
    assert {r[0] for r in reads} == {1}


def test_nan_in_a_block_is_refused(rng):
    data = rng.random((3, 16, 16)).astype(np.float32)
    data[2, 3, 4] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite"):
        upscale(_lazy(data, (1, 16, 16)), 2, method="bicubic").compute()


def test_options_that_need_out_are_refused_without_it(rng):
    lazy = _lazy(_stack(rng, (2, 16, 16), np.uint16), (1, 16, 16))
    for option in ({"resume": True}, {"chunks": 8}, {"levels": 2}, {"workers": 2}):
        with pytest.raises(ValueError, match="only apply when writing the result"):
            upscale(lazy, 2, method="bicubic", **option)


# ------------------------------------------------------------------------- out=


def test_out_writes_ome_zarr_block_by_block_with_geometry(rng, tmp_path, one_plane_blocks):
    data = _stack(rng, (3, 2, 20, 24), np.uint16)
    image = Image(data, axes="ZCYX", pixel_size={"Z": 1.0, "Y": 0.4, "X": 0.4},
                  origin={"Y": 10.0})  # fmt: skip
    expected = upscale(image, 2, method="fast")
    calls = []
    result = upscale(image, 2, method="fast", out=tmp_path / "up.ome.zarr", chunks=8,
                     progress=lambda d, t: calls.append((d, t)))  # fmt: skip
    # stored in the NGFF order, C before Z
    assert result.axes == "CZYX" and result.shape == (2, 3, 40, 48)
    np.testing.assert_array_equal(np.asarray(result.data), np.moveaxis(expected.data, 1, 0))
    assert result.pixel_size == expected.pixel_size
    assert result.origin == pytest.approx(expected.origin)
    assert result.metadata["provenance"]["method"] == "fsrcnn_x2.microscope"
    assert calls[-1] == (6, 6) and [d for d, _ in calls] == sorted(d for d, _ in calls)
    store = zarr.open_group(tmp_path / "up.ome.zarr", mode="r")
    assert store["0"].chunks == (1, 1, 8, 8)
    assert sorted(store.keys()) == ["0"]  # the block record is gone
    assert not (tmp_path / "up.ome.zarr.partial").exists()


def test_numpy_in_ome_zarr_out_and_a_pyramid(rng, tmp_path):
    data = _stack(rng, (2, 32, 40), np.uint16)
    result = upscale(data, 2, method="bicubic", out=tmp_path / "o.ome.zarr", levels=3)
    np.testing.assert_array_equal(np.asarray(result), upscale(data, 2, method="bicubic"))
    coarse = io.read(tmp_path / "o.ome.zarr", level=2)
    assert coarse.shape == (2, 16, 20)
    full = upscale(data, 2, method="bicubic").astype(np.float64)
    quarter = full.reshape(2, 16, 4, 20, 4).mean(axis=(2, 4))
    # each level halves the one above it, rounding to integers at every step
    assert np.abs(coarse.data.astype(float) - quarter).max() <= 1.0


def test_an_existing_output_is_kept_unless_overwrite(rng, tmp_path):
    data = _stack(rng, (2, 16, 16), np.uint16)
    target = tmp_path / "o.ome.zarr"
    upscale(data, 2, method="bicubic", out=target)
    with pytest.raises(FileExistsError, match="already exists"):
        upscale(data * 0, 2, method="bicubic", out=target)
    assert np.asarray(io.read(target).data).any()
    upscale(data * 0, 2, method="bicubic", out=target, overwrite=True)
    assert not np.asarray(io.read(target).data).any()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.ome.zarr"]


def _cancel_after(blocks):
    cancel = threading.Event()

    def progress(done, total):
        if done >= blocks:
            cancel.set()

    return cancel, progress


def test_cancel_leaves_no_output_and_resume_finishes_identically(rng, tmp_path, one_plane_blocks):
    data = _stack(rng, (8, 24, 28), np.uint16)
    expected = upscale(data, 2, method="fast")
    target = tmp_path / "o.ome.zarr"
    cancel, progress = _cancel_after(3)
    with pytest.raises(Cancelled):
        upscale(data, 2, method="fast", out=target, progress=progress, cancel=cancel)
    assert not target.exists() and (tmp_path / "o.ome.zarr.partial").is_dir()
    with pytest.raises(FileExistsError, match="resume=True"):
        upscale(data, 2, method="fast", out=target)
    calls = []
    result = upscale(data, 2, method="fast", out=target, resume=True,
                     progress=lambda d, t: calls.append((d, t)))  # fmt: skip
    assert 3 <= calls[0][0] < 8 and calls[-1] == (8, 8)  # only the blocks not yet written
    np.testing.assert_array_equal(np.asarray(result), expected)


def test_a_failed_block_leaves_a_run_that_resumes(rng, tmp_path, one_plane_blocks, monkeypatch):
    data = _stack(rng, (6, 16, 20), np.uint16)
    target = tmp_path / "o.ome.zarr"
    real = blockwise._upscale_block
    calls = []

    def flaky(block, job, limits):
        calls.append(1)
        if len(calls) == 4:
            raise OSError("disk went away")
        return real(block, job, limits)

    monkeypatch.setattr(blockwise, "_upscale_block", flaky)
    with pytest.raises(OSError, match="disk went away"):
        upscale(data, 2, method="bicubic", out=target)
    monkeypatch.setattr(blockwise, "_upscale_block", real)
    result = upscale(data, 2, method="bicubic", out=target, resume=True)
    np.testing.assert_array_equal(np.asarray(result), upscale(data, 2, method="bicubic"))


def test_resume_refuses_another_run(rng, tmp_path, one_plane_blocks):
    data = _stack(rng, (4, 16, 20), np.uint16)
    target = tmp_path / "o.ome.zarr"
    cancel, progress = _cancel_after(1)
    with pytest.raises(Cancelled):
        upscale(data, 2, method="bicubic", out=target, progress=progress, cancel=cancel)
    with pytest.raises(ValueError, match=r"differs from this one \(method: 'bicubic' then, "
                                         r"'lanczos3' now\)"):  # fmt: skip
        upscale(data, 2, method="lanczos3", out=target, resume=True)
    result = upscale(data, 2, method="lanczos3", out=target, overwrite=True)
    np.testing.assert_array_equal(np.asarray(result), upscale(data, 2, method="lanczos3"))


def test_blocks_hold_whole_planes_up_to_the_budget(rng):
    data = _stack(rng, (10, 32, 32), np.uint16)
    one_plane = 4 * 64 * 64
    result = upscale(_lazy(data, (1, 32, 32)), 2, method="bicubic")
    assert result.chunks[1:] == ((64,), (64,))
    assert result.chunks[0] == (10,)  # all ten fit in BLOCK_BYTES
    assert blockwise.BLOCK_BYTES >= 10 * one_plane


def test_napari_sr_import_stays_without_dask():
    import subprocess
    import sys

    code = "import sys, napari_sr; print('dask' in sys.modules or 'zarr' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr
    assert napari_sr.upscale is upscale


def test_resuming_a_finished_run_is_a_no_op(rng, tmp_path, monkeypatch):
    data = _stack(rng, (3, 16, 20), np.uint16)
    target = tmp_path / "o.ome.zarr"
    first = upscale(data, 2, method="bicubic", out=target)

    def no_work(*args):
        raise AssertionError("a finished run was computed again")

    monkeypatch.setattr(blockwise, "_upscale_block", no_work)
    again = upscale(data, 2, method="bicubic", out=target, resume=True)
    np.testing.assert_array_equal(np.asarray(again), np.asarray(first))
    with pytest.raises(ValueError, match="the run that made it differs"):
        upscale(data, 3, method="bicubic", out=target, resume=True)
