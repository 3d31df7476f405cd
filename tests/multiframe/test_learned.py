"""The learned fusion: the network's contract, the offset-tolerant loss, training, misr."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import napari_sr  # noqa: E402
from napari_sr.models.highresnet import pack_prior  # noqa: E402
from napari_sr.multiframe.learned import (  # noqa: E402
    classical_prior,
    fuse_learned,
    train_fusion,
    training_bursts,
    unshuffle,
)
from napari_sr.training.losses import shift_l1  # noqa: E402


@pytest.mark.parametrize("frames", [1, 2, 3, 5, 8])
def test_any_number_of_frames(frames):
    model = napari_sr.create_model("highresnet", scale=2).eval()
    x = torch.rand(2, frames, 12, 14)
    with torch.no_grad():
        out = model(x)
    assert out.shape == (2, 1, 24, 28) and torch.isfinite(out).all()


def test_the_output_is_the_reference_upscaled_plus_what_the_decoder_adds():
    """With the decoder's last layer zeroed, the network returns the bicubic upsampling of
    the frames' median (its global residual)."""
    from napari_sr.models._common import bicubic_upsample

    model = napari_sr.create_model("highresnet", scale=3).eval()
    torch.nn.init.zeros_(model.decoder[-1].weight)
    torch.nn.init.zeros_(model.decoder[-1].bias)
    frames = torch.rand(1, 5, 10, 10)
    with torch.no_grad():
        out = model(frames)
    expected = bicubic_upsample(frames.median(dim=1, keepdim=True).values, 3)
    torch.testing.assert_close(out, expected)


def test_unshuffle_is_torchs_pixel_unshuffle():
    image = np.arange(6 * 9, dtype=np.float32).reshape(6, 9)
    expected = torch.nn.functional.pixel_unshuffle(torch.from_numpy(image)[None, None], 3)
    np.testing.assert_array_equal(unshuffle(image, 3), expected[0].numpy())
    packed = pack_prior(torch.zeros(1, 2, 2, 3), torch.from_numpy(image)[None, None], 3)
    np.testing.assert_array_equal(packed[0, 2:].numpy(), unshuffle(image, 3))


def test_an_untrained_prior_network_returns_the_classical_fusion():
    """The decoder's last layer starts at zero: before training the network is the robust
    fusion it corrects, registration and brightness included."""
    model = napari_sr.create_model("highresnet", scale=2, prior=True).eval()
    frames = napari_sr.load_sample("burst").data[:, :24, :24].astype(np.float64)
    out = fuse_learned(model, frames)
    expected = classical_prior(frames, 2, 1.0)  # psf 0.5·scale: no training record
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-3 * np.ptp(expected))
    with pytest.raises(ValueError, match="the frames and the 4 channels of the prior"):
        model(torch.zeros(1, 4, 8, 8))


def test_training_bursts_carry_a_prior_better_than_bicubic():
    from napari_sr.models._common import bicubic_upsample

    image = napari_sr.load_sample("burst", ground_truth=True).data.astype(np.float32)
    (pair,) = training_bursts([image[:64, :64]], 2, 6, bursts_per_image=1, prior=True, seed=3)
    assert pair.low.shape == (1, 6 + 4, 32, 32) and pair.high.shape == (1, 1, 64, 64)
    truth = pair.high[0, 0]
    prior = torch.nn.functional.pixel_shuffle(torch.from_numpy(pair.low[:, 6:]), 2)[0, 0]
    frame0 = bicubic_upsample(torch.from_numpy(pair.low[:, :1]), 2)[0, 0]
    span = float(np.ptp(truth))
    prior_psnr = napari_sr.psnr(truth, prior.numpy(), data_range=span, crop_border=4)
    bicubic_psnr = napari_sr.psnr(truth, frame0.numpy(), data_range=span, crop_border=4)
    assert prior_psnr > bicubic_psnr + 2, (prior_psnr, bicubic_psnr)


def test_upscale_refuses_a_fusion_network():
    model = napari_sr.create_model("highresnet", scale=2)
    with pytest.raises(ValueError, match="run it with napari_sr.misr"):
        napari_sr.upscale(np.zeros((8, 8), np.float32), 2, method=model)


