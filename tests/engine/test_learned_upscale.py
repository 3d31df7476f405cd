"""``upscale`` through learned models: methods, channels, normalisation, size multiples,
tiling, batching, progress, cancellation, out-of-memory retries, self-ensemble, device and
precision, provenance. Small toy models keep every test fast and exact."""

from __future__ import annotations

import sys
import threading
import types
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import napari_sr  # noqa: E402
from napari_sr import Cancelled, Image, upscale  # noqa: E402
from napari_sr.engine import footprint, job  # noqa: E402
from napari_sr.engine.learned import MIN_TILE  # noqa: E402
from napari_sr.models import ModelSpec  # noqa: E402
from napari_sr.models.info import ModelInfo  # noqa: E402
from napari_sr.normalization import Normalization  # noqa: E402


def nearest(x: torch.Tensor, scale: int) -> torch.Tensor:
    return x.repeat_interleave(scale, -2).repeat_interleave(scale, -1)


class Nearest(torch.nn.Module):
    """Nearest-neighbour upsampling: equivariant, local, exact under any tiling. Records
    the shape (and train mode) of every input it sees."""

    def __init__(self, *, scale=2, in_channels=1, halo=0, multiple=1, **spec):
        super().__init__()
        self.scale, self.in_channels, self.multiple = scale, in_channels, multiple
        self.spec = ModelSpec(
            "toy", "toy:Toy", "post", (scale,), paper="", halo=halo, size_multiple=multiple,
            **spec,
        )  # fmt: skip
        self.weight = torch.nn.Parameter(torch.ones(()))  # something to move and count
        self.calls: list[tuple[int, ...]] = []
        self.modes: list[bool] = []

    def forward(self, x):
        self.calls.append(tuple(x.shape))
        self.modes.append(self.training)
        if x.shape[-2] % self.multiple or x.shape[-1] % self.multiple:
            raise AssertionError(f"input {tuple(x.shape)} is not a multiple of {self.multiple}")
        return nearest(x, self.scale) * self.weight

    def real_calls(self):
        """Calls other than the memory probe's (8² and 16²)."""
        return [c for c in self.calls if c[-2:] not in ((8, 8), (16, 16))]


class LocalConv(Nearest):
    """A seeded, asymmetric 5×5 convolution (zero padding) then nearest upsampling: exact
    under tiling with a 2-pixel halo, not rotation-equivariant."""

    def __init__(self, *, oom_above=None, oom_batch=False, **kwargs):
        kwargs.setdefault("halo", 2)
        super().__init__(**kwargs)
        c = self.in_channels
        self.conv = torch.nn.Conv2d(c, c, 5, padding=2, bias=False)
        generator = torch.Generator().manual_seed(0)
        with torch.no_grad():
            self.conv.weight.copy_(torch.rand(self.conv.weight.shape, generator=generator))
        self.oom_above, self.oom_batch = oom_above, oom_batch

    def forward(self, x):
        too_big = self.oom_above is not None and x.shape[-2] * x.shape[-1] > self.oom_above
        if too_big or (self.oom_batch and x.shape[0] > 1):
            self.calls.append(("oom", *x.shape))
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB")
        return super().forward(self.conv(x))


def by_hand(model, plane, limits):
    """The model on a whole plane normalised with ``limits``, without the engine."""
    lo, hi = limits
    x = torch.from_numpy((plane.astype(np.float32) - lo) / (hi - lo))
    with torch.no_grad():
        return model(x[None, None])[0, 0].numpy() * (hi - lo) + lo


# ------------------------------------------------------------------ methods


def test_model_object_keeps_shape_and_dtype(rng):
    data = rng.integers(0, 4000, (3, 9, 11), dtype=np.uint16)
    out = upscale(data, 2, method=Nearest())
    assert out.shape == (3, 18, 22) and out.dtype == np.uint16
    # identity model: normalise, upsample, denormalise, round = nearest upsampling
    np.testing.assert_array_equal(out, data.repeat(2, -2).repeat(2, -1))


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.float32, np.float64])
def test_normalisation_round_trips_for_every_dtype(rng, dtype):
    data = (rng.random((7, 8)) * 100).astype(dtype)
    out = upscale(data, 2, method=Nearest())
    assert out.dtype == np.dtype(dtype)
    np.testing.assert_allclose(out, data.repeat(2, 0).repeat(2, 1), rtol=1e-5, atol=1e-4)


