"""misr of a dask or zarr stack of frames: registered from the frames' means (one frame in
memory at a time), fused plane by plane as lazy tasks, equal to the in-memory result."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

da = pytest.importorskip("dask.array")

from napari_sr import Image  # noqa: E402
from napari_sr.multiframe.misr import misr  # noqa: E402
from napari_sr.multiframe.simulate import make_burst  # noqa: E402


@pytest.fixture(scope="module")
def frames() -> np.ndarray:
    """(T, Z, Y, X): 6 shifted frames of a 3-plane stack."""
    scene = ndimage.gaussian_filter(np.random.default_rng(4).random((64, 64)), 2)
    burst, _, _ = make_burst(scene.astype(np.float32), 2, 6, seed=1)
    return np.stack([burst, 0.9 * burst, 1.1 * burst], axis=1)


@pytest.mark.parametrize("method", ["shift-add", "robust", "learned"])
def test_lazy_misr_equals_in_memory(frames, method):
    expected = misr(frames, 2, method=method, axes="TZYX")
    lazy = misr(da.from_array(frames, chunks=(2, 1, 32, 32)), 2, method=method, axes="TZYX")
    assert type(lazy).__module__.startswith("dask")  # nothing fused yet
    assert lazy.shape == expected.shape and lazy.dtype == expected.dtype
    np.testing.assert_array_equal(lazy.compute(), expected)


def test_frames_along_another_axis_of_a_zarr_store(tmp_path, frames):
    zarr = pytest.importorskip("zarr")
    zyx_t = np.ascontiguousarray(np.moveaxis(frames, 0, -1)).astype(np.float32)  # ZYXT
    store = zarr.create_array(tmp_path / "f.zarr", shape=zyx_t.shape, chunks=(1, 32, 32, 6),
                              dtype=zyx_t.dtype)  # fmt: skip
    store[:] = zyx_t
    image = Image(store, "ZYXT", pixel_size={"Z": 1.0, "Y": 0.2, "X": 0.2})
    fused = misr(image, 2, method="shift-add")
    assert fused.axes == "ZYX" and fused.pixel_size["Y"] == pytest.approx(0.1)
    assert type(fused.data).__module__.startswith("dask")
    expected = misr(Image(zyx_t, "ZYXT", pixel_size={"Z": 1.0, "Y": 0.2, "X": 0.2}), 2,
                    method="shift-add")  # fmt: skip
    np.testing.assert_array_equal(np.asarray(fused.data), expected.data)


def test_a_nan_frame_is_refused_before_fusing(frames):
    bad = frames.copy()
    bad[3, 1, 5, 5] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        misr(da.from_array(bad, chunks=(1, 3, 32, 32)), 2, axes="TZYX")
