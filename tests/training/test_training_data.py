"""Training data: reading image sets, planes, degradation, normalisation, patch sampling."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from napari_sr import Image, degrade, io, resize
from napari_sr.normalization import NATURAL_8BIT, Normalization
from napari_sr.training import data


def smooth(shape, seed=0, dtype=np.uint16, top=1000):
    rng = np.random.default_rng(seed)
    image = ndimage.gaussian_filter(rng.random(shape), 2)
    image = (image - image.min()) / np.ptp(image) * top
    return image.astype(dtype)


def prepare(named, **kwargs):
    options = {
        "scale": 2,
        "in_channels": 1,
        "degradation": {},
        "normalization": Normalization(),
        "seed": 0,
        "validation": False,
    }
    return data.prepare(named, **{**options, **kwargs})


# ----------------------------------------------------------------------------- collect


def test_collect_every_kind(tmp_path):
    io.write(tmp_path / "b.ome.tif", smooth((20, 20)))
    io.write(tmp_path / "a.ome.tif", smooth((16, 16)))
    (tmp_path / "README.md").write_text("not an image")
    named = data.collect(
        [smooth((8, 8)), Image(smooth((9, 9))), tmp_path / "a.ome.tif", str(tmp_path)]
    )
    assert [name for name, _ in named] == [
        "array 0",
        "image 1",
        "a.ome.tif",
        "a.ome.tif",  # the folder: sorted, README skipped
        "b.ome.tif",
    ]
    assert named[-1][1].shape == (20, 20)
    assert data.collect(smooth((8, 8)))[0][0] == "array 0"  # a single array


@pytest.mark.parametrize(
    ("images", "error", "match"),
    [
        ([], ValueError, "images is empty"),
        ([3], TypeError, "images must be arrays, napari_sr.Image objects"),
        ({"a": 1}, TypeError, "or a list of these, not dict"),
    ],
)
def test_collect_errors(images, error, match):
    with pytest.raises(error, match=match):
        data.collect(images)


def test_collect_empty_folder(tmp_path):
    with pytest.raises(ValueError, match="has no image files"):
        data.collect(tmp_path, "validation")
    with pytest.raises(FileNotFoundError, match="no such file"):
        data.collect(tmp_path / "missing.tif")


def test_default_channels_and_normalization():
    rgb = ("rgb", Image(smooth((8, 8, 3), dtype=np.uint8, top=255)))
    gray = ("gray", Image(smooth((8, 8), dtype=np.uint8, top=255)))
    assert data.default_channels([rgb]) == 3
    assert data.default_channels([rgb, gray]) == 1
    assert data.default_normalization([rgb, gray]) == NATURAL_8BIT
    assert data.default_normalization([("u16", Image(smooth((8, 8))))]).kind == "percentile"
    with pytest.raises(ValueError, match="mix dtypes .*pass normalization="):
        data.default_normalization([gray, ("u16", Image(smooth((8, 8))))])


# ----------------------------------------------------------------------------- planes


def test_to_planes_layouts():
    stack = np.arange(2 * 3 * 4 * 5).reshape(2, 3, 4, 5)  # TZYX
    planes = data.to_planes(stack, "TZYX", 1, "x")
    assert planes.shape == (6, 1, 4, 5)
    np.testing.assert_array_equal(planes[4, 0], stack[1, 1])
    rgb = np.arange(4 * 5 * 3).reshape(4, 5, 3)
    assert data.to_planes(rgb, "YXC", 3, "x").shape == (1, 3, 4, 5)
    np.testing.assert_array_equal(data.to_planes(rgb, "YXC", 3, "x")[0, 2], rgb[..., 2])
    assert data.to_planes(rgb, "YXC", 1, "x").shape == (3, 1, 4, 5)  # colours as planes
    with pytest.raises(ValueError, match="has 1 channel.*takes 3"):
        data.to_planes(stack, "TZYX", 3, "x")


def test_prepare_degrades_whole_images_and_takes_limits_from_the_observation():
    image = smooth((2, 33, 40))  # a Z stack, Y not a multiple of 2
    (prepared,) = prepare([("s", Image(image))])
    assert prepared.high.shape == (2, 1, 32, 40)  # cropped to a multiple of the scale
    assert prepared.low.shape == (2, 1, 16, 20)
    assert prepared.low.dtype == np.float32
    expected = degrade(image[:, :32].astype(np.float32), 2)
    np.testing.assert_allclose(prepared.low[:, 0], expected, rtol=1e-6)
    observed = degrade(image[:, :32], 2)  # quantised to uint16, as a camera records it
    assert prepared.limits == Normalization().limits(observed)
    assert prepared.peak == pytest.approx(expected.max())


def test_prepare_validation_keeps_the_noisy_observation_in_the_dtype():
    image = smooth((32, 32))
    noise = {"noise": {"gaussian": 20.0}}
    (val,) = prepare([("v", Image(image))], degradation=noise, validation=True)
    (again,) = prepare([("v", Image(image))], degradation=noise, validation=True)
    (train,) = prepare([("v", Image(image))], degradation=noise)
    assert val.low.dtype == np.uint16
    np.testing.assert_array_equal(val.low, again.low)  # seeded
    clean = degrade(image, 2)
    assert np.abs(val.low[0, 0].astype(float) - clean).std() > 10
    np.testing.assert_allclose(train.low[0, 0], degrade(image.astype(np.float32), 2), rtol=1e-6)


def test_prepare_uses_the_psf_and_pixel_size_of_an_image():
    image = Image(smooth((32, 32)), pixel_size={"Y": 0.1, "X": 0.1})
    psf = {"psf": {"na": 1.4, "wavelength": 0.52}}
    (prepared,) = prepare([("p", image)], degradation=psf)
    expected = degrade(image.replace(data=image.data.astype(np.float32)), 2, **psf).data
    np.testing.assert_allclose(prepared.low[0, 0], expected, rtol=1e-6)
    with pytest.raises(ValueError, match="degradation of array 0: psf needs the pixel size"):
        prepare([("array 0", Image(smooth((32, 32))))], degradation=psf)


def test_split_rows_holds_out_the_bottom():
    image = Image(smooth((40, 30)), pixel_size={"Y": 0.2, "X": 0.2})
    train, held_out = data.split_rows([("a", image)], 0.25, 2)
    assert train[0][1].shape == (30, 30) and held_out[0][1].shape == (10, 30)
    np.testing.assert_array_equal(held_out[0][1].data, image.data[30:])
    assert held_out[0][1].pixel_size == {"Y": 0.2, "X": 0.2}
    assert "bottom 10 rows" in held_out[0][0]
    with pytest.raises(ValueError, match="too few to hold out"):
        data.split_rows([("tiny", Image(smooth((2, 30))))], 0.5, 2)


def test_check_sizes_names_the_image_and_the_fix():
    prepared = prepare([("small.tif", Image(smooth((20, 30))))])
    data.check_sizes(prepared, 20, "patch_size")
    with pytest.raises(ValueError, match="small.tif is 20 x 30 .* smaller than patch_size"):
        data.check_sizes(prepared, 24, "patch_size")


def test_description_and_fingerprint():
    a = prepare([("a", Image(smooth((16, 16))))])
    b = prepare([("a", Image(smooth((16, 16), seed=1)))])
    record = data.describe(a)
    assert record["count"] == 1 and record["planes"] == 1
    assert record["images"][0]["shape"] == [16, 16]
    assert record["images"][0]["dtype"] == "uint16"
    assert data.fingerprint(a) == data.fingerprint(prepare([("other", Image(smooth((16, 16))))]))
    assert data.fingerprint(a) != data.fingerprint(b)


# ----------------------------------------------------------------------------- sampler


def sampler(images, **kwargs):
    options = {"scale": 2, "patch_size": 16, "batch_size": 6, "seed": 3}
    return data.PatchSampler(images, **{**options, **kwargs})


@pytest.fixture
def prepared():
    return prepare([("a", Image(smooth((48, 64)))), ("b", Image(smooth((3, 40, 40), seed=2)))])


def test_batches_have_the_right_shapes_and_are_a_function_of_the_step(prepared):
    s = sampler(prepared)
    low, high = s.batch(5)
    assert low.shape == (6, 1, 8, 8) and high.shape == (6, 1, 16, 16)
    assert low.dtype == high.dtype == np.float32
    again = sampler(prepared).batch(5)  # a fresh sampler: nothing carried between steps
    np.testing.assert_array_equal(low, again[0])
    np.testing.assert_array_equal(high, again[1])
    assert not np.array_equal(low, s.batch(6)[0])
    assert not np.array_equal(low, sampler(prepared, seed=4).batch(5)[0])


def test_patch_pairs_are_aligned(prepared):
    """Bicubic upsampling of each input patch is close to its target inside the patch,
    and worse when shifted by one pixel: low and high patches show the same place."""
    low, high = sampler(prepared, augment=(), batch_size=16, patch_size=32).batch(0)
    up = resize(low, {"Y": 2, "X": 2}, method="bicubic", axes="TCYX")
    inner = (..., slice(4, -4), slice(4, -4))
    aligned = np.mean((up - high)[inner] ** 2)
    shifted = np.mean((np.roll(up, 1, axis=-1) - high)[inner] ** 2)
    assert aligned < shifted / 4


def test_patches_come_from_the_normalised_images(prepared):
    _, high = sampler(prepared, augment=(), batch_size=1, patch_size=48).batch(0)
    image = prepared[0]  # the only image with room for 48 x 48 patches
    lo, hi = image.limits
    found = (high[0, 0] * (hi - lo) + lo).round().astype(np.uint16)
    rows = image.high[0, 0]
    starts = [x for x in range(0, 64 - 48 + 1, 2) if np.array_equal(rows[:, x : x + 48], found)]
    assert len(starts) == 1


def test_augmentations_are_dihedral_and_shared_by_both_patches(prepared):
    plain = sampler(prepared, augment=()).batch(2)
    augmented = sampler(prepared, augment=("hflip", "vflip", "rot90")).batch(2)
    transforms = [
        lambda a, k=k, f=f: np.rot90(a[..., ::-1] if f else a, k, (-2, -1))
        for k in range(4)
        for f in (False, True)
    ]
    changed = 0
    for i in range(6):
        matches = [
            t
            for t in transforms
            if np.array_equal(t(plain[1][i]), augmented[1][i])
            and np.array_equal(t(plain[0][i]), augmented[0][i])
        ]
        assert matches, f"patch {i} is not a flip/rotation of the plain one"
        changed += not np.array_equal(plain[1][i], augmented[1][i])
    assert changed  # some were transformed


def test_noise_is_added_per_patch_with_the_whole_image_photon_scale():
    image = np.full((64, 64), 100, np.uint16)
    image[:, 32:] = 400  # half the patches are dim, half bright
    options = {"degradation": {"noise": {"poisson": 400.0}}}
    (prepared,) = prepare(
        [("p", Image(image))], normalization=Normalization("range", 0, 1), **options
    )
    s = sampler([prepared], augment=(), batch_size=64, patch_size=16, noise={"poisson": 400.0})
    low, _ = s.batch(0)
    clean, _ = sampler([prepared], augment=(), batch_size=64, patch_size=16).batch(0)
    flat = clean.min(axis=(1, 2, 3)) == clean.max(axis=(1, 2, 3))  # same draws, no noise
    dim, bright = flat & (clean[:, 0, 0, 0] == 100), flat & (clean[:, 0, 0, 0] == 400)
    assert dim.sum() > 5 and bright.sum() > 5
    variances = low.var(axis=(1, 2, 3))
    # 400 photons at the image maximum (400): one count per photon, so variance = mean,
    # in the dim patches too (scaled to their own maximum they would get 4x the noise)
    assert variances[dim].mean() == pytest.approx(100, rel=0.2)
    assert variances[bright].mean() == pytest.approx(400, rel=0.2)
    assert low.dtype == np.float32 and np.array_equal(low, np.round(low))  # quantised


def test_a_black_patch_gets_no_shot_noise():
    image = np.zeros((32, 32), np.uint16)
    image[0, 0] = 10
    (prepared,) = prepare([("p", Image(image))], normalization=Normalization("range", 0, 1))
    s = sampler([prepared], augment=(), batch_size=4, noise={"poisson": 10.0})
    assert np.isfinite(s.batch(0)[0]).all()


def test_sampler_needs_a_large_enough_image():
    prepared = prepare([("a", Image(smooth((10, 10))))])
    with pytest.raises(ValueError, match="no training image is at least patch_size"):
        sampler(prepared, patch_size=12)
