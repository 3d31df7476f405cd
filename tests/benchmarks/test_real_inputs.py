"""The real-inputs benchmark (benchmarks/real_inputs.py): its microscope degradation is the
one it describes, and its table has the promised structure (a bundled sample only)."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))
import real_inputs
from real_inputs import (
    BASELINES,
    CLEAN_PEAK,
    READ_NOISE,
    centre_crop,
    microscope_pair,
    plane_2d,
    run,
    sample_images,
)


def _step(height: int = 128, width: int = 256) -> np.ndarray:
    """Dark left half, flat bright right half (uint16, as a camera gives)."""
    hr = np.zeros((height, width), np.uint16)
    hr[:, width // 2 :] = 3000
    return hr


def test_clean_case_is_psf_blur_then_block_mean_without_noise():
    hr = np.zeros((64, 64), np.float32)
    hr[20, 33] = 5.0  # a point: its LR image is the blurred PSF integrated over pixels
    hr[40:44, 8:12] = 2.0
    reference, lr = microscope_pair(hr, 2, None, seed=3)
    assert reference.dtype == lr.dtype == np.float32
    assert lr.shape == (32, 32)
    # scaled so that the 99.9th percentile (here the square's level) is the clean scale
    np.testing.assert_allclose(np.percentile(reference, 99.9), CLEAN_PEAK, rtol=1e-6)
    np.testing.assert_allclose(reference.max(), 2.5 * CLEAN_PEAK, rtol=1e-6)
    blurred = ndimage.gaussian_filter(reference.astype(np.float64), 1.0, mode="reflect")
    block_mean = blurred.reshape(32, 2, 32, 2).mean(axis=(1, 3))
    np.testing.assert_allclose(lr, block_mean, rtol=1e-4, atol=1e-3)
    # no noise: another seed gives the same image
    np.testing.assert_array_equal(microscope_pair(hr, 2, None, seed=4)[1], lr)


@pytest.mark.parametrize("peak", [50.0, 200.0])
def test_noise_is_poisson_at_the_peak_plus_read_noise(peak):
    reference, lr = microscope_pair(_step(), 2, peak, seed=1)
    assert float(np.percentile(reference, 99.9)) == pytest.approx(peak)
    bright = lr[4:-4, 72:-4]  # flat at `peak` photons, away from the edge's blur
    dark = lr[4:-4, 4:56]  # zero photons: read noise alone
    assert bright.mean() == pytest.approx(peak, rel=0.02)
    assert bright.std() == pytest.approx(math.sqrt(peak + READ_NOISE**2), rel=0.05)
    assert dark.mean() == pytest.approx(0.0, abs=0.15)
    assert dark.std() == pytest.approx(READ_NOISE, rel=0.05)
    # seeded: the same seed draws the same noise, another seed other noise
    np.testing.assert_array_equal(microscope_pair(_step(), 2, peak, seed=1)[1], lr)
    assert not np.array_equal(microscope_pair(_step(), 2, peak, seed=2)[1], lr)


def test_clean_flat_region_is_exactly_flat():
    _, lr = microscope_pair(_step(), 4, None)
    np.testing.assert_allclose(lr[2:-2, 40:-2], CLEAN_PEAK, rtol=1e-5)
    np.testing.assert_allclose(lr[2:-2, 2:24], 0.0, atol=1e-3)


def test_plane_and_crop_pick_a_2d_plane_with_sides_a_multiple_of_4():
    stack = np.zeros((5, 30, 41), np.uint16)
    stack[3, ::2] = 100  # the most structured plane
    plane = plane_2d(stack, "ZYX")
    assert plane.shape == (30, 41) and plane.dtype == np.float32
    assert plane.max() == 100
    rgb = np.ones((10, 12, 3), np.uint8) * np.array([0, 3, 6], np.uint8)
    np.testing.assert_array_equal(plane_2d(rgb, "YXC"), 3.0)
    crop = centre_crop(np.arange(30 * 41).reshape(30, 41), 256)
    assert crop.shape == (28, 40)
    assert crop[0, 0] == 1 * 41 + 0  # centred: one row dropped above, none on the left


def test_quick_run_on_a_bundled_sample_gives_the_table():
    pytest.importorskip("torch")  # the learned defaults
    images = sample_images(64, ["cell"])
    assert list(images) == ["sample:cell"] and images["sample:cell"].shape == (64, 64)
    rows = run(images, (2,), (None, 50.0))
    methods = real_inputs.methods_at(2)
    assert list(methods)[:2] == list(BASELINES)
    assert methods["quality"] == "quality" and methods["fast"] == "fast"  # routed by noise
    assert "edsr_light_x2.sr291" in methods and "fsrcnn_x2.sr291" in methods
    assert len(rows) == 2 * len(methods)
    keys = {"scale", "peak", "image", "method", "psnr", "ssim", "seconds", "dpsnr_bicubic",
            "dpsnr_lanczos3", "dssim_bicubic", "dssim_lanczos3"}  # fmt: skip
    by = {(r["peak"], r["method"]): r for r in rows}
    for peak in (None, 50.0):
        bicubic, lanczos = by[peak, "bicubic"], by[peak, "lanczos3"]
        for label in methods:
            r = by[peak, label]
            assert set(r) == keys and r["scale"] == 2 and r["image"] == "sample:cell"
            assert np.isfinite(r["psnr"]) and -1 <= r["ssim"] <= 1
            assert r["dpsnr_bicubic"] == pytest.approx(r["psnr"] - bicubic["psnr"])
            assert r["dssim_lanczos3"] == pytest.approx(r["ssim"] - lanczos["ssim"])
        assert bicubic["dpsnr_bicubic"] == 0 and lanczos["dpsnr_lanczos3"] == 0
    # noise costs every method PSNR
    for label in methods:
        assert by[50.0, label]["psnr"] < by[None, label]["psnr"] - 5


def test_card_tables_give_each_image_and_the_held_out_mean():
    import card_tables

    def row(image, method, peak, gain, psnr=30.0):
        return {"scale": 3, "peak": peak, "image": image, "method": method,
                "psnr": psnr + gain, "dpsnr_bicubic": gain}  # fmt: skip

    methods = {"bicubic": 0.0, "lanczos3": 0.25, "fsrcnn_x3.sr291": 0.5,
               "fsrcnn_x3.microscope": 1.0, "fast": 1.0}  # fmt: skip
    rows = [
        row(image, method, peak, gain * factor)
        for peak in (None, 50.0)
        for image, factor in (("a", 1.0), ("b", 3.0), ("sample:cell", 10.0))
        for method, gain in methods.items()
    ]
    rows.append(row("a", "fast", None, 9.0) | {"scale": 2})  # another scale: left out
    text = card_tables.tables(rows, 3, "fast")
    assert text.startswith("Clean (gain over bicubic, dB):")
    assert "\n\nPeak 50 photons (gain over bicubic, dB):" in text
    header = "| image | bicubic (dB) | Lanczos-3 | fsrcnn_x3.sr291 | **fsrcnn_x3.microscope** |"
    assert text.count(header) == 2
    assert "| a | 30.00 | +0.25 | +0.50 | +1.00 | +1.00 |" in text
    assert "| sample cell | 30.00 | +2.50 | +5.00 | +10.00 | +10.00 |" in text
    # the mean is over the held-out images a and b only; other scales are left out
    assert (
        text.count("| **mean, held-out** | | **+0.50** | **+1.00** | **+2.00** | **+2.00** |") == 2
    )
    assert "+9.00" not in text
