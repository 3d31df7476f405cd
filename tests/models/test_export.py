"""ONNX and TorchScript export: dynamic sizes, the record inside, checked against PyTorch."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import napari_sr  # noqa: E402
from napari_sr.cli import main  # noqa: E402
from napari_sr.models import export  # noqa: E402
from napari_sr.models.bundled import bundled_models, is_multiframe  # noqa: E402

onnx = pytest.importorskip("onnx")
onnxruntime = pytest.importorskip("onnxruntime")

TINY = {
    "edsr_light": {"n_resblocks": 1, "n_feats": 8},
    "fsrcnn": {"d": 8, "s": 4, "m": 1},
    "rcan": {"n_resgroups": 1, "n_resblocks": 1, "n_feats": 8, "reduction": 4},
}


def tiny(architecture, scale=2, **extra):
    torch.manual_seed(0)
    hparams = {**TINY.get(architecture, {}), **extra}
    model = napari_sr.create_model(architecture, scale=scale, **hparams)
    with torch.no_grad():  # weights of every size, so a wrong tap or order shows
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return model.eval()


def forward(model, x):
    with torch.inference_mode():
        return model(torch.from_numpy(x)).numpy()


def onnx_run(path, x):
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"input": x})[0]


@pytest.mark.parametrize(
    ("architecture", "scale"), [("edsr_light", 2), ("fsrcnn", 3), ("rcan", 4)]
)
def test_onnx_export_matches_pytorch_at_sizes_it_was_not_traced_at(tmp_path, architecture, scale):
    model = tiny(architecture, scale)
    path = napari_sr.export_model(model, tmp_path / "net.onnx")
    rng = np.random.default_rng(1)
    for shape in [(1, 1, 37, 52), (3, 1, 64, 29)]:
        x = rng.random(shape, dtype=np.float32)
        got = onnx_run(path, x)
        assert got.shape == (shape[0], 1, shape[2] * scale, shape[3] * scale)
        np.testing.assert_allclose(got, forward(model, x), atol=1e-4, rtol=0)
    record = json.loads(onnx.load(str(path)).metadata_props[0].value)
    assert record["architecture"] == architecture
    assert record["exported"]["input"] == {"name": "input", "axes": "NCHW", "channels": 1,
                                           "dtype": "float32"}  # fmt: skip
    assert record["exported"]["scale"] == scale


def test_torchscript_export_matches_pytorch_and_carries_the_record(tmp_path):
    model = tiny("edsr_light", 2)
    path = napari_sr.export_model(model, tmp_path / "net.pt")
    files = {"napari_sr.json": ""}
    loaded = torch.jit.load(str(path), _extra_files=files)
    rng = np.random.default_rng(2)
    for shape in [(1, 1, 40, 33), (2, 1, 17, 70)]:
        x = rng.random(shape, dtype=np.float32)
        np.testing.assert_allclose(forward(loaded, x), forward(model, x), atol=1e-4, rtol=0)
    assert json.loads(files["napari_sr.json"])["scale"] == 2


def test_fsrcnn_exports_its_deconvolution_as_the_same_function():
    model = tiny("fsrcnn", 4)
    form = model.for_export()
    x = np.random.default_rng(3).random((1, 1, 23, 31), dtype=np.float32)
    np.testing.assert_allclose(forward(form, x), forward(model, x), atol=1e-5, rtol=0)


def test_a_fusion_network_exports_for_a_fixed_number_of_frames(tmp_path):
    # prior-refining, as the bundled ones: the frames and the packed ×2 prior (4 channels)
    model = napari_sr.create_model("highresnet", scale=2, features=8, prior=True).eval()
    path = napari_sr.export_model(model, tmp_path / "fuse.onnx", frames=5)
    x = np.random.default_rng(4).random((1, 5 + 4, 24, 20), dtype=np.float32)
    np.testing.assert_allclose(onnx_run(path, x), forward(model, x), atol=1e-4, rtol=0)
    with pytest.raises(ValueError, match="give frames=K"):
        napari_sr.export_model(model, tmp_path / "other.onnx")
    with pytest.raises(ValueError, match="drop frames=3"):
        napari_sr.export_model(tiny("fsrcnn"), tmp_path / "one.onnx", frames=3)


ONE_PASS = sorted(n for n in bundled_models() if not n.startswith("diffusion_unet_"))
"""The bundled networks that run in one forward pass (a diffusion denoiser needs its
sampler, which no export holds)."""


@pytest.mark.parametrize("name", ONE_PASS)
def test_every_bundled_model_exports_to_torchscript(tmp_path, name):
    frames = 4 if is_multiframe(name) else None
    path = export.export_model(name, tmp_path / f"{name}.pt", frames=frames)
    assert path.stat().st_size > 1000


@pytest.mark.parametrize("name", ["fsrcnn_x3.sr291", "highresnet_x4.bursts291"])
def test_bundled_models_export_to_onnx(tmp_path, name):
    frames = 6 if is_multiframe(name) else None
    path = export.export_model(name, tmp_path / f"{name}.onnx", frames=frames)
    record = json.loads(onnx.load(str(path)).metadata_props[0].value)
    # the prior-refining fusion network takes the frames and the packed prior
    assert record["exported"]["input"]["channels"] == (6 + 16 if frames else 1)


def test_an_export_that_differs_from_pytorch_is_refused_and_nothing_is_written(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(export, "TOLERANCE", -1.0)
    with pytest.raises(export.ExportError, match="differs from PyTorch"):
        export.export_model(tiny("fsrcnn"), tmp_path / "net.onnx")
    assert list(tmp_path.iterdir()) == []


def test_a_network_that_cannot_export_with_dynamic_sizes_says_so_in_one_line(tmp_path):
    # the plain HighRes-net adds a MATLAB-bicubic upsampling planned in numpy for the size
    model = napari_sr.create_model("highresnet", scale=2, features=8).eval()
    with pytest.raises(export.ExportError, match="does not export to ONNX with dynamic") as err:
        export.export_model(model, tmp_path / "fuse.onnx", frames=3)
    assert "\n" not in str(err.value) and "'*.pt'" in str(err.value)
    assert list(tmp_path.iterdir()) == []


def test_export_errors_name_the_fix(tmp_path):
    with pytest.raises(ValueError, match=r"'\*.onnx' for ONNX or '\*.pt'"):
        export.export_model(tiny("fsrcnn"), tmp_path / "net.h5")
    with pytest.raises(TypeError, match="made by napari_sr.create_model"):
        export.export_model(torch.nn.Conv2d(1, 1, 3), tmp_path / "net.onnx")
    with pytest.raises(ValueError, match="neither bundled weights"):
        export.export_model("no_such_model", tmp_path / "net.onnx")
    (tmp_path / "taken.pt").write_bytes(b"x")
    with pytest.raises(FileExistsError):
        export.export_model(tiny("fsrcnn"), tmp_path / "taken.pt")
    assert (tmp_path / "taken.pt").read_bytes() == b"x"


def test_missing_onnx_packages_are_named_with_the_extra(monkeypatch):
    real = export.importlib.util.find_spec
    monkeypatch.setattr(export.importlib.util, "find_spec",
                        lambda name: None if name == "onnxscript" else real(name))  # fmt: skip
    with pytest.raises(ImportError, match=r"onnxscript.*napari-sr\[onnx\]"):
        export.require_onnx()


def test_cli_exports_a_bundled_model(tmp_path, capsys):
    out = tmp_path / "fast.onnx"
    assert main(["export", "fsrcnn_x2.sr291", str(out)]) == 0
    assert out.exists() and "wrote" in capsys.readouterr().out
    assert main(["export", "fsrcnn_x2.sr291", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--overwrite" in err[0]
    assert main(["export", "highresnet_x2.bursts291", str(tmp_path / "f.pt")]) == 2
    assert "--frames K" in capsys.readouterr().err
