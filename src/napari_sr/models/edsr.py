"""EDSR and EDSR-baseline (Lim et al. 2017): a deep stack of batch-norm-free residual
blocks at low resolution, a global skip, and a sub-pixel (pixel-shuffle) upsampler.

Mean shift
----------
The reference implementation subtracts the DIV2K RGB mean before the head and adds it
back after the tail, with frozen 1×1 convolutions. Here the mean is a persistent,
non-trainable buffer ``mean`` of shape (1, C, 1, 1), in the units of the input (images in
[0, 1]): the DIV2K mean (0.4488, 0.4371, 0.4040) for 3 channels, 0.5 for every channel
otherwise (a neutral centre for normalised microscopy data). Being a buffer, it is saved
and loaded with the weights but is not a parameter, so parameter counts are those of the
trainable reference parameters.

References
----------
.. [1] B. Lim, S. Son, H. Kim, S. Nah, K. M. Lee, "Enhanced deep residual networks for
   single image super-resolution," CVPR Workshops 2017. doi:10.1109/CVPRW.2017.151
"""

from __future__ import annotations

import torch
from torch import nn

from ._common import ResidualSRNet, conv


class _ResBlock(nn.Module):
    """Conv, ReLU, Conv (no batch normalisation), scaled by ``res_scale``, plus the input."""

    def __init__(self, features: int, res_scale: float) -> None:
        super().__init__()
        self.body = nn.Sequential(
            conv(features, features), nn.ReLU(inplace=True), conv(features, features)
        )
        self.res_scale = res_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = self.body(x)
        if self.res_scale != 1:
            residual = residual * self.res_scale
        return x + residual


class EDSR(ResidualSRNet):
    """EDSR: 32 residual blocks of 256 features with residual scaling 0.1.

    Head 3×3 conv, ``n_resblocks`` residual blocks and a 3×3 conv with a global skip, a
    pixel-shuffle upsampler and a 3×3 conv back to ``in_channels``, between the mean shift
    described in the module docstring. For 3 channels this has 40,729,603 parameters at ×2,
    43,680,003 at ×3 and 43,089,923 at ×4 (the trainable parameters of the reference
    implementation, sanghyun-son/EDSR-PyTorch ``src/model/edsr.py``; its frozen mean-shift
    convolutions add 24 more there, which are a buffer here).

    Parameters
    ----------
    scale : int
        Upscaling factor: 2, 3, 4 (or a higher power of two).
    in_channels : int
        Image channels in and out.
    n_resblocks : int
        Number of residual blocks.
    n_feats : int
        Feature channels.
    res_scale : float
        Factor on each block's residual before the addition (0.1 stabilises training of
        the wide model; 1 disables it).
    value_range : float
        The range of values the weights were trained on: 1 (napari-sr, images in [0, 1]),
        255 for EDSR-PyTorch's released weights; inputs in [0, 1] are scaled to it.

    References
    ----------
    .. [1] B. Lim et al., "Enhanced deep residual networks for single image
       super-resolution," CVPR Workshops 2017. doi:10.1109/CVPRW.2017.151
    """

    def __init__(
        self,
        *,
        scale: int,
        in_channels: int = 1,
        n_resblocks: int = 32,
        n_feats: int = 256,
        res_scale: float = 0.1,
        value_range: float = 1.0,
    ) -> None:
        blocks = [_ResBlock(n_feats, res_scale) for _ in range(n_resblocks)]
        super().__init__(scale=scale, in_channels=in_channels, features=n_feats, blocks=blocks,
                         value_range=value_range)  # fmt: skip


class EDSRBaseline(EDSR):
    """EDSR-baseline: 16 residual blocks of 64 features, no residual scaling.

    For 3 channels this has 1,369,859 parameters at ×2, 1,554,499 at ×3 and 1,517,571 at
    ×4 (trainable parameters of the reference implementation, as for :class:`EDSR`).

    Parameters
    ----------
    scale : int
        Upscaling factor: 2, 3, 4 (or a higher power of two).
    in_channels : int
        Image channels in and out.
    n_resblocks : int
        Number of residual blocks.
    n_feats : int
        Feature channels.
    res_scale : float
        Factor on each block's residual (1: none).
    value_range : float
        The range of values the weights were trained on: 1 (napari-sr, images in [0, 1]),
        255 for EDSR-PyTorch's released weights; inputs in [0, 1] are scaled to it.

    References
    ----------
    .. [1] B. Lim et al., "Enhanced deep residual networks for single image
       super-resolution," CVPR Workshops 2017. doi:10.1109/CVPRW.2017.151
    """

    def __init__(
        self,
        *,
        scale: int,
        in_channels: int = 1,
        n_resblocks: int = 16,
        n_feats: int = 64,
        res_scale: float = 1.0,
        value_range: float = 1.0,
    ) -> None:
        super().__init__(
            scale=scale,
            in_channels=in_channels,
            n_resblocks=n_resblocks,
            n_feats=n_feats,
            res_scale=res_scale,
            value_range=value_range,
        )


class EDSRLight(EDSRBaseline):
    """EDSR-light: EDSR-baseline at half width, 16 residual blocks of 32 features.

    The network of napari-sr's bundled quality defaults (``edsr_light_x<s>.sr291``): the
    depth, and so the receptive field, of EDSR-baseline, with a quarter of its
    convolution cost, which is what made training it on a CPU feasible. For 1 channel it
    has 342,785 parameters at ×2, 389,025 at ×3 and 379,777 at ×4. Parameters and
    reference as :class:`EDSRBaseline`; only the default of ``n_feats`` differs.
    """

    def __init__(
        self,
        *,
        scale: int,
        in_channels: int = 1,
        n_resblocks: int = 16,
        n_feats: int = 32,
        res_scale: float = 1.0,
        value_range: float = 1.0,
    ) -> None:
        super().__init__(scale=scale, in_channels=in_channels, n_resblocks=n_resblocks,
                         n_feats=n_feats, res_scale=res_scale,
                         value_range=value_range)  # fmt: skip
