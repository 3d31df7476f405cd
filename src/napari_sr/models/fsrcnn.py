"""FSRCNN (Dong, Loy & Tang 2016): feature extraction, shrinking, mapping, expanding and a
deconvolution that upsamples at the end.

References
----------
.. [1] C. Dong, C. C. Loy, X. Tang, "Accelerating the super-resolution convolutional neural
   network," ECCV 2016. doi:10.1007/978-3-319-46475-6_25
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .network import SRModel


class FSRCNN(SRModel):
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
        # receptive-field radius in input pixels: 2 (5×5 extraction) + 1 per 3×3 mapping
        # layer + at most 2 (the 9×9 deconvolution seen at the input's resolution, ×2)
        self.halo = 2 + m + 2
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
        # the deconvolution computed as the equivalent convolution at low resolution with
        # scale² outputs, pixel-shuffled: the same numbers, 2-3x faster on a CPU than
        # ConvTranspose2d (benchmarks/inference.py)
        weight, bias, pad = subpixel_deconvolution(self.deconv)
        return F.pixel_shuffle(F.conv2d(self.body(x), weight, bias, padding=pad), self.scale)

    def for_export(self) -> nn.Module:
        """The same function with the sub-pixel kernel computed once (a fixed convolution):
        what :mod:`napari_sr.models.export` writes to ONNX and TorchScript."""
        weight, bias, pad = subpixel_deconvolution(self.deconv)
        last = nn.Conv2d(weight.shape[1], weight.shape[0], weight.shape[-1], padding=pad)
        with torch.no_grad():
            last.weight.copy_(weight)
            last.bias.copy_(bias)
        return nn.Sequential(self.body, last, nn.PixelShuffle(self.scale))


def subpixel_deconvolution(deconv: nn.ConvTranspose2d) -> tuple[torch.Tensor, torch.Tensor, int]:
    """The convolution that, followed by ``pixel_shuffle(·, stride)``, equals ``deconv``.

    Output pixel ``s·i + a`` of a transposed convolution with stride ``s``, padding ``p``
    and kernel ``w`` of size K is ``Σ_d x[i - d] · w[s·d + a + p]``: for each phase ``a`` an
    ordinary convolution at the input's resolution with the taps ``w[s·d + a + p]`` (zero
    where that index falls outside the kernel). The phases become the s² output channels
    of one convolution, in :func:`torch.nn.functional.pixel_shuffle`'s order; its kernel
    is made symmetric (zero taps added) so that plain ``padding`` suffices.

    Parameters
    ----------
    deconv : torch.nn.ConvTranspose2d
        Square kernel and stride, equal padding on both axes, ``output_padding`` such that
        the output is exactly ``stride`` times the input, no groups or dilation.

    Returns
    -------
    weight : torch.Tensor
        (out_channels · s², in_channels, T, T) convolution weight (differentiable in the
        deconvolution's weight).
    bias : torch.Tensor
        (out_channels · s²,) bias.
    padding : int
        Zero padding of the convolution, (T - 1) / 2.
    """
    s, p, size = deconv.stride[0], deconv.padding[0], deconv.kernel_size[0]
    square = len(set(deconv.stride)) == len(set(deconv.padding)) == len(set(deconv.kernel_size))
    if not square or deconv.groups != 1 or set(deconv.dilation) != {1}:
        raise ValueError("the sub-pixel form needs a square, ungrouped, undilated deconvolution")
    if any(op != s + 2 * p - size for op in deconv.output_padding):
        raise ValueError(
            f"the sub-pixel form needs output_padding = stride + 2 padding - kernel "
            f"({s + 2 * p - size}), so that the output is exactly stride times the input"
        )
    w = deconv.weight  # (in, out, K, K)
    reach = max(abs(math.floor((size - 1 - p) / s)), abs(math.ceil((-(s - 1) - p) / s)))
    d = torch.arange(reach, -reach - 1, -1, device=w.device)  # tap t reads x[i + t - reach]
    phase = torch.arange(s, device=w.device)
    index = s * d[None, :] + phase[:, None] + p  # (s, taps) kernel index, possibly outside
    index = torch.where((index >= 0) & (index < size), index, size)  # → the zero padding
    padded = F.pad(w.transpose(0, 1), (0, 1, 0, 1))  # (out, in, K + 1, K + 1)
    taps = padded[:, :, index[:, :, None, None], index[None, None, :, :]]  # (o, i, s, T, s, T)
    out, cin = taps.shape[:2]
    weight = taps.permute(0, 2, 4, 1, 3, 5).reshape(out * s * s, cin, 2 * reach + 1, -1)
    bias = deconv.bias.repeat_interleave(s * s) if deconv.bias is not None else None
    return weight, bias, reach