def test_scale_must_be_the_models():
    with pytest.raises(ValueError, match="scale=3 does not match the model's scale 2"):
        upscale(np.zeros((8, 8), np.float32), 3, method=Nearest())


def test_registered_name_without_weights_says_what_to_pass():
    with pytest.raises(ValueError, match="no pretrained weights of 'edsr' are bundled.*path"):
        upscale(np.zeros((8, 8), np.float32), 2, method="EDSR")


def test_unknown_method_mentions_model_files():
    with pytest.raises(ValueError, match="unknown method 'magic'.*bicubic.*safetensors"):
        upscale(np.zeros((4, 4), np.float32), 2, method="magic")
    with pytest.raises(TypeError, match="method must be"):
        upscale(np.zeros((4, 4), np.float32), 2, method=3)


@pytest.fixture
def fake_checkpoints(monkeypatch):
    """A stand-in for napari_sr.models.checkpoint whose load_model returns a toy model."""
    loaded = []

    def load_model(path, **kwargs):
        loaded.append(path)
        return Nearest()

    module = types.ModuleType("napari_sr.models.checkpoint")
    module.load_model = load_model
    monkeypatch.setitem(sys.modules, "napari_sr.models.checkpoint", module)
    return loaded


@pytest.mark.parametrize("as_str", [True, False])
def test_checkpoint_path_is_loaded(tmp_path, fake_checkpoints, as_str):
    path = tmp_path / "my_model.safetensors"
    path.write_bytes(b"")
    out = upscale(Image(np.ones((4, 5), np.float32)), 2, method=str(path) if as_str else path)
    assert out.shape == (8, 10)
    assert [str(p) for p in fake_checkpoints] == [str(path)]
    provenance = out.metadata["provenance"]
    assert provenance["method"] == "my_model" and provenance["checkpoint"] == str(path)


def test_missing_checkpoint_and_other_files(tmp_path, fake_checkpoints):
    with pytest.raises(ValueError, match="looks like a model file but does not exist"):
        upscale(np.ones((4, 4), np.float32), 2, method=str(tmp_path / "nope.pth"))
    other = tmp_path / "notes.txt"
    other.write_text("")
    with pytest.raises(ValueError, match="is not a model file.*safetensors"):
        upscale(np.ones((4, 4), np.float32), 2, method=other)
    assert fake_checkpoints == []


def test_module_without_scale_is_a_type_error():
    with pytest.raises(TypeError, match="without integer 'scale' and 'in_channels'"):
        upscale(np.ones((4, 4), np.float32), 2, method=torch.nn.Identity())


def test_model_without_a_descriptor_gets_a_cautious_one(rng):
    class Bare(torch.nn.Module):
        scale, in_channels = 2, 1

        def forward(self, x):
            return nearest(x, 2)

    data = rng.random((40, 40)).astype(np.float32)
    with pytest.warns(UserWarning, match="bare is not tiling-safe"):
        out = upscale(data, 2, method=Bare(), tile=16)
    np.testing.assert_allclose(out, data.repeat(2, 0).repeat(2, 1), rtol=1e-6)


def test_model_returning_the_wrong_shape():
    class Wrong(Nearest):
        def forward(self, x):
            return x

    with pytest.raises(ValueError, match=r"returned shape \(1, 1, 4, 4\).*must return"):
        upscale(np.ones((4, 4), np.float32), 2, method=Wrong(), tile=0)


# ----------------------------------------------------------------- channels


def test_rgb_model_sees_the_three_channels_together(rng):
    data = rng.integers(0, 255, (6, 7, 3), dtype=np.uint8)
    model = Nearest(in_channels=3)
    out = upscale(data, 2, method=model)
    assert out.shape == (12, 14, 3)
    assert model.real_calls() == [(1, 3, 6, 7)]
    np.testing.assert_array_equal(out, data.repeat(2, 0).repeat(2, 1))


