"""Atomic writes: part files name their writer, stale ones are cleaned, SIGTERM cleans up
like Ctrl-C, and a full disk says so in one line."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from napari_sr import io
from napari_sr.utils import atomic as _atomic
from napari_sr.utils.atomic import (
    Terminated,
    atomic_write,
    remove_stale_parts,
    terminate_as_interrupt,
)

POSIX = pytest.mark.skipif(os.name != "posix", reason="POSIX signals")


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _part(folder: Path, name: str, pid: int, host: str | None = None) -> Path:
    path = folder / f".{name}.{pid}-{host or _atomic._host_tag()}.abc123_z.part"
    path.write_bytes(b"half a file")
    return path


def test_part_file_names_its_process_and_host(tmp_path):
    seen = []

    def writer(tmp):
        seen.append(Path(tmp).name)
        Path(tmp).write_bytes(b"x")

    atomic_write(tmp_path / "out.bin", writer, overwrite=False)
    prefix = f".out.bin.{os.getpid()}-{_atomic._host_tag()}."
    assert seen[0].startswith(prefix) and seen[0].endswith(".part")
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_stale_part_of_a_dead_process_is_removed_on_the_next_write(tmp_path):
    stale = _part(tmp_path, "out.ome.tif", _dead_pid())
    io.write(tmp_path / "out.ome.tif", np.zeros((4, 4), np.uint8))
    assert not stale.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["out.ome.tif"]


def test_only_our_stale_parts_are_removed(tmp_path):
    dead = _dead_pid()
    keep = [
        _part(tmp_path, "out.tif", os.getppid()),  # a live process
        _part(tmp_path, "out.tif", os.getpid()),  # ourselves (another thread may write it)
        _part(tmp_path, "out.tif", dead, host="0a0b0c"),  # another machine on a shared disk
        _part(tmp_path, "other.tif", dead),  # another target
        tmp_path / f".out.tif.{dead}.part",  # not our pattern
        tmp_path / ".out.tif.abcdefgh.part",  # the pattern of napari-sr before PIDs
        tmp_path / f"out.tif.{dead}-{_atomic._host_tag()}.abc.part",  # not hidden
    ]
    for path in keep:
        path.touch()
    (tmp_path / f".out.tif.{dead}-{_atomic._host_tag()}.dir.part").mkdir()  # not a file
    stale = _part(tmp_path, "out.tif", dead)
    assert remove_stale_parts(tmp_path / "out.tif") == [stale]
    assert all(path.exists() for path in keep)


def test_a_reused_pid_younger_than_the_part_file_does_not_keep_it(tmp_path):
    stale = _part(tmp_path, "out.tif", os.getppid())
    os.utime(stale, (1_000_000_000, 1_000_000_000))  # written in 2001, long before our parent
    assert remove_stale_parts(tmp_path / "out.tif") == [stale]


def test_long_names_still_get_a_part_file(tmp_path):
    name = "n" * 240 + ".ome.tif"  # the part file must stay under 255 characters
    io.write(tmp_path / name, np.zeros((4, 4), np.uint8))
    assert [p.name for p in tmp_path.iterdir()] == [name]


_CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from napari_sr.utils.atomic import atomic_write, terminate_as_interrupt

    def writer(tmp):
        Path(tmp).write_bytes(b"half")
        print("ready", flush=True)
        time.sleep(60)

    try:
        with terminate_as_interrupt():
            atomic_write(sys.argv[1], writer, overwrite=False)
    except KeyboardInterrupt as exc:
        print(type(exc).__name__, flush=True)
        sys.exit(143)
    """
)


def _start_writer(target: Path) -> subprocess.Popen:
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(target)], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout.readline().strip() == "ready"
    return child


@POSIX
def test_sigkill_mid_write_leaves_a_part_that_the_next_write_removes(tmp_path):
    target = tmp_path / "out.ome.tif"
    child = _start_writer(target)
    child.kill()
    child.wait()
    child.stdout.close()
    left = [p.name for p in tmp_path.iterdir()]
    assert len(left) == 1 and left[0].startswith(f".out.ome.tif.{child.pid}-")
    io.write(target, np.ones((4, 4), np.uint8))
    assert [p.name for p in tmp_path.iterdir()] == ["out.ome.tif"]


@POSIX
def test_sigterm_mid_write_cleans_up_like_ctrl_c(tmp_path):
    target = tmp_path / "out.ome.tif"
    child = _start_writer(target)
    child.send_signal(signal.SIGTERM)
    out, _ = child.communicate(timeout=30)
    assert child.returncode == 143 and out.strip() == "Terminated"
    assert list(tmp_path.iterdir()) == []  # no part file, no output


@POSIX
def test_terminate_as_interrupt_restores_the_previous_handler():
    before = signal.getsignal(signal.SIGTERM)
    with terminate_as_interrupt():
        assert signal.getsignal(signal.SIGTERM) is not before
        with pytest.raises(Terminated):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler interrupts this at once
    assert signal.getsignal(signal.SIGTERM) is before
    assert issubclass(Terminated, KeyboardInterrupt)


def test_terminate_as_interrupt_outside_the_main_thread_does_nothing():
    before = signal.getsignal(signal.SIGTERM)
    seen = []

    def run():
        with terminate_as_interrupt():
            seen.append(signal.getsignal(signal.SIGTERM))

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert seen == [before]


# ------------------------------------------------------------------------- disk full


def test_real_enospc_from_dev_full(tmp_path):
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")

    def writer(tmp):
        Path(tmp).write_bytes(b"start")
        with open("/dev/full", "wb") as full:  # the kernel's always-full device
            full.write(b"x" * 100_000)

    with pytest.raises(OSError, match="no space left on device while writing") as caught:
        atomic_write(tmp_path / "x.bin", writer, overwrite=False, size_hint=3_000_000)
    assert caught.value.errno == errno.ENOSPC
    assert str(caught.value).endswith("(needed about 3.0 MB); free some space or choose "
                                      "another folder; nothing was written")  # fmt: skip
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "failure",
    [
        RuntimeError("Error while serializing: IoError(Os { code: 28, kind: StorageFull })"),
        OSError("524288 requested and 130960 written"),
    ],
)
def test_other_libraries_wording_of_disk_full(tmp_path, failure):
    def writer(tmp):
        raise failure

    with pytest.raises(OSError, match=r"^no space left on device while writing '.*x.bin'; free"):
        atomic_write(tmp_path / "x.bin", writer, overwrite=False)
    assert list(tmp_path.iterdir()) == []
