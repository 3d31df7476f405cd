"""What ``train`` does when things go wrong: a full disk while saving, a damaged or
incomplete resume file, a cancel during the last step, and hostile arguments."""

from __future__ import annotations

import errno
import json
import threading

import pytest

torch = pytest.importorskip("torch")

import safetensors.torch  # noqa: E402
from safetensors import SafetensorError, safe_open  # noqa: E402
from test_training_loop import smooth  # noqa: E402  (the same smooth test images)

from napari_sr import Cancelled  # noqa: E402
from napari_sr.models.checkpoint import load_model, read_metadata  # noqa: E402
from napari_sr.training import CheckpointWriteError  # noqa: E402
from napari_sr.training.loop import train  # noqa: E402
from napari_sr.training.state import HEADER_KEYS, load_state, state_path  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::napari_sr.training.log.BelowInterpolationWarning")


IMAGES = [smooth((40, 40), seed=1)]
TINY = {
    "scale": 2,
    "patch_size": 16,
    "batch_size": 2,
    "lr": 1e-3,
    "device": "cpu",
    "hparams": {"d": 8, "s": 4, "m": 1},
}


# ------------------------------------------------------------------- a full disk


def failing_save_file(error, *, target=".resume.", after=0):
    """A safetensors ``save_file`` that writes part of the file, then fails with
    ``error`` for files whose temporary name contains ``target``, from the
    ``after``-th such write on."""
    real = safetensors.torch.save_file
    calls = []

    def save_file(tensors, filename, metadata=None):
        if target in str(filename):
            calls.append(filename)
            if len(calls) > after:
                with open(filename, "wb") as fh:
                    fh.write(b"partial")  # a short write
                raise error
        return real(tensors, filename, metadata=metadata)

    return save_file


DISK_FULL = [
    SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)"),
    OSError(errno.ENOSPC, "No space left on device"),
    OSError(errno.EDQUOT, "Disk quota exceeded"),
]


@pytest.mark.parametrize("error", DISK_FULL, ids=["safetensors", "ENOSPC", "EDQUOT"])
def test_a_full_disk_stops_training_with_an_oserror_and_keeps_the_last_state(
    tmp_path, monkeypatch, error
):
    path = tmp_path / "m.safetensors"
    # the first checkpoint (step 2) is written; the second (step 4) finds the disk full
    monkeypatch.setattr(safetensors.torch, "save_file", failing_save_file(error, after=1))
    with pytest.raises(CheckpointWriteError) as caught:
        train("fsrcnn", IMAGES, steps=6, checkpoint=path, checkpoint_every=2, **TINY)
    err = caught.value
    assert isinstance(err, OSError)
    assert err.errno in (errno.ENOSPC, errno.EDQUOT)
    text = str(err)
    assert text.startswith(("no space left on device", "disk quota exceeded"))
    assert f"while saving the training state {str(state_path(path))!r} (about" in text
    assert "MB); free space or choose another folder" in text
    assert f"training state up to step 2 was kept in {str(state_path(path))!r}" in text
    # nothing partial is left; the previous checkpoint is whole and resumable
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "m.resume.safetensors",
        "m.safetensors",
    ]
    assert load_state(state_path(path)).step == 2
    assert read_metadata(path)["metrics"]["steps_done"] == 2
    # what was learnt comes back with the error
    assert err.model is not None and not err.model.training
    assert err.model.training_report["steps_done"] == 4
    monkeypatch.undo()
    resumed = train("fsrcnn", IMAGES, steps=6, checkpoint=path, resume=True, checkpoint_every=2,
                    **TINY)  # fmt: skip
    assert resumed.training_report["steps_done"] == 6


def test_a_full_disk_on_the_model_file_and_at_the_first_save(tmp_path, monkeypatch):
    path = tmp_path / "m.safetensors"
    error = SafetensorError("Error while serializing: I/O error: No space left on device (os "
                            "error 28)")  # fmt: skip
    monkeypatch.setattr(
        safetensors.torch, "save_file", failing_save_file(error, target=".m.safetensors.")
    )
    with pytest.raises(CheckpointWriteError, match="while saving the training checkpoint") as e:
        train("fsrcnn", IMAGES, steps=3, checkpoint=path, **TINY)
    # the resume state of the last step was written before the model file failed
    assert "training state up to step 3 was kept" in str(e.value)
    assert [p.name for p in tmp_path.iterdir()] == ["m.resume.safetensors"]
    # the very first save: nothing of this run is on disk yet, and the message says so
    monkeypatch.setattr(safetensors.torch, "save_file", failing_save_file(error))
    with pytest.raises(CheckpointWriteError, match="no checkpoint of this run had been saved"):
        train("fsrcnn", IMAGES, steps=1, checkpoint=tmp_path / "n.safetensors", **TINY)


