"""RGB ↔ YCbCr: MATLAB's rgb2ycbcr constants, the round trip, any value range."""

from __future__ import annotations

import numpy as np
import pytest

from napari_sr.color import luma, nominal_range, rgb_to_ycbcr, ycbcr_to_rgb


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
