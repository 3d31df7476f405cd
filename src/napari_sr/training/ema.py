"""An exponential moving average of a network's weights (ESRGAN's and Real-ESRGAN's
``params_ema``): the weights a GAN-trained generator is evaluated and saved with, as the
raw weights jitter from step to step under the adversarial loss.

After each optimiser step, ``average ← decay · average + (1 − decay) · weights`` for every
floating-point parameter and buffer (integer buffers, such as batch-norm's step counts,
are copied). Early on the average would be dominated by the initial weights, so the decay
used at update ``n`` is ``min(decay, (1 + n) / (10 + n))`` (the warm-up of TensorFlow's
``ExponentialMovingAverage`` with ``num_updates``).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn


class WeightAverage:
    """The moving average of ``model``'s weights.

    Parameters
    ----------
    model : torch.nn.Module
        The network being trained; the average starts as a copy of its weights.
    decay : float
        In [0, 1): the weight of the past at each update (BasicSR uses 0.999).

    Attributes
    ----------
    average : torch.nn.Module
        A copy of ``model`` holding the averaged weights, in eval mode, without gradients.
    updates : int
        Updates so far.
    """

    def __init__(self, model: nn.Module, decay: float = 0.999) -> None:
        if not 0 <= decay < 1:
            raise ValueError(f"the average's decay must be in [0, 1), not {decay}")
        self.decay = float(decay)
        self.average = copy.deepcopy(model).eval().requires_grad_(False)
        self.updates = 0

    def current_decay(self) -> float:
        """The decay of the next update (smaller during the warm-up)."""
        return min(self.decay, (1 + self.updates) / (10 + self.updates))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Fold ``model``'s current weights into the average (after an optimiser step)."""
        decay = self.current_decay()
        averaged = self.average.state_dict()
        for name, value in model.state_dict().items():
            target = averaged[name]
            if target.is_floating_point():
                target.mul_(decay).add_(value.detach().to(target.dtype), alpha=1 - decay)
            else:
                target.copy_(value)
        self.updates += 1

    def state_dict(self) -> dict[str, Any]:
        """What a resume needs: the averaged weights, the decay and the update count."""
        return {
            "weights": {k: v.clone() for k, v in self.average.state_dict().items()},
            "decay": self.decay,
            "updates": self.updates,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict`'s record; a ValueError when it does not fit."""
        try:
            self.average.load_state_dict(state["weights"], strict=True)
            decay, updates = float(state["decay"]), int(state["updates"])
        except (KeyError, RuntimeError, TypeError, ValueError) as err:
            raise ValueError(f"the weight average's saved state does not fit: {err}") from None
        if decay != self.decay:
            raise ValueError(
                f"the weight average was saved with decay {decay}, not {self.decay}: "
                "resume with the same decay"
            )
        self.updates = updates
