"""napari-sr: super-resolution of microscopy and medical images and stacks.

The public API is loaded lazily: ``import napari_sr`` is cheap and imports no torch,
napari or Qt; each name below is imported on first use.

Examples
--------
>>> import numpy as np, napari_sr
>>> napari_sr.upscale(np.ones((4, 4), np.float32), 2, method="bicubic").shape
(8, 8)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ._version import __version__

# public name -> module that defines it (relative to this package)
_LAZY = {
    "Image": ".image",
    "upscale": ".engine.upscaler",
    "resize": ".resample",
    "degrade": ".degradation",
    "psnr": ".metrics",
    "list_models": ".models",
    "list_methods": ".engine.method_table",
    "create_model": ".models.factory",
    "save_model": ".models.checkpoint",
    "load_model": ".models.checkpoint",
    "export_model": ".models.export",
    "export_bmz": ".models.bmz",
    "train": ".training.loop",
    "TrainConfig": ".training.config",
    "ZSSRConfig": ".selfsup.config",
    "IsotropicConfig": ".selfsup.config",
    "reconstruct": ".selfsup.isotropic",
    "isotropic": ".selfsup.isotropic",
    "train_isotropic": ".selfsup.isotropic",
    "zssr": ".selfsup.zssr",
    "register": ".multiframe.registration",
    "misr": ".multiframe.misr",
    "ssim": ".metrics",
    "niqe": ".naturalness",
    "lpips": ".similarity",
    "spectral_fidelity": ".spectrum",
    "data_consistency": ".consistency",
    "Cancelled": ".utils.progress",
    "MethodFallbackWarning": ".engine.methods",
    "BelowInterpolationWarning": ".training.log",
    "CheckpointWriteError": ".training.state",
    "FramesMismatchWarning": ".multiframe.consistency",
    "list_samples": ".samples",
    "load_sample": ".samples",
}
_SUBMODULES = ("io", "axes", "geometry", "metrics", "rating", "samples")

__all__ = [  # noqa: RUF022 - grouped: functions, classes, submodules
    "__version__",
    "upscale",
    "resize",
    "degrade",
    "psnr",
    "ssim",
    "niqe",
    "lpips",
    "spectral_fidelity",
    "data_consistency",
    "list_models",
    "list_methods",
    "create_model",
    "save_model",
    "load_model",
    "export_model",
    "export_bmz",
    "train",
    "TrainConfig",
    "ZSSRConfig",
    "IsotropicConfig",
    "reconstruct",
    "isotropic",
    "train_isotropic",
    "zssr",
    "register",
    "misr",
    "list_samples",
    "load_sample",
    "Image",
    "Cancelled",
    "MethodFallbackWarning",
    "BelowInterpolationWarning",
    "CheckpointWriteError",
    "FramesMismatchWarning",
    "io",
    "axes",
    "geometry",
    "metrics",
    "rating",
    "samples",
]

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from . import axes, geometry, io, metrics, samples
    from .consistency import data_consistency
    from .degradation import degrade
    from .engine.method_table import list_methods
    from .engine.methods import MethodFallbackWarning
    from .engine.upscaler import upscale
    from .image import Image
    from .metrics import psnr, ssim
    from .models import list_models
    from .models.bmz import export_bmz
    from .models.checkpoint import load_model, save_model
    from .models.export import export_model
    from .models.factory import create_model
    from .multiframe.consistency import FramesMismatchWarning
    from .multiframe.misr import misr
    from .multiframe.registration import register
    from .naturalness import niqe
    from .resample import resize
    from .samples import list_samples, load_sample
    from .selfsup.config import IsotropicConfig, ZSSRConfig
    from .selfsup.isotropic import isotropic, reconstruct, train_isotropic
    from .selfsup.zssr import zssr
    from .similarity import lpips
    from .spectrum import spectral_fidelity
    from .training.config import TrainConfig
    from .training.log import BelowInterpolationWarning
    from .training.loop import train
    from .training.state import CheckpointWriteError
    from .utils.progress import Cancelled


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module 'napari_sr' has no attribute {name!r}")
    globals()[name] = value  # cache: later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
