"""Random microscope degradations for training: DegradationRange, its draws, the camera
keys of degrade's noise, TrainConfig's ``{"random": {...}}`` form and the patch sampler."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from napari_sr import Image, degrade
from napari_sr.degradation import DegradationRange
from napari_sr.normalization import Normalization
from napari_sr.training import data
from napari_sr.training.config import TrainConfig

FULL = {
    "blur": [0.5, 2.0],
    "anisotropic": True,
    "peak": [20, 1000],
    "clean": 0.25,
    "read_noise": [1, 3],
    "gain": [0.5, 2],
    "offset": [10, 100],
    "bits": [8, 16],
}


def smooth(shape, seed=0, top=1000.0):
    rng = np.random.default_rng(seed)
    image = ndimage.gaussian_filter(rng.random(shape), 2)
    return ((image - image.min()) / np.ptp(image) * top).astype(np.float32)


# ----------------------------------------------------------------------------- draws


def test_every_drawn_parameter_lies_in_its_range():
    spec = DegradationRange.from_dict(FULL)
    rng = np.random.default_rng(0)
    top = 500.0
    noisy = 0
    for _ in range(300):
        draw = spec.sample(rng, top)
        assert draw["kernel"] == "area"
        assert 0.5 <= draw["blur"]["Y"] <= 2 and 0.5 <= draw["blur"]["X"] <= 2
        noise = draw["noise"]
        if noise is None:
            continue
        noisy += 1
        peak = noise["poisson"]
        assert 20 <= peak <= 1000
        per_electron = top / peak
        assert 1 - 1e-9 <= noise["gaussian"] / per_electron <= 3 + 1e-9
        assert 0.5 - 1e-9 <= noise["gain"] * per_electron <= 2 + 1e-9
        assert 10 <= noise["offset"] <= 100
        assert noise["bits"] in (8, 16)
    assert noisy > 150


def test_anisotropic_draws_differ_per_axis_and_isotropic_ones_do_not():
    rng = np.random.default_rng(1)
    aniso = DegradationRange(blur=(0.5, 2), anisotropic=True)
    iso = DegradationRange(blur=(0.5, 2))
    draws = [aniso.sample(rng)["blur"] for _ in range(20)]
    assert all(d["Y"] != d["X"] for d in draws)
    draws = [iso.sample(rng)["blur"] for _ in range(20)]
    assert all(d["Y"] == d["X"] for d in draws)


def test_draws_repeat_with_a_seed():
    spec = DegradationRange.from_dict(FULL)
    a = [spec.sample(np.random.default_rng(7), 100.0) for _ in range(3)]
    b = [spec.sample(np.random.default_rng(7), 100.0) for _ in range(3)]
    assert a == b
    assert spec.sample(np.random.default_rng(8), 100.0) != a[0]


def test_clean_draws_happen_at_the_asked_probability():
    spec = DegradationRange(peak=(10, 100), clean=0.3)
    rng = np.random.default_rng(2)
    clean = np.mean([spec.sample(rng)["noise"] is None for _ in range(4000)])
    assert clean == pytest.approx(0.3, abs=0.03)  # 4000 draws: σ ≈ 0.007
    assert DegradationRange(peak=(10, 100)).sample(rng)["noise"] is not None
    assert DegradationRange(blur=(1, 1)).sample(rng)["noise"] is None  # no peak: no noise


def test_peak_is_drawn_log_uniformly():
    spec = DegradationRange(peak=(1, 10000))
    rng = np.random.default_rng(3)
    logs = np.log10([spec.sample(rng)["noise"]["poisson"] for _ in range(4000)])
    assert np.mean(logs < 2) == pytest.approx(0.5, abs=0.03)


def test_a_fixed_number_is_a_one_point_range_and_to_dict_round_trips():
    spec = DegradationRange.from_dict({"blur": 1.5, "peak": 100, "bits": 8})
    assert spec.blur == (1.5, 1.5) and spec.peak == (100.0, 100.0) and spec.bits == (8,)
    assert DegradationRange.from_dict(spec.to_dict()) == spec


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"blur": [2, 1]}, r"blur sigma \(HR pixels\) range \[2, 1\] has low > high"),
        ({"blur": [-1, 1]}, r"blur sigma \(HR pixels\) must be ≥ 0, not -1"),
        ({"peak": [0, 10]}, r"peak \(photons\) must be > 0, not 0"),
        ({"peak": [-5, 10]}, r"peak \(photons\) must be > 0"),
        ({"peak": [1, 2, 3]}, r"peak \(photons\) must be a \[low, high\] pair"),
        ({"gain": [0, 1]}, r"gain \(ADU per electron\) must be > 0"),
        ({"read_noise": [-1, 0]}, r"read_noise sigma \(electrons\) must be ≥ 0"),
        ({"clean": 1.5}, r"clean is a probability in \[0, 1\], not 1.5"),
        ({"bits": [8, 12.5]}, r"bits must be whole numbers from 1 to 32"),
        ({"kernel": "blocky"}, r"unknown kernel 'blocky'; choose 'area'"),
        ({"sigma": 1}, r"unknown random degradation option\(s\) sigma; valid: blur"),
        ({"na": [1.2, 1.6]}, r"na up to 1.6 is at or above the refractive index of oil"),
        ({"na": [0, 1]}, r"na \(numerical aperture\) must be > 0"),
        ({"wavelength": [450, 650]}, r"wavelength 650 looks like nanometres; give µm"),
        ({"pixel_size": [0, 0.1]}, r"pixel_size \(µm\) must be > 0"),
        ({"psf_kinds": ["lightsheet"]}, r"psf_kinds must name one or more of widefield, confocal"),
    ],
)
def test_bad_ranges_are_refused_with_the_fix(fields, match):
    with pytest.raises(ValueError, match=match):
        DegradationRange.from_dict(fields)


def test_a_physical_psf_is_the_zhang_sigma_of_the_drawn_optics():
    """Widefield σ = 0.21 λ / NA (Zhang et al. 2007, Table 2), in pixels of the drawn
    size; confocal with λ_ex = λ_em is √2 narrower; the Gaussian blur adds in quadrature."""
    optics = {"na": 1.4, "wavelength": 0.52, "pixel_size": 0.1}
    rng = np.random.default_rng(0)
    wide = DegradationRange(**optics).sample(rng)["blur"]
    assert wide == pytest.approx({"Y": 0.21 * 0.52 / 1.4 / 0.1, "X": 0.78})
    confocal = DegradationRange(**optics, psf_kinds=("confocal",)).sample(rng)["blur"]
    assert confocal["Y"] == pytest.approx(0.78 / np.sqrt(2))
    both = DegradationRange(**optics, blur=1.0).sample(rng)["blur"]
    assert both["X"] == pytest.approx(np.hypot(1.0, 0.78))


def test_physical_psf_draws_lie_within_max_blur_and_leave_the_noise_draws_alone():
    spec = DegradationRange.from_dict(
        {**FULL, "na": [0.8, 1.4], "psf_kinds": ["widefield", "confocal"]}
    )
    plain = DegradationRange.from_dict(FULL)
    widest = np.hypot(2.0, 0.21 * 0.65 / 0.8 / 0.05)
    assert spec.max_blur == pytest.approx(widest)
    sigmas = []
    for seed in range(200):
        draw = spec.sample(np.random.default_rng(seed))
        sigmas += [draw["blur"]["Y"], draw["blur"]["X"]]
        # the optics take their own values: the camera draws are those without optics
        assert draw["noise"] == plain.sample(np.random.default_rng(seed))["noise"]
    assert min(sigmas) >= 0.21 * 0.45 / np.sqrt(2) / 1.4 / 0.15 - 1e-9
    assert max(sigmas) <= spec.max_blur
    assert np.ptp(sigmas) > 2  # the optics vary
    assert DegradationRange.from_dict(spec.to_dict()) == spec


def test_protocol_draws_are_the_sr_benchmark_degradation_at_their_share():
    spec = DegradationRange.from_dict({**FULL, "protocol": 0.3})
    plain = DegradationRange.from_dict(FULL)
    draws = [spec.sample(np.random.default_rng(seed)) for seed in range(2000)]
    protocol = [d for d in draws if d["kernel"] == "bicubic"]
    assert len(protocol) / len(draws) == pytest.approx(0.3, abs=0.03)
    assert all(d == {"kernel": "bicubic", "blur": {"Y": 0.0, "X": 0.0}, "noise": None}
               for d in protocol)  # fmt: skip
    # the other draws are those of the same seed without the protocol share
    for seed, draw in enumerate(draws[:200]):
        if draw["kernel"] != "bicubic":
            assert draw == plain.sample(np.random.default_rng(seed))
    with pytest.raises(ValueError, match=r"protocol is a probability in \[0, 1\], not 2"):
        DegradationRange(protocol=2)


def test_a_protocol_patch_is_the_bicubic_downscaled_patch():
    hr = smooth((48, 48), seed=9)
    images = prepare([hr], {"random": {"blur": [0.5, 2], "peak": [20, 100], "protocol": 1}})
    whole = degrade(hr, 2, kernel="bicubic")
    s = sampler(images)
    patch, _ = s._random(images[0], 0, 8, 8, seed=1)
    np.testing.assert_allclose(patch[0], whole[8:16, 8:16], rtol=1e-5, atol=1e-3)


def test_a_range_of_text_is_a_type_error():
    with pytest.raises(TypeError, match="blur sigma .* must be numbers"):
        DegradationRange(blur=("a", "b"))


# ----------------------------------------------------------------------------- degrade


def test_poisson_noise_std_scales_as_the_square_root_of_the_peak():
    flat = np.full((200, 200), 100.0, np.float32)
    stds = {}
    for peak in (25, 100, 400):
        noisy = degrade(flat, 1, noise={"poisson": peak}, seed=0)
        stds[peak] = float(np.std(noisy))
        # in intensity units, σ = top / sqrt(peak) (photons: sqrt(peak) around peak)
        assert stds[peak] == pytest.approx(100 / np.sqrt(peak), rel=0.03)
    assert stds[25] / stds[400] == pytest.approx(4, rel=0.05)


def test_camera_gain_offset_and_bits():
    image = np.array([[0.0, 0.25, 0.5, 1.0]], np.float32)
    counts = degrade(image, 1, noise={"gain": 255, "offset": 10, "bits": 8})
    np.testing.assert_array_equal(counts, [[10, 74, 138, 255]])  # 265 clips to 255
    plain = degrade(image, 1, noise={"gain": 2.0, "offset": 0.5})
    np.testing.assert_allclose(plain, image * 2 + 0.5)
    low = degrade(np.array([[-3.0, 2.4, 70000.0]], np.float32), 1, noise={"bits": 16})
    np.testing.assert_array_equal(low, [[0, 2, 65535]])


@pytest.mark.parametrize(
    ("noise", "match"),
    [
        ({"gain": 0}, r"noise gain \(ADU per intensity unit\) must be > 0, not 0"),
        ({"offset": float("nan")}, r"noise offset \(ADU\) must be a finite number"),
        ({"bits": 0}, r"noise bits must be a whole number from 1 to 32 \(8, 16\), not 0"),
        ({"bits": 8.5}, r"noise bits must be a whole number"),
        ({"speckle": 1}, r"unknown noise type\(s\) \['speckle'\].*'gain', 'offset' and 'bits'"),
    ],
)
def test_bad_camera_keys_are_refused(noise, match):
    with pytest.raises(ValueError, match=match):
        degrade(np.ones((4, 4), np.float32), 1, noise=noise)


def test_area_kernel_is_pixel_integration():
    hr = smooth((24, 36), seed=4)
    low = degrade(hr, 3, kernel="area")
    blocks = hr.reshape(8, 3, 12, 3).mean(axis=(1, 3))
    np.testing.assert_allclose(low, blocks, rtol=1e-5)


# ----------------------------------------------------------------------------- config


def test_train_config_accepts_and_stores_the_random_form():
    config = TrainConfig(scale=2, steps=10, degradation={"random": FULL})
    stored = config.degradation["random"]
    assert stored["blur"] == [0.5, 2.0] and stored["peak"] == [20.0, 1000.0]
    assert stored["bits"] == [8, 16] and stored["kernel"] == "area"
    assert DegradationRange.from_dict(stored) == DegradationRange.from_dict(FULL)


@pytest.mark.parametrize(
    ("degradation", "error", "match"),
    [
        ({"random": {"blur": [3, 1]}}, ValueError, r"random: blur sigma .* low > high"),
        ({"random": {"peak": [0, 5]}}, ValueError, r"degradation random: peak .* must be > 0"),
        ({"random": {}, "blur": 1}, ValueError, r"'random' replaces blur: give the ranges inside"),
        ({"random": [1, 2]}, TypeError, r"degradation random must be a dict of ranges"),
    ],
)
def test_train_config_refuses_bad_random_forms(degradation, error, match):
    with pytest.raises(error, match=match):
        TrainConfig(scale=2, steps=10, degradation=degradation)


# ----------------------------------------------------------------------------- sampler


def prepare(images, degradation, validation=False, seed=0):
    named = [(f"array {i}", Image(im, axes="YX")) for i, im in enumerate(images)]
    return data.prepare(
        named,
        scale=2,
        in_channels=1,
        degradation=degradation,
        normalization=Normalization(),
        seed=seed,
        validation=validation,
    )


def sampler(images, seed=0):
    return data.PatchSampler(images, scale=2, patch_size=16, batch_size=8, seed=seed)


def test_sampler_patches_vary_across_draws_and_repeat_under_the_seed():
    images = prepare([smooth((64, 64), seed=5)], {"random": FULL})
    assert images[0].random == DegradationRange.from_dict(FULL)
    a = sampler(images, seed=3)
    low, high = a.batch(0)
    assert low.shape == (8, 1, 8, 8) and high.shape == (8, 1, 16, 16)
    again, _ = sampler(images, seed=3).batch(0)
    np.testing.assert_array_equal(low, again)
    other, _ = sampler(images, seed=4).batch(0)
    assert not np.array_equal(low, other)
    # the residual of each patch against its noise-free, unblurred block mean: its spread
    # varies across draws (clean patches, soft and sharp blur, few and many photons)
    spreads = []
    for step in range(6):
        low, high = a.batch(step)
        blocks = high.reshape(8, 1, 8, 2, 8, 2).mean(axis=(3, 5))
        spreads += list(np.std(low - blocks, axis=(1, 2, 3)))
    spreads = np.asarray(spreads)
    assert spreads.max() > 5 * spreads.min()
    assert np.unique(spreads).size == spreads.size  # each patch its own draw


def test_a_clean_unblurred_draw_is_the_block_mean_of_the_patch():
    images = prepare([smooth((48, 48), seed=6)], {"random": {"blur": 0}})
    low, high = sampler(images).batch(0)
    np.testing.assert_allclose(low, high.reshape(8, 1, 8, 2, 8, 2).mean(axis=(3, 5)), atol=1e-5)


def test_patch_blur_matches_the_whole_image_blur():
    # with a fixed σ the patch, degraded from its region with context, equals the patch of
    # the whole image degraded at once (borders included)
    hr = smooth((40, 40), seed=7)
    images = prepare([hr], {"random": {"blur": 1.5}})
    whole = degrade(hr, 2, kernel="area", blur=1.5)
    s = sampler(images)
    rng = np.random.default_rng(0)
    for _ in range(10):
        y, x = (int(v) for v in rng.integers(0, 13, 2))
        patch, _ = s._random(images[0], 0, y, x, seed=1)
        np.testing.assert_allclose(patch[0], whole[y : y + 8, x : x + 8], rtol=1e-5, atol=1e-3)


def test_noisy_patches_are_normalised_by_the_limits_of_the_noisy_whole_image():
    # inference takes percentile limits from the noisy input, which noise widens by
    # several sigma; training must normalise each patch the same way, or the network
    # learns on another intensity scale than it is used on
    hr = smooth((96, 96), seed=11)
    norm = Normalization("percentile", 0.1, 99.99)
    named = [("a", Image(hr, axes="YX"))]
    options = dict(scale=2, in_channels=1, normalization=norm, seed=0, validation=False)
    clean_limits = data.prepare(named, degradation={"kernel": "area"}, **options)[0].limits
    images = data.prepare(named, degradation={"random": {"peak": [20, 20]}}, **options)
    assert images[0].limit_rule == (norm, False)
    low = degrade(hr, 2, kernel="area")
    rng = np.random.default_rng(5)
    limits = data.PatchSampler._noisy_limits(images[0], 0, {"poisson": 20.0}, rng)
    expected = norm.limits(degrade(low, 1, noise={"poisson": 20.0}, seed=5))
    # both widen the clean limits by the noise, to within the spread of two draws
    assert limits[0] < clean_limits[0] - 50 and limits[1] > clean_limits[1] + 100
    np.testing.assert_allclose(limits, expected, atol=0.3 * (expected[1] - clean_limits[1]))
    # a noise-free draw keeps the clean limits
    assert data.PatchSampler._noisy_limits(images[0], 0, None, rng) == images[0].limits
    # and the batch is normalised by them: its low patches spill past 0-1 far less
    low_batch, _ = sampler(images).batch(0)
    assert low_batch.max() < 1.1


def test_validation_images_get_one_fixed_draw():
    hr = smooth((40, 40), seed=8)
    spec = {"random": {"blur": [1, 2], "peak": [50, 50], "read_noise": 2, "bits": [16]}}
    a = prepare([hr], spec, validation=True, seed=1)
    b = prepare([hr], spec, validation=True, seed=1)
    np.testing.assert_array_equal(a[0].low, b[0].low)
    assert a[0].random is None
    clean = degrade(hr, 2, kernel="area")
    assert 1 < np.std(a[0].low[0, 0] - clean) < 200  # noisy at 50 photons


def test_training_with_random_degradation_is_decided_by_the_seed():
    torch = pytest.importorskip("torch")
    from napari_sr.training.loop import train

    images = [(smooth((40, 40), seed=1) + 1).astype(np.uint16), smooth((36, 44), seed=2)]
    options = {
        "scale": 2,
        "patch_size": 16,
        "batch_size": 2,
        "steps": 3,
        "device": "cpu",
        "hparams": {"d": 8, "s": 4, "m": 1},
        "degradation": {"random": FULL},
        "validation": [smooth((32, 32), seed=3)],
    }
    with pytest.warns(UserWarning):  # three steps stay below bicubic
        a = train("fsrcnn", images, seed=5, **options).state_dict()
        b = train("fsrcnn", images, seed=5, **options).state_dict()
        c = train("fsrcnn", images, seed=6, **options).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)
