"""Requests too large for memory are refused with one clear ValueError, before anything
input-sized is allocated (the NaN/Inf check included), by upscale, resize and degrade."""

from __future__ import annotations

import numpy as np
import pytest

from napari_sr import degrade, resize, upscale
from napari_sr.utils import memory

TOO_BIG = r"would need .* of memory but only .* is available; use a smaller scale"


def _huge(shape, dtype=np.float32):
    """A lazy array of ``shape``: one value broadcast, nothing allocated."""
    return np.broadcast_to(np.zeros((), dtype), shape)


@pytest.fixture
def little_memory(monkeypatch):
    monkeypatch.setattr(memory, "available_memory", lambda: 2**20)  # 1 MiB


def test_upscale_checks_memory_before_nan(little_memory):
    """The memory check comes first: a NaN image too large to upscale gets the memory
    message (before, np.isfinite made an input-sized mask first)."""
    data = np.full((64, 64), np.nan, np.float32)
    with pytest.raises(ValueError, match=TOO_BIG):
        upscale(data, 16, method="bicubic")


def test_upscale_still_reports_nan_when_it_fits():
    data = np.ones((3, 8, 8), np.float32)
    data[2, 7, 7] = np.inf
    with pytest.raises(ValueError, match="contains 1 NaN or infinite value"):
        upscale(data, 2, method="bicubic")


def test_resize_refuses_what_does_not_fit(little_memory):
    with pytest.raises(ValueError, match=r"resized image of shape \(1024, 1024\) .*" + TOO_BIG):
        resize(np.zeros((64, 64), np.uint8), 16)
    with pytest.raises(ValueError, match=TOO_BIG):
        resize(np.full((64, 64), np.nan), 16)  # memory first, then NaN


def test_resize_counts_its_working_buffers(monkeypatch):
    """A uint8 output of 64 KiB needs float32 passes and casting temporaries beside it."""
    monkeypatch.setattr(memory, "available_memory", lambda: 200 * 2**10)
    with pytest.raises(ValueError, match="resized image of shape"):
        resize(np.zeros((64, 64), np.uint8), 4)
    monkeypatch.setattr(memory, "available_memory", lambda: 2**30)
    assert resize(np.zeros((64, 64), np.uint8), 4).shape == (256, 256)


def test_resize_still_reports_nan_when_it_fits():
    with pytest.raises(ValueError, match="contains 2 NaN"):
        resize(np.array([[np.nan, 1.0], [np.inf, 0.0]]), 2)


def test_degrade_checks_memory_before_nan(little_memory):
    data = np.full((2048, 2048), np.nan, np.float32)  # 16 MiB in, 1 MiB out at ×2
    with pytest.raises(ValueError, match="degraded image .*" + TOO_BIG):
        degrade(data, 2)


def test_degrade_still_reports_nan():
    data = np.ones((16, 16), np.float32)
    data[0, 0] = np.nan
    with pytest.raises(ValueError, match="contains 1 NaN"):
        degrade(data, 2)


@pytest.mark.parametrize(
    ("scale", "method"),
    [(8, "bicubic"), (4, None)],  # None: the quality model is prepared
)
def test_a_huge_lazy_request_gets_the_memory_message(scale, method):
    """A (4, 100000, 100000) float32 request (160 GB in, 10-40 TB out) is refused in one
    clear ValueError, never numpy's MemoryError."""
    with pytest.raises(ValueError, match=r"shape \(4, \d+, \d+\) \(float32\) " + TOO_BIG):
        upscale(_huge((4, 100_000, 100_000)), scale, method=method)


def test_huge_lazy_resize_and_degrade_get_the_memory_message():
    with pytest.raises(ValueError, match=TOO_BIG):
        resize(_huge((4, 100_000, 100_000)), 8)
    with pytest.raises(ValueError, match=TOO_BIG):
        degrade(_huge((4, 300_000, 300_000)), 0.5)


def test_z_interpolation_refuses_what_does_not_fit(little_memory):
    from napari_sr.resample import point_grid, sample_at

    with pytest.raises(ValueError, match=r"interpolated stack of shape \(121, 64, 64\)"):
        sample_at(np.zeros((4, 64, 64), np.uint16), point_grid(4, 40), axis=0)
    with pytest.raises(ValueError, match="grid of positions .*" + TOO_BIG):
        point_grid(1000, 1e4)


def test_a_huge_interpolation_table_is_refused_before_it_is_built(monkeypatch):
    """A scale that is no simple fraction needs one row of weights per output pixel."""
    from napari_sr.resample import plan_axis

    monkeypatch.setattr(memory, "available_memory", lambda: 64 * 2**20)
    with pytest.raises(ValueError, match=r"interpolation table of shape \(7777777, 6\)"):
        plan_axis(10, 7_777_777, 777777.7, "bicubic", True)
    with pytest.raises(ValueError, match="interpolation table"):
        resize(np.zeros((3, 10)), shape=(3, 7_777_777))
