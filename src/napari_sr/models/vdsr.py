"""VDSR (Kim, Lee & Lee 2016): a 20-layer network that learns the residual between a
bicubic-upsampled input and the high-resolution image.

References
----------
.. [1] J. Kim, J. K. Lee, K. M. Lee, "Accurate image super-resolution using very deep
   convolutional networks," CVPR 2016. doi:10.1109/CVPR.2016.182
"""

from __future__ import annotations

import torch
from torch import nn

from ._common import bicubic_upsample, conv
from .network import SRModel


class VDSR(SRModel):
    """VDSR with ``depth`` 3×3 layers of ``features`` filters, no biases (as the widely used
    PyTorch reference implementation; 664,704 parameters for one channel)."""

    def __init__(
        self, *, scale: int, in_channels: int = 1, depth: int = 20, features: int = 64
    ) -> None:
        super().__init__()
        self.scale, self.in_channels = scale, in_channels
        layers: list[nn.Module] = [conv(in_channels, features, bias=False), nn.ReLU(inplace=True)]
        for _ in range(depth - 2):
            layers += [conv(features, features, bias=False), nn.ReLU(inplace=True)]
        layers.append(conv(features, in_channels, bias=False))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        upsampled = bicubic_upsample(x, self.scale)
        return upsampled + self.body(upsampled)
