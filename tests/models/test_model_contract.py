"""One contract, every registered model: a new architecture is covered by registering it."""

from __future__ import annotations

import io

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import napari_sr  # noqa: E402
from napari_sr.engine.learned import BLEND  # noqa: E402
from napari_sr.engine.tiling import round_up  # noqa: E402
from napari_sr.models import REGISTRY, create_model, list_models  # noqa: E402

# Lighter settings for the deepest networks, so that the contract runs in seconds: the same
# code paths with fewer repeated blocks (parameter counts are checked at paper defaults).
LIGHT = {
    "edsr": {"n_resblocks": 2},
    "edsr_baseline": {"n_resblocks": 2},
    "srresnet": {"n_blocks": 2},
    "srresnet_mini": {"blocks": 2},
    "rcan": {"n_resgroups": 2, "n_resblocks": 2},
    "rrdbnet": {"blocks": 1},
    "dbpn": {"stages": 2},
    "drrn": {"units": 3},
    "vdsr": {"depth": 6},
    "swinir": {"depths": (2, 2), "num_heads": (6, 6)},
    "swinir_light": {"depths": (2,), "num_heads": (6,)},
}


def create(name, **kwargs):
    return create_model(name, **kwargs, **LIGHT.get(name, {}))


SINGLE_IMAGE = [n for n in list_models() if REGISTRY.spec(n).single_image]
# multi-frame fusion networks and diffusion denoisers have their own contracts
# (tests/multiframe/test_learned.py, tests/models/test_diffusion_unet.py)


@pytest.fixture(scope="module", params=SINGLE_IMAGE)
def name(request):
    return request.param


def _factor(spec, scale):
    """Output pixels per input pixel along Y and X: ``scale`` for SR networks (which all
    upscale, by 2 or more), 1 for same-size restoration networks (whose only scale is 1)."""
    if spec.framework == "restoration":
        assert scale == 1 and spec.scales == (1,)
        return 1
    assert scale >= 2
    return scale


def _expected(spec, x, scale):
    f = _factor(spec, scale)
    return (x.shape[0], x.shape[1], x.shape[2] * f, x.shape[3] * f)


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
    assert y.shape == _expected(spec, x, scale)
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
            assert model(x).shape == _expected(spec, x, scale)


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


def test_model_file_round_trip(name, tmp_path):
    """save_model -> load_model rebuilds the same architecture and weights from the file
    alone (hyperparameters included), and upscale gives identical output."""
    spec = REGISTRY.spec(name)
    scale = spec.scales[-1]
    torch.manual_seed(3)
    first = create(name, scale=scale, in_channels=3).eval()
    path = napari_sr.save_model(first, tmp_path / f"{name}.safetensors")
    second = napari_sr.load_model(path)
    assert (type(second), second.scale, second.in_channels) == (type(first), scale, 3)
    image = np.random.default_rng(0).integers(0, 256, (20, 18, 3), dtype=np.uint8)
    np.testing.assert_array_equal(
        napari_sr.upscale(image, scale, method=first, tile=0),
        napari_sr.upscale(image, scale, method=path, tile=0),
    )


# ------------------------------------------------------------- through upscale


def test_upscale_keeps_shape_and_dtype(name):
    """A plain ``napari_sr.upscale`` through the model: a uint16 stack of two odd-sized
    planes comes back with the model's scale (the same size for restoration networks)
    and the input dtype."""
    spec = REGISTRY.spec(name)
    scale = spec.scales[0]
    torch.manual_seed(0)
    model = create(name, scale=scale)
    data = np.random.default_rng(0).integers(0, 4000, (2, 13, 11), dtype=np.uint16)
    out = napari_sr.upscale(data, scale, method=model)
    f = _factor(spec, scale)
    assert out.shape == (2, 13 * f, 11 * f) and out.dtype == np.uint16


def _tiling_case(spec):
    """An image and tile edge with a seam whose neighbourhood the tiles do not read whole:
    two tiles along Y, each a little longer than its margin (halo + blend) so that neither
    reads the whole image; two along X too for the small halos, else a narrow image (deep
    networks with big halos are slow on wide ones; corners are covered by the engine's own
    tests)."""
    m = spec.size_multiple
    margin = round_up(spec.halo + BLEND, m)
    tile = round_up(margin + 8, m)
    height = tile + margin + 5  # odd: the far border is reflect-padded to the multiple
    width = height if margin <= 16 else 2 * m + 1
    return (height, width), tile


@pytest.mark.parametrize("name", [n for n in SINGLE_IMAGE if REGISTRY.spec(n).tiling_safe])
def test_tiled_equals_untiled(name):
    """Tiles with the spec's halo reproduce the untiled output (to 1e-5 of its range),
    border tiles included: the halo is enough, and the engine handles the seams."""
    spec = REGISTRY.spec(name)
    scale = spec.scales[0]
    torch.manual_seed(0)
    model = create(name, scale=scale)
    shape, tile = _tiling_case(spec)
    data = np.random.default_rng(1).random(shape, dtype=np.float32)
    whole = napari_sr.upscale(data, scale, method=model, tile=0)
    tiled = napari_sr.upscale(napari_sr.Image(data), scale, method=model, tile=tile)
    assert tiled.metadata["provenance"]["tile"] is not None  # it did tile
    span = max(float(np.ptp(whole)), 1.0)
    np.testing.assert_allclose(tiled.data, whole, rtol=0, atol=1e-5 * span)
