"""The registry table: one line per architecture. Importing this module fills
:data:`napari_sr.models.registry.REGISTRY`; it imports no torch."""

from __future__ import annotations

from .registry import REGISTRY, ModelSpec

_ANY = (2, 3, 4)

REGISTRY.add(
    ModelSpec(
        "srcnn",
        "srcnn:SRCNN",
        "pre",
        _ANY,
        halo=8,
        paper="Dong et al., TPAMI 2016, doi:10.1109/TPAMI.2015.2439281",
        defaults={"features": (64, 32), "kernels": (9, 1, 5)},
    )
)
REGISTRY.add(
    ModelSpec(
        "srcnn_bn",
        "teaching:SRCNNBN",
        "pre",
        _ANY,
        halo=8,
        paper="SRCNN with batch normalisation (teaching deck)",
    )
)
REGISTRY.add(
    ModelSpec(
        "srresnet_mini",
        "teaching:SRResNetMini",
        "pre",
        _ANY,
        halo=16,
        paper="six-block residual network (teaching deck)",
        defaults={"blocks": 6, "features": 64},
    )
)
REGISTRY.add(
    ModelSpec(
        "srresnet_lite",
        "teaching:SRResNetLite",
        "pre",
        _ANY,
        halo=8,
        paper="one-block residual network (teaching deck)",
    )
)
REGISTRY.add(
    ModelSpec(
        "sr_autoencoder",
        "teaching:SRAutoencoder",
        "pre",
        _ANY,
        size_multiple=4,
        halo=24,
        tiling_safe=True,
        paper="encoder-decoder with skip additions (teaching deck)",
    )
)
REGISTRY.add(
    ModelSpec(
        "fsrcnn",
        "fsrcnn:FSRCNN",
        "post",
        _ANY,
        halo=8,
        paper="Dong, Loy & Tang, ECCV 2016, doi:10.1007/978-3-319-46475-6_25",
        defaults={"d": 56, "s": 12, "m": 4},
    )
)
REGISTRY.add(
    ModelSpec(
        "espcn",
        "espcn:ESPCN",
        "post",
        _ANY,
        halo=4,
        paper="Shi et al., CVPR 2016, doi:10.1109/CVPR.2016.207",
        defaults={"features": (64, 32)},
    )
)
REGISTRY.add(
    ModelSpec(
        "vdsr",
        "vdsr:VDSR",
        "pre",
        _ANY,
        halo=24,
        paper="Kim, Lee & Lee, CVPR 2016, doi:10.1109/CVPR.2016.182",
        defaults={"depth": 20, "features": 64},
    )
)
REGISTRY.add(
    ModelSpec(
        "edsr",
        "edsr:EDSR",
        "post",
        _ANY,
        halo=68,
        paper="Lim et al., CVPRW 2017, doi:10.1109/CVPRW.2017.151",
        defaults={"n_resblocks": 32, "n_feats": 256, "res_scale": 0.1},
    )
)
REGISTRY.add(
    ModelSpec(
        "edsr_baseline",
        "edsr:EDSRBaseline",
        "post",
        _ANY,
        halo=36,
        paper="Lim et al., CVPRW 2017, doi:10.1109/CVPRW.2017.151",
        defaults={"n_resblocks": 16, "n_feats": 64, "res_scale": 1.0},
    )
)
REGISTRY.add(
    ModelSpec(
        "edsr_light",
        "edsr:EDSRLight",
        "post",
        _ANY,
        halo=36,
        paper="EDSR-baseline at half width (napari-sr's quality default); Lim et al., "
        "CVPRW 2017, doi:10.1109/CVPRW.2017.151",
        defaults={"n_resblocks": 16, "n_feats": 32, "res_scale": 1.0},
    )
)
REGISTRY.add(
    ModelSpec(
        "srresnet",
        "srresnet:SRResNet",
        "post",
        _ANY,
        halo=40,
        paper="Ledig et al., CVPR 2017, doi:10.1109/CVPR.2017.19",
        defaults={"n_blocks": 16, "n_feats": 64},
    )
)
REGISTRY.add(
    ModelSpec(
        # channel attention pools the whole image: tiles cannot reproduce the untiled output
        "rcan",
        "rcan:RCAN",
        "post",
        _ANY,
        halo=64,
        tiling_safe=False,
        paper="Zhang et al., ECCV 2018, doi:10.1007/978-3-030-01234-2_18",
        defaults={"n_resgroups": 10, "n_resblocks": 20, "n_feats": 64, "reduction": 16},
    )
)
REGISTRY.add(
    ModelSpec(
        "carn",
        "carn:CARN",
        "post",
        _ANY,
        halo=24,
        paper="Ahn, Kang & Sohn, ECCV 2018, doi:10.1007/978-3-030-01249-6_16",
        defaults={"features": 64, "blocks": 3, "units": 3},
    )
)
REGISTRY.add(
    ModelSpec(
        "dbpn",
        "dbpn:DBPN",
        "iterative",
        (2, 4, 8),
        halo=48,
        paper="Haris, Shakhnarovich & Ukita, CVPR 2018, doi:10.1109/CVPR.2018.00179",
        defaults={"features": 64, "initial_features": 256, "stages": 7},
    )
)
REGISTRY.add(
    ModelSpec(
        # exact tiles need the full receptive field (15 per RRDB + 4); ESRGAN tilers accept less
        "rrdbnet",
        "rrdbnet:RRDBNet",
        "post",
        (2, 4),
        halo=352,
        paper="Wang et al., ECCVW 2018, arXiv:1809.00219",
        defaults={"features": 64, "blocks": 23, "growth": 32, "residual_scale": 0.2},
    )
)
REGISTRY.add(
    ModelSpec(
        "drrn",
        "drrn:DRRN",
        "pre",
        _ANY,
        halo=32,
        paper="Tai, Yang & Liu, CVPR 2017, doi:10.1109/CVPR.2017.298",
        defaults={"blocks": 1, "units": 25, "features": 128},
    )
)
REGISTRY.add(
    ModelSpec(
        "lapsrn",
        "lapsrn:LapSRN",
        "progressive",
        (2, 4, 8),
        halo=24,
        paper="Lai et al., CVPR 2017, doi:10.1109/CVPR.2017.618",
        defaults={"depth": 10, "features": 64},
    )
)
REGISTRY.add(
    ModelSpec(
        # windows are aligned to the image origin: unaligned tiles differ slightly; fp16 overflows
        "swinir",
        "swinir:SwinIR",
        "post",
        _ANY,
        tiling_safe=False,
        halo=160,
        half_precision_safe=False,
        paper="Liang et al., ICCVW 2021, arXiv:2108.10257",
        defaults={
            "embed_dim": 180,
            "depths": (6,) * 6,
            "num_heads": (6,) * 6,
            "window_size": 8,
            "mlp_ratio": 2.0,
            "upsampler": "pixelshuffle",
            "resi_connection": "1conv",
        },
    )
)
REGISTRY.add(
    ModelSpec(
        "swinir_light",
        "swinir:SwinIRLight",
        "post",
        _ANY,
        tiling_safe=False,
        halo=104,
        half_precision_safe=False,
        paper="Liang et al., ICCVW 2021, arXiv:2108.10257",
        defaults={
            "embed_dim": 60,
            "depths": (6,) * 4,
            "num_heads": (6,) * 4,
            "window_size": 8,
            "mlp_ratio": 2.0,
            "upsampler": "pixelshuffledirect",
            "resi_connection": "1conv",
        },
    )
)

