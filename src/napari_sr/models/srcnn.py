"""SRCNN (Dong et al. 2014/2016): patch extraction, non-linear mapping, reconstruction,
on a bicubic-upsampled input.

References
----------
.. [1] C. Dong, C. C. Loy, K. He, X. Tang, "Image super-resolution using deep convolutional
   networks," IEEE TPAMI 38(2), 295-307 (2016). doi:10.1109/TPAMI.2015.2439281
"""

from __future__ import annotations

import torch
from torch import nn

from ._common import bicubic_upsample
from .network import SRModel


class SRCNN(SRModel):
    """SRCNN 9-1-5 with 64 and 32 filters (the paper's base network, 8,129 parameters
    for one channel).

    Parameters
    ----------
    scale : int
        Upscaling factor (the input is bicubic-upsampled by it first).
    in_channels : int
        Image channels.
    features : tuple of int
        Filters of the first two layers (n1, n2).
    kernels : tuple of int
        Kernel sizes of the three layers (f1, f2, f3).
    """

    def __init__(
        self,
        *,
        scale: int,
        in_channels: int = 1,
        features: tuple[int, int] = (64, 32),
        kernels: tuple[int, int, int] = (9, 1, 5),
    ) -> None:
        super().__init__()
        self.scale, self.in_channels = scale, in_channels
        n1, n2 = features
        f1, f2, f3 = kernels
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, n1, f1, padding=f1 // 2),
            nn.ReLU(inplace=True),
            nn.Conv2d(n1, n2, f2, padding=f2 // 2),
            nn.ReLU(inplace=True),
            nn.Conv2d(n2, in_channels, f3, padding=f3 // 2),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(bicubic_upsample(x, self.scale))
