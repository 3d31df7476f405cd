"""Every architecture at its paper's hyperparameters has the paper's parameter count."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from napari_sr.models import create_model  # noqa: E402
from napari_sr.models._common import count_parameters  # noqa: E402


def _weights_only(model) -> int:
    """Convolution and deconvolution kernels only, as FSRCNN's Table 1 counts."""
    return sum(
        p.numel() for n, p in model.named_parameters() if n.endswith("weight") and p.ndim == 4
    )


def _weights_only_all(model) -> int:
    """Every parameter that is not a bias (kernels and PReLU slopes)."""
    return sum(p.numel() for n, p in model.named_parameters() if not n.endswith("bias"))


def _all(model) -> int:
    return count_parameters(model)


def _keras(model) -> int:
    """Keras' count: parameters plus batch-norm moving mean and variance."""
    return count_parameters(model, buffers=True)


# name, scale, channels, expected, counting rule, source
COUNTS = [
    ("srcnn", 2, 1, 8_129, _all, "Dong et al. 2016: 9-1-5, 64/32 filters, 8,129 parameters"),
    ("srcnn_bn", 2, 3, 20_483, _keras, "teaching deck (issue 4), Keras count"),
    ("srresnet_mini", 2, 3, 449_731, _keras, "teaching deck (issue 4), Keras count"),
    ("srresnet_lite", 2, 3, 39_875, _keras, "teaching deck (issue 4), Keras count"),
    ("sr_autoencoder", 2, 3, 1_848_067, _keras, "teaching deck (issue 4), Keras count"),
    ("fsrcnn", 2, 1, 12_464, _weights_only, "Dong, Loy & Tang 2016, Table 1: FSRCNN(56,12,4)"),
    (
        "espcn",
        3,
        1,
        22_729,
        _all,
        "Shi et al. 2016 layer sizes (5x5x64, 3x3x32, 3x3xr^2) as in yjn870/ESPCN-pytorch",
    ),
    ("vdsr", 2, 1, 664_704, _all, "twtygqyy/pytorch-vdsr (20 bias-free 3x3 layers of 64)"),
    # sanghyun-son/EDSR-PyTorch src/model/edsr.py, trainable parameters (its MeanShift is
    # frozen; ours is a buffer); the paper rounds to 43M (x4) and 1.5M (baseline x4)
    ("edsr", 2, 3, 40_729_603, _all, "EDSR-PyTorch edsr.py, r32f256"),
    ("edsr", 4, 3, 43_089_923, _all, "EDSR-PyTorch edsr.py, r32f256"),
    ("edsr_baseline", 2, 3, 1_369_859, _all, "EDSR-PyTorch edsr.py, r16f64"),
    ("edsr_baseline", 3, 3, 1_554_499, _all, "EDSR-PyTorch edsr.py, r16f64"),
    ("edsr_baseline", 4, 3, 1_517_571, _all, "EDSR-PyTorch edsr.py, r16f64"),
    # no published count: EDSR-baseline at 32 features, 1 channel, derived layer by layer -
    # head 288 + 32, 16 blocks x 2 x (9,216 + 32), body end 9,248, upsampler 32->128
    # (36,864 + 128), tail 288 + 1 = 342,785
    ("edsr_light", 2, 1, 342_785, _all, "derived: EDSR-baseline r16f32, 1 channel, x2"),
    ("srresnet", 4, 3, 1_549_462, _all, "sgrvinod/a-PyTorch-Tutorial-to-Super-Resolution"),
    ("rcan", 2, 3, 15_444_643, _all, "EDSR-PyTorch src/model/rcan.py, 10x20, 64, r16"),
    ("rcan", 4, 3, 15_592_355, _all, "EDSR-PyTorch src/model/rcan.py, 10x20, 64, r16"),
    # nmhkahn/CARN-pytorch carn.py with multi_scale=False (trainable; the paper's 1,592K
    # carries x2, x3 and x4 upsamplers at once)
    ("carn", 4, 3, 1_111_875, _all, "CARN-pytorch carn/model/carn.py, single scale"),
    (
        "srvgg",
        4,
        3,
        621_424,
        _all,
        "Real-ESRGAN srvgg_arch.py num_conv=16 (animevideov3)",
    ),
    ("dbpn", 4, 3, 10_426_358, _all, "alterzero/DBPN-Pytorch dbpn.py Net(3, 64, 256, 7, 4)"),
    ("dbpn", 2, 3, 5_953_526, _all, "alterzero/DBPN-Pytorch dbpn.py, x2"),
    ("rrdbnet", 4, 3, 16_697_987, _all, "XPixelGroup/BasicSR rrdbnet_arch.py RRDBNet(3, 3)"),
    ("drrn", 2, 1, 297_216, _all, "Tai et al. 2017, Table 1: DRRN B1U25, 297K"),
    (
        "lapsrn",
        4,
        1,
        812_768,
        _weights_only_all,
        "Lai et al. 2017: 812K (weights), official init_LapSRN.m",
    ),
    ("lapsrn", 4, 1, 814_242, _all, "official LapSRN count_network_parameters.m"),
    # JingyunLiang/SwinIR models/network_swinir.py (img_size 64, window 8, mlp_ratio 2)
    ("swinir", 2, 3, 11_752_487, _all, "SwinIR network_swinir.py, classical x2"),
    ("swinir", 4, 3, 11_900_199, _all, "SwinIR network_swinir.py, classical x4"),
    ("swinir_light", 2, 3, 910_152, _all, "SwinIR network_swinir.py, lightweight x2"),
    # CARE, CSBDeep csbdeep/internals/blocks.py unet_block + nets.py custom_unet at the 2D
    # defaults of csbdeep/models/config.py (depth 2, 5x5 kernels, 32 first filters, two
    # convolutions per level, residual, biases, no batch norm); a 5x5 conv c_in -> c_out
    # has 25·c_in·c_out + c_out parameters:
    #   down_level_0_no_0    1 ->  32:     832
    #   down_level_0_no_1   32 ->  32:  25,632
    #   down_level_1_no_0   32 ->  64:  51,264
    #   down_level_1_no_1   64 ->  64: 102,464
    #   middle_0            64 -> 128: 204,928   (n_first·2**depth)
    #   middle_2           128 ->  64: 204,864   (n_first·2**max(0, depth-1))
    #   up_level_1_no_0 64+64  ->  64: 204,864   (concat [upsampled, skip])
    #   up_level_1_no_2     64 ->  32:  51,232
    #   up_level_0_no_0 32+32  ->  32:  51,232
    #   up_level_0_no_2     32 ->  32:  25,632   (n_first·2**max(0, -1))
    #   final 1x1           32 ->   1:      33
    #   total                         922,977
    ("care_unet", 1, 1, 922_977, _all, "CSBDeep resunet2_2_5_32, layer by layer"),
    # ZSSR, assafshocher/ZSSR configs.py filter_shape: 3x3 in -> 64, 6 x 64 -> 64, 64 -> in,
    # biases: 3 channels 1,728+64 + 6·(36,864+64) + 1,728+3 = 225,091;
    #         1 channel    576+64 + 6·(36,864+64) +   576+1 = 222,785
    ("zssr_net", 1, 3, 225_091, _all, "ZSSR configs.py, 8 layers of 3x3, 64 filters"),
    ("zssr_net", 1, 1, 222_785, _all, "ZSSR configs.py, 8 layers of 3x3, 64 filters"),
    # no published count: napari-sr's variant of HighRes-net at 32 features, derived layer by
    # layer - encoder 608 + 32 + 2 x (2 x 9,248 + 2 x 32) + 9,248 = 47,008; fusion 18,464
    # + 32 + 18,560 = 37,056; decoder 4,128 (transposed 2x2) + 32 + 289 = 4,449
    ("highresnet", 2, 1, 88_513, _all, "derived: HighRes-net variant, 32 features, x2"),
    # layer by layer in tests/models/test_diffusion_unet.py
    ("diffusion_unet", 4, 1, 4_117_185, _all, "derived: SR3-style U-Net, 32 features, 1/2/4"),
]


@pytest.mark.parametrize(
    ("name", "scale", "channels", "expected", "rule", "source"),
    COUNTS,
    ids=[f"{c[0]}-x{c[1]}" for c in COUNTS],
)
def test_parameter_count(name, scale, channels, expected, rule, source):
    model = create_model(name, scale=scale, in_channels=channels)
    assert rule(model) == expected, source


def test_every_registered_model_has_a_count():
    from napari_sr.models import list_models

    assert {c[0] for c in COUNTS} == set(list_models())
