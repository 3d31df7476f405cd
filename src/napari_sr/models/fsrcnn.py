"""FSRCNN (Dong, Loy & Tang 2016): feature extraction, shrinking, mapping, expanding and a
deconvolution that upsamples at the end.

References
----------
C. Dong, C. C. Loy, X. Tang, "Accelerating the super-resolution convolutional neural
network", ECCV 2016. :DOI:`10.1007/978-3-319-46475-6_25`
"""

from __future__ import annotations

import torch
from torch import nn


class FSRCNN(nn.Module):
    """FSRCNN(d, s, m); the paper's default FSRCNN(56, 12, 4) has 12,464 weights (biases
    and PReLU slopes not counted, as in the paper's Table 1).

    Parameters
    ----------
    scale : int
    in_channels : int
    d : int
        Feature dimension (LR feature extraction and expanding).
    s : int
        Shrinking dimension.
    m : int
        Number of 3×3 mapping layers.
    """

    def __init__(
        self, *, scale: int, in_channels: int = 1, d: int = 56, s: int = 12, m: int = 4
    ) -> None:
        super().__init__()
        self.scale, self.in_channels = scale, in_channels
        layers: list[nn.Module] = [nn.Conv2d(in_channels, d, 5, padding=2), nn.PReLU(d)]
        layers += [nn.Conv2d(d, s, 1), nn.PReLU(s)]
        for _ in range(m):
            layers += [nn.Conv2d(s, s, 3, padding=1), nn.PReLU(s)]
        layers += [nn.Conv2d(s, d, 1), nn.PReLU(d)]
        self.body = nn.Sequential(*layers)
        # 9×9 deconvolution with stride `scale`: padding and output_padding make the
        # output exactly scale × input, centred like the other upsamplers
        self.deconv = nn.ConvTranspose2d(
            d, in_channels, 9, stride=scale, padding=4, output_padding=scale - 1
        )
        nn.init.normal_(self.deconv.weight, std=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.deconv(self.body(x))
