"""D-DBPN (Haris, Shakhnarovich & Ukita 2018): alternating up- and down-projection units
that feed back the reconstruction error at each step, with dense connections (every unit
sees the concatenated outputs of all earlier units of the opposite kind).

References
----------
.. [1] M. Haris, G. Shakhnarovich, N. Ukita, "Deep back-projection networks for
   super-resolution," CVPR 2018. doi:10.1109/CVPR.2018.00179
"""

from __future__ import annotations

import torch
from torch import nn

from .network import SRModel

PROJECTION_GEOMETRY = {2: (6, 2, 2), 4: (8, 4, 2), 8: (12, 8, 2)}
"""Kernel, stride and padding of the projection (de)convolutions per scale (the paper's
Section 4.1)."""


class _Projection(nn.Module):
    """An up- (``up=True``) or down-projection unit.

    Up: ``H0 = up(L)``, ``L0 = down(H0)``, ``H1 = up(L0 - L)``, output ``H0 + H1``; down is
    the mirror image. Every (de)convolution is followed by a single-slope PReLU. With
    ``in_features > features`` (a dense unit) a 1×1 convolution first fuses the
    concatenated earlier outputs.
    """

    def __init__(self, in_features: int, features: int, scale: int, *, up: bool) -> None:
        super().__init__()
        kernel, stride, padding = PROJECTION_GEOMETRY[scale]

        def layer(upward: bool) -> nn.Sequential:
            kind = nn.ConvTranspose2d if upward else nn.Conv2d
            return nn.Sequential(kind(features, features, kernel, stride, padding), nn.PReLU())

        self.fuse = (
            nn.Sequential(nn.Conv2d(in_features, features, 1), nn.PReLU())
            if in_features != features
            else nn.Identity()
        )
        self.there = layer(up)
        self.back = layer(not up)
        self.correct = layer(up)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.fuse(x)
        projected = self.there(x)
        return projected + self.correct(self.back(projected) - x)


class DBPN(SRModel):
    """Dense deep back-projection network (D-DBPN) with ``stages`` up-projection and
    ``stages - 1`` down-projection units.

    Parameter count (all ``nn.Parameter``, PReLU slopes included): 10,426,358 for three
    channels at ×4, identical to ``alterzero/DBPN-Pytorch`` ``dbpn.py``
    (``Net(num_channels=3, base_filter=64, feat=256, num_stages=7, scale_factor=4)``;
    the paper's "10.4M").

    Parameters
    ----------
    scale : int
        Upscaling factor: 2, 4 or 8 (each with the paper's projection kernel).
    in_channels : int
        Image channels in and out.
    features : int
        Channels of the projection units (the paper's n_R).
    initial_features : int
        Channels of the initial 3×3 feature extraction (n_0).
    stages : int
        Up-projection units (T).

    References
    ----------
    .. [1] M. Haris, G. Shakhnarovich, N. Ukita, "Deep back-projection networks for
       super-resolution," CVPR 2018. doi:10.1109/CVPR.2018.00179
    """

    def __init__(
        self,
        *,
        scale: int,
        in_channels: int = 1,
        features: int = 64,
        initial_features: int = 256,
        stages: int = 7,
    ) -> None:
        super().__init__()
        if scale not in PROJECTION_GEOMETRY:
            raise ValueError(f"DBPN upsamples by 2, 4 or 8, not {scale}")
        if stages < 1:
            raise ValueError("DBPN needs at least one stage")
        self.scale, self.in_channels = scale, in_channels
        self.head = nn.Sequential(
            nn.Conv2d(in_channels, initial_features, 3, padding=1),
            nn.PReLU(),
            nn.Conv2d(initial_features, features, 1),
            nn.PReLU(),
        )
        # up-projection t (1-based) sees the t - 1 LR outputs so far (the head's for t = 1);
        # down-projection t sees the t HR outputs so far
        self.ups = nn.ModuleList(
            _Projection(max(t - 1, 1) * features, features, scale, up=True)
            for t in range(1, stages + 1)
        )
        self.downs = nn.ModuleList(
            _Projection(t * features, features, scale, up=False) for t in range(1, stages)
        )
        self.reconstruct = nn.Conv2d(stages * features, in_channels, 3, padding=1)
        for m in self.modules():
            if isinstance(m, nn.Conv2d | nn.ConvTranspose2d):
                nn.init.kaiming_normal_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        low = self.head(x)
        highs = self.ups[0](low)
        lows: torch.Tensor | None = None
        for up, down in zip(self.ups[1:], self.downs, strict=True):
            # newest first, as in the reference implementation (keeps weights portable)
            new_low = down(highs)
            lows = new_low if lows is None else torch.cat([new_low, lows], dim=1)
            highs = torch.cat([up(lows), highs], dim=1)
        return self.reconstruct(highs)
