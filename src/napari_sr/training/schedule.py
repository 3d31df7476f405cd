"""Learning rate as a pure function of the step number.

A function of the step alone (no scheduler object with hidden state) makes an interrupted
and resumed run follow exactly the same rates as an uninterrupted one.
"""

from __future__ import annotations

import math

from .config import SCHEDULES


def learning_rate(
    step: int,
    *,
    lr: float,
    steps: int,
    schedule: str = "cosine",
    warmup_steps: int = 0,
    min_lr: float = 0.0,
    decay_every: int | None = None,
    decay_factor: float = 0.5,
) -> float:
    """The learning rate of update number ``step`` (0-based).

    Parameters
    ----------
    step : int
        Index of the update, ``0 <= step < steps``.
    lr : float
        Peak learning rate.
    steps : int
        Total updates of the run.
    schedule : {'cosine', 'step', 'constant'}
        After the warm-up: half a cosine from ``lr`` down to ``min_lr`` (reached at
        ``steps``; Loshchilov & Hutter 2017, SGDR, arXiv:1608.03983, without restarts),
        ``lr * decay_factor ** k`` after ``k`` periods of ``decay_every`` steps, or ``lr``.
    warmup_steps : int
        Linear warm-up: update ``i < warmup_steps`` uses ``lr * (i + 1) / warmup_steps``.
    min_lr : float
        End of the cosine.
    decay_every : int, optional
        Period of the step schedule; default a quarter of the steps after the warm-up.
    decay_factor : float
        Factor per period of the step schedule.

    Returns
    -------
    float

    Examples
    --------
    >>> learning_rate(50, lr=1e-3, steps=100)  # half-way down the cosine
    0.0005
    """
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}; choose one of {', '.join(SCHEDULES)}")
    if step < warmup_steps:
        return lr * (step + 1) / warmup_steps
    after = step - warmup_steps
    if schedule == "constant":
        return lr
    if schedule == "step":
        period = decay_every or max(1, (steps - warmup_steps) // 4)
        return lr * decay_factor ** (after // period)
    progress = min(1.0, after / max(1, steps - warmup_steps))
    return min_lr + (lr - min_lr) * 0.5 * (1 + math.cos(math.pi * progress))
