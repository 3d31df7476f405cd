"""Real-ESRGAN's second-order degradation of photographs (PhotoDegradationRange): its
kernels, noise, JPEG, the whole chain, and its use in training."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from napari_sr import Image, degrade, resize
from napari_sr.normalization import NATURAL_8BIT
from napari_sr.photo_degradation import (
    KERNEL_KINDS,
    PhotoDegradationRange,
    _anisotropic_kernel,
    _jpeg,
    _sinc,
)
from napari_sr.training import data
from napari_sr.training.config import TrainConfig

QUIET = {
    "blur": [1e-3, 1e-3], "blur2": [1e-3, 1e-3], "sinc": 0, "sinc2": 0, "final_sinc": 0,
    "resize_probs": [0, 0, 1], "resize_probs2": [0, 0, 1], "gaussian_noise": 1,
    "gaussian_noise2": 1, "noise": 0, "noise2": 0, "jpeg": 100, "jpeg2": 100,
}  # fmt: skip
"""A chain that only resizes (and rounds, and JPEG-compresses at quality 100)."""


def photo(seed=0, shape=(3, 64, 64)):
    rng = np.random.default_rng(seed)
    smooth = ndimage.gaussian_filter(rng.random(shape), (0, 2, 2))
    smooth = (smooth - smooth.min()) / np.ptp(smooth)
    return (20 + 215 * smooth).astype(np.float32)


# ----------------------------------------------------------------------------- kernels


def test_a_gaussian_kernel_has_the_asked_covariance():
    s1, s2, angle = 3.0, 1.5, 0.6
    kernel = _anisotropic_kernel(41, s1, s2, angle, beta=1.0)
    assert kernel.sum() == pytest.approx(1, abs=1e-5)
    r = np.arange(41) - 20
    x, y = np.meshgrid(r, r, indexing="xy")
    moments = [[(kernel * a * b).sum() for b in (x, y)] for a in (x, y)]
    c, s = np.cos(angle), np.sin(angle)
    rotation = np.array([[c, -s], [s, c]])
    np.testing.assert_allclose(moments, rotation @ np.diag([s1**2, s2**2]) @ rotation.T,
                               atol=1e-3)  # fmt: skip


def test_plateau_and_generalised_kernels_are_flatter_or_sharper_than_gaussian():
    gaussian = _anisotropic_kernel(21, 2, 2, 0, 1.0)
    flat_top = _anisotropic_kernel(21, 2, 2, 0, 4.0)  # generalised, β = 4: a flat top
    plateau = _anisotropic_kernel(21, 2, 2, 0, 1.0, plateau=True)  # heavy tails
    assert flat_top[10, 10] / flat_top[10, 11] < gaussian[10, 10] / gaussian[10, 11]
    assert plateau[10, 20] / plateau[10, 10] > gaussian[10, 20] / gaussian[10, 10]
    for kernel in (flat_top, plateau):
        assert kernel.sum() == pytest.approx(1, abs=1e-5)
        np.testing.assert_allclose(kernel, kernel.T, atol=1e-7)


def test_a_sinc_kernel_passes_below_its_cutoff_and_stops_above():
    kernel = _sinc(np.pi / 2, 21)
    spectrum = np.abs(np.fft.fft2(kernel, s=(256, 256)))
    frequency = np.fft.fftfreq(256) * 2 * np.pi  # radians per pixel
    assert spectrum[0, 0] == pytest.approx(1, abs=1e-5)
    assert spectrum[0, np.argmin(np.abs(frequency - 0.25 * np.pi))] > 0.9
    assert spectrum[0, np.argmin(np.abs(frequency - 0.8 * np.pi))] < 0.1


def test_jpeg_loss_grows_as_quality_falls():
    image = photo()[:1] / 255
    errors = [np.abs(_jpeg(image, q) - image).mean() for q in (95, 60, 30)]
    assert errors[0] < errors[1] < errors[2]
    assert errors[0] < 2 / 255


# ----------------------------------------------------------------------------- the chain


def test_the_chain_gives_an_8_bit_low_resolution_image_that_repeats_under_its_seed():
    spec = PhotoDegradationRange()
    image = photo()
    low = spec.apply(image, 4, np.random.default_rng(0))
    assert low.shape == (3, 16, 16) and low.dtype == np.float32
    assert 0 <= low.min() and low.max() <= 255
    np.testing.assert_array_equal(low, np.round(low))  # 8-bit steps
    np.testing.assert_array_equal(low, spec.apply(image, 4, np.random.default_rng(0)))
    assert not np.array_equal(low, spec.apply(image, 4, np.random.default_rng(1)))
    grey = spec.apply(image[:1] * 4, 2, np.random.default_rng(0), top=1020)  # another white
    assert grey.shape == (1, 32, 32) and grey.max() <= 1020
    np.testing.assert_array_equal(grey / 4, np.round(grey / 4))


def test_a_quiet_chain_is_a_plain_downscaling():
    spec = PhotoDegradationRange.from_dict(QUIET)
    image = photo()[:1]  # grey: colour JPEG halves the chroma resolution even at 100
    low = spec.apply(image, 2, np.random.default_rng(0))
    plain = [resize(image, shape=(32, 32), method=m, axes="CYX")
             for m in ("area", "bilinear", "bicubic")]  # fmt: skip
    assert min(np.abs(low - p).max() for p in plain) <= 2.0  # rounding and JPEG at 100


def test_a_protocol_draw_is_the_rounded_matlab_bicubic_downscaling():
    image = photo()
    bicubic = np.round(np.clip(degrade(image, 4, kernel="bicubic", axes="CYX"), 0, 255))
    always = PhotoDegradationRange(protocol=1.0)
    np.testing.assert_array_equal(always.apply(image, 4, np.random.default_rng(3)), bicubic)
    grey = always.apply(image * 4, 4, np.random.default_rng(3), top=1020)  # another white
    np.testing.assert_allclose(grey, bicubic * 4, rtol=1e-6)
    # a share of the draws: the rest degraded (never equal to the protocol's image)
    sometimes = PhotoDegradationRange(protocol=0.3)
    rng = np.random.default_rng(0)
    plain = [np.array_equal(sometimes.apply(image, 4, rng), bicubic) for _ in range(60)]
    assert 10 <= sum(plain) <= 26  # binomial(60, 0.3): 18 ± 3.5


def test_gaussian_noise_has_the_asked_sigma():
    spec = PhotoDegradationRange.from_dict({**QUIET, "noise": 20, "gray_noise": 1})
    image = np.full((3, 128, 128), 128, np.float32)
    low = spec.apply(image, 1, np.random.default_rng(0))
    assert np.std(low - 128) == pytest.approx(20, rel=0.05)
    np.testing.assert_array_equal(low[0], low[1])  # grey noise: alike in every channel
    # colour noise (before JPEG, whose chroma subsampling correlates the channels)
    noisy = PhotoDegradationRange._noise(image / 255, np.random.default_rng(0), 1.0,
                                         (20, 20), (1, 1), gray=0.0)  # fmt: skip
    assert np.std(noisy * 255 - 128) == pytest.approx(20, rel=0.05)
    assert abs(np.corrcoef(noisy[0].ravel(), noisy[1].ravel())[0, 1]) < 0.05


def test_kernel_widths_cover_the_odd_sizes_of_the_range():
    spec = PhotoDegradationRange()
    rng = np.random.default_rng(0)
    widths = {spec._kernel(rng, spec.blur, 0.0).shape[0] for _ in range(300)}
    assert widths == set(range(7, 22, 2))
    assert len(spec.kernel_probs) == len(KERNEL_KINDS)


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"jpeg": [30, 120]}, "jpeg quality must be at most 100"),
        ({"kernel_size": [8, 21]}, "kernel_size must be odd whole numbers"),
        ({"kernel_probs": [1, 0]}, "kernel_probs must be 6 non-negative numbers"),
        ({"sinc": 2}, r"sinc is a probability in \[0, 1\], not 2"),
        ({"protocol": -0.1}, r"protocol is a probability in \[0, 1\], not -0.1"),
        ({"blur": [0, 1]}, r"blur must be > 0"),
        ({"noise": [5, 1]}, r"noise range \[5, 1\] has low > high"),
        ({"sharpen": 1}, r"unknown photo degradation option\(s\) sharpen; valid: blur"),
    ],
)
def test_bad_ranges_are_refused_with_the_fix(fields, match):
    with pytest.raises(ValueError, match=match):
        PhotoDegradationRange.from_dict(fields)


def test_to_dict_round_trips():
    spec = PhotoDegradationRange.from_dict({"jpeg": [60, 95], "blur": 2})
    assert PhotoDegradationRange.from_dict(spec.to_dict()) == spec


# ----------------------------------------------------------------------------- training


def test_train_config_stores_the_photo_ranges_in_full():
    config = TrainConfig(scale=2, steps=10, degradation={"photo": {"jpeg": [60, 95]}})
    stored = config.degradation["photo"]
    assert stored["jpeg"] == [60.0, 95.0] and stored["resize"] == [0.15, 1.5]
    with pytest.raises(ValueError, match="'photo' replaces blur: give the ranges inside"):
        TrainConfig(scale=2, steps=10, degradation={"photo": {}, "blur": 1})


def test_photo_patches_are_drawn_afresh_and_repeat_under_the_seed():
    rng = np.random.default_rng(2)
    hr = (ndimage.gaussian_filter(rng.random((96, 96)), 1.5) * 255 * 4).clip(0, 255)
    named = [("photo", Image(hr.astype(np.uint8), axes="YX"))]
    options = {"scale": 2, "in_channels": 1, "degradation": {"photo": {}}, "seed": 0,
               "normalization": NATURAL_8BIT}  # fmt: skip
    images = data.prepare(named, validation=False, **options)
    assert isinstance(images[0].random, PhotoDegradationRange) and images[0].top == 255
    sampler = data.PatchSampler(images, scale=2, patch_size=32, batch_size=6, seed=3)
    low, high = sampler.batch(0)
    assert low.shape == (6, 1, 16, 16) and high.shape == (6, 1, 32, 32)
    np.testing.assert_array_equal(
        low, data.PatchSampler(images, scale=2, patch_size=32, batch_size=6, seed=3).batch(0)[0]
    )
    blocks = high.reshape(6, 1, 16, 2, 16, 2).mean(axis=(3, 5))
    residual = np.std(low - blocks, axis=(1, 2, 3))
    assert np.unique(residual).size == 6  # each patch its own chain
    validation = data.prepare(named, validation=True, **options)
    assert validation[0].low.shape == (1, 1, 48, 48) and validation[0].low.dtype == np.uint8
    again = data.prepare(named, validation=True, **options)
    np.testing.assert_array_equal(validation[0].low, again[0].low)  # one fixed draw
