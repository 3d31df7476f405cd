"""``train``: records, determinism, exact resume, cancellation, early stopping, checks.

Every run here is tiny (FSRCNN, 16-pixel patches, a few steps): they test the machinery,
not the quality; ``test_training_gain.py`` tests that training pays off.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
from scipy import ndimage

torch = pytest.importorskip("torch")

import napari_sr  # noqa: E402

# the tiny runs here end far below bicubic: that warning is tested in test_training_init.py
pytestmark = pytest.mark.filterwarnings("ignore::napari_sr.training.log.BelowInterpolationWarning")
from napari_sr import Cancelled, Image  # noqa: E402
from napari_sr.models.checkpoint import load_model, read_metadata, save_model  # noqa: E402
from napari_sr.normalization import NATURAL_8BIT, Normalization  # noqa: E402
from napari_sr.training import loop  # noqa: E402
from napari_sr.training.loop import train  # noqa: E402
from napari_sr.training.state import load_state, state_path  # noqa: E402


def smooth(shape, seed=0, dtype=np.uint16, top=1000):
    rng = np.random.default_rng(seed)
    image = ndimage.gaussian_filter(rng.random(shape), 1.5)
    image = (image - image.min()) / np.ptp(image) * top
    return image.astype(dtype)


IMAGES = [smooth((40, 40), seed=1), smooth((2, 36, 44), seed=2)]
VALIDATION = smooth((32, 32), seed=3)
TINY = {
    "scale": 2,
    "patch_size": 16,
    "batch_size": 2,
    "lr": 1e-3,
    "device": "cpu",
    "hparams": {"d": 8, "s": 4, "m": 1},
}


def weights(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def same_weights(a, b):
    a, b = weights(a), weights(b)
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_returns_a_trained_model_with_its_records(tmp_path):
    records, progress = [], []
    before = torch.get_rng_state()
    model = train(
        "fsrcnn",
        IMAGES,
        steps=4,
        validation=VALIDATION,
        validate_every=2,
        log=records.append,
        log_every=2,
        progress=lambda done, total: progress.append((done, total)),
        **TINY,
    )
    assert torch.equal(torch.get_rng_state(), before)  # the caller's RNG is untouched
    assert not model.training
    assert (model.spec.name, model.scale, model.in_channels) == ("fsrcnn", 2, 1)
    assert model.hparams == {"d": 8, "s": 4, "m": 1}
    assert model.normalization == Normalization()  # uint16: percentiles
    assert model.training_config.steps == 4
    assert progress == [(1, 4), (2, 4), (3, 4), (4, 4)]
    events = [r["event"] for r in records]
    assert events == ["start", "step", "validation", "step", "validation", "done"]
    step = records[1]
    assert step["step"] == 2 and step["lr"] > 0 and step["eta_s"] >= 0
    assert set(step["losses"]) == {"l1"} and step["loss"] > 0
    report = model.training_report
    assert report["steps_done"] == 4 and report["stopped"] == "completed"
    assert [h["step"] for h in report["history"]] == [2, 4]
    assert report["validation"]["step"] in (2, 4)
    assert report["bicubic"]["psnr"] > 0
    assert report["gain_db"] == pytest.approx(
        report["validation"]["psnr"] - report["bicubic"]["psnr"]
    )
    assert report["seconds"] > 0 and report["device"] == "cpu"

    # save_model records the run by default, and the file rebuilds the same model
    path = save_model(model, tmp_path / "m.safetensors")
    meta = read_metadata(path)
    assert meta["training"]["steps"] == 4 and meta["training"]["loss"] == {"l1": 1.0}
    assert meta["data"]["training"]["count"] == 2 and meta["data"]["training"]["planes"] == 3
    assert meta["metrics"]["validation"]["psnr"] == report["validation"]["psnr"]
    assert meta["normalization"] == Normalization().to_dict()
    assert same_weights(load_model(path), model)


def test_the_seed_decides_the_weights():
    a = train("fsrcnn", IMAGES, steps=3, seed=5, **TINY)
    b = train("fsrcnn", IMAGES, steps=3, seed=5, **TINY)
    c = train("fsrcnn", IMAGES, steps=3, seed=6, **TINY)
    assert same_weights(a, b)
    assert not same_weights(a, c)


RESUMABLE_RUN = {
    **TINY,
    "steps": 6,
    "validation": VALIDATION,
    "validate_every": 2,
    "checkpoint_every": 2,
    "log_every": 4,  # the loss averaged for the log runs across the interruption
    "warmup_steps": 2,
    "loss": {"l1": 1.0, "ssim": 0.1},
    "degradation": {"blur": 0.5, "noise": {"poisson": 200.0, "gaussian": 2.0}},
}


def _report(model):
    return {k: v for k, v in model.training_report.items() if k != "seconds"}


@pytest.mark.parametrize("stop_at", [3, 4])  # between validations, and right after one
def test_resume_after_cancellation_is_bit_identical(tmp_path, stop_at):
    whole = train("fsrcnn", IMAGES, checkpoint=tmp_path / "a.safetensors", **RESUMABLE_RUN)
    done = []
    with pytest.raises(Cancelled, match=f"after {stop_at} of 6 steps; checkpoint saved"):
        train(
            "fsrcnn",
            IMAGES,
            checkpoint=tmp_path / "b.safetensors",
            progress=lambda k, n: done.append(k),
            cancel=lambda: len(done) >= stop_at,
            **RESUMABLE_RUN,
        )
    assert load_state(state_path(tmp_path / "b.safetensors")).step == stop_at
    resumed = train(
        "fsrcnn", IMAGES, checkpoint=tmp_path / "b.safetensors", resume=True, **RESUMABLE_RUN
    )
    assert same_weights(whole, resumed)
    assert _report(whole) == _report(resumed)
    assert same_weights(
        load_model(tmp_path / "a.safetensors"), load_model(tmp_path / "b.safetensors")
    )


def test_train_k_steps_then_extend_to_n_is_bit_identical(tmp_path):
    """With a schedule that does not depend on the total (constant), ``steps=k`` then a
    resume with ``steps=n`` equals ``n`` steps at once."""
    run = {**TINY, "schedule": "constant"}
    whole = train("fsrcnn", IMAGES, steps=5, **run)
    path = tmp_path / "m.safetensors"
    train("fsrcnn", IMAGES, steps=2, checkpoint=path, **run)
    resumed = train("fsrcnn", IMAGES, steps=5, checkpoint=path, resume=True, **run)
    assert same_weights(whole, resumed)
    assert read_metadata(path)["metrics"]["steps_done"] == 5


def test_cancellation_leaves_a_usable_checkpoint(tmp_path):
    stop = threading.Event()
    path = tmp_path / "m.safetensors"

    def progress(done, total):
        if done == 2:
            stop.set()

    with pytest.raises(Cancelled, match="continue with resume=True"):
        train(
            "fsrcnn",
            IMAGES,
            steps=50,
            validation=VALIDATION,
            validate_every=1,
            checkpoint=path,
            progress=progress,
            cancel=stop,
            **TINY,
        )
    model = load_model(path)
    meta = read_metadata(path)
    assert meta["metrics"]["steps_done"] == 2 and meta["metrics"]["stopped"] == "cancelled"
    assert meta["training"]["steps"] == 50
    assert model.normalization == Normalization()
    out = napari_sr.upscale(VALIDATION, 2, method=path)
    assert out.shape == (64, 64) and out.dtype == np.uint16
    # without a checkpoint path nothing is written, and the message says so
    with pytest.raises(Cancelled, match="nothing was saved"):
        train("fsrcnn", IMAGES, steps=5, cancel=lambda: True, **TINY)


def test_cancellation_during_validation_is_redone_on_resume(tmp_path, monkeypatch):
    run = {**TINY, "steps": 4, "validation": VALIDATION, "validate_every": 2}
    whole = train("fsrcnn", IMAGES, **run)
    real = loop.evaluate
    calls = []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # the validation at step 4
            raise Cancelled("cancelled by the caller")
        return real(*args, **kwargs)

    monkeypatch.setattr(loop, "evaluate", interrupted)
    path = tmp_path / "m.safetensors"
    with pytest.raises(Cancelled, match="after 4 of 4 steps"):
        train("fsrcnn", IMAGES, checkpoint=path, **run)
    monkeypatch.setattr(loop, "evaluate", real)
    resumed = train("fsrcnn", IMAGES, checkpoint=path, resume=True, **run)
    assert same_weights(whole, resumed)
    assert _report(whole) == _report(resumed)


def test_early_stopping_keeps_the_best_weights(monkeypatch):
    scores = iter([20.0, 22.0, 21.0, 21.5, 30.0])
    monkeypatch.setattr(loop, "evaluate", lambda *a, **k: {"psnr": next(scores), "ssim": 0.5})
    run = {**TINY, "schedule": "constant"}
    records = []
    model = train(
        "fsrcnn",
        IMAGES,
        steps=10,
        validation=VALIDATION,
        validate_every=1,
        patience=2,
        log=records.append,
        **run,
    )
    report = model.training_report
    assert report["stopped"] == "early" and report["steps_done"] == 4
    assert report["validation"] == pytest.approx({**report["validation"], "psnr": 22.0, "step": 2})
    assert records[-2]["event"] == "early_stop"
    # the returned weights are those after step 2
    assert same_weights(model, train("fsrcnn", IMAGES, steps=2, **run))


def test_checkpoint_paths_are_checked_before_any_work(tmp_path):
    path = tmp_path / "m.safetensors"
    path.write_bytes(b"keep me")
    with pytest.raises(FileExistsError, match="already exists"):
        train("fsrcnn", IMAGES, steps=1, checkpoint=path, **TINY)
    assert path.read_bytes() == b"keep me"
    train("fsrcnn", IMAGES, steps=1, checkpoint=path, overwrite=True, **TINY)
    assert load_model(path).scale == 2
    with pytest.raises(ValueError, match="must name a '.safetensors' file"):
        train("fsrcnn", IMAGES, steps=1, checkpoint=tmp_path / "m.pth", **TINY)
    with pytest.raises(ValueError, match="resume=True needs checkpoint"):
        train("fsrcnn", IMAGES, steps=1, resume=True, **TINY)
    with pytest.raises(FileNotFoundError, match="no training state"):
        train(
            "fsrcnn", IMAGES, steps=1, checkpoint=tmp_path / "new.safetensors", resume=True, **TINY
        )


def test_resume_refuses_another_run(tmp_path):
    path = tmp_path / "m.safetensors"
    train("fsrcnn", IMAGES, steps=2, checkpoint=path, **TINY)
    with pytest.raises(ValueError, match=r"other options: lr=0.01 \(saved 0.001\)"):
        train("fsrcnn", IMAGES, steps=4, checkpoint=path, resume=True, **{**TINY, "lr": 1e-2})
    with pytest.raises(ValueError, match="images differ"):
        train("fsrcnn", IMAGES[:1], steps=4, checkpoint=path, resume=True, **TINY)
    with pytest.raises(ValueError, match="pass the same model"):
        train(
            "fsrcnn",
            IMAGES,
            steps=4,
            checkpoint=path,
            resume=True,
            init="scratch",
            **{**TINY, "hparams": {}},
        )
    # the default start of fsrcnn x2 is the bundled weights, which this run did not use
    with pytest.raises(ValueError, match=r"init='fsrcnn_x2.sr291' \(saved 'scratch'\)"):
        train("fsrcnn", IMAGES, steps=4, checkpoint=path, resume=True, **{**TINY, "hparams": {}})


def test_fine_tuning_a_model_object():
    base = napari_sr.create_model("fsrcnn", scale=2, d=8, s=4, m=1)
    base.normalization = Normalization("percentile", 2.0, 99.0)
    start = weights(base)
    options = {k: v for k, v in TINY.items() if k != "hparams"}
    tuned = train(base, IMAGES, steps=2, **options)
    assert tuned is base
    assert tuned.normalization == Normalization("percentile", 2.0, 99.0)  # kept
    assert not all(torch.equal(start[k], v) for k, v in weights(tuned).items())
    with pytest.raises(ValueError, match="upscales by 2, but scale=3"):
        train(base, IMAGES, steps=1, **{**options, "scale": 3, "patch_size": 18})
    with pytest.raises(ValueError, match="hparams only apply"):
        train(base, IMAGES, steps=1, **TINY)
    with pytest.raises(ValueError, match="leave in_channels out"):
        train(base, IMAGES, steps=1, in_channels=3, **options)
    with pytest.raises(TypeError, match="registered model name"):
        train(torch.nn.Conv2d(1, 1, 1), IMAGES, steps=1, **options)


def test_rgb_images_train_a_three_channel_model():
    rgb = [smooth((40, 40, 3), seed=s, dtype=np.uint8, top=255) for s in (1, 2)]
    model = train("fsrcnn", rgb[:1], steps=2, validation=Image(rgb[1]), validate_every=2, **TINY)
    assert model.in_channels == 3
    assert model.normalization == NATURAL_8BIT
    assert model.training_report["validation"]["y_channel"] is True
    assert napari_sr.upscale(rgb[1], 2, method=model).shape == (80, 80, 3)
    gray = train("fsrcnn", rgb[:1], steps=1, in_channels=1, **TINY)  # colours as planes
    assert gray.in_channels == 1


def test_validation_fraction_holds_out_rows():
    model = train("fsrcnn", IMAGES[:1], steps=2, validation_fraction=0.4, validate_every=1, **TINY)
    record = model.checkpoint["data"]
    assert record["training"]["images"][0]["shape"] == [24, 40]
    assert record["validation"]["images"][0]["shape"] == [16, 40]
    assert len(model.training_report["history"]) == 2
    with pytest.raises(ValueError, match="either validation images or validation_fraction"):
        train("fsrcnn", IMAGES, steps=1, validation=VALIDATION, validation_fraction=0.2, **TINY)


def test_every_loss_term_trains():
    all_terms = {"l1": 1, "mse": 1, "charbonnier": 1, "ssim": 0.2, "tv": 0.01, "texture": 1}
    records = []
    model = train("fsrcnn", IMAGES, steps=2, loss=all_terms, log=records.append, **TINY)
    step = next(r for r in records if r["event"] == "step")
    assert set(step["losses"]) == set(all_terms)
    assert model.training_config.loss == {k: float(v) for k, v in all_terms.items()}


def test_a_size_multiple_model_checks_the_patch():
    with pytest.raises(ValueError, match="multiple of 4; choose patch_size as a multiple of 8"):
        train("sr_autoencoder", IMAGES, steps=1, **{**TINY, "hparams": None, "patch_size": 12})


@pytest.mark.parametrize(
    ("changes", "error", "match"),
    [
        ({"model_or_config": "fsrcnnn"}, ValueError, "unknown model 'fsrcnnn'"),
        ({"scale": 5, "patch_size": 20}, ValueError, "fsrcnn supports scales 2, 3, 4, not 5"),
        ({"patch_size": 48}, ValueError, "smaller than patch_size"),
        ({"validation": smooth((12, 12))}, ValueError, "smaller than the validation minimum"),
        ({"log_every": 0}, ValueError, "log_every must be at least 1"),
        ({"hparams": {"depth": 3}}, ValueError, "fsrcnn has no hyperparameter"),
        ({"in_channels": 0}, ValueError, "in_channels must be a positive"),
        ({"device": "tpu"}, ValueError, "tpu"),
        ({"images": [np.zeros((4, 40, 40), np.int32)]}, TypeError, "int32"),
        ({"images": [np.full((40, 40), np.nan, np.float32)]}, ValueError, "NaN"),
        ({"loss": "perceptual"}, ValueError, "unknown loss perceptual"),
        ({"degradation": {"noise": {"poisson": 0}}}, ValueError, "poisson peak"),
    ],
)
def test_bad_input_fails_before_training(changes, error, match):
    arguments = {"model_or_config": "fsrcnn", "images": IMAGES, "steps": 1, **TINY, **changes}
    with pytest.raises(error, match=match):
        train(**arguments)


def test_a_diverging_run_stops_with_a_clear_error():
    model = napari_sr.create_model("fsrcnn", scale=2, d=8, s=4, m=1)
    model.register_forward_hook(lambda module, args, out: out * float("nan"))
    options = {k: v for k, v in TINY.items() if k != "hparams"}
    with pytest.raises(ValueError, match="training diverged: the loss is nan at step 1"):
        train(model, IMAGES, steps=2, **options)


def test_the_recipe_is_the_input():
    """A config, a config with keyword changes, or keywords alone: the same run."""
    from napari_sr.training.config import TrainConfig, UnknownOptionError

    options = {k: v for k, v in TINY.items() if k != "device"}
    by_keywords = train("fsrcnn", IMAGES, steps=3, seed=2, device="cpu", **options)
    recipe = TrainConfig(architecture="fsrcnn", steps=3, seed=2, **options)
    by_config = train(recipe, IMAGES, device="cpu")
    changed = train("fsrcnn", IMAGES, recipe.replace(steps=2, architecture=None), steps=3,
                    device="cpu")  # fmt: skip
    as_record = train("fsrcnn", IMAGES, recipe.to_dict(), device="cpu")
    for model in (by_config, changed, as_record):
        assert same_weights(by_keywords, model)
    saved = by_config.training_config
    assert (saved.architecture, saved.in_channels, saved.hparams) == ("fsrcnn", 1, TINY["hparams"])
    assert saved.init == "scratch" and saved.normalization == Normalization().to_dict()
    # the recorded recipe trains the same model again
    assert same_weights(train(saved, IMAGES, device="cpu"), by_config)
    with pytest.raises(UnknownOptionError, match=r"unexpected options bacth_size \(did you "
                       r"mean batch_size\?\)"):  # fmt: skip
        train("fsrcnn", IMAGES, steps=1, bacth_size=2, **TINY)
    with pytest.raises(ValueError, match="the config names no architecture"):
        train(TrainConfig(scale=2, steps=1), IMAGES)
    with pytest.raises(TypeError, match="give the config once"):
        train(recipe, IMAGES, recipe)
    with pytest.raises(ValueError, match="give the architecture once"):
        train("fsrcnn", IMAGES, steps=1, architecture="espcn", **TINY)
    with pytest.raises(ValueError, match="the config trains 'espcn', but the model given"):
        train(by_config, IMAGES, recipe.replace(architecture="espcn"), device="cpu")
    with pytest.raises(TypeError, match=r"train\(\) needs scale"):
        train("fsrcnn", IMAGES, steps=1)
