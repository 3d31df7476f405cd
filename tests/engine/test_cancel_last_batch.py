"""A cancel that lands during the last batch (or its progress report) still cancels:
``Cancelled`` is raised and no result is returned."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from napari_sr import Cancelled, Image, upscale
from napari_sr.utils.progress import Cancelled as EngineCancelled


def _cancel_at_the_end():
    """A cancel token and a progress callback that sets it on the final report."""
    cancel = threading.Event()
    reports = []

    def progress(done, total):
        reports.append((done, total))
        if done == total:
            cancel.set()

    return cancel, progress, reports


def test_cancelled_is_the_engine_exception():
    assert Cancelled is EngineCancelled


@pytest.mark.parametrize("image", [np.zeros((8, 8), np.uint8), np.zeros((3, 8, 8), np.float32)])
def test_interpolation_cancelled_in_the_last_batch(image):
    cancel, progress, reports = _cancel_at_the_end()
    with pytest.raises(Cancelled, match="cancelled by the caller"):
        upscale(image, 2, method="bicubic", progress=progress, cancel=cancel)
    assert reports[-1][0] == reports[-1][1]


def test_interpolation_of_an_image_cancelled_in_the_last_batch():
    cancel, progress, _ = _cancel_at_the_end()
    with pytest.raises(Cancelled):
        upscale(Image(np.zeros((8, 8), np.uint16)), 3, method="lanczos3",
                progress=progress, cancel=cancel)  # fmt: skip


def test_a_callable_token_set_during_the_last_report():
    done = []
    with pytest.raises(Cancelled):
        upscale(np.zeros((2, 8, 8), np.float32), 2, method="bilinear",
                progress=lambda d, t: done.append(d == t), cancel=lambda: any(done))  # fmt: skip


def test_model_cancelled_in_the_last_pass():
    torch = pytest.importorskip("torch")
    from napari_sr import create_model

    torch.manual_seed(0)
    model = create_model("fsrcnn", scale=2)
    for image, tile in ((np.zeros((2, 16, 16), np.float32), None), (np.zeros((24, 24)), 12)):
        cancel, progress, reports = _cancel_at_the_end()
        with pytest.raises(Cancelled):
            upscale(image, 2, method=model, tile=tile, progress=progress, cancel=cancel)
        assert reports[-1][0] == reports[-1][1]


def test_luma_model_on_rgb_cancelled_in_the_last_pass(monkeypatch):
    """The RGB path of a luma model (network on Y, then chroma) checks after both."""
    pytest.importorskip("torch")
    from napari_sr import create_model
    from napari_sr.engine import learned

    model = create_model("fsrcnn", scale=2)
    monkeypatch.setattr(learned.ModelMethod, "luma", property(lambda self: True))
    cancel, progress, _ = _cancel_at_the_end()
    with pytest.raises(Cancelled):
        upscale(np.zeros((12, 12, 3), np.uint8), 2, method=model, progress=progress,
                cancel=cancel)  # fmt: skip


def test_an_uncancelled_run_returns():
    cancel, progress = threading.Event(), lambda d, t: None
    out = upscale(np.ones((8, 8), np.uint8), 2, method="bicubic", progress=progress, cancel=cancel)
    assert out.shape == (16, 16) and (out == 1).all()
