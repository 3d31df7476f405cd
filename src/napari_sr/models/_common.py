"""Building blocks shared by several architectures."""

from __future__ import annotations

import torch
from torch import nn


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
