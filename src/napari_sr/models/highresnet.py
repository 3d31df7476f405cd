"""A multi-frame fusion network in the spirit of HighRes-net (Deudon et al. 2020).

M. Deudon, A. Kalaitzis et al., "HighRes-net: Recursive Fusion for Multi-Frame
Super-Resolution of Satellite Imagery", arXiv:2002.06460 (2020). Three parts:

1. a **shared encoder** sees every frame paired with the reference (the frames' median:
   the scene without the noise of any one frame) and turns it into a feature map;
2. **recursive fusion** merges the feature maps pairwise (frame ``i`` with frame
   ``i + n/2``) with one shared residual block per level, halving their number until one
   is left, so that any number of frames works (an odd one out is carried over);
3. a **sub-pixel decoder** (a transposed convolution of stride ``scale``) makes the fine
   image, here added to the bicubic upsampling of the reference (global residual).

Input ``(B, K, H, W)``: K registered or unregistered frames of one scene, any K ≥ 1.
Output ``(B, 1, H·s, W·s)``.
"""

from __future__ import annotations

import torch
from torch import nn

from ._common import bicubic_upsample, conv


class _Residual(nn.Module):
    def __init__(self, features: int) -> None:
        super().__init__()
        self.body = nn.Sequential(conv(features, features), nn.PReLU(features),
                                  conv(features, features))  # fmt: skip
        self.act = nn.PReLU(features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(x + self.body(x))


class HighResNet(nn.Module):
    """HighRes-net-style fusion of a variable number of frames.

    Parameters
    ----------
    scale : int
        Upscaling factor (2, 3 or 4).
    in_channels : int
        Channels of each frame (1: grayscale).
    features : int
        Feature channels of the encoder, fusion and decoder.
    encoder_blocks : int
        Residual blocks of the shared encoder.
    """

    def __init__(
        self, *, scale: int, in_channels: int = 1, features: int = 32, encoder_blocks: int = 2
    ) -> None:
        super().__init__()
        if in_channels != 1:
            raise ValueError("HighResNet fuses grayscale frames (in_channels=1)")
        self.scale, self.in_channels = scale, in_channels
        self.encoder = nn.Sequential(
            conv(2, features), nn.PReLU(features),
            *[_Residual(features) for _ in range(encoder_blocks)],
            conv(features, features),
        )  # fmt: skip
        self.fuse = nn.Sequential(conv(2 * features, features), nn.PReLU(features),
                                  _Residual(features))  # fmt: skip
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(features, features, scale, stride=scale),
            nn.PReLU(features),
            conv(features, 1),
        )

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        b, k, h, w = frames.shape
        reference = frames.median(dim=1, keepdim=True).values
        pairs = torch.stack([frames, reference.expand(-1, k, -1, -1)], dim=2)  # B K 2 H W
        hidden = self.encoder(pairs.reshape(b * k, 2, h, w)).reshape(b, k, -1, h, w)
        while hidden.shape[1] > 1:
            n = hidden.shape[1]
            half = n // 2
            first, second = hidden[:, :half], hidden[:, half : 2 * half]
            merged = torch.cat([first, second], dim=2).flatten(0, 1)
            fused = (first.flatten(0, 1) + self.fuse(merged)).reshape(b, half, -1, h, w)
            if n % 2:  # the odd one out joins the next level unchanged
                fused = torch.cat([fused, hidden[:, -1:]], dim=1)
            hidden = fused
        return bicubic_upsample(reference, self.scale) + self.decoder(hidden[:, 0])
