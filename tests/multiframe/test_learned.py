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
from napari_sr.multiframe.simulate import make_burst  # noqa: E402
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


def _range_network(low: float = 0.0, high: float = 1.5):
    """An untrained prior network whose record says it was trained over PSF σ low..high."""
    from napari_sr.models.info import info_of

    model = napari_sr.create_model("highresnet", scale=2, prior=True).eval()
    info = info_of(model)
    model.info = info.replace(
        data={**(info.data or {}), "bursts": {"psf_range_hr_px": [low, high]}}
    )
    return model


def test_a_network_trained_over_a_range_of_optics_deblurs_the_psf_it_is_told():
    """Its prior is the robust fusion with the frames' σ (0 when not told): an untrained
    one returns exactly that, so the σ reaches the prior."""
    from napari_sr.multiframe.learned import prior_psf, training_psf

    model = _range_network()
    assert training_psf(model) == (0.0, 1.5)
    assert (prior_psf(model, None), prior_psf(model, 0.8)) == (0.0, 0.8)
    frames = napari_sr.load_sample("burst").data[:, :24, :24].astype(np.float64)
    for sigma in (0.0, 1.2):
        out = fuse_learned(model, frames, psf=sigma)
        expected = classical_prior(frames, 2, sigma)
        np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-3 * np.ptp(expected))
    told = napari_sr.misr(frames.astype(np.float32), 2, method=model, psf=1.2)
    untold = napari_sr.misr(frames.astype(np.float32), 2, method=model)
    assert np.abs(told - untold).max() > 0.01 * np.ptp(untold)  # the σ was used


def test_the_psf_a_fusion_network_takes():
    frames = np.random.default_rng(0).random((3, 16, 16)).astype(np.float32) * 100
    with pytest.raises(ValueError, match=r"outside the optics .* \(sigma 0 to 1.5 output"):
        napari_sr.misr(frames, 2, method=_range_network(), psf=2.0)
    with pytest.raises(ValueError, match=r"outside the optics .* \(sigma 0.5 to 1"):
        napari_sr.misr(frames, 2, method=_range_network(0.5, 1.0))  # psf 0 by default
    # a network trained for one σ brings it: psf does not apply
    single = napari_sr.create_model("highresnet", scale=2, prior=True)
    with pytest.raises(ValueError, match=r"trained for one PSF \(sigma 1 output pixels\)"):
        napari_sr.misr(frames, 2, method=single, psf=1.0)
    with pytest.raises(ValueError, match="iterations do not apply to a fusion network"):
        napari_sr.misr(frames, 2, method=_range_network(), iterations=3)


def test_training_bursts_over_a_range_of_optics_and_photon_peaks():
    from napari_sr.multiframe.learned import FusionConfig, check_peaks, parse_psf

    image = napari_sr.load_sample("burst", ground_truth=True).data[:48, :48]
    sharp = training_bursts([image], 2, 4, psf=(0.0, 0.0), peaks=(1e5, 1e5), seed=1)
    blurred = training_bursts([image], 2, 4, psf=(2.0, 2.0), peaks=(1e5, 1e5), seed=1)
    detail = [float(np.abs(np.diff(p.low[0, 0], axis=-1)).mean()) for p in sharp + blurred]
    assert detail[0] > 1.5 * detail[2]  # the σ drawn from each range was applied
    # photon peaks: the frames' brightest pixels follow the drawn peak
    dim = training_bursts([image], 2, 4, psf=0.0, peaks=(20.0, 20.0), seed=1)
    assert 10 < np.percentile(dim[0].low[0, 0], 99.9) < 40
    assert parse_psf("1.5") == 1.5 and parse_psf("0,1.5") == (0.0, 1.5)
    config = FusionConfig(scale=2, frames=4, psf=[0, 1.5], peaks=[30, 1000])
    assert (config.psf, config.peaks) == ((0.0, 1.5), (30.0, 1000.0))
    from napari_sr.training.config import TrainConfig

    assert TrainConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="psf range must run from low to high"):
        FusionConfig(scale=2, frames=4, psf=(2.0, 1.0))
    with pytest.raises(ValueError, match="one sigma or a range"):
        FusionConfig(scale=2, frames=4, psf=(0.0, 1.0, 2.0))
    with pytest.raises(ValueError, match="peaks range must run from low to high"):
        check_peaks((400, 100))
    with pytest.raises(ValueError, match="peaks must be at least"):
        check_peaks((0, 100))


