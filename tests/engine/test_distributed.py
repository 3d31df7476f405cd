"""upscale on a dask.distributed cluster: a LocalCluster of two worker processes, as on one
machine; the same code runs on any cluster. The results must equal the in-memory path bit
for bit, also when a worker dies mid-run, when the run is interrupted and resumed, and when
the workers have less memory than the data."""

from __future__ import annotations

import os
import signal
import threading

import numpy as np
import pytest

pytest.importorskip("distributed")
pytest.importorskip("zarr")
# no torch imported here: the workers import this module to run its functions

from distributed import Client, LocalCluster

import napari_sr
from napari_sr import Image, io, upscale
from napari_sr.engine import blockwise
from napari_sr.utils.progress import Cancelled

pytestmark = pytest.mark.slow


def _cluster(**options):
    options = {"n_workers": 2, "threads_per_worker": 1, "processes": True,
               "dashboard_address": ":0", **options}  # fmt: skip
    return LocalCluster(**options)


@pytest.fixture(scope="module")
def client():
    with _cluster() as cluster, Client(cluster) as connected:
        yield connected


@pytest.fixture
def one_plane_blocks(monkeypatch):
    # the block layout is decided where upscale is called, so this reaches the workers
    monkeypatch.setattr(blockwise, "BLOCK_BYTES", 1)


def _stack(rng, shape=(10, 48, 56)):
    smooth = np.cumsum(rng.integers(0, 3, shape), axis=-1) % 4000
    return (smooth + rng.integers(0, 200, shape)).astype(np.uint16)


def _zarr_input(tmp_path, data):
    image = Image(data, axes="ZYX", pixel_size={"Y": 0.3, "X": 0.3})
    return io.read(io.write(tmp_path / "in.ome.zarr", image, chunks=32), lazy=True)


def test_cluster_result_equals_in_memory_with_progress(rng, tmp_path, client, one_plane_blocks):
    data = _stack(rng)
    image = _zarr_input(tmp_path, data)
    calls = []
    result = upscale(image, 2, method="fast", out=tmp_path / "o.ome.zarr", client=client,
                     progress=lambda d, t: calls.append((d, t)))  # fmt: skip
    np.testing.assert_array_equal(np.asarray(result.data), upscale(data, 2, method="fast"))
    assert result.pixel_size == {"Y": 0.15, "X": 0.15}
    assert [d for d, _ in calls] == list(range(1, 11)) and calls[-1] == (10, 10)


def test_the_active_client_is_used(rng, tmp_path, client, one_plane_blocks):
    from distributed import get_task_stream

    data = _stack(rng, (4, 24, 28))
    with get_task_stream(client) as stream:
        result = upscale(data, 2, method="bicubic", out=tmp_path / "o.ome.zarr")  # no client=
    np.testing.assert_array_equal(np.asarray(result), upscale(data, 2, method="bicubic"))
    writes = [t for t in stream.data if "napari-sr-write" in str(t["key"])]
    assert len(writes) == 4  # every block was written by a worker


def test_a_model_is_loaded_once_per_worker(rng, tmp_path, client, one_plane_blocks):
    # in a module of its own: the functions of this module, which tests send to the
    # workers, import nothing heavy there (torch alone is 200 MiB of a worker's memory)
    from _counting_model import CountingModel

    log = tmp_path / "loads.txt"
    model = CountingModel(str(log))
    data = rng.random((12, 20, 24)).astype(np.float32)
    result = upscale(data, 2, method=model, out=tmp_path / "o.ome.zarr", client=client)
    np.testing.assert_array_equal(np.asarray(result), upscale(data, 2, method=model))
    loads = [int(pid) for pid in log.read_text().split()]
    workers = set(client.run(os.getpid).values())
    assert set(loads) <= workers  # not in the scheduler's process: scattered to the workers
    assert len(loads) == len(set(loads)) <= 2  # twelve blocks, at most one load per worker


def test_a_killed_worker_has_its_blocks_run_again(rng, tmp_path, one_plane_blocks):
    data = _stack(rng, (16, 48, 56))
    expected = upscale(data, 2, method="fast")
    with _cluster() as cluster, Client(cluster) as own:
        pids = list(own.run(os.getpid).values())
        killed = []

        def progress(done, total):
            if done >= 3 and not killed:
                killed.append(pids[0])
                os.kill(pids[0], signal.SIGKILL)

        result = upscale(_zarr_input(tmp_path, data), 2, method="fast", client=own,
                         out=tmp_path / "o.ome.zarr", progress=progress)  # fmt: skip
        assert killed and pids[0] not in own.run(os.getpid).values()  # it was replaced
    np.testing.assert_array_equal(np.asarray(result.data), expected)


def test_interrupted_cluster_run_resumes_on_worker_processes(
    rng, tmp_path, client, one_plane_blocks
):
    data = _stack(rng)
    expected = upscale(data, 2, method="fast")
    target = tmp_path / "o.ome.zarr"
    cancel = threading.Event()

    def progress(done, total):
        if done >= 4:
            cancel.set()

    with pytest.raises(Cancelled):
        upscale(data, 2, method="fast", out=target, client=client, progress=progress,
                cancel=cancel)  # fmt: skip
    assert not target.exists()
    # resumed elsewhere: a LocalCluster of two processes started for the call
    result = upscale(data, 2, method="fast", out=target, resume=True, workers=2)
    np.testing.assert_array_equal(np.asarray(result), expected)


def _peak_rss() -> int:
    """This process's peak resident memory, bytes: VmHWM of its address space (Linux; reset
    at exec, unlike getrusage's, which a spawned worker inherits from the fork)."""
    with open("/proc/self/status") as fh:
        line = next(line for line in fh if line.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="peak memory: Linux")
def test_workers_with_less_memory_than_the_data(rng, tmp_path, one_plane_blocks):
    planes, side = 56, 1024
    data = np.empty((planes, side, side), np.uint16)
    for z in range(planes):  # 112 MiB in, 448 MiB out
        data[z] = _stack(np.random.default_rng(z), (1, side, side))[0]
    image = Image(data, axes="ZYX")
    image = io.read(io.write(tmp_path / "in.ome.zarr", image), lazy=True)
    limit = 400 * 2**20  # each worker: less than the output (a worker starts near 100 MiB)
    with _cluster(memory_limit=limit) as cluster, Client(cluster) as own:
        result = upscale(image, 2, method="bicubic", out=tmp_path / "o.ome.zarr", client=own)
        peaks = own.run(_peak_rss)
    assert all(peak < limit for peak in peaks.values()), peaks
    assert result.data.nbytes > 1.1 * limit
    for z in (0, planes // 2, planes - 1):
        np.testing.assert_array_equal(result.data[z], upscale(data[z], 2, method="bicubic"))


def test_where_to_run_is_said_once_and_checked_before_any_write(rng, tmp_path, client):
    data = _stack(rng, (2, 16, 16))
    for bad in ({"client": client, "workers": 2}, {"workers": 0}, {"scheduler": 5}):
        with pytest.raises((ValueError, TypeError), match="workers|scheduler"):
            upscale(data, 2, method="bicubic", out=tmp_path / "x.ome.zarr", **bad)
    assert list(tmp_path.iterdir()) == []
    assert napari_sr.upscale is upscale
