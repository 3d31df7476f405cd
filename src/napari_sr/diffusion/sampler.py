"""The reverse process of residual shifting: samples of the high-resolution image given the
interpolated low-resolution one, from any network that predicts the clean image.

Each sample draws its noise from a generator of its own, seeded by ``(seed, sample index)``
on the CPU, so a run is repeated exactly by its seed on any device, and the first samples
of a run of 8 are those of a run of 2. The whole image is one state: a caller that runs the
network tile by tile (:func:`sample` takes any ``denoise``) blends the tiles' predictions at
every step, and the noise of a pixel does not depend on the tiling.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from ..utils.progress import Cancelled, CancelToken, ProgressCallback, is_cancelled, report
from .schedule import ResShiftSchedule

__all__ = ["Denoiser", "sample", "sample_generators", "summarise"]

Denoiser = Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor]
"""``denoise(x_t, y0, t)``: the clean image predicted from the state ``x_t`` (N, C, H, W)
at level ``t``, given the interpolated low-resolution image ``y0`` (1 or N, C, H, W)."""


def sample_generators(seed: int, samples: int, first: int = 0) -> list[torch.Generator]:
    """One CPU generator per sample, seeded by ``(seed, index)`` (independent streams:
    :class:`numpy.random.SeedSequence`)."""
    out = []
    for index in range(first, first + samples):
        state = np.random.SeedSequence([int(seed), index]).generate_state(2, np.uint32)
        generator = torch.Generator(device="cpu")
        generator.manual_seed(int(state[0]) << 32 | int(state[1]))
        out.append(generator)
    return out


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
