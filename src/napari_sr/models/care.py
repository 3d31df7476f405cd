"""CARE (Weigert et al. 2018): the residual U-Net of content-aware image restoration, as
CSBDeep builds it.

A same-size restoration network: it does not upsample. For super-resolution it restores an
image that was interpolated to the target grid first (CARE's isotropic reconstruction of
anisotropic stacks works this way), so it is registered with the ``"restoration"``
framework and scale 1.

The layout follows CSBDeep exactly (``csbdeep/internals/blocks.py`` ``unet_block``,
``csbdeep/internals/nets.py`` ``custom_unet``, defaults of ``csbdeep/models/config.py``
for 2D): at each of ``depth`` levels, ``n_conv_per_depth`` 'same' convolutions of
``n_first * 2**n`` filters with ReLU, then 2×2 max pooling; in the middle
``n_conv_per_depth - 1`` convolutions of ``n_first * 2**depth`` filters and one of
``n_first * 2**max(0, depth - 1)``; going up, nearest-neighbour ×2 upsampling,
concatenation ``[upsampled, skip]``, ``n_conv_per_depth - 1`` convolutions of
``n_first * 2**n`` filters and one of ``n_first * 2**max(0, n - 1)``. Every U-Net
convolution has a bias and a ReLU (``custom_unet`` calls ``unet_block`` without
``last_activation``, which then means ``activation``), no batch normalisation, no
dropout. A linear 1×1 convolution maps to the image channels, the input is added
(``residual=True``, CSBDeep's default when input and output channels agree) and the final
activation is linear.

References
----------
.. [1] M. Weigert, U. Schmidt, T. Boothe, A. Müller, A. Dibrov, A. Jain, B. Wilhelm,
   D. Schmidt, C. Broaddus, S. Culley, M. Rocha-Martins, F. Segovia-Miranda, C. Norden,
   R. Henriques, M. Zerial, M. Solimena, J. Rink, P. Tomancak, L. Royer, F. Jug,
   E. W. Myers, "Content-aware image restoration: pushing the limits of fluorescence
   microscopy," Nature Methods 15, 1090-1097 (2018). doi:10.1038/s41592-018-0216-7
"""

from __future__ import annotations

import itertools

import torch
from torch import nn

from ._common import conv
from .network import SRModel

N_CONV_PER_DEPTH = 2
"""Convolutions per U-Net level (CSBDeep's ``n_conv_per_depth``, fixed at 2 by CARE)."""


def unet_halo(depth: int, kernel_size: int, n_conv_per_depth: int = N_CONV_PER_DEPTH) -> int:
    """Receptive-field radius, in input pixels, of CSBDeep's U-Net.

    An output pixel depends on input pixels at most this far away (along Y or X), for
    every position of the pixel relative to the pooling grid: the convolutions of level
    ``n`` (``n_conv_per_depth`` going down and as many going up) each reach
    ``kernel_size // 2`` pixels of that level, i.e. ``2**n`` times as many input pixels;
    the middle's reach ``2**depth`` times as many; each 2×2 pooling from level ``n`` adds
    up to ``2**n`` input pixels of misalignment (nearest upsampling adds none beyond it).

    Returns
    -------
    int
        ``n_conv_per_depth * (kernel_size // 2) * (3 * 2**depth - 2) + 2**depth - 1``:
        43 for CARE's 2D defaults (depth 2, 5×5 kernels).
    """
    reach = n_conv_per_depth * (kernel_size // 2)
    levels = 2 * sum(2**n for n in range(depth)) + 2**depth  # down + up, and the middle
    return reach * levels + 2**depth - 1


class CAREUNet(SRModel):
    """The CARE network: CSBDeep's residual U-Net for 2D restoration (same size in and
    out).

    Parameters
    ----------
    scale : int
        Must be 1: the network restores an image already interpolated to the target grid.
    in_channels : int
        Image channels in and out.
    depth : int
        Resolution levels (CSBDeep ``unet_n_depth``); input height and width must be
        multiples of ``2**depth``.
    kernel_size : int
        Odd convolution kernel edge (CSBDeep ``unet_kern_size``; 5 in 2D).
    n_first : int
        Filters of the first level, doubled at each level below (CSBDeep
        ``unet_n_first``).

    Attributes
    ----------
    size_multiple : int
        ``2**depth``.
    halo : int
        Receptive-field radius in input pixels (:func:`unet_halo`).

    Notes
    -----
    At the defaults and one channel the network has 922,977 parameters (CSBDeep's Keras
    model ``resunet2_2_5_32``).
    """

    def __init__(
        self,
        *,
        scale: int,
        in_channels: int = 1,
        depth: int = 2,
        kernel_size: int = 5,
        n_first: int = 32,
    ) -> None:
        super().__init__()
        if scale != 1:
            raise ValueError(
                f"CAREUNet restores images at their own size and supports scale 1, not "
                f"{scale}; interpolate to the target grid first"
            )
        if depth < 1:
            raise ValueError(f"depth must be at least 1, not {depth}")
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd, not {kernel_size}")
        self.scale, self.in_channels = scale, in_channels
        self.depth = depth
        self.size_multiple = 2**depth
        self.halo = unet_halo(depth, kernel_size)
        k, per = kernel_size, N_CONV_PER_DEPTH

        def block(channels: list[int]) -> nn.Sequential:
            layers: list[nn.Module] = []
            for c_in, c_out in itertools.pairwise(channels):
                layers += [conv(c_in, c_out, k), nn.ReLU(inplace=True)]
            return nn.Sequential(*layers)

        self.down = nn.ModuleList()
        channels = in_channels
        for n in range(depth):
            width = n_first * 2**n
            self.down.append(block([channels] + [width] * per))
            channels = width
        self.pool = nn.MaxPool2d(2)
        self.middle = block(
            [channels] + [n_first * 2**depth] * (per - 1) + [n_first * 2 ** max(0, depth - 1)]
        )
        channels = n_first * 2 ** max(0, depth - 1)
        self.up = nn.ModuleList()
        for n in reversed(range(depth)):
            skip = n_first * 2**n
            widths = [n_first * 2**n] * (per - 1) + [n_first * 2 ** max(0, n - 1)]
            self.up.append(block([channels + skip, *widths]))
            channels = widths[-1]
        self.upsample = nn.Upsample(scale_factor=2, mode="nearest")
        self.out = nn.Conv2d(channels, in_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        layer = x
        for block in self.down:
            layer = block(layer)
            skips.append(layer)
            layer = self.pool(layer)
        layer = self.middle(layer)
        for block, skip in zip(self.up, reversed(skips), strict=True):
            layer = block(torch.cat([self.upsample(layer), skip], dim=1))
        return x + self.out(layer)
