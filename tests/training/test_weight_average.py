"""The moving average of a generator's weights: the formula with its warm-up, integer
buffers copied, the model untouched, and a saved state that resumes exactly."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from napari_sr.training.ema import WeightAverage  # noqa: E402


def net(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4))


def test_the_average_follows_the_formula_with_its_warm_up():
    model = net()
    ema = WeightAverage(model, decay=0.9)
    start = model[0].weight.detach().clone()
    with torch.no_grad():
        model[0].weight.add_(1.0)
    assert ema.current_decay() == pytest.approx(0.1)  # (1 + 0) / (10 + 0)
    ema.update(model)
    expected = 0.1 * start + 0.9 * (start + 1)
    torch.testing.assert_close(ema.average[0].weight, expected)
    for _ in range(200):
        ema.update(model)
    assert ema.current_decay() == 0.9  # the warm-up is over
    torch.testing.assert_close(ema.average[0].weight, start + 1, atol=1e-6, rtol=0)


def test_integer_buffers_are_copied_and_the_model_is_left_alone():
    model = net()
    ema = WeightAverage(model, decay=0.99)
    model.train()(torch.rand(2, 1, 6, 6))  # batch norm counts a batch, moves its statistics
    before = {k: v.clone() for k, v in model.state_dict().items()}
    ema.update(model)
    assert ema.average[1].num_batches_tracked.item() == 1
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, before[key])
    assert not any(p.requires_grad for p in ema.average.parameters())
    assert model[0].weight.requires_grad


def test_a_saved_average_resumes_bit_for_bit():
    model = net()
    ema = WeightAverage(model, decay=0.95)
    for step in range(5):
        with torch.no_grad():
            model[0].weight.mul_(1.01)
        ema.update(model)
        if step == 2:
            saved = ema.state_dict()
            weights = {k: v.clone() for k, v in model.state_dict().items()}
    resumed = WeightAverage(net(1), decay=0.95)
    resumed.load_state_dict(saved)
    model2 = net(1)
    model2.load_state_dict(weights)
    for _ in range(2):
        with torch.no_grad():
            model2[0].weight.mul_(1.01)
        resumed.update(model2)
    for key, value in ema.average.state_dict().items():
        assert torch.equal(value, resumed.average.state_dict()[key]), key
    assert resumed.updates == ema.updates == 5


def test_errors():
    with pytest.raises(ValueError, match=r"decay must be in \[0, 1\)"):
        WeightAverage(net(), decay=1.0)
    ema = WeightAverage(net(), decay=0.9)
    with pytest.raises(ValueError, match="saved with decay 0.5, not 0.9"):
        ema.load_state_dict({**ema.state_dict(), "decay": 0.5})
    with pytest.raises(ValueError, match="does not fit"):
        ema.load_state_dict({"weights": {}, "decay": 0.9, "updates": 0})
