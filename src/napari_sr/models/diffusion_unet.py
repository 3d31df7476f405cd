"""The denoiser of diffusion SR: an SR3-style U-Net with a noise-level embedding that
predicts the high-resolution image from a noisy state and the interpolated low-resolution
image (ResShift's parameterisation, :mod:`napari_sr.models.resshift`).

The layout is the DDPM/SR3 U-Net (Ho et al. 2020; Saharia et al. 2022): the state ``x_t``
and the condition ``y0`` concatenated on the channel axis, a 3×3 head, at each resolution
``blocks`` residual blocks (GroupNorm, SiLU, 3×3 convolution, twice, with the level's
embedding as a per-channel scale and shift between them, as improved DDPM and SR3's
"affine" variant do), self-attention where ``attention`` says, a stride-2 3×3 convolution
down; a middle of block, attention, block; going up, ``blocks + 1`` blocks per resolution,
each on the concatenation with the matching skip, then nearest-neighbour ×2 and a 3×3
convolution; GroupNorm, SiLU and a 3×3 convolution out. The level ``t`` enters as a
sinusoidal embedding through a two-layer MLP.

The output is added to ``y0``: the network predicts the clean image as a correction of the
interpolation, which a small network trained briefly learns far sooner than the image
itself (the prediction is still of ``x0``, as ResShift's).

References
----------
.. [1] J. Ho, A. Jain, P. Abbeel, "Denoising diffusion probabilistic models," NeurIPS 33
   (2020). arXiv:2006.11239
.. [2] C. Saharia, J. Ho, W. Chan, T. Salimans, D. J. Fleet, M. Norouzi, "Image
   super-resolution via iterative refinement," IEEE TPAMI 45(4), 4713-4726 (2023).
   doi:10.1109/TPAMI.2022.3204461
.. [3] Z. Yue, J. Wang, C. C. Loy, "ResShift: Efficient diffusion model for image
   super-resolution by residual shifting," NeurIPS 36 (2023). arXiv:2307.12348
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from ._common import bicubic_upsample
from .network import SRModel
from .resshift import ResShiftSchedule


def level_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding of levels ``t`` (N,), as DDPM's: ``[sin(t·f_i), cos(t·f_i)]``
    with ``f_i = 10000^(-i / (dim / 2))``; (N, dim)."""
    half = dim // 2
    frequencies = torch.exp(
        -math.log(10000.0) * torch.arange(half, dtype=torch.float32, device=t.device) / half
    )
    angles = t.float()[:, None] * frequencies[None]
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)


def _norm(channels: int, groups: int) -> nn.GroupNorm:
    return nn.GroupNorm(math.gcd(groups, channels), channels)


