"""One contract, every registered model: a new architecture is covered by registering it."""

from __future__ import annotations

import io

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from napari_sr.models import REGISTRY, create_model, list_models  # noqa: E402

# Lighter settings for the deepest networks, so that the contract runs in seconds: the same
# code paths with fewer repeated blocks (parameter counts are checked at paper defaults).
LIGHT = {
    "edsr": {"n_resblocks": 2},
    "rcan": {"n_resgroups": 2, "n_resblocks": 2},
    "rrdbnet": {"blocks": 2},
    "dbpn": {"stages": 2},
    "drrn": {"units": 3},
    "vdsr": {"depth": 6},
    "swinir": {"depths": (2, 2), "num_heads": (6, 6)},
    "swinir_light": {"depths": (2,), "num_heads": (6,)},
}


def create(name, **kwargs):
    return create_model(name, **kwargs, **LIGHT.get(name, {}))


@pytest.fixture(scope="module", params=list_models())
def name(request):
    return request.param


def _input(spec, channels, scale, seed=0):
    side = 12 * max(spec.size_multiple, 1)
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(1, channels, side, side + spec.size_multiple, generator=generator)


def test_shape_dtype_finite_and_gradients(name):
    spec = REGISTRY.spec(name)
    scale = spec.scales[0]
    torch.manual_seed(0)
    model = create(name, scale=scale, in_channels=1)
    x = _input(spec, 1, scale).requires_grad_(True)
    y = model(x)
    assert y.shape == (1, 1, x.shape[2] * scale, x.shape[3] * scale)
    assert y.dtype == x.dtype and y.device == x.device
    assert torch.isfinite(y).all()
    y.mean().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(float(g.abs().sum()) > 0 for g in grads)


@pytest.mark.parametrize("channels", [3])
def test_rgb_and_every_scale(name, channels):
    spec = REGISTRY.spec(name)
    for scale in spec.scales:
        model = create(name, scale=scale, in_channels=channels).eval()
        x = _input(spec, channels, scale)
        with torch.no_grad():
            assert model(x).shape == (1, channels, x.shape[2] * scale, x.shape[3] * scale)


def test_state_dict_round_trip(name):
    spec = REGISTRY.spec(name)
    scale = spec.scales[0]
    torch.manual_seed(1)
    first = create(name, scale=scale).eval()
    buffer = io.BytesIO()
    torch.save(first.state_dict(), buffer)
    buffer.seek(0)
    torch.manual_seed(2)
    second = create(name, scale=scale).eval()
    second.load_state_dict(torch.load(buffer, weights_only=True))
    x = _input(spec, 1, scale)
    with torch.no_grad():
        np.testing.assert_array_equal(first(x).numpy(), second(x).numpy())
