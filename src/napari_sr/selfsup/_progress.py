"""One progress over the stages of a self-supervised method (training, then prediction),
and the checks of the options such a method reads before training.

:class:`~napari_sr.utils.progress.Stages` adds a stage's ``done`` to where the previous
stages ended, which assumes the stage counts in the units its share was planned in. The
inference engine counts tiles, not planes, so a tiled prediction would run past its share
(and past 100 %). :func:`share` scales whatever a stage counts into its share instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..utils.progress import ProgressCallback, Stages, report


def share(counter: Stages, amount: int) -> ProgressCallback:
    """A callback for the next stage of ``counter``, which owns ``amount`` units: its own
    ``(done, total)``, in any unit, is mapped onto them (never past its share)."""
    offset, amount = counter.done, int(amount)

    def progress(done: int, total: int) -> None:
        total = max(int(total), 1)
        part = amount * min(max(int(done), 0), total) // total
        report(counter.progress, offset + part, counter.total)

    return progress


def check_training_options(
    steps: Any, patch_size: Any = None, hparams: Any = None, validation_fraction: Any = 0.0
) -> int:
    """Check the options a self-supervised method reads itself before the training
    recipe sees them (to plan its progress, pick its patches); returns ``steps``."""
    from ..training.config import _float, _int

    steps = _int(steps, "steps", minimum=1)
    if patch_size is not None:
        _int(patch_size, "patch_size", minimum=2)
    if hparams is not None and not isinstance(hparams, Mapping):
        raise TypeError(
            f"hparams must be a dict of the architecture's settings, such as "
            f"{{'depth': 8}}, not {hparams!r}"
        )
    _float(validation_fraction, "validation_fraction", low=0, high=0.5)
    return steps
