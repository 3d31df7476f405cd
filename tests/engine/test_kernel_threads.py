"""The compiled resampling kernels are safe to call from many threads at once, on every
numba threading layer: ``workqueue`` (a pip install without TBB or OpenMP, e.g. macOS)
aborts the whole process on concurrent parallel launches unless calls are serialised."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("numba")

SCRIPT = textwrap.dedent(
    """
    import threading
    import numba
    import numpy as np
    import napari_sr

    rng = np.random.default_rng(0)
    images = [rng.random((3, 24, 20), dtype=np.float32) for _ in range(4)]
    images.append((rng.random((30, 26)) * 255).astype(np.uint8))
    # every kernel: the last axis, a middle axis, downscaling, a fractional scale
    calls = [dict(scale=2.5), dict(scale=0.5, method="lanczos3"), dict(scale={"Y": 1.6, "X": 0.7})]
    expected = [[napari_sr.resize(im, **c) for c in calls] for im in images]
    layer = numba.threading_layer()
    barrier = threading.Barrier(len(images))
    wrong = []

    def work(k):
        barrier.wait()
        for _ in range(5):
            for c, want in zip(calls, expected[k]):
                if not np.array_equal(napari_sr.resize(images[k], **c), want):
                    wrong.append(k)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(len(images))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(layer, "wrong" if wrong else "ok")
    """
)


@pytest.mark.parametrize("layer", ["workqueue", "default"])
def test_concurrent_resize_from_threads(layer):
    env = {**os.environ, "NUMBA_NUM_THREADS": "2"}
    if layer != "default":
        env["NUMBA_THREADING_LAYER"] = layer
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=300
    )
    assert run.returncode == 0, run.stderr[-2000:]
    lines = run.stdout.strip().splitlines()
    assert lines and lines[-1].endswith(" ok"), run.stdout[-2000:]
    if layer != "default":
        assert lines[-1] == f"{layer} ok"
