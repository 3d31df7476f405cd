"""Radial power spectra and spectral fidelity: white noise is flat, a pure tone lands in
its ring, blur reads negative and invented detail positive, identical images score 0."""

from __future__ import annotations

import numpy as np
import pytest

import napari_sr
from napari_sr.spectrum import radial_spectrum, spectral_fidelity


def natural(edge=128, seed=0):
    rng = np.random.default_rng(seed)
    coarse = napari_sr.resize(rng.random((edge // 8, edge // 8)), 8, method="bicubic")
    return coarse + 0.05 * rng.random((edge, edge))


def test_white_noise_has_a_flat_spectrum_up_to_nyquist():
    noise = np.random.default_rng(1).normal(size=(16, 128, 128))
    frequency, power = radial_spectrum(noise)
    assert frequency[0] == pytest.approx(1 / 128) and frequency[-1] == pytest.approx(0.5)
    flat = power[8:] / power[8:].mean()  # away from the window's lowest bins
    assert flat.min() > 0.85 and flat.max() < 1.15


def test_a_pure_tone_lands_in_its_ring():
    y, x = np.mgrid[:128, :128]
    tone = np.cos(2 * np.pi * (0.125 * x + 0.0 * y))
    frequency, power = radial_spectrum(tone)
    assert frequency[np.argmax(power)] == pytest.approx(0.125)


def test_identical_images_score_zero_and_blur_and_noise_have_opposite_signs():
    truth = natural()
    same = spectral_fidelity(truth, truth.copy())
    assert same.error_db == 0 and same.high_db == 0
    blurred = napari_sr.resize(napari_sr.resize(truth, 0.5, method="bicubic"), 2,
                               method="bicubic")  # fmt: skip
    blur = spectral_fidelity(truth, blurred)
    assert blur.high_db < -3 and blur.error_db > 1
    noisy = truth + 0.1 * np.random.default_rng(2).normal(size=truth.shape)
    assert spectral_fidelity(truth, noisy).high_db > 3


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="same size"):
        spectral_fidelity(np.zeros((32, 32)), np.zeros((32, 30)))
    with pytest.raises(ValueError, match="at least 8 × 8"):
        radial_spectrum(np.zeros((4, 40)))
    with pytest.raises(ValueError, match="NaN"):
        radial_spectrum(np.full((16, 16), np.nan))
