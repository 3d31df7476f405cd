"""The training recipe of the bundled defaults (benchmarks/train_defaults.py): the steps
that change a network before it trains."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))
from train_defaults import grow_fsrcnn  # noqa: E402

from napari_sr.models import create_model  # noqa: E402


def _trained_like(model):
    """Random weights everywhere (no near-zero deconvolution, PReLU slopes varied), so that
    a wrong copy cannot hide."""
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=generator) * 0.3)
    return model


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_grown_fsrcnn_computes_what_the_small_one_did(scale):
    small = _trained_like(create_model("fsrcnn", scale=scale, d=8, s=4, m=2)).eval()
    big = create_model("fsrcnn", scale=scale, d=8, s=6, m=4)
    grow_fsrcnn(big, small)
    x = torch.rand(2, 1, 17, 13, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        torch.testing.assert_close(big.eval()(x), small(x), rtol=1e-5, atol=1e-6)
    # the new capacity is live: the extra shrinking channels read the features, and a
    # training step reaches every new weight (their outputs start at zero, not their inputs)
    shrink = big.body[2]
    assert shrink.weight[4:].abs().min() > 0
    big.train()
    loss = big(x).square().mean()
    loss.backward()
    expand = big.body[-2]
    assert expand.weight.grad[:, 4:].abs().sum() > 0


def test_growing_into_a_smaller_fsrcnn_is_refused():
    small = create_model("fsrcnn", scale=2, d=8, s=6, m=4)
    with pytest.raises(ValueError, match=r"s >= 6 and m >= 4 .*--hparams.*s = 4, m = 4"):
        grow_fsrcnn(create_model("fsrcnn", scale=2, d=8, s=4, m=4), small)
    with pytest.raises(ValueError, match=r"needs d = 8"):
        grow_fsrcnn(create_model("fsrcnn", scale=2, d=16, s=6, m=4), small)
