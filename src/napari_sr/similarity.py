"""LPIPS: the learned perceptual image patch similarity of Zhang et al. (CVPR 2018).

The distance of two images in the normalised deep features of an ImageNet network,
weighted per channel by linear layers fitted to human judgements of which of two
distortions looks closer to a reference (the BAPPS data set). Lower: more alike.

napari-sr ships the fitted linear weights (version 0.1, for VGG16 and AlexNet; from the
``lpips`` package 0.1.4, BSD-2-Clause licence in ``data/LPIPS_LICENSE.txt``) but cannot
ship the ImageNet backbones, and downloads nothing: give the torchvision weights file of
the backbone (``vgg16-397923af.pth`` or ``alexnet-owt-7be5be79.pth``, any state dict with
their ``features.N.weight`` keys; read with ``torch.load(weights_only=True)`` or from a
``.safetensors`` file). The computation follows the reference release: inputs in [−1, 1],
its per-channel shift and scale, the ReLU outputs of five stages, each unit-normalised over
channels, squared differences weighted by the linear layer, averaged over the image and
summed over the stages.

References
----------
.. [1] R. Zhang, P. Isola, A. A. Efros, E. Shechtman, O. Wang, "The unreasonable
   effectiveness of deep features as a perceptual metric," CVPR 2018.
   doi:10.1109/CVPR.2018.00068
"""

from __future__ import annotations

import os
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np

from .naturalness import default_data_range
from .utils.memory import check_finite

SHIFT, SCALE = (-0.030, -0.088, -0.188), (0.458, 0.448, 0.450)
"""The input normalisation of the LPIPS release (after mapping to [−1, 1])."""

NORM_EPS = 1e-10
"""Added to each feature vector's length before dividing by it (the release's)."""

BACKBONES = {
    # torchvision feature layers: (in, out, kernel, stride, padding) per conv, "M" a pooling
    "vgg": [(3, 64, 3, 1, 1), (64, 64, 3, 1, 1), "M", (64, 128, 3, 1, 1), (128, 128, 3, 1, 1),
            "M", (128, 256, 3, 1, 1), (256, 256, 3, 1, 1), (256, 256, 3, 1, 1), "M",
            (256, 512, 3, 1, 1), (512, 512, 3, 1, 1), (512, 512, 3, 1, 1), "M",
            (512, 512, 3, 1, 1), (512, 512, 3, 1, 1), (512, 512, 3, 1, 1)],
    "alex": [(3, 64, 11, 4, 2), "P", (64, 192, 5, 1, 2), "P", (192, 384, 3, 1, 1),
             (384, 256, 3, 1, 1), (256, 256, 3, 1, 1)],
}  # fmt: skip
"""VGG16's and AlexNet's feature layers up to the last one LPIPS reads ("M": 2×2 max
pooling of VGG, "P": 3×3 stride-2 max pooling of AlexNet); each convolution is followed by
a ReLU, numbered as torchvision numbers them."""

TAPS = {"vgg": (3, 8, 15, 22, 29), "alex": (1, 4, 7, 9, 11)}
"""Indices (in torchvision's ``features``) of the ReLUs whose outputs LPIPS compares:
relu1_2 … relu5_3 of VGG16, relu1 … relu5 of AlexNet."""


