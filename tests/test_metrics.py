"""Metrics against outside references: scikit-image, BT.601, closed forms."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.metrics import normalized_root_mse, peak_signal_noise_ratio, structural_similarity

from napari_sr import psnr, ssim
from napari_sr.color import luma
from napari_sr.metrics import frc, nrmse


def _pair(rng, shape, dtype=np.uint8, noise=12.0):
    ref = rng.integers(0, 256, shape).astype(dtype)
    test = np.clip(ref + rng.normal(0, noise, shape), 0, 255).astype(dtype)
    return ref, test


def _skimage_ssim(a, b, data_range, channel_axis=None):
    # Wang et al. 2004 as configured in skimage: Gaussian window sigma 1.5 (11 taps at
    # truncate 3.5), population covariances, mean over the valid region
    return structural_similarity(
        a,
        b,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        data_range=data_range,
        channel_axis=channel_axis,
    )


def test_psnr_closed_form():
    # 10 log10(255^2 / 5^2) = 34.1514 dB
    a, b = np.zeros((4, 4), np.uint8), np.full((4, 4), 5, np.uint8)
    assert psnr(a, b) == pytest.approx(20 * np.log10(255 / 5))
    assert psnr(a, a) == float("inf")


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16])
def test_psnr_equals_skimage(rng, dtype):
    ref, test = _pair(rng, (33, 41), dtype)
    assert psnr(ref, test) == pytest.approx(peak_signal_noise_ratio(ref, test), abs=1e-10)


def test_psnr_float_needs_data_range(rng):
    ref, test = (a.astype(np.float32) / 255 for a in _pair(rng, (16, 16)))
    with pytest.raises(ValueError, match="data_range is required for float32"):
        psnr(ref, test)
    assert psnr(ref, test, data_range=1.0) == pytest.approx(
        peak_signal_noise_ratio(ref, test, data_range=1.0), abs=1e-6
    )


def test_crop_border(rng):
    ref, test = _pair(rng, (30, 30))
    assert psnr(ref, test, crop_border=4) == pytest.approx(
        peak_signal_noise_ratio(ref[4:-4, 4:-4], test[4:-4, 4:-4])
    )


def test_bt601_luma_constants():
    # BT.601: black -> 16, white -> 235, pure red -> 16 + 65.481 (8-bit scale)
    rgb = np.array([[0, 0, 0], [255, 255, 255], [255, 0, 0]], dtype=float)
    np.testing.assert_allclose(luma(rgb, 255), [16, 235, 81.481], atol=1e-9)


def test_y_channel_psnr_and_ssim(rng):
    ref, test = _pair(rng, (24, 24, 3))
    y_ref = 16 + ref.astype(float) / 255 @ [65.481, 128.553, 24.966]
    y_test = 16 + test.astype(float) / 255 @ [65.481, 128.553, 24.966]
    assert psnr(ref, test, y_channel=True, crop_border=2) == pytest.approx(
        peak_signal_noise_ratio(y_ref[2:-2, 2:-2], y_test[2:-2, 2:-2], data_range=255)
    )
    assert ssim(ref, test, y_channel=True) == pytest.approx(_skimage_ssim(y_ref, y_test, 255))


def test_y_channel_leaves_grayscale_alone(rng):
    ref, test = _pair(rng, (20, 20))
    assert psnr(ref, test, y_channel=True) == psnr(ref, test)


def test_ssim_equals_skimage_2d(rng):
    ref, test = _pair(rng, (40, 52))
    assert ssim(ref, test) == pytest.approx(_skimage_ssim(ref, test, 255), abs=1e-12)


def test_ssim_rgb_averages_channels(rng):
    ref, test = _pair(rng, (30, 30, 3))
    assert ssim(ref, test) == pytest.approx(_skimage_ssim(ref, test, 255, channel_axis=-1))


def test_ssim_equals_skimage_3d(rng):
    ref = rng.random((16, 20, 24))
    test = ref + rng.normal(0, 0.1, ref.shape)
    assert ssim(ref, test, data_range=1.0) == pytest.approx(
        _skimage_ssim(ref, test, 1.0), abs=1e-12
    )


def test_ssim_closed_form_for_constant_images():
    # flat images: sigma terms vanish, SSIM = (2 mx my + C1) / (mx^2 + my^2 + C1)
    c1 = (0.01 * 255) ** 2
    a, b = np.full((16, 16), 100, np.uint8), np.full((16, 16), 120, np.uint8)
    assert ssim(a, b) == pytest.approx((2 * 100 * 120 + c1) / (100**2 + 120**2 + c1))
    assert ssim(a, a) == pytest.approx(1.0)


def test_ssim_too_small():
    with pytest.raises(ValueError, match="at least 11 pixels"):
        ssim(np.zeros((10, 30), np.uint8), np.zeros((10, 30), np.uint8))


def test_shape_mismatch():
    with pytest.raises(ValueError, match="different shapes"):
        psnr(np.zeros((4, 4), np.uint8), np.zeros((4, 5), np.uint8))


def test_dtype_mismatch_needs_data_range():
    with pytest.raises(ValueError, match="differ in dtype"):
        psnr(np.zeros((4, 4), np.uint8), np.zeros((4, 4), np.uint16))


@pytest.mark.parametrize("normalization", ["euclidean", "min-max", "mean"])
def test_nrmse_equals_skimage(rng, normalization):
    ref, test = _pair(rng, (20, 20))
    assert nrmse(ref, test, normalization=normalization) == pytest.approx(
        normalized_root_mse(ref, test, normalization=normalization)
    )


def _band_limited(rng, n, cutoff):
    """White noise with its spectrum cut at ``cutoff`` cycles per pixel."""
    f = np.fft.fftfreq(n)
    mask = np.hypot(*np.meshgrid(f, f, indexing="ij")) <= cutoff
    return np.fft.ifft2(np.fft.fft2(rng.normal(size=(n, n))) * mask).real


def test_frc_two_images_finds_the_band_limit(rng):
    truth = _band_limited(rng, 256, cutoff=0.2)  # nothing finer than 5 pixels
    noise = 0.05 * truth.std()
    one = truth + rng.normal(0, noise, truth.shape)
    two = truth + rng.normal(0, noise, truth.shape)
    result = frc(one, two, pixel_size=0.1)
    assert result.resolution == pytest.approx(0.5, rel=0.06)  # 5 pixels of 0.1 µm
    assert result.correlation[5] > 0.95
    assert result.frequency[-1] == pytest.approx(0.5 * 127 / 128 / 0.1)


def test_frc_single_image_split(rng):
    truth = _band_limited(rng, 512, cutoff=0.1)  # 10 pixels
    image = truth + rng.normal(0, 0.05 * truth.std(), truth.shape)
    result = frc(image, pixel_size=1.0)
    assert result.resolution == pytest.approx(10, rel=0.1)


def test_frc_noise_only_has_no_correlation(rng):
    result = frc(rng.normal(size=(128, 128)), rng.normal(size=(128, 128)))
    assert abs(np.nanmean(result.correlation[4:])) < 0.05


def test_frc_errors(rng):
    with pytest.raises(ValueError, match="needs a 2D image"):
        frc(np.zeros((4, 32, 32)))
    with pytest.raises(ValueError, match="at least 16"):
        frc(np.zeros((20, 20)))


@pytest.mark.filterwarnings("ignore:Setting data_range based on im1.dtype")
def test_ssim_int16_range_as_skimage(rng):
    """scikit-image's SSIM takes L from the int16 dtype span (65535), as ours does."""
    ref = rng.integers(0, 3000, (32, 32)).astype(np.int16)
    test = (ref + rng.normal(0, 50, ref.shape)).astype(np.int16)
    assert ssim(ref, test) == pytest.approx(
        structural_similarity(
            ref, test, gaussian_weights=True, sigma=1.5, use_sample_covariance=False
        )
    )


