"""misr warns when its frames are not views of one scene (a z-stack, a focus series,
unrelated images) and stays silent on bursts, the bundled one and noisy synthetic ones."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import ndimage

import napari_sr
from napari_sr.multiframe.consistency import FramesMismatchWarning, frame_mismatches
from napari_sr.multiframe.simulate import make_burst


@pytest.fixture(scope="module")
def stack():
    return napari_sr.load_sample("anisotropic_stack").data


def _misr_silently(frames, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return napari_sr.misr(frames, 2, method="shift-add", **kwargs)


def test_the_burst_sample_fuses_without_a_warning():
    out = _misr_silently(napari_sr.load_sample("burst"))
    assert out.shape == (256, 256)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("peak", [20.0, 200.0])
def test_noisy_synthetic_bursts_fuse_without_a_warning(stack, seed, peak):
    frames, _, _ = make_burst(stack[16, :128, :128], 2, 5, psf=1.0, peak=peak, seed=seed)
    _misr_silently(frames)


def test_the_planes_of_a_z_stack_warn(stack):
    with pytest.warns(FramesMismatchWarning, match="do not look like shifted views of one scene"):
        out = napari_sr.misr(stack[8:16, :64, :64], 2, method="shift-add")  # taken as TYX
    assert out.shape == (128, 128)  # the result still comes, with the warning


def test_a_defocus_series_warns_about_focus(stack):
    plane = stack[16].astype(np.float32)
    series = np.stack([ndimage.gaussian_filter(plane, s) for s in np.linspace(0, 2, 5)])
    with pytest.warns(FramesMismatchWarning, match=r"sharpness changes .*-fold.*focus series"):
        napari_sr.misr(series, 2, method="shift-add", shifts=np.zeros((5, 2)))


def test_unrelated_images_warn(stack):
    cell = napari_sr.load_sample("cell").data[:96, :96]
    frames = np.stack([cell, stack[5, :96, :96] // 256, cell[::-1].copy()]).astype(np.float32)
    with pytest.warns(FramesMismatchWarning, match="match the others poorly"):
        napari_sr.misr(frames, 2, method="shift-add", keep_outliers=True)


def test_findings_name_brightness_contrast_and_shifts():
    frames, shifts, _ = make_burst(napari_sr.load_sample("cell").data[:128, :128], 2, 4,
                                   peak=200.0, seed=0)  # fmt: skip
    assert frame_mismatches(frames, shifts) == []
    brighter = frames * np.array([1, 1, 1, 1.6], np.float32)[:, None, None]
    assert any("brightness changes by up to" in f for f in frame_mismatches(brighter, shifts))
    flatter = frames.copy()
    flatter[2] = flatter[2].mean() + (flatter[2] - flatter[2].mean()) / 3
    assert any("contrast changes" in f for f in frame_mismatches(flatter, shifts))
    far = shifts + np.array([[0, 0], [0, 0], [0, 0], [20, 0]])
    assert any("shifted by up to 20 pixels" in f for f in frame_mismatches(frames, far))


def test_small_or_few_frames_are_not_judged():
    rng = np.random.default_rng(1)
    assert frame_mismatches(rng.random((2, 16, 16)), np.zeros((2, 2))) == []
