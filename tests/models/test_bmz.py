"""BioImage Model Zoo packages: spec 0.5, passing bioimageio.core's own test_model offline."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("bioimageio.core")
pytest.importorskip("onnxruntime")

import napari_sr  # noqa: E402
from napari_sr.cli import main  # noqa: E402
from napari_sr.models import bmz  # noqa: E402


def passes_test_model(path):
    from bioimageio.core import test_model

    summary = test_model(path)
    assert summary.status == "passed", summary.format()
    return summary


def test_a_bundled_default_packages_and_passes_test_model_with_both_weights(tmp_path):
    path = bmz.export_bmz("fsrcnn_x2.sr291", tmp_path / "fast.zip")
    names = set(zipfile.ZipFile(path).namelist())
    assert {"rdf.yaml", "weights.pt", "weights.onnx", "cover.png", "README.md",
            "test_input.npy", "test_output.npy"} <= names  # fmt: skip
    summary = passes_test_model(path)
    tested = " ".join(d.name for d in summary.details)
    assert "torchscript" in tested and "onnx" in tested
    from bioimageio.spec import load_model_description

    descr = load_model_description(path)
    assert descr.license == "BSD-3-Clause"
    assert str(descr.cite[0].doi) == "10.1007/978-3-319-46475-6_25"  # FSRCNN's paper
    out_y = descr.outputs[0].axes[2]
    assert out_y.scale == 0.5 and str(out_y.size.tensor_id) == "input"
    # the fixed 0-255 range: to 0-1 before, back after, so the output is in grey levels
    (pre,) = [p for p in descr.inputs[0].preprocessing if p.id == "scale_linear"]
    (post,) = [p for p in descr.outputs[0].postprocessing if p.id == "scale_linear"]
    assert pre.kwargs.gain == pytest.approx(1 / 255) and post.kwargs.gain == pytest.approx(255)
    with zipfile.ZipFile(path) as z:
        card = z.read("README.md").decode()
    assert "FSRCNN" in card and "## Validation" in card


def test_a_percentile_normalised_model_of_ones_own_packages_with_its_licence(tmp_path):
    torch.manual_seed(0)
    model = napari_sr.create_model("edsr_light", scale=3, n_resblocks=1, n_feats=8)
    image = np.random.default_rng(0).gamma(2, 300, (90, 80)).astype(np.uint16)
    path = bmz.export_bmz(model, tmp_path / "mine.zip", image=image, license="CC-BY-4.0",
                          authors=["A. Person"])  # fmt: skip
    passes_test_model(path)
    test_input = np.load(zipfile.ZipFile(path).open("test_input.npy"))
    assert test_input.shape == (1, 1, 64, 64) and test_input.max() > 255  # the given image


def test_package_errors_name_the_fix(tmp_path):
    model = napari_sr.create_model("fsrcnn", scale=2, d=4, s=2, m=1)
    with pytest.raises(ValueError, match="license='CC-BY-4.0'"):
        bmz.export_bmz(model, tmp_path / "a.zip")
    with pytest.raises(ValueError, match="name it '\\*.zip'"):
        bmz.export_bmz(model, tmp_path / "a.yaml", license="MIT")
    with pytest.raises(ValueError, match="must be \\(Y, X\\)"):
        bmz.export_bmz(model, tmp_path / "a.zip", license="MIT", image=np.zeros((3, 80, 80)))
    with pytest.raises(ValueError, match="fuses frames"):
        bmz.export_bmz("highresnet_x2.bursts291", tmp_path / "a.zip")
    assert list(tmp_path.iterdir()) == []


def test_cli_export_bmz(tmp_path, capsys):
    out = tmp_path / "q.zip"
    assert main(["export-bmz", "fsrcnn_x3.sr291", str(out), "--author", "B. Person"]) == 0
    assert out.exists() and "wrote" in capsys.readouterr().out
    assert main(["export-bmz", "fsrcnn_x3.sr291", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err
