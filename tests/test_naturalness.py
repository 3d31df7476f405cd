"""NIQE as the authors' MATLAB release computes it, with their pristine model: reference
values, the direction of degradations, intensity scales, and clear errors.

Reference values: scikit-image's bundled photographs scored by an independent float64 port
of the release's ``computequality.m`` (written for this check from the MATLAB source; it
gives the release's published 3.65492152353770 for TID2013 image I04 to 2e-13, and
BasicSR's float32 ``calculate_niqe`` agrees with these values to 1e-5). napari_sr.niqe gives
I04's published value to 2.3e-13 as well (checked by hand; that image is not
redistributable, so it is not part of the suite)."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from napari_sr.naturalness import niqe

data = pytest.importorskip("skimage.data")

REFERENCE = {  # image: (sha256 prefix of its pixels, NIQE)
    "camera": ("5cb24482a53416f9", 3.096202),
    "gravel": (None, 4.333702),
    "coins": (None, 3.622679),
    "chelsea": (None, 2.572084),  # RGB: MATLAB rgb2gray first
}


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_reference_values(name):
    image = getattr(data, name)()
    digest, expected = REFERENCE[name]
    if digest is not None and hashlib.sha256(image.tobytes()).hexdigest()[:16] != digest:
        pytest.skip(f"scikit-image's {name} image changed")
    assert niqe(image) == pytest.approx(expected, abs=2e-6)


def test_blur_and_noise_read_as_less_natural():
    from scipy import ndimage

    camera = data.camera()
    clean = niqe(camera)
    blurred = ndimage.gaussian_filter(camera.astype(np.float64), 2.0)
    assert niqe(blurred, data_range=255) > clean + 2
    noisy = camera + np.random.default_rng(0).normal(0, 20, camera.shape)
    assert niqe(noisy, data_range=255) > clean + 2


def test_the_intensity_scale_comes_from_the_dtype_or_data_range():
    camera = data.camera()
    expected = niqe(camera)
    assert niqe(camera.astype(np.float32) / 255) == pytest.approx(expected, abs=1e-5)
    assert niqe(camera.astype(np.uint16) * 257) == pytest.approx(expected, abs=1e-9)
    assert niqe(camera.astype(np.float64) * 4, data_range=1020) == pytest.approx(expected)


def test_the_border_crop_scores_the_inside():
    camera = data.camera()
    assert niqe(camera, crop_border=8) == pytest.approx(niqe(camera[8:-8, 8:-8]))


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"at least 192 × 192 pixels.*got 150 × 400"):
        niqe(np.zeros((150, 400), np.uint8))
    with pytest.raises(ValueError, match="192 × 192.*after the border crop"):
        niqe(np.zeros((200, 200), np.uint8), crop_border=8)
    with pytest.raises(ValueError, match=r"grayscale \(Y, X\) or RGB"):
        niqe(np.zeros((4, 200, 200)))
    with pytest.raises(ValueError, match="NaN"):
        niqe(np.full((200, 200), np.nan))
    with pytest.raises(ValueError, match="data_range must be > 0"):
        niqe(data.camera(), data_range=0)
