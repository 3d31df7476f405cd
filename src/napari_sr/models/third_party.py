"""Weights the SR community shares, in their authors' layouts, recognised by their tensor
names and mapped onto napari-sr's architectures.

Each :class:`Layout` says which upstream code wrote the file, how to recognise it from the
names and shapes of its tensors alone, and how to rename its tensors and read its
hyperparameters (scale, channels, depth) from their shapes, so that
:func:`napari_sr.load_model` loads it without an architecture hint. The maps are written
from the upstream definitions (module names and forward passes), and the tests build the
upstream networks' layouts themselves and compare the forward passes.

Recognised:

- **BasicSR RRDBNet** — ESRGAN and Real-ESRGAN generators (``RealESRGAN_x4plus``,
  ``RealESRGAN_x2plus``, ``RealESRNet``…; ``conv_first``, ``body.N.rdbK.convJ``,
  ``conv_body``, ``conv_up1/2``, ``conv_hr``, ``conv_last``), including the ×2 and ×1
  variants that pixel-unshuffle their input, as napari-sr's ``rrdbnet`` (``unshuffle``).
- **EDSR-PyTorch EDSR and EDSR-baseline** (``sub_mean``, ``head.0``, ``body.N.body.M``,
  ``tail.0.K``, ``tail.1``, ``add_mean``) as ``edsr`` with ``value_range=255`` (its
  weights were trained on [0, 255]); ``res_scale`` is not stored, so it follows the
  published configurations: 0.1 for more than 64 features (EDSR), else 1 (baseline).
- **EDSR-PyTorch RCAN** (residual groups of channel-attention blocks, ``conv_du``) as
  ``rcan`` with ``value_range=255``.
- **Real-ESRGAN SRVGGNetCompact** (``realesr-general-x4v3``, ``realesr-animevideov3``:
  ``body.N`` convolutions and PReLUs only) as ``srvgg``, whose layout is the authors'.
- **CARN**, the authors' weights (``sub_mean.shifter``, ``entry``, ``bI.bJ``, ``bI.cJ``,
  ``cJ``, ``upsample.up`` or the multi-scale ``upsample.up2/up3/up4``, ``exit``) as
  ``carn``; a multi-scale file needs ``scale=`` to pick its upsampler.
- **SwinIR**, the authors' classical (pixel-shuffle), lightweight (direct pixel shuffle)
  and real-world (``nearest+conv``, ×2 and ×4) SR weights, as ``swinir`` (their saved
  ``relative_position_index`` and ``attn_mask`` buffers are derived here).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["LAYOUTS", "Layout", "recognise"]

Shapes = Mapping[str, tuple[int, ...]]


@dataclass(frozen=True)
class Layout:
    """One upstream layout of weights.

    Attributes
    ----------
    name : str
        What wrote it, in words.
    architecture : str
        napari-sr's architecture it maps onto.
    matches : callable
        ``matches(shapes) -> bool`` from tensor names and shapes.
    describe : callable
        ``describe(shapes, scale) -> (scale, in_channels, hparams)``; ``scale`` is the
        caller's (None unless given), needed only by files with several upsamplers.
    rename : callable
        ``rename(name, hparams) -> str or None``: napari-sr's name of an upstream tensor
        (None: dropped, replaced by ``extra``); ``hparams`` also holds the ``scale``.
    extra : callable, optional
        ``extra(state, hparams) -> dict``: tensors napari-sr's network has that upstream
        stores otherwise (EDSR's mean shift as a buffer).
    """

    name: str
    architecture: str
    matches: Callable[[Shapes], bool]
    describe: Callable[[Shapes, int | None], tuple[int, int, dict[str, Any]]]
    rename: Callable[[str, dict[str, Any]], str | None]
    extra: Callable[[Mapping[str, Any], dict[str, Any]], dict[str, Any]] | None = None

    def convert(
        self, state: Mapping[str, Any], scale: int | None = None
    ) -> tuple[dict[str, Any], int, int, dict]:
        """``state`` renamed to napari-sr's layout, with the scale, channels and
        hyperparameters read from it. ``scale`` picks one of several upsamplers where a
        file holds them (CARN's multi-scale weights); otherwise it is read, not given."""
        shapes = {k: tuple(v.shape) for k, v in state.items()}
        scale, in_channels, hparams = self.describe(shapes, scale)
        renamed = {}
        for key, value in state.items():
            name = self.rename(key, {**hparams, "scale": scale})
            if name is not None:
                renamed[name] = value
        if self.extra is not None:
            renamed.update(self.extra(state, hparams))
        return renamed, scale, in_channels, hparams


# ------------------------------------------------------------------- BasicSR RRDBNet

_RDB = re.compile(r"^body\.(\d+)\.rdb([123])\.conv([1-5])\.(weight|bias)$")
_RRDB_FIXED = {"conv_first": "head", "conv_hr": "hr", "conv_last": "tail"}


def _rrdb_matches(shapes: Shapes) -> bool:
    needed = {"conv_first.weight", "conv_body.weight", "conv_up1.weight", "conv_up2.weight",
              "conv_hr.weight", "conv_last.weight", "body.0.rdb1.conv1.weight"}  # fmt: skip
    return needed <= set(shapes)


def _rrdb_describe(shapes: Shapes, _scale: int | None = None) -> tuple[int, int, dict[str, Any]]:
    first, last = shapes["conv_first.weight"], shapes["conv_last.weight"]
    out_channels = last[0]
    ratio = first[1] // out_channels
    unshuffle = math.isqrt(ratio)
    if unshuffle**2 * out_channels != first[1] or unshuffle not in (1, 2, 4):
        raise ValueError(
            f"an RRDBNet whose first layer takes {first[1]} channels and whose last gives "
            f"{out_channels} is not one of BasicSR's (x4, or x2/x1 with pixel-unshuffle)"
        )
    blocks = 1 + max(int(m.group(1)) for k in shapes if (m := _RDB.match(k)))
    hparams = {
        "features": first[0],
        "blocks": blocks,
        "growth": shapes["body.0.rdb1.conv1.weight"][0],
        "unshuffle": unshuffle,
    }
    return 4 // unshuffle, out_channels, hparams


def _rrdb_rename(name: str, hparams: dict[str, Any]) -> str:
    stem, _, kind = name.rpartition(".")
    if stem in _RRDB_FIXED:
        return f"{_RRDB_FIXED[stem]}.{kind}"
    if stem == "conv_body":
        return f"trunk.{hparams['blocks']}.{kind}"
    if stem in ("conv_up1", "conv_up2"):
        return f"up.{int(stem[-1]) - 1}.{kind}"
    match = _RDB.match(name)
    if match:
        block, dense, layer, kind = match.groups()
        return f"trunk.{block}.blocks.{int(dense) - 1}.convs.{int(layer) - 1}.{kind}"
    return name  # not BasicSR's: reported as unexpected by the strict load


BASICSR_RRDBNET = Layout(
    name="BasicSR RRDBNet (ESRGAN, Real-ESRGAN)",
    architecture="rrdbnet",
    matches=_rrdb_matches,
    describe=_rrdb_describe,
    rename=_rrdb_rename,
)

# ------------------------------------------- EDSR-PyTorch's EDSR and RCAN (src/model/*.py)

_EDSR_RANGE = 255.0
"""EDSR-PyTorch trains on values in [0, 255] (``rgb_range=255``, the released weights)."""


def _pixel_shuffle_scale(shapes: Shapes, features: int) -> int:
    """The scale of an upsampler ``tail.0`` of 3×3 convs to s²·F channels, each followed
    by a pixel shuffle."""
    stages = sorted(
        int(m.group(1)) for k in shapes if (m := re.match(r"^tail\.0\.(\d+)\.weight$", k))
    )
    factors = [math.isqrt(shapes[f"tail.0.{i}.weight"][0] // features) for i in stages]
    if not factors or any(f not in (2, 3) for f in factors):
        raise ValueError("an upsampler that is not EDSR-PyTorch's (pixel shuffle by 2 or 3)")
    return math.prod(factors)


def _count(shapes: Shapes, pattern: str) -> int:
    return 1 + max((int(m.group(1)) for k in shapes if (m := re.match(pattern, k))), default=-1)


def _edsr_matches(shapes: Shapes) -> bool:
    return {"sub_mean.bias", "head.0.weight", "body.0.body.0.weight", "tail.1.weight"} <= set(
        shapes
    ) and "body.0.body.0.body.0.weight" not in shapes


def _rcan_matches(shapes: Shapes) -> bool:
    return {"sub_mean.bias", "head.0.weight", "body.0.body.0.body.3.conv_du.0.weight"} <= set(
        shapes
    )


def _edsr_describe(shapes: Shapes, _scale: int | None = None) -> tuple[int, int, dict[str, Any]]:
    features, channels = shapes["head.0.weight"][:2]
    blocks = _count(shapes, r"^body\.(\d+)\.body\.0\.weight$")
    hparams = {
        "n_resblocks": blocks,
        "n_feats": features,
        # not in the weights: EDSR-PyTorch's published configurations (0.1 for the wide EDSR)
        "res_scale": 0.1 if features > 64 else 1.0,
        "value_range": _EDSR_RANGE,
    }
    return _pixel_shuffle_scale(shapes, features), channels, hparams


def _rcan_describe(shapes: Shapes, _scale: int | None = None) -> tuple[int, int, dict[str, Any]]:
    features, channels = shapes["head.0.weight"][:2]
    squeezed = shapes["body.0.body.0.body.3.conv_du.0.weight"][0]
    hparams = {
        "n_resgroups": _count(shapes, r"^body\.(\d+)\.body\.0\.body\.0\.weight$"),
        "n_resblocks": _count(shapes, r"^body\.0\.body\.(\d+)\.body\.0\.weight$"),
        "n_feats": features,
        "reduction": features // squeezed,
        "value_range": _EDSR_RANGE,
    }
    return _pixel_shuffle_scale(shapes, features), channels, hparams


def _edsr_rename(name: str, hparams: dict[str, Any]) -> str | None:
    if name.startswith(("sub_mean.", "add_mean.")):
        return None  # the mean shift: napari-sr's buffer ``mean`` (see _mean)
    if name.startswith("head.0."):
        return "head." + name[len("head.0.") :]
    return name.replace(".conv_du.0.", ".gate.1.").replace(".conv_du.2.", ".gate.3.")


def _mean(state: Mapping[str, Any], hparams: dict[str, Any]) -> dict[str, Any]:
    """The mean napari-sr subtracts, in [0, 1]: EDSR-PyTorch's ``sub_mean`` is a 1×1 conv
    with weight 1/std and bias −range·mean/std."""
    import torch

    weight, bias = state["sub_mean.weight"], state["sub_mean.bias"]
    inverse_std = torch.diagonal(weight.reshape(weight.shape[0], weight.shape[1]))
    if not torch.allclose(inverse_std, torch.ones_like(inverse_std)):
        raise ValueError("a mean shift with a standard deviation other than 1 (rgb_std)")
    mean = -bias / _EDSR_RANGE
    return {"mean": mean.reshape(1, -1, 1, 1).to(torch.float32)}


EDSR_PYTORCH_EDSR = Layout(
    name="EDSR-PyTorch EDSR",
    architecture="edsr",
    matches=_edsr_matches,
    describe=_edsr_describe,
    rename=_edsr_rename,
    extra=_mean,
)
EDSR_PYTORCH_RCAN = Layout(
    name="EDSR-PyTorch RCAN",
    architecture="rcan",
    matches=_rcan_matches,
    describe=_rcan_describe,
    rename=_edsr_rename,
    extra=_mean,
)

# ------------------------------------------------ the authors' SwinIR (models/network_swinir.py)


def _swinir_matches(shapes: Shapes) -> bool:
    return {"conv_first.weight", "patch_embed.norm.weight", "conv_after_body.weight"} <= set(
        shapes
    ) or {"conv_first.weight", "patch_embed.norm.weight", "conv_after_body.0.weight"} <= set(
        shapes
    )


def _swinir_describe(shapes: Shapes, _scale: int | None = None) -> tuple[int, int, dict[str, Any]]:
    embed, channels = shapes["conv_first.weight"][:2]
    n_layers = _count(shapes, r"^layers\.(\d+)\.residual_group\.blocks\.0\.norm1\.weight$")
    depths = tuple(
        _count(shapes, rf"^layers\.{i}\.residual_group\.blocks\.(\d+)\.norm1\.weight$")
        for i in range(n_layers)
    )
    tables = [shapes[f"layers.{i}.residual_group.blocks.0.attn.relative_position_bias_table"]
              for i in range(n_layers)]  # fmt: skip
    window = (math.isqrt(tables[0][0]) + 1) // 2
    hidden = shapes["layers.0.residual_group.blocks.0.mlp.fc1.weight"][0]
    hparams: dict[str, Any] = {
        "embed_dim": embed,
        "depths": depths,
        "num_heads": tuple(t[1] for t in tables),
        "window_size": window,
        "mlp_ratio": hidden / embed,
        "resi_connection": "1conv" if "layers.0.conv.weight" in shapes else "3conv",
    }
    if "conv_up1.weight" in shapes:  # real-world SR: nearest ×2 (×4 with conv_up2) + convs
        features = shapes["conv_before_upsample.0.weight"][0]
        hparams.update(upsampler="nearest+conv", features=features)
        scale = 4 if "conv_up2.weight" in shapes else 2
    elif "conv_before_upsample.0.weight" in shapes:
        features = shapes["conv_before_upsample.0.weight"][0]
        hparams.update(upsampler="pixelshuffle", features=features)
        pattern = re.compile(r"^upsample\.(\d+)\.weight$")
        stages = sorted(int(m.group(1)) for k in shapes if (m := pattern.match(k)))
        factors = [math.isqrt(shapes[f"upsample.{i}.weight"][0] // features) for i in stages]
        scale = math.prod(factors)
    else:
        hparams["upsampler"] = "pixelshuffledirect"
        scale = math.isqrt(shapes["upsample.0.weight"][0] // channels)
    return scale, channels, hparams


def _swinir_rename(name: str, hparams: dict[str, Any]) -> str | None:
    if name.endswith(("relative_position_index", "attn_mask")):
        return None  # derived from the window size and the input here, not stored
    return name


AUTHORS_SWINIR = Layout(
    name="SwinIR (the authors' classical, lightweight and real-world SR weights)",
    architecture="swinir",
    matches=_swinir_matches,
    describe=_swinir_describe,
    rename=_swinir_rename,
)

# ----------------------------------------- Real-ESRGAN's SRVGGNetCompact (archs/srvgg_arch.py)


def _srvgg_matches(shapes: Shapes) -> bool:
    # conv, PReLU, conv, PReLU, ..., conv: ``body.N`` alone, a 3×3 convolution first
    only_body = all(re.match(r"^body\.\d+\.(weight|bias)$", k) for k in shapes)
    first, slope = shapes.get("body.0.weight", ()), shapes.get("body.1.weight", ())
    return only_body and len(first) == 4 and first[-1] == 3 and len(slope) == 1


def _srvgg_describe(shapes: Shapes, _scale: int | None = None) -> tuple[int, int, dict[str, Any]]:
    n = _count(shapes, r"^body\.(\d+)\.weight$")
    features, channels = shapes["body.0.weight"][:2]
    last = shapes[f"body.{n - 1}.weight"][0]
    scale = math.isqrt(last // channels)
    if scale * scale * channels != last or (n - 3) % 2:
        raise ValueError("an SRVGGNetCompact whose last layer does not give channels × scale²")
    hparams = {"features": features, "convs": (n - 3) // 2, "activation": "prelu"}
    return scale, channels, hparams


REAL_ESRGAN_SRVGG = Layout(
    name="Real-ESRGAN SRVGGNetCompact (realesr-general-x4v3, realesr-animevideov3)",
    architecture="srvgg",
    matches=_srvgg_matches,
    describe=_srvgg_describe,
    rename=lambda name, hparams: name,  # napari-sr's srvgg keeps the authors' layout
)

# ----------------------------------------------- the authors' CARN (nmhkahn/CARN-pytorch)

_CARN_UNIT = re.compile(r"^b([123])\.b([123])\.body\.([02])\.(weight|bias)$")
_CARN_INNER_FUSION = re.compile(r"^b([123])\.c([123])\.body\.0\.(weight|bias)$")
_CARN_FUSION = re.compile(r"^c([123])\.body\.0\.(weight|bias)$")
_CARN_UP = re.compile(r"^upsample\.up(\d*)\.body\.(\d+)\.(weight|bias)$")


def _carn_matches(shapes: Shapes) -> bool:
    needed = {"sub_mean.shifter.bias", "entry.weight", "b1.b1.body.0.weight",
              "b1.c1.body.0.weight", "c3.body.0.weight", "exit.weight"}  # fmt: skip
    return needed <= set(shapes)


def _carn_describe(shapes: Shapes, scale: int | None = None) -> tuple[int, int, dict[str, Any]]:
    features, channels = shapes["entry.weight"][:2]
    if shapes["b1.b1.body.0.weight"][1] != features:
        raise ValueError("a CARN-M (grouped, efficient residual blocks), which is not built here")
    single = [k for k in shapes if k.startswith("upsample.up.")]
    held = sorted({int(m.group(1)) for k in shapes if (m := _CARN_UP.match(k)) and m.group(1)})
    if single:
        weights = [shapes[k] for k in sorted(single) if k.endswith("weight")]
        found = math.prod(math.isqrt(w[0] // features) for w in weights)
        if scale is not None and scale != found:
            raise ValueError(f"the file's upsampler is ×{found}, not ×{scale}")
        scale = found
    elif scale is None:
        raise ValueError(
            f"the multi-scale CARN holds ×{', ×'.join(map(str, held))} upsamplers: pass "
            "scale= (--scale) to choose one"
        )
    elif scale not in held:
        raise ValueError(f"the multi-scale CARN holds ×{', ×'.join(map(str, held))}, not ×{scale}")
    hparams = {"features": features, "blocks": 3, "units": 3}
    return scale, channels, hparams


def _carn_rename(name: str, hparams: dict[str, Any]) -> str | None:
    if name.startswith(("sub_mean.", "add_mean.")):
        return None  # the mean shift: napari-sr's buffer ``mean`` (see _carn_mean)
    if match := _CARN_UNIT.match(name):
        block, unit, layer, kind = match.groups()
        return f"body.units.{int(block) - 1}.units.{int(unit) - 1}.body.{layer}.{kind}"
    if match := _CARN_INNER_FUSION.match(name):
        block, fusion, kind = match.groups()
        return f"body.units.{int(block) - 1}.fusions.{int(fusion) - 1}.0.{kind}"
    if match := _CARN_FUSION.match(name):
        fusion, kind = match.groups()
        return f"body.fusions.{int(fusion) - 1}.0.{kind}"
    if match := _CARN_UP.match(name):
        which, layer, kind = match.groups()
        if which and int(which) != hparams["scale"]:
            return None  # another scale's upsampler of a multi-scale file
        return f"upsample.{layer}.{kind}"  # conv, ReLU, shuffle per stage: the same indices
    return name  # entry, exit; anything else is reported as unexpected by the strict load


def _carn_mean(state: Mapping[str, Any], hparams: dict[str, Any]) -> dict[str, Any]:
    """CARN's ``sub_mean`` is a 1×1 convolution with identity weight and bias −mean."""
    import torch

    weight, bias = state["sub_mean.shifter.weight"], state["sub_mean.shifter.bias"]
    identity = torch.eye(weight.shape[0]).reshape(weight.shape)
    if not torch.allclose(weight.float(), identity):
        raise ValueError("a mean shift that is not an identity plus bias")
    return {"mean": (-bias).reshape(1, -1, 1, 1).to(torch.float32)}


AUTHORS_CARN = Layout(
    name="CARN (the authors' CARN-pytorch weights)",
    architecture="carn",
    matches=_carn_matches,
    describe=_carn_describe,
    rename=_carn_rename,
    extra=_carn_mean,
)

LAYOUTS: tuple[Layout, ...] = (
    BASICSR_RRDBNET,
    EDSR_PYTORCH_EDSR,
    EDSR_PYTORCH_RCAN,
    AUTHORS_SWINIR,
    REAL_ESRGAN_SRVGG,
    AUTHORS_CARN,
)
"""Every layout :func:`recognise` knows."""


def recognise(shapes: Shapes) -> Layout | None:
    """The upstream layout a file's tensors (name → shape) are in; None for napari-sr's
    own layout or one not known."""
    return next((layout for layout in LAYOUTS if layout.matches(shapes)), None)
