"""The diffusion denoiser U-Net: its parameter count worked out layer by layer, shapes,
the level's effect on the output, gradients everywhere, and clear errors."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from napari_sr.models.diffusion_unet import DiffusionUNet, level_embedding  # noqa: E402


def conv(c_in, c_out, k):
    return c_in * c_out * k * k + c_out


def norm(c):
    return 2 * c


def linear(i, o):
    return i * o + o


def res(c_in, c_out, emb):
    skip = conv(c_in, c_out, 1) if c_in != c_out else 0
    return (norm(c_in) + conv(c_in, c_out, 3) + linear(emb, 2 * c_out) + norm(c_out)
            + conv(c_out, c_out, 3) + skip)  # fmt: skip


def attn(c):
    return norm(c) + conv(c, 3 * c, 1) + conv(c, c, 1)


def test_parameter_count_of_the_default_layout_by_hand():
    """features 32, widths 32/64/128, 2 blocks down and 3 up per resolution, attention at
    the lowest, one channel; the skips of the up path, in the order they are taken:
    128, 128, 64 | 64, 64, 32 | 32, 32, 32."""
    e = 128
    total = linear(32, e) + linear(e, e) + conv(2, 32, 3)
    total += res(32, 32, e) * 2 + conv(32, 32, 3)
    total += res(32, 64, e) + res(64, 64, e) + conv(64, 64, 3)
    total += res(64, 128, e) + res(128, 128, e) + 2 * attn(128)
    total += 2 * res(128, 128, e) + attn(128)  # middle
    total += res(256, 128, e) * 2 + res(192, 128, e) + 3 * attn(128) + conv(128, 128, 3)
    total += res(192, 64, e) + res(128, 64, e) + res(96, 64, e) + conv(64, 64, 3)
    total += res(96, 32, e) + res(64, 32, e) * 2
    total += norm(32) + conv(32, 1, 3)
    model = DiffusionUNet(scale=4)
    assert total == 4_117_185
    assert sum(p.numel() for p in model.parameters()) == total


def test_output_shape_and_the_level_changes_the_prediction():
    torch.manual_seed(0)
    model = DiffusionUNet(scale=2, in_channels=3, features=16, multipliers=(1, 2),
                          blocks=1).eval()  # fmt: skip
    for p in model.parameters():  # nonzero everywhere so every path carries signal
        torch.nn.init.normal_(p, std=0.05)
    x, y = torch.randn(2, 3, 8, 12), torch.randn(2, 3, 8, 12)
    with torch.no_grad():
        a, b = model(x, y, torch.tensor([1, 1])), model(x, y, torch.tensor([1, 9]))
    assert a.shape == (2, 3, 8, 12) and model.size_multiple == 2
    torch.testing.assert_close(a[0], b[0])
    assert not torch.allclose(a[1], b[1], atol=1e-4)
    with torch.no_grad():
        torch.testing.assert_close(model(x, y, 9)[1], b[1])  # a scalar level for the batch


def test_a_zero_tail_predicts_the_interpolation():
    model = DiffusionUNet(scale=4, features=8, multipliers=(1, 2), blocks=1)
    torch.nn.init.zeros_(model.tail[-1].weight)
    torch.nn.init.zeros_(model.tail[-1].bias)
    y = torch.randn(1, 1, 8, 8)
    torch.testing.assert_close(model(torch.randn(1, 1, 8, 8), y, 3), y)


def test_gradients_reach_every_parameter():
    torch.manual_seed(1)
    model = DiffusionUNet(scale=4, features=8, multipliers=(1, 2), blocks=1,
                          attention=(True, True))  # fmt: skip
    for p in model.parameters():
        torch.nn.init.normal_(p, std=0.1)
    model(torch.randn(2, 1, 8, 8), torch.randn(2, 1, 8, 8), torch.tensor([2, 5])).sum().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.any()]
    assert not missing


def test_level_embedding_is_ddpms_sinusoid():
    emb = level_embedding(torch.tensor([0.0, 2.0]), 8)
    torch.testing.assert_close(emb[0], torch.tensor([0.0] * 4 + [1.0] * 4))
    frequencies = 10000.0 ** (-torch.arange(4) / 4)
    torch.testing.assert_close(emb[1, :4], torch.sin(2 * frequencies))
    torch.testing.assert_close(emb[1, 4:], torch.cos(2 * frequencies))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"multipliers": ()}, "multipliers must be one or more positive widths"),
        ({"attention": (True,)}, r"attention needs one entry per resolution \(3\), not 1"),
        ({"blocks": 0}, "blocks and features must be at least 1"),
    ],
)
def test_bad_layouts_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DiffusionUNet(scale=4, **kwargs)


def test_it_is_registered_and_the_one_pass_exports_refuse_it(tmp_path):
    """Registered like the other architectures (sampled by upscale, trained by the one
    loop), but ONNX and BMZ export, which hold one forward pass, cannot hold a sampler."""
    import napari_sr
    from napari_sr.engine.method_table import list_methods
    from napari_sr.models.registry import REGISTRY

    spec = REGISTRY.spec("diffusion_unet")
    assert spec.framework == "diffusion" and spec.scales == (2, 3, 4)
    assert not spec.single_image and not spec.tiling_safe  # GroupNorm sees the whole input
    model = napari_sr.create_model("diffusion_unet", scale=4, features=8, multipliers=(1, 2),
                                   blocks=1)  # fmt: skip
    assert model.spec.name == "diffusion_unet" and model.size_multiple == 2
    assert model.schedule.levels == 15 and model.schedule.kappa == 2.0
    assert "diffusion_unet" not in [m.name for m in list_methods(4)]
    with pytest.raises(ValueError, match="does not export diffusion networks"):
        napari_sr.export_model(model, tmp_path / "d.onnx")
    with pytest.raises(ValueError, match="BMZ packages of diffusion networks are not"):
        napari_sr.export_bmz(model, tmp_path / "d.zip")
    assert not list(tmp_path.iterdir())


def test_the_schedule_and_the_prior_are_hyperparameters(tmp_path):
    """A model file carries its schedule and its prior: loaded, it samples the same
    diffusion; the prior network makes the condition."""
    import napari_sr

    model = napari_sr.create_model("diffusion_unet", scale=2, features=8, multipliers=(1, 2),
                                   blocks=1, levels=6, kappa=0.5, power=0.5,
                                   prior="fsrcnn")  # fmt: skip
    path = napari_sr.save_model(model, tmp_path / "d.safetensors")
    loaded = napari_sr.load_model(path)
    assert loaded.schedule == model.schedule
    assert (loaded.schedule.levels, loaded.schedule.kappa, loaded.schedule.power) == (6, 0.5, 0.5)
    low = torch.rand(1, 1, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(loaded.condition(low), model.prior(low))
        torch.testing.assert_close(loaded.condition(low), model.condition(low))
    plain = napari_sr.create_model("diffusion_unet", scale=2, features=8, multipliers=(1, 2),
                                   blocks=1)  # fmt: skip
    from napari_sr.models._common import bicubic_upsample

    torch.testing.assert_close(plain.condition(low), bicubic_upsample(low, 2))
    for bad, match in (
        ({"prior": "highresnet"}, "single-image architecture"),
        ({"kappa": 0.0}, "kappa of diffusion_unet must be positive"),
        ({"levels": 1}, "levels must be a whole number of at least 2"),
    ):
        with pytest.raises(ValueError, match=match):
            napari_sr.create_model("diffusion_unet", scale=2, **bad)