def test_rgb_model_needs_a_c_axis_of_three():
    with pytest.raises(ValueError, match="3 channels .*no C axis.*axes 'ZYX'"):
        upscale(np.zeros((3, 8, 8), np.uint8), 2, method=Nearest(in_channels=3))
    with pytest.raises(ValueError, match="C axis has 4; drop the alpha channel"):
        upscale(np.zeros((8, 8, 4), np.uint8), 2, method=Nearest(in_channels=3))
    with pytest.raises(ValueError, match="C axis has 2; select 3 channels"):
        upscale(np.zeros((2, 8, 8), np.uint8), 2, axes="CYX", method=Nearest(in_channels=3))


def test_one_channel_model_runs_per_channel_and_plane(rng):
    """uint8 has fixed limits, so each plane alone gives the same numbers."""
    data = rng.integers(0, 255, (2, 3, 2, 6, 7), dtype=np.uint8)
    model = LocalConv()
    out = upscale(data, 2, method=model, axes="TZCYX")
    assert out.shape == (2, 3, 2, 12, 14)
    assert all(call[1] == 1 for call in model.real_calls())
    for t, z, c in np.ndindex(2, 3, 2):
        np.testing.assert_array_equal(out[t, z, c], upscale(data[t, z, c], 2, method=model))


def test_a_luma_trained_model_sees_y_and_the_chroma_is_bicubic(rng):
    """RGB through YCbCr (MATLAB's BT.601): the network upscales Y; Cb and Cr are
    interpolated; a model not trained on luma still runs per channel."""
    from napari_sr.color import rgb_to_ycbcr, ycbcr_to_rgb

    rgb = rng.integers(0, 256, (9, 11, 3), dtype=np.uint8)
    model = Nearest()  # keeps values in range, so that clipping does not hide anything
    model.info = ModelInfo("toy", scale=2, color="luma")
    image = upscale(Image(rgb, "YXC"), 2, method=model)
    assert image.shape == (18, 22, 3) and image.dtype == np.uint8
    assert "network on Y" in image.metadata["provenance"]["color"]
    ycbcr = rgb_to_ycbcr(rgb, 255)
    y = by_hand(model, ycbcr[..., 0].astype(np.float32), (0.0, 255.0))
    chroma = napari_sr.resize(ycbcr[..., 1:], 2, method="bicubic", axes="YXC")
    expected = ycbcr_to_rgb(np.concatenate([y[..., None], chroma], axis=-1), 255)
    # float32 inside the engine against float64 here: ties may round apart
    difference = np.abs(image.data.astype(int) - np.clip(np.rint(expected), 0, 255))
    assert difference.max() <= 1 and (difference == 0).mean() > 0.99
    # the same model without the luma record: every channel alone
    del model.info
    per_channel = upscale(rgb, 2, method=model)
    np.testing.assert_array_equal(per_channel[..., 1], upscale(rgb[..., 1], 2, method=model))


# ------------------------------------------------------------ normalisation


def test_limits_come_from_the_whole_stack_and_are_recorded(rng):
    data = np.stack([rng.random((8, 8)), 10 + rng.random((8, 8))]).astype(np.float32)
    out = upscale(Image(data, axes="ZYX"), 2, method=LocalConv())
    expected = Normalization().limits(data)
    record = out.metadata["provenance"]["normalization"]
    assert record["kind"] == "percentile" and (record["low"], record["high"]) == (1.0, 99.8)
    assert record["limits"] == pytest.approx(expected)
    # the dim plane is normalised with the stack's limits, not its own
    np.testing.assert_allclose(
        out.data[0], by_hand(LocalConv(), data[0], expected), rtol=1e-5, atol=1e-5
    )


def test_recorded_normalisation_of_the_model_is_used(rng):
    model = Nearest()
    seen = []
    model.register_forward_hook(lambda m, args, out: seen.append(float(args[0].max())))
    model.normalization = {"kind": "range", "low": 0, "high": 1000}
    data = np.full((6, 6), 500, np.uint16)
    out = upscale(data, 2, method=model, tile=0)
    assert seen[-1] == pytest.approx(0.5)
    np.testing.assert_array_equal(out, 500)


