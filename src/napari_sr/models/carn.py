"""CARN (Ahn, Kang & Sohn 2018): residual blocks whose outputs are concatenated and fused
by 1×1 convolutions at two levels (inside each cascading block and across the blocks),
with sub-pixel upsampling at the end.

References
----------
.. [1] N. Ahn, B. Kang, K.-A. Sohn, "Fast, accurate, and lightweight super-resolution with
   cascading residual network," ECCV 2018. doi:10.1007/978-3-030-01249-6_16
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ._common import conv
from .network import SRModel

DIV2K_RGB_MEAN = (0.4488, 0.4371, 0.4040)
"""Per-channel mean of the DIV2K training images, subtracted at the input of CARN and
added back at its output."""


class _Cascade(nn.Module):
    """``units`` modules, each fed the 1×1 fusion of everything produced so far.

    Unit ``i`` sees the fusion of the block input and the outputs of units ``1..i-1``;
    the result is the last fusion, of the input and all ``units`` outputs.
    """

    def __init__(self, make_unit, units: int, features: int) -> None:
        super().__init__()
        self.units = nn.ModuleList(make_unit() for _ in range(units))
        self.fusions = nn.ModuleList(
            nn.Sequential(nn.Conv2d((i + 2) * features, features, 1), nn.ReLU(inplace=True))
            for i in range(units)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        stacked, fused = x, x
        for unit, fusion in zip(self.units, self.fusions, strict=True):
            stacked = torch.cat([stacked, unit(fused)], dim=1)
            fused = fusion(stacked)
        return fused


class _ResidualUnit(nn.Module):
    """conv-ReLU-conv, plus the input, then ReLU (the residual-E block of CARN without its
    group convolution, i.e. the plain residual block of the full model)."""

    def __init__(self, features: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            conv(features, features), nn.ReLU(inplace=True), conv(features, features)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x + self.body(x))


def _subpixel_upsampler(features: int, scale: int) -> nn.Sequential:
    """conv-ReLU-pixel-shuffle by 2, repeated, for powers of two; by 3 once for ×3."""
    if scale == 3:
        factors = [3]
    elif scale >= 2 and scale & (scale - 1) == 0:
        factors = [2] * int(math.log2(scale))
    else:
        raise ValueError(f"CARN upsamples by 2, 3, 4 or 8, not {scale}")
    layers: list[nn.Module] = []
    for f in factors:
        layers += [conv(features, features * f * f), nn.ReLU(inplace=True), nn.PixelShuffle(f)]
    return nn.Sequential(*layers)


class CARN(SRModel):
    """CARN with three cascading blocks of three residual blocks, 64 features and one
    upsampler for the requested scale.

    Parameter count (all ``nn.Parameter``; the mean shift is a buffer): 1,111,875 for three
    channels at ×4, the same as the reference implementation (``nmhkahn/CARN-pytorch``,
    ``carn/model/carn.py``) built with ``multi_scale=False, scale=4``, not counting its
    frozen 1×1 mean-shift convolutions. The paper's 1,592K (1,591,939) is the multi-scale
    model, which carries ×2, ×3 and ×4 upsamplers at once.

    Parameters
    ----------
    scale : int
        Upscaling factor: 2, 3, 4 or 8.
    in_channels : int
        Image channels in and out.
    features : int
        Feature channels throughout.
    blocks : int
        Cascading blocks in the global cascade.
    units : int
        Residual blocks in each cascading block.
    mean : tuple of float or None
        Per-channel mean subtracted from the input and added to the output. ``None`` means
        the DIV2K RGB mean for three channels and its average (0.4300) for any other
        number of channels. Stored as a buffer.

    References
    ----------
    .. [1] N. Ahn, B. Kang, K.-A. Sohn, "Fast, accurate, and lightweight super-resolution
       with cascading residual network," ECCV 2018. doi:10.1007/978-3-030-01249-6_16
    """

    def __init__(
        self,
        *,
        scale: int,
        in_channels: int = 1,
        features: int = 64,
        blocks: int = 3,
        units: int = 3,
        mean: tuple[float, ...] | None = None,
    ) -> None:
        super().__init__()
        self.scale, self.in_channels = scale, in_channels
        if mean is None:
            rgb = DIV2K_RGB_MEAN
            mean = rgb if in_channels == 3 else (sum(rgb) / 3,) * in_channels
        if len(mean) != in_channels:
            raise ValueError(f"mean needs {in_channels} values, got {len(mean)}")
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.entry = conv(in_channels, features)

        def cascading_block() -> nn.Module:
            return _Cascade(lambda: _ResidualUnit(features), units, features)

        self.body = _Cascade(cascading_block, blocks, features)
        self.upsample = _subpixel_upsampler(features, scale)
        self.exit = conv(features, in_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = self.mean.to(x.dtype)
        out = self.upsample(self.body(self.entry(x - mean)))
        return self.exit(out) + mean
