"""Learning-rate schedules: values at given steps, computed by hand."""

from __future__ import annotations

import math

import pytest

from napari_sr.training.schedule import learning_rate


def test_cosine_values():
    lr = lambda k: learning_rate(k, lr=1e-3, steps=100, schedule="cosine")  # noqa: E731
    assert lr(0) == pytest.approx(1e-3)
    assert lr(50) == pytest.approx(0.5e-3)
    assert lr(25) == pytest.approx(1e-3 * 0.5 * (1 + math.cos(math.pi / 4)))
    assert lr(99) == pytest.approx(1e-3 * 0.5 * (1 + math.cos(math.pi * 0.99)))


def test_cosine_ends_at_min_lr_after_warmup():
    kwargs = {"lr": 1.0, "steps": 110, "warmup_steps": 10, "min_lr": 0.1}
    assert learning_rate(0, **kwargs) == pytest.approx(0.1)  # 1/10 of the peak
    assert learning_rate(4, **kwargs) == pytest.approx(0.5)
    assert learning_rate(9, **kwargs) == pytest.approx(1.0)
    assert learning_rate(10, **kwargs) == pytest.approx(1.0)  # the cosine starts
    assert learning_rate(60, **kwargs) == pytest.approx(0.55)  # half-way: (1 + 0.1) / 2
    assert learning_rate(110, **kwargs) == pytest.approx(0.1)


def test_step_schedule():
    kwargs = {"lr": 1.0, "steps": 100, "schedule": "step", "decay_factor": 0.5}
    assert [learning_rate(k, decay_every=30, **kwargs) for k in (0, 29, 30, 60, 99)] == [
        1.0,
        1.0,
        0.5,
        0.25,
        0.125,
    ]
    # default period: a quarter of the steps after the warm-up
    assert learning_rate(24, **kwargs) == 1.0
    assert learning_rate(25, **kwargs) == 0.5


def test_constant_and_unknown():
    assert learning_rate(77, lr=3e-4, steps=100, schedule="constant") == 3e-4
    assert learning_rate(
        0, lr=3e-4, steps=100, schedule="constant", warmup_steps=3
    ) == pytest.approx(1e-4)
    with pytest.raises(ValueError, match="unknown schedule 'exp'"):
        learning_rate(0, lr=1, steps=1, schedule="exp")
