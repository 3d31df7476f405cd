"""``resize`` against outside references: the published tables, MATLAB's algorithm,
OpenCV, PyTorch and scikit-image."""

from __future__ import annotations

import math

import numpy as np
import pytest

from napari_sr import resize
from napari_sr.resample import INTERPOLATION_METHODS

TWO_BY_TWO = np.array([[10, 20], [30, 40]], dtype=np.float64)


# ------------------------------------------------------------------------- published tables


def test_bicubic_table():
    # MATLAB imresize([10 20; 30 40], 2) (bicubic, a = -0.5), as quoted in issue 3
    expected = [
        [7.1875, 10.15625, 16.09375, 19.0625],
        [13.125, 16.09375, 22.03125, 25],
        [25, 27.96875, 33.90625, 36.875],
        [30.9375, 33.90625, 39.84375, 42.8125],
    ]
    np.testing.assert_allclose(resize(TWO_BY_TWO, 2), expected, atol=1e-12)


def test_bicubic_opencv_table():
    # cv2.resize(..., fx=2, fy=2, interpolation=INTER_CUBIC), to two decimals, from issue 3
    expected = [
        [6.84, 10.16, 15.63, 18.95],
        [13.48, 16.80, 22.27, 25.59],
        [24.41, 27.73, 33.20, 36.52],
        [31.05, 34.38, 39.84, 43.16],
    ]
    np.testing.assert_allclose(
        resize(TWO_BY_TWO, 2, method="bicubic-opencv"), expected, atol=0.005
    )


def test_bilinear_table():
    expected = [
        [10, 12.5, 17.5, 20],
        [15, 17.5, 22.5, 25],
        [25, 27.5, 32.5, 35],
        [30, 32.5, 37.5, 40],
    ]
    np.testing.assert_allclose(resize(TWO_BY_TWO, 2, method="bilinear"), expected, atol=1e-12)


# ------------------------------------------------------------------------- MATLAB's algorithm


def _keys(a):
    def k(x):
        ax = np.abs(x)
        return ((a + 2) * ax**3 - (a + 3) * ax**2 + 1) * (ax <= 1) + (
            a * ax**3 - 5 * a * ax**2 + 8 * a * ax - 4 * a
        ) * ((ax > 1) & (ax <= 2))

    return k


def _lanczos3(x):
    # MATLAB imresize.m: (sin(pi*x) .* sin(pi*x/3) + eps) ./ ((pi^2 * x.^2 / 3) + eps)
    eps = np.finfo(float).eps
    return (
        (np.sin(np.pi * x) * np.sin(np.pi * x / 3) + eps)
        / (np.pi**2 * x**2 / 3 + eps)
        * (np.abs(x) < 3)
    )


MATLAB_KERNELS = {
    "bicubic": (_keys(-0.5), 4.0),
    "bilinear": (lambda x: np.clip(1 - np.abs(x), 0, None), 2.0),
    "lanczos3": (_lanczos3, 6.0),
}


def matlab_weights(n_in, scale, method, antialias=True):
    """Dense (n_out, n_in) weight matrix, transcribed from MATLAB imresize's
    ``contributions`` (1-based coordinates, symmetric padding) with the published kernels:
    Keys (1981) cubic a = -0.5, the triangle, and MATLAB's lanczos3 formula."""
    kernel, width = MATLAB_KERNELS[method]
    n_out = math.ceil(n_in * scale)
    if scale < 1 and antialias:
        h = lambda x: scale * kernel(scale * x)  # noqa: E731
        width = width / scale
    else:
        h = kernel
    x = np.arange(1, n_out + 1)
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(u - width / 2)
    p = math.ceil(width) + 2
    ind = left[:, None] + np.arange(p)  # 1-based
    w = h(u[:, None] - ind)
    w = w / w.sum(axis=1, keepdims=True)
    aux = np.concatenate([np.arange(1, n_in + 1), np.arange(n_in, 0, -1)])
    ind = aux[np.mod(ind - 1, len(aux)).astype(int)] - 1
    dense = np.zeros((n_out, n_in))
    for t in range(p):
        np.add.at(dense, (np.arange(n_out), ind[:, t]), w[:, t])
    return dense


def matlab_imresize(image, scale, method="bicubic", antialias=True):
    wy = matlab_weights(image.shape[0], scale, method, antialias)
    wx = matlab_weights(image.shape[1], scale, method, antialias)
    return wy @ image @ wx.T


@pytest.mark.parametrize("method", ["bicubic", "bilinear", "lanczos3"])
@pytest.mark.parametrize("scale", [2, 3, 4, 2.5, 1 / 2, 1 / 3, 1 / 4, 1 / 2.5, 0.7, 1.3])
def test_matches_matlab_algorithm(method, scale):
    image = np.random.default_rng(7).random((23, 30)) * 255
    expected = matlab_imresize(image, scale, method)
    out = resize(image, scale, method=method)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-6)


