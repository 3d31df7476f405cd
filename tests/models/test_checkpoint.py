"""Model files: safetensors + JSON round trips, third-party weights, and clear errors."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from napari_sr.models import create_model  # noqa: E402
from napari_sr.models.checkpoint import (  # noqa: E402
    CheckpointError,
    load_model,
    read_metadata,
    save_model,
)
from napari_sr.normalization import Normalization  # noqa: E402


def _model(name="fsrcnn", scale=2, **kwargs):
    torch.manual_seed(0)
    return create_model(name, scale=scale, **kwargs)


def _same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_round_trip_restores_architecture_weights_and_description(tmp_path):
    model = _model("swinir_light", depths=(2,), num_heads=(6,), in_channels=3)
    model.normalization = Normalization("range", 0, 255)
    path = save_model(
        model,
        tmp_path / "m.safetensors",
        training={"steps": 10, "loss": {"l1": 1.0}},
        data={"images": 2},
        metrics={"psnr": np.float32(31.5), "ssim": float("nan")},
    )
    loaded = load_model(path)
    assert type(loaded) is type(model) and _same_weights(model, loaded)
    assert (loaded.scale, loaded.in_channels, loaded.spec.name) == (2, 3, "swinir_light")
    assert loaded.hparams == {"depths": (2,), "num_heads": (6,)}
    assert loaded.normalization == Normalization("range", 0.0, 255.0)
    assert not loaded.training
    meta = read_metadata(path)
    assert meta["training"] == {"steps": 10, "loss": {"l1": 1.0}}
    assert meta["metrics"] == {"psnr": 31.5, "ssim": None}  # NaN is not JSON
    assert meta["parameters"] == sum(p.numel() for p in model.parameters())
    x = torch.rand(1, 3, 10, 9)
    model.eval()
    with torch.inference_mode():
        assert torch.equal(model(x), loaded(x))


def test_resaving_a_loaded_model_keeps_its_record(tmp_path):
    model = _model()
    save_model(model, tmp_path / "a.safetensors", metrics={"psnr": 30.0})
    again = save_model(load_model(tmp_path / "a.safetensors"), tmp_path / "b.safetensors")
    assert read_metadata(again)["metrics"] == {"psnr": 30.0}


def test_nothing_is_overwritten_unless_asked(tmp_path):
    path = tmp_path / "m.safetensors"
    save_model(_model(), path)
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="overwrite=True"):
        save_model(_model("espcn"), path)
    assert path.read_bytes() == before
    save_model(_model("espcn"), path, overwrite=True)
    assert read_metadata(path)["architecture"] == "espcn"
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]  # no temporary left


def test_save_refuses_wrong_suffix_and_foreign_models(tmp_path):
    with pytest.raises(ValueError, match=r"\*\.safetensors"):
        save_model(_model(), tmp_path / "m.pth")
    with pytest.raises(TypeError, match="create_model"):
        save_model(torch.nn.Conv2d(1, 1, 3), tmp_path / "m.safetensors")
    model = _model()
    with pytest.raises(
        TypeError, match=r"metadata\['data'\]\['when'\] is a object, which a record cannot hold"
    ):
        save_model(model, tmp_path / "m.safetensors", data={"when": object()})
    assert not list(tmp_path.iterdir())


def test_truncated_file_is_a_clear_error(tmp_path):
    path = save_model(_model(), tmp_path / "m.safetensors")
    blob = path.read_bytes()
    for cut in (4, len(blob) // 2):
        path.write_bytes(blob[:cut])
        with pytest.raises(CheckpointError, match="truncated or corrupt"):
            load_model(path)


def test_missing_file_and_unknown_suffix(tmp_path):
    with pytest.raises(FileNotFoundError, match="check the path"):
        load_model(tmp_path / "nope.safetensors")
    (tmp_path / "w.onnx").write_bytes(b"x")
    with pytest.raises(CheckpointError, match=r"\.safetensors"):
        load_model(tmp_path / "w.onnx")


def test_arguments_contradicting_the_file_are_refused(tmp_path):
    path = save_model(_model(), tmp_path / "m.safetensors")
    with pytest.raises(CheckpointError, match="holds scale=2, not 3"):
        load_model(path, scale=3)
    with pytest.raises(CheckpointError, match="records its hyperparameters"):
        load_model(path, d=32)
    assert load_model(path, architecture="fsrcnn", scale=2).scale == 2


def test_newer_format_asks_for_an_upgrade(tmp_path):
    from safetensors.torch import save_file

    document = {"format": "napari-sr-model", "format_version": 99, "architecture": "fsrcnn",
                "scale": 2, "in_channels": 1}  # fmt: skip
    save_file(
        {"w": torch.zeros(1)}, str(tmp_path / "m.safetensors"),
        metadata={"napari_sr": json.dumps(document)},
    )  # fmt: skip
    with pytest.raises(CheckpointError, match="upgrade napari-sr"):
        load_model(tmp_path / "m.safetensors")


def test_third_party_pth_nested_and_data_parallel_prefix(tmp_path):
    model = _model("edsr_baseline", n_resblocks=2)
    state = {f"module.{k}": v for k, v in model.state_dict().items()}
    torch.save({"params_ema": state, "iter": 5}, tmp_path / "net_g.pth")
    with pytest.raises(CheckpointError, match="architecture='edsr'"):
        load_model(tmp_path / "net_g.pth")
    loaded = load_model(
        tmp_path / "net_g.pth", architecture="edsr_baseline", scale=2, n_resblocks=2
    )
    assert _same_weights(model, loaded) and loaded.normalization is None


def test_third_party_bare_safetensors(tmp_path):
    from safetensors.torch import save_file

    model = _model("espcn", scale=3)
    save_file(model.state_dict(), str(tmp_path / "w.safetensors"))
    with pytest.raises(CheckpointError, match="without a napari-sr description"):
        read_metadata(tmp_path / "w.safetensors")
    loaded = load_model(tmp_path / "w.safetensors", architecture="espcn", scale=3)
    assert _same_weights(model, loaded)


def test_bare_rgb_weights_are_recognised_without_in_channels(tmp_path):
    from napari_sr.models.checkpoint import describes_itself

    model = _model("espcn", scale=2, in_channels=3)
    torch.save(model.state_dict(), tmp_path / "rgb.pth")
    loaded = load_model(tmp_path / "rgb.pth", architecture="espcn", scale=2)
    assert loaded.in_channels == 3 and _same_weights(model, loaded)
    # given explicitly, a wrong count is an error naming the mismatch, not a guess
    with pytest.raises(CheckpointError, match="with 1 channel"):
        load_model(tmp_path / "rgb.pth", architecture="espcn", scale=2, in_channels=1)
    assert not describes_itself(tmp_path / "rgb.pth")
    save_model(loaded, tmp_path / "rgb.safetensors")
    assert describes_itself(tmp_path / "rgb.safetensors")
    (tmp_path / "bad.safetensors").write_bytes(b"not a model")
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        describes_itself(tmp_path / "bad.safetensors")


def test_mismatched_weights_name_the_keys(tmp_path):
    torch.save(_model("espcn", scale=3).state_dict(), tmp_path / "w.pth")
    expected = r"espcn x2 .* wrong shape .*\(9, 32, 3, 3\) vs \(4, 32"
    with pytest.raises(CheckpointError, match=expected):
        load_model(tmp_path / "w.pth", architecture="espcn", scale=2)
    with pytest.raises(CheckpointError, match="missing: body.1.weight, .* 13 more; wrong"):
        load_model(tmp_path / "w.pth", architecture="fsrcnn", scale=3)


class _Payload:
    def __reduce__(self):  # would run code if unpickled unsafely
        return (print, ("unsafe",))


def test_pickles_with_objects_are_never_unpickled(tmp_path, capsys):
    path = tmp_path / "evil.pth"
    with open(path, "wb") as fh:
        pickle.dump({"w": _Payload()}, fh)
    torch.save({"w": _Payload()}, path)
    with pytest.raises(CheckpointError, match="never unpickles"):
        load_model(path, architecture="fsrcnn", scale=2)
    assert "unsafe" not in capsys.readouterr().out


def test_unknown_architecture_in_third_party_load(tmp_path):
    torch.save(_model().state_dict(), tmp_path / "w.pth")
    with pytest.raises(CheckpointError, match="unknown model 'nope'"):
        load_model(tmp_path / "w.pth", architecture="nope", scale=2)
