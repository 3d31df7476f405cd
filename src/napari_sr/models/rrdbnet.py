"""RRDBNet, the ESRGAN generator (Wang et al. 2018): residual-in-residual dense blocks at
low resolution, then nearest-neighbour ×2 upsampling stages each followed by a
convolution.

References
----------
.. [1] X. Wang et al., "ESRGAN: Enhanced super-resolution generative adversarial networks,"
   ECCV Workshops 2018. doi:10.1007/978-3-030-11021-5_5 (arXiv:1809.00219)
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ._common import conv
from .network import SRModel

_SLOPE = 0.2


class _DenseBlock(nn.Module):
    """Five 3×3 convolutions, each seeing the block input and all earlier outputs; the last
    returns to ``features`` channels and is added back scaled by ``beta``."""

    def __init__(self, features: int, growth: int, beta: float) -> None:
        super().__init__()
        self.beta = beta
        self.convs = nn.ModuleList(
            conv(features + i * growth, growth if i < 4 else features) for i in range(5)
        )
        for layer in self.convs:  # small initial residuals, as in the paper (×0.1)
            nn.init.kaiming_normal_(layer.weight)
            layer.weight.data.mul_(0.1)
            nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        seen = [x]
        for layer in self.convs[:-1]:
            seen.append(F.leaky_relu(layer(torch.cat(seen, dim=1)), _SLOPE))
        return x + self.beta * self.convs[-1](torch.cat(seen, dim=1))


class _RRDB(nn.Module):
    """Three dense blocks in sequence, wrapped in a residual scaled by ``beta``."""

    def __init__(self, features: int, growth: int, beta: float) -> None:
        super().__init__()
        self.blocks = nn.Sequential(*(_DenseBlock(features, growth, beta) for _ in range(3)))
        self.beta = beta

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.beta * self.blocks(x)


class RRDBNet(SRModel):
    """The ESRGAN generator: ``blocks`` RRDBs of ``features`` channels with dense growth
    ``growth``, then log2(scale) nearest-neighbour ×2 stages.

    Parameter count (all ``nn.Parameter``): 16,697,987 for three channels at ×4, identical
    to BasicSR ``basicsr/archs/rrdbnet_arch.py``
    (``RRDBNet(3, 3, scale=4, num_feat=64, num_block=23, num_grow_ch=32)``). At ×2 ours
    has one upsampling stage (16,661,059 for three channels), where BasicSR instead
    pixel-unshuffles the input and keeps two.

    Parameters
    ----------
    scale : int
        Upscaling factor: a power of two (2, 4 or 8).
    in_channels : int
        Image channels in and out.
    features : int
        Feature channels of the trunk.
    blocks : int
        Residual-in-residual dense blocks.
    growth : int
        Channels added by each convolution of a dense block.
    residual_scale : float
        β, the scaling of the dense-block and RRDB residuals.
    unshuffle : int
        1 (default), or 2 or 4: the input is first pixel-unshuffled by this factor (its
        channels ×4 or ×16, its sides halved or quartered) and the network upsamples by
        ``scale × unshuffle`` — the layout of Real-ESRGAN's ×2 (and ×1) weights, where
        BasicSR keeps the two ×2 stages of its ×4 network. Inputs are padded to a
        multiple of it (:attr:`size_multiple`).

    References
    ----------
    .. [1] X. Wang et al., "ESRGAN: Enhanced super-resolution generative adversarial
       networks," ECCV Workshops 2018. doi:10.1007/978-3-030-11021-5_5 (arXiv:1809.00219)
    """

    def __init__(
        self,
        *,
        scale: int,
        in_channels: int = 1,
        features: int = 64,
        blocks: int = 23,
        growth: int = 32,
        residual_scale: float = 0.2,
        unshuffle: int = 1,
    ) -> None:
        super().__init__()
        if scale < 2 or scale & (scale - 1):
            raise ValueError(f"RRDBNet upsamples by a power of two, not {scale}")
        if unshuffle not in (1, 2, 4):
            raise ValueError(f"RRDBNet's unshuffle is 1, 2 or 4, not {unshuffle}")
        self.scale, self.in_channels, self.unshuffle = scale, in_channels, unshuffle
        self.size_multiple = unshuffle
        if unshuffle > 1:  # the trunk sees the image at 1/unshuffle: its reach grows with it
            self.halo = 352 * unshuffle
        self.head = conv(in_channels * unshuffle**2, features)
        self.trunk = nn.Sequential(
            *(_RRDB(features, growth, residual_scale) for _ in range(blocks)),
            conv(features, features),
        )
        stages = int(math.log2(scale * unshuffle))
        self.up = nn.ModuleList(conv(features, features) for _ in range(stages))
        self.hr = conv(features, features)
        self.tail = conv(features, in_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.unshuffle > 1:
            x = F.pixel_unshuffle(x, self.unshuffle)
        feat = self.head(x)
        feat = feat + self.trunk(feat)
        for layer in self.up:
            feat = F.leaky_relu(layer(F.interpolate(feat, scale_factor=2, mode="nearest")), _SLOPE)
        return self.tail(F.leaky_relu(self.hr(feat), _SLOPE))
