"""RGB ↔ YCbCr: MATLAB's rgb2ycbcr constants, the round trip, any value range."""

from __future__ import annotations

import numpy as np
import pytest

from napari_sr.color import luma, luma_limits, nominal_range, rgb_to_ycbcr, ycbcr_to_rgb
from napari_sr.normalization import normalize


def test_matlab_rgb2ycbcr_values():
    # MATLAB documentation of rgb2ycbcr: black → (16, 128, 128), white → (235, 128, 128);
    # pure red → (81.481, 90.203, 240.000) in uint8 units (BT.601, studio swing)
    rgb = np.array([[0, 0, 0], [255, 255, 255], [255, 0, 0]], dtype=np.uint8)
    expected = [[16, 128, 128], [235, 128, 128], [81.481, 90.203, 240.0]]
    np.testing.assert_allclose(rgb_to_ycbcr(rgb, 255), expected, atol=1e-9)
    np.testing.assert_allclose(luma(rgb, 255), [16, 235, 81.481], atol=1e-9)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_round_trip_on_the_images_own_scale(dtype):
    white = nominal_range(dtype)
    rng = np.random.default_rng(0)
    rgb = (rng.random((5, 7, 3)) * white).astype(dtype)
    back = ycbcr_to_rgb(rgb_to_ycbcr(rgb, white), white)
    np.testing.assert_allclose(back, rgb.astype(np.float64), atol=1e-9 * white)
    assert nominal_range(np.uint8) == 255 and nominal_range(np.float64) == 1.0


@pytest.mark.parametrize("limits", [(0.0, 255.0), (100.0, 3000.0), (-0.5, 0.25)])
def test_luma_limits_put_the_range_on_black_and_white_of_y(limits):
    """Normalised with the widened limits, the old low and high land on Y = 16 and 235
    (of 255), the range a network trained on the Y of 8-bit RGB has seen."""
    wide = luma_limits(limits)
    ends = normalize(np.array(limits), wide) * 255
    np.testing.assert_allclose(ends, [16, 235], atol=1e-4)
    assert wide[0] < limits[0] and wide[1] > limits[1]
