"""``upscale``: n-D stacks, dtypes, geometry, progress, cancellation and bad input."""

from __future__ import annotations

import subprocess
import sys
import threading

import numpy as np
import pytest

import napari_sr
from napari_sr import Cancelled, Image, resize, upscale
from napari_sr.utils import memory

DTYPES = [np.uint8, np.uint16, np.int16, np.float32, np.float64]


@pytest.mark.parametrize("dtype", DTYPES)
def test_output_dtype_is_input_dtype(rng, dtype):
    data = (rng.random((9, 11)) * 200).astype(dtype)
    out = upscale(data, 2, method="bicubic")
    assert out.dtype == np.dtype(dtype)
    assert out.shape == (18, 22)


def test_integer_output_is_rounded_and_clipped():
    # bicubic overshoots at a step edge; uint8 output must clip to 0..255, not wrap
    data = np.zeros((8, 8), np.uint8)
    data[:, 4:] = 255
    out = upscale(data, 2, method="bicubic")
    ref = resize(data.astype(np.float64), 2, method="bicubic")
    assert ref.max() > 255 and ref.min() < 0  # the overshoot is real
    np.testing.assert_array_equal(out, np.clip(np.rint(ref), 0, 255).astype(np.uint8))


def test_dtype_override(rng):
    data = rng.integers(0, 255, (6, 6), dtype=np.uint8)
    out = upscale(data, 2, dtype=np.float32, method="bicubic")
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, resize(data.astype(np.float32), 2), rtol=1e-6)


def test_default_method_is_bicubic_where_no_model_is_bundled(rng):
    """method=None is the bundled quality default for its scales (×2, ×3, ×4; see
    tests/engine/test_default_methods.py), bicubic for any other scale."""
    data = rng.random((7, 9)).astype(np.float32)
    for scale in (2.5, 5):
        np.testing.assert_array_equal(upscale(data, scale), upscale(data, scale, method="bicubic"))


@pytest.mark.parametrize("method", ["nearest", "bilinear", "bicubic"])
def test_each_plane_is_upscaled_alone(rng, method):
    data = rng.random((2, 3, 2, 6, 7)).astype(np.float32)
    out = upscale(data, 2, method=method, axes="TZCYX")
    assert out.shape == (2, 3, 2, 12, 14)
    for t, z, c in np.ndindex(2, 3, 2):
        np.testing.assert_allclose(
            out[t, z, c], resize(data[t, z, c], 2, method=method), rtol=1e-6
        )


def test_axes_order_is_kept(rng):
    """With axes 'YXZ', Y and X are scaled and Z stays where it was."""
    data = rng.random((6, 7, 3)).astype(np.float32)
    out = upscale(data, 2, axes="YXZ", method="bicubic")
    assert out.shape == (12, 14, 3)
    np.testing.assert_allclose(out[..., 1], upscale(data[..., 1], 2, method="bicubic"), rtol=1e-6)


def test_rgb_is_guessed_and_channels_kept(rng):
    data = rng.integers(0, 255, (5, 6, 3), dtype=np.uint8)
    out = upscale(data, 2, method="bicubic")
    assert out.shape == (10, 12, 3)
    np.testing.assert_array_equal(out[..., 2], upscale(data[..., 2], 2, method="bicubic"))


def test_non_integer_scale_uses_ceil(rng):
    out = upscale(rng.random((5, 7)).astype(np.float32), 2.5, method="bicubic")
    assert out.shape == (13, 18)  # ceil(12.5), ceil(17.5)


def test_image_in_image_out_geometry():
    image = Image(
        np.zeros((4, 10, 12), np.uint16),
        axes="ZYX",
        pixel_size={"Z": 0.8, "Y": 0.2, "X": 0.2},
        origin={"Y": 1.0},
        metadata={"path": "in.tif"},
    )
    out = upscale(image, 2, method="bicubic")
    assert isinstance(out, Image)
    assert out.shape == (4, 20, 24)
    assert out.pixel_size == pytest.approx({"Z": 0.8, "Y": 0.1, "X": 0.1})
    assert out.origin["Y"] == pytest.approx(1.0 + (0.25 - 0.5) * 0.2)
    assert out.origin["X"] == pytest.approx((0.25 - 0.5) * 0.2)
    prov = out.metadata["provenance"]
    assert prov["method"] == "bicubic" and prov["scale"] == 2.0 and prov["source"] == "in.tif"


@pytest.fixture
def one_plane_batches(monkeypatch):
    from napari_sr.engine import job

    monkeypatch.setattr(job, "BATCH_BYTES", 1)


def test_progress_counts_planes_in_batches(rng):
    calls = []
    upscale(
        rng.random((3, 4, 8, 8)).astype(np.float32),
        2,
        axes="TZYX",
        progress=lambda done, total: calls.append((done, total)),
        method="bicubic",
    )
    assert calls == [(12, 12)]  # small planes: one batch


