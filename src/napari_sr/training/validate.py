"""Validation: PSNR and SSIM of a model, and of bicubic interpolation, on held-out images.

The SR protocol of :mod:`napari_sr.evaluation`: the reference is cropped to a multiple of
the scale, the input is its synthesised observation in the image's dtype, the output is
mapped back to that dtype as inference returns it, ``scale`` pixels are removed from every
border, RGB is scored on luma (BT.601) and stacks plane by plane as one volume of planes.
The data range is 255 for uint8 images; for other dtypes it is the reference's own range
(max − min), so that 12-bit data in uint16 or photon counts give comparable decibels
(65535 would inflate them). Each image gets one score; the set's score is their mean.

Adversarial runs are scored beyond PSNR too (:data:`PERCEPTUAL_SCORES`): NIQE (no
reference; images of at least 192 pixels after the border crop), the radial power spectrum
against the reference's, and the data consistency of the output with its input.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ..metrics import psnr, scoring_range, ssim
from ..utils.progress import CancelToken
from .data import TrainingImage

PERCEPTUAL_SCORES = ("niqe", "spectral_error_db", "spectral_high_db", "consistency_rms")
"""What validation adds for adversarial runs, each the mean over the images (NIQE over
those large enough, None when none is): :func:`napari_sr.niqe` of the output (lower: more
natural), :func:`napari_sr.spectral_fidelity`'s ``error_db`` and ``high_db`` against the
reference (dB; ``high_db`` > 0: more high-frequency power than the truth), and the RMS of
:func:`napari_sr.data_consistency`'s error (the output degraded again as its input was,
without intensity fitting, against that input, in the image's intensity units)."""


def evaluate(
    model: torch.nn.Module,
    images: Sequence[TrainingImage],
    *,
    device: torch.device,
    cancel: CancelToken | None = None,
    perceptual: bool = False,
    degradation: dict | None = None,
) -> dict[str, float]:
    """Mean PSNR (dB) and SSIM of ``model`` over the validation ``images`` (and, with
    ``perceptual``, the :data:`PERCEPTUAL_SCORES`; ``degradation`` is the run's, for the
    consistency check).

    The model runs through :func:`napari_sr.upscale`, in float32 on ``device``: the
    numbers are those inference gives (normalisation from ``model.normalization``, limits
    from each whole input, output cast to the image's dtype). The model comes back on its
    device and in its train/eval mode.
    """
    from ..engine.upscaler import upscale

    scores, extra = [], []
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
        if perceptual:
            extra.append(perceptual_scores(image, restored, int(model.scale), degradation))
    return {**_mean(scores), **_mean_extra(extra)} if perceptual else _mean(scores)


def bicubic_scores(
    images: Sequence[TrainingImage],
    scale: int,
    *,
    perceptual: bool = False,
    degradation: dict | None = None,
) -> dict[str, float]:
    """Mean PSNR (dB) and SSIM of MATLAB-bicubic upscaling over the validation ``images``:
    the baseline a learned model has to beat (and the perceptual scores, as
    :func:`evaluate`)."""
    from ..engine.upscaler import upscale

    scores, extra = [], []
    for image in images:
        restored = upscale(image.low, scale, method="bicubic", axes="TCYX")
        scores.append(score(image, restored, scale))
        if perceptual:
            extra.append(perceptual_scores(image, restored, scale, degradation))
    return {**_mean(scores), **_mean_extra(extra)} if perceptual else _mean(scores)


def perceptual_scores(
    image: TrainingImage, restored: np.ndarray, scale: int, degradation: dict | None = None
) -> dict[str, float | None]:
    """The :data:`PERCEPTUAL_SCORES` of ``restored`` (N, C, Y, X), in the image's dtype;
    spectrum and consistency of RGB on luma, as :func:`napari_sr.compare_methods` scores
    them (a luma network leaves chroma to bicubic)."""
    from ..consistency import data_consistency
    from ..naturalness import niqe
    from ..spectrum import spectral_fidelity

    ref, out, low = image.high, restored, image.low
    data_range = scoring_range(image.high) or 255.0
    crop = (slice(None), slice(None), slice(scale, -scale or None), slice(scale, -scale or None))
    planes = [np.moveaxis(p, 0, -1) if p.shape[0] == 3 else p[0] for p in out[crop]]
    large = [p for p in planes if min(p.shape[:2]) >= 192]
    if out.shape[1] == 3:
        ref, out, low = (_luma_planes(x, data_range) for x in (ref, out, low))
    truth = [p[0] for p in ref[crop]]
    spectra = [spectral_fidelity(t, o[0]) for t, o in zip(truth, out[crop], strict=True)]
    model = {k: v for k, v in (degradation or {}).items() if k in ("kernel", "blur", "psf")}
    agreement = data_consistency(
        out.astype(np.float64), low.astype(np.float64), scale,
        fit_intensity=False, axes="TCYX", **model,
    )  # fmt: skip
    return {
        "niqe": float(np.mean([niqe(p, data_range=data_range) for p in large])) if large else None,
        "spectral_error_db": float(np.mean([f.error_db for f in spectra])),
        "spectral_high_db": float(np.mean([f.high_db for f in spectra])),
        "consistency_rms": agreement.rse,
    }


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


def _luma_planes(rgb: np.ndarray, data_range: float) -> np.ndarray:
    """(N, 1, Y, X) luma of (N, 3, Y, X) RGB in [0, data_range]."""
    from ..color import luma

    return luma(np.moveaxis(rgb, 1, -1), data_range)[:, None]


def _mean_extra(extra: list[dict[str, float | None]]) -> dict[str, float | None]:
    out = {}
    for name in PERCEPTUAL_SCORES:
        values = [e[name] for e in extra if e[name] is not None]
        out[name] = float(np.mean(values)) if values else None
    return out


def _mean(scores: list[tuple[float, float]]) -> dict[str, float]:
    return {
        "psnr": float(np.mean([p for p, _ in scores])),
        "ssim": float(np.mean([s for _, s in scores])),
    }
