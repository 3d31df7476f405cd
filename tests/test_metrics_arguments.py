"""The metrics refuse what they cannot score (NaN, complex, booleans, text, bad ranges and
crops) with a message naming the argument, instead of returning NaN or a wrong number."""

from __future__ import annotations

import numpy as np
import pytest

from napari_sr.metrics import frc, nrmse, psnr, ssim

GOOD = np.linspace(0, 1, 32 * 32).reshape(32, 32)


def _nan(a):
    a = a.copy()
    a[3, 4] = np.nan
    return a


IMAGE_BAD = [
    ((_nan(GOOD), GOOD), ValueError, "reference contains 1 NaN or infinite value"),
    ((GOOD, _nan(GOOD)), ValueError, "test contains 1 NaN or infinite value"),
    ((GOOD, GOOD + np.inf), ValueError, "test contains 1024 NaN or infinite"),
    ((1j * np.ones((32, 32)), np.zeros((32, 32))), TypeError, "reference is complex"),
    ((GOOD, GOOD.astype(np.complex64)), TypeError, "test is complex .*numpy.abs"),
    ((GOOD > 0.5, GOOD > 0.5), TypeError, "reference is boolean"),
    ((GOOD.astype(str), GOOD), TypeError, "reference has dtype <U.*, not numbers"),
    ((GOOD.astype(object), GOOD), TypeError, "reference has dtype object"),
    ((GOOD, GOOD[:16]), ValueError, "different shapes"),
    ((np.zeros((0, 32)), np.zeros((0, 32))), ValueError, "the images are empty"),
]


@pytest.mark.parametrize("metric", [psnr, ssim])
@pytest.mark.parametrize(("images", "error", "match"), IMAGE_BAD)
def test_psnr_and_ssim_refuse_bad_images(metric, images, error, match):
    with pytest.raises(error, match=match):
        metric(*images, data_range=1.0)


def test_complex_input_no_longer_scores_infinity():
    # the imaginary part used to be dropped: psnr(1j * ones, zeros) was inf
    with pytest.raises(TypeError, match="imaginary part"):
        psnr(1j * np.ones((8, 8)), np.zeros((8, 8)), data_range=1.0)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"data_range": 0}, ValueError, "data_range must be greater than 0, not 0"),
        ({"data_range": -1.0}, ValueError, "data_range must be greater than 0"),
        ({"data_range": float("nan")}, ValueError, "data_range must be a finite number"),
        ({"data_range": "1"}, TypeError, "data_range must be a number, not str"),
        ({"data_range": True}, TypeError, "data_range must be a number, not bool"),
        ({"data_range": 1.0, "crop_border": -1}, ValueError, "crop_border must be at least 0"),
        ({"data_range": 1.0, "crop_border": 1.5}, ValueError, "crop_border must be a whole"),
        ({"data_range": 1.0, "crop_border": "2"}, TypeError, "crop_border must be a whole"),
        ({"data_range": 1.0, "crop_border": 16}, ValueError, "crop_border=16 leaves nothing"),
        ({"data_range": 1.0, "y_channel": "yes"}, TypeError, "y_channel must be True or False"),
    ],
)
def test_psnr_refuses_bad_options(kwargs, error, match):
    with pytest.raises(error, match=match):
        psnr(GOOD, GOOD * 0.5, **kwargs)


def test_ssim_refuses_a_crop_that_leaves_too_little():
    with pytest.raises(ValueError, match="at least 11 pixels .* smaller crop_border"):
        ssim(GOOD, GOOD, data_range=1.0, crop_border=11)


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        ((_nan(GOOD), GOOD), {}, ValueError, "reference contains 1 NaN"),
        ((GOOD, 1j * GOOD), {}, TypeError, "test is complex"),
        ((GOOD, GOOD), {"normalization": 2}, TypeError, "normalization must be 'euclidean'"),
        ((GOOD, GOOD), {"normalization": "max"}, ValueError, "unknown normalization 'max'"),
    ],
)
def test_nrmse_refuses_bad_input(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        nrmse(*args, **kwargs)


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        ((_nan(GOOD),), {}, ValueError, "image1 contains 1 NaN"),
        ((GOOD, _nan(GOOD)), {}, ValueError, "image2 contains 1 NaN"),
        ((GOOD.astype(complex),), {}, TypeError, "image1 is complex"),
        ((GOOD,), {"pixel_size": -1}, ValueError, "pixel_size must be greater than 0"),
        ((GOOD,), {"pixel_size": "0.1"}, TypeError, "pixel_size must be a number"),
        ((GOOD,), {"threshold": 0}, ValueError, "threshold must be greater than 0"),
        ((GOOD,), {"threshold": 2}, ValueError, "threshold must be at most 1"),
    ],
)
def test_frc_refuses_bad_input(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        frc(*args, **kwargs)


def test_integer_and_float_images_still_score():
    a = (GOOD * 255).astype(np.uint8)
    assert psnr(a, a) == float("inf")
    assert psnr(GOOD, GOOD + 0.01, data_range=np.float32(1.0)) == pytest.approx(40.0)
    assert ssim(a, a, crop_border=np.int64(2)) == pytest.approx(1.0)
