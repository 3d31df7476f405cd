"""RCAN (Zhang et al. 2018): residual-in-residual groups of residual channel-attention
blocks (RCAB) at low resolution, and a sub-pixel (pixel-shuffle) upsampler.

The channel attention pools each feature map over the whole image, so the output depends
on the entire input: tiles, whatever their halo, only approximate the untiled result.

Mean shift: as :mod:`napari_sr.models.edsr`, a non-trainable buffer ``mean`` (the DIV2K
RGB mean for 3 channels, 0.5 per channel otherwise) subtracted before the head and added
after the tail; the reference implementation's frozen 1×1 mean-shift convolutions are
therefore not parameters here.

References
----------
.. [1] Y. Zhang, K. Li, K. Li, L. Wang, B. Zhong, Y. Fu, "Image super-resolution using very
   deep residual channel attention networks," ECCV 2018. doi:10.1007/978-3-030-01234-2_18
"""

from __future__ import annotations

import torch
from torch import nn

from ._common import ResidualSRNet, conv


class _ChannelAttention(nn.Module):
    """Global average pooling, 1×1 conv down by ``reduction``, ReLU, 1×1 conv up, sigmoid;
    the result rescales each channel of the input."""

    def __init__(self, features: int, reduction: int) -> None:
        super().__init__()
        squeezed = features // reduction
        self.gate = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(features, squeezed, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(squeezed, features, 1),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(x)


class _RCAB(nn.Module):
    """Residual channel-attention block: Conv, ReLU, Conv, channel attention, plus the
    input."""

    def __init__(self, features: int, reduction: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            conv(features, features),
            nn.ReLU(inplace=True),
            conv(features, features),
            _ChannelAttention(features, reduction),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class _ResidualGroup(nn.Module):
    """``blocks`` RCABs and a 3×3 conv, with a short skip connection."""

    def __init__(self, features: int, reduction: int, blocks: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            *(_RCAB(features, reduction) for _ in range(blocks)), conv(features, features)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class RCAN(ResidualSRNet):
    """RCAN with 10 residual groups of 20 RCABs, 64 features, channel-attention reduction 16.

    Head 3×3 conv; ``n_resgroups`` residual groups and a 3×3 conv with a long skip; a
    pixel-shuffle upsampler and a 3×3 conv back to ``in_channels``; between the mean shift.
    For 3 channels this has 15,444,643 parameters at ×2, 15,629,283 at ×3 and 15,592,355 at
    ×4 (the trainable parameters of the reference implementation as carried by
    sanghyun-son/EDSR-PyTorch ``src/model/rcan.py``, the authors' code on which yulunzhang/RCAN
    builds; its frozen mean-shift convolutions add 24 more there).

    Parameters
    ----------
    scale : int
        Upscaling factor: 2, 3, 4 (or a higher power of two).
    in_channels : int
        Image channels in and out.
    n_resgroups : int
        Number of residual groups.
    n_resblocks : int
        RCABs per residual group.
    n_feats : int
        Feature channels.
    reduction : int
        Channel reduction of the attention bottleneck.
    value_range : float
        The range of values the weights were trained on: 1 (napari-sr, images in [0, 1]),
        255 for EDSR-PyTorch's released weights; inputs in [0, 1] are scaled to it.

    References
    ----------
    .. [1] Y. Zhang et al., "Image super-resolution using very deep residual channel
       attention networks," ECCV 2018. doi:10.1007/978-3-030-01234-2_18
    """

    def __init__(
        self,
        *,
        scale: int,
        in_channels: int = 1,
        n_resgroups: int = 10,
        n_resblocks: int = 20,
        n_feats: int = 64,
        reduction: int = 16,
        value_range: float = 1.0,
    ) -> None:
        groups = [_ResidualGroup(n_feats, reduction, n_resblocks) for _ in range(n_resgroups)]
        super().__init__(scale=scale, in_channels=in_channels, features=n_feats, blocks=groups,
                         value_range=value_range)  # fmt: skip
