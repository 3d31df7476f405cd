"""The registered discriminators: the papers' layers (parameter counts worked out layer by
layer), the released weights' layer names, output shapes, spectral normalisation, and
clear errors for what they cannot take."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from napari_sr.models.discriminators import (  # noqa: E402
    DISCRIMINATORS,
    create_discriminator,
    list_discriminators,
)


def count(module):
    return sum(p.numel() for p in module.parameters())


# VGG-style, 3 channels, 64 features (ESRGAN): conv0_0 3·64·9+64, then per stage a 3×3 conv
# (no bias) + BN and a 4×4 strided conv + BN: 64→64 (no 3×3), 64→128, 128→256, 256→512,
# 512→512, [512→512 at 256²]; linear 512·4·4→100 (+100), 100→1 (+1)
VGG_128 = (1792 + (65536 + 128) + (73728 + 256 + 262144 + 256) + (294912 + 512 + 1048576 + 512)
           + (1179648 + 1024 + 4194304 + 1024) + (2359296 + 1024 + 4194304 + 1024)
           + 819300 + 101)  # fmt: skip
VGG_256 = VGG_128 + 2359296 + 1024 + 4194304 + 1024
# U-Net SN: conv0 3·64·9+64; down 4×4 64→128→256→512; up 3×3 512→256→128→64; two 3×3
# 64→64; conv9 64·9+1 (spectral normalisation adds buffers, not parameters)
UNET = 1792 + 131072 + 524288 + 2097152 + 1179648 + 294912 + 73728 + 2 * 36864 + 577


@pytest.mark.parametrize(
    ("name", "extra", "expected"),
    [
        ("vgg_style", {}, VGG_128),
        ("vgg_style", {"input_size": 256}, VGG_256),
        ("unet_sn", {}, UNET),
    ],
)
def test_parameter_counts_of_the_papers_configurations(name, extra, expected):
    assert count(create_discriminator(name, in_channels=3, features=64, **extra)) == expected
    assert VGG_128 == 14_499_401 and UNET == 4_376_897  # as the docstrings say


def test_layer_names_are_those_of_the_released_discriminator_weights():
    vgg = create_discriminator("vgg_style", in_channels=3).state_dict()
    assert {"conv0_0.bias", "conv0_1.weight", "bn0_1.running_var", "conv4_1.weight",
            "bn4_1.weight", "linear1.weight", "linear2.bias"} <= set(vgg)  # fmt: skip
    assert not any(key.startswith(("conv0_0_", "bn0_0", "conv5")) for key in vgg)
    unet = create_discriminator("unet_sn", in_channels=3).state_dict()
    assert {"conv0.weight", "conv1.weight_orig", "conv1.weight_u", "conv1.weight_v",
            "conv8.weight_orig", "conv9.bias"} <= set(unet)  # fmt: skip


def test_outputs_a_score_per_patch_or_per_pixel():
    x = torch.rand(2, 1, 128, 128)
    vgg = create_discriminator("vgg_style", features=8)
    assert vgg(x).shape == (2, 1) and not DISCRIMINATORS["vgg_style"].per_pixel
    unet = create_discriminator("unet_sn", features=8)
    assert unet(torch.rand(2, 1, 40, 24)).shape == (2, 1, 40, 24)
    assert DISCRIMINATORS["unet_sn"].per_pixel


def test_spectral_normalisation_bounds_the_inner_layers():
    torch.manual_seed(0)
    unet = create_discriminator("unet_sn", features=8).train()
    with torch.no_grad():
        unet.conv1.weight_orig.mul_(50)  # far from norm 1 before normalisation
        for _ in range(50):  # each training-mode pass runs one power iteration
            unet(torch.rand(1, 1, 16, 16))
    weight = unet.conv1.weight.detach().flatten(1)
    assert torch.linalg.matrix_norm(weight, ord=2) == pytest.approx(1.0, rel=0.02)
    raw = unet.conv1.weight_orig.detach().flatten(1)
    assert torch.linalg.matrix_norm(raw, ord=2) > 10


def test_gradients_reach_every_parameter():
    for name in list_discriminators():
        net = create_discriminator(name, features=4)
        net(torch.rand(2, 1, 128, 128)).mean().backward()
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters()), name


def test_clear_errors():
    with pytest.raises(ValueError, match="no discriminator 'patchgan'.*unet_sn.*vgg_style"):
        create_discriminator("patchgan")
    with pytest.raises(ValueError, match="vgg_style takes the hyperparameters.*features"):
        create_discriminator("vgg_style", width=3)
    with pytest.raises(ValueError, match="128² or 256²"):
        create_discriminator("vgg_style", input_size=96)
    with pytest.raises(ValueError, match="built for 128² patches.*unet_sn"):
        create_discriminator("vgg_style", features=4)(torch.rand(1, 1, 96, 96))
    with pytest.raises(ValueError, match="divide by 8"):
        create_discriminator("unet_sn", features=4)(torch.rand(1, 1, 20, 16))
    assert list_discriminators("vgg*") == ["vgg_style"]