# ---------------------------------------------------------------------------- masks


def test_masked_psnr_is_the_psnr_of_the_selected_pixels(rng):
    a = rng.random((20, 30))
    b = a + rng.normal(0, 0.1, a.shape)
    inside = np.zeros(a.shape, bool)
    inside[5:15, 5:25] = True
    expected = 10 * np.log10(1 / np.mean((a[inside] - b[inside]) ** 2))
    assert psnr(a, b, data_range=1, mask=inside) == pytest.approx(expected)
    # cropped with the images: the crop leaves rows 2..17, columns 2..27
    assert psnr(a, b, data_range=1, mask=inside, crop_border=2) == pytest.approx(expected)


def test_masked_ssim_averages_the_windows_centred_inside(rng):
    a = rng.random((40, 40))
    b = a + rng.normal(0, 0.2, a.shape)
    everywhere = np.ones(a.shape, bool)
    assert ssim(a, b, data_range=1, mask=everywhere) == pytest.approx(ssim(a, b, data_range=1))
    left = np.zeros(a.shape, bool)
    left[:, :20] = True
    b_left_perfect = b.copy()
    b_left_perfect[:, :14] = a[:, :14]  # windows centred at x <= 8 see only exact pixels
    centred = np.zeros(a.shape, bool)
    centred[:, :9] = True
    assert ssim(a, b_left_perfect, data_range=1, mask=centred) == pytest.approx(1.0)
    assert ssim(a, b_left_perfect, data_range=1, mask=left) < 1.0


@pytest.mark.parametrize(
    ("mask", "error", "match"),
    [
        (np.ones((5, 5), bool), ValueError, "mask has shape"),
        (np.ones((20, 20), np.uint8), TypeError, "boolean"),
        (np.zeros((20, 20), bool), ValueError, "selects no pixel"),
    ],
)
def test_bad_masks(mask, error, match):
    a = np.zeros((20, 20))
    with pytest.raises(error, match=match):
        psnr(a, a + 0.1, data_range=1, mask=mask)


def test_ssim_mask_needs_window_centres():
    a = np.zeros((20, 20))
    edge = np.zeros((20, 20), bool)
    edge[:3] = True
    with pytest.raises(ValueError, match="enlarge the mask"):
        ssim(a, a + 0.1, data_range=1, mask=edge)
