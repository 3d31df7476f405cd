"""DRRN (Tai, Yang & Liu 2017): recursive blocks of pre-activation residual units whose
weights are shared across the recursion, learning the residual of a bicubic-upsampled
input.

References
----------
.. [1] Y. Tai, J. Yang, X. Liu, "Image super-resolution via deep recursive residual
   network," CVPR 2017. doi:10.1109/CVPR.2017.298
"""

from __future__ import annotations

import torch
from torch import nn

from ._common import bicubic_upsample, conv
from .network import SRModel


class _RecursiveBlock(nn.Module):
    """An entry convolution, then ``units`` applications of one residual unit
    (ReLU-conv-ReLU-conv) that all add back the entry convolution's output (multi-path
    local residual learning); the two convolutions are shared by every unit."""

    def __init__(self, in_features: int, features: int, units: int, *, preactivate: bool) -> None:
        super().__init__()
        self.units = units
        entry = conv(in_features, features, bias=False)
        self.entry = nn.Sequential(nn.ReLU(), entry) if preactivate else entry
        self.unit = nn.Sequential(
            nn.ReLU(),
            conv(features, features, bias=False),
            nn.ReLU(),
            conv(features, features, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        origin = self.entry(x)
        out = origin
        for _ in range(self.units):
            out = origin + self.unit(out)
        return out


class DRRN(SRModel):
    """DRRN_B{blocks}U{units} with ``features`` filters and no biases (as the PyTorch
    reference implementation); the default B1U25 (depth 52) has 297,216 parameters for one
    channel (the paper's 297K, Table 1; all ``nn.Parameter``, which here are the
    convolution weights only). Batch normalisation is left out, as in that implementation.

    The raw input goes into the first convolution without the ReLU the reference puts in
    front of it (the same for non-negative images, and no loss of negative values).

    Parameters
    ----------
    scale : int
        Upscaling factor (the input is bicubic-upsampled by it first).
    in_channels : int
        Image channels in and out.
    blocks : int
        Recursive blocks B, each with its own weights.
    units : int
        Residual units U per recursive block (sharing one pair of convolutions).
    features : int
        Filters of every convolution.

    References
    ----------
    .. [1] Y. Tai, J. Yang, X. Liu, "Image super-resolution via deep recursive residual
       network," CVPR 2017. doi:10.1109/CVPR.2017.298
    """

    def __init__(
        self,
        *,
        scale: int,
        in_channels: int = 1,
        blocks: int = 1,
        units: int = 25,
        features: int = 128,
    ) -> None:
        super().__init__()
        self.scale, self.in_channels = scale, in_channels
        # blocks after the first start with a ReLU (pre-activation), as does the output layer
        self.blocks = nn.Sequential(
            _RecursiveBlock(in_channels, features, units, preactivate=False),
            *(
                _RecursiveBlock(features, features, units, preactivate=True)
                for _ in range(blocks - 1)
            ),
        )
        self.reconstruct = nn.Sequential(nn.ReLU(), conv(features, in_channels, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        upsampled = bicubic_upsample(x, self.scale)
        return upsampled + self.reconstruct(self.blocks(upsampled))
