"""SRVGGNetCompact (Wang et al. 2021, Real-ESRGAN's compact model): plain 3×3 convolutions
with PReLUs at low resolution, one pixel shuffle at the end, and the nearest-neighbour
enlargement of the input added, so that the network learns the residual.

References
----------
.. [1] X. Wang, L. Xie, C. Dong, Y. Shan, "Real-ESRGAN: Training real-world blind
   super-resolution with pure synthetic data," ICCV Workshops 2021.
   doi:10.1109/ICCVW54120.2021.00217 (the compact model: the authors' repository,
   ``realesrgan/archs/srvgg_arch.py``)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .network import SRModel

ACTIVATIONS = ("prelu", "relu", "leakyrelu")


class SRVGGNetCompact(SRModel):
    """SRVGGNetCompact: a 3×3 convolution to ``features`` channels, ``convs`` more 3×3
    convolutions, each followed by an activation, and a 3×3 convolution to
    ``in_channels × scale²`` channels, pixel-shuffled, plus the nearest-neighbour enlarged
    input. The released ``realesr-general-x4v3`` is (64 features, 32 convolutions, ×4,
    PReLU): 1,213,296 parameters; ``realesr-animevideov3`` has 16 convolutions.

    The layers are ``body.0`` (first convolution), ``body.1`` (its activation),
    ``body.2k`` / ``body.2k+1`` (the k-th convolution and activation) and
    ``body.2·convs+2`` (the last convolution): the authors' layout, so their files load
    as they are.

    Parameters
    ----------
    scale : int
        Upscaling factor (any integer ≥ 1; the released models are ×4).
    in_channels : int
        Image channels in and out.
    features : int
        Feature channels.
    convs : int
        3×3 convolutions between the first and the last.
    activation : {'prelu', 'relu', 'leakyrelu'}
        PReLU (one slope per channel), ReLU, or leaky ReLU with slope 0.1.
    """

    def __init__(
        self,
        *,
        scale: int,
        in_channels: int = 1,
        features: int = 64,
        convs: int = 16,
        activation: str = "prelu",
    ) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}, not {activation!r}")
        self.scale, self.in_channels = scale, in_channels
        self.halo = convs + 2  # one pixel per 3×3 convolution

        def act() -> nn.Module:
            if activation == "prelu":
                return nn.PReLU(features)
            if activation == "relu":
                return nn.ReLU(inplace=True)
            return nn.LeakyReLU(0.1, inplace=True)

        layers: list[nn.Module] = [nn.Conv2d(in_channels, features, 3, padding=1), act()]
        for _ in range(convs):
            layers += [nn.Conv2d(features, features, 3, padding=1), act()]
        layers.append(nn.Conv2d(features, in_channels * scale * scale, 3, padding=1))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.pixel_shuffle(self.body(x), self.scale)
        return out + F.interpolate(x, scale_factor=self.scale, mode="nearest")
