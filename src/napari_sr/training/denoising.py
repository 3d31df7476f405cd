"""What a diffusion denoiser learns at one training step (ResShift's objective).

The training loop (:mod:`napari_sr.training.loop`) makes the same pairs for every network:
a low-resolution patch and its high-resolution target. A diffusion denoiser
(:class:`~napari_sr.models.diffusion_unet.DiffusionUNet`, framework ``"diffusion"``) does
not map one to the other: per patch a noise level ``t`` is drawn uniformly from the
schedule's levels and a state ``x_t`` from ``q(x_t | x0, y0)``, with ``x0`` the target and
``y0`` the model's condition (the patch interpolated to the target's grid, or its prior
network's estimate); the network predicts ``x0`` from ``x_t`` (scaled to about unit
variance), ``y0`` and ``t``, and the run's loss compares that prediction with ``x0``.

The levels and the noise of step ``k`` come from a CPU generator seeded by ``(seed, k)``:
a resumed run draws what an uninterrupted one would, on any device.

References
----------
Yue, Z., Wang, J., and Loy, C. C. (2023). ResShift: Efficient diffusion model for image
super-resolution by residual shifting. NeurIPS 36. arXiv:2307.12348.
"""

from __future__ import annotations

import torch

from ..models.resshift import input_scales, seeded_generator, training_inputs

STREAM = 0x646966
"""Tags the seed sequence of the denoising draws, apart from the loop's other streams."""


class Denoising:
    """The prediction of a diffusion denoiser at one step (see the module docstring).

    Parameters
    ----------
    seed : int
        The run's seed.
    """

    def __init__(self, seed: int) -> None:
        self.seed = int(seed)

    def generator(self, step: int) -> torch.Generator:
        """The CPU generator of step ``step`` (0-based)."""
        return seeded_generator(self.seed, STREAM, step)

    def predict(
        self, model: torch.nn.Module, low: torch.Tensor, high: torch.Tensor, step: int
    ) -> torch.Tensor:
        """The model's prediction of ``high`` (N, C, H, W) from a noisy state of it, given
        the low-resolution batch ``low`` (N, C, H/s, W/s)."""
        schedule = model.schedule
        y0 = model.condition(low)
        # the state is data: the condition's gradient flows through the network's input only
        state, levels = training_inputs(schedule, high, y0.detach(), self.generator(step))
        return model(state * input_scales(schedule, levels), y0, levels)