def test_train_fusion_records_a_range_of_optics():
    rng = np.random.default_rng(2)
    images = [rng.random((40, 40)).astype(np.float32) * 100]
    model = train_fusion(images, 2, 4, steps=1, batch_size=2, patch_size=16, psf=(0.0, 1.5),
                         peaks=(30.0, 1000.0), hparams={"features": 8, "encoder_blocks": 1},
                         bursts_per_image=1, device="cpu")  # fmt: skip
    record = model.checkpoint["data"]["bursts"]
    assert record["psf_range_hr_px"] == [0.0, 1.5] and "psf_sigma_hr_px" not in record
    assert record["photon_peaks"] == [30.0, 1000.0]


def _guarded_burst():
    image = napari_sr.load_sample("burst", ground_truth=True).data[:96, :96].astype(np.float32)
    burst, shifts, truth = make_burst(image, 2, 8, psf=0.0, peak=200.0, seed=4)
    return burst.astype(np.float64), shifts, truth


@pytest.mark.parametrize(("network_says", "trusted"), [("truth", True), ("wrong", False)])
def test_the_guard_keeps_a_correction_the_held_out_frames_confirm(
    monkeypatch, network_says, trusted
):
    """A network that returns the truth is trusted; one that adds structure the frames do
    not show is left out, and the result falls back to the robust fusion."""
    from napari_sr.multiframe import learned

    burst, shifts, truth = _guarded_burst()
    rng = np.random.default_rng(0)
    wrong = rng.normal(0, 0.15 * truth.max(), truth.shape)

    def network(model, frames, prior, device):
        return truth.astype(np.float64) if network_says == "truth" else prior + wrong

    monkeypatch.setattr(learned, "network_pass", network)
    model = _range_network()
    weight = learned.holdout_weights(model, burst, shifts, 0.0)
    assert weight.shape == burst.shape[1:] and 0 <= weight.min() <= weight.max() <= 1
    assert (weight.mean() > 0.8) if trusted else (weight.mean() < 0.2), weight.mean()
    prior = classical_prior(burst, 2, 0.0, shifts=shifts)
    guarded = fuse_learned(model, burst, shifts=shifts)
    unguarded = fuse_learned(model, burst, shifts=shifts, guard=False)
    span = float(np.ptp(truth))
    results = (("prior", prior), ("guarded", guarded), ("raw", unguarded))
    score = {k: napari_sr.psnr(truth, v, data_range=span, crop_border=2) for k, v in results}
    if trusted:
        assert score["guarded"] > score["prior"] + 3, score
    else:
        assert score["guarded"] > score["raw"] + 3 and score["guarded"] > score["prior"] - 0.5


def test_misr_guards_a_network_unless_told_not_to():
    frames = napari_sr.load_sample("burst")
    model = _range_network()
    out = napari_sr.misr(frames, 2, method=model)
    assert out.metadata["provenance"]["guard"] is True
    off = napari_sr.misr(frames, 2, method=model, guard=False)
    assert off.metadata["provenance"]["guard"] is False
    # an untrained network returns the robust fusion, guarded or not
    np.testing.assert_allclose(out.data, off.data, atol=2)
    with pytest.raises(TypeError, match="guard"):
        napari_sr.misr(frames, 2, method=model, guard="yes")
    few = napari_sr.misr(frames.data[:3], 2, method=model)  # 3 frames: no halves to hold out
    assert few.shape == (256, 256)