# ---------------------------------------------------- size multiple, tiling


@pytest.mark.parametrize("tile", [0, 8])
def test_inputs_are_padded_to_the_size_multiple_and_cropped(rng, tile):
    data = rng.random((13, 17)).astype(np.float32)
    model = Nearest(multiple=4, halo=1)
    out = upscale(data, 2, method=model, tile=tile)
    assert out.shape == (26, 34)
    np.testing.assert_allclose(out, data.repeat(2, 0).repeat(2, 1), rtol=1e-6)
    assert all(c[-2] % 4 == 0 and c[-1] % 4 == 0 for c in model.calls)


@pytest.mark.parametrize("shape", [(37, 45), (2, 33, 20)])
@pytest.mark.parametrize("tile", [8, 16, 25])
def test_tiled_equals_untiled_for_a_local_model(rng, shape, tile):
    data = rng.random(shape).astype(np.float32)
    model = LocalConv()
    whole = upscale(data, 2, method=model, tile=0)
    tiled = upscale(data, 2, method=model, tile=tile)
    np.testing.assert_allclose(tiled, whole, rtol=1e-5, atol=1e-5)
    assert max(c[-1] for c in model.real_calls()[-1:]) < max(shape[-2:])  # it did tile


@pytest.mark.parametrize(("name", "hparams"), [("fsrcnn", {"d": 16, "m": 1}), ("srcnn", {})])
def test_tiled_equals_untiled_for_real_models_at_odd_sizes(rng, name, hparams):
    torch.manual_seed(0)
    model = napari_sr.create_model(name, scale=3, **hparams)
    data = rng.random((29, 23)).astype(np.float32)
    whole = upscale(data, 3, method=model, tile=0)
    tiled = upscale(data, 3, method=model, tile=12)
    np.testing.assert_allclose(tiled, whole, rtol=1e-5, atol=1e-5)


def test_automatic_tiling_within_a_small_budget(rng, monkeypatch):
    data = rng.random((96, 80)).astype(np.float32)
    model = LocalConv()
    whole = upscale(data, 2, method=model, tile=0)
    monkeypatch.setattr(footprint, "HOST_BUDGET", 500_000)
    model.calls.clear()
    out = upscale(Image(data), 2, method=model)
    np.testing.assert_allclose(out.data, whole, rtol=1e-5, atol=1e-5)
    tile = out.metadata["provenance"]["tile"]
    assert tile is not None and tile < 96
    # tile=0 never tiles, whatever the budget
    model.calls.clear()
    upscale(data, 2, method=model, tile=0)
    assert model.real_calls() == [(1, 1, 96, 80)]


def test_cpu_cuts_large_planes_of_tiling_safe_models_for_the_caches(rng):
    """On the CPU, tile=None runs planes longer than CPU_TILE in tiles (speed only): the
    same numbers as whole planes; models that are not tiling-safe, or whose halo would make
    tiles recompute much, stay whole."""
    from napari_sr.engine.learned import CPU_TILE

    data = rng.random((CPU_TILE + 20, 50)).astype(np.float32)
    model = LocalConv()
    whole = upscale(data, 2, method=model, tile=0)
    model.calls.clear()
    out = upscale(Image(data), 2, method=model, device="cpu")
    assert 0 < out.metadata["provenance"]["tile"] <= CPU_TILE
    assert len(model.real_calls()) == 2
    np.testing.assert_allclose(out.data, whole, rtol=1e-5, atol=1e-5)
    for whole_planes in (LocalConv(tiling_safe=False), LocalConv(halo=40)):  # or a wide halo
        out = upscale(Image(data), 2, method=whole_planes, device="cpu")
        assert out.metadata["provenance"]["tile"] is None


def test_untiled_model_runs_whole_planes_without_a_tile():
    out = upscale(Image(np.ones((20, 20), np.float32)), 2, method=Nearest())
    assert out.metadata["provenance"]["tile"] is None


