"""ESPCN (Shi et al. 2016): convolutions at low resolution and a sub-pixel convolution
(pixel shuffle) that upsamples at the end.

References
----------
.. [1] W. Shi et al., "Real-time single image and video super-resolution using an efficient
   sub-pixel convolutional neural network," CVPR 2016. doi:10.1109/CVPR.2016.207
"""

from __future__ import annotations

import torch
from torch import nn

from .network import SRModel


class ESPCN(SRModel):
    """ESPCN with the paper's (f1, n1) = (5, 64), (f2, n2) = (3, 32), f3 = 3 and tanh
    activations (22,729 parameters for one channel at ×3)."""

    def __init__(
        self, *, scale: int, in_channels: int = 1, features: tuple[int, int] = (64, 32)
    ) -> None:
        super().__init__()
        self.scale, self.in_channels = scale, in_channels
        n1, n2 = features
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, n1, 5, padding=2),
            nn.Tanh(),
            nn.Conv2d(n1, n2, 3, padding=1),
            nn.Tanh(),
            nn.Conv2d(n2, in_channels * scale * scale, 3, padding=1),
            nn.PixelShuffle(scale),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)
