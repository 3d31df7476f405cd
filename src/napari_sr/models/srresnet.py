"""SRResNet (Ledig et al. 2017), the generator of SRGAN trained on a pixel loss: residual
blocks with batch normalisation and PReLU at low resolution, and sub-pixel upsampling.

References
----------
.. [1] C. Ledig, L. Theis, F. Huszár, J. Caballero, A. Cunningham, A. Acosta, A. Aitken, A.
   Tejani, J. Totz, Z. Wang, W. Shi, "Photo-realistic single image super-resolution using a
   generative adversarial network," CVPR 2017. doi:10.1109/CVPR.2017.19
"""

from __future__ import annotations

import torch
from torch import nn

from ._common import conv
from .network import SRModel


class _ResBlock(nn.Module):
    """Conv, BN, PReLU, Conv, BN, plus the input (Ledig et al., Fig. 4)."""

    def __init__(self, features: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            conv(features, features),
            nn.BatchNorm2d(features),
            nn.PReLU(),
            conv(features, features),
            nn.BatchNorm2d(features),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def _upsampling_stages(scale: int) -> list[int]:
    """Pixel-shuffle factors: one ×2 stage per factor of two, or a single ×3 stage."""
    if scale == 3:
        return [3]
    if scale >= 2 and scale & (scale - 1) == 0:
        return [2] * (scale.bit_length() - 1)
    raise ValueError(f"SRResNet supports scale 3 and powers of 2, not {scale}")


class SRResNet(SRModel):
    """SRResNet with 16 residual blocks of 64 features and two ×2 sub-pixel stages for ×4.

    9×9 conv and PReLU; ``n_blocks`` residual blocks, then a 3×3 conv and BN with a skip
    from before the blocks; per stage a 3×3 conv to ``factor²·n_feats`` channels, pixel
    shuffle and PReLU; a 9×9 conv back to ``in_channels``. Every conv has a bias and every
    PReLU one shared slope, as in the widely used PyTorch reference
    (sgrvinod/a-PyTorch-Tutorial-to-Super-Resolution ``models.py``): 1,549,462 parameters
    for 3 channels at ×4 (1,401,749 at ×2). The output is linear: the reference's final tanh
    (for targets in [-1, 1]) is left out so that the output has the range of the input.
    ×3 uses one ×3 sub-pixel stage, an extension (the paper only trains ×4).

    Parameters
    ----------
    scale : int
        Upscaling factor: 2, 3, 4 (or a higher power of two).
    in_channels : int
        Image channels in and out.
    n_blocks : int
        Number of residual blocks (B in the paper).
    n_feats : int
        Feature channels.

    Notes
    -----
    Batch normalisation makes the output depend on the batch in training mode; in
    evaluation mode (inference) it is a per-channel affine map.

    References
    ----------
    .. [1] C. Ledig et al., "Photo-realistic single image super-resolution using a
       generative adversarial network," CVPR 2017. doi:10.1109/CVPR.2017.19
    """

    def __init__(
        self, *, scale: int, in_channels: int = 1, n_blocks: int = 16, n_feats: int = 64
    ) -> None:
        super().__init__()
        self.scale, self.in_channels = scale, in_channels
        self.head = nn.Sequential(conv(in_channels, n_feats, 9), nn.PReLU())
        self.body = nn.Sequential(
            *(_ResBlock(n_feats) for _ in range(n_blocks)),
            conv(n_feats, n_feats),
            nn.BatchNorm2d(n_feats),
        )
        upsampler: list[nn.Module] = []
        for factor in _upsampling_stages(scale):
            upsampler += [
                conv(n_feats, n_feats * factor * factor),
                nn.PixelShuffle(factor),
                nn.PReLU(),
            ]
        self.upsampler = nn.Sequential(*upsampler)
        self.tail = conv(n_feats, in_channels, 9)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.head(x)
        return self.tail(self.upsampler(features + self.body(features)))
