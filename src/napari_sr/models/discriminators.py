"""Discriminators for adversarial SR training, registered by name like the architectures.

A discriminator tells a high-resolution image (or patch) from a generator's output. Two
are registered, with the layer names of BasicSR and Real-ESRGAN so that their released
discriminator weights (``*_netD.pth``) load into them:

- ``vgg_style``: SRGAN's and ESRGAN's VGG-style network (Ledig et al. 2017, Wang et al.
  2018): five stages of a 3×3 and a strided 4×4 convolution with batch normalisation and
  leaky ReLU, then two linear layers; one realness score per 128² (or 256²) patch.
- ``unet_sn``: Real-ESRGAN's U-Net (Wang et al. 2021): three strided convolutions down,
  three bilinear upsamplings with skip connections back up, spectral normalisation on every
  inner convolution; a realness score per pixel, any size divisible by 8, which tells the
  generator *where* its output looks generated.

References
----------
.. [1] C. Ledig et al., "Photo-realistic single image super-resolution using a generative
   adversarial network," CVPR 2017. doi:10.1109/CVPR.2017.19
.. [2] X. Wang et al., "ESRGAN: Enhanced super-resolution generative adversarial networks,"
   ECCV Workshops 2018. doi:10.1007/978-3-030-11021-5_5
.. [3] X. Wang, L. Xie, C. Dong, Y. Shan, "Real-ESRGAN: Training real-world blind
   super-resolution with pure synthetic data," ICCV Workshops 2021.
   doi:10.1109/ICCVW54120.2021.00217
"""

from __future__ import annotations

import dataclasses
import fnmatch
import inspect
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

LEAK = 0.2
"""Negative slope of the leaky ReLUs of both discriminators (the papers')."""