def test_tiling_a_model_that_is_not_tiling_safe_warns_once(rng):
    model = LocalConv(tiling_safe=False)
    data = rng.random((2, 40, 40)).astype(np.float32)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        upscale(data, 2, method=model, tile=16)
        upscale(data, 2, method=model, tile=0)
    messages = [str(w.message) for w in caught]
    # three tiles of 14, 13 and 13 pixels share the 40 evenly
    assert len(messages) == 1 and "not tiling-safe" in messages[0] and "14-pixel" in messages[0]


def test_bad_tile():
    for bad in (-1, 2.5, True, "8"):
        with pytest.raises(ValueError, match="tile must be None"):
            upscale(np.ones((8, 8), np.float32), 2, method=Nearest(), tile=bad)


# --------------------------------------------------- batching and progress


@pytest.fixture
def batched_on_cpu(monkeypatch):
    """The batching GPUs do (on the CPU every plane has its own pass)."""
    monkeypatch.setattr(job, "CPU_MODEL_BATCH_BYTES", job.BATCH_BYTES)


def test_on_the_cpu_every_plane_has_its_own_pass(rng):
    model = Nearest()
    upscale(rng.random((3, 12, 14)).astype(np.float32), 2, method=model)
    assert model.real_calls() == [(1, 1, 12, 14)] * 3


def test_small_planes_share_forward_passes(rng, monkeypatch, batched_on_cpu):
    model = Nearest()
    upscale(rng.random((6, 12, 14)).astype(np.float32), 2, method=model)
    assert model.real_calls() == [(6, 1, 12, 14)]
    monkeypatch.setattr(job, "CPU_MODEL_BATCH_BYTES", 1)
    model.calls.clear()
    calls = []
    upscale(rng.random((3, 12, 14)).astype(np.float32), 2, method=model,
            progress=lambda d, t: calls.append((d, t)))  # fmt: skip
    assert model.real_calls() == [(1, 1, 12, 14)] * 3
    assert calls == [(1, 3), (2, 3), (3, 3)]


def test_progress_counts_tiles(rng):
    calls = []
    upscale(rng.random((2, 40, 40)).astype(np.float32), 2, method=LocalConv(), tile=16,
            progress=lambda d, t: calls.append((d, t)))  # fmt: skip
    assert calls == [(k, 18) for k in range(1, 19)]  # 2 planes × 3 × 3 tiles


def test_cancel_between_tiles(rng):
    cancel = threading.Event()
    seen = []

    def progress(done, total):
        seen.append(done)
        cancel.set()

    model = LocalConv()
    with pytest.raises(Cancelled):
        upscale(rng.random((40, 40)).astype(np.float32), 2, method=model, tile=16,
                progress=progress, cancel=cancel)  # fmt: skip
    assert seen == [1] and len(model.real_calls()) == 1


# --------------------------------------------------------- out of memory


def test_out_of_memory_halves_the_tile_and_retries(rng):
    data = rng.random((128, 128)).astype(np.float32)
    expected = upscale(data, 2, method=LocalConv(), tile=0)
    model = LocalConv(oom_above=64 * 64)
    calls = []
    with pytest.warns(UserWarning) as caught:
        out = upscale(Image(data), 2, method=model, progress=lambda d, t: calls.append((d, t)))
    messages = [str(w.message) for w in caught]
    assert "ran out of memory with whole planes; retrying with 64-pixel tiles" in messages[0]
    assert "with 64-pixel tiles; retrying with 32-pixel tiles" in messages[1]
    np.testing.assert_allclose(out.data, expected, rtol=1e-5, atol=1e-5)
    assert out.metadata["provenance"]["tile"] == 32
    assert calls[-1] == (1, 1)


def test_out_of_memory_splits_batches_first(rng, batched_on_cpu):
    data = rng.random((4, 20, 20)).astype(np.float32)
    expected = upscale(data, 2, method=LocalConv())
    with pytest.warns(UserWarning) as caught:
        out = upscale(data, 2, method=LocalConv(oom_batch=True))
    assert [str(w.message).split("memory ")[1] for w in caught] == [
        "on 4 planes at once; retrying with 2 per batch",
        "on 2 planes at once; retrying with 1 per batch",
    ]
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


