"""Same-size restoration networks (framework 'restoration', scale 1): CARE's U-Net and
ZSSR's network. Scale checks, honest halos and size multiples, and runs through
``napari_sr.upscale`` (padding to the size multiple, tiling with the halo)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import napari_sr  # noqa: E402
from napari_sr.models import REGISTRY, ModelSpec, create_model, list_models  # noqa: E402
from napari_sr.models.care import CAREUNet, unet_halo  # noqa: E402
from napari_sr.models.zssrnet import ZSSRNet  # noqa: E402

RESTORATION = ["care_unet", "zssr_net"]


def test_registered_as_restoration():
    restoration = [n for n in list_models() if REGISTRY.spec(n).framework == "restoration"]
    assert restoration == RESTORATION
    for name in RESTORATION:
        spec = REGISTRY.spec(name)
        assert spec.scales == (1,) and spec.tiling_safe
    assert REGISTRY.spec("care_unet").size_multiple == 4
    assert "10.1038/s41592-018-0216-7" in REGISTRY.spec("care_unet").paper
    assert "1712.06087" in REGISTRY.spec("zssr_net").paper


@pytest.mark.parametrize("name", RESTORATION)
@pytest.mark.parametrize("scale", [2, 4])
def test_other_scales_are_refused(name, scale):
    with pytest.raises(ValueError, match=f"{name} supports scales 1, not {scale}"):
        create_model(name, scale=scale)


@pytest.mark.parametrize("cls", [CAREUNet, ZSSRNet])
def test_classes_refuse_other_scales(cls):
    with pytest.raises(ValueError, match="supports scale 1, not 2"):
        cls(scale=2)


def test_restoration_spec_has_scale_one_only():
    with pytest.raises(ValueError, match=r"restoration network keeps the image size"):
        ModelSpec("x", "x:X", "restoration", (1, 2), paper="-")


def test_care_layout_follows_csbdeep():
    """Widths of CSBDeep's unet_block at depth 3 (32 first filters): down 32, 64, 128;
    middle 256 then 128; up 128 then 64, 64 then 32, 32 then 32; a linear 1x1 out."""
    model = CAREUNet(scale=1, depth=3, kernel_size=3)
    convs = [
        (m.in_channels, m.out_channels) for m in model.modules() if isinstance(m, torch.nn.Conv2d)
    ]
    assert convs == [
        (1, 32), (32, 32), (32, 64), (64, 64), (64, 128), (128, 128),
        (128, 256), (256, 128),
        (256, 128), (128, 64), (128, 64), (64, 32), (64, 32), (32, 32),
        (32, 1),
    ]  # fmt: skip
    relus = [m for m in model.modules() if isinstance(m, torch.nn.ReLU)]
    assert len(relus) == len(convs) - 1  # every U-Net conv, not the 1x1 output


def test_residual_identity_at_zero_weights():
    """Both networks add their input: with the last layer zeroed they return it."""
    x = torch.rand(1, 1, 16, 20)
    care, zssr = CAREUNet(scale=1), ZSSRNet(scale=1)
    for last in (care.out, zssr.body[-1]):
        torch.nn.init.zeros_(last.weight)
        torch.nn.init.zeros_(last.bias)
    with torch.no_grad():
        torch.testing.assert_close(care(x), x)
        torch.testing.assert_close(zssr(x), x)


def _reach(model, height: int) -> int:
    """How far (in rows) a change of one input pixel travels through ``model``, the largest
    over pixel positions relative to the pooling grid. With positive weights and biases
    every ReLU passes and the changed pixel wins every max pool it reaches, so the reach is
    the receptive-field radius itself."""
    model = model.double().eval()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.Conv2d):
                fan_in = module.weight[0].numel()
                module.weight.uniform_(0.5, 1.0).div_(fan_in)
                module.bias.fill_(0.1)
        x = torch.rand(1, 1, height, 8, generator=torch.Generator().manual_seed(0)).double()
        base = model(x)
        reach = 0
        for row in range(height // 2 - 8, height // 2 + 8):  # every alignment up to 16
            bumped = x.clone()
            bumped[..., row, 4] += 1e3
            changed = (model(bumped) - base).abs().amax(dim=(0, 1, 3)) > 1e-9
            rows = torch.nonzero(changed).flatten()
            reach = max(reach, row - int(rows.min()), int(rows.max()) - row)
    return reach


@pytest.mark.parametrize(
    ("name", "hparams", "halo", "multiple"),
    [
        ("care_unet", {}, 43, 4),
        ("care_unet", {"depth": 1, "kernel_size": 3}, 9, 2),
        ("care_unet", {"depth": 3, "kernel_size": 3, "n_first": 4}, 51, 8),
        ("zssr_net", {}, 8, 1),
        ("zssr_net", {"depth": 5, "features": 8}, 5, 1),
    ],
)
def test_halo_is_the_receptive_field(name, hparams, halo, multiple):
    """The registered halo (at the defaults) and the model's own (other hyperparameters,
    put in its spec by create_model) are exactly the receptive-field radius."""
    model = create_model(name, scale=1, **hparams)
    assert (model.spec.halo, model.spec.size_multiple) == (halo, multiple)
    if not hparams:
        assert REGISTRY.spec(name).halo == halo
    height = 2 * halo + 48
    assert _reach(model, height - height % 16) == halo


def test_unet_halo_formula():
    # 2·(k//2) per conv pair, at 2**n input pixels per level pixel, down and up, plus the
    # middle, plus 2**depth - 1 of pooling misalignment
    assert unet_halo(2, 5) == 4 * (1 + 2) * 2 + 4 * 4 + 3 == 43
    assert unet_halo(1, 3) == 9


# ----------------------------------------------------------------- through upscale


@pytest.fixture(scope="module", params=RESTORATION)
def model(request):
    torch.manual_seed(0)
    return create_model(request.param, scale=1)


def test_upscale_by_one_keeps_shape(model):
    """A float32 ZYX stack whose sides (37, 41) are no multiples of 4: the engine pads to
    the size multiple and crops back to the same shape."""
    data = np.random.default_rng(0).random((2, 37, 41), dtype=np.float32)
    out = napari_sr.upscale(data, 1, method=model, axes="ZYX", tile=0)
    assert out.shape == data.shape and out.dtype == np.float32
    assert np.isfinite(out).all()
    # the model changes the image (random weights), so the output is not a plain copy
    assert not np.array_equal(out, data)


def test_upscale_by_one_tiled_equals_untiled(model):
    data = np.random.default_rng(1).random((2, 37, 41), dtype=np.float32)
    whole = napari_sr.upscale(data, 1, method=model, axes="ZYX", tile=0)
    tiled = napari_sr.upscale(napari_sr.Image(data, axes="ZYX"), 1, method=model, tile=16)
    assert tiled.metadata["provenance"]["tile"] is not None  # it did tile
    assert tiled.data.shape == data.shape
    np.testing.assert_allclose(tiled.data, whole, rtol=0, atol=1e-5)


def test_upscale_with_another_scale_is_refused(model):
    data = np.zeros((8, 8), np.float32)
    with pytest.raises(ValueError, match="does not match the model's scale 1"):
        napari_sr.upscale(data, 2, method=model)


def test_save_and_load_keep_the_hyperparameter_halo(tmp_path):
    small = create_model("care_unet", scale=1, depth=1, n_first=8)
    path = napari_sr.save_model(small, tmp_path / "care.safetensors")
    loaded = napari_sr.load_model(path)
    assert (loaded.spec.halo, loaded.spec.size_multiple) == (unet_halo(1, 5), 2)
