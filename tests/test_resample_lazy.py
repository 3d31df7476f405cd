"""resize of dask and zarr arrays: chunk by chunk, each from the input lines its kernel
reaches, bit for bit the in-memory result for every method, scale, axis and dtype."""

from __future__ import annotations

import numpy as np
import pytest

da = pytest.importorskip("dask.array")

from napari_sr import resize  # noqa: E402

METHODS = ["nearest", "bilinear", "bicubic", "bicubic-opencv", "lanczos3", "area"]
CASES = [
    # shape, axes, scale, chunks
    ((12, 33, 41), "ZYX", {"Z": 4}, (3, 16, 41)),  # a point of z: halos along a middle axis
    ((12, 33, 41), "ZYX", 2, (3, 11, 20)),  # every axis chunked
    ((12, 33, 41), "ZYX", 0.5, (5, 16, 16)),  # antialiased downscaling: wide kernels
    ((9, 33, 41), "ZYX", (2.5, 1.5, 1.7), (3, 10, 13)),  # periods 2, 3, 10 on the last axis
    ((30, 40, 3), "YXC", 3, (7, 9, 3)),  # channels last: X is a middle axis
    ((2, 25, 30, 1), "TYXC", {"X": 1 / 3}, (1, 7, 11, 1)),  # a trailing length-1 axis
]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(("shape", "axes", "scale", "chunks"), CASES)
def test_lazy_resize_equals_in_memory(rng, method, shape, axes, scale, chunks):
    for dtype in (np.uint16, np.float32):
        data = (rng.random(shape) * 3000).astype(dtype)
        expected = resize(data, scale, method=method, axes=axes)
        lazy = resize(da.from_array(data, chunks=chunks), scale, method=method, axes=axes)
        assert type(lazy).__module__.startswith("dask")
        assert lazy.shape == expected.shape and lazy.dtype == expected.dtype
        np.testing.assert_array_equal(lazy.compute(), expected)


def test_a_chunk_reads_only_the_lines_its_taps_reach(rng):
    data = rng.random((40, 16, 16)).astype(np.float32)
    seen = []

    def counted(block, block_info=None):
        seen.append(block_info[None]["chunk-location"][0])
        return block

    lazy = da.from_array(data, chunks=(4, 16, 16)).map_blocks(counted, dtype=data.dtype)
    out = resize(lazy, {"Z": 2}, method="bicubic", axes="ZYX")
    seen.clear()
    out[:8].compute()  # in the first output chunk (16 planes): input planes 0-9 and the edge
    assert set(seen) == {0, 1, 2}  # of ten input chunks


def test_nan_in_a_chunk_is_refused(rng):
    data = rng.random((4, 8, 8)).astype(np.float32)
    data[3, 2, 2] = np.inf
    with pytest.raises(ValueError, match="NaN or infinite"):
        resize(da.from_array(data, chunks=(1, 8, 8)), 2, method="bicubic").compute()


def test_zarr_in_dask_out(tmp_path, rng):
    zarr = pytest.importorskip("zarr")
    data = rng.integers(0, 255, (3, 20, 20), dtype=np.uint8)
    store = zarr.open_array(tmp_path / "z.zarr", mode="w", shape=data.shape, chunks=(1, 10, 10),
                            dtype=data.dtype)  # fmt: skip
    store[...] = data
    out = resize(store, 2, method="lanczos3")
    np.testing.assert_array_equal(out.compute(), resize(data, 2, method="lanczos3"))