class VGGStyleDiscriminator(nn.Module):
    """SRGAN/ESRGAN's VGG-style discriminator: one score per ``input_size``² patch.

    For 3 channels and 64 features it has 14,499,401 parameters at 128² (the size ESRGAN
    trains with) and 21,055,049 at 256² (batch-norm affine parameters included, running
    statistics not).

    Parameters
    ----------
    in_channels : int
        Image channels.
    features : int
        Channels of the first stage; each later stage doubles them, up to 8×.
    input_size : int
        Patch edge, 128 or 256 pixels: the linear layer sees the 4 × 4 map the strided
        stages leave.
    """

    def __init__(self, *, in_channels: int = 1, features: int = 64, input_size: int = 128):
        super().__init__()
        if input_size not in (128, 256):
            raise ValueError(f"vgg_style takes 128² or 256² patches, not input_size={input_size}")
        self.input_size = input_size
        widths = [features, features * 2, features * 4, features * 8, features * 8]
        if input_size == 256:
            widths.append(features * 8)
        self.conv0_0 = nn.Conv2d(in_channels, features, 3, 1, 1)
        previous = features
        for stage, width in enumerate(widths):
            if stage > 0:  # stage 0 opens with the plain convolution above
                self.add_module(f"conv{stage}_0", nn.Conv2d(previous, width, 3, 1, 1, bias=False))
                self.add_module(f"bn{stage}_0", nn.BatchNorm2d(width))
            self.add_module(f"conv{stage}_1", nn.Conv2d(width, width, 4, 2, 1, bias=False))
            self.add_module(f"bn{stage}_1", nn.BatchNorm2d(width))
            previous = width
        self.stages = len(widths)
        self.linear1 = nn.Linear(previous * 4 * 4, 100)
        self.linear2 = nn.Linear(100, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 1) realness logits of (N, C, input_size, input_size) patches."""
        if tuple(x.shape[-2:]) != (self.input_size, self.input_size):
            raise ValueError(
                f"vgg_style was built for {self.input_size}² patches, got "
                f"{tuple(x.shape[-2:])}: crop the patches, or build it with input_size="
                f"{x.shape[-1]} (128 or 256), or use unet_sn, which takes any size"
            )
        features = F.leaky_relu(self.conv0_0(x), LEAK)
        for stage in range(self.stages):
            if stage > 0:
                conv, norm = getattr(self, f"conv{stage}_0"), getattr(self, f"bn{stage}_0")
                features = F.leaky_relu(norm(conv(features)), LEAK)
            conv, norm = getattr(self, f"conv{stage}_1"), getattr(self, f"bn{stage}_1")
            features = F.leaky_relu(norm(conv(features)), LEAK)
        features = F.leaky_relu(self.linear1(features.flatten(1)), LEAK)
        return self.linear2(features)


class UNetDiscriminatorSN(nn.Module):
    """Real-ESRGAN's U-Net discriminator with spectral normalisation: a realness logit per
    pixel. For 3 channels and 64 features it has 4,376,897 parameters.

    Parameters
    ----------
    in_channels : int
        Image channels.
    features : int
        Channels at full resolution (×2, ×4, ×8 down the U).
    skip_connection : bool
        Add each encoder level to the decoder level of the same size (the paper's choice).
    """

    def __init__(self, *, in_channels: int = 1, features: int = 64, skip_connection: bool = True):
        super().__init__()
        self.skip_connection = bool(skip_connection)
        sn = nn.utils.spectral_norm  # the weight_orig/_u/_v layout of released weights
        f = features
        self.conv0 = nn.Conv2d(in_channels, f, 3, 1, 1)
        self.conv1 = sn(nn.Conv2d(f, f * 2, 4, 2, 1, bias=False))
        self.conv2 = sn(nn.Conv2d(f * 2, f * 4, 4, 2, 1, bias=False))
        self.conv3 = sn(nn.Conv2d(f * 4, f * 8, 4, 2, 1, bias=False))
        self.conv4 = sn(nn.Conv2d(f * 8, f * 4, 3, 1, 1, bias=False))
        self.conv5 = sn(nn.Conv2d(f * 4, f * 2, 3, 1, 1, bias=False))
        self.conv6 = sn(nn.Conv2d(f * 2, f, 3, 1, 1, bias=False))
        self.conv7 = sn(nn.Conv2d(f, f, 3, 1, 1, bias=False))
        self.conv8 = sn(nn.Conv2d(f, f, 3, 1, 1, bias=False))
        self.conv9 = nn.Conv2d(f, 1, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 1, H, W) realness logits of (N, C, H, W) images, H and W divisible by 8."""
        if x.shape[-2] % 8 or x.shape[-1] % 8:
            raise ValueError(
                f"unet_sn takes images whose height and width divide by 8 (three ×2 "
                f"levels), not {tuple(x.shape[-2:])}: crop them to a multiple of 8"
            )
        x0 = F.leaky_relu(self.conv0(x), LEAK)
        x1 = F.leaky_relu(self.conv1(x0), LEAK)
        x2 = F.leaky_relu(self.conv2(x1), LEAK)
        x3 = F.leaky_relu(self.conv3(x2), LEAK)
        up = x3
        for conv, skip in ((self.conv4, x2), (self.conv5, x1), (self.conv6, x0)):
            up = F.interpolate(up, scale_factor=2, mode="bilinear", align_corners=False)
            up = F.leaky_relu(conv(up), LEAK)
            if self.skip_connection:
                up = up + skip
        out = F.leaky_relu(self.conv7(up), LEAK)
        out = F.leaky_relu(self.conv8(out), LEAK)
        return self.conv9(out)


@dataclasses.dataclass(frozen=True)
class DiscriminatorSpec:
    """A registered discriminator.

    Attributes
    ----------
    name : str
        Registry name.
    build : type
        The module class; keyword hyperparameters.
    per_pixel : bool
        Whether it scores every pixel (N, 1, H, W) rather than each patch (N, 1).
    description : str
        One line for listings.
    paper : str
        The reference.
    """

    name: str
    build: type
    per_pixel: bool
    description: str
    paper: str


DISCRIMINATORS: dict[str, DiscriminatorSpec] = {
    spec.name: spec
    for spec in (
        DiscriminatorSpec(
            "vgg_style",
            VGGStyleDiscriminator,
            per_pixel=False,
            description="SRGAN/ESRGAN VGG-style, one score per 128² or 256² patch",
            paper="Ledig et al. 2017 (SRGAN); Wang et al. 2018 (ESRGAN)",
        ),
        DiscriminatorSpec(
            "unet_sn",
            UNetDiscriminatorSN,
            per_pixel=True,
            description="Real-ESRGAN U-Net with spectral normalisation, a score per pixel",
            paper="Wang et al. 2021 (Real-ESRGAN)",
        ),
    )
}
"""Every registered discriminator, by name."""


def list_discriminators(pattern: str | None = None) -> list[str]:
    """Names of the registered discriminators, sorted, optionally filtered by a glob."""
    names = sorted(DISCRIMINATORS)
    return names if pattern is None else [n for n in names if fnmatch.fnmatch(n, pattern)]


def create_discriminator(name: str, **hyperparameters: Any) -> nn.Module:
    """A new discriminator ``name`` (see :data:`DISCRIMINATORS`) with its keyword
    ``hyperparameters`` (``in_channels``, ``features``, …).

    Raises
    ------
    ValueError
        For an unknown name (naming the registered ones) or a hyperparameter the
        discriminator does not take (naming the ones it does).
    """
    spec = DISCRIMINATORS.get(name)
    if spec is None:
        raise ValueError(
            f"no discriminator {name!r}: choose one of {', '.join(list_discriminators())}"
        )
    taken = [p for p in inspect.signature(spec.build).parameters if p != "self"]
    unknown = sorted(set(hyperparameters) - set(taken))
    if unknown:  # checked first: a TypeError from inside the constructor is not ours
        raise ValueError(
            f"{name} takes the hyperparameters {', '.join(taken)}; got {', '.join(unknown)}"
        )
    return spec.build(**hyperparameters)