def test_shift_l1_forgives_a_global_offset_and_brightness():
    rng = torch.Generator().manual_seed(0)
    target = torch.rand(2, 1, 24, 24, generator=rng)
    moved = torch.roll(target, shifts=(1, -2), dims=(2, 3)) + 0.1  # inside the tolerance
    assert float(shift_l1(moved, target)) < 1e-6
    assert float((moved - target).abs().mean()) > 0.1
    far = torch.roll(target, shifts=(4, 0), dims=(2, 3))  # beyond it
    assert float(shift_l1(far, target)) > 0.1


@pytest.mark.slow
def test_training_bursts_and_a_short_training(tmp_path):
    rng = np.random.default_rng(0)
    images = [rng.random((40, 40)).astype(np.float32) * 100 for _ in range(2)]
    pairs = training_bursts(images, 2, 4)
    assert len(pairs) == 4 and pairs[0].low.shape == (1, 4, 20, 20)
    assert pairs[0].high.shape == (1, 1, 40, 40)
    model = train_fusion(images, 2, 4, steps=3, batch_size=2, patch_size=16,
                         hparams={"features": 8, "encoder_blocks": 1}, device="cpu")  # fmt: skip
    assert model.checkpoint["data"]["bursts"]["frames"] == 4
    assert model.checkpoint["data"]["bursts"]["prior"] == "robust" and model.prior
    path = napari_sr.save_model(model, tmp_path / "fusion_x2.safetensors")
    frames = napari_sr.load_sample("burst").data[:, :32, :32]
    by_object = napari_sr.misr(frames, 2, method=model)
    by_file = napari_sr.misr(frames, 2, method=str(path))
    assert by_object.shape == (64, 64) and by_object.dtype == np.uint16
    np.testing.assert_array_equal(by_object, by_file)
    assert fuse_learned(model, frames.astype(np.float64)).shape == (64, 64)
    # training goes on from a model: the same weights, trained further
    before = {k: v.clone() for k, v in model.state_dict().items()}
    again = train_fusion(images, 2, 4, model=model, steps=2, batch_size=2, patch_size=16,
                         device="cpu")  # fmt: skip
    assert again is model
    assert any(not torch.equal(before[k], v) for k, v in again.state_dict().items())


def test_misr_errors_for_learned_fusion():
    frames = np.zeros((3, 16, 16), np.float32)
    with pytest.raises(ValueError, match=r"bundled for x3 \(bundled: x2, x4\)"):
        napari_sr.misr(frames, 3, method="learned")
    with pytest.raises(ValueError, match="works at x2, not x4"):
        napari_sr.misr(frames, 4, method=napari_sr.create_model("highresnet", scale=2))
    with pytest.raises(ValueError, match="multi-frame fusion model"):
        napari_sr.misr(frames, 2, method=napari_sr.create_model("fsrcnn", scale=2))


def test_the_fusion_recipe_is_a_training_config():
    from napari_sr.multiframe.learned import FusionConfig
    from napari_sr.training.config import TrainConfig

    config = FusionConfig(scale=2, frames=8)
    assert isinstance(config, TrainConfig)
    assert (config.architecture, config.steps, config.batch_size, config.lr) == (
        "highresnet", 4000, 8, 1e-3
    )  # fmt: skip
    # a prior-refining network (the default): plain L1 and no patch flips
    assert (config.patch_size, config.loss, config.augment) == (64, {"l1": 1.0}, ())
    assert (config.warmup_steps, config.psf) == (200, 1.0)
    plain = config.replace(hparams={"prior": False})  # derived again for the other kind
    assert plain.loss == {"shift_l1": 1.0} and plain.augment == ("hflip", "vflip", "rot90")
    assert config.replace(hparams={"prior": False}, loss="mse").loss == {"mse": 1.0}
    assert TrainConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="frames must be at most 64"):
        FusionConfig(scale=2, frames=65)
    with pytest.raises(ValueError, match="fusion does not take normalization"):
        FusionConfig(scale=2, frames=4, normalization={"kind": "range", "low": 0, "high": 1})


def test_train_fusion_records_its_recipe():
    rng = np.random.default_rng(1)
    images = [rng.random((40, 40)).astype(np.float32) * 100]
    model = train_fusion(images, 2, 4, steps=2, batch_size=2, patch_size=16,
                         hparams={"features": 8, "encoder_blocks": 1, "prior": False},
                         bursts_per_image=1, device="cpu")  # fmt: skip
    recipe = model.training_config
    assert recipe.TASK == "fusion" and recipe.frames == 4 and recipe.bursts_per_image == 1
    assert recipe.loss == {"shift_l1": 1.0} and not model.prior
    assert model.checkpoint["data"]["bursts"]["bursts_per_image"] == 1
