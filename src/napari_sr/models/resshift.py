"""The residual-shifting diffusion of ResShift: its noise schedule, its Gaussians and its
sampler.

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

The network predicts ``x0`` from ``x_t``, ``y0`` and ``t``; sampling (:func:`sample`) draws
``x_T`` from the marginal with ``x0 = y0`` and replaces ``x0`` by the prediction in each
posterior. Each sample draws its noise from a generator of its own, seeded by ``(seed,
sample index)`` on the CPU, so a run is repeated exactly by its seed on any device, and the
first samples of a run of 8 are those of a run of 2. The whole image is one state: a
caller that runs the network tile by tile blends the tiles' predictions at every step, and
the noise of a pixel does not depend on the tiling.

Levels are indexed 1 to ``T`` as in the paper; index 0 is the clean image.

References
----------
Yue, Z., Wang, J., and Loy, C. C. (2023). ResShift: Efficient diffusion model for image
super-resolution by residual shifting. NeurIPS 36. arXiv:2307.12348.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..utils.progress import Cancelled, CancelToken, ProgressCallback, is_cancelled, report

__all__ = ["Denoiser", "ResShiftSchedule", "input_scales", "sample", "sample_generators",
           "seeded_generator", "summarise", "training_inputs"]  # fmt: skip


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


# ----------------------------------------------------------------------------- training


def training_inputs(
    schedule: ResShiftSchedule,
    x0: torch.Tensor,
    y0: torch.Tensor,
    generator: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A training batch's states: a level ``t`` drawn uniformly from 1 to ``T`` per image
    and ``x_t`` drawn from ``q(x_t | x0, y0)``; the network learns ``x0`` from
    ``(x_t · input_scale(t), y0, t)``.

    Parameters
    ----------
    schedule : ResShiftSchedule
    x0, y0 : torch.Tensor
        (N, C, H, W) high-resolution targets and their interpolated low-resolution inputs.
    generator : torch.Generator
        A CPU generator: the levels and the noise (drawn on the CPU in float32 and moved to
        ``x0``'s device, so a seeded step is the same on every device).

    Returns
    -------
    (torch.Tensor, torch.Tensor)
        ``x_t`` (N, C, H, W) and the levels ``t`` (N,) int64, on ``x0``'s device.
    """
    n = x0.shape[0]
    levels = torch.randint(1, schedule.levels + 1, (n,), generator=generator)
    noise = torch.randn(x0.shape, generator=generator, dtype=torch.float32)
    etas = torch.as_tensor(schedule.etas, dtype=torch.float64)[levels - 1]
    shift = etas.to(x0.dtype).to(x0.device)[:, None, None, None]
    spread = (schedule.kappa * etas.sqrt()).to(x0.dtype).to(x0.device)[:, None, None, None]
    state = x0 + shift * (y0 - x0) + spread * noise.to(device=x0.device, dtype=x0.dtype)
    return state, levels.to(x0.device)


def input_scales(schedule: ResShiftSchedule, levels: torch.Tensor, data_std: float = 1.0):
    """:meth:`ResShiftSchedule.input_scale` of each level of ``levels`` (N,), as an
    (N, 1, 1, 1) float32 tensor on their device."""
    values = [schedule.input_scale(int(t), data_std) for t in levels.tolist()]
    return torch.tensor(values, dtype=torch.float32, device=levels.device)[:, None, None, None]


# ----------------------------------------------------------------------------- sampling


Denoiser = Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor]
"""``denoise(x_t, y0, t)``: the clean image predicted from the state ``x_t`` (N, C, H, W)
at level ``t``, given the interpolated low-resolution image ``y0`` (1 or N, C, H, W)."""


def seeded_generator(*entropy: int) -> torch.Generator:
    """A CPU generator seeded by the integers ``entropy`` through
    :class:`numpy.random.SeedSequence`: distinct tuples give independent streams."""
    state = np.random.SeedSequence([int(e) for e in entropy]).generate_state(2, np.uint32)
    generator = torch.Generator(device="cpu")
    generator.manual_seed(int(state[0]) << 32 | int(state[1]))
    return generator


