"""The residual-shifting diffusion of ResShift: its noise schedule and its Gaussians.

ResShift (Yue et al. 2023) diffuses from the high-resolution image ``x0`` to the
interpolated low-resolution image ``y0`` plus noise, instead of to pure noise as SR3 and
DDPM do, so that sampling starts close to the answer and needs few steps (4-15 against
SR3's hundreds). With the residual ``e0 = y0 - x0`` and a schedule
``0 < η_1 < ... < η_T ≈ 1``:

- forward step: ``q(x_t | x_{t-1}) = N(x_{t-1} + α_t e0, κ² α_t)``, ``α_t = η_t - η_{t-1}``
  (``η_0 = 0``);
- marginal: ``q(x_t | x0, y0) = N(x0 + η_t e0, κ² η_t)``: at ``t = T`` about ``y0`` plus
  noise of standard deviation ``κ``;
- posterior, between any two levels ``s < t`` (``s = 0`` gives ``x0``):
  ``q(x_s | x_t, x0) = N((η_s / η_t) x_t + (1 - η_s / η_t) x0, κ² η_s (η_t - η_s) / η_t)``;
  it does not involve ``y0``. Adjacent levels are ResShift's reverse step; levels further
  apart let a network trained on ``T`` levels sample in fewer steps.

The network predicts ``x0`` from ``x_t``, ``y0`` and ``t``; sampling draws ``x_T`` from the
marginal with ``x0 = y0`` and replaces ``x0`` by the prediction in each posterior.

Levels are indexed 1 to ``T`` as in the paper; index 0 is the clean image.

References
----------
Yue, Z., Wang, J., and Loy, C. C. (2023). ResShift: Efficient diffusion model for image
super-resolution by residual shifting. NeurIPS 36. arXiv:2307.12348.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["ResShiftSchedule"]


@dataclass(frozen=True)
class ResShiftSchedule:
    """The noise schedule ``η_1 … η_T`` of ResShift and the Gaussians it defines.

    ``sqrt(η_t) = sqrt(η_1) · b^β_t`` with ``β_t = ((t - 1) / (T - 1))^p · (T - 1)`` and
    ``b = (η_T / η_1)^(1 / (2 (T - 1)))``: ResShift's schedule, geometric in ``sqrt(η)``
    where ``p = 1``; ``p < 1`` spends more levels near ``η_T``, where the image is decided.

    Parameters
    ----------
    levels : int
        ``T``, the number of noise levels the network is trained on (≥ 2).
    kappa : float
        ``κ``: the noise standard deviation at ``η = 1``, in the units of the images
        (ResShift: 2.0 for images in [-1, 1]).
    power : float
        ``p`` (ResShift: 0.3).
    eta_last : float
        ``η_T``, below 1; default 0.99² = 0.9801, ResShift's released configurations
        (``etas_end: 0.99``, which their code applies to ``sqrt(η)``).
    eta_first : float, optional
        ``η_1``; default ResShift's released ``min(0.04 / κ, 0.04)²`` (``min_noise_level:
        0.04``): noise of standard deviation ``min(0.04, 0.04 κ)`` at the first level.

    Examples
    --------
    >>> schedule = ResShiftSchedule(levels=4)
    >>> [round(float(e), 4) for e in schedule.etas]
    [0.0004, 0.1096, 0.401, 0.9801]
    """

    levels: int = 15
    kappa: float = 2.0
    power: float = 0.3
    eta_last: float = 0.9801
    eta_first: float | None = None

    def __post_init__(self) -> None:
        if isinstance(self.levels, bool) or int(self.levels) != self.levels or self.levels < 2:
            raise ValueError(f"levels must be a whole number of at least 2, not {self.levels!r}")
        object.__setattr__(self, "levels", int(self.levels))
        if not self.kappa > 0 or not math.isfinite(self.kappa):
            raise ValueError(f"kappa (the noise scale) must be > 0, not {self.kappa!r}")
        if not self.power > 0 or not math.isfinite(self.power):
            raise ValueError(f"power must be > 0, not {self.power!r}")
        first = self.eta_first
        if first is None:
            first = min(0.04 / self.kappa, 0.04) ** 2
        object.__setattr__(self, "eta_first", float(first))
        if not 0 < self.eta_first < self.eta_last < 1:
            raise ValueError(
                f"the schedule needs 0 < eta_first < eta_last < 1, not eta_first "
                f"{self.eta_first:g}, eta_last {self.eta_last:g}"
            )

    @property
    def etas(self) -> np.ndarray:
        """``η_1 … η_T`` (float64, increasing)."""
        t = np.arange(1, self.levels + 1, dtype=np.float64)
        steps = self.levels - 1
        beta = ((t - 1) / steps) ** self.power * steps
        log_base = math.log(self.eta_last / self.eta_first) / (2 * steps)
        return (math.sqrt(self.eta_first) * np.exp(beta * log_base)) ** 2

    def eta(self, t: int) -> float:
        """``η_t``; ``η_0 = 0``."""
        self._check_level(t, low=0)
        return 0.0 if t == 0 else float(self.etas[t - 1])

    @property
    def alphas(self) -> np.ndarray:
        """``α_t = η_t - η_{t-1}`` for ``t = 1 … T`` (``α_1 = η_1``)."""
        return np.diff(self.etas, prepend=0.0)

    def marginal(self, x0: Any, y0: Any, t: int) -> tuple[Any, float]:
        """Mean and standard deviation of ``q(x_t | x0, y0)``: ``x0 + η_t (y0 - x0)`` and
        ``κ sqrt(η_t)`` (arrays or tensors alike)."""
        eta = self.eta(t)
        return x0 + eta * (y0 - x0), self.kappa * math.sqrt(eta)

    def prior(self, y0: Any) -> tuple[Any, float]:
        """Mean and standard deviation sampling starts from: ``q(x_T | x0 = y0)``."""
        return self.marginal(y0, y0, self.levels)

    def posterior(self, x_t: Any, x0: Any, t: int, s: int | None = None) -> tuple[Any, float]:
        """Mean and standard deviation of ``q(x_s | x_t, x0)`` for a level ``s < t``
        (default ``t - 1``); ``s = 0`` gives ``x0`` exactly."""
        s = t - 1 if s is None else s
        self._check_level(t, low=1)
        self._check_level(s, low=0)
        if s >= t:
            raise ValueError(f"the posterior goes down, from level {t} to a lower one, not {s}")
        eta_t, eta_s = self.eta(t), self.eta(s)
        keep = eta_s / eta_t
        std = self.kappa * math.sqrt(eta_s * (eta_t - eta_s) / eta_t)
        return keep * x_t + (1 - keep) * x0, std

    def sampling_levels(self, steps: int | None = None) -> list[int]:
        """The levels a sampler of ``steps`` steps visits, from ``T`` down (each step goes
        to the next one, the last to 0): all ``T`` by default, else ``steps`` levels
        evenly spaced in index, always including ``T`` and 1."""
        steps = self.levels if steps is None else steps
        if isinstance(steps, bool) or int(steps) != steps or not 1 <= steps <= self.levels:
            raise ValueError(
                f"steps must be a whole number from 1 to the {self.levels} levels the network "
                f"was trained on, not {steps!r}"
            )
        if steps == 1:
            return [self.levels]
        picked = np.round(np.linspace(self.levels, 1, int(steps))).astype(int)
        return [int(t) for t in picked]

    def input_scale(self, t: int, data_std: float = 1.0) -> float:
        """``1 / sqrt(κ² η_t + data_std²)``: what ResShift multiplies ``x_t`` by before the
        network, so that its input has about unit variance at every level."""
        return 1.0 / math.sqrt(self.kappa**2 * self.eta(t) + data_std**2)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (the model record's ``diffusion`` entry)."""
        return {"kind": "resshift", "levels": self.levels, "kappa": self.kappa,
                "power": self.power, "eta_last": self.eta_last,
                "eta_first": self.eta_first}  # fmt: skip

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ResShiftSchedule:
        """The schedule of :meth:`to_dict`'s record."""
        values = dict(values)
        kind = values.pop("kind", "resshift")
        if kind != "resshift":
            raise ValueError(f"unknown diffusion schedule {kind!r}; this version knows 'resshift'")
        unknown = set(values) - {"levels", "kappa", "power", "eta_last", "eta_first"}
        if unknown:
            raise ValueError(f"unknown schedule field(s) {', '.join(sorted(unknown))}")
        return cls(**values)

    def _check_level(self, t: int, low: int) -> None:
        if isinstance(t, bool) or int(t) != t or not low <= t <= self.levels:
            raise ValueError(
                f"level must be a whole number from {low} to {self.levels}, not {t!r}"
            )
