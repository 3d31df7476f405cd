"""Adversarial (GAN) training in the one training loop: the discriminator's side, the
generator's weight average, validation beyond PSNR, exact resume, and the checks.

Runs are tiny (FSRCNN, 16-32 pixel patches, a narrow U-Net discriminator, a few steps):
they test the machinery; the bundled perceptual model's card and benchmark test quality.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

torch = pytest.importorskip("torch")

from napari_sr import Cancelled  # noqa: E402
from napari_sr.models.checkpoint import load_model  # noqa: E402
from napari_sr.selfsup.config import ZSSRConfig  # noqa: E402
from napari_sr.training.adversary import Adversary  # noqa: E402
from napari_sr.training.config import TrainConfig  # noqa: E402
from napari_sr.training.log import format_record  # noqa: E402
from napari_sr.training.loop import train  # noqa: E402
from napari_sr.training.state import load_state, save_state, state_path  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::napari_sr.training.log.BelowInterpolationWarning")


def textured(shape, seed=0):
    """uint8 images with structure at every scale (what a discriminator can learn)."""
    rng = np.random.default_rng(seed)
    fine = rng.random(shape)
    coarse = ndimage.gaussian_filter(rng.random(shape), 3)
    image = 0.6 * (coarse - coarse.min()) / np.ptp(coarse) + 0.4 * fine
    return np.clip(image * 255, 0, 255).astype(np.uint8)


IMAGES = [textured((48, 48), seed=1), textured((40, 56), seed=2)]
GAN = {
    "scale": 2,
    "patch_size": 16,
    "batch_size": 2,
    "lr": 1e-3,
    "device": "cpu",
    "hparams": {"d": 8, "s": 4, "m": 1},
    "init": "scratch",
    "adversarial": True,
    "discriminator_hparams": {"features": 4},
}


def weights(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# ----------------------------------------------------------------- the discriminator's side


def test_generator_steps_lower_the_discriminators_accuracy():
    """A discriminator trained to tell noise patches from a generator's smooth ones is
    fooled after the generator's adversarial steps (the discriminator fixed)."""
    torch.manual_seed(0)
    config = TrainConfig(
        scale=1, steps=1, patch_size=16, adversarial=True, gan_loss="vanilla",
        adversarial_weight=1.0, discriminator_hparams={"features": 8}, lr=1e-2,
    )  # fmt: skip
    adversary = Adversary(config, 1, torch.device("cpu"))
    generator = torch.nn.Conv2d(1, 1, 3, padding=1)
    with torch.no_grad():  # starts as a blur: no texture
        generator.weight.fill_(1 / 9)
        generator.bias.zero_()
    draw = torch.Generator().manual_seed(3)
    real = torch.rand(8, 1, 16, 16, generator=draw)
    source = torch.rand(8, 1, 16, 16, generator=draw)
    for _ in range(40):
        adversary.update(real, generator(source).detach(), rate=2e-3)
    before = adversary.accuracy(real, generator(source).detach())
    assert before > 0.95  # it has learnt the difference
    optimizer = torch.optim.Adam(generator.parameters(), lr=1e-2)
    # the discriminator's gradients as its last update left them
    frozen = {k: p.grad.clone() for k, p in adversary.network.named_parameters()}
    for _ in range(30):
        optimizer.zero_grad()
        total, terms = adversary.generator_terms(generator(source), real)
        assert set(terms) == {"adversarial"}
        total.backward()
        optimizer.step()
    assert adversary.accuracy(real, generator(source).detach()) < 0.75
    # the generator's steps add nothing to the discriminator's gradients, and leave it
    # trainable
    for name, p in adversary.network.named_parameters():
        assert torch.equal(p.grad, frozen[name]) and p.requires_grad


def test_feature_matching_compares_the_discriminators_features():
    config = TrainConfig(scale=1, steps=1, patch_size=16, adversarial=True,
                         loss={"l1": 1, "feature_matching": 0.5},
                         discriminator_hparams={"features": 4})  # fmt: skip
    adversary = Adversary(config, 1, torch.device("cpu"))
    real = torch.rand(2, 1, 16, 16)
    same_terms = adversary.generator_terms(real.clone(), real)[1]
    assert same_terms["feature_matching"] == 0.0
    fake = torch.rand(2, 1, 16, 16, requires_grad=True)
    total, terms = adversary.generator_terms(fake, real)
    assert terms["feature_matching"] > 0
    total.backward()
    assert fake.grad is not None and fake.grad.abs().sum() > 0


