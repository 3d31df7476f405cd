"""Compiled (numba) loops of :mod:`napari_sr.resample`: one axis at a time, on the CPU.

Both kernels take a resampling plan made in :mod:`napari_sr.resample`. Output pixel
``i = p * k + r`` (phase ``r``) is ``sum_t weights[r, t] * padded[left[r] + q * k + t]``,
where ``padded`` is the input line extended at both ends by ``padmap`` (mirror or
replicate). The scale is ``p / q``, so the weights repeat with period ``p``.

Loops index through slices that start at the varying offset, so that every index inside
a loop is a non-negative induction variable: numba then drops its negative-index checks
and LLVM vectorises the inner loops (about 3x faster than indexing ``buf[off + k]``).

Thread safety
-------------
The kernels are ``parallel=True``. Numba's ``workqueue`` threading layer, the one a pip
install without TBB or OpenMP gets (macOS, many wheels), is not thread-safe: two Python
threads inside parallel regions at once abort the whole process ("Concurrent access has
been detected"). The napari widgets run their work on worker threads, and users call
:func:`napari_sr.resize` from thread pools, so the public functions here hold one
module-wide lock around every kernel call, whatever the layer. Serialising costs nearly
nothing: each call already spreads its work over every core, and two at once would only
share them; it is also simpler and safer than asking ``numba.threading_layer()`` (known
only after the first parallel launch, which itself may race) and locking on some layers.
"""

from __future__ import annotations

import os
import threading

import numpy as np
from numba import njit, prange

_LOCK = threading.Lock()
"""Held around every parallel kernel call (see "Thread safety" above)."""


def _new_lock_in_child() -> None:
    # a fork while another thread held the lock would leave the child's copy held forever
    global _LOCK
    _LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_new_lock_in_child)


def resample_last_axis(x, padmap, left, weights, p, q, out) -> None:
    """Resample the last axis: ``x`` (N, L) -> ``out`` (N, O); thread-safe."""
    with _LOCK:
        _resample_last_axis(x, padmap, left, weights, p, q, out)


def resample_middle_axis(x, index, weights, out) -> None:
    """Resample the middle axis: ``x`` (N, L, M) -> ``out`` (N, O, M); thread-safe."""
    with _LOCK:
        _resample_middle_axis(x, index, weights, out)


@njit(parallel=True, cache=True, fastmath=True, nogil=True)
def _resample_last_axis(x, padmap, left, weights, p, q, out):  # pragma: no cover - compiled
    """Resample the last axis: ``x`` (N, L) -> ``out`` (N, O)."""
    n_lines, n_out = out.shape
    n_taps = weights.shape[1]
    n_pad = padmap.shape[0]
    n_k = (n_out + p - 1) // p
    for n in prange(n_lines):
        src = x[n]
        buf = np.empty(n_pad, out.dtype)
        for j in range(n_pad):
            buf[j] = src[padmap[j]]
        phases = np.zeros((p, n_k), out.dtype)
        for r in range(min(p, n_out)):
            acc = phases[r]
            n_kr = (n_out - r + p - 1) // p  # phases past n_out % p have one output fewer
            for t in range(n_taps):
                w = weights[r, t]
                seg = buf[left[r] + t :]
                if q == 1:
                    for k in range(n_kr):
                        acc[k] += w * seg[k]
                else:
                    for k in range(n_kr):
                        acc[k] += w * seg[q * k]
        dst = out[n]
        for r in range(min(p, n_out)):
            acc = phases[r]
            dst_r = dst[r:]
            for k in range((n_out - r + p - 1) // p):
                dst_r[p * k] = acc[k]


@njit(parallel=True, cache=True, fastmath=True, nogil=True)
def _resample_middle_axis(x, index, weights, out):  # pragma: no cover - compiled
    """Resample the middle axis: ``x`` (N, L, M) -> ``out`` (N, O, M).

    ``index`` and ``weights`` are (O, T): the source lines of output line ``i`` (already
    mapped into range) and their weights. Whole lines of M values are combined, so the
    inner loop runs over contiguous memory.
    """
    n_lines, n_out, n_inner = out.shape
    n_taps = index.shape[1]
    for job in prange(n_lines * n_out):
        n = job // n_out
        i = job % n_out
        dst = out[n, i]
        for m in range(n_inner):
            dst[m] = 0
        for t in range(n_taps):
            w = weights[i, t]
            src = x[n, index[i, t]]
            for m in range(n_inner):
                dst[m] += w * src[m]
