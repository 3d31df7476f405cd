"""The four networks of a widely used SR teaching deck, on pre-upsampled input.

Their parameter counts are quoted the Keras way (batch-norm moving mean and variance
included): SRCNN-BN 20,483; SRResNet-mini 449,731; SRResNet-lite 39,875; SR-autoencoder
1,848,067, for 3 channels. The layer shapes below are the ones these totals determine.
Kernels are 3×3 unless stated.

The deck's networks are textbook variations of published ones: SRCNN [1]_ with batch
normalisation [2]_, residual networks [3]_ in the layout of SRResNet [4]_, and an
encoder-decoder with symmetric skip connections [5]_.

References
----------
.. [1] C. Dong, C. C. Loy, K. He, X. Tang, "Image super-resolution using deep convolutional
   networks," IEEE TPAMI 38(2), 295-307 (2016). doi:10.1109/TPAMI.2015.2439281
.. [2] S. Ioffe, C. Szegedy, "Batch normalization: Accelerating deep network training by
   reducing internal covariate shift," ICML 2015. arXiv:1502.03167
.. [3] K. He, X. Zhang, S. Ren, J. Sun, "Deep residual learning for image recognition,"
   CVPR 2016, 770-778. doi:10.1109/CVPR.2016.90
.. [4] C. Ledig et al., "Photo-realistic single image super-resolution using a generative
   adversarial network," CVPR 2017. doi:10.1109/CVPR.2017.19
.. [5] X.-J. Mao, C. Shen, Y.-B. Yang, "Image restoration using very deep convolutional
   encoder-decoder networks with symmetric skip connections," NeurIPS 2016.
   arXiv:1603.09056
"""

from __future__ import annotations

import torch
from torch import nn

from ._common import bicubic_upsample, conv
from .network import SRModel


class SRCNNBN(SRModel):
    """SRCNN with batch normalisation: Conv 9×9 → 64, BN, ReLU, Conv 1×1 → 32, BN, ReLU,
    Conv 5×5 → channels."""

    def __init__(self, *, scale: int, in_channels: int = 1) -> None:
        super().__init__()
        self.scale, self.in_channels = scale, in_channels
        self.body = nn.Sequential(
            conv(in_channels, 64, 9),
            nn.BatchNorm2d(64),
            nn.ReLU(inplace=True),
            conv(64, 32, 1),
            nn.BatchNorm2d(32),
            nn.ReLU(inplace=True),
            conv(32, in_channels, 5),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(bicubic_upsample(x, self.scale))


class _ResidualBlock(nn.Module):
    """Conv, BN, ReLU, Conv, BN, plus the input."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            conv(channels, channels),
            nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True),
            conv(channels, channels),
            nn.BatchNorm2d(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class SRResNetMini(SRModel):
    """Conv → 64, six residual blocks of 64 channels (two convs with BN each), a global
    skip, Conv → channels."""

    def __init__(
        self, *, scale: int, in_channels: int = 1, blocks: int = 6, features: int = 64
    ) -> None:
        super().__init__()
        self.scale, self.in_channels = scale, in_channels
        self.head = nn.Sequential(conv(in_channels, features), nn.ReLU(inplace=True))
        self.blocks = nn.Sequential(*(_ResidualBlock(features) for _ in range(blocks)))
        self.tail = conv(features, in_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.head(bicubic_upsample(x, self.scale))
        return self.tail(features + self.blocks(features))


class SRResNetLite(SRModel):
    """Conv → 32, one residual block of two 32-channel convs with BN, a global skip,
    Conv → 64, Conv → channels."""

    def __init__(self, *, scale: int, in_channels: int = 1) -> None:
        super().__init__()
        self.scale, self.in_channels = scale, in_channels
        self.head = nn.Sequential(conv(in_channels, 32), nn.ReLU(inplace=True))
        self.block = _ResidualBlock(32)
        self.tail = nn.Sequential(conv(32, 64), nn.ReLU(inplace=True), conv(64, in_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.head(bicubic_upsample(x, self.scale))
        return self.tail(features + self.block(features))


class SRAutoencoder(SRModel):
    """Encoder 64-64-pool-128-128-pool-256; decoder: transposed conv (stride 2) → 256,
    128, 128, plus the encoder's 128-channel features, transposed conv → 128, 64, 64,
    plus the encoder's 64-channel features, Conv → channels. Input sides must be
    multiples of 4 (two poolings)."""

    def __init__(self, *, scale: int, in_channels: int = 1) -> None:
        super().__init__()
        self.scale, self.in_channels = scale, in_channels
        relu = nn.ReLU
        self.enc1 = nn.Sequential(conv(in_channels, 64), relu(), conv(64, 64), relu())
        self.enc2 = nn.Sequential(nn.MaxPool2d(2), conv(64, 128), relu(), conv(128, 128), relu())
        self.bottom = nn.Sequential(nn.MaxPool2d(2), conv(128, 256), relu())
        self.up2 = nn.Sequential(
            nn.ConvTranspose2d(256, 256, 3, stride=2, padding=1, output_padding=1),
            relu(),
            conv(256, 128),
            relu(),
            conv(128, 128),
            relu(),
        )
        self.up1 = nn.Sequential(
            nn.ConvTranspose2d(128, 128, 3, stride=2, padding=1, output_padding=1),
            relu(),
            conv(128, 64),
            relu(),
            conv(64, 64),
            relu(),
        )
        self.out = conv(64, in_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = bicubic_upsample(x, self.scale)
        skip1 = self.enc1(x)
        skip2 = self.enc2(skip1)
        decoded = self.up2(self.bottom(skip2)) + skip2
        return self.out(self.up1(decoded) + skip1)