# ----------------------------------------------------------------- runs of the loop


def test_an_adversarial_run_records_both_sides_and_scores_beyond_psnr():
    records = []
    validation = textured((200, 200), seed=5)  # NIQE needs 192 pixels after the crop
    model = train("fsrcnn", IMAGES, steps=4, validation=validation, validate_every=2,
                  log=records.append, log_every=2, **GAN)  # fmt: skip
    steps = [r for r in records if r["event"] == "step"]
    assert {"l1", "adversarial", "discriminator", "d_accuracy"} <= set(steps[0]["losses"])
    assert 0 <= steps[0]["losses"]["d_accuracy"] <= 1
    assert "D acc" in format_record(steps[0])
    checks = [r for r in records if r["event"] == "validation"]
    assert all(r["kept"] == "latest" and r["improved"] for r in checks)
    for name in ("niqe", "spectral_error_db", "spectral_high_db", "consistency_rms"):
        assert np.isfinite(checks[-1][name])
    assert "NIQE" in format_record(checks[-1]) and "best" not in format_record(checks[-1])
    report = model.training_report
    assert report["validation"]["step"] == 4  # the latest weights, whatever their PSNR
    assert report["validation"]["kept"] == "latest"
    assert report["validation"]["niqe"] == checks[-1]["niqe"]
    assert np.isfinite(report["bicubic"]["niqe"])
    assert model.training_config.ema_decay == 0.999


def test_the_weight_average_is_what_a_run_returns():
    plain = train("fsrcnn", IMAGES, steps=5, **{**GAN, "adversarial": False})
    averaged = train("fsrcnn", IMAGES, steps=5, ema_decay=0.5, **{**GAN, "adversarial": False})
    assert not same(weights(plain), weights(averaged))
    # decay 0: the average is the last weights
    zero = train("fsrcnn", IMAGES, steps=5, ema_decay=0.0, **{**GAN, "adversarial": False})
    assert same(weights(plain), weights(zero))


RUN = {**GAN, "steps": 6, "validation": textured((40, 40), seed=6), "validate_every": 2,
       "checkpoint_every": 2, "warmup_steps": 2,
       "loss": {"l1": 1.0, "consistency": 0.5, "feature_matching": 0.1}}  # fmt: skip


@pytest.mark.parametrize("stop_at", [3, 4])
def test_an_interrupted_adversarial_run_resumes_bit_for_bit(tmp_path, stop_at):
    whole = train("fsrcnn", IMAGES, checkpoint=tmp_path / "a.safetensors", **RUN)
    done = []
    with pytest.raises(Cancelled, match=f"after {stop_at} of 6 steps"):
        train("fsrcnn", IMAGES, checkpoint=tmp_path / "b.safetensors",
              progress=lambda k, n: done.append(k), cancel=lambda: len(done) >= stop_at,
              **RUN)  # fmt: skip
    state = load_state(state_path(tmp_path / "b.safetensors"))
    assert state.step == stop_at and state.discriminator and state.average["updates"] == stop_at
    resumed = train("fsrcnn", IMAGES, checkpoint=tmp_path / "b.safetensors", resume=True, **RUN)
    assert same(weights(whole), weights(resumed))
    a = load_state(state_path(tmp_path / "a.safetensors"))
    b = load_state(state_path(tmp_path / "b.safetensors"))
    assert same(a.discriminator, b.discriminator) and same(a.weights, b.weights)
    assert same(a.average["weights"], b.average["weights"])
    assert same(load_model(tmp_path / "a.safetensors").state_dict(), whole.state_dict())
    drop = {k: v for k, v in whole.training_report.items() if k != "seconds"}
    assert drop == {k: v for k, v in resumed.training_report.items() if k != "seconds"}


def test_a_resume_state_without_its_discriminator_is_refused(tmp_path):
    path = tmp_path / "m.safetensors"
    train("fsrcnn", IMAGES, steps=2, checkpoint=path, **GAN)
    state = load_state(state_path(path))
    state.discriminator, state.discriminator_optimizer = None, None
    save_state(state_path(path), state)
    with pytest.raises(ValueError, match="holds no discriminator, but this run is adversarial"):
        train("fsrcnn", IMAGES, steps=3, checkpoint=path, resume=True, **GAN)


