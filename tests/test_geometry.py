import numpy as np
import pytest

from napari_sr.geometry import check_scale, upscaled_origin, upscaled_pixel_size


@pytest.mark.parametrize("scale", [2, 3, 4, 2.5])
def test_upscaled_grid_covers_the_same_footprint(scale):
    """Input and output overlay exactly: the first pixel's outer edge stays in place."""
    origin, size = 3.0, 0.2
    new_size = upscaled_pixel_size(size, scale)
    new_origin = upscaled_origin(origin, size, scale)
    assert new_size == pytest.approx(size / scale)
    assert new_origin - new_size / 2 == pytest.approx(origin - size / 2)


def test_upscaled_origin_formula_from_design():
    # napari_sr.geometry: translate_out = translate_in + (0.5/s - 0.5) * scale_in
    assert upscaled_origin(0.0, 1.0, 2) == pytest.approx(-0.25)
    assert upscaled_origin(10.0, 0.5, 4) == pytest.approx(10.0 + (0.125 - 0.5) * 0.5)


def test_pixel_centres_match_resampling_convention():
    """The centres of ``n*s`` output pixels, mapped back to input pixel units, are at
    (i + 0.5)/s - 0.5, the convention of MATLAB imresize used by resize."""
    s, size = 2, 1.0
    centres = upscaled_origin(0.0, size, s) + np.arange(8) * upscaled_pixel_size(size, s)
    assert np.allclose(centres, (np.arange(8) + 0.5) / s - 0.5)


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf")])
def test_check_scale_rejects(bad):
    with pytest.raises(ValueError, match="scale must be a positive number"):
        check_scale(bad)


@pytest.mark.parametrize("bad", ["2", True, None])
def test_check_scale_type(bad):
    with pytest.raises(TypeError, match="scale must be a number"):
        check_scale(bad)
