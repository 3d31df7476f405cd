"""One progress over the stages of a self-supervised method (training, then prediction).

:class:`~napari_sr.utils.progress.Stages` adds a stage's ``done`` to where the previous
stages ended, which assumes the stage counts in the units its share was planned in. The
inference engine counts tiles, not planes, so a tiled prediction would run past its share
(and past 100 %). :func:`share` scales whatever a stage counts into its share instead.
"""

from __future__ import annotations

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
