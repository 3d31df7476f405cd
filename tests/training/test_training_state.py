"""Resume states: a safetensors file (no pickle) that restores Adam and the RNG exactly."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from napari_sr.training.state import (  # noqa: E402
    TrainingState,
    load_state,
    save_state,
    state_path,
)


def test_state_path():
    assert state_path("runs/m.safetensors").as_posix() == "runs/m.resume.safetensors"


def adam_after_steps(model, steps=3):
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2, betas=(0.8, 0.9))
    for _ in range(steps):
        optimizer.zero_grad()
        model(torch.ones(2, 3)).square().sum().backward()
        optimizer.step()
    return optimizer


def test_round_trip(tmp_path):
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    optimizer = adam_after_steps(model)
    state = TrainingState(
        step=3,
        config={"scale": 2, "steps": 10},
        model={"architecture": "toy"},
        data="abc",
        progress={"best_psnr": 30.5, "history": [{"step": 2, "psnr": 30.5}]},
        weights=model.state_dict(),
        best={k: v + 1 for k, v in model.state_dict().items()},
        optimizer=optimizer.state_dict(),
        rng={"torch": torch.get_rng_state()},
    )
    path = save_state(tmp_path / "s.resume.safetensors", state)
    assert path.read_bytes()[8:9] == b"{"  # a safetensors header, not a pickle
    loaded = load_state(path)
    assert (loaded.step, loaded.config, loaded.model, loaded.data) == (
        3,
        state.config,
        {"architecture": "toy"},
        "abc",
    )
    assert loaded.progress == state.progress
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.weights[key], value)
        assert torch.equal(loaded.best[key], value + 1)
    assert torch.equal(loaded.rng["torch"], torch.get_rng_state())

    # a fresh optimiser loaded from the file continues exactly like the original
    torch.manual_seed(0)
    twin = torch.nn.Linear(3, 2)
    twin.load_state_dict(loaded.weights)
    twin_optimizer = torch.optim.Adam(twin.parameters(), lr=1.0)
    twin_optimizer.load_state_dict(loaded.optimizer)
    assert twin_optimizer.param_groups[0]["betas"] == (0.8, 0.9)
    for opt, net in ((optimizer, model), (twin_optimizer, twin)):
        opt.zero_grad()
        net(torch.ones(2, 3)).square().sum().backward()
        opt.step()
    for a, b in zip(model.parameters(), twin.parameters(), strict=True):
        assert torch.equal(a, b)


def test_without_best_weights(tmp_path):
    model = torch.nn.Linear(2, 1)
    state = TrainingState(
        0, {}, {}, "", {}, model.state_dict(), None, {"state": {}, "param_groups": []}
    )
    assert load_state(save_state(tmp_path / "s.safetensors", state)).best is None


def test_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no training state"):
        load_state(tmp_path / "missing.resume.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"not a file")
    with pytest.raises(ValueError, match="not a readable training state"):
        load_state(tmp_path / "junk.safetensors")
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(1)}, str(tmp_path / "model.safetensors"), metadata={"a": "b"})
    with pytest.raises(ValueError, match="not a napari-sr training state"):
        load_state(tmp_path / "model.safetensors")
