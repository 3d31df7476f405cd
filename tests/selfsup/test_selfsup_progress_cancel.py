"""Self-supervised methods: one progress that never runs past its total (the engine
counts tiles, the plan counts planes), and a cancel at the very end is not ignored."""

from __future__ import annotations

import threading

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from napari_sr import Cancelled  # noqa: E402
from napari_sr.selfsup import isotropic as isotropic_module  # noqa: E402
from napari_sr.selfsup import zssr as zssr_module  # noqa: E402
from napari_sr.selfsup.isotropic import isotropic  # noqa: E402
from napari_sr.selfsup.zssr import zssr  # noqa: E402

ISO = {"steps": 4, "batch_size": 2, "patch_size": 12, "device": "cpu",
       "hparams": {"n_first": 4, "depth": 1, "kernel_size": 3}}  # fmt: skip
ZSSR = {"steps": 3, "batch_size": 2, "patch_size": 16, "device": "cpu",
        "hparams": {"depth": 3, "features": 8}}  # fmt: skip


def stack(shape=(5, 24, 28), seed=0):
    return np.random.default_rng(seed).integers(0, 1000, shape).astype(np.uint16)


def check_progress(seen, total):
    done = [d for d, _ in seen]
    assert {n for _, n in seen} == {total}
    assert done == sorted(done) and max(done) == total  # never past 100 %, ends there


def test_isotropic_progress_counts_steps_then_planes_even_when_tiled():
    seen = []
    isotropic(stack(), 3, tile=8, progress=lambda d, n: seen.append((d, n)), **ISO)
    check_progress(seen, 4 + 24 + 28)  # training steps, then xz and yz planes


def test_zssr_progress_counts_steps_then_planes_even_when_tiled():
    seen = []
    zssr(stack((2, 24, 24)), 2, axes="TYX", tile=8,
         progress=lambda d, n: seen.append((d, n)), **ZSSR)  # fmt: skip
    check_progress(seen, 3 + 2)


def test_a_cancel_during_the_last_prediction_of_isotropic_is_not_ignored(monkeypatch):
    stop = threading.Event()
    real = isotropic_module._restore

    def restore(*args, **kwargs):  # the cancel arrives while the last volume is fused
        out = real(*args, **kwargs)
        stop.set()
        return out

    monkeypatch.setattr(isotropic_module, "_restore", restore)
    with pytest.raises(Cancelled):
        isotropic(stack(), 3, cancel=stop, **ISO)


def test_a_cancel_during_the_last_upscaling_of_zssr_is_not_ignored(monkeypatch):
    stop = threading.Event()
    real = zssr_module._upscale_stage

    def upscale_stage(*args, **kwargs):  # the cancel arrives during the back-projection
        out = real(*args, **kwargs)
        stop.set()
        return out

    monkeypatch.setattr(zssr_module, "_upscale_stage", upscale_stage)
    with pytest.raises(Cancelled):
        zssr(stack((24, 24)), 2, cancel=stop, **ZSSR)


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"steps": "abc"}, TypeError, "steps must be a whole number"),
        ({"steps": None}, TypeError, "steps must be a whole number"),
        ({"patch_size": "a"}, TypeError, "patch_size must be a whole number"),
        ({"hparams": "depth=3"}, TypeError, "hparams must be a dict"),
        ({"validation_fraction": "x"}, TypeError, "validation_fraction must be a number"),
        ({"psf": "x"}, TypeError, "psf must be the Gaussian sigma"),
    ],
)
def test_isotropic_options_are_checked_before_any_work(options, error, match):
    with pytest.raises(error, match=match):
        isotropic(stack(), 3, device="cpu", **options)


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"steps": "abc"}, TypeError, "steps must be a whole number"),
        ({"patch_size": 1.5}, TypeError, "patch_size must be a whole number"),
        ({"hparams": "depth=3"}, TypeError, "hparams must be a dict"),
    ],
)
def test_zssr_options_are_checked_before_any_work(options, error, match):
    with pytest.raises(error, match=match):
        zssr(stack((24, 24)), 2, device="cpu", **options)