def test_progress_is_reported_per_plane(rng, one_plane_batches):
    calls = []
    upscale(
        rng.random((3, 4, 8, 8)).astype(np.float32),
        2,
        axes="TZYX",
        progress=lambda done, total: calls.append((done, total)),
        method="bicubic",
    )
    assert calls == [(k, 12) for k in range(1, 13)]


def test_cancel_event_stops_the_work(rng, one_plane_batches):
    cancel = threading.Event()
    seen = []

    def progress(done, total):
        seen.append(done)
        if done == 2:
            cancel.set()

    with pytest.raises(Cancelled):
        data = rng.random((6, 8, 8)).astype(np.float32)
        upscale(data, 2, method="bicubic", progress=progress, cancel=cancel)
    assert seen == [1, 2]


def test_cancel_callable():
    with pytest.raises(Cancelled):
        upscale(np.zeros((2, 4, 4), np.float32), 2, cancel=lambda: True, method="bicubic")
    with pytest.raises(TypeError, match="cancel must be"):
        upscale(np.zeros((4, 4), np.float32), 2, cancel=3, method="bicubic")


# ------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("scale", [0, -2, float("nan"), float("inf")])
def test_bad_scale(scale):
    with pytest.raises(ValueError, match="scale must be a positive number"):
        upscale(np.zeros((4, 4), np.float32), scale, method="bicubic")


def test_unknown_method_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown method 'magic'.*bicubic"):
        upscale(np.zeros((4, 4), np.float32), 2, method="magic")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_input(bad):
    data = np.zeros((4, 4), np.float32)
    data[1, 2] = bad
    with pytest.raises(ValueError, match="1 NaN or infinite value"):
        upscale(data, 2, method="bicubic")


def test_empty_input():
    with pytest.raises(ValueError, match="image is empty"):
        upscale(np.zeros((0, 5), np.float32), 2, method="bicubic")


def test_axes_that_do_not_fit():
    with pytest.raises(ValueError, match="has 3 letters but the array has 2"):
        upscale(np.zeros((4, 4), np.float32), 2, axes="ZYX", method="bicubic")


def test_unsupported_dtype():
    with pytest.raises(TypeError, match="dtype int64.*astype"):
        upscale(np.zeros((4, 4), np.int64), 2, method="bicubic")


def test_output_too_large_is_refused_before_allocating(monkeypatch):
    monkeypatch.setattr(memory, "available_memory", lambda: 10_000)
    with pytest.raises(ValueError, match=r"would need .* only 9.8 KiB is available"):
        upscale(np.zeros((20, 20), np.uint8), 10, method="bicubic")


def test_output_too_large_for_this_machine():
    """No monkeypatch: a 4-petabyte output does not fit anywhere."""
    with pytest.raises(ValueError, match="would need .*PiB"):
        upscale(np.zeros((100, 100), np.float64), 1e5, method="bicubic")


def test_upscale_is_the_public_entry():
    assert napari_sr.upscale is upscale


def test_image_with_other_axes_drops_sizes_of_renamed_axes():
    image = Image(
        np.zeros((3, 8, 8), np.uint8), axes="ZYX", pixel_size={"Z": 1, "Y": 0.5, "X": 0.5}
    )
    out = upscale(image, 2, axes="TYX", method="bicubic")
    assert out.axes == "TYX"
    assert out.pixel_size == pytest.approx({"Y": 0.25, "X": 0.25})


def test_image_without_pixel_size_keeps_no_origin():
    once = upscale(Image(np.zeros((8, 8), np.float32)), 2, method="bicubic")
    out = upscale(once, 2, method="bicubic")
    assert out.origin == {} and out.pixel_size == {}


def test_tiny_scale_is_a_clear_error():
    with pytest.raises(ValueError, match="out of range"):
        upscale(np.ones((4, 4), np.float32), 1e-300, method="bicubic")


# ------------------------------------------------------------ model options


@pytest.mark.parametrize(
    ("option", "value"),
    [("tile", 256), ("tile", 0), ("precision", "fp32"), ("self_ensemble", True)],
)
def test_model_options_are_refused_for_interpolation(option, value):
    with pytest.raises(ValueError, match=rf"{option}=.* only apply to learned models.*'bicubic'"):
        upscale(np.zeros((4, 4), np.float32), 2, **{option: value}, method="bicubic")


def test_model_options_have_neutral_defaults_for_interpolation(rng):
    data = rng.random((5, 6)).astype(np.float32)
    same = upscale(data, 2, method="bicubic", device="auto", tile=None, precision=None,
                   self_ensemble=False)  # fmt: skip
    np.testing.assert_array_equal(same, upscale(data, 2, method="bicubic"))


def test_registered_model_name_without_weights():
    with pytest.raises(ValueError, match="no pretrained weights of 'rcan' are bundled at x2;"):
        upscale(np.zeros((4, 4), np.float32), 2, method="rcan")


def test_interpolation_imports_no_torch():
    """Interpolating through upscale stays free of torch (learned methods load it)."""
    code = (
        "import sys, numpy, napari_sr; "
        "napari_sr.upscale(numpy.ones((4, 4), numpy.float32), 2, method='bilinear'); "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
