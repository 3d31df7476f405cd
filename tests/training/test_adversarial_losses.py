"""The adversarial losses: values at known logits, the direction each side's gradient
pushes, and the relativistic loss's symmetry."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from napari_sr.training.adversarial import (  # noqa: E402
    GAN_LOSSES,
    discriminator_loss,
    generator_loss,
)

LOG2 = math.log(2)


def logits(*values):
    return torch.tensor(values, dtype=torch.float64)


@pytest.mark.parametrize(
    ("kind", "d_expected", "g_expected"),
    [
        ("vanilla", 2 * LOG2, LOG2),  # undecided logits: log 2 per term
        ("lsgan", 0.5 * (1 + 0), 0.5),
        ("hinge", 1 + 1, 0.0),
        ("ragan", 0.5 * (LOG2 + LOG2), 0.5 * (LOG2 + LOG2)),
    ],
)
def test_values_at_undecided_logits(kind, d_expected, g_expected):
    zero = logits(0.0, 0.0, 0.0)
    assert discriminator_loss(kind, zero, zero).item() == pytest.approx(d_expected)
    assert generator_loss(kind, zero, zero).item() == pytest.approx(g_expected)


def test_known_values_away_from_zero():
    real, fake = logits(2.0, 4.0), logits(-1.0, -3.0)
    assert discriminator_loss("hinge", real, fake).item() == 0.0  # both beyond the margin
    assert generator_loss("hinge", fake).item() == pytest.approx(2.0)
    # lsgan: (real - 1)² = (1, 9), fake² = (1, 9), means 5 and 5
    assert discriminator_loss("lsgan", real, fake).item() == pytest.approx(0.5 * (5 + 5))
    softplus = lambda x: math.log1p(math.exp(x))  # noqa: E731  -log sigmoid(-x)
    # ragan: real - mean(fake) = (4, 6), fake - mean(real) = (-4, -6)
    d = 0.5 * ((softplus(-4) + softplus(-6)) / 2 + (softplus(-4) + softplus(-6)) / 2)
    assert discriminator_loss("ragan", real, fake).item() == pytest.approx(d)
    g = 0.5 * ((softplus(4) + softplus(6)) / 2 + (softplus(4) + softplus(6)) / 2)
    assert generator_loss("ragan", fake, real).item() == pytest.approx(g)


@pytest.mark.parametrize("kind", GAN_LOSSES)
def test_each_side_pushes_the_logits_its_way(kind):
    # logits where every formulation still has a gradient (LSGAN's fake target is 0, not -∞)
    real = logits(0.3, -0.2, 0.1).requires_grad_()
    fake = logits(0.1, 0.4, 0.2).requires_grad_()
    discriminator_loss(kind, real, fake).backward()
    assert (real.grad < 0).all() and (fake.grad > 0).all()  # descent: real up, fake down
    fake.grad = None
    generator_loss(kind, fake, real.detach()).backward()
    assert (fake.grad < 0).all()  # descent raises the generated images' logits


def test_the_relativistic_loss_is_the_discriminators_with_the_roles_swapped():
    real, fake = logits(0.5, 1.5, -0.2), logits(-0.7, 0.2, 0.9)
    swapped = discriminator_loss("ragan", fake, real)
    assert generator_loss("ragan", fake, real).item() == pytest.approx(swapped.item())


def test_per_pixel_logits_average_over_every_pixel():
    real, fake = torch.zeros(2, 1, 4, 4), torch.zeros(2, 1, 4, 4)
    real[0, 0, 0, 0] = 1.0  # one pixel's hinge term drops from 1 to 0
    assert discriminator_loss("hinge", real, fake).item() == pytest.approx(2 - 1 / 32)


def test_errors_name_the_choices():
    x = logits(0.0)
    with pytest.raises(ValueError, match="no adversarial loss 'wgan'.*vanilla, lsgan, hinge"):
        discriminator_loss("wgan", x, x)
    with pytest.raises(ValueError, match="ragan generator loss needs.*real"):
        generator_loss("ragan", x)