def lpips(
    reference: np.ndarray,
    output: np.ndarray,
    *,
    weights: str | os.PathLike,
    data_range: float | None = None,
    crop_border: int = 0,
) -> float:
    """The LPIPS distance of ``output`` from ``reference`` (0 for identical images).

    Parameters
    ----------
    reference, output : numpy.ndarray
        Images of the same shape: grayscale (Y, X), given to the network as three equal
        channels, or RGB (Y, X, 3); at least 32 pixels along Y and X after the crop
        (AlexNet's strides).
    weights : path-like
        The torchvision weights of the backbone: VGG16 or AlexNet (told apart by their
        layers).
    data_range : float, optional
        The intensity span mapped to [−1, 1]: by default 255 for uint8, the dtype's
        maximum for other integers, 1 for floating-point images.
    crop_border : int
        Pixels dropped at every edge first (the SR protocol crops ``scale``).

    Returns
    -------
    float

    Raises
    ------
    FileNotFoundError
        No weights file.
    ValueError
        Images of other shapes or too small, non-finite values, or a weights file that is
        neither VGG16's nor AlexNet's features.
    """
    import torch

    a, b = np.asarray(reference), np.asarray(output)
    if a.shape != b.shape:
        raise ValueError(
            f"reference has shape {a.shape} and output {b.shape}: LPIPS compares images of "
            "the same size"
        )
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[-1] == 3)):
        raise ValueError(f"LPIPS scores grayscale (Y, X) or RGB (Y, X, 3) images, not {a.shape}")
    check_finite(a, "reference")
    check_finite(b, "output")
    if crop_border:
        a = a[crop_border:-crop_border, crop_border:-crop_border]
        b = b[crop_border:-crop_border, crop_border:-crop_border]
    if min(a.shape[:2]) < 32:
        raise ValueError(f"LPIPS needs at least 32 × 32 pixels; got {a.shape[:2]}")
    span = default_data_range(np.asarray(reference).dtype) if data_range is None else data_range
    if not span > 0:
        raise ValueError(f"data_range must be > 0, not {data_range}")
    net, network = _backbone(str(Path(weights).resolve()))
    lines = _linear(net)
    with torch.no_grad():
        features = [_features(network, net, _tensor(x, span)) for x in (a, b)]
        total = 0.0
        for layer, (fa, fb) in enumerate(zip(*features, strict=True)):
            difference = (_unit(fa) - _unit(fb)) ** 2
            weighted = (difference * lines[layer].view(1, -1, 1, 1)).sum(dim=1)
            total += float(weighted.mean())
    return total


def _tensor(image: np.ndarray, span: float):
    import torch

    x = torch.from_numpy(np.asarray(image, dtype=np.float32) / np.float32(span) * 2 - 1)
    x = x[..., None].expand(*x.shape, 3) if x.ndim == 2 else x
    x = x.permute(2, 0, 1)[None]
    shift = torch.tensor(SHIFT).view(1, 3, 1, 1)
    scale = torch.tensor(SCALE).view(1, 3, 1, 1)
    return (x - shift) / scale


def _unit(features):
    length = features.pow(2).sum(dim=1, keepdim=True).sqrt()
    return features / (length + NORM_EPS)


def _features(network, net: str, x):
    out = []
    for index, layer in enumerate(network):
        x = layer(x)
        if index in TAPS[net]:
            out.append(x)
        if index == TAPS[net][-1]:
            break
    return out


@cache
def _linear(net: str):
    import torch

    with resources.as_file(resources.files("napari_sr") / "data" / "lpips_linear.npz") as path:
        stored = np.load(path)
        return [torch.from_numpy(stored[f"{net}_{i}"]) for i in range(5)]


@cache
def _backbone(path: str):
    """(net, layers) of the weights file: torchvision's VGG16 or AlexNet features."""
    import torch
    from torch import nn

    from .utils.weights_file import read_state_dict

    state = read_state_dict(path, "LPIPS backbone weights (torchvision's VGG16 or AlexNet)")
    first = state.get("features.0.weight")
    shape = tuple(first.shape) if isinstance(first, torch.Tensor) else None
    net = {(64, 3, 3, 3): "vgg", (64, 3, 11, 11): "alex"}.get(shape)
    if net is None:
        raise ValueError(
            f"{path!r} is neither VGG16's nor AlexNet's weights (its features.0.weight has "
            f"shape {shape}); LPIPS takes torchvision's vgg16 or alexnet weights"
        )
    layers: list[nn.Module] = []
    for item in BACKBONES[net]:
        if item == "M":
            layers.append(nn.MaxPool2d(2, 2))
        elif item == "P":
            layers.append(nn.MaxPool2d(3, 2))
        else:
            layers += [nn.Conv2d(item[0], item[1], item[2], item[3], item[4]), nn.ReLU()]
    network = nn.Sequential(*layers)
    wanted = network.state_dict()
    found = {k: state.get(f"features.{k}") for k in wanted}
    wrong = [k for k, v in found.items()
             if not isinstance(v, torch.Tensor) or v.shape != wanted[k].shape]  # fmt: skip
    if wrong:
        kind = "VGG16" if net == "vgg" else "AlexNet"
        raise ValueError(
            f"{path!r} is not {kind}'s feature weights: it lacks (or has other shapes for) "
            f"features.{', features.'.join(wrong[:4])}"
        )
    network.load_state_dict({k: v.float() for k, v in found.items()})
    return net, network.eval().requires_grad_(False)
