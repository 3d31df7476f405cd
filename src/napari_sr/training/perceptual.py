"""Feature (perceptual) losses: distances between deep features of output and target.

- ``vgg``: ESRGAN's perceptual loss (Wang et al. 2018), the L1 distance of VGG19's conv5_4
  features before the activation (Simonyan & Zisserman 2015), on ImageNet-normalised
  inputs. No ImageNet network can be downloaded at run time and no PyPI package ships one,
  so the weights come from a file the user gives (``perceptual_weights``): torchvision's
  ``vgg19-dcbb9e9d.pth`` or any state dict with its ``features.N.weight/bias`` keys, read
  with ``torch.load(weights_only=True)`` (no code runs) or from a ``.safetensors`` file.
- ``sr_features``: the L1 distance of the features of napari-sr's own bundled ×2 network
  (``edsr_light_x2.sr291``, trained here on the 291 natural images): its head and first
  four residual blocks, a receptive field of 17 pixels. Needs no download.

Both see one channel at a time for single-channel models (VGG gets it thrice, as gray).
"""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from torch import nn

VGG19_CHANNELS = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
                  512, 512, 512, 512)  # fmt: skip
"""VGG19's feature layers up to conv5_4 (torchvision's configuration "E"; M: max pooling)."""

VGG_LAYER = 34
"""Index of conv5_4 in torchvision's ``vgg19().features``: ESRGAN's layer, before its ReLU."""

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
"""The input normalisation VGG19 was trained with (RGB in [0, 1])."""

SR_FEATURE_WEIGHTS, SR_FEATURE_BLOCKS = "edsr_light_x2.sr291", 4
"""The bundled network whose features ``sr_features`` compares, and its residual blocks used."""


def vgg19_features() -> nn.Sequential:
    """VGG19's ``features`` up to conv5_4, numbered as torchvision numbers them (a ReLU
    after every convolution but the last)."""
    layers: list[nn.Module] = []
    channels = 3
    for item in VGG19_CHANNELS:
        if item == "M":
            layers.append(nn.MaxPool2d(2, 2))
            continue
        layers += [nn.Conv2d(channels, item, 3, padding=1), nn.ReLU(inplace=True)]
        channels = item
    return nn.Sequential(*layers[: VGG_LAYER + 1])


def load_vgg19(path: str | os.PathLike) -> nn.Sequential:
    """VGG19's features up to conv5_4 with the weights of ``path``, frozen, in eval mode.

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        The file holds no VGG19 feature weights (the message lists what it lacks).
    """
    from ..utils.weights_file import read_state_dict

    state = read_state_dict(path, "VGG19 weights (perceptual_weights)")
    network = vgg19_features()
    wanted = network.state_dict()
    found = {}
    for key in wanted:
        value = state.get(f"features.{key}", state.get(key))
        if isinstance(value, torch.Tensor) and tuple(value.shape) == tuple(wanted[key].shape):
            found[key] = value.float()
    missing = sorted(set(wanted) - set(found), key=lambda k: int(k.split(".")[0]))
    if missing:
        raise ValueError(
            f"{os.fspath(path)!r} is not a VGG19 state dict: it lacks (or has other shapes "
            "for) "
            f"features.{', features.'.join(missing[:4])}"
            f"{f' and {len(missing) - 4} more' if len(missing) > 4 else ''}"
        )
    network.load_state_dict(found)
    return network.eval().requires_grad_(False)


class FeatureLoss:
    """L1 distance of a frozen network's features of prediction and target.

    Parameters
    ----------
    network : torch.nn.Module
        Maps (N, C, H, W) to features; frozen.
    channels : int
        What it takes: 3 (each single channel repeated) or 1 (each channel on its own).
    prepare : callable
        Maps (N, C, H, W) intensities in [0, 1] to the network's input.
    """

    def __init__(self, network: nn.Module, channels: int, prepare) -> None:
        self.network, self.channels, self.prepare = network, channels, prepare
        self._device: torch.device | None = None

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] != self.channels:  # one channel at a time
            x = x.reshape(-1, 1, *x.shape[-2:])
            if self.channels == 3:
                x = x.expand(-1, 3, -1, -1)
        return self.network(self.prepare(x))

    def __call__(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self._device != prediction.device:
            self.network.to(prediction.device)
            self._device = prediction.device
        with torch.no_grad():
            wanted = self._features(target)
        return F.l1_loss(self._features(prediction), wanted)


def vgg_loss(path: str | os.PathLike) -> FeatureLoss:
    """ESRGAN's perceptual loss with the VGG19 weights of ``path``."""
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)

    def imagenet(x: torch.Tensor) -> torch.Tensor:
        return (x - mean.to(x)) / std.to(x)

    return FeatureLoss(load_vgg19(path), 3, imagenet)


def sr_feature_loss() -> FeatureLoss:
    """The L1 distance of the features of napari-sr's bundled ×2 network
    (:data:`SR_FEATURE_WEIGHTS`: head and :data:`SR_FEATURE_BLOCKS` residual blocks)."""
    from ..models.bundled import load_bundled

    source = load_bundled(SR_FEATURE_WEIGHTS)
    network = nn.Sequential(source.head, *list(source.body)[:SR_FEATURE_BLOCKS])
    network = network.eval().requires_grad_(False)
    mean = source.mean.detach().clone()

    def centred(x: torch.Tensor) -> torch.Tensor:
        return x - mean.to(x)

    return FeatureLoss(network, int(source.in_channels), centred)
