"""TrainConfig: defaults, the JSON round trip, and one clear error per bad field."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import ClassVar

import pytest

from napari_sr.training.config import LOSS_NAMES, TrainConfig, parse_loss


def test_defaults_and_derived_patch_size():
    config = TrainConfig(scale=3, steps=10)
    assert config.patch_size == 144  # 48 low-resolution pixels
    assert config.loss == {"l1": 1.0}
    assert config.augment == ("hflip", "vflip", "rot90")
    assert config.degradation == {}
    assert config.version == 1


def test_round_trip_through_json():
    config = TrainConfig(
        scale=2,
        steps=50,
        patch_size=32,
        loss="l1=1,ssim=0.2",
        betas=[0.8, 0.99],
        augment=["rot90", "hflip"],
        degradation={"blur": 1.0, "noise": {"gaussian": 2}},
        normalization={"kind": "range", "low": 0, "high": 255},
        patience=3,
    )
    record = json.loads(json.dumps(config.to_dict()))
    again = TrainConfig.from_dict(record)
    assert again == config
    assert again.augment == ("hflip", "rot90")  # canonical order
    assert again.betas == (0.8, 0.99)
    assert again.degradation == {"blur": 1.0, "noise": {"gaussian": 2.0}}


def test_differences_names_changed_fields():
    a = TrainConfig(scale=2, steps=10)
    assert a.differences(a.replace(steps=20, lr=1e-3)) == ["steps", "lr"]


@pytest.mark.parametrize(
    ("changes", "error", "match"),
    [
        ({"scale": 0}, ValueError, "scale must be at least 1"),
        ({"scale": 2.5}, TypeError, "scale must be a whole number"),
        ({"steps": 0}, ValueError, "steps must be at least 1"),
        ({"patch_size": 33}, ValueError, "multiple of scale"),
        ({"patch_size": 2}, ValueError, "patch_size must be at least 4"),
        ({"batch_size": True}, TypeError, "batch_size must be a whole number"),
        ({"lr": 0}, ValueError, "lr must be > 0"),
        ({"lr": float("nan")}, ValueError, "lr must be"),
        ({"betas": (0.9,)}, ValueError, "betas must be two numbers"),
        ({"betas": (0.9, 1.0)}, ValueError, "betas must be"),
        ({"loss": "l3"}, ValueError, "unknown loss l3; valid: l1, mse"),
        ({"loss": {"l1": -1}}, ValueError, "finite and ≥ 0"),
        ({"loss": {"l1": 0}}, ValueError, "at least one loss weight"),
        ({"loss": 3}, TypeError, "loss must be a name"),
        ({"loss": "ssim", "patch_size": 8}, ValueError, "ssim loss needs patches"),
        ({"schedule": "linear"}, ValueError, "unknown schedule 'linear'"),
        ({"warmup_steps": -1}, ValueError, "warmup_steps must be at least 0"),
        ({"min_lr": 1.0}, ValueError, "min_lr .* must not exceed lr"),
        ({"decay_every": 0}, ValueError, "decay_every must be at least 1"),
        ({"decay_factor": 0}, ValueError, "decay_factor must be > 0"),
        ({"augment": ["mirror"]}, ValueError, "unknown augmentation mirror"),
        ({"degradation": {"sigma": 1}}, ValueError, "unknown degradation option"),
        ({"degradation": {"noise": {"salt": 1}}}, ValueError, "noise must be"),
        ({"degradation": 3}, TypeError, "degradation must be a dict"),
        ({"normalization": {"kind": "zscore", "low": 0, "high": 1}}, ValueError, "kind"),
        ({"validation_fraction": 0.9}, ValueError, "validation_fraction must be"),
        ({"validate_every": 0}, ValueError, "validate_every must be at least 1"),
        ({"patience": 0}, ValueError, "patience must be at least 1"),
        ({"checkpoint_every": 0}, ValueError, "checkpoint_every must be at least 1"),
        ({"seed": -1}, ValueError, "seed must be at least 0"),
        ({"version": 99}, ValueError, "newer than this napari-sr"),
    ],
)
def test_every_field_is_validated(changes, error, match):
    with pytest.raises(error, match=match):
        TrainConfig(**{"scale": 2, "steps": 10, **changes})


def test_from_dict_rejects_unknown_and_missing_keys():
    with pytest.raises(ValueError, match="unknown training option.*lerning_rate; valid: "):
        TrainConfig.from_dict({"scale": 2, "steps": 1, "lerning_rate": 1})
    with pytest.raises(ValueError, match="needs steps"):
        TrainConfig.from_dict({"scale": 2})
    with pytest.raises(TypeError, match="is a dict"):
        TrainConfig.from_dict([("scale", 2)])


def test_parse_loss_forms():
    assert parse_loss("l1") == {"l1": 1.0}
    assert parse_loss("L1=1, SSIM=0.2") == {"l1": 1.0, "ssim": 0.2}
    assert parse_loss({"mse": 2}) == {"mse": 2.0}
    with pytest.raises(ValueError, match="must be a number"):
        parse_loss("l1=a")
    with pytest.raises(ValueError, match="empty"):
        parse_loss(" , ")
    assert set(LOSS_NAMES) == {
        "l1", "mse", "charbonnier", "ssim", "tv", "texture", "shift_l1", "spectrum",
        "consistency", "vgg", "sr_features", "feature_matching",
    }  # fmt: skip


# ------------------------------------------------------------ the recipe as the input


def test_build_applies_overrides_and_derives_again():
    config = TrainConfig.build(None, {"scale": 2, "steps": 10})
    assert config.patch_size == 96  # derived: 48 low-resolution pixels
    assert TrainConfig.build(config, {"scale": 3}).patch_size == 144  # derived again
    fixed = TrainConfig(scale=2, steps=10, patch_size=32)
    assert fixed.replace(steps=20).patch_size == 32  # a given value stays
    # a dict (a model file's training record) is a config too
    assert TrainConfig.build(config.to_dict(), {"lr": 1e-3}) == config.replace(lr=1e-3)
    with pytest.raises(TypeError, match=r"train\(\) needs scale and steps, e.g. scale=2"):
        TrainConfig.build(None, {})


def test_unknown_names_are_refused_with_the_closest_field():
    from napari_sr.training.config import UnknownOptionError

    with pytest.raises(UnknownOptionError, match=r"unexpected options bach_size \(did you "
                       r"mean batch_size\?\); training options are the fields of "):  # fmt: skip
        TrainConfig.build(None, {"scale": 2, "steps": 1, "bach_size": 4})
    error = UnknownOptionError("x")
    assert isinstance(error, ValueError) and isinstance(error, TypeError)
    with pytest.raises(ValueError, match=r"warmup_step; valid: .*\(did you mean warmup_steps"):
        TrainConfig.from_dict({"scale": 2, "steps": 1, "warmup_step": 1})
    with pytest.raises(UnknownOptionError, match="epochs"):
        TrainConfig(scale=2, steps=1).replace(epochs=3)


def test_records_of_older_versions_still_load():
    """A training record as napari-sr wrote it before the network joined the recipe
    (no task, architecture, hparams, in_channels)."""
    old = {
        "scale": 2, "steps": 50, "patch_size": 32, "batch_size": 16, "lr": 0.0002,
        "betas": [0.9, 0.999], "loss": {"l1": 1.0}, "schedule": "cosine",
        "warmup_steps": 0, "min_lr": 0.0, "decay_every": None, "decay_factor": 0.5,
        "augment": ["hflip", "vflip", "rot90"], "degradation": {}, "normalization": None,
        "validation_fraction": 0.0, "validate_every": 100, "patience": None,
        "checkpoint_every": 100, "seed": 0, "init": "scratch", "version": 1,
    }  # fmt: skip
    config = TrainConfig.from_dict(old)
    assert config.architecture is None and config.hparams is None and config.scale == 2
    assert {k: v for k, v in config.to_dict().items() if k in old} == old


def test_describe_options_for_front_ends():
    from napari_sr.training.config import describe_options

    options = describe_options(TrainConfig)
    assert list(options) == TrainConfig.field_names()  # every field is documented
    batch = options["batch_size"]
    assert (batch.flag, batch.default, batch.parse, batch.help) == (
        "--batch-size", 16, int, "Patches per update."
    )  # fmt: skip
    assert options["scale"].required and not options["lr"].required
    assert options["schedule"].choices == ("cosine", "step", "constant")
    assert options["hparams"].parse("d=32,s=5") == {"d": 32, "s": 5}
    assert options["augment"].parse("hflip,rot90") == ("hflip", "rot90")
    assert options["augment"].parse("none") == ()
    assert options["betas"].parse("0.8,0.99") == (0.8, 0.99)
    assert options["degradation"].parse is None  # a dict: given through other flags
    assert "``" not in options["patch_size"].help and "Default" not in batch.help
    with pytest.raises(ValueError, match="takes KEY=VALUE pairs"):
        options["hparams"].parse("d")


def test_a_subclass_changes_defaults_and_fixes_fields():
    @dataclass(frozen=True, kw_only=True)
    class Toy(TrainConfig):
        """A toy recipe.

        Attributes
        ----------
        extra : int
            Something of its own.
        """

        TASK: ClassVar[str] = "toy"
        DEFAULTS: ClassVar[dict] = {"scale": 1, "steps": 7, "lr": 1e-3}
        FIXED: ClassVar[dict] = {"scale": "it is same-size"}
        extra: int = 3

    toy = Toy()
    assert (toy.scale, toy.steps, toy.lr, toy.batch_size, toy.extra) == (1, 7, 1e-3, 16, 3)
    assert toy.to_dict()["task"] == "toy"
    assert TrainConfig.from_dict(toy.to_dict()) == toy  # read by the class of its task
    with pytest.raises(ValueError, match=r"toy does not take scale \(it is same-size\)"):
        Toy(scale=2)
    with pytest.raises(ValueError, match="takes a TrainConfig record, not one of task 'toy'"):
        TrainConfig.build(toy.to_dict(), where="train")
    with pytest.raises(TypeError, match="takes a TrainConfig"):
        TrainConfig.build(toy, where="train")
