"""isotropic of stacks larger than memory: dask and zarr input, out= OME-Zarr, cluster,
interrupt and resume; every result equal to the in-memory reconstruction bit for bit."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from scipy import ndimage

da = pytest.importorskip("dask.array")
pytest.importorskip("zarr")

from napari_sr import Image, io  # noqa: E402
from napari_sr.engine import blockwise  # noqa: E402
from napari_sr.selfsup import _isotropic_blocks  # noqa: E402
from napari_sr.selfsup import isotropic as iso_module  # noqa: E402
from napari_sr.selfsup.isotropic import isotropic, reconstruct  # noqa: E402
from napari_sr.utils.progress import Cancelled  # noqa: E402


@pytest.fixture
def narrow_slabs(monkeypatch):
    """Slabs of 8 rows or columns and blocks of one plane: many tasks on a small stack."""
    monkeypatch.setattr(_isotropic_blocks, "MAX_LANE", 8)
    monkeypatch.setattr(_isotropic_blocks, "LANE_PLANES_BYTES", 1)
    monkeypatch.setattr(blockwise, "BLOCK_BYTES", 1)


def _volume(shape, seed=0, dtype=np.uint16):
    smooth = ndimage.gaussian_filter(np.random.default_rng(seed).random(shape), 1.5)
    return (smooth * 3000).astype(dtype)


@pytest.fixture(scope="module")
def model():
    """A network trained briefly on a stack (what it restores does not matter here)."""
    return reconstruct(_volume((6, 24, 24)), 3.0, steps=2, axes="ZYX", device="cpu",
                       seed=0).models[0]  # fmt: skip


@pytest.mark.parametrize(
    ("shape", "axes", "chunks", "fuse", "dtype"),
    [((7, 30, 26), "ZYX", (1, 30, 26), "mean", np.uint16),  # stored plane by plane
     ((2, 5, 20, 18), "TZYX", (1, 2, 7, 5), "geometric", np.float32),  # every axis cut
     ((5, 2, 20, 18), "ZCYX", (5, 1, 20, 9), "geometric", np.uint16)],  # one pass a channel
)  # fmt: skip
def test_lazy_equals_in_memory(model, narrow_slabs, shape, axes, chunks, fuse, dtype):
    data = _volume(shape, dtype=dtype)
    expected = isotropic(data, 3.0, model=model, axes=axes, device="cpu", fuse=fuse)
    lazy = isotropic(da.from_array(data, chunks=chunks), 3.0, model=model, axes=axes,
                     device="cpu", fuse=fuse)  # fmt: skip
    assert type(lazy).__module__.startswith("dask")
    assert lazy.shape == expected.shape and lazy.dtype == expected.dtype
    np.testing.assert_array_equal(lazy.compute(), expected)


def test_training_on_a_lazy_stack_equals_training_in_memory(narrow_slabs):
    data = _volume((6, 24, 24), seed=3)
    options = {"steps": 2, "axes": "ZYX", "device": "cpu", "seed": 1}
    expected = reconstruct(data, 3.0, **options)
    lazy = reconstruct(da.from_array(data, chunks=(1, 24, 24)), 3.0, **options)
    assert len(lazy.models) == 1
    np.testing.assert_array_equal(np.asarray(lazy.image), expected.image)


def test_out_writes_ome_zarr_with_geometry(tmp_path, model, narrow_slabs):
    data = _volume((6, 26, 22))
    image = Image(data, "ZYX", pixel_size={"Z": 0.75, "Y": 0.25, "X": 0.25})
    expected = isotropic(image, model=model, device="cpu")  # factor 3 from the sizes
    written = isotropic(image, model=model, device="cpu", out=tmp_path / "iso.ome.zarr",
                        levels=2)  # fmt: skip
    assert written.pixel_size == pytest.approx(expected.pixel_size)
    assert written.origin == expected.origin
    assert written.metadata["provenance"]["method"] == "isotropic"
    np.testing.assert_array_equal(np.asarray(written.data), expected.data)
    again = io.read(tmp_path / "iso.ome.zarr")
    np.testing.assert_array_equal(again.data, expected.data)
    assert not (tmp_path / "iso.ome.zarr" / "napari-sr-scratch").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["iso.ome.zarr"]


def test_interrupted_run_resumes_without_training_again(tmp_path, narrow_slabs, monkeypatch):
    data = _volume((5, 20, 18), seed=2)
    options = {"steps": 2, "axes": "ZYX", "device": "cpu", "seed": 4}
    expected = reconstruct(data, 3.0, **options).image
    out = tmp_path / "iso.ome.zarr"
    stop = threading.Event()
    seen = []

    def progress(done, total):
        seen.append(done)
        if done > 2 + 5 + 10:  # past training, the copy and half of the xz planes
            stop.set()

    with pytest.raises(Cancelled):
        reconstruct(data, 3.0, out=out, progress=progress, cancel=stop, **options)
    partial = tmp_path / "iso.ome.zarr.partial"
    assert partial.is_dir() and not out.exists()
    with pytest.raises(FileExistsError, match="resume"):
        reconstruct(data, 3.0, out=out, **options)

    def no_training(*args, **kwargs):
        raise AssertionError("the resumed run trained again")

    monkeypatch.setattr(iso_module, "train_isotropic", no_training)
    resumed = reconstruct(data, 3.0, out=out, resume=True, **options)
    np.testing.assert_array_equal(np.asarray(resumed.image), expected)
    assert not partial.exists()
    # resuming the finished run is a no-op that returns it
    again = reconstruct(data, 3.0, out=out, resume=True, **options)
    np.testing.assert_array_equal(np.asarray(again.image), expected)


def test_options_that_need_out_are_refused():
    data = _volume((4, 16, 16))
    with pytest.raises(ValueError, match="only apply when writing"):
        isotropic(data, 2.0, axes="ZYX", steps=1, resume=True)
    with pytest.raises(ValueError, match="only apply when writing"):
        isotropic(da.from_array(data), 2.0, axes="ZYX", steps=1, workers=2)


@pytest.mark.slow
def test_on_a_cluster_with_two_worker_processes(tmp_path, model, narrow_slabs):
    distributed = pytest.importorskip("distributed")
    data = _volume((6, 24, 20), seed=5)
    stored = io.read(io.write(tmp_path / "in.ome.zarr", Image(data, "ZYX"), chunks=8),
                     lazy=True)  # fmt: skip
    expected = isotropic(data, 3.0, model=model, axes="ZYX", device="cpu")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as cluster, \
            distributed.Client(cluster) as client:  # fmt: skip
        written = isotropic(stored, 3.0, model=model, device="cpu",
                            out=tmp_path / "iso.ome.zarr", client=client)  # fmt: skip
    np.testing.assert_array_equal(np.asarray(written.data), expected)


@pytest.mark.parametrize(
    ("shape", "axes", "chunks"),
    [((7, 30, 26), "ZYX", (1, 30, 26)), ((2, 5, 2, 20, 18), "TZCYX", (1, 2, 1, 7, 5))],
)
def test_cubic_z_interpolation_of_a_lazy_stack(shape, axes, chunks):
    from napari_sr.selfsup.isotropic import interpolate_axial

    for dtype in (np.uint16, np.float32):
        data = _volume(shape, dtype=dtype)
        expected = interpolate_axial(data, 2.7, axes=axes)
        lazy = interpolate_axial(da.from_array(data, chunks=chunks), 2.7, axes=axes)
        assert type(lazy).__module__.startswith("dask")
        np.testing.assert_array_equal(lazy.compute(), expected)
