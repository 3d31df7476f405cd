"""The recipes of the self-supervised methods: TrainConfig subclasses, one declaration per
option, and ``reconstruct``, which trains, restores and keeps the networks."""

from __future__ import annotations

import numpy as np
import pytest

from napari_sr.selfsup.config import IsotropicConfig, ZSSRConfig
from napari_sr.training.config import TrainConfig, UnknownOptionError, describe_options


def test_zssr_recipe_defaults_and_derived_warm_up():
    config = ZSSRConfig()
    assert isinstance(config, TrainConfig)
    assert (config.architecture, config.scale, config.steps, config.batch_size) == (
        "zssr_net", 1, 1000, 4
    )  # fmt: skip
    assert config.lr == 1e-3 and config.warmup_steps == 100 and config.patch_size is None
    assert ZSSRConfig(steps=50).warmup_steps == 5
    assert ZSSRConfig(steps=50).replace(steps=300).warmup_steps == 30  # derived again
    assert ZSSRConfig(steps=50, warmup_steps=0).replace(steps=300).warmup_steps == 0
    kernel = ZSSRConfig(kernel=np.full((3, 3), 1 / 9)).kernel
    assert kernel == ((1 / 9,) * 3,) * 3  # an array is kept as nested tuples
    assert TrainConfig.from_dict(ZSSRConfig(blur=1.5).to_dict()) == ZSSRConfig(blur=1.5)


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"scale": 2}, ValueError, r"zssr does not take scale \(its network is same-size"),
        ({"degradation": {"blur": 1}}, ValueError, "zssr does not take degradation"),
        ({"validation_fraction": 0.1}, ValueError, "zssr does not take validation_fraction"),
        ({"blur": 1.0, "kernel": "bilinear"}, ValueError, "give blur or kernel, not both"),
        ({"blur": 0}, ValueError, "blur must be > 0"),
        ({"gradual": "yes"}, TypeError, "gradual must be True or False"),
        ({"kernel": np.ones((2, 2))}, ValueError, "odd sides"),
        ({"kernel": "gauss"}, ValueError, "unknown kernel 'gauss'"),
    ],
)
def test_zssr_recipe_checks(options, error, match):
    with pytest.raises(error, match=match):
        ZSSRConfig(**options)


def test_isotropic_recipe_defaults_and_checks():
    assert (IsotropicConfig().steps, IsotropicConfig().lr) == (2000, 1e-3)
    config = IsotropicConfig(steps=50)
    assert (config.architecture, config.lr, config.validation_fraction) == ("care_unet", 1e-3, 0.1)
    assert (config.warmup_steps, config.validate_every) == (5, 10)
    assert config.augment == ("hflip", "vflip") and config.fuse == "mean"
    assert IsotropicConfig(psf=np.array([1, 2, 1])).psf == (1.0, 2.0, 1.0)
    assert IsotropicConfig(psf=2).psf == 2.0
    with pytest.raises(ValueError, match="flips only"):
        IsotropicConfig(augment=("hflip", "rot90"))
    with pytest.raises(TypeError, match="psf must be the Gaussian sigma"):
        IsotropicConfig(psf="x")
    with pytest.raises(ValueError, match="isotropic does not take in_channels"):
        IsotropicConfig(in_channels=2)


def test_front_ends_see_the_fields_a_method_reads():
    zssr = describe_options(ZSSRConfig)
    assert {"kernel", "blur", "gradual", "steps", "lr", "hparams"} <= set(zssr)
    assert not {"scale", "degradation", "in_channels", "validation_fraction"} & set(zssr)
    assert zssr["steps"].help == "Training steps per gradual stage."  # its own wording
    assert zssr["batch_size"].default == 4 and zssr["gradual"].parse is bool
    iso = describe_options(IsotropicConfig)
    assert iso["fuse"].choices == ("mean", "geometric") and iso["lr"].default == 1e-3
    assert iso["validation_fraction"].help.startswith("Columns held out of every plane")


# --------------------------------------------------------------- through the methods

torch = pytest.importorskip("torch")

TINY_UNET = {"n_first": 4, "depth": 1, "kernel_size": 3}
ISO = {"steps": 4, "batch_size": 2, "patch_size": 12, "hparams": TINY_UNET}
ZSSR = {"steps": 3, "batch_size": 2, "patch_size": 16, "hparams": {"depth": 3, "features": 8}}


def _stack(shape=(5, 20, 24), seed=0):
    return np.random.default_rng(seed).integers(0, 1000, shape).astype(np.uint16)


def test_reconstruct_keeps_the_network_it_trained():
    from napari_sr.selfsup.isotropic import isotropic, reconstruct

    data = _stack()
    run = reconstruct(data, 3, IsotropicConfig(**ISO), device="cpu")
    assert run.factor == 3.0 and len(run.models) == 1
    assert run.image.shape == (13, 20, 24) and run.image.dtype == np.uint16
    model = run.models[0]
    assert model.training_config.hparams == TINY_UNET and model.training_config.steps == 4
    assert model.checkpoint["data"]["isotropic"]["factor"] == 3.0
    # the kept network restores the stack exactly as it did inside the run
    np.testing.assert_array_equal(isotropic(data, 3, model=model, device="cpu"), run.image)
    # and the same recipe given as keywords is the same run
    np.testing.assert_array_equal(isotropic(data, 3, device="cpu", **ISO), run.image)
    assert reconstruct(data, 3, model=model, device="cpu").models == ()


def test_unknown_options_of_the_methods_name_the_closest_field():
    from napari_sr.selfsup.isotropic import isotropic
    from napari_sr.selfsup.zssr import zssr

    with pytest.raises(UnknownOptionError, match=r"zssr\(\) got unexpected options step "
                       r"\(did you mean steps\?\)"):  # fmt: skip
        zssr(np.zeros((20, 20), np.float32), 2, step=5)
    with pytest.raises(UnknownOptionError, match=r"did you mean psf\?"):
        isotropic(_stack(), 3, pfs=2.0)
    with pytest.raises(ValueError, match="give the architecture once"):
        isotropic(_stack(), 3, model="care_unet", architecture="zssr_net")


def test_zssr_blur_is_the_gaussian_kernel():
    from napari_sr import Image
    from napari_sr.selfsup.zssr import gaussian_kernel, zssr

    image = Image(np.random.default_rng(3).random((20, 20), dtype=np.float32), "YX")
    by_blur = zssr(image, 2, blur=1.0, device="cpu", **ZSSR)
    by_kernel = zssr(image, 2, kernel=gaussian_kernel(1.0), device="cpu", **ZSSR)
    np.testing.assert_array_equal(by_blur.data, by_kernel.data)
    assert by_blur.metadata["provenance"]["kernel"] == "Gaussian blur sigma 1 + decimation"
