"""Memory bounds: refuse work whose output cannot fit before allocating anything.

The memory a new allocation can get is the least of what the machine has available
(:func:`psutil.virtual_memory`, on every OS) and what the process's control group (cgroup)
still allows: containers (Docker, Kubernetes) and batch schedulers (Slurm) cap a job's
memory far below the machine's, and going over their limit kills the job without a word.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

CGROUP_ROOT = Path("/sys/fs/cgroup")
"""Where the cgroup file systems are mounted (v2 here, v1 controllers in subfolders)."""

PROC_CGROUP = Path("/proc/self/cgroup")
"""The process's cgroup memberships (``hierarchy:controllers:path`` lines)."""

PROC_MEMINFO = Path("/proc/meminfo")
"""Linux memory counters, read only when psutil cannot answer."""

NO_LIMIT = 2**60
"""Cgroup limits at or above this many bytes mean "no limit" (cgroup v1 writes
``PAGE_COUNTER_MAX`` pages, 9223372036854771712 bytes on 4 KiB pages; v2 writes ``max``)."""

FINITE_BLOCK = 16 * 2**20
"""The NaN/Inf check looks at blocks of about this many bytes, so that its temporary mask
stays small whatever the size of the image."""


def available_memory() -> int | None:
    """Bytes of memory available to new allocations, or None where it cannot be read.

    The least of the machine's available memory (psutil's ``available``: free memory plus
    reclaimable caches, on Linux, macOS and Windows; ``/proc/meminfo`` or ``sysconf`` if
    psutil fails) and the room left under the process's cgroup memory limits
    (:func:`cgroup_available`).
    """
    known = [v for v in (system_available(), cgroup_available()) if v is not None]
    return max(0, min(known)) if known else None


def system_available() -> int | None:
    """The machine's available memory in bytes (psutil; Linux ``/proc/meminfo`` or
    ``sysconf`` as fallbacks), or None."""
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except Exception:  # a missing or broken psutil: the fallbacks below
        pass
    try:
        with open(PROC_MEMINFO) as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def cgroup_available(
    root: Path | str | None = None, proc_cgroup: Path | str | None = None
) -> int | None:
    """Bytes the process's cgroups still allow it to allocate, or None without a limit.

    For cgroup v2 (``0::/path`` in ``/proc/self/cgroup``) every level from the process's
    cgroup up to the mount's root counts: ``memory.max`` minus the memory in use
    (``memory.current``, less the inactive file cache of ``memory.stat``, which the kernel
    reclaims before it would kill). For cgroup v1 the same with
    ``memory.limit_in_bytes`` and ``memory.usage_in_bytes`` under the ``memory``
    controller's mount. ``max`` and huge values mean no limit; the tightest level wins.
    Inside a container, whose cgroup path may not exist under its own mount, the mount's
    root (the container's cgroup) is read.

    Parameters
    ----------
    root, proc_cgroup : path, optional
        The cgroup mount and the membership file (default :data:`CGROUP_ROOT` and
        :data:`PROC_CGROUP`); tests point them at fake files.
    """
    root = Path(CGROUP_ROOT if root is None else root)
    proc_cgroup = Path(PROC_CGROUP if proc_cgroup is None else proc_cgroup)
    try:
        lines = proc_cgroup.read_text().splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    room: list[int] = []
    for line in lines:
        parts = line.strip().split(":", 2)
        if len(parts) != 3:
            continue
        hierarchy, controllers, path = parts
        if hierarchy == "0" and controllers == "":
            files = ("memory.max", "memory.current", "inactive_file")
            mount = root
        elif "memory" in controllers.split(","):
            files = ("memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file")
            mount = root / "memory"
            if not mount.is_dir():  # v1 controllers may be co-mounted: "memory,cpu"
                mount = root / controllers
        else:
            continue
        for folder in _levels(mount, path):
            left = _room(folder, *files)
            if left is not None:
                room.append(left)
    return min(room) if room else None


