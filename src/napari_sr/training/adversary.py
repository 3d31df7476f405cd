"""The discriminator's side of an adversarial training run (a GAN), for the loop of
:mod:`.loop`.

Each step of an adversarial run (ESRGAN's and Real-ESRGAN's order, as BasicSR trains):

1. the generator's update: its loss is the config's ``loss`` (pixel, perceptual and
   texture terms) plus ``adversarial_weight`` times the adversarial loss of the
   discriminator's logits on its output (the discriminator frozen), plus ``feature_matching``
   when the loss names it;
2. the discriminator's update on the same batch: the high-resolution patches against the
   generator's output (detached);
3. the generator's weight average (:mod:`.ema`), kept by the loop.

Both networks' weights, both optimisers and the average are in the resume state, so an
interrupted adversarial run continues bit for bit like any other.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .adversarial import discriminator_accuracy, discriminator_loss, generator_loss
from .config import TrainConfig


class Adversary:
    """A discriminator, its optimiser and the adversarial loss of a training config.

    Parameters
    ----------
    config : TrainConfig
        An adversarial recipe (``discriminator``, ``discriminator_hparams``, ``gan_loss``,
        ``adversarial_weight``, ``discriminator_lr``, ``betas``, the ``feature_matching``
        weight of ``loss``).
    in_channels : int
        The generator's channels (the discriminator takes its output).
    device : torch.device
        Where both train.

    Notes
    -----
    The discriminator is drawn from the torch generator as it stands (the loop seeds it
    with ``seed`` after the generator), so the same seed gives the same run.
    """

    def __init__(self, config: TrainConfig, in_channels: int, device: torch.device) -> None:
        from ..models.discriminators import create_discriminator

        hparams = dict(config.discriminator_hparams or {})
        self.network = create_discriminator(config.discriminator, in_channels=in_channels,
                                            **hparams).to(device).train()  # fmt: skip
        self.kind = config.gan_loss
        self.weight = config.adversarial_weight
        self.matching = float(config.loss.get("feature_matching", 0.0))
        peak = config.discriminator_lr or config.lr
        self.lr_ratio = peak / config.lr  # the discriminator follows the generator's schedule
        self.optimizer = torch.optim.Adam(self.network.parameters(), lr=peak, betas=config.betas)
        self._features: list[torch.Tensor] = []
        self._batch_norm = any(
            isinstance(m, nn.modules.batchnorm._BatchNorm) for m in self.network.modules()
        )
        if self.matching:
            # every convolution's output but the last (the logits) is a matched feature
            convolutions = [m for m in self.network.modules() if isinstance(m, nn.Conv2d)]
            for module in convolutions[:-1]:
                module.register_forward_hook(self._keep)

    def _keep(self, _module: nn.Module, _inputs: Any, output: torch.Tensor) -> None:
        self._features.append(output)

    def _score(self, images: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        self._features = []
        logits = self.network(images)
        features, self._features = self._features, []
        return logits, features

    def generator_terms(
        self, fake: torch.Tensor, real: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """The generator's adversarial loss (weighted, with gradients to ``fake``) and,
        unweighted as floats, its terms: ``adversarial`` and ``feature_matching``."""
        self.network.requires_grad_(False)  # gradients reach the generator only
        try:
            real_logits, real_features = None, []
            if not (self.kind == "ragan" or self.matching):
                fake_logits, fake_features = self._score(fake)
            elif self._batch_norm:  # batch statistics of real and generated apart (BasicSR)
                fake_logits, fake_features = self._score(fake)
                with torch.no_grad():
                    real_logits, real_features = self._score(real)
            else:  # one pass: the same spectral normalisation for both halves
                logits, features = self._score(torch.cat([fake, real.detach()]))
                n = fake.shape[0]
                fake_logits, real_logits = logits[:n], logits[n:].detach()
                fake_features = [f[:n] for f in features]
                real_features = [f[n:].detach() for f in features]
            adversarial = generator_loss(self.kind, fake_logits, real_logits)
            total = self.weight * adversarial
            terms = {"adversarial": float(adversarial.detach())}
            if self.matching:
                matched = torch.stack([
                    F.l1_loss(a, b) for a, b in zip(fake_features, real_features, strict=True)
                ]).mean()  # fmt: skip
                total = total + self.matching * matched
                terms["feature_matching"] = float(matched.detach())
        finally:
            self.network.requires_grad_(True)
        return total, terms

    def update(self, real: torch.Tensor, fake: torch.Tensor, rate: float) -> dict[str, float]:
        """One optimiser step of the discriminator at the generator's learning ``rate``
        (times ``discriminator_lr / lr``); its loss and accuracy before the step."""
        for group in self.optimizer.param_groups:
            group["lr"] = rate * self.lr_ratio
        self.optimizer.zero_grad(set_to_none=True)
        real_logits, _ = self._score(real)
        fake_logits, _ = self._score(fake.detach())
        loss = discriminator_loss(self.kind, real_logits, fake_logits)
        value = float(loss.detach())
        if not np.isfinite(value):
            raise ValueError(
                f"adversarial training diverged: the discriminator's loss is {value}; use a "
                "smaller discriminator_lr or adversarial_weight, or more warmup_steps"
            )
        loss.backward()
        self.optimizer.step()
        return {
            "discriminator": value,
            "d_accuracy": discriminator_accuracy(self.kind, real_logits, fake_logits),
        }

    def accuracy(self, real: torch.Tensor, fake: torch.Tensor) -> float:
        """The discriminator's accuracy on ``real`` and ``fake`` images, without training
        it (eval mode is not used: batch-norm statistics are those of training)."""
        with torch.no_grad():
            real_logits, _ = self._score(real)
            fake_logits, _ = self._score(fake)
        return discriminator_accuracy(self.kind, real_logits, fake_logits)

    # ---- resume

    def state_dict(self) -> dict[str, Any]:
        """The discriminator's weights and its optimiser's state."""
        return {"weights": self.network.state_dict(), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict`'s record (checked by the caller)."""
        self.network.load_state_dict(state["weights"], strict=True)
        self.optimizer.load_state_dict(state["optimizer"])
