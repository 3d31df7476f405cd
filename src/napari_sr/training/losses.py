"""Loss terms for SR training, on (N, C, H, W) batches of normalised intensities.

Every term takes ``(prediction, target)`` and returns a scalar tensor; :func:`build_loss`
makes their weighted sum from ``{"l1": 1.0, "ssim": 0.2}``. Intensities are those the
network sees (about [0, 1] after :mod:`~napari_sr.normalization`), so SSIM uses a
data range of 1.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable, Mapping

import torch
import torch.nn.functional as F

from .config import parse_loss

CHARBONNIER_EPS = 1e-3
"""ε of the Charbonnier penalty sqrt(d² + ε²) (LapSRN's value)."""

SSIM_WINDOW, SSIM_SIGMA = 11, 1.5
"""Gaussian window of SSIM, as :func:`napari_sr.metrics.ssim` (Wang et al. 2004)."""

SHIFT_TOLERANCE = 2
"""Largest global offset, in output pixels, that ``shift_l1`` forgives (each direction)."""

TEXTURE_FEATURES, TEXTURE_KERNEL, TEXTURE_SEED = 32, 5, 20240601
"""The fixed random filter bank of the texture loss: filters, kernel side, generator seed."""


def l1(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute error."""
    return (prediction - target).abs().mean()


def mse(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error."""
    return ((prediction - target) ** 2).mean()


def charbonnier(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean of sqrt(d² + ε²), a differentiable L1 (Lai et al. 2017, LapSRN,
    doi:10.1109/CVPR.2017.618)."""
    diff = prediction - target
    return torch.sqrt(diff * diff + CHARBONNIER_EPS**2).mean()


def ssim(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean SSIM over the valid region of each channel (data range 1).

    The same definition as :func:`napari_sr.metrics.ssim`: an 11×11 Gaussian window with
    σ = 1.5, valid region only, C1 = 0.01², C2 = 0.03² (Wang et al. 2004,
    doi:10.1109/TIP.2003.819861). Needs at least 11 pixels along Y and X.
    """
    channels = prediction.shape[1]
    window = _gaussian_window(prediction)
    kernel = window.expand(channels, 1, SSIM_WINDOW, SSIM_WINDOW)

    def filt(x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, kernel, groups=channels)

    c1, c2 = 0.01**2, 0.03**2
    mu_x, mu_y = filt(prediction), filt(target)
    sxx = filt(prediction * prediction) - mu_x**2
    syy = filt(target * target) - mu_y**2
    sxy = filt(prediction * target) - mu_x * mu_y
    num = (2 * mu_x * mu_y + c1) * (2 * sxy + c2)
    den = (mu_x**2 + mu_y**2 + c1) * (sxx + syy + c2)
    return (num / den).mean()


def ssim_loss(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1 − SSIM: 0 for identical images."""
    return 1 - ssim(prediction, target)


def total_variation(prediction: torch.Tensor, target: torch.Tensor | None = None) -> torch.Tensor:
    """Anisotropic total variation of the prediction: mean |∂y| + mean |∂x| of
    neighbour differences (Rudin, Osher & Fatemi 1992). A smoothness prior; ``target`` is
    ignored."""
    dy = (prediction[..., 1:, :] - prediction[..., :-1, :]).abs().mean()
    dx = (prediction[..., :, 1:] - prediction[..., :, :-1]).abs().mean()
    return dy + dx


def texture(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Gram-matrix texture loss on fixed random features.

    Texture losses (Gatys et al. 2015; EnhanceNet, Sajjadi et al. 2017,
    doi:10.1109/ICCV.2017.481) compare Gram matrices — channel correlations — of feature
    maps, usually those of an ImageNet-trained VGG. No pretrained network ships with
    napari-sr (and none fits microscopy), so the features here are a *fixed random* bank:
    32 zero-mean 5×5 filters drawn from a seeded generator, followed by ReLU, at full and
    half resolution. Ustyuzhaninov et al. (ICLR 2017, arXiv:1606.00021) showed that such
    random single-layer networks already capture texture statistics well. The Gram matrix
    is taken over each patch (the EnhanceNet locality), normalised by the number of
    features times pixels, and the loss is the mean squared difference.
    """
    total = prediction.new_zeros(())
    a, b = prediction, target
    for level in range(2):
        if level:
            a, b = F.avg_pool2d(a, 2), F.avg_pool2d(b, 2)
        total = total + ((_gram(_random_features(a)) - _gram(_random_features(b))) ** 2).mean()
    return total


def shift_l1(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L1 at the best global shift (whole pixels, up to ``SHIFT_TOLERANCE``) and brightness
    offset of each sample, on the target cropped by the tolerance.

    For multi-frame fusion, whose output may sit a fraction of an input pixel off the
    target's grid (the frames' median position is not frame 0's): the registered loss of
    the PROBA-V challenge (Märtens et al. 2019, doi:10.1109/TGRS.2019.2917839) and
    HighRes-net, with the L1 distance.
    """
    m = SHIFT_TOLERANCE
    h, w = target.shape[-2:]
    core = target[..., m : h - m, m : w - m]
    candidates = []
    for dy in range(-m, m + 1):
        for dx in range(-m, m + 1):
            moved = prediction[..., m + dy : h - m + dy, m + dx : w - m + dx]
            bias = (core - moved).mean(dim=(1, 2, 3), keepdim=True)
            candidates.append((moved + bias - core).abs().mean(dim=(1, 2, 3)))
    return torch.stack(candidates).min(dim=0).values.mean()


def bicubic_downscale(x: torch.Tensor, scale: int) -> torch.Tensor:
    """MATLAB ``imresize(x, 1/scale)`` (bicubic, antialiased, Keys a = −0.5) of the last
    two axes, for a whole ``scale``, where the kernel lies inside the image (no padding):
    the output pixels ``i0 ..`` with ``i0 = ceil(taps_before / scale)``, equal there to
    :func:`napari_sr.resample` 's. Differentiable; ``scale`` 1 returns ``x``."""
    if scale == 1:
        return x
    kernel, first = _bicubic_taps(scale, x)
    # output i reads inputs i·s + first .. i·s + first + taps − 1 (first < 0)
    start = -(first // scale) * scale + first
    channels = x.shape[1]
    rows = F.conv2d(x[..., start:, :], kernel.view(1, 1, -1, 1).expand(channels, 1, -1, 1),
                    stride=(scale, 1), groups=channels)  # fmt: skip
    return F.conv2d(rows[..., start:], kernel.view(1, 1, 1, -1).expand(channels, 1, 1, -1),
                    stride=(1, scale), groups=channels)  # fmt: skip


def consistency(prediction: torch.Tensor, target: torch.Tensor, scale: int = 1) -> torch.Tensor:
    """L1 between the MATLAB-bicubic downscalings by ``scale`` of prediction and target:
    the output must keep what the low-resolution observation says (its low frequencies)
    and is free above them. A training form of the data-consistency check of
    :func:`napari_sr.data_consistency`, against the ideal observation."""
    return l1(bicubic_downscale(prediction, scale), bicubic_downscale(target, scale))


SPECTRUM_EPS = 1e-3
"""Floor of the amplitudes of the spectrum loss, as the standard deviation of white noise
(in normalised intensities, about a quarter of 8-bit quantisation's) whose amplitude it is:
zero amplitudes stay finite in the log, and what lies below that noise counts little."""


def spectrum(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean |log A_pred − log A_target| of the Hann-windowed amplitude spectra of each
    patch and channel (the mean removed): the output must carry the truth's power at every
    frequency, whatever its phase.

    A phase-free texture term in the frequency domain (after the focal frequency loss of
    Jiang et al. 2021, doi:10.1109/ICCV48922.2021.01366): it rewards detail where the truth
    has it, and punishes power where the truth has none, such as the periodic pattern an
    upsampler's sub-pixel layout prints on flat regions under an adversarial loss."""
    rows, cols = prediction.shape[-2:]
    window = torch.outer(
        torch.hann_window(rows, periodic=False, dtype=prediction.dtype, device=prediction.device),
        torch.hann_window(cols, periodic=False, dtype=prediction.dtype, device=prediction.device),
    )
    floor = SPECTRUM_EPS * math.sqrt(rows * cols)  # white noise's amplitude per bin

    def log_amplitude(x: torch.Tensor) -> torch.Tensor:
        x = (x - x.mean(dim=(-2, -1), keepdim=True)) * window
        f = torch.fft.rfft2(x)
        return 0.5 * torch.log(f.real**2 + f.imag**2 + floor**2)

    return (log_amplitude(prediction) - log_amplitude(target)).abs().mean()


LOSSES: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "l1": l1,
    "mse": mse,
    "charbonnier": charbonnier,
    "ssim": ssim_loss,
    "tv": total_variation,
    "texture": texture,
    "shift_l1": shift_l1,
    "spectrum": spectrum,
}
"""The loss terms that need nothing but prediction and target, by name."""

CONTEXT_TERMS = ("consistency", "vgg", "sr_features")
"""Terms :class:`WeightedLoss` builds from the run (the scale, a weights file, a bundled
network); ``feature_matching`` is the discriminator's (:mod:`.adversary`). With
:data:`LOSSES`, every name of ``config.LOSS_NAMES`` (torch-free; a test keeps them equal)."""


class WeightedLoss:
    """A weighted sum of loss terms.

    Parameters
    ----------
    weights : str or dict of str to float
        As :func:`~napari_sr.training.config.parse_loss` accepts.
    scale : int
        The model's factor (for ``consistency``).
    perceptual_weights : path-like, optional
        VGG19 weights for ``vgg`` (:func:`~napari_sr.training.perceptual.load_vgg19`).

    Notes
    -----
    Calling it with ``(prediction, target)`` returns ``(total, terms)``: the weighted sum
    (a scalar tensor with gradient) and each term's unweighted value as a float.
    ``feature_matching`` is left to the discriminator (:mod:`.adversary`).
    """

    def __init__(
        self,
        weights: str | Mapping[str, float],
        *,
        scale: int = 1,
        perceptual_weights: str | os.PathLike | None = None,
    ) -> None:
        self.weights = {
            k: w for k, w in parse_loss(weights).items() if w > 0 and k != "feature_matching"
        }
        self.terms = dict(LOSSES)
        if "consistency" in self.weights:
            self.terms["consistency"] = functools.partial(consistency, scale=int(scale))
        if "vgg" in self.weights:
            from .perceptual import vgg_loss

            if perceptual_weights is None:
                raise ValueError(
                    "the vgg loss needs VGG19 weights: pass perceptual_weights='vgg19.pth'"
                )
            self.terms["vgg"] = vgg_loss(perceptual_weights)
        if "sr_features" in self.weights:
            from .perceptual import sr_feature_loss

            self.terms["sr_features"] = sr_feature_loss()

    def __call__(
        self, prediction: torch.Tensor, target: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, float]]:
        total = prediction.new_zeros(())
        terms = {}
        for name, weight in self.weights.items():
            value = self.terms[name](prediction, target)
            total = total + weight * value
            terms[name] = float(value.detach())
        return total, terms


def build_loss(
    weights: str | Mapping[str, float],
    *,
    scale: int = 1,
    perceptual_weights: str | os.PathLike | None = None,
) -> WeightedLoss:
    """The loss of a training config: ``build_loss({"l1": 1, "ssim": 0.2})``."""
    return WeightedLoss(weights, scale=scale, perceptual_weights=perceptual_weights)


# ----------------------------------------------------------------------------- helpers


def _gaussian_window(like: torch.Tensor) -> torch.Tensor:
    radius = SSIM_WINDOW // 2
    x = torch.arange(-radius, radius + 1, dtype=like.dtype, device=like.device)
    g = torch.exp(-(x**2) / (2 * SSIM_SIGMA**2))
    g = g / g.sum()
    return (g[:, None] * g[None, :]).view(1, 1, SSIM_WINDOW, SSIM_WINDOW)


def _bicubic_taps(scale: int, like: torch.Tensor) -> tuple[torch.Tensor, int]:
    """MATLAB's antialiased bicubic weights for downscaling by a whole ``scale`` (the same
    for every output pixel), and the offset of the first tap from ``i · scale``."""
    centre = (scale - 1) / 2  # output pixel i is centred on input i·s + (s − 1)/2
    first = math.floor(centre - 2 * scale) + 1
    offsets = torch.arange(first, math.ceil(centre + 2 * scale), dtype=torch.float64)
    d = (offsets - centre).abs() / scale
    a = -0.5
    w = torch.where(
        d <= 1,
        (a + 2) * d**3 - (a + 3) * d**2 + 1,
        torch.where(d < 2, a * d**3 - 5 * a * d**2 + 8 * a * d - 4 * a, torch.zeros_like(d)),
    )
    return (w / w.sum()).to(dtype=like.dtype, device=like.device), first


_FILTERS: dict[tuple, torch.Tensor] = {}


def _random_features(x: torch.Tensor) -> torch.Tensor:
    key = (x.shape[1], x.dtype, str(x.device))
    if key not in _FILTERS:
        gen = torch.Generator().manual_seed(TEXTURE_SEED)  # fixed: independent of any run
        w = torch.randn(
            TEXTURE_FEATURES, x.shape[1], TEXTURE_KERNEL, TEXTURE_KERNEL, generator=gen
        )
        w = w - w.mean(dim=(1, 2, 3), keepdim=True)  # respond to structure, not brightness
        w = w / w.flatten(1).norm(dim=1).view(-1, 1, 1, 1)
        _FILTERS[key] = w.to(dtype=x.dtype, device=x.device)
    return F.relu(F.conv2d(x, _FILTERS[key], padding=TEXTURE_KERNEL // 2))


def _gram(features: torch.Tensor) -> torch.Tensor:
    n, k, h, w = features.shape
    flat = features.reshape(n, k, h * w)
    return flat @ flat.transpose(1, 2) / (k * h * w)
