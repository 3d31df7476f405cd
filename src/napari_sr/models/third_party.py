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
        ``describe(shapes) -> (scale, in_channels, hparams)``.
    rename : callable
        ``rename(name, hparams) -> str``: napari-sr's name of an upstream tensor.
    """

    name: str
    architecture: str
    matches: Callable[[Shapes], bool]
    describe: Callable[[Shapes], tuple[int, int, dict[str, Any]]]
    rename: Callable[[str, dict[str, Any]], str]

    def convert(self, state: Mapping[str, Any]) -> tuple[dict[str, Any], int, int, dict]:
        """``state`` renamed to napari-sr's layout, with the scale, channels and
        hyperparameters read from it."""
        shapes = {k: tuple(v.shape) for k, v in state.items()}
        scale, in_channels, hparams = self.describe(shapes)
        renamed = {self.rename(k, hparams): v for k, v in state.items()}
        return renamed, scale, in_channels, hparams


# ------------------------------------------------------------------- BasicSR RRDBNet

_RDB = re.compile(r"^body\.(\d+)\.rdb([123])\.conv([1-5])\.(weight|bias)$")
_RRDB_FIXED = {"conv_first": "head", "conv_hr": "hr", "conv_last": "tail"}


def _rrdb_matches(shapes: Shapes) -> bool:
    needed = {"conv_first.weight", "conv_body.weight", "conv_up1.weight", "conv_up2.weight",
              "conv_hr.weight", "conv_last.weight", "body.0.rdb1.conv1.weight"}  # fmt: skip
    return needed <= set(shapes)


def _rrdb_describe(shapes: Shapes) -> tuple[int, int, dict[str, Any]]:
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

LAYOUTS: tuple[Layout, ...] = (BASICSR_RRDBNET,)
"""Every layout :func:`recognise` knows."""


def recognise(shapes: Shapes) -> Layout | None:
    """The upstream layout a file's tensors (name → shape) are in; None for napari-sr's
    own layout or one not known."""
    return next((layout for layout in LAYOUTS if layout.matches(shapes)), None)
