"""Whether a per-pixel standard deviation means something: calibrated intervals, their
coverage, and how well the uncertainty ranks the errors.

The spread of diffusion samples is an uncertainty only if it is calibrated against the
truth. Split conformal prediction (Vovk et al. 2005; Angelopoulos & Bates 2021) gives the
interval ``mean ± k·std`` a stated coverage without assuming the errors are Gaussian: on a
calibration set with truth, ``k`` is the ``⌈(n + 1)·coverage⌉``-th smallest of the ``n``
normalised errors ``|truth − mean| / std``; on new data from the same distribution the
interval then covers the truth at least that often. :func:`interval_coverage` measures it
on held-out data, :func:`uncertainty_error_correlation` how well the uncertainty ranks the
errors (Spearman's ρ).

References
----------
Angelopoulos, A. N., and Bates, S. (2021). A gentle introduction to conformal prediction
and distribution-free uncertainty quantification. arXiv:2107.07511.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["interval_coverage", "interval_scale", "uncertainty_error_correlation"]

STD_FLOOR = 1e-6
"""Smallest standard deviation divided by, as a fraction of the truth's span: pixels where
every sample agrees would otherwise give infinite normalised errors."""


def _flat(truth, mean, std) -> tuple[np.ndarray, np.ndarray]:
    truth, mean, std = (np.asarray(a, dtype=np.float64) for a in (truth, mean, std))
    if not truth.shape == mean.shape == std.shape:
        raise ValueError(
            f"truth, mean and std must have one shape, not {truth.shape}, {mean.shape} and "
            f"{std.shape}"
        )
    if truth.size == 0:
        raise ValueError("no pixels to calibrate on")
    if not (np.isfinite(truth).all() and np.isfinite(mean).all() and np.isfinite(std).all()):
        raise ValueError("truth, mean and std must be finite")
    if (std < 0).any():
        raise ValueError("std must be non-negative")
    span = float(np.ptp(truth)) or 1.0
    error = np.abs(truth - mean).ravel()
    return error, np.maximum(std.ravel(), STD_FLOOR * span)


def interval_scale(truth, mean, std, coverage: float = 0.9) -> float:
    """``k`` such that ``mean ± k·std`` covers the truth at ``coverage`` (split conformal).

    Parameters
    ----------
    truth, mean, std : array_like
        The calibration set: true images, sample means and standard deviations, one shape
        (any axes; every pixel is one calibration point).
    coverage : float
        The wanted coverage, in (0, 1).

    Returns
    -------
    float
        The ``⌈(n + 1)·coverage⌉``-th smallest normalised error ``|truth − mean| / std``
        (infinite when ``n`` is too small for the coverage).
    """
    if not 0 < coverage < 1:
        raise ValueError(f"coverage must be in (0, 1), not {coverage!r}")
    error, std = _flat(truth, mean, std)
    scores = np.sort(error / std)
    rank = math.ceil((scores.size + 1) * coverage)
    return float("inf") if rank > scores.size else float(scores[rank - 1])


def interval_coverage(truth, mean, std, k: float) -> float:
    """Fraction of pixels whose truth lies in ``mean ± k·std``."""
    error, std = _flat(truth, mean, std)
    return float(np.mean(error <= k * std))


def uncertainty_error_correlation(truth, mean, std) -> float:
    """Spearman's rank correlation between the standard deviation and the absolute error
    (1: the uncertainty orders the errors exactly; 0: it says nothing about them)."""
    from scipy.stats import spearmanr

    error, std = _flat(truth, mean, std)
    if np.ptp(error) == 0 or np.ptp(std) == 0:
        raise ValueError("the errors or the standard deviations are constant: no ranking")
    return float(spearmanr(std, error).statistic)