def test_another_io_error_is_an_oserror_too(tmp_path, monkeypatch):
    error = SafetensorError("Error while serializing: I/O error: Input/output error (os error 5)")
    monkeypatch.setattr(safetensors.torch, "save_file", failing_save_file(error))
    with pytest.raises(CheckpointWriteError, match=r"could not write the training state .*"
                       r"\(I/O error: Input/output error \(os error 5\)\)") as caught:  # fmt: skip
        train("fsrcnn", IMAGES, steps=1, checkpoint=tmp_path / "m.safetensors", **TINY)
    assert caught.value.errno == errno.EIO


# --------------------------------------------------------- damaged resume files


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory):
    """A run of 2 steps saved with best weights (validation), for resuming."""
    folder = tmp_path_factory.mktemp("run")
    path = folder / "m.safetensors"
    run = {"validation": smooth((32, 32), seed=3), "validate_every": 1, **TINY}
    train("fsrcnn", IMAGES, steps=2, checkpoint=path, **run)
    return path, run


def rewrite_state(source, target, *, drop=(), header=None, tensors=None):
    with safe_open(str(state_path(source)), framework="pt") as handle:
        metadata = dict(handle.metadata())
        stored = {k: handle.get_tensor(k) for k in handle.keys()}
    stored = {k: v for k, v in stored.items() if not any(k.startswith(d) for d in drop)}
    metadata = {k: v for k, v in metadata.items() if k not in drop}
    metadata.update(header or {})
    stored.update(tensors or {})
    safetensors.torch.save_file(stored, str(state_path(target)), metadata=metadata)


def resume(target, run, steps=4):
    return train("fsrcnn", IMAGES, steps=steps, checkpoint=target, resume=True, **run)


FIX = r"start without resume=True \(--resume\) to train anew"


@pytest.mark.parametrize("entry", [k for k in HEADER_KEYS if k != "format"])
def test_a_missing_header_entry_is_named(tmp_path, saved_run, entry):
    source, run = saved_run
    target = tmp_path / "m.safetensors"
    rewrite_state(source, target, drop=(entry,))
    with pytest.raises(ValueError, match=rf"incomplete or damaged: .*missing header entry "
                       rf"'{entry}'.*; {FIX}"):  # fmt: skip
        resume(target, run)


@pytest.mark.parametrize(
    ("group", "match"),
    [
        ("model.", r"missing the model weights \(tensors 'model\.\*'\)"),
        ("best.", "missing the best weights"),
        ("rng.", r"missing the random state \(tensor 'rng.torch'\)"),
        ("optimizer.", "the optimiser state lacks step, exp_avg, exp_avg_sq for parameter"),
        ("model.body.0.weight", r"model weights lack body\.0\.weight"),
        ("optimizer.0.exp_avg_sq", r"lacks step, exp_avg, exp_avg_sq for parameter\(s\) 0"),
    ],
)
def test_missing_tensors_are_named(tmp_path, saved_run, group, match):
    source, run = saved_run
    target = tmp_path / "m.safetensors"
    rewrite_state(source, target, drop=(group,))
    with pytest.raises(ValueError, match=rf"cannot resume: .*{match}.*; {FIX}"):
        resume(target, run)


def test_the_format_entry_and_unreadable_files(tmp_path, saved_run):
    source, run = saved_run
    target = tmp_path / "m.safetensors"
    rewrite_state(source, target, drop=("format",))
    with pytest.raises(ValueError, match=rf"is not a napari-sr training state .*; {FIX}"):
        resume(target, run)
    state_path(target).write_bytes(b"\x00" * 40)
    with pytest.raises(ValueError, match=rf"is not a readable training state .*; {FIX}"):
        resume(target, run)


@pytest.mark.parametrize(
    ("header", "tensors", "match"),
    [
        ({"step": "two"}, None, r"header entry 'step' is not readable"),
        ({"step": "-3"}, None, r"step is -3"),
        ({"step": "99"}, None, r"step 99 is beyond the run's 2 steps"),
        ({"config": "[1, 2]"}, None, r"header entry 'config' is a list, not a dict"),
        ({"config": json.dumps({"steps": 2})}, None, r"no usable training options"),
        ({"progress": "{}"}, None, r"the progress record has other entries"),
        ({"optimizer_param_groups": "[]"}, None, r"the optimiser state has 0 group"),
        ({"has_best": "maybe"}, None, r"header entry 'has_best' is not readable"),
        (None, {"model.body.0.weight": torch.zeros(3, 3)}, r"other shapes: body\.0\.weight"),
        (None, {"optimizer.0.exp_avg": torch.zeros(2)}, r"exp_avg of parameter 0 has shape"),
        (None, {"rng.torch": torch.zeros(3)}, r"'rng.torch' is not a 1-D uint8 tensor"),
        (None, {"extra": torch.zeros(1)}, r"unexpected tensor 'extra'"),
    ],
)
def test_wrong_entries_are_named(tmp_path, saved_run, header, tensors, match):
    source, run = saved_run
    target = tmp_path / "m.safetensors"
    rewrite_state(source, target, header=header, tensors=tensors)
    with pytest.raises(ValueError, match=rf"cannot resume: .*{match}.*; {FIX}"):
        resume(target, run)


