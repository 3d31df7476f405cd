"""The reverse process: exact with a perfect denoiser, seeded per sample, cancellable."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from napari_sr import Cancelled  # noqa: E402
from napari_sr.models.resshift import (  # noqa: E402
    ResShiftSchedule,
    sample,
    summarise,
)

SCHEDULE = ResShiftSchedule(levels=6)


def images(seed=0, shape=(1, 2, 12, 10)):
    gen = torch.Generator().manual_seed(seed)
    truth = torch.rand(shape, generator=gen, dtype=torch.float64) * 2 - 1
    return truth, truth + 0.3 * torch.randn(shape, generator=gen, dtype=torch.float64)


@pytest.mark.parametrize("steps", [None, 3, 1])
def test_a_perfect_denoiser_samples_the_truth(steps):
    truth, y0 = images()
    seen = []

    def oracle(x_t, condition, t):
        seen.append((t, float((x_t - truth).std())))
        assert torch.equal(condition, y0.expand_as(x_t))
        return truth.expand_as(x_t)

    out = sample(oracle, y0, SCHEDULE, samples=3, steps=steps)
    assert out.shape == (3, 2, 12, 10) and out.dtype == torch.float64
    torch.testing.assert_close(out, truth.expand(3, -1, -1, -1), rtol=0, atol=1e-12)
    assert [t for t, _ in seen] == SCHEDULE.sampling_levels(steps)
    # the state's spread around the truth shrinks with the level, from about κ·sqrt(η_T)
    spreads = [s for _, s in seen]
    assert spreads[0] == pytest.approx(2.0 * 0.99, rel=0.15)
    assert spreads == sorted(spreads, reverse=True)


def test_samples_repeat_under_their_seed_and_do_not_depend_on_the_batch():
    _, y0 = images(1)

    def blur(x_t, condition, t):  # a denoiser that keeps some noise: samples differ
        return 0.5 * (x_t + condition)

    eight = sample(blur, y0, SCHEDULE, samples=8, seed=7)
    two = sample(blur, y0, SCHEDULE, samples=2, seed=7)
    torch.testing.assert_close(eight[:2], two, rtol=0, atol=1e-12)
    later = sample(blur, y0, SCHEDULE, samples=3, seed=7, first_sample=5)
    torch.testing.assert_close(eight[5:], later, rtol=0, atol=1e-12)
    assert not torch.allclose(eight[0], eight[1])
    assert not torch.allclose(sample(blur, y0, SCHEDULE, samples=2, seed=8), two)


def test_progress_and_cancel():
    _, y0 = images()
    calls = []
    sample(lambda x, c, t: c.expand_as(x), y0, SCHEDULE, steps=4,
           progress=lambda d, n: calls.append((d, n)))  # fmt: skip
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]

    def cancel_after_two():
        return len(steps_run) >= 2

    steps_run = []

    def denoise(x, c, t):
        steps_run.append(t)
        return c.expand_as(x)

    with pytest.raises(Cancelled):
        sample(denoise, y0, SCHEDULE, cancel=cancel_after_two)
    assert len(steps_run) == 2


def test_bad_arguments():
    _, y0 = images()
    with pytest.raises(ValueError, match="samples must be a whole number of at least 1"):
        sample(lambda x, c, t: x, y0, SCHEDULE, samples=0)
    with pytest.raises(ValueError, match=r"y0 must be one \(1, C, H, W\) image"):
        sample(lambda x, c, t: x, y0[0], SCHEDULE)


def test_summarise_gives_the_mean_and_unbiased_std():
    values = np.array([[1.0, 2.0], [3.0, 2.0], [5.0, 2.0]])
    mean, std = summarise(values)
    np.testing.assert_allclose(mean, [3.0, 2.0])
    np.testing.assert_allclose(std, [2.0, 0.0])
    mean, std = summarise(torch.ones(1, 3))
    np.testing.assert_array_equal(std, np.zeros(3, np.float32))