def test_without_antialias_matches_matlab():
    image = np.random.default_rng(8).random((24, 24))
    np.testing.assert_allclose(
        resize(image, 0.5, antialias=False),
        matlab_imresize(image, 0.5, antialias=False),
        atol=1e-9,
    )


def test_float32_is_close_to_float64():
    image = np.random.default_rng(9).random((40, 33))
    out32 = resize(image.astype(np.float32), 3)
    assert out32.dtype == np.float32
    np.testing.assert_allclose(out32, resize(image, 3), atol=2e-6)


def test_bicubic_keys_weights_by_hand():
    """Output pixel 2 (0-based) of x2 sits at input coordinate u = 2.5/2 - 0.5 = 0.75:
    offsets 1.75, 0.75, -0.25, -1.25 from pixels -1, 0, 1, 2; pixel -1 mirrors to 0."""
    k = _keys(-0.5)
    signal = np.array([1.0, 5.0, 2.0, 8.0])
    weights = k(np.array([1.75, 0.75, -0.25, -1.25]))
    expected = weights @ signal[[0, 0, 1, 2]] / weights.sum()
    assert resize(signal[None, :], (1, 2), axes="YX")[0, 2] == pytest.approx(expected, abs=1e-12)


# ------------------------------------------------------------------------- other libraries


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_bicubic_opencv_matches_cv2(scale):
    cv2 = pytest.importorskip("cv2")
    image = np.random.default_rng(1).random((31, 26)).astype(np.float32)
    expected = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    np.testing.assert_allclose(resize(image, scale, method="bicubic-opencv"), expected, atol=2e-5)


@pytest.mark.parametrize("scale", [2, 3, 0.5])
def test_bicubic_opencv_matches_torch_interpolate(scale):
    torch = pytest.importorskip("torch")
    image = np.random.default_rng(2).random((20, 24)).astype(np.float32)
    expected = torch.nn.functional.interpolate(
        torch.from_numpy(image)[None, None],
        scale_factor=scale,
        mode="bicubic",
        align_corners=False,
    )[0, 0].numpy()
    np.testing.assert_allclose(resize(image, scale, method="bicubic-opencv"), expected, atol=2e-5)


@pytest.mark.parametrize("factor", [2, 3, 4])
def test_area_downscaling_is_block_mean(factor):
    from skimage.transform import downscale_local_mean

    image = np.random.default_rng(3).random((24, 36))
    expected = downscale_local_mean(image, (factor, factor))
    np.testing.assert_allclose(resize(image, 1 / factor, method="area"), expected, atol=1e-12)


def test_area_matches_cv2_inter_area_for_fractional_downscaling():
    cv2 = pytest.importorskip("cv2")
    image = np.random.default_rng(4).random((30, 45)).astype(np.float32)
    expected = cv2.resize(image, (30, 20), interpolation=cv2.INTER_AREA)  # x 2/3
    np.testing.assert_allclose(resize(image, shape=(20, 30), method="area"), expected, atol=1e-5)


def test_nearest_repeats_pixels():
    np.testing.assert_array_equal(
        resize(TWO_BY_TWO, 2, method="nearest"), np.repeat(np.repeat(TWO_BY_TWO, 2, 0), 2, 1)
    )


# ------------------------------------------------------------------------- axes, shapes, dtypes


@pytest.mark.parametrize("method", INTERPOLATION_METHODS)
def test_constant_image_stays_constant(method):
    np.testing.assert_allclose(resize(np.full((5, 7), 3.5), 2.5, method=method), 3.5, atol=1e-12)


def test_downscaling_antialiases():
    stripes = np.tile([0.0, 1.0], (16, 8))  # Nyquist-rate stripes
    np.testing.assert_allclose(resize(stripes, 0.5)[2:-2, 2:-2], 0.5, atol=1e-6)


def test_3d_is_separable_and_z_alone():
    image = np.random.default_rng(5).random((6, 9, 8))
    full = resize(image, 2)
    assert full.shape == (12, 18, 16)
    # Z alone, by dict or per-axis factors, equals resampling every (Z) line
    z_only = resize(image, {"Z": 4})
    assert z_only.shape == (24, 9, 8)
    np.testing.assert_allclose(z_only, resize(image, (4, 1, 1)))
    line = image[:, 3, 5]
    np.testing.assert_allclose(z_only[:, 3, 5], resize(line[:, None], (4, 1), axes="YX")[:, 0])
    # separable: Z then YX equals all at once
    np.testing.assert_allclose(resize(resize(image, {"Z": 2}), {"Y": 2, "X": 2}), full, atol=1e-12)


def test_non_spatial_axes_are_kept():
    image = np.random.default_rng(6).random((3, 2, 10, 12))
    out = resize(image, 2, axes="TCYX")
    assert out.shape == (3, 2, 20, 24)
    np.testing.assert_allclose(out[1, 0], resize(image[1, 0], 2))


def test_shape_argument():
    out = resize(np.zeros((4, 6, 8), np.float32), shape=(2, 3, 5))
    assert out.shape == (2, 3, 5)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16, np.float32, np.float64])
