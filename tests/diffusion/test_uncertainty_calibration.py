"""Calibration of a per-pixel standard deviation on synthetic cases of known variance."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from napari_sr.diffusion.calibration import (
    interval_coverage,
    interval_scale,
    uncertainty_error_correlation,
)


def known_variance(seed, shape=(256, 256)):
    """Truth = mean + σ·z with σ varying over the image, and σ known."""
    rng = np.random.default_rng(seed)
    sigma = 0.02 + 0.2 * rng.random(shape)
    mean = rng.random(shape)
    return mean + sigma * rng.standard_normal(shape), mean, sigma


@pytest.mark.parametrize("coverage", [0.8, 0.9, 0.95])
def test_a_true_std_calibrates_to_the_normal_quantile_and_covers_held_out_data(coverage):
    k = interval_scale(*known_variance(0), coverage=coverage)
    assert k == pytest.approx(norm.ppf(0.5 + coverage / 2), rel=0.01)
    assert interval_coverage(*known_variance(1), k) == pytest.approx(coverage, abs=0.005)


def test_a_std_twice_too_large_gets_half_the_scale():
    truth, mean, sigma = known_variance(2)
    assert interval_scale(truth, mean, 2 * sigma) == pytest.approx(norm.ppf(0.95) / 2, rel=0.01)
    # uncalibrated, ±1 std of a too-large std over-covers: P(|z| < 2) = 0.954
    assert interval_coverage(truth, mean, 2 * sigma, 1.0) == pytest.approx(0.954, abs=0.005)


def test_the_conformal_rank_by_hand():
    truth = np.arange(1.0, 10.0)  # normalised errors 1..9
    zeros, ones = np.zeros(9), np.ones(9)
    assert interval_scale(truth, zeros, ones, coverage=0.9) == 9.0  # ⌈10 · 0.9⌉ = 9th
    assert interval_scale(truth, zeros, ones, coverage=0.5) == 5.0  # ⌈10 · 0.5⌉ = 5th
    assert interval_scale(truth, zeros, ones, coverage=0.95) == float("inf")  # 10th of 9


def test_the_correlation_ranks_errors_by_uncertainty():
    truth, mean, sigma = known_variance(3)
    informative = uncertainty_error_correlation(truth, mean, sigma)
    # E|σz| = 0.8σ and sd |σz| = 0.6σ: the rank correlation is well below 1 but clear
    assert 0.4 < informative < 0.8
    shuffled = np.random.default_rng(4).permutation(sigma.ravel()).reshape(sigma.shape)
    assert abs(uncertainty_error_correlation(truth, mean, shuffled)) < 0.02


def test_errors_name_the_problem():
    a = np.zeros((4, 4))
    with pytest.raises(ValueError, match="one shape"):
        interval_scale(a, a, np.zeros((4, 5)))
    with pytest.raises(ValueError, match="coverage must be in"):
        interval_scale(a, a, a, coverage=1.0)
    with pytest.raises(ValueError, match="std must be non-negative"):
        interval_coverage(a, a, -np.ones((4, 4)), 1.0)
    with pytest.raises(ValueError, match="constant"):
        uncertainty_error_correlation(a, a, np.ones((4, 4)))
