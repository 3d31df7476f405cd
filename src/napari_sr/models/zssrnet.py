"""ZSSR (Shocher, Cohen & Irani 2018): the small fully convolutional network of zero-shot
super-resolution.

ZSSR trains an image-specific network at test time on the image's own downscaled copies:
the network restores an interpolated image to its own size (it learns the residual from
the base interpolation), so it is registered with the ``"restoration"`` framework and
scale 1; interpolation to the target grid happens before it.

The layout is that of the reference code (``assafshocher/ZSSR`` ``configs.py``:
``filter_shape = [[3, 3, 3, width]] + [[3, 3, width, width]] * (depth - 2) +
[[3, 3, width, 3]]`` with ``width = 64``, ``depth = 8``, ``learn_residual = True``):
``depth`` 3×3 'same' convolutions with biases and ReLU between them (none after the
last), and a global residual: ``output = input + net(input)``.

References
----------
.. [1] A. Shocher, N. Cohen, M. Irani, "'Zero-Shot' Super-Resolution using Deep Internal
   Learning," CVPR 2018, 3118-3126. doi:10.1109/CVPR.2018.00329 (arXiv:1712.06087)
"""

from __future__ import annotations

import torch
from torch import nn

from ._common import conv
from .network import SRModel


class ZSSRNet(SRModel):
    """The ZSSR network: ``depth`` 3×3 convolutions, ``features`` filters in the hidden
    ones, ReLU between them, and a global residual (same size in and out).

    Parameters
    ----------
    scale : int
        Must be 1: the network restores an image already interpolated to the target grid.
    in_channels : int
        Image channels in and out (the reference code uses 3).
    depth : int
        Convolution layers, at least 2 (8 in the paper).
    features : int
        Filters of the hidden layers (64 in the paper).

    Attributes
    ----------
    halo : int
        Receptive-field radius in input pixels: ``depth`` (one per 3×3 layer).

    Notes
    -----
    At the defaults the network has 225,091 parameters for 3 channels and 222,785 for one.
    """

    def __init__(
        self, *, scale: int, in_channels: int = 1, depth: int = 8, features: int = 64
    ) -> None:
        super().__init__()
        if scale != 1:
            raise ValueError(
                f"ZSSRNet restores images at their own size and supports scale 1, not "
                f"{scale}; interpolate to the target grid first"
            )
        if depth < 2:
            raise ValueError(f"depth must be at least 2, not {depth}")
        self.scale, self.in_channels = scale, in_channels
        self.halo = depth
        layers: list[nn.Module] = [conv(in_channels, features), nn.ReLU(inplace=True)]
        for _ in range(depth - 2):
            layers += [conv(features, features), nn.ReLU(inplace=True)]
        layers.append(conv(features, in_channels))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)