def test_dtype_kept_and_integers_clipped(dtype):
    image = np.zeros((8, 8), dtype)
    image[:, 4:] = 200 if dtype == np.uint8 else 1000
    out = resize(image, 2)
    assert out.dtype == np.dtype(dtype)
    if np.dtype(dtype).kind in "ui":
        ref = resize(image.astype(np.float64), 2)
        info = np.iinfo(dtype)
        np.testing.assert_array_equal(out, np.clip(np.rint(ref), info.min, info.max))


def test_torch_tensor_in_tensor_out():
    torch = pytest.importorskip("torch")
    image = np.random.default_rng(10).random((3, 11, 13)).astype(np.float32)
    out = resize(torch.from_numpy(image), 2.5, axes="CYX")
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32
    assert out.device == torch.device("cpu")
    np.testing.assert_allclose(out.numpy(), resize(image, 2.5, axes="CYX"), atol=1e-5)
    as_uint8 = resize(torch.full((4, 4), 250, dtype=torch.uint8), 2)
    assert as_uint8.dtype == torch.uint8 and int(as_uint8.max()) == 250


@pytest.mark.skipif(
    not __import__("importlib").util.find_spec("torch")
    or not __import__("torch").cuda.is_available(),
    reason="needs a CUDA GPU",
)
def test_torch_cuda_stays_on_device():
    import torch

    image = torch.rand(2, 16, 16, device="cuda")
    out = resize(image, 2, axes="ZYX")
    assert out.device.type == "cuda"
    np.testing.assert_allclose(out.cpu().numpy(), resize(image.cpu().numpy(), 2), atol=1e-5)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({}, "give either scale or shape"),
        ({"scale": 2, "shape": (4, 4)}, "give either scale or shape"),
        ({"scale": (1, 2, 3)}, "gives 3 factors but the image has 2"),
        ({"scale": -1}, "scale must be a positive number"),
        ({"scale": {"Z": 2}}, "not spatial axes of this image"),
        ({"shape": (0, 4)}, "one positive length per spatial axis"),
        ({"scale": 2, "method": "cubic-spline"}, "unknown interpolation method"),
    ],
)
def test_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        resize(np.zeros((4, 4)), **kwargs)


def test_nan_is_refused():
    with pytest.raises(ValueError, match="NaN"):
        resize(np.array([[np.nan, 1.0], [0.0, 0.0]]), 2)


def test_phases_with_fewer_outputs_stay_inside_the_line():
    """Regression: phases past n_out % p read beyond the padded line (a segfault for
    64 x 24996 at 3/9998; undefined reads for 11 at x2.5)."""
    import subprocess
    import sys

    code = (
        "import numpy as np; from napari_sr import resize; "
        "resize(np.random.rand(64, 24996).astype(np.float32), {'X': 3 / 9998}, axes='YX'); "
        "print('ok')"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-500:]
    image = np.random.default_rng(11).random((2, 11))
    expected = image @ matlab_weights(11, 2.5, "bicubic").T
    np.testing.assert_allclose(resize(image, {"X": 2.5}, axes="YX"), expected, atol=1e-9)


def test_big_endian_input():
    image = np.arange(64, dtype=">u2").reshape(8, 8)
    out = resize(image, 2)
    assert out.dtype == np.uint16
    np.testing.assert_array_equal(out, resize(image.astype(np.uint16), 2))


def test_extreme_scale_is_refused_clearly():
    with pytest.raises(ValueError, match="out of range"):
        resize(np.zeros((8, 8)), 1e-9)


# ------------------------------------------------------- point samples (z stacks)


def test_point_grid_keeps_every_sample():
    from napari_sr.resample import point_grid

    grid = point_grid(5, 4)
    assert len(grid) == 17 and grid[0] == 0 and grid[-1] == 4
    np.testing.assert_array_equal(grid[::4], np.arange(5))
    assert len(point_grid(64, 4.4)) == 278  # floor(63 * 4.4) + 1
    assert point_grid(1, 3).tolist() == [0.0]


def test_sample_at_is_keys_cubic_on_the_samples():
    from napari_sr.resample import sample_at

    values = np.arange(6, dtype=np.float64) ** 2
    # integer positions give the samples; Keys' cubic (a = -0.5) reproduces quadratics
    # wherever two samples lie on each side (Keys 1981, third-order accuracy)
    np.testing.assert_allclose(sample_at(values, np.arange(6.0), 0), values)
    np.testing.assert_allclose(sample_at(values, np.array([1.5, 2.25, 3.5]), 0),
                               [2.25, 2.25**2, 12.25])  # fmt: skip
    # edges are replicated: half-way to the first sample from outside stays near it
    assert sample_at(values, np.array([-1.0]), 0)[0] == pytest.approx(0.0)
    stack = np.stack([values, 2 * values], axis=1)  # sampled along axis 0 of a 2-D array
    np.testing.assert_allclose(sample_at(stack, np.array([2.5]), 0), [[6.25, 12.5]])
