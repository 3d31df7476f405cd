"""The noise estimate that routes the single-image defaults (napari_sr.noise)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from napari_sr import Image
from napari_sr.noise import estimate_noise, relative_noise


def scene(shape=(128, 128), seed=0, top=1000.0):
    """Blobs and edges: structure the estimate must not mistake for noise."""
    rng = np.random.default_rng(seed)
    blobs = ndimage.gaussian_filter(rng.random(shape), 3)
    blobs = (blobs - blobs.min()) / np.ptp(blobs)
    edges = (np.add.outer(np.arange(shape[0]), np.arange(shape[1])) % 128 < 64) * 0.3
    return (blobs + edges) * top / 1.3


@pytest.mark.parametrize("sigma", [1.0, 5.0, 20.0])
def test_gaussian_noise_is_found_within_ten_percent_beside_structure(sigma):
    rng = np.random.default_rng(1)
    clean = scene()
    assert estimate_noise(clean + rng.normal(0, sigma, clean.shape)) == pytest.approx(
        sigma, rel=0.1
    )


def test_a_noise_free_scene_reads_far_below_any_noise_level():
    # edges and blobs respond to the filter; the median keeps them out
    assert estimate_noise(scene()) < 0.005 * 1000
    assert estimate_noise(np.full((16, 16), 7.0)) == 0.0


def test_the_estimate_follows_the_intensity_units_and_ignores_an_offset():
    rng = np.random.default_rng(2)
    noisy = scene() + rng.normal(0, 4, (128, 128))
    base = estimate_noise(noisy)
    assert estimate_noise(3 * noisy + 100) == pytest.approx(3 * base, rel=1e-9)


def test_poisson_noise_reads_as_a_relative_level_that_rises_as_photons_fall():
    rng = np.random.default_rng(3)
    truth = scene(top=1.0)
    levels = [
        relative_noise(rng.poisson(truth * peak).astype(np.float32)) for peak in (2000, 200, 50)
    ]
    assert levels[0] < levels[1] < levels[2]
    # sqrt(peak) / peak is the σ at the brightest pixel: a typical pixel is dimmer
    assert levels[2] < 1 / np.sqrt(50)


def test_stacks_take_the_median_of_their_planes_and_honour_axes():
    rng = np.random.default_rng(4)
    clean = np.stack([scene(seed=i) for i in range(5)])
    sigmas = np.array([1.0, 2.0, 3.0, 4.0, 30.0])  # one very noisy plane does not decide
    stack = clean + rng.normal(0, 1, clean.shape) * sigmas[:, None, None]
    assert estimate_noise(stack, axes="ZYX") == pytest.approx(3.0, rel=0.15)
    # the same stack as channels last, given as an Image with its axes
    moved = Image(np.moveaxis(stack, 0, -1), axes="YXC")
    assert estimate_noise(moved) == pytest.approx(estimate_noise(stack, axes="ZYX"), rel=1e-9)


def test_tiny_planes_and_flat_images_give_zero_rather_than_failing():
    assert estimate_noise(np.zeros((2, 50))) == 0.0
    assert relative_noise(np.full((20, 20), 3.0)) == 0.0


def test_texture_beside_flat_areas_is_not_read_as_noise():
    """Only the flattest pixels count: a finely striped half (period 8 px, full contrast)
    beside a smooth one reads as clean, while noise over both halves is found."""
    y, x = np.mgrid[0:128, 0:128].astype(float)
    stripes = 500 + 500 * np.sin(2 * np.pi * (x + 0.5 * y) / 8)
    image = np.where(x < 80, stripes, 300 + 2 * y)  # textured 5/8, smooth 3/8
    everywhere = np.median(np.abs(ndimage.laplace(image)))  # what a plain estimate sees
    assert everywhere > 50
    assert estimate_noise(image) < 1.0
    rng = np.random.default_rng(5)
    assert estimate_noise(image + rng.normal(0, 10, image.shape)) == pytest.approx(10, rel=0.15)


def test_shot_noise_on_a_noise_free_dark_background_is_found():
    """Photon counting without read noise: the dark background (half the image) is
    exactly 0 and has no noise to show; the noise of the bright cells is what counts."""
    rng = np.random.default_rng(6)
    y, x = np.mgrid[0:192, 0:192]
    cells = sum(
        np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * 14.0**2))
        for cy, cx in rng.uniform(20, 172, (6, 2))
    )
    signal = np.clip(cells / cells.max() * 1.2 - 0.2, 0, None)  # zero where there is no cell
    assert (signal == 0).mean() > 0.4
    peak = 200.0
    noisy = rng.poisson(signal * peak).astype(np.float32)
    level = relative_noise(noisy)
    # σ at a bright pixel is sqrt(n)/peak; a cell's flattest bright parts hold 0.3-1 peak
    assert np.sqrt(0.3 * peak) / peak < level < np.sqrt(peak) / peak * 1.2
    assert relative_noise(signal * peak) < 0.002


def test_clipped_pixels_do_not_hide_the_noise():
    """A fifth of the image saturated at the maximum and the background clipped:
    neither constant region reads as a noise-free level."""
    rng = np.random.default_rng(7)
    clean = scene()
    noisy = np.clip(clean + rng.normal(0, 8, clean.shape), 310, 620)
    assert (noisy == 620).mean() > 0.2 and (noisy == 310).mean() > 0.1
    # pixels just below the clip level lose part of their spread: a little low, not clean
    assert 0.65 * 8 < estimate_noise(noisy) < 1.1 * 8
    assert estimate_noise(np.clip(clean, 310, 620)) < 0.5
