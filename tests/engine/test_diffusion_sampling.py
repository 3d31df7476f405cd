"""Diffusion SR through ``upscale``: a tiny denoiser trained by the one training loop
samples its toy image back; seeds repeat runs exactly; tiling leaves no seams and keeps the
samples' statistics; the uncertainty outputs, the luma route and the errors."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import napari_sr  # noqa: E402
from napari_sr import Image  # noqa: E402
from napari_sr.engine.sampling import Sampled, plane_seed  # noqa: E402
from napari_sr.metrics import psnr  # noqa: E402
from napari_sr.utils.progress import Cancelled  # noqa: E402

TINY = {"features": 8, "multipliers": (1, 2, 2), "blocks": 1, "levels": 4, "kappa": 0.5}


def toy_image(size: int = 64) -> np.ndarray:
    """Stripes and a disc with sharp edges: detail bicubic interpolation blurs."""
    y, x = np.mgrid[:size, :size]
    image = 60 + 120 * ((x // 6) % 2) * (y < size // 2)
    image = np.where((y - 44) ** 2 + (x - 40) ** 2 < 100, 230, image)
    return image.astype(np.uint8)


@pytest.fixture(scope="module")
def trained():
    """A tiny denoiser trained on the toy image alone (×2, 4 levels)."""
    image = toy_image()
    return napari_sr.train(
        "diffusion_unet", [image], scale=2, steps=150, patch_size=32, batch_size=4,
        lr=3e-3, loss="mse", hparams=TINY, warmup_steps=20, seed=0,
    )  # fmt: skip


def test_a_tiny_model_overfits_its_image_and_samples_it_back(trained):
    truth = toy_image()
    low = napari_sr.degrade(truth, 2)
    bicubic = napari_sr.upscale(low, 2, method="bicubic")
    result = napari_sr.upscale(low, 2, method=trained, samples=4, uncertainty=True)
    assert isinstance(result, Sampled) and result.image.dtype == np.uint8
    gain = psnr(truth, result.image, data_range=255, crop_border=2) - psnr(
        truth, bicubic, data_range=255, crop_border=2
    )
    assert gain > 3, gain
    # the spread is where the detail is: the edges, not the flat areas
    edges = np.abs(np.diff(truth.astype(float), axis=1, append=truth[:, -1:])) > 0
    assert result.std[edges].mean() > result.std[~edges].mean()


def test_the_seed_repeats_a_run_and_samples_are_streams(trained):
    low = napari_sr.degrade(toy_image(), 2)
    run = dict(method=trained, keep_samples=True, estimate="sample")
    a = napari_sr.upscale(low, 2, samples=3, seed=7, **run)
    b = napari_sr.upscale(low, 2, samples=3, seed=7, **run)
    c = napari_sr.upscale(low, 2, samples=1, seed=7, **run)
    d = napari_sr.upscale(low, 2, samples=3, seed=8, **run)
    np.testing.assert_array_equal(a.samples, b.samples)
    # sample 0 of 3 is that of a run of 1 (up to the convolutions' batch-size rounding)
    np.testing.assert_allclose(a.samples[0], c.samples[0], atol=1e-2)
    assert not np.allclose(a.samples, d.samples)
    assert not np.allclose(a.samples[0], a.samples[1])
    np.testing.assert_array_equal(a.image, np.clip(np.rint(a.samples[0]), 0, 255))
    assert plane_seed(7, 0) != plane_seed(7, 1)


def test_tiles_are_blended_without_seams(trained):
    """Tiled (16-pixel input tiles: 32-pixel output cores) and whole-plane sampling draw
    the same noise; with a denoiser that sees its context, the tiled samples have the same
    statistics and no step at the seams."""
    truth = np.tile(toy_image(), (1, 2))
    low = napari_sr.degrade(truth, 2).astype(np.float32)
    run = dict(method=trained, samples=4, uncertainty=True, seed=1, dtype=np.float32)
    whole = napari_sr.upscale(low, 2, tile=0, **run)
    tiled = napari_sr.upscale(low, 2, tile=16, **run)
    scale = float(np.ptp(truth))
    assert np.abs(whole.image - tiled.image).mean() < 0.02 * scale
    assert abs(whole.std.mean() - tiled.std.mean()) < 0.1 * whole.std.mean()
    # the jump between neighbouring columns at the seams is no larger than elsewhere
    steps = np.abs(np.diff(tiled.image - whole.image, axis=1)).mean(axis=0)
    seams = [31, 63, 95]  # 128 output columns in 4 cores of 32
    assert steps[seams].max() < 3 * np.median(steps) + 1e-3


@pytest.mark.parametrize("prior", [None, "fsrcnn"])
def test_noise_does_not_depend_on_the_tiling(prior):
    """A fresh denoiser predicts its condition exactly (zero tail): every sample is then
    the condition (bicubic, or the prior network's, computed in tiles with its receptive
    field as context) plus noise drawn for the whole plane, the same tiled or not."""
    torch.manual_seed(0)
    model = napari_sr.create_model("diffusion_unet", scale=2, prior=prior, **TINY)
    low = napari_sr.degrade(toy_image(), 2).astype(np.float32)
    run = dict(method=model, samples=2, keep_samples=True, seed=3)
    whole = napari_sr.upscale(low, 2, tile=0, **run)
    tiled = napari_sr.upscale(low, 2, tile=8, **run)
    np.testing.assert_allclose(whole.samples, tiled.samples, atol=1e-3)
    if prior is None:  # the last step lands on the prediction: the condition itself
        bicubic = napari_sr.upscale(low, 2, method="bicubic")
        np.testing.assert_allclose(whole.samples[0], bicubic, atol=1e-3 * np.ptp(low))


def test_image_stacks_progress_and_cancel(trained):
    stack = np.stack([napari_sr.degrade(toy_image(), 2)] * 2)
    image = Image(stack, axes="ZYX", pixel_size={"Z": 2.0, "Y": 0.5, "X": 0.5})
    seen = []
    result = napari_sr.upscale(image, 2, method=trained, samples=2, uncertainty=True,
                               progress=lambda d, t: seen.append((d, t)))  # fmt: skip
    assert result.image.data.shape == result.std.data.shape == (2, 64, 64)
    assert result.std.pixel_size == {"Z": 2.0, "Y": 0.25, "X": 0.25}
    assert result.image.metadata["provenance"]["samples"] == 2
    low, high = result.interval(1.5)  # on the Images' pixels
    np.testing.assert_allclose(high - low, 3.0 * result.std.data, rtol=1e-5, atol=1e-4)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen) and seen[-1][0] == seen[-1][1]
    # the two planes are equal but draw their own noise
    assert not np.allclose(result.std.data[0], result.std.data[1])
    calls = []

    def cancel():
        calls.append(1)
        return len(calls) > 3

    with pytest.raises(Cancelled):
        napari_sr.upscale(stack, 2, method=trained, samples=2, cancel=cancel)


def test_a_luma_model_samples_the_luma_of_rgb(trained):
    trained.info = trained.info.updated(data={**trained.info.data, "color": "luma"})
    try:
        rgb = np.stack([napari_sr.degrade(toy_image(), 2)] * 3, axis=-1)
        result = napari_sr.upscale(rgb, 2, method=trained, samples=2, uncertainty=True)
        assert result.image.shape == (64, 64, 3) and result.std.shape == (64, 64)
        with pytest.raises(ValueError, match="the spread is of luma"):
            result.interval(1.0)
    finally:
        data = dict(trained.info.data)
        data.pop("color", None)
        trained.info = trained.info.updated(data=data)


def test_interval_uses_the_calibrated_scale():
    mean, std = np.full((2, 2), 10.0, np.float32), np.full((2, 2), 2.0, np.float32)
    low, high = Sampled(mean, std, interval_scale=1.5, coverage=0.9).interval()
    np.testing.assert_array_equal(low, 7.0)
    np.testing.assert_array_equal(high, 13.0)
    with pytest.raises(ValueError, match="records no calibrated interval"):
        Sampled(mean, std).interval()


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"method": "bicubic", "samples": 4}, ValueError, "only apply to diffusion models"),
        ({"uncertainty": True, "samples": 1}, ValueError, "needs at least 2 samples"),
        ({"steps": 9}, ValueError, "steps must be a whole number from 1 to the 4 levels"),
        ({"estimate": "median"}, ValueError, "estimate must be one of 'mean', 'sample'"),
        ({"samples": 0}, ValueError, "samples must be from 1 to 256"),
        ({"self_ensemble": True}, ValueError, "average its samples instead"),
    ],
)
def test_bad_sampling_options_are_refused(trained, kwargs, error, match):
    kwargs = {"method": trained, **kwargs}
    with pytest.raises(error, match=match):
        napari_sr.upscale(np.zeros((16, 16), np.uint8), 2, **kwargs)


def test_lazy_inputs_are_refused(trained):
    da = pytest.importorskip("dask.array")
    lazy = da.zeros((16, 16), dtype=np.uint8)
    with pytest.raises(ValueError, match="samples images in memory"):
        napari_sr.upscale(lazy, 2, method=trained).compute()
    with pytest.raises(ValueError, match="diffusion sampling runs on images in memory"):
        napari_sr.upscale(lazy, 2, method=trained, samples=2)
