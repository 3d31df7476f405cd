"""Zero-shot SR: stages, pairs, kernels, geometry and the API."""

from __future__ import annotations

import threading

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import napari_sr  # noqa: E402
from napari_sr import Cancelled, Image  # noqa: E402
from napari_sr.selfsup.zssr import stage_factors, zssr  # noqa: E402

TINY = {"depth": 3, "features": 8}
FAST = {"steps": 5, "batch_size": 2, "patch_size": 16, "hparams": TINY, "device": "cpu"}


def _gaussian_kernel(sigma: float, radius: int = 4) -> np.ndarray:
    x = np.arange(-radius, radius + 1)
    g = np.exp(-0.5 * (x / sigma) ** 2)
    return np.outer(g, g) / np.outer(g, g).sum()


def _blurred_and_decimated(hr: np.ndarray, kernel: np.ndarray, step: int) -> np.ndarray:
    from scipy.ndimage import convolve

    low = convolve(hr.astype(np.float64), kernel, mode="reflect")[::step, ::step]
    return low.round().astype(hr.dtype)


def test_gradual_stages():
    assert stage_factors(4) == [2.0, 4.0]
    assert stage_factors(8) == [2.0, 4.0, 8.0]
    assert stage_factors(3) == [2.0, 3.0]
    assert stage_factors(2) == [2.0] and stage_factors(1.5) == [1.5]
    assert stage_factors(4, gradual=False) == [4.0]


def test_grayscale_rgb_and_stacks_keep_their_axes_and_dtype():
    rng = np.random.default_rng(0)
    gray = rng.integers(0, 255, (20, 22), dtype=np.uint8)
    assert zssr(gray, 2, **FAST).shape == (40, 44)
    rgb = rng.integers(0, 255, (20, 18, 3), dtype=np.uint8)
    out = zssr(rgb, 2, **FAST)
    assert out.shape == (40, 36, 3) and out.dtype == np.uint8
    stack = rng.random((3, 18, 20), dtype=np.float32)
    assert zssr(stack, 1.5, axes="ZYX", **FAST).shape == (3, 27, 30)


def test_image_geometry_and_provenance():
    rng = np.random.default_rng(1)
    image = Image(rng.integers(0, 4000, (24, 24), dtype=np.uint16), "YX",
                  pixel_size={"Y": 0.2, "X": 0.2}, origin={"Y": 1.0, "X": 2.0})  # fmt: skip
    seen = []
    out = zssr(image, 4, progress=lambda d, n: seen.append((d, n)), **FAST)
    assert out.shape == (96, 96) and out.dtype == np.uint16
    assert out.pixel_size == pytest.approx({"Y": 0.05, "X": 0.05})
    # napari_sr.geometry, as upscale: origin + (0.5 / s - 0.5) * pixel
    assert out.origin["Y"] == pytest.approx(1.0 + (0.5 / 4 - 0.5) * 0.2)
    record = out.metadata["provenance"]
    assert record["method"] == "zssr" and record["stages"] == [2.0, 4.0]
    assert [r["scale"] for r in record["training"]] == [2.0, 4.0]
    assert [r["steps_done"] for r in record["training"]] == [5, 5]
    done = [d for d, _ in seen]
    assert done == sorted(done) and seen[-1][0] == seen[-1][1] == 2 * 5 + 1


def test_back_projection_makes_the_result_consistent_with_the_input(monkeypatch):
    """Downscaled by the kernel, the result gives back the input (Irani & Peleg): closer
    with every iteration."""
    from scipy.ndimage import convolve

    import napari_sr.selfsup.zssr as module

    rng = np.random.default_rng(2)
    kernel = _gaussian_kernel(1.0)
    low = rng.random((20, 20)).astype(np.float32)
    options = {**FAST, "kernel": kernel, "self_ensemble": False}
    plain = zssr(low, 2, back_projection=False, **options)
    default = zssr(low, 2, back_projection=True, **options)  # 2 iterations
    monkeypatch.setattr(module, "BACK_PROJECTION_ITERATIONS", 10)
    projected = zssr(low, 2, back_projection=True, **options)

    def residual(out):
        again = convolve(out.astype(np.float64), kernel, mode="reflect")[::2, ::2]
        return np.abs(again - low)[2:-2, 2:-2].mean()

    assert residual(projected) < 0.5 * residual(plain)
    assert residual(projected) < residual(default) < residual(plain)


def test_zssr_beats_bicubic_on_a_blurred_sample():
    """microaneurysms (102x102) blurred by a Gaussian (sigma 1 HR pixel) and decimated x2:
    with the kernel, ZSSR undoes the blur that bicubic interpolation keeps."""
    hr = napari_sr.load_sample("microaneurysms").data[:96, :96]
    kernel = _gaussian_kernel(1.0)
    low = _blurred_and_decimated(hr, kernel, 2)
    out = zssr(low, 2, kernel=kernel, steps=60, hparams=TINY | {"features": 32},
               device="cpu")  # fmt: skip
    bicubic = napari_sr.upscale(low, 2, method="bicubic")
    gain = napari_sr.psnr(hr, out, crop_border=2) - napari_sr.psnr(hr, bicubic, crop_border=2)
    assert gain > 1.0


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        ((1,), {}, "scale above 1"),
        ((2,), {"kernel": "gauss"}, "unknown kernel 'gauss'"),
        ((2,), {"kernel": np.ones((2, 3))}, "odd sides"),
        ((1.5,), {"kernel": np.ones((3, 3))}, "integer scale"),
    ],
)
def test_bad_input_is_named(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        zssr(np.zeros((20, 20), np.float32), *args, **kwargs)


def test_too_small_an_image():
    with pytest.raises(ValueError, match="too small for zero-shot SR"):
        zssr(np.zeros((12, 12), np.float32), 2, **FAST)


def test_cancel():
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        zssr(np.zeros((20, 20), np.float32), 2, cancel=cancel, **FAST)
