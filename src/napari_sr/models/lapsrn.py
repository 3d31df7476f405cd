"""LapSRN (Lai et al. 2017): a Laplacian pyramid that upsamples by 2 per level; a feature
branch predicts each level's high-frequency residual, an image branch upsamples the
previous level's image with a learned (bilinear-initialised) transposed convolution.

References
----------
.. [1] W.-S. Lai, J.-B. Huang, N. Ahuja, M.-H. Yang, "Deep Laplacian pyramid networks for
   fast and accurate super-resolution," CVPR 2017. doi:10.1109/CVPR.2017.618
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ._common import conv
from .network import SRModel

_SLOPE = 0.2


def _bilinear_kernel(size: int) -> torch.Tensor:
    """The ``size``×``size`` bilinear interpolation kernel of a ×2 transposed convolution."""
    factor = (size + 1) // 2
    centre = factor - 1 if size % 2 == 1 else factor - 0.5
    # on the CPU even while a network is sized on the meta device: a constant, and cheap
    ramp = 1 - torch.abs(torch.arange(size, dtype=torch.float32, device="cpu") - centre) / factor
    return ramp[:, None] * ramp[None, :]


class _Level(nn.Module):
    """One pyramid level of the feature branch: ``depth`` conv-LeakyReLU layers, a 3×3
    transposed convolution that doubles the size (with LeakyReLU), and the 3×3 convolution
    that predicts the residual image."""

    def __init__(self, features: int, depth: int, channels: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for _ in range(depth):
            layers += [conv(features, features), nn.LeakyReLU(_SLOPE, inplace=True)]
        # 3×3, stride 2: padding 1 and output_padding 1 give exactly twice the size
        layers += [
            nn.ConvTranspose2d(features, features, 3, stride=2, padding=1, output_padding=1),
            nn.LeakyReLU(_SLOPE, inplace=True),
        ]
        self.features = nn.Sequential(*layers)
        self.residual = conv(features, channels)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feat = self.features(x)
        return feat, self.residual(feat)


class LapSRN(SRModel):
    """LapSRN with ``depth`` convolutions of ``features`` filters per level and
    log2(scale) levels, following the authors' MatConvNet model (``init_LapSRN.m``).

    Parameter count at ×4 for one channel: 814,242 counting all ``nn.Parameter`` (as the
    authors' ``count_network_parameters.m`` does), 812,768 counting weights only (no
    biases), the paper's "812K". The image branch upsamples each channel separately
    (a depthwise 4×4 transposed convolution, 16 weights per channel and level).

    Parameters
    ----------
    scale : int
        Upscaling factor: 2, 4 or 8.
    in_channels : int
        Image channels in and out.
    depth : int
        Convolutions per pyramid level (the paper's d).
    features : int
        Filters of the feature branch.

    References
    ----------
    .. [1] W.-S. Lai, J.-B. Huang, N. Ahuja, M.-H. Yang, "Deep Laplacian pyramid networks
       for fast and accurate super-resolution," CVPR 2017. doi:10.1109/CVPR.2017.618
    """

    def __init__(
        self, *, scale: int, in_channels: int = 1, depth: int = 10, features: int = 64
    ) -> None:
        super().__init__()
        if scale < 2 or scale & (scale - 1):
            raise ValueError(f"LapSRN upsamples by a power of two, not {scale}")
        self.scale, self.in_channels = scale, in_channels
        levels = int(math.log2(scale))
        self.head = nn.Sequential(conv(in_channels, features), nn.LeakyReLU(_SLOPE, inplace=True))
        self.levels = nn.ModuleList(_Level(features, depth, in_channels) for _ in range(levels))
        self.image_up = nn.ModuleList(
            nn.ConvTranspose2d(
                in_channels, in_channels, 4, stride=2, padding=1, groups=in_channels, bias=False
            )
            for _ in range(levels)
        )
        with torch.no_grad():
            for layer in self.image_up:
                layer.weight.copy_(_bilinear_kernel(4).expand_as(layer.weight))

    def pyramid(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The images of every level, ×2 first and ×``scale`` last (the paper supervises
        them all)."""
        feat, image, out = self.head(x), x, []
        for level, up in zip(self.levels, self.image_up, strict=True):
            feat, residual = level(feat)
            image = up(image) + residual
            out.append(image)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pyramid(x)[-1]
