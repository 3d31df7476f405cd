"""The observation model: each stage checked against what it must equal."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from napari_sr import Image, degrade, resize, upscale
from napari_sr.degradation import GaussianPSF


@pytest.fixture
def hr(rng):
    return rng.random((48, 60)).astype(np.float64) * 200 + 10


def test_default_is_matlab_bicubic_downscaling(hr):
    np.testing.assert_allclose(degrade(hr, 4), resize(hr, 1 / 4), atol=1e-12)
    assert degrade(hr, 4).shape == (12, 15)


def test_upscale_restores_the_shape(rng):
    stack = rng.random((3, 32, 40)).astype(np.float32)
    low = degrade(stack, 2)
    assert low.shape == (3, 16, 20)  # a number degrades Y and X only, as upscale restores
    assert upscale(low, 2, method="bicubic").shape == stack.shape


def test_z_only(rng):
    stack = rng.random((16, 8, 8))
    low = degrade(stack, {"Z": 4}, axes="ZYX")
    assert low.shape == (4, 8, 8)
    np.testing.assert_allclose(low, resize(stack, {"Z": 0.25}), atol=1e-12)


def test_blur_then_decimate_is_the_bd_degradation(hr):
    expected = ndimage.gaussian_filter(hr, 1.6, mode="reflect", truncate=4.0)[::3, ::3]
    np.testing.assert_allclose(degrade(hr, 3, kernel="decimate", blur=1.6), expected, atol=1e-12)


def test_anisotropic_blur_per_axis(rng):
    stack = rng.random((10, 20, 20))
    out = degrade(stack, 1, blur={"Z": 2.0, "Y": 0.5, "X": 0.5}, axes="ZYX")
    expected = ndimage.gaussian_filter(stack, (2.0, 0.5, 0.5), mode="reflect", truncate=4.0)
    np.testing.assert_allclose(out, expected, atol=1e-12)
    same = degrade(stack, 1, blur=(2.0, 0.5, 0.5), axes="ZYX")
    np.testing.assert_allclose(same, expected, atol=1e-12)


def test_area_kernel_is_pixel_binning(hr):
    np.testing.assert_allclose(
        degrade(hr, 2, kernel="area"), hr.reshape(24, 2, 30, 2).mean(axis=(1, 3)), atol=1e-12
    )


def test_psf_sigmas_follow_zhang_2007():
    # widefield: 0.21 * 0.52 / 1.4 = 0.078 µm; 0.66 * 1.518 * 0.52 / 1.4**2 = 0.2658 µm
    lateral, axial = GaussianPSF(na=1.4, wavelength=0.52, pixel_size=0.1).sigma_um()
    assert lateral == pytest.approx(0.078)
    assert axial == pytest.approx(0.26580, rel=1e-4)
    # confocal with equal wavelengths: lambda / sqrt(2)
    c_lat, _ = GaussianPSF(na=1.4, wavelength=0.52, pixel_size=0.1, kind="confocal").sigma_um()
    assert c_lat == pytest.approx(0.078 / np.sqrt(2))
    sig = GaussianPSF(1.4, 0.52, {"Z": 0.2, "Y": 0.05, "X": 0.05}).sigma_pixels("ZYX")
    assert sig == pytest.approx(
        {"Z": 0.2658 / 0.2, "Y": 0.078 / 0.05, "X": 0.078 / 0.05}, rel=1e-3
    )


def test_psf_and_blur_add_in_quadrature(rng):
    image = rng.random((40, 40))
    psf = {"na": 1.4, "wavelength": 0.52, "pixel_size": 0.078 / 3}  # sigma = 3 px
    out = degrade(image, 1, psf=psf, blur=4.0)
    expected = ndimage.gaussian_filter(image, 5.0, mode="reflect", truncate=4.0)
    np.testing.assert_allclose(out, expected, atol=1e-9)


def test_gaussian_noise_statistics():
    flat = np.full((200, 200), 100.0)
    out = degrade(flat, 1, noise={"gaussian": 5.0}, seed=0)
    assert out.mean() == pytest.approx(100, abs=0.1)
    assert out.std() == pytest.approx(5.0, rel=0.02)


def test_poisson_noise_statistics():
    """Photon counts: at peak P the variance in photon units equals the mean."""
    image = np.full((300, 300), 50.0)
    image[:, 150:] = 100.0  # the maximum: 25 photons there
    out = degrade(image, 1, noise={"poisson": 25}, seed=1)
    photons = out * 25 / 100.0
    bright, dim = photons[:, 150:], photons[:, :150]
    assert bright.mean() == pytest.approx(25, rel=0.01)
    assert bright.var() == pytest.approx(25, rel=0.05)
    assert dim.var() == pytest.approx(12.5, rel=0.05)
    assert np.allclose(photons, np.round(photons))  # whole photons


def test_poisson_gaussian_adds_variances():
    image = np.full((300, 300), 100.0)
    out = degrade(image, 1, noise={"poisson": 100, "gaussian": 2.0}, seed=2)
    assert out.var() == pytest.approx(100 + 4, rel=0.05)  # photon units = intensity here


def test_noise_is_seeded(hr):
    a = degrade(hr, 2, noise={"poisson": 30, "gaussian": 1}, seed=5)
    b = degrade(hr, 2, noise={"poisson": 30, "gaussian": 1}, seed=5)
    c = degrade(hr, 2, noise={"poisson": 30, "gaussian": 1}, seed=6)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_dtype_kept(dtype, rng):
    image = (rng.random((32, 32)) * 200).astype(dtype)
    out = degrade(image, 2, noise={"gaussian": 3}, seed=0)
    assert out.dtype == np.dtype(dtype)


def test_image_geometry():
    image = Image(
        np.zeros((8, 16, 16), np.uint16), axes="ZYX", pixel_size={"Z": 0.2, "Y": 0.1, "X": 0.1}
    )
    low = degrade(image, {"Z": 4})
    assert low.shape == (2, 16, 16)
    assert low.pixel_size == pytest.approx({"Z": 0.8, "Y": 0.1, "X": 0.1})
    # the low-resolution pixel's footprint starts where the first high-resolution one did
    assert low.origin["Z"] - 0.8 / 2 == pytest.approx(-0.2 / 2)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"scale": 0}, ValueError, "scale must be a positive number"),
        ({"scale": {"T": 2}}, ValueError, "not a spatial axis"),
        ({"scale": 2, "kernel": "gauss"}, ValueError, "unknown kernel 'gauss'"),
        ({"scale": 2.5, "kernel": "decimate"}, ValueError, "needs integer factors"),
        ({"scale": 2, "blur": -1}, ValueError, "blur sigma must be"),
        ({"scale": 2, "blur": (1, 2, 3)}, ValueError, "blur gives 3 values"),
        ({"scale": 2, "noise": {"speckle": 1}}, ValueError, "unknown noise type"),
        (
            {"scale": 2, "psf": {"na": 1.4, "wavelength": 520, "pixel_size": 0.1}},
            ValueError,
            "looks like nanometres",
        ),
        (
            {"scale": 2, "psf": {"na": 1.6, "wavelength": 0.5, "pixel_size": 0.1}},
            ValueError,
            "numerical aperture",
        ),
    ],
)
def test_errors(hr, kwargs, error, match):
    with pytest.raises(error, match=match):
        degrade(hr, **kwargs)


def test_poisson_needs_non_negative():
    with pytest.raises(ValueError, match="non-negative"):
        degrade(np.array([[-1.0, 2.0], [3.0, 4.0]]), 1, noise={"poisson": 10})


# ------------------------------------------------------------------------- regressions


def test_psf_uses_the_image_unit(rng):
    data = rng.random((32, 32))
    psf = {"na": 1.4, "wavelength": 0.52}
    in_nm = Image(data, pixel_size={"Y": 100, "X": 100}, unit={"Y": "nm", "X": "nm"})
    in_um = Image(data, pixel_size={"Y": 0.1, "X": 0.1})
    np.testing.assert_allclose(degrade(in_nm, 1, psf=psf).data, degrade(in_um, 1, psf=psf).data)
    with pytest.raises(ValueError, match="not a length"):
        degrade(
            Image(data, pixel_size={"Y": 1, "X": 1}, unit={"Y": "pixel", "X": "pixel"}), 1, psf=psf
        )


def test_decimation_keeps_the_first_pixel_in_place():
    ramp = Image(np.tile(np.arange(8.0), (8, 1)), pixel_size={"Y": 1.0, "X": 1.0})
    low = degrade(ramp, 2, kernel="decimate")
    np.testing.assert_array_equal(low.data[0, :4], [0, 2, 4, 6])
    assert low.origin.get("X", 0.0) == 0.0 and low.pixel_size["X"] == 2.0


def test_confocal_excitation_is_checked():
    with pytest.raises(ValueError, match="excitation wavelength"):
        GaussianPSF(
            na=1.4, wavelength=0.5, pixel_size=0.1, kind="confocal", excitation=float("nan")
        )


def test_poisson_noise_after_the_kernels_overshoot_below_zero():
    # a bright square on a zero background: bicubic rings below 0 beside its edges
    image = np.zeros((32, 32), np.uint16)
    image[8:24, 8:24] = 4000
    resized = resize(image.astype(np.float32), 0.5, method="bicubic")
    assert resized.min() < 0  # the case this test is about
    low = degrade(image, 2, noise={"poisson": 100}, seed=0)
    assert low.dtype == np.uint16 and low.max() > 3000
    with pytest.raises(ValueError, match="non-negative"):  # the input itself must be
        degrade(image.astype(np.float32) - 1, 2, noise={"poisson": 100}, seed=0)