def test_resuming_with_fewer_steps_than_done(tmp_path, saved_run):
    source, run = saved_run
    with pytest.raises(ValueError, match="already made 2 steps; pass steps of at least 2"):
        resume(source, run, steps=1)


# ------------------------------------------------------- a cancel in the last step


def test_a_cancel_during_the_last_step_is_not_ignored(tmp_path):
    stop = threading.Event()
    path = tmp_path / "m.safetensors"

    def progress(done, total):
        if done == total:  # the cancel arrives while the last step runs
            stop.set()

    with pytest.raises(Cancelled, match="after 2 of 2 steps; checkpoint saved"):
        train("fsrcnn", IMAGES, steps=2, checkpoint=path, progress=progress, cancel=stop, **TINY)
    assert read_metadata(path)["metrics"]["stopped"] == "cancelled"
    # the saved run is complete: resuming finishes it without another step
    done = train("fsrcnn", IMAGES, steps=2, checkpoint=path, resume=True, **TINY)
    assert done.training_report["steps_done"] == 2
    assert load_model(path).scale == 2


# ------------------------------------------------------------ hostile arguments


@pytest.mark.parametrize(
    ("changes", "error", "match"),
    [
        ({"lr": 1e9}, ValueError, "lr must be > 0 and ≤ 1, not 1000000000"),
        ({"scale": 1000, "patch_size": 16}, ValueError, "fsrcnn supports scales 2, 3, 4"),
        ({"scale": "2"}, TypeError, "scale must be a whole number"),
        ({"batch_size": 10**9}, ValueError, r"batch_size=1000000000 .* use a smaller batch"),
        ({"seed": 2**70}, ValueError, "seed must be below 2\\*\\*63"),
        ({"augment": 5}, TypeError, "augment must be a list of hflip"),
        ({"log_every": "x"}, TypeError, "log_every must be a whole number"),
        ({"log_every": 1.5}, TypeError, "log_every must be a whole number"),
        ({"progress": 5}, TypeError, "progress must be a function"),
        ({"log": "print"}, TypeError, "log must be a function"),
        ({"checkpoint": 5}, TypeError, "checkpoint must be a file path"),
        ({"resume": "yes"}, TypeError, "resume must be True or False"),
        ({"overwrite": 1}, TypeError, "overwrite must be True or False"),
        ({"degradation": {"noise": {"poisson": 1e300}}}, ValueError, "poisson .* at most"),
        ({"degradation": {"blur": "x"}}, TypeError, "degradation blur must be a number"),
        ({"degradation": {"blur": -1}}, ValueError, "degradation blur must be ≥ 0"),
        ({"degradation": {"blur": []}}, ValueError, "degradation blur is empty"),
        ({"degradation": {"psf": "x"}}, TypeError, "degradation psf must be a napari_sr"),
    ],
)
def test_hostile_arguments_fail_clearly_before_training(changes, error, match):
    arguments = {"model_or_config": "fsrcnn", "images": IMAGES, "steps": 1, **TINY, **changes}
    with pytest.raises(error, match=match):
        train(**arguments)


def test_a_resume_state_of_an_older_version_is_accepted(tmp_path, saved_run):
    """Resume states written before the network joined the recipe (their config has no
    task, architecture, hparams or in_channels) still continue the run."""
    source, run = saved_run
    target = tmp_path / "m.safetensors"
    with safe_open(str(state_path(source)), framework="pt") as handle:
        config = json.loads(handle.metadata()["config"])
    old = {k: v for k, v in config.items()
           if k not in ("task", "architecture", "hparams", "in_channels")}  # fmt: skip
    rewrite_state(source, target, header={"config": json.dumps(old)})
    assert resume(target, run, steps=3).training_report["steps_done"] == 3
    # and one that was started with other options is refused as before
    rewrite_state(source, target, header={"config": json.dumps({**old, "lr": 0.5})})
    with pytest.raises(ValueError, match=r"other options: lr=0.001 \(saved 0.5\)"):
        resume(target, run, steps=3)
