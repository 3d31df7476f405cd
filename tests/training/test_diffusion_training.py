"""The one training loop trains diffusion denoisers: ResShift's objective draws its levels
and noise per step from the run's seed (a resumed run is bit-identical), validation keeps
the latest weights and scores them beyond PSNR, and a discriminator is refused."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from napari_sr import Cancelled  # noqa: E402
from napari_sr.models.resshift import ResShiftSchedule, training_inputs  # noqa: E402
from napari_sr.training.denoising import Denoising  # noqa: E402
from napari_sr.training.loop import train  # noqa: E402

IMAGES = [np.random.default_rng(1).integers(0, 255, (32, 40), dtype=np.uint8)]
RUN = {
    "scale": 2, "steps": 4, "patch_size": 16, "batch_size": 2, "lr": 1e-3, "loss": "mse",
    "hparams": {"features": 8, "multipliers": (1, 2, 2), "blocks": 1, "levels": 3},
    "checkpoint_every": 1, "schedule": "constant",
}  # fmt: skip


def test_each_step_draws_its_own_levels_and_noise_from_the_seed():
    schedule = ResShiftSchedule(levels=5)
    x0, y0 = torch.zeros(4, 1, 8, 8), torch.ones(4, 1, 8, 8)
    draws = [training_inputs(schedule, x0, y0, Denoising(seed).generator(step))
             for seed, step in ((0, 3), (0, 3), (0, 4), (1, 3))]  # fmt: skip
    torch.testing.assert_close(draws[0][0], draws[1][0])
    assert torch.equal(draws[0][1], draws[1][1])
    assert not torch.allclose(draws[0][0], draws[2][0])
    assert not torch.allclose(draws[0][0], draws[3][0])


def test_a_resumed_run_is_bit_identical(tmp_path):
    whole = train("diffusion_unet", IMAGES, **RUN)
    done = []
    path = tmp_path / "d.safetensors"
    with pytest.raises(Cancelled):
        train("diffusion_unet", IMAGES, checkpoint=path, cancel=lambda: len(done) >= 2,
              progress=lambda k, n: done.append(k), **RUN)  # fmt: skip
    resumed = train("diffusion_unet", IMAGES, checkpoint=path, resume=True, **RUN)
    for (name, a), b in zip(whole.state_dict().items(), resumed.state_dict().values(),
                            strict=True):  # fmt: skip
        assert torch.equal(a, b), name
    assert whole.info.training["architecture"] == "diffusion_unet"


def test_validation_keeps_the_latest_weights_and_scores_them_beyond_psnr():
    model = train("diffusion_unet", IMAGES, validation=[IMAGES[0][:24, :24]],
                  validate_every=2, **RUN)  # fmt: skip
    report = model.info.metrics["validation"]
    assert report["kept"] == "latest" and report["step"] == 4
    assert "consistency_rms" in report
    # the prediction is of the clean image: the objective's output has the target's shape
    low = torch.rand(2, 1, 8, 8)
    assert Denoising(0).predict(model, low, torch.rand(2, 1, 16, 16), 0).shape == (2, 1, 16, 16)


def test_a_discriminator_is_refused():
    with pytest.raises(ValueError, match="samples its texture instead of learning it"):
        train("diffusion_unet", IMAGES, adversarial=True, **RUN)
