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

With ``prior=True`` the network also sees a classical fusion of the same frames (a
*prior*: :func:`napari_sr.multiframe.fusion.fuse`, registration included) and corrects it:
the decoder reads the fused frame features together with an encoding of the prior, and
its output is added to the prior instead of the reference's bicubic upsampling. The
decoder's last layer starts at zero, so an untrained network returns the prior. Explicit
sub-pixel registration is what a small network finds hardest to learn from synthetic
bursts; the prior hands it over, and the network learns the rest (the optics' blur, the
noise, the image statistics).

Input ``(B, K, H, W)``: K registered or unregistered frames of one scene, any K ≥ 1; with
``prior=True``, ``(B, K + s², H, W)``: the frames followed by the prior, an
``(H·s, W·s)`` image on frame 0's grid, pixel-unshuffled into s² channels (so that a crop
of the input is a crop of the prior, as :func:`pack_prior` makes it).
Output ``(B, 1, H·s, W·s)``.

References
----------
.. [1] M. Deudon, A. Kalaitzis, I. Goytom, M. R. Arefin, Z. Lin, K. Sankaran, V. Michalski,
   S. E. Kahou, J. Cornebise, Y. Bengio, "HighRes-net: Recursive fusion for multi-frame
   super-resolution of satellite imagery," 2020. arXiv:2002.06460
"""

from __future__ import annotations

import torch
from torch import nn

from ._common import bicubic_upsample, conv
from .network import SRModel


class _Residual(nn.Module):
    def __init__(self, features: int) -> None:
        super().__init__()
        self.body = nn.Sequential(conv(features, features), nn.PReLU(features),
                                  conv(features, features))  # fmt: skip
        self.act = nn.PReLU(features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(x + self.body(x))


class HighResNet(SRModel):
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
    prior : bool
        Refine a classical fusion passed after the frames (see the module's docstring).
    """

    def __init__(
        self,
        *,
        scale: int,
        in_channels: int = 1,
        features: int = 32,
        encoder_blocks: int = 2,
        prior: bool = False,
    ) -> None:
        super().__init__()
        if in_channels != 1:
            raise ValueError("HighResNet fuses grayscale frames (in_channels=1)")
        self.scale, self.in_channels, self.prior = scale, in_channels, bool(prior)
        self.encoder = nn.Sequential(
            conv(2, features), nn.PReLU(features),
            *[_Residual(features) for _ in range(encoder_blocks)],
            conv(features, features),
        )  # fmt: skip
        self.fuse = nn.Sequential(conv(2 * features, features), nn.PReLU(features),
                                  _Residual(features))  # fmt: skip
        if self.prior:
            # the prior, seen at the frames' resolution through its s² sub-pixel phases
            self.prior_encoder = nn.Sequential(
                conv(scale * scale, features), nn.PReLU(features), _Residual(features)
            )
            self.merge = nn.Sequential(conv(2 * features, features), nn.PReLU(features),
                                       _Residual(features))  # fmt: skip
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(features, features, scale, stride=scale),
            nn.PReLU(features),
            conv(features, 1),
        )
        if self.prior:  # start from the prior itself
            nn.init.zeros_(self.decoder[-1].weight)
            nn.init.zeros_(self.decoder[-1].bias)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        if self.prior:
            phases = self.scale * self.scale
            if frames.shape[1] <= phases:
                raise ValueError(
                    f"a prior-refining HighResNet needs the frames and the {phases} channels "
                    f"of the prior, not {frames.shape[1]} channels"
                )
            frames, packed = frames[:, :-phases], frames[:, -phases:]
        b, k, h, w = frames.shape
        # the lower median, as torch.median gives, by sorting: ONNX has no median
        reference = frames.sort(dim=1).values[:, (k - 1) // 2 : (k - 1) // 2 + 1]
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
        if not self.prior:
            return bicubic_upsample(reference, self.scale) + self.decoder(hidden[:, 0])
        features = self.merge(torch.cat([hidden[:, 0], self.prior_encoder(packed)], dim=1))
        return nn.functional.pixel_shuffle(packed, self.scale) + self.decoder(features)


def pack_prior(frames: torch.Tensor, prior: torch.Tensor, scale: int) -> torch.Tensor:
    """The input of a prior-refining :class:`HighResNet`: ``(B, K, H, W)`` frames and the
    ``(B, 1, H·s, W·s)`` prior, pixel-unshuffled, along the channels."""
    return torch.cat([frames, nn.functional.pixel_unshuffle(prior, scale)], dim=1)
