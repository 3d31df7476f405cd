"""``resize``: the reference tables of the resampling issue (MATLAB imresize semantics)."""

from __future__ import annotations

import numpy as np
import pytest

from napari_sr import resize

TWO_BY_TWO = np.array([[10, 20], [30, 40]], dtype=np.float64)


def test_bicubic_matches_matlab_imresize_table():
    # MATLAB R2023a: imresize([10 20; 30 40], 2) (bicubic, a = -0.5), as quoted in issue 3
    expected = [
        [7.1875, 10.15625, 16.09375, 19.0625],
        [13.125, 16.09375, 22.03125, 25],
        [25, 27.96875, 33.90625, 36.875],
        [30.9375, 33.90625, 39.84375, 42.8125],
    ]
    np.testing.assert_allclose(resize(TWO_BY_TWO, 2), expected, atol=1e-12)


def test_bilinear_table():
    expected = [
        [10, 12.5, 17.5, 20],
        [15, 17.5, 22.5, 25],
        [25, 27.5, 32.5, 35],
        [30, 32.5, 37.5, 40],
    ]
    np.testing.assert_allclose(resize(TWO_BY_TWO, 2, method="bilinear"), expected, atol=1e-12)


def test_nearest_repeats_pixels():
    np.testing.assert_array_equal(
        resize(TWO_BY_TWO, 2, method="nearest"), np.repeat(np.repeat(TWO_BY_TWO, 2, 0), 2, 1)
    )


def test_bicubic_keys_weights_by_hand():
    """Keys' kernel (a = -0.5) at the offsets of x2 upsampling: output pixel 3 of a length-4
    signal sits at u = 3/2 + 1/4 = 1.75 (1-based), i.e. offsets 1.75, 0.75, -0.25, -1.25
    from input pixels 0..3 (1-based 0 is mirrored to 1)."""

    def keys(x):
        x = abs(x)
        return 1.5 * x**3 - 2.5 * x**2 + 1 if x <= 1 else -0.5 * x**3 + 2.5 * x**2 - 4 * x + 2

    signal = np.array([1.0, 5.0, 2.0, 8.0])
    weights = [keys(1.75), keys(0.75), keys(-0.25), keys(-1.25)]  # pixels 0, 1, 2, 3 (1-based)
    values = [signal[0], signal[0], signal[1], signal[2]]  # 1-based pixel 0 mirrors to pixel 1
    expected = np.dot(weights, values) / sum(weights)
    out = resize(signal[None, :], (1, 2), axes="YX")
    assert out[0, 2] == pytest.approx(expected, abs=1e-12)


def test_constant_image_stays_constant():
    out = resize(np.full((5, 7), 3.5), 2.5)
    np.testing.assert_allclose(out, 3.5)


def test_downscaling_antialiases():
    stripes = np.tile([0.0, 1.0], (16, 8))  # Nyquist-rate stripes
    out = resize(stripes, 0.5)
    np.testing.assert_allclose(out[2:-2, 2:-2], 0.5, atol=1e-6)


def test_shape_and_per_axis_scale():
    data = np.zeros((4, 6, 8), np.float32)
    assert resize(data, (1, 2, 3)).shape == (4, 12, 24)
    assert resize(data, shape=(2, 3, 4)).shape == (2, 3, 4)
    assert resize(data, 2).shape == (8, 12, 16)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({}, "give either scale or shape"),
        ({"scale": 2, "shape": (4, 4)}, "give either scale or shape"),
        ({"scale": (1, 2, 3)}, "gives 3 factors but the image has 2"),
        ({"scale": -1}, "scale must be a positive number"),
        ({"shape": (0, 4)}, "one positive length per spatial axis"),
        ({"scale": 2, "method": "cubic-spline"}, "unknown interpolation method"),
    ],
)
def test_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        resize(np.zeros((4, 4)), **kwargs)
