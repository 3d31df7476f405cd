"""Sub-pixel registration: known shifts, noise, references, outliers, errors."""

from __future__ import annotations

import numpy as np
import pytest

import napari_sr
from napari_sr.multiframe.registration import _fourier_shift, register
from napari_sr.samples import sample_path


def _scene(rng, size=96):
    from scipy import ndimage

    return ndimage.gaussian_filter(rng.random((size, size)), 2.0, mode="wrap") * 1000


def test_recovers_known_sub_pixel_shifts_without_noise(rng):
    scene = _scene(rng)
    truth = rng.uniform(-3, 3, (6, 2))
    truth[0] = 0
    frames = np.stack([_fourier_shift(scene, d) for d in truth])
    found = register(frames, reference=0)
    assert found.shifts[0].tolist() == [0.0, 0.0]  # the reference is exactly 0
    np.testing.assert_allclose(found.shifts, truth, atol=0.01)
    assert np.all(found.quality > 0.99) and not found.outliers.any()


def test_the_sample_burst_to_a_tenth_of_a_pixel():
    """The bundled burst: Poisson noise at a peak of 200 photons and read noise (sigma 2),
    shifts known from sample_data/burst_shifts.csv: error well under 0.1 pixel."""
    truth = np.loadtxt(sample_path("burst").parent / "burst_shifts.csv", delimiter=",",
                       skiprows=1)[:, 1:]  # fmt: skip
    found = register(napari_sr.load_sample("burst").data, reference=0)
    assert np.abs(found.shifts - truth).max() < 0.05  # measured 0.025


def test_median_reference_centres_the_shifts(rng):
    scene = _scene(rng)
    truth = np.array([[0.0, 0.0], [1.0, 0.5], [2.0, -1.0], [-0.5, 0.25], [0.75, 2.0]])
    frames = np.stack([_fourier_shift(scene, d) for d in truth])
    found = register(frames)  # reference="median"
    np.testing.assert_allclose(np.median(found.shifts, axis=0), 0, atol=1e-9)
    relative = found.shifts - found.shifts[0]
    np.testing.assert_allclose(relative, truth, atol=0.01)
    assert found.reference == "median" and "frame" in found.table()


def test_a_frame_of_another_scene_is_flagged(rng):
    scene = _scene(rng)
    frames = np.stack([_fourier_shift(scene, (0.3 * k, -0.2 * k)) for k in range(6)])
    frames = frames + rng.normal(0, 5, frames.shape)
    frames[4] = _scene(np.random.default_rng(99))  # moving content: nothing in common
    found = register(frames, reference=0)
    assert found.outliers.tolist() == [False, False, False, False, True, False]
    assert found.quality[4] < 0.5 < found.quality[0]


@pytest.mark.parametrize(
    ("frames", "kwargs", "match"),
    [
        (np.zeros((1, 16, 16)), {}, "at least 2 frames"),
        (np.zeros((16, 16)), {}, "at least 2 frames"),
        (np.zeros((3, 4, 4)), {}, "too small"),
        (np.full((3, 16, 16), np.nan), {}, "NaN"),
        (np.zeros((3, 16, 16)), {"reference": 5}, "out of range"),
        (np.zeros((3, 16, 16)), {"reference": "mean"}, "'median' or a frame index"),
    ],
)
def test_bad_input(frames, kwargs, match):
    with pytest.raises(ValueError, match=match):
        register(frames, **kwargs)
