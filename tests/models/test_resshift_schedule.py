"""ResShift's schedule and Gaussians against closed forms: the released schedule's values,
the forward chain composed into the marginal, and the posterior by Bayes' rule."""

from __future__ import annotations

import math

import numpy as np
import pytest

from napari_sr.models.resshift import ResShiftSchedule


def released_schedule(levels, kappa=2.0, power=0.3, min_noise=0.04, sqrt_end=0.99):
    """ResShift's released ``get_named_eta_schedule('exponential', ...)``, written out:
    sqrt(η) from min(min_noise / κ, min_noise) to ``sqrt_end``, growing by a constant
    factor per unit of ``linspace(0, 1, T)**power · (T - 1)``."""
    start = min(min_noise / kappa, min_noise)
    factor = math.exp(math.log(sqrt_end / start) / (levels - 1))
    exponents = np.linspace(0, 1, levels) ** power * (levels - 1)
    return (start * factor**exponents) ** 2


@pytest.mark.parametrize(("levels", "kappa", "power"), [(15, 2.0, 0.3), (4, 2.0, 0.3),
                                                         (8, 1.0, 0.5)])  # fmt: skip
def test_the_default_schedule_is_resshifts_released_one(levels, kappa, power):
    schedule = ResShiftSchedule(levels=levels, kappa=kappa, power=power)
    np.testing.assert_allclose(schedule.etas, released_schedule(levels, kappa, power),
                               rtol=1e-12)  # fmt: skip
    assert schedule.etas[0] == pytest.approx(min(0.04 / kappa, 0.04) ** 2)
    assert schedule.etas[-1] == pytest.approx(0.9801)
    assert np.all(np.diff(schedule.etas) > 0)


def test_four_levels_by_hand():
    # sqrt(η_1) = 0.02, sqrt(η_4) = 0.99, factor b = (0.99 / 0.02)^(1/3) per exponent unit;
    # exponents (t-1)/3)^0.3 · 3: 0, 3^0.7 = 2.1577, 3 · (2/3)^0.3 = 2.6563, 3
    b = (0.99 / 0.02) ** (1 / 3)
    expected = [(0.02 * b**e) ** 2 for e in (0.0, 3**0.7, 3 * (2 / 3) ** 0.3, 3.0)]
    np.testing.assert_allclose(ResShiftSchedule(levels=4).etas, expected, rtol=1e-12)


def test_the_forward_steps_compose_into_the_marginal():
    """Mean x0 + η_t e0 and variance κ² η_t: the steps' shifts α_t and variances κ² α_t add
    up; checked by simulating the chain."""
    schedule = ResShiftSchedule(levels=6, kappa=1.5)
    rng = np.random.default_rng(0)
    x0, y0 = 0.3, -0.7
    x = np.full(400_000, x0)
    for t, alpha in enumerate(schedule.alphas, start=1):
        x = x + alpha * (y0 - x0) + schedule.kappa * math.sqrt(alpha) * rng.standard_normal(x.size)
        mean, std = schedule.marginal(x0, y0, t)
        assert x.mean() == pytest.approx(mean, abs=4 * std / math.sqrt(x.size) + 1e-12)
        assert x.std() == pytest.approx(std, rel=0.01)
    np.testing.assert_allclose(np.cumsum(schedule.alphas), schedule.etas, rtol=1e-12)


@pytest.mark.parametrize(("t", "s"), [(5, 4), (5, 2), (2, 1), (3, 0)])
def test_the_posterior_is_bayes_rule(t, s):
    """q(x_s | x_t, x0) ∝ q(x_t | x_s) q(x_s | x0): a product of Gaussians in x_s, with
    q(x_t | x_s) = N(x_s + (η_t − η_s) e0, κ² (η_t − η_s)), q(x_s | x0) = N(x0 + η_s e0, κ² η_s);
    the result does not depend on y0."""
    schedule = ResShiftSchedule(levels=5, kappa=2.0)
    x0, x_t = 0.25, 1.4
    eta_t, eta_s, k2 = schedule.eta(t), schedule.eta(s), schedule.kappa**2
    for y0 in (-1.0, 0.0, 0.8):
        e0 = y0 - x0
        if s == 0:
            expected_mean, expected_std = x0, 0.0
        else:
            precision = 1 / (k2 * (eta_t - eta_s)) + 1 / (k2 * eta_s)
            weighted = (x_t - (eta_t - eta_s) * e0) / (k2 * (eta_t - eta_s)) + (
                x0 + eta_s * e0) / (k2 * eta_s)  # fmt: skip
            expected_mean, expected_std = weighted / precision, math.sqrt(1 / precision)
        mean, std = schedule.posterior(x_t, x0, t, s)
        assert mean == pytest.approx(expected_mean, rel=1e-12, abs=1e-12)
        assert std == pytest.approx(expected_std, rel=1e-12, abs=1e-15)


