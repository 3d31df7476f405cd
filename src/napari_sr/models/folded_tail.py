"""A linear upsampling tail folded into one low-resolution convolution, for inference.

EDSR-style networks end in convolutions and pixel shuffles with no activation between them
(EDSR, RCAN: 3×3 conv to s²·F channels, shuffle, 3×3 conv back to the image channels).
Being linear and shift-equivariant per output phase, such a chain equals a single
convolution at the input's resolution with (image channels · s²) outputs followed by one
pixel shuffle: its kernel reaches ``R`` low-resolution pixels (2 at ×2 and ×3, 2 at ×4
with two ×2 stages). The chain computes s²·F feature channels at low resolution and F at
s× resolution; the folded convolution only the output's. For EDSR-light (F = 32) that is
about 12× fewer multiply-adds in the tail, and no s²-times-larger intermediate arrays:
on a CPU the whole network runs 1.2× (×2) to 2.3× (×4) faster on 1024² planes
(``benchmarks/defaults_speed.py``), with far less memory.

The fold is exact except where the chain's zero padding acts: at each stage the chain
pads *its* intermediate image with zeros, the folded convolution pads the features. So
the outermost ``R`` low-resolution rows and columns are computed by the original chain on
strips of ``2R`` rows (columns) at the image's edges, where the strip's inner edge is too
far to matter; inputs narrower than ``2R`` run the original chain. The result equals the
chain's to rounding (float32: ~1e-6; tests compare them in float64).

The folded kernel is computed in float64 by pulling the output back through the chain:
through a convolution, the kernels compose (a transposed convolution of the kernel by the
layer's weights); through a pixel shuffle, the taps are re-indexed by phase.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class FoldedTail(nn.Module):
    """``tail`` (convolutions and pixel shuffles only) as one convolution and one shuffle.

    Parameters
    ----------
    tail : torch.nn.Module
        A chain (``nn.Sequential``, possibly nested) of ``nn.Conv2d`` (odd square kernels,
        'same' zero padding, stride 1, no groups or dilation) and ``nn.PixelShuffle``.

    Attributes
    ----------
    chain : torch.nn.Module
        ``tail`` itself (not copied): the edges and small inputs run through it.
    folded : torch.nn.Conv2d
        The low-resolution convolution with out_channels · scale² outputs.
    scale : int
        The chain's upscaling factor.
    reach : int
        Radius of the folded kernel in input pixels (``R``).
    """

    def __init__(self, tail: nn.Module) -> None:
        super().__init__()
        layers = linear_chain(tail)
        weight, bias, scale, reach = _fold(layers)
        self.chain = tail
        self.scale, self.reach = scale, reach
        first = next(p for layer in layers for p in layer.parameters())
        self.folded = nn.Conv2d(weight.shape[1], weight.shape[0], 2 * reach + 1, padding=reach,
                                device=first.device, dtype=first.dtype)  # fmt: skip
        with torch.no_grad():  # rounded once, from float64
            self.folded.weight.copy_(weight)
            self.folded.bias.copy_(bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        r, s = self.reach, self.scale
        if x.shape[-2] <= 2 * r or x.shape[-1] <= 2 * r:
            return self.chain(x)
        y = F.pixel_shuffle(self.folded(x), s)
        # the outer R rows, then the outer R columns (full height, so corners too), from
        # the chain on strips whose inner edge lies R pixels beyond the rows kept
        top = self.chain(x[..., : 2 * r, :])[..., : s * r, :]
        bottom = self.chain(x[..., -2 * r :, :])[..., -s * r :, :]
        y = torch.cat([top, y[..., s * r : -s * r, :], bottom], dim=-2)
        left = self.chain(x[..., : 2 * r])[..., : s * r]
        right = self.chain(x[..., -2 * r :])[..., -s * r :]
        return torch.cat([left, y[..., s * r : -s * r], right], dim=-1)


def linear_chain(tail: nn.Module) -> list[nn.Module]:
    """The layers of ``tail`` in order; a ValueError when one is not foldable."""
    layers = [m for m in tail.modules() if not isinstance(m, nn.Sequential)]
    if not layers or not isinstance(tail, nn.Sequential):
        raise ValueError("a foldable tail is an nn.Sequential of convolutions and shuffles")
    for layer in layers:
        if isinstance(layer, nn.PixelShuffle):
            continue
        if not isinstance(layer, nn.Conv2d):
            raise ValueError(f"{type(layer).__name__} is not linear: the tail cannot be folded")
        k = layer.kernel_size
        if (
            k[0] != k[1]
            or k[0] % 2 == 0
            or layer.padding != (k[0] // 2, k[0] // 2)
            or layer.stride != (1, 1)
            or layer.dilation != (1, 1)
            or layer.groups != 1
            or layer.padding_mode != "zeros"
        ):
            raise ValueError(
                f"{layer} is not a 'same'-padded odd square convolution: cannot be folded"
            )
    return layers


def _fold(layers: list[nn.Module]) -> tuple[torch.Tensor, torch.Tensor, int, int]:
    """(weight, bias, scale, reach) of the convolution that, pixel-shuffled by ``scale``,
    equals the chain ``layers`` away from the edges.

    The chain from some intermediate image X (C channels) to the output is kept as
    ``out[o, g·i + a, g·j + b] = bias[o, a, b] + Σ K[o, a, b, c, t, u] X[c, i + t - r,
    j + u - r]`` (g the upscaling still to come, a and b the output phase) and pulled back
    one layer at a time, starting from the identity at the output.
    """
    out_channels = _channels_out(layers)
    eye = torch.eye(out_channels, dtype=torch.float64)
    kernel = eye.reshape(out_channels, 1, 1, out_channels, 1, 1)
    bias = torch.zeros(out_channels, 1, 1, dtype=torch.float64)
    g, r = 1, 0
    for layer in reversed(layers):
        if isinstance(layer, nn.PixelShuffle):
            kernel, r = _through_shuffle(kernel, r, layer.upscale_factor)
            bias = bias.repeat(1, layer.upscale_factor, layer.upscale_factor)
            g *= layer.upscale_factor
        else:
            kernel, bias, r = _through_conv(kernel, bias, r, layer)
    o, _, _, c, size, _ = kernel.shape
    weight = kernel.reshape(o * g * g, c, size, size)
    return weight, bias.reshape(o * g * g), g, r


def _channels_out(layers: list[nn.Module]) -> int:
    channels = None
    for layer in layers:
        if isinstance(layer, nn.Conv2d):
            channels = layer.out_channels
        elif channels is not None:
            f = layer.upscale_factor
            if channels % (f * f):
                raise ValueError(f"{channels} channels do not pixel-shuffle by {f}")
            channels //= f * f
    if channels is None:
        raise ValueError("a foldable tail has at least one convolution")
    return channels


def _through_conv(kernel: torch.Tensor, bias: torch.Tensor, r: int, conv: nn.Conv2d):
    """Pull the chain back through ``conv``: X = conv(Y) gives the kernel on Y."""
    o, g, _, c, size, _ = kernel.shape
    w = conv.weight.detach().to("cpu", torch.float64)  # (c, d, k, k)
    flat = kernel.reshape(o * g * g, c, size, size)
    composed = F.conv_transpose2d(flat, w)  # out[n, d, t + s] += K[n, c, t] · w[c, d, s]
    if conv.bias is not None:
        b = conv.bias.detach().to("cpu", torch.float64)
        bias = bias + torch.einsum("nc,c->n", flat.sum((-2, -1)), b).reshape(o, g, g)
    grown = composed.shape[-1]
    return composed.reshape(o, g, g, w.shape[1], grown, grown), bias, r + conv.kernel_size[0] // 2


def _through_shuffle(kernel: torch.Tensor, r: int, f: int) -> tuple[torch.Tensor, int]:
    """Pull the chain back through ``pixel_shuffle(·, f)``: X[c, f·i + p, f·j + q] =
    Z[c·f² + p·f + q, i, j]; the output phase becomes g·(phase in the shuffle) + phase
    (the bias, the same for every phase in the shuffle, is tiled by the caller)."""
    o, g, _, c, size, _ = kernel.shape
    r_new = math.ceil(r / f)
    new = kernel.new_zeros(o, g * f, g * f, c, f, f, 2 * r_new + 1, 2 * r_new + 1)
    for a2, b2 in ((a2, b2) for a2 in range(f) for b2 in range(f)):
        for t in range(size):
            i, p = divmod(a2 + t - r, f)
            for u in range(size):
                j, q = divmod(b2 + u - r, f)
                rows, cols = slice(g * a2, g * a2 + g), slice(g * b2, g * b2 + g)
                new[:, rows, cols, :, p, q, i + r_new, j + r_new] += kernel[..., t, u]
    side = 2 * r_new + 1
    return new.reshape(o, g * f, g * f, c * f * f, side, side), r_new
