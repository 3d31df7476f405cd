"""Building blocks shared by several architectures."""

from __future__ import annotations

import copy

import torch
from torch import nn

from .network import SRModel


def bicubic_upsample(x: torch.Tensor, scale: int) -> torch.Tensor:
    """MATLAB-bicubic upsampling of an (N, C, H, W) batch, the input of pre-upsampling
    networks (SRCNN, VDSR, DRRN were trained on MATLAB ``imresize`` inputs)."""
    from ..resample import resize

    work = x if x.dtype in (torch.float32, torch.float64) else x.float()
    out = resize(work, {"Y": scale, "X": scale}, axes="TCYX")
    return out.to(x.dtype)


def conv(in_channels: int, out_channels: int, kernel: int = 3, *, bias: bool = True) -> nn.Conv2d:
    """A 'same'-padded 2D convolution."""
    return nn.Conv2d(in_channels, out_channels, kernel, padding=kernel // 2, bias=bias)


def count_parameters(model: nn.Module, *, buffers: bool = False) -> int:
    """Trainable parameters, plus batch-norm running statistics when ``buffers`` (the
    Keras way of counting, which includes moving mean and variance)."""
    total = sum(p.numel() for p in model.parameters())
    if buffers:
        total += sum(
            b.numel()
            for name, b in model.named_buffers()
            if not name.endswith("num_batches_tracked")
        )
    return total


DIV2K_RGB_MEAN = (0.4488, 0.4371, 0.4040)
"""Per-channel mean of the DIV2K training images, in [0, 1]."""


def channel_means(in_channels: int) -> torch.Tensor:
    """The (1, C, 1, 1) mean that EDSR-style networks subtract from their input: the DIV2K
    RGB mean for 3 channels, 0.5 for each channel otherwise."""
    values = DIV2K_RGB_MEAN if in_channels == 3 else (0.5,) * in_channels
    return torch.tensor(values, dtype=torch.float32).view(1, in_channels, 1, 1)


class PixelShuffleUpsampler(nn.Sequential):
    """Sub-pixel upsampler: for a power of two, one (3×3 conv to 4·F channels, pixel
    shuffle ×2) stage per factor of two; for 3, one 3×3 conv to 9·F channels and a pixel
    shuffle ×3. No activation, as in EDSR and RCAN.

    Parameters
    ----------
    scale : int
        2, 3, 4 or a higher power of two.
    features : int
        Feature channels in and out.
    """

    def __init__(self, scale: int, features: int) -> None:
        if scale == 3:
            factors = [3]
        elif scale >= 2 and scale & (scale - 1) == 0:
            factors = [2] * (scale.bit_length() - 1)
        else:
            raise ValueError(
                f"the pixel-shuffle upsampler supports 3 and powers of 2, not {scale}"
            )
        layers: list[nn.Module] = []
        for factor in factors:
            layers += [conv(features, features * factor * factor), nn.PixelShuffle(factor)]
        super().__init__(*layers)


class ResidualSRNet(SRModel):
    """The EDSR/RCAN layout: mean shift, a 3×3 head, ``blocks`` followed by a 3×3 conv
    with a global skip, a pixel-shuffle upsampler and a 3×3 conv back to the image
    channels; the mean is added back at the end. Subclasses choose the blocks.

    ``value_range`` is the range the weights were trained on: 1 for napari-sr's (images in
    [0, 1]), 255 for EDSR-PyTorch's released EDSR and RCAN weights (``rgb_range=255``);
    the input is scaled to it after the mean shift and the output back, so the network
    sees what it was trained on (RCAN's channel attention is not scale-invariant)."""

    def __init__(
        self,
        *,
        scale: int,
        in_channels: int,
        features: int,
        blocks: list[nn.Module],
        value_range: float = 1.0,
    ) -> None:
        super().__init__()
        if not value_range > 0:
            raise ValueError(f"value_range must be > 0, not {value_range}")
        self.scale, self.in_channels, self.value_range = scale, in_channels, float(value_range)
        self.register_buffer("mean", channel_means(in_channels))
        self.head = conv(in_channels, features)
        self.body = nn.Sequential(*blocks, conv(features, features))
        self.tail = nn.Sequential(
            PixelShuffleUpsampler(scale, features), conv(features, in_channels)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.value_range != 1:  # weights trained on values in [0, value_range]
            features = self.head((x - self.mean) * self.value_range)
            return self.tail(features + self.body(features)) / self.value_range + self.mean
        features = self.head(x - self.mean)
        return self.tail(features + self.body(features)) + self.mean

    def for_inference(self) -> nn.Module:
        """A copy computing the same function faster: the upsampler and last convolution
        (linear) folded into one low-resolution convolution
        (:class:`~napari_sr.models.folded_tail.FoldedTail`), equal to rounding."""
        from .folded_tail import FoldedTail

        network = copy.deepcopy(self)
        network.tail = FoldedTail(network.tail)
        return network