def test_out_of_memory_gives_up_below_the_smallest_tile(rng):
    model = LocalConv(oom_above=1100)  # the probe's 16² still runs
    with (
        pytest.warns(UserWarning, match="retrying with 32-pixel tiles"),
        pytest.raises(RuntimeError, match="out of memory even with 32-pixel tiles") as info,
    ):
        upscale(rng.random((64, 64)).astype(np.float32), 2, method=model)
    assert isinstance(info.value.__cause__, torch.cuda.OutOfMemoryError)
    assert MIN_TILE == 32


# ------------------------------------------------------------ self-ensemble


def test_self_ensemble_of_an_equivariant_model_is_the_model(rng):
    data = rng.random((10, 13)).astype(np.float32)
    plain = upscale(data, 2, method=Nearest())
    model = Nearest()
    ensemble = upscale(data, 2, method=model, self_ensemble=True)
    np.testing.assert_allclose(ensemble, plain, rtol=1e-6)
    shapes = {c[-2:] for c in model.real_calls()}
    assert shapes == {(10, 13), (13, 10)}  # rotated inputs went in


def test_self_ensemble_makes_the_output_equivariant(rng):
    data = rng.random((12, 15)).astype(np.float32)
    model = LocalConv()

    def run(x, **kwargs):
        return upscale(x, 2, method=model, **kwargs)

    assert np.abs(run(np.rot90(data)) - np.rot90(run(data))).max() > 1e-2  # not by itself
    out = run(data, self_ensemble=True)
    for transform in (np.rot90, np.fliplr, np.flipud, lambda a: np.rot90(a, 3)):
        np.testing.assert_allclose(
            run(transform(data).copy(), self_ensemble=True), transform(out), rtol=1e-5, atol=1e-5
        )


# ------------------------------------------------- device, precision, state


def test_model_is_put_back_as_it_was():
    model = Nearest()
    model.train()
    upscale(np.ones((6, 6), np.float32), 2, method=model, device="cpu")
    assert model.modes and not any(model.modes)  # it ran in eval mode
    assert model.training and model.weight.device.type == "cpu"


def test_unavailable_device_is_a_value_error():
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ValueError, match="device 'cuda' is not available.*cpu"):
        upscale(np.ones((6, 6), np.float32), 2, method=Nearest(), device="cuda")


def test_bf16_on_cpu_runs_under_autocast(rng):
    data = rng.random((16, 18)).astype(np.float32)
    model = LocalConv()
    fp32 = upscale(data, 2, method=model, precision="fp32")
    out = upscale(Image(data), 2, method=model, precision="bf16")
    assert out.dtype == np.float32 and out.metadata["provenance"]["precision"] == "bf16"
    np.testing.assert_allclose(out.data, fp32, atol=0.05 * float(np.ptp(fp32)))
    with pytest.raises(ValueError, match="'fp16' is not supported on the CPU"):
        upscale(data, 2, method=model, precision="fp16")


def test_provenance_records_how_the_model_ran():
    out = upscale(Image(np.ones((6, 6), np.uint8)), 2, method=Nearest(), self_ensemble=True)
    record = out.metadata["provenance"]
    assert record["method"] == "toy" and record["scale"] == 2.0
    assert (record["device"], record["precision"], record["tile"]) == ("cpu", "fp32", None)
    assert record["self_ensemble"] is True
    assert record["normalization"] == {"kind": "range", "low": 0.0, "high": 255.0,
                                       "limits": [0.0, 255.0]}  # fmt: skip


def test_interpolation_ignores_device():
    out = upscale(np.ones((4, 4), np.float32), 2, method="bicubic", device="cuda:7")
    assert out.shape == (8, 8)


def test_a_small_gpu_budget_tiles_while_the_host_has_room(rng, monkeypatch):
    """On CUDA the model's footprint is held against the GPU's budget (mocked here)."""
    from napari_sr.engine import learned

    data = rng.random((96, 80)).astype(np.float32)
    whole = upscale(data, 2, method=LocalConv(), tile=0)
    monkeypatch.setattr(learned, "device_budget", lambda device: 200_000)
    out = upscale(Image(data), 2, method=LocalConv())
    assert out.metadata["provenance"]["tile"] is not None
    np.testing.assert_allclose(out.data, whole, rtol=1e-5, atol=1e-5)
