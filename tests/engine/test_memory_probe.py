"""The available-memory probe (psutil and cgroup limits) and the blockwise NaN/Inf check."""

from __future__ import annotations

import sys
import tracemalloc
import types

import numpy as np
import pytest

from napari_sr.utils import memory

GIB = 2**30


def _cgroup_v2(tmp_path, levels: dict[str, dict[str, str]], membership: str = "0::/job/step"):
    """Fake cgroup v2 files: ``levels`` maps a cgroup path to its files."""
    root = tmp_path / "cgroup"
    for path, files in levels.items():
        folder = root / path.strip("/")
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (folder / name).write_text(text)
    root.mkdir(exist_ok=True)
    proc = tmp_path / "proc_cgroup"
    proc.write_text(membership + "\n")
    return root, proc


def test_cgroup_v2_limit_minus_usage(tmp_path):
    root, proc = _cgroup_v2(
        tmp_path, {"/job/step": {"memory.max": f"{4 * GIB}\n", "memory.current": f"{GIB}\n"}}
    )
    assert memory.cgroup_available(root, proc) == 3 * GIB


def test_cgroup_v2_tightest_ancestor_wins(tmp_path):
    """Slurm limits the job; the process sits in a step below it without its own limit."""
    root, proc = _cgroup_v2(
        tmp_path,
        {
            "/job": {"memory.max": f"{2 * GIB}", "memory.current": f"{GIB + GIB // 2}"},
            "/job/step": {"memory.max": "max", "memory.current": f"{GIB // 4}"},
        },
    )
    assert memory.cgroup_available(root, proc) == GIB // 2


def test_cgroup_v2_inactive_file_cache_counts_as_free(tmp_path):
    stat = "anon 1000\ninactive_file 536870912\nactive_file 7\n"
    files = {"memory.max": f"{2 * GIB}", "memory.current": f"{GIB}", "memory.stat": stat}
    root, proc = _cgroup_v2(tmp_path, {"/job/step": files})
    assert memory.cgroup_available(root, proc) == GIB + GIB // 2


@pytest.mark.parametrize("limit", ["max\n", "9223372036854771712\n", "garbage"])
def test_cgroup_without_limit_is_none(tmp_path, limit):
    root, proc = _cgroup_v2(
        tmp_path, {"/job/step": {"memory.max": limit, "memory.current": "12345"}}
    )
    assert memory.cgroup_available(root, proc) is None


def test_cgroup_namespaced_container_reads_the_mount_root(tmp_path):
    """Docker with a cgroup namespace: /proc/self/cgroup names a path the container's
    mount does not have; the mount's root is the container's cgroup."""
    root, proc = _cgroup_v2(
        tmp_path,
        {"/": {"memory.max": f"{GIB}", "memory.current": f"{GIB // 4}"}},
        membership="0::/docker/0123abcd",
    )
    assert memory.cgroup_available(root, proc) == GIB - GIB // 4


def test_cgroup_v1(tmp_path):
    root = tmp_path / "cgroup"
    folder = root / "memory" / "slurm" / "uid_1" / "job_7"
    folder.mkdir(parents=True)
    (folder / "memory.limit_in_bytes").write_text(f"{8 * GIB}\n")
    (folder / "memory.usage_in_bytes").write_text(f"{6 * GIB}\n")
    (folder / "memory.stat").write_text(f"cache 5\ntotal_inactive_file {GIB}\n")
    (root / "memory" / "memory.limit_in_bytes").write_text("9223372036854771712\n")
    (root / "memory" / "memory.usage_in_bytes").write_text(f"{100 * GIB}\n")
    proc = tmp_path / "proc_cgroup"
    proc.write_text("12:pids:/slurm\n4:memory:/slurm/uid_1/job_7\n0::/\n")
    assert memory.cgroup_available(root, proc) == 3 * GIB


def test_no_cgroup_files_is_none(tmp_path):
    assert memory.cgroup_available(tmp_path / "none", tmp_path / "missing") is None
    proc = tmp_path / "proc_cgroup"
    proc.write_text("0::/\n")
    assert memory.cgroup_available(tmp_path / "empty", proc) is None