def sample_generators(seed: int, samples: int, first: int = 0) -> list[torch.Generator]:
    """One CPU generator per sample, seeded by ``(seed, index)``."""
    return [seeded_generator(seed, index) for index in range(first, first + samples)]


def _noise(generators: list[torch.Generator], like: torch.Tensor) -> torch.Tensor:
    """Standard normal noise of ``like``'s shape (one sample per generator), drawn on the
    CPU in float32 and moved to ``like``'s device and dtype."""
    shape = like.shape[1:]
    drawn = [torch.randn(shape, generator=g, dtype=torch.float32) for g in generators]
    return torch.stack(drawn).to(device=like.device, dtype=like.dtype)


def sample(
    denoise: Denoiser,
    y0: torch.Tensor,
    schedule: ResShiftSchedule,
    *,
    samples: int = 1,
    steps: int | None = None,
    seed: int = 0,
    first_sample: int = 0,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> torch.Tensor:
    """Draw samples of the clean image by ResShift's reverse process.

    Parameters
    ----------
    denoise : callable
        ``denoise(x_t, y0, t)`` → the predicted clean image (see :data:`Denoiser`).
    y0 : torch.Tensor
        (1, C, H, W) low-resolution image interpolated to the output grid, in the units the
        network was trained in.
    schedule : ResShiftSchedule
        The schedule the network was trained with.
    samples : int
        How many samples, drawn together as one batch.
    steps : int, optional
        Network evaluations per sample: all the schedule's levels by default, else that
        many of them (:meth:`ResShiftSchedule.sampling_levels`).
    seed : int
        Seed of the noise; sample ``i`` uses the stream ``(seed, first_sample + i)``.
    first_sample : int
        Index of the first sample (a run continued in batches).
    progress : callable, optional
        ``progress(done, total)`` after every step.
    cancel : CancelToken, optional
        Checked before every step; :class:`~napari_sr.Cancelled` is raised when set.

    Returns
    -------
    torch.Tensor
        (samples, C, H, W) on ``y0``'s device and dtype.
    """
    if isinstance(samples, bool) or int(samples) != samples or samples < 1:
        raise ValueError(f"samples must be a whole number of at least 1, not {samples!r}")
    if y0.ndim != 4 or y0.shape[0] != 1:
        raise ValueError(f"y0 must be one (1, C, H, W) image, not of shape {tuple(y0.shape)}")
    levels = schedule.sampling_levels(steps)
    generators = sample_generators(seed, int(samples), first_sample)
    condition = y0.expand(int(samples), *y0.shape[1:])
    mean, std = schedule.prior(condition)
    state = mean + std * _noise(generators, condition)
    total = len(levels)
    for done, t in enumerate(levels):
        if is_cancelled(cancel):
            raise Cancelled("cancelled by the caller")
        with torch.no_grad():
            clean = denoise(state, condition, t)
        below = levels[done + 1] if done + 1 < total else 0
        mean, std = schedule.posterior(state, clean, t, below)
        state = mean + std * _noise(generators, state) if below else mean
        report(progress, done + 1, total)
    return state


def summarise(samples: torch.Tensor | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel mean and standard deviation over the samples (axis 0).

    The standard deviation is the unbiased estimate (``ddof=1``), zero for one sample.
    Both are float32 arrays of one sample's shape."""
    values = samples.detach().cpu().numpy() if isinstance(samples, torch.Tensor) else samples
    values = np.asarray(values, dtype=np.float64)
    mean = values.mean(axis=0)
    if values.shape[0] < 2:
        return mean.astype(np.float32), np.zeros_like(mean, dtype=np.float32)
    return mean.astype(np.float32), values.std(axis=0, ddof=1).astype(np.float32)