class ResidualBlock(nn.Module):
    """GroupNorm, SiLU, 3×3 conv; the embedding's scale and shift; GroupNorm, SiLU, 3×3
    conv; a 1×1 conv on the skip when the width changes."""

    def __init__(self, c_in: int, c_out: int, embedding: int, groups: int) -> None:
        super().__init__()
        self.norm1, self.conv1 = _norm(c_in, groups), nn.Conv2d(c_in, c_out, 3, padding=1)
        self.affine = nn.Linear(embedding, 2 * c_out)
        self.norm2, self.conv2 = _norm(c_out, groups), nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.affine(F.silu(emb))[:, :, None, None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        return self.skip(x) + self.conv2(F.silu(h))


class SelfAttention(nn.Module):
    """Single-head self-attention over the pixels, with a residual connection."""

    def __init__(self, channels: int, groups: int) -> None:
        super().__init__()
        self.norm = _norm(channels, groups)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.out = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(n, 3, c, h * w).unbind(1)
        attended = F.scaled_dot_product_attention(
            q.transpose(1, 2)[:, None], k.transpose(1, 2)[:, None], v.transpose(1, 2)[:, None]
        )[:, 0]
        return x + self.out(attended.transpose(1, 2).reshape(n, c, h, w))


class DiffusionUNet(SRModel):
    """SR3-style U-Net denoiser for ResShift diffusion SR (see the module docstring).

    Parameters
    ----------
    scale : int
        The SR factor of the diffusion it serves (the network itself works on the output
        grid: ``y0`` is already interpolated).
    in_channels : int
        Image channels (of ``x_t``, of ``y0`` and of the output).
    features : int
        Width of the first resolution.
    multipliers : sequence of int
        Width of each resolution, in multiples of ``features``; one resolution each.
    blocks : int
        Residual blocks per resolution going down (``blocks + 1`` going up).
    attention : sequence of bool, optional
        Self-attention after the blocks of each resolution; default only at the lowest.
    groups : int
        GroupNorm groups (the greatest common divisor with a layer's width).
    levels, kappa, power : int, float, float
        The ResShift schedule the network serves (:attr:`schedule`): its number of noise
        levels, the noise scale ``κ`` (in normalised intensity units) and the power ``p``
        of its spacing (:class:`~napari_sr.models.resshift.ResShiftSchedule`). Stored
        with the other hyperparameters, so a model file carries its schedule.

    Attributes
    ----------
    size_multiple : int
        ``2**(len(multipliers) - 1)``: height and width must be multiples of it.
    schedule : ResShiftSchedule
        The diffusion the network was built (and is trained) for.
    prior : torch.nn.Module or None
        The regression network that makes the condition, when ``prior`` is given.
    """

    def __init__(
        self,
        *,
        scale: int,
        in_channels: int = 1,
        features: int = 32,
        multipliers: Sequence[int] = (1, 2, 4),
        blocks: int = 2,
        attention: Sequence[bool] | None = None,
        groups: int = 8,
        levels: int = 15,
        kappa: float = 2.0,
        power: float = 0.3,
        prior: str | None = None,
    ) -> None:
        super().__init__()
        self.schedule = ResShiftSchedule(levels=levels, kappa=kappa, power=power)
        self.prior, self.prior_name = None, prior
        if prior is not None:
            self.prior = _prior_network(prior, int(scale), int(in_channels))
        multipliers = tuple(int(m) for m in multipliers)
        if not multipliers or min(multipliers) < 1:
            raise ValueError(f"multipliers must be one or more positive widths, not {multipliers}")
        attention = tuple(attention) if attention is not None else (
            (False,) * (len(multipliers) - 1) + (True,))  # fmt: skip
        if len(attention) != len(multipliers):
            raise ValueError(
                f"attention needs one entry per resolution ({len(multipliers)}), not "
                f"{len(attention)}"
            )
        if blocks < 1 or features < 1:
            raise ValueError(f"blocks and features must be at least 1, not {blocks}, {features}")
        self.scale, self.in_channels, self.levels = int(scale), int(in_channels), int(levels)
        self.size_multiple = 2 ** (len(multipliers) - 1)
        self.features = features
        embedding = 4 * features
        self.embed = nn.Sequential(
            nn.Linear(features, embedding), nn.SiLU(), nn.Linear(embedding, embedding)
        )
        self.head = nn.Conv2d(2 * in_channels, features, 3, padding=1)
        self.down = nn.ModuleList()
        widths, skips = features, [features]
        for level, (m, attend) in enumerate(zip(multipliers, attention, strict=True)):
            stage = nn.ModuleList()
            for _ in range(blocks):
                stage.append(ResidualBlock(widths, features * m, embedding, groups))
                widths = features * m
                if attend:
                    stage.append(SelfAttention(widths, groups))
                skips.append(widths)
            if level < len(multipliers) - 1:
                stage.append(nn.Conv2d(widths, widths, 3, stride=2, padding=1))
                skips.append(widths)
            self.down.append(stage)
        self.middle = nn.ModuleList([
            ResidualBlock(widths, widths, embedding, groups), SelfAttention(widths, groups),
            ResidualBlock(widths, widths, embedding, groups),
        ])  # fmt: skip
        self.up = nn.ModuleList()
        for level in reversed(range(len(multipliers))):
            stage = nn.ModuleList()
            for _ in range(blocks + 1):
                out = features * multipliers[level]
                stage.append(ResidualBlock(widths + skips.pop(), out, embedding, groups))
                widths = out
                if attention[level]:
                    stage.append(SelfAttention(widths, groups))
            if level > 0:
                stage.append(nn.Conv2d(widths, widths, 3, padding=1))  # after ×2 nearest
            self.up.append(stage)
        self.tail = nn.Sequential(
            _norm(widths, groups), nn.SiLU(), nn.Conv2d(widths, in_channels, 3, padding=1)
        )
        # a new network predicts the condition itself: sampling starts from what the
        # interpolation (or the prior) gives, and training adds what it learns
        nn.init.zeros_(self.tail[-1].weight)
        nn.init.zeros_(self.tail[-1].bias)

    def condition(self, low: torch.Tensor) -> torch.Tensor:
        """``y0``: the low-resolution batch (N, C, h, w), normalised, on the output grid
        (N, C, h·s, w·s): the prior network's estimate, or MATLAB-bicubic interpolation."""
        if self.prior is not None:
            return self.prior(low)
        return bicubic_upsample(low, self.scale)

    def forward(self, x_t: torch.Tensor, y0: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """The clean image predicted from the state ``x_t`` (N, C, H, W, already scaled by
        the schedule's input scale), the condition ``y0`` (N, C, H, W) and the levels ``t``
        (N,) or a scalar."""
        t = torch.as_tensor(t, device=x_t.device).reshape(-1).expand(x_t.shape[0])
        emb = self.embed(level_embedding(t, self.features).to(x_t.dtype))
        h = self.head(torch.cat([x_t, y0], dim=1))
        skips = [h]
        for stage in self.down:
            for layer in stage:
                h = layer(h, emb) if isinstance(layer, ResidualBlock) else layer(h)
                if not isinstance(layer, SelfAttention):
                    skips.append(h)
                else:
                    skips[-1] = h
        for layer in self.middle:
            h = layer(h, emb) if isinstance(layer, ResidualBlock) else layer(h)
        for stage in self.up:
            for layer in stage:
                if isinstance(layer, ResidualBlock):
                    h = layer(torch.cat([h, skips.pop()], dim=1), emb)
                elif isinstance(layer, SelfAttention):
                    h = layer(h)
                else:
                    h = layer(F.interpolate(h, scale_factor=2, mode="nearest"))
        return y0 + self.tail(h)


def _prior_network(name: str, scale: int, in_channels: int) -> nn.Module:
    """A single-image network of architecture ``name`` at ``scale`` (its paper's
    defaults), as the prior of a diffusion."""
    from .registry import REGISTRY

    spec = REGISTRY.spec(name) if name in REGISTRY else None
    if spec is None or not spec.single_image:
        raise ValueError(
            f"prior must be a registered single-image architecture such as 'edsr_light', "
            f"not {name!r}"
        )
    if scale not in spec.scales:
        raise ValueError(f"prior {name!r} has no ×{scale} form (it has {spec.scales})")
    return REGISTRY.builder(name)(scale=scale, in_channels=in_channels)
