"""Data consistency of a super-resolved image with its input: zero for an exact
re-degradation, located where the output invents structure, gain and offset forgiven when
fitted, and clear errors."""

from __future__ import annotations

import numpy as np
import pytest

import napari_sr
from napari_sr.consistency import data_consistency


def scene(edge=64, seed=0):
    rng = np.random.default_rng(seed)
    return napari_sr.resize(rng.random((edge // 8, edge // 8)), 8, method="bicubic")


@pytest.mark.parametrize(
    "model", [{}, {"blur": 1.5, "kernel": "area"}, {"blur": 1.0, "kernel": "decimate"}]
)
def test_an_exact_re_degradation_is_consistent_everywhere(model):
    truth = scene()
    observed = napari_sr.degrade(truth, 2, **model)
    result = data_consistency(truth, observed, 2, **model)
    assert result.error.shape == observed.shape
    assert result.error.max() < 1e-10 and result.rse < 1e-10
    assert result.rsp == pytest.approx(1.0)
    assert (result.alpha, result.beta) == (pytest.approx(1.0), pytest.approx(0.0, abs=1e-12))


def test_invented_structure_shows_where_it_is():
    truth = scene()
    observed = napari_sr.degrade(truth, 2)
    invented = truth.copy()
    invented[40:44, 20:24] += 2.0  # a bright spot the input does not have
    result = data_consistency(invented, observed, 2)
    peak = np.unravel_index(np.argmax(result.error), result.error.shape)
    assert 19 <= peak[0] <= 22 and 9 <= peak[1] <= 12  # at the spot, on the input's grid
    assert result.rse > 0.01 and result.rsp < 1
    far = result.error[:10, :] if peak[0] > 16 else result.error[-10:, :]
    assert far.max() < 0.2 * result.error.max()


def test_gain_and_offset_are_forgiven_only_when_fitted():
    truth = scene()
    observed = 3.0 * napari_sr.degrade(truth, 2) + 10.0
    fitted = data_consistency(truth, observed, 2)
    assert fitted.rse < 1e-9 and fitted.alpha == pytest.approx(3.0)
    assert fitted.beta == pytest.approx(10.0)
    plain = data_consistency(truth, observed, 2, fit_intensity=False)
    assert plain.rse > 5 and plain.rsp == pytest.approx(1.0)


def test_stacks_and_images():
    truth = np.stack([scene(seed=1), scene(seed=2)])
    observed = napari_sr.degrade(truth, 2, axes="TYX")
    result = data_consistency(napari_sr.Image(truth, axes="TYX"), observed, 2)
    assert result.error.shape == observed.shape and result.rse < 1e-10


def test_errors_name_the_problem():
    truth = scene()
    with pytest.raises(ValueError, match=r"observed has shape \(30, 30\).*\(32, 32\)"):
        data_consistency(truth, np.zeros((30, 30)), 2)
    bad = truth.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="output contains 1 NaN"):
        data_consistency(bad, napari_sr.degrade(truth, 2), 2)


def test_rgb_images_are_compared_channel_by_channel():
    hr = napari_sr.load_sample("immunohistochemistry").data[:128, :128]  # RGB uint8
    low = napari_sr.degrade(hr, 2)  # rounded (and clipped) to uint8
    result = data_consistency(hr, low, 2, fit_intensity=False)
    assert result.error.shape == low.shape
    assert np.quantile(result.error, 0.99) <= 0.5 + 1e-9  # the rounding, no more
    assert result.rse < 0.35 and result.rsp > 0.999