# Same-size restoration networks (scale 1): self-supervised SR interpolates to the target
# grid first and restores the result (CARE's isotropic reconstruction, zero-shot SR).
REGISTRY.add(
    ModelSpec(
        # halo: receptive-field radius of the U-Net, care.unet_halo(2, 5) = 4·10 + 3
        "care_unet",
        "care:CAREUNet",
        "restoration",
        (1,),
        size_multiple=4,
        halo=43,
        tiling_safe=True,
        paper="Weigert et al., Nature Methods 15, 1090 (2018), doi:10.1038/s41592-018-0216-7",
        defaults={"depth": 2, "kernel_size": 5, "n_first": 32},
    )
)
REGISTRY.add(
    ModelSpec(
        # halo: eight 3x3 layers reach 8 pixels
        "zssr_net",
        "zssrnet:ZSSRNet",
        "restoration",
        (1,),
        halo=8,
        paper="Shocher, Cohen & Irani, CVPR 2018, arXiv:1712.06087",
        defaults={"depth": 8, "features": 64},
    )
)
REGISTRY.add(
    ModelSpec(
        "highresnet",
        "highresnet:HighResNet",
        "multiframe",
        (2, 3, 4),
        halo=16,
        tiling_safe=True,
        half_precision_safe=False,
        paper="Deudon et al., HighRes-net, arXiv:2002.06460 (2020); napari-sr's grayscale "
        "variant (median reference, residual over its bicubic upsampling)",
        defaults={"features": 32, "encoder_blocks": 2},
    )
)