def test_the_prior_is_the_marginal_of_the_last_level_at_y0():
    schedule = ResShiftSchedule(levels=4)
    mean, std = schedule.prior(np.array([0.5, -0.5]))
    np.testing.assert_array_equal(mean, [0.5, -0.5])
    assert std == pytest.approx(2.0 * 0.99)


def test_sampling_levels():
    schedule = ResShiftSchedule(levels=15)
    assert schedule.sampling_levels() == list(range(15, 0, -1))
    assert schedule.sampling_levels(4) == [15, 10, 6, 1]
    assert schedule.sampling_levels(1) == [15]
    with pytest.raises(ValueError, match="steps must be a whole number from 1 to the 15 levels"):
        schedule.sampling_levels(16)


def test_input_scale_gives_unit_variance_inputs():
    schedule = ResShiftSchedule(levels=4)
    rng = np.random.default_rng(1)
    x0 = rng.standard_normal(200_000) * 0.5
    mean, std = schedule.marginal(x0, x0, 4)  # e0 = 0: only the noise and the data
    x_t = mean + std * rng.standard_normal(x0.size)
    assert np.std(x_t * schedule.input_scale(4, data_std=0.5)) == pytest.approx(1.0, rel=0.01)


def test_record_round_trip_and_errors():
    schedule = ResShiftSchedule(levels=4, kappa=1.0)
    assert ResShiftSchedule.from_dict(schedule.to_dict()) == schedule
    with pytest.raises(ValueError, match="unknown diffusion schedule 'ddpm'"):
        ResShiftSchedule.from_dict({"kind": "ddpm"})
    with pytest.raises(ValueError, match="levels must be a whole number of at least 2"):
        ResShiftSchedule(levels=1)
    with pytest.raises(ValueError, match="0 < eta_first < eta_last < 1"):
        ResShiftSchedule(eta_last=1.0)
    with pytest.raises(ValueError, match="the posterior goes down"):
        schedule.posterior(0.0, 0.0, 2, 3)


def test_training_inputs_draw_levels_uniformly_and_states_from_the_marginal():
    torch = pytest.importorskip("torch")
    from napari_sr.models.resshift import input_scales, training_inputs

    schedule = ResShiftSchedule(levels=4)
    n = 20_000
    x0 = torch.full((n, 1, 2, 2), 0.5, dtype=torch.float64)
    y0 = torch.full((n, 1, 2, 2), -0.5, dtype=torch.float64)
    state, levels = training_inputs(schedule, x0, y0, torch.Generator().manual_seed(0))
    assert state.dtype == torch.float64 and levels.dtype == torch.int64
    counts = torch.bincount(levels, minlength=5)[1:].double() / n
    torch.testing.assert_close(counts, torch.full((4,), 0.25, dtype=torch.float64), atol=0.015,
                               rtol=0)  # fmt: skip
    for t in range(1, 5):
        values = state[levels == t].flatten().numpy()
        mean, std = schedule.marginal(0.5, -0.5, t)
        assert values.mean() == pytest.approx(mean, abs=4 * std / math.sqrt(values.size))
        assert values.std() == pytest.approx(std, rel=0.03)
    again, _ = training_inputs(schedule, x0, y0, torch.Generator().manual_seed(0))
    torch.testing.assert_close(again, state, rtol=0, atol=0)  # seeded: exactly repeated
    scales = input_scales(schedule, torch.tensor([1, 4]))
    assert scales.shape == (2, 1, 1, 1)
    assert float(scales[1]) == pytest.approx(1 / math.sqrt(4 * 0.9801 + 1))
