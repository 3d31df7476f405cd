"""Every argument of misr, register, fuse and make_burst is checked before any work: a
mistake is a ValueError/TypeError naming the argument, never nonsense or a raw traceback."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import napari_sr
from napari_sr.multiframe.fusion import fuse
from napari_sr.multiframe.simulate import make_burst


@pytest.fixture(scope="module")
def frames():
    rng = np.random.default_rng(0)
    return rng.random((3, 16, 16)).astype(np.float32)


MISR_BAD = [
    # shifts: the NaN case gave an all-zero image, 1e9 was accepted
    ({"shifts": np.full((3, 2), np.nan)}, ValueError, r"shifts of frame\(s\) \[0, 1, 2\] are NaN"),
    ({"shifts": [[0, 0], [0, np.inf], [0, 0]]}, ValueError, r"frame\(s\) \[1\] are NaN or inf"),
    ({"shifts": np.full((3, 2), 1e9)}, ValueError, "moves it out of its 16x16-pixel frame"),
    ({"shifts": [[0, 0], [0, 16], [0, 0]]}, ValueError, "shift .* of frame 1 moves it out"),
    ({"shifts": np.zeros((2, 2))}, ValueError, r"shifts must be \(3, 2\)"),
    ({"shifts": np.zeros((3, 2), complex)}, TypeError, "shifts is complex"),
    ({"shifts": [["a", "b"]] * 3}, TypeError, "shifts has dtype <U1, not numbers"),
    # reference
    ({"reference": 3}, ValueError, "reference frame 3 is out of range for 3 frames"),
    ({"reference": -4}, ValueError, "reference frame -4 is out of range"),
    ({"reference": 1.5}, TypeError, "reference must be a frame index .* not float 1.5"),
    ({"reference": True}, TypeError, "reference must be a frame index .* not bool"),
    ({"reference": "mean"}, ValueError, "reference must be 'median' or a frame index"),
    # psf and iterations
    ({"psf": -1}, ValueError, "psf must be at least 0, not -1"),
    ({"psf": float("nan")}, ValueError, "psf must be a finite number"),
    ({"psf": "1"}, TypeError, "psf must be a number, not str '1'"),
    ({"psf": 1e6}, ValueError, "psf must be at most 20"),
    ({"method": "ibp", "iterations": -3}, ValueError, "iterations must be at least 1, not -3"),
    ({"method": "ibp", "iterations": 0}, ValueError, "iterations must be at least 1"),
    ({"method": "ibp", "iterations": 2.5}, ValueError, "iterations must be a whole number"),
    ({"method": "robust", "iterations": "5"}, TypeError, "iterations must be a whole number"),
    ({"method": "robust", "iterations": 10**9}, ValueError, "iterations must be at most"),
    (
        {"method": "shift-add", "iterations": 5},
        ValueError,
        "not 'shift-add'",
    ),
    # flags, callbacks, axes
    ({"keep_outliers": "no"}, TypeError, "keep_outliers must be True or False"),
    ({"progress": 3}, TypeError, r"progress must be a function called as progress\(done, total\)"),
    ({"cancel": 3}, TypeError, "cancel must be a threading.Event"),
    ({"frame_axis": 9}, ValueError, "frame_axis 9 is out of range for an array of 3 dimensions"),
    ({"frame_axis": 1.0}, TypeError, "frame_axis must be a whole number"),
    ({"frame_axis": 1, "axes": "TYX"}, ValueError, "frame_axis=1 disagrees with axes 'TYX'"),
    ({"method": 5}, ValueError, "method must be 'shift-add', 'ibp', 'robust', or a multi-frame"),
]


@pytest.mark.parametrize(("kwargs", "error", "match"), MISR_BAD)
def test_misr_refuses_bad_arguments(frames, kwargs, error, match):
    with pytest.raises(error, match=match):
        napari_sr.misr(frames, 2, **kwargs)


@pytest.mark.parametrize(
    ("scale", "error", "match"),
    [
        ("2", TypeError, "scale must be a whole number, not str '2'"),
        (True, TypeError, "scale must be a whole number, not bool"),
        (None, TypeError, "scale must be a whole number, not NoneType"),
        (float("nan"), ValueError, "scale must be a whole number, not nan"),
        (1.5, ValueError, "scale must be a whole number, not 1.5"),
        (1, ValueError, "scale must be at least 2, not 1"),
        (-2, ValueError, "scale must be at least 2"),
        (1000, ValueError, "scale must be at most 16"),
    ],
)
def test_misr_refuses_bad_scales(frames, scale, error, match):
    with pytest.raises(error, match=match):
        napari_sr.misr(frames, scale)


@pytest.mark.parametrize(
    ("data", "error", "match"),
    [
        (np.zeros((1, 16, 16), np.float32), ValueError, "at least 2 frames; the frame axis"),
        (np.full((3, 16, 16), np.nan, np.float32), ValueError, "frames contains 768 NaN"),
        (np.zeros((3, 16, 16), complex), TypeError, "frames has dtype complex128"),
        (np.zeros((3, 16, 16), bool), TypeError, "frames has dtype bool"),
        (np.zeros((3, 16, 16), object), TypeError, "frames has dtype object"),
        ([np.zeros((4, 4)), np.zeros((5, 5))], ValueError, "one array of equally sized frames"),
        (np.zeros((3, 16, 1), np.float32), ValueError, "too small to fuse"),
    ],
)
def test_misr_refuses_bad_frames(data, error, match):
    with pytest.raises(error, match=match):
        napari_sr.misr(data, 2)


def test_misr_checks_reference_with_given_shifts_too(frames):
    with pytest.raises(ValueError, match="reference frame 5 is out of range"):
        napari_sr.misr(frames, 2, shifts=np.zeros((3, 2)), reference=5)


def test_valid_arguments_of_other_types_are_accepted(frames):
    out = napari_sr.misr(frames, np.int64(2), method="ibp", iterations=np.int32(2),
                         psf=np.float32(0.5), reference=np.int64(-1), shifts=np.zeros((3, 2)),
                         keep_outliers=np.bool_(False))  # fmt: skip
    assert out.shape == (32, 32) and np.isfinite(out).all()
    whole_float = napari_sr.misr(frames, 2.0, method="shift-add", shifts=np.zeros((3, 2)))
    assert whole_float.shape == (32, 32)


def test_psf_does_not_apply_to_a_network_trained_for_one(frames):
    pytest.importorskip("torch")
    model = napari_sr.create_model("highresnet", scale=2)
    with pytest.raises(ValueError, match="psf does not apply to this fusion network"):
        napari_sr.misr(frames, 2, method=model, psf=1.0)


REGISTER_BAD = [
    ({"reference": 7}, ValueError, "reference frame 7 is out of range for 3 frames"),
    ({"reference": 0.5}, TypeError, "reference must be a frame index"),
    ({"reference": True}, TypeError, "not bool True"),
    ({"upsample": 0}, ValueError, "upsample must be at least 1, not 0"),
    ({"upsample": 0.5}, ValueError, "upsample must be a whole number, not 0.5"),
    ({"upsample": 10**7}, ValueError, "upsample must be at most 1000"),
    ({"upsample": "10"}, TypeError, "upsample must be a whole number, not str"),
    ({"progress": "yes"}, TypeError, "progress must be a function"),
    ({"cancel": 1.0}, TypeError, "cancel must be a threading.Event"),
]


@pytest.mark.parametrize(("kwargs", "error", "match"), REGISTER_BAD)
def test_register_refuses_bad_arguments(frames, kwargs, error, match):
    with pytest.raises(error, match=match):
        napari_sr.register(frames, **kwargs)


@pytest.mark.parametrize(
    ("data", "error", "match"),
    [
        (np.zeros((3, 16, 16), complex), TypeError, "frames is complex .* imaginary part"),
        (np.zeros((3, 16, 16), "U3"), TypeError, "frames has dtype <U3, not numbers"),
        (np.zeros((3, 16, 16), bool), TypeError, "frames is boolean"),
        (np.full((3, 16, 16), np.inf), ValueError, "frames contains 768 NaN or infinite"),
        (np.zeros((1, 16, 16)), ValueError, "at least 2 frames, not shape"),
        (np.zeros((3, 4, 16)), ValueError, "too small to register; give frames of at least 8"),
    ],
)
def test_register_refuses_bad_frames(data, error, match):
    with pytest.raises(error, match=match):
        napari_sr.register(data)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"weights": [0, 0, 0]}, ValueError, "at least one above 0"),
        ({"weights": [1, -1, 1]}, ValueError, "weights must be 3 numbers >= 0"),
        ({"weights": [1, np.nan, 1]}, ValueError, "weights contains 1 NaN"),
        ({"weights": [1, 1]}, ValueError, "weights must be 3 numbers"),
        ({"method": "learned"}, ValueError, "unknown fusion method 'learned'"),
        ({"psf": -0.5}, ValueError, "psf must be at least 0"),
    ],
)
def test_fuse_refuses_bad_arguments(frames, kwargs, error, match):
    with pytest.raises(error, match=match):
        fuse(frames, np.zeros((3, 2)), 2, **kwargs)


def test_fuse_refuses_bad_shifts_and_scale(frames):
    with pytest.raises(ValueError, match="NaN or infinite"):
        fuse(frames, np.full((3, 2), np.nan), 2)
    with pytest.raises(TypeError, match="scale must be a whole number, not str"):
        fuse(frames, np.zeros((3, 2)), "2")


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"scale": 1}, ValueError, "scale must be at least 2"),
        ({"frames": 0}, ValueError, "frames must be at least 1"),
        ({"frames": 2.5}, ValueError, "frames must be a whole number"),
        ({"psf": -1}, ValueError, "psf must be at least 0"),
        ({"peak": 0}, ValueError, "peak must be greater than 0"),
        ({"peak": float("inf")}, ValueError, "peak must be a finite number"),
        ({"read_noise": -1}, ValueError, "read_noise must be at least 0"),
        ({"max_shift": 1e9}, ValueError, "max_shift must be at most 4"),
        ({"max_shift": float("nan")}, ValueError, "max_shift must be a finite number"),
    ],
)
def test_make_burst_refuses_bad_arguments(kwargs, error, match):
    image = np.zeros((32, 32), np.float32)
    args = {"scale": 2, "frames": 3, **kwargs}
    with pytest.raises(error, match=match):
        make_burst(image, args.pop("scale"), args.pop("frames"), **args)


def test_make_burst_refuses_bad_images():
    with pytest.raises(TypeError, match="image is complex"):
        make_burst(np.zeros((32, 32), complex), 2, 3)
    image = np.zeros((32, 32))
    image[3, 4] = np.nan
    with pytest.raises(ValueError, match="image contains 1 NaN"):
        make_burst(image, 2, 3)
    with pytest.raises(ValueError, match="too small for x4"):
        make_burst(np.zeros((6, 6)), 4, 3)


def _cancel_at_the_end():
    """A cancel event and a progress callback that sets it when the last unit of work is
    reported: a cancel that lands during the last step, after every check in the loop."""
    event = threading.Event()

    def progress(done, total):
        if done >= total:
            event.set()

    return event, progress


def test_a_cancel_during_the_last_iteration_is_honoured(frames):
    event, progress = _cancel_at_the_end()
    with pytest.raises(napari_sr.Cancelled):
        fuse(frames, np.zeros((3, 2)), 2, method="ibp", iterations=3, progress=progress,
             cancel=event)  # fmt: skip


def test_a_cancel_during_shift_and_add_is_honoured(frames):
    event, progress = _cancel_at_the_end()
    with pytest.raises(napari_sr.Cancelled):
        fuse(frames, np.zeros((3, 2)), 2, method="shift-add", progress=progress, cancel=event)


def test_a_cancel_during_the_last_plane_of_misr_is_honoured(frames):
    event, progress = _cancel_at_the_end()
    with pytest.raises(napari_sr.Cancelled):
        napari_sr.misr(frames, 2, method="shift-add", shifts=np.zeros((3, 2)),
                       progress=progress, cancel=event)  # fmt: skip


def test_a_cancel_during_the_last_frame_of_register_is_honoured(frames):
    event, progress = _cancel_at_the_end()
    with pytest.raises(napari_sr.Cancelled):
        napari_sr.register(frames, progress=progress, cancel=event)


def test_a_set_event_cancels_before_any_work(frames):
    event = threading.Event()
    event.set()
    with pytest.raises(napari_sr.Cancelled):
        napari_sr.misr(frames, 2, shifts=np.zeros((3, 2)), method="shift-add", cancel=event)
