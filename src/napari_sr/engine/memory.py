"""Memory bounds: refuse work whose output cannot fit before allocating anything."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np


def available_memory() -> int | None:
    """Bytes of memory available to new allocations, or None where it cannot be read.

    Linux's ``MemAvailable`` (which counts reclaimable cache) when present, else the free
    physical pages reported by ``sysconf``.
    """
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


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


def _human(nbytes: float) -> str:
    if nbytes >= 1024**6:
        return "more than 1 EiB"
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if nbytes < 1024 or unit == "PiB":
            return f"{nbytes:.0f} {unit}" if unit == "bytes" else f"{nbytes:.1f} {unit}"
        nbytes /= 1024
    return f"{nbytes:.1f} PiB"
