"""Loss terms on inputs whose values are known by hand, and their weighted sum."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from napari_sr.metrics import ssim as reference_ssim  # noqa: E402
from napari_sr.training import losses  # noqa: E402
from napari_sr.training.config import LOSS_NAMES  # noqa: E402


@pytest.fixture
def pair():
    gen = torch.Generator().manual_seed(0)
    a = torch.rand(2, 1, 24, 24, generator=gen, dtype=torch.float64)
    b = torch.rand(2, 1, 24, 24, generator=gen, dtype=torch.float64)
    return a, b


def test_names_match_the_config():
    built = (*losses.LOSSES, *losses.CONTEXT_TERMS, "feature_matching")
    assert sorted(built) == sorted(LOSS_NAMES)


def test_pixel_losses_of_a_constant_difference(pair):
    a, _ = pair
    b = a + 0.25
    assert losses.l1(a, b).item() == pytest.approx(0.25)
    assert losses.mse(a, b).item() == pytest.approx(0.0625)
    eps = losses.CHARBONNIER_EPS
    assert losses.charbonnier(a, b).item() == pytest.approx(math.sqrt(0.0625 + eps**2))
    assert losses.charbonnier(a, a).item() == pytest.approx(eps)  # its floor


def test_total_variation_of_a_ramp():
    y, x = torch.meshgrid(torch.arange(10.0), torch.arange(12.0), indexing="ij")
    ramp = (0.3 * y - 0.2 * x)[None, None]
    assert losses.total_variation(ramp).item() == pytest.approx(0.5)
    assert losses.total_variation(torch.ones(1, 1, 5, 5)).item() == 0


def test_ssim_loss_is_zero_for_identical_images(pair):
    a, _ = pair
    assert losses.ssim_loss(a, a).item() == pytest.approx(0, abs=1e-12)


def test_ssim_matches_the_metric(pair):
    """The differentiable SSIM equals napari_sr.metrics.ssim (Wang et al. 2004), which is
    checked against scikit-image in tests/test_metrics.py."""
    a, b = pair
    b = 0.6 * a + 0.4 * b  # correlated, so SSIM is far from 0
    expected = np.mean(
        [reference_ssim(a[i, 0].numpy(), b[i, 0].numpy(), data_range=1.0) for i in range(2)]
    )
    assert losses.ssim(a, b).item() == pytest.approx(expected, rel=1e-10)


def test_ssim_per_channel_of_rgb():
    gen = torch.Generator().manual_seed(1)
    a = torch.rand(1, 3, 16, 16, generator=gen, dtype=torch.float64)
    b = a.clone()
    b[:, 1] = torch.rand(16, 16, generator=gen, dtype=torch.float64)
    per_channel = [losses.ssim(a[:, c : c + 1], b[:, c : c + 1]).item() for c in range(3)]
    assert losses.ssim(a, b).item() == pytest.approx(np.mean(per_channel))
    assert per_channel[0] == pytest.approx(1)


def test_texture_loss(pair):
    a, b = pair
    assert losses.texture(a, a).item() == 0
    smooth = torch.nn.functional.avg_pool2d(b, 3, stride=1, padding=1)
    shifted = torch.roll(a, shifts=3, dims=-1)  # same texture, elsewhere
    assert losses.texture(a, smooth).item() > 10 * losses.texture(a, shifted).item()
    # fixed filters: the same value in a fresh call
    assert losses.texture(a, smooth).item() == losses.texture(a, smooth).item()


@pytest.mark.parametrize("name", list(losses.LOSSES))
def test_gradients_flow(name, pair):
    a, b = pair
    prediction = a.clone().float().requires_grad_(True)
    value = losses.LOSSES[name](prediction, b.float())
    value.backward()
    assert value.ndim == 0
    assert prediction.grad is not None and torch.isfinite(prediction.grad).all()
    assert prediction.grad.abs().sum() > 0


def test_weighted_sum(pair):
    a, b = pair
    loss = losses.build_loss({"l1": 1.0, "ssim": 0.2, "tv": 0})
    total, terms = loss(a, b)
    assert set(terms) == {"l1", "ssim"}  # zero weights are skipped
    expected = losses.l1(a, b) + 0.2 * losses.ssim_loss(a, b)
    assert total.item() == pytest.approx(expected.item())
    assert terms["l1"] == pytest.approx(losses.l1(a, b).item())
    with pytest.raises(ValueError, match="unknown loss lpips"):
        losses.build_loss("lpips")