def _fake_psutil(monkeypatch, available):
    fake = types.ModuleType("psutil")

    def virtual_memory():
        if isinstance(available, Exception):
            raise available
        return types.SimpleNamespace(available=available)

    fake.virtual_memory = virtual_memory
    monkeypatch.setitem(sys.modules, "psutil", fake)


def test_available_is_the_least_of_psutil_and_cgroup(tmp_path, monkeypatch):
    root, proc = _cgroup_v2(
        tmp_path, {"/job/step": {"memory.max": f"{4 * GIB}", "memory.current": f"{GIB}"}}
    )
    monkeypatch.setattr(memory, "CGROUP_ROOT", root)
    monkeypatch.setattr(memory, "PROC_CGROUP", proc)
    _fake_psutil(monkeypatch, 64 * GIB)
    assert memory.available_memory() == 3 * GIB  # the container's limit, not the host's
    _fake_psutil(monkeypatch, GIB)
    assert memory.available_memory() == GIB


def test_psutil_is_used_without_cgroups(tmp_path, monkeypatch):
    monkeypatch.setattr(memory, "PROC_CGROUP", tmp_path / "missing")
    _fake_psutil(monkeypatch, 5 * GIB)
    assert memory.available_memory() == 5 * GIB


def test_meminfo_is_the_fallback_when_psutil_fails(tmp_path, monkeypatch):
    monkeypatch.setattr(memory, "PROC_CGROUP", tmp_path / "missing")
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal: 100 kB\nMemFree: 10 kB\nMemAvailable: 2048 kB\n")
    monkeypatch.setattr(memory, "PROC_MEMINFO", meminfo)
    _fake_psutil(monkeypatch, RuntimeError("no /proc in this sandbox"))
    assert memory.available_memory() == 2048 * 1024


def test_the_real_probe_answers():
    available = memory.available_memory()
    assert available is None or available > 0


def test_a_full_cgroup_refuses_before_allocating(tmp_path, monkeypatch):
    import napari_sr

    root, proc = _cgroup_v2(
        tmp_path, {"/": {"memory.max": f"{GIB}", "memory.current": f"{GIB - 2**20}"}}
    )
    monkeypatch.setattr(memory, "CGROUP_ROOT", root)
    monkeypatch.setattr(memory, "PROC_CGROUP", proc)
    with pytest.raises(ValueError, match=r"would need .* but only 1\.0 MiB is available"):
        napari_sr.upscale(np.zeros((64, 64), np.float32), 16, method="bicubic")


# ---------------------------------------------------------------- blockwise NaN/Inf check


@pytest.mark.parametrize("block", [1, 64, 10**9])
def test_count_nonfinite_in_blocks(block):
    rng = np.random.default_rng(0)
    data = rng.random((3, 17, 29)).astype(np.float32)
    data[0, 1, 2], data[2, 16, 28], data[1, 0, 0] = np.nan, np.inf, -np.inf
    assert memory.count_nonfinite(data, block) == 3
    assert memory.count_nonfinite(data.transpose(2, 0, 1)[:, ::2], block) == 2
    assert memory.count_nonfinite(data[..., 1:], block) == 2  # x = 0 left out
    assert memory.count_nonfinite(np.float64(np.nan), block) == 1
    assert memory.count_nonfinite(np.zeros((4, 0, 5)), block) == 0
    assert memory.count_nonfinite(np.ones((5, 5), np.uint16), block) == 0


def test_nan_check_makes_no_image_sized_temporary(monkeypatch):
    """np.isfinite(x).all() would allocate a mask as large as x (here 4 MiB)."""
    monkeypatch.setattr(memory, "FINITE_BLOCK", 64 * 2**10)
    data = np.ones((4, 512, 512), np.float32)
    data[3, 511, 511] = np.nan
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="contains 1 NaN or infinite value.*nan_to_num"):
            memory.check_finite(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 512 * 2**10