def test_a_damaged_average_is_refused(tmp_path):
    path = tmp_path / "m.safetensors"
    train("fsrcnn", IMAGES, steps=2, checkpoint=path, **GAN)
    state = load_state(state_path(path))
    state.average["weights"].pop(next(iter(state.average["weights"])))
    save_state(state_path(path), state)
    with pytest.raises(ValueError, match="weight average lack"):
        train("fsrcnn", IMAGES, steps=3, checkpoint=path, resume=True, **GAN)


# ----------------------------------------------------------------- the options


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"loss": "vgg"}, "the vgg loss needs VGG19 weights"),
        ({"loss": {"l1": 1, "feature_matching": 1}}, "set adversarial=True"),
        ({"adversarial": True, "patience": 3}, "does not stop early"),
        (
            {"adversarial": True, "discriminator": "vgg_style", "patch_size": 96},
            "scores 128² patches, but patch_size is 96",
        ),
        ({"adversarial": True, "patch_size": 36}, "divisible by 8"),
        ({"adversarial": True, "discriminator_hparams": {"in_channels": 3}}, "in_channels"),
        ({"adversarial": True, "discriminator": "patchgan"}, "unknown discriminator"),
        ({"adversarial": True, "gan_loss": "wgan"}, "unknown gan_loss"),
        ({"adversarial": True, "adversarial_weight": -1}, "adversarial_weight must be"),
        ({"ema_decay": 1.0}, "ema_decay must be"),
        ({"adversarial": "yes"}, "adversarial must be True or False"),
    ],
)
def test_adversarial_options_are_checked(options, message):
    with pytest.raises((ValueError, TypeError), match=message):
        TrainConfig(scale=2, steps=10, **options)


def test_the_average_follows_adversarial_unless_given():
    gan = TrainConfig(scale=2, steps=10, adversarial=True)
    assert gan.ema_decay == 0.999
    assert gan.replace(adversarial=False).ema_decay == 0.0
    assert TrainConfig(scale=2, steps=10, adversarial=True, ema_decay=0).ema_decay == 0.0
    # older records, without these fields, load as the runs they were
    old = {k: v for k, v in TrainConfig(scale=2, steps=3).to_dict().items()
           if k not in ("adversarial", "ema_decay", "discriminator", "gan_loss")}  # fmt: skip
    assert TrainConfig.from_dict(old).ema_decay == 0.0


def test_self_supervised_recipes_take_no_discriminator():
    with pytest.raises(ValueError, match="zssr does not take adversarial"):
        ZSSRConfig(steps=10, adversarial=True)


def test_a_discriminator_of_another_size_is_refused_before_training():
    with pytest.raises(ValueError, match="vgg_style discriminator scores 128"):
        train("fsrcnn", IMAGES, steps=1, **{**GAN, "discriminator": "vgg_style"})


def test_validation_scores_rgb_on_luma_as_compare_does():
    """Training's validation of an RGB network scores spectrum and consistency on luma, as
    ``compare_low_resolution`` does, so the figures of a run and of a comparison agree."""
    from napari_sr.evaluation import compare_low_resolution
    from napari_sr.normalization import NATURAL_8BIT
    from napari_sr.training.data import collect, prepare
    from napari_sr.training.validate import perceptual_scores

    rgb = np.stack([textured((64, 64), seed=s) for s in (3, 4, 5)], axis=-1)
    (image,) = prepare(collect([rgb], "validation"), scale=2, in_channels=3, degradation={},
                       normalization=NATURAL_8BIT, seed=0, validation=True)  # fmt: skip
    low = np.moveaxis(image.low[0], 0, -1).astype(np.uint8)  # (Y, X, 3)
    compared = compare_low_resolution(low, 2, ["lanczos3"], reference=rgb, axes="YXC",
                                      perceptual=True)  # fmt: skip
    output = compared.outputs["lanczos3"].astype(np.float32)
    scores = perceptual_scores(image, np.moveaxis(output, -1, 0)[None], 2)
    compared = compared.rows[0]
    assert scores["consistency_rms"] == pytest.approx(compared["consistency_rms"], rel=1e-6)
    assert scores["spectral_error_db"] == pytest.approx(compared["spectral_error_db"], rel=1e-6)
    assert scores["consistency_rms"] > 0.5  # lanczos3 is not bicubic's inverse
