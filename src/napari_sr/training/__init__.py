"""Training single-image SR models on high-resolution images.

Rooms: :mod:`.config` (the validated recipe, the input of every trainer, and the
description of its options that the command line and the widgets show), :mod:`.data`
(images to normalised patch pairs), :mod:`.losses`, :mod:`.schedule` (learning rate per
step), :mod:`.validate` (PSNR/SSIM against bicubic), :mod:`.state` (resume files),
:mod:`.log` (text of log records) and :mod:`.loop` (:func:`train`, which ties them
together).

Importing this package loads no torch; :func:`train` does, when first used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__all__ = [
    "BelowInterpolationWarning",
    "CheckpointWriteError",
    "TrainConfig",
    "UnknownOptionError",
    "train",
]

_LAZY = {
    "BelowInterpolationWarning": ".log",
    "CheckpointWriteError": ".state",
    "TrainConfig": ".config",
    "UnknownOptionError": ".config",
    "train": ".loop",
}

if TYPE_CHECKING:  # pragma: no cover
    from .config import TrainConfig, UnknownOptionError
    from .log import BelowInterpolationWarning
    from .loop import train
    from .state import CheckpointWriteError


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module 'napari_sr.training' has no attribute {name!r}")
