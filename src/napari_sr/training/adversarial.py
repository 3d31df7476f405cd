"""Adversarial losses: how a discriminator's logits become its loss and the generator's.

Four formulations, by name (:data:`GAN_LOSSES`):

- ``vanilla``: the original GAN's cross-entropy (Goodfellow et al. 2014), the generator's
  in its non-saturating form (maximise log D(fake)), as SRGAN trains;
- ``lsgan``: least squares (Mao et al. 2017), targets 1 for real and 0 for fake;
- ``hinge``: the hinge loss of SAGAN and BigGAN (Lim & Ye 2017; Miyato et al. 2018);
- ``ragan``: the relativistic average GAN (Jolicoeur-Martineau 2019) that ESRGAN uses:
  the discriminator judges whether a real image is *more* real than the average generated
  one, and the generator gets gradients from the real images too.

Logits are the raw outputs of a discriminator
(:mod:`napari_sr.models.discriminators`): one per patch or one per pixel; every loss is a
mean over all of them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

GAN_LOSSES = ("vanilla", "lsgan", "hinge", "ragan")
"""The adversarial loss formulations, by name."""


def discriminator_loss(kind: str, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """The discriminator's loss for its logits on real images and on generated ones
    (``fake`` detached from the generator by the caller)."""
    _check(kind)
    if kind == "vanilla":
        return _bce(real, 1.0) + _bce(fake, 0.0)
    if kind == "lsgan":
        return 0.5 * (((real - 1) ** 2).mean() + (fake**2).mean())
    if kind == "hinge":
        return F.relu(1 - real).mean() + F.relu(1 + fake).mean()
    # ragan: each side against the other side's mean, the two halves averaged (ESRGAN)
    return 0.5 * (_bce(real - fake.mean(), 1.0) + _bce(fake - real.mean(), 0.0))


def generator_loss(
    kind: str, fake: torch.Tensor, real: torch.Tensor | None = None
) -> torch.Tensor:
    """The generator's adversarial loss for the discriminator's logits on its output
    (``fake``, with gradients) and, for ``ragan``, on real images (``real``, detached by
    the caller)."""
    _check(kind)
    if kind == "vanilla":
        return _bce(fake, 1.0)
    if kind == "lsgan":
        return 0.5 * ((fake - 1) ** 2).mean()
    if kind == "hinge":
        return -fake.mean()
    if real is None:
        raise ValueError(
            "the ragan generator loss needs the discriminator's logits on real images"
        )
    return 0.5 * (_bce(real - fake.mean(), 0.0) + _bce(fake - real.mean(), 1.0))


def discriminator_accuracy(kind: str, real: torch.Tensor, fake: torch.Tensor) -> float:
    """The fraction of logits on the right side of the loss's decision boundary: real
    above it, generated below (0 for ``vanilla`` and ``hinge``, 0.5 for ``lsgan``'s
    targets 1 and 0; for ``ragan``, each side against the other side's mean). 1: the
    discriminator tells every real from every generated patch; 0.5: it guesses."""
    _check(kind)
    real, fake = real.detach(), fake.detach()
    if kind == "ragan":
        real, fake = real - fake.mean(), fake - real.mean()
        boundary = 0.0
    else:
        boundary = 0.5 if kind == "lsgan" else 0.0
    right = (real > boundary).sum() + (fake < boundary).sum()
    return float(right) / (real.numel() + fake.numel())


def _bce(logits: torch.Tensor, target: float) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


def _check(kind: str) -> None:
    if kind not in GAN_LOSSES:
        raise ValueError(f"no adversarial loss {kind!r}: choose one of {', '.join(GAN_LOSSES)}")