def _levels(mount: Path, path: str) -> Iterator[Path]:
    """The cgroup folder of ``path`` under ``mount`` and its ancestors up to ``mount``."""
    relative = [p for p in path.strip().split("/") if p and p not in (".", "..")]
    folder = mount.joinpath(*relative)
    if not folder.is_dir():  # a namespaced container: its own cgroup is the mount's root
        folder = mount
    while True:
        yield folder
        if folder == mount or mount not in folder.parents:
            return
        folder = folder.parent


def _room(folder: Path, limit_file: str, usage_file: str, reclaimable_key: str) -> int | None:
    """``limit - (usage - reclaimable)`` of one cgroup folder, or None without a limit."""
    try:
        text = (folder / limit_file).read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None
    if text == "max":
        return None
    try:
        limit = int(text)
        usage = int((folder / usage_file).read_text().strip())
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    if limit >= NO_LIMIT:
        return None
    reclaimable = 0
    try:
        for line in (folder / "memory.stat").read_text().splitlines():
            key, _, value = line.partition(" ")
            if key == reclaimable_key:
                reclaimable = int(value)
                break
    except (OSError, UnicodeDecodeError, ValueError):
        pass
    return max(0, limit - max(0, usage - max(0, reclaimable)))


def check_fits(
    shape: Sequence[int], dtype: np.dtype, *, extra_bytes: int = 0, what: str = "output"
) -> int:
    """Raise a ValueError if an array of ``shape`` and ``dtype`` would not fit in memory.

    Parameters
    ----------
    shape, dtype
        The array about to be allocated.
    extra_bytes : int
        Working memory needed beside it (buffers, one plane in float), in bytes.
    what : str
        What the array is, for the message.

    Returns
    -------
    int
        The bytes the array needs.
    """
    needed = int(np.prod([int(n) for n in shape], dtype=object)) * np.dtype(dtype).itemsize
    total = needed + int(extra_bytes)
    available = available_memory()
    if available is not None and total > available:
        raise ValueError(
            f"the {what} of shape {tuple(int(n) for n in shape)} ({np.dtype(dtype).name}) "
            f"would need {_human(total)} of memory but only {_human(available)} is available; "
            "use a smaller scale, crop the image, or process fewer planes at a time"
        )
    return needed


def count_nonfinite(array: np.ndarray, block_bytes: int | None = None) -> int:
    """The number of NaN and infinite values of a float array, counted block by block.

    ``np.isfinite(array).all()`` makes a boolean mask as large as the array: on an image
    near the memory limit that alone fails with numpy's MemoryError. Here the mask covers
    one block of about ``block_bytes`` (default :data:`FINITE_BLOCK`) at a time: whole
    leading-axis slices where they are small enough, else pieces of one slice. Integer
    arrays have none.
    """
    block_bytes = FINITE_BLOCK if block_bytes is None else max(1, int(block_bytes))
    array = np.asarray(array)
    if array.dtype.kind not in "fc":
        return 0
    if array.ndim == 0 or array.nbytes <= block_bytes:
        return int(array.size - np.count_nonzero(np.isfinite(array)))
    row = array[0].nbytes
    if row > block_bytes:
        return sum(count_nonfinite(array[i], block_bytes) for i in range(array.shape[0]))
    step = max(1, block_bytes // max(row, 1))  # a zero-length row: one block
    bad = 0
    for start in range(0, array.shape[0], step):
        block = array[start : start + step]
        bad += int(block.size - np.count_nonzero(np.isfinite(block)))
    return bad


def check_finite(array: np.ndarray, name: str = "image") -> None:
    """Raise a ValueError if a float array holds NaN or infinite values.

    Checked block by block (:func:`count_nonfinite`), so that no temporary as large as
    the array is made; call it after the memory check of the work.
    """
    bad = count_nonfinite(array)
    if bad:
        raise ValueError(
            f"{name} contains {bad} NaN or infinite value(s); replace them first, "
            "e.g. numpy.nan_to_num(image)"
        )


def _human(nbytes: float) -> str:
    if nbytes >= 1024**6:
        return "more than 1 EiB"
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if nbytes < 1024 or unit == "PiB":
            return f"{nbytes:.0f} {unit}" if unit == "bytes" else f"{nbytes:.1f} {unit}"
        nbytes /= 1024
    return f"{nbytes:.1f} PiB"
