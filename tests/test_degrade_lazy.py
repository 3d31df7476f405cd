"""degrade of dask and zarr arrays: block by block (blur halos, lazy resize, noise by
whole planes), bit for bit the in-memory result, noise included."""

from __future__ import annotations

import numpy as np
import pytest

da = pytest.importorskip("dask.array")

from napari_sr import Image, degrade  # noqa: E402

CASES = [
    # shape, axes, options, chunks
    ((10, 40, 36), "ZYX", {"scale": 2, "blur": 1.2, "noise": {"poisson": 50, "gaussian": 0.01}},
     (3, 13, 12)),  # every axis chunked: halos along Y and X, then whole planes for the noise
    ((12, 33, 30), "ZYX", {"scale": {"Z": 3, "Y": 2}, "blur": [2.5, 1, 0.7],
                           "noise": {"gaussian": 0.02, "bits": 12, "gain": 3000}},
     (1, 33, 30)),  # one plane per chunk: the z blur reaches 10 chunks each way
    ((2, 9, 20, 24), "TZYX", {"scale": {"Z": 2}, "blur": {"Z": 3.0}, "kernel": "decimate",
                              "noise": {"poisson": 20}},
     (1, 3, 6, 8)),  # the z kernel is longer than the stack: z is held whole
    ((30, 26, 3), "YXC", {"scale": 2, "blur": 0.8, "noise": {"gaussian": 0.05}},
     (10, 8, 1)),  # channels last: the noise's planes are (X, C)
    ((50, 44), "YX", {"scale": 3, "blur": 1.5, "noise": {"poisson": 10}}, (16, 14)),
    ((10, 40, 36), "ZYX", {"scale": 2.5, "kernel": "lanczos3"}, (4, 20, 20)),
]  # fmt: skip


@pytest.mark.parametrize(("shape", "axes", "options", "chunks"), CASES)
def test_lazy_degrade_equals_in_memory(rng, shape, axes, options, chunks):
    for dtype in (np.float32, np.uint16):
        data = rng.random(shape).astype(np.float32)
        if dtype == np.uint16:
            data = (data * 4000).astype(dtype)
        expected = degrade(data, axes=axes, seed=3, **options)
        lazy = degrade(da.from_array(data, chunks=chunks), axes=axes, seed=3, **options)
        assert type(lazy).__module__.startswith("dask")
        assert lazy.shape == expected.shape and lazy.dtype == expected.dtype
        np.testing.assert_array_equal(lazy.compute(), expected)


def test_seeded_noise_is_reproducible_and_each_plane_gets_its_own(rng):
    data = rng.random((6, 16, 16)).astype(np.float32)
    whole = degrade(data, 2, noise={"poisson": 30, "gaussian": 0.01}, axes="ZYX", seed=5)
    again = degrade(data, 2, noise={"poisson": 30, "gaussian": 0.01}, axes="ZYX", seed=5)
    np.testing.assert_array_equal(whole, again)
    other = degrade(data, 2, noise={"poisson": 30, "gaussian": 0.01}, axes="ZYX", seed=6)
    assert not np.array_equal(whole, other)
    # planes draw from distinct streams: no two planes get the same noise
    residual = whole - degrade(data, 2, axes="ZYX")
    assert not np.allclose(residual[0], residual[1])


def test_image_of_zarr_keeps_geometry(tmp_path, rng):
    zarr = pytest.importorskip("zarr")
    data = (rng.random((4, 32, 32)) * 1000).astype(np.uint16)
    store = zarr.create_array(tmp_path / "x.zarr", shape=data.shape, chunks=(1, 32, 32),
                              dtype=data.dtype)  # fmt: skip
    store[:] = data
    sizes = {"Z": 1.0, "Y": 0.1, "X": 0.1}
    image = Image(store, "ZYX", pixel_size=sizes, unit=dict.fromkeys("ZYX", "µm"))
    low = degrade(image, 2, blur=1.0, noise={"gaussian": 2.0}, seed=1)
    in_memory = Image(data, "ZYX", pixel_size=sizes, unit=dict.fromkeys("ZYX", "µm"))
    expected = degrade(in_memory, 2, blur=1.0, noise={"gaussian": 2.0}, seed=1)
    assert type(low.data).__module__.startswith("dask")
    assert low.pixel_size == expected.pixel_size and low.origin == expected.origin
    np.testing.assert_array_equal(np.asarray(low.data), expected.data)


def test_bad_values_surface_when_computed(rng):
    data = rng.random((4, 16, 16)).astype(np.float32)
    data[2, 3, 3] = np.nan
    lazy = degrade(da.from_array(data, chunks=(1, 16, 16)), 2, axes="ZYX")
    with pytest.raises(ValueError, match="NaN or infinite"):
        lazy.compute()
    negative = da.from_array(np.nan_to_num(data) - 0.5, chunks=(1, 16, 16))
    with pytest.raises(ValueError, match="non-negative"):  # Poisson's check runs at once
        degrade(negative, 2, noise={"poisson": 10}, axes="ZYX")
    with pytest.raises(ValueError, match="unknown noise"):
        degrade(da.from_array(data, chunks=(1, 16, 16)), 2, noise={"speckle": 1}, axes="ZYX")
