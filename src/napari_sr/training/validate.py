"""Validation: PSNR and SSIM of a model, and of bicubic interpolation, on held-out images.

The SR protocol of :mod:`napari_sr.evaluation`: the reference is cropped to a multiple of
the scale, the input is its synthesised observation in the image's dtype, the output is
mapped back to that dtype as inference returns it, ``scale`` pixels are removed from every
border, RGB is scored on luma (BT.601) and stacks plane by plane as one volume of planes.
The data range is 255 for uint8 images; for other dtypes it is the reference's own range
(max − min), so that 12-bit data in uint16 or photon counts give comparable decibels
(65535 would inflate them). Each image gets one score; the set's score is their mean.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ..metrics import psnr, scoring_range, ssim
from ..utils.progress import CancelToken
from .data import TrainingImage


def evaluate(
    model: torch.nn.Module,
    images: Sequence[TrainingImage],
    *,
    device: torch.device,
    cancel: CancelToken | None = None,
) -> dict[str, float]:
    """Mean PSNR (dB) and SSIM of ``model`` over the validation ``images``.

    The model runs through :func:`napari_sr.upscale`, in float32 on ``device``: the
    numbers are those inference gives (normalisation from ``model.normalization``, limits
    from each whole input, output cast to the image's dtype). The model comes back on its
    device and in its train/eval mode.
    """
    from ..engine.upscaler import upscale

    scores = []
    for image in images:
        restored = upscale(
            image.low,
            int(model.scale),
            method=model,
            axes="TCYX",
            device=device,
            precision="fp32",
            cancel=cancel,
        )
        scores.append(score(image, restored, int(model.scale)))
    return _mean(scores)


def bicubic_scores(images: Sequence[TrainingImage], scale: int) -> dict[str, float]:
    """Mean PSNR (dB) and SSIM of MATLAB-bicubic upscaling over the validation ``images``:
    the baseline a learned model has to beat."""
    from ..engine.upscaler import upscale

    scores = []
    for image in images:
        restored = upscale(image.low, scale, method="bicubic", axes="TCYX")
        scores.append(score(image, restored, scale))
    return _mean(scores)


def score(image: TrainingImage, restored: np.ndarray, scale: int) -> tuple[float, float]:
    """(PSNR, SSIM) of ``restored`` (N, C, Y, X), in the image's dtype, against
    ``image.high`` by the protocol in the module docstring."""
    ref, out = image.high, restored
    if ref.shape[1] == 3:  # RGB: channels last, scored on luma
        ref, out, axes, luma = np.moveaxis(ref, 1, -1), np.moveaxis(out, 1, -1), "TYXC", True
    else:
        ref, out = ref.reshape(-1, *ref.shape[2:]), out.reshape(-1, *out.shape[2:])
        axes, luma = "TYX", False
    data_range = scoring_range(image.high) or 255.0  # 255 for uint8, else the span
    kwargs = {"data_range": data_range, "crop_border": scale, "y_channel": luma, "axes": axes}
    return psnr(ref, out, **kwargs), ssim(ref, out, **kwargs)


def _mean(scores: list[tuple[float, float]]) -> dict[str, float]:
    return {
        "psnr": float(np.mean([p for p, _ in scores])),
        "ssim": float(np.mean([s for _, s in scores])),
    }
