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
from napari_sr.models import bmz, bmz_load  # noqa: E402


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
    # the fixed 0-255 range, widened as for grayscale into a luma network (0 → 16/255,
    # 255 → 235/255), before; the inverse after, so the output is in grey levels
    (pre,) = [p for p in descr.inputs[0].preprocessing if p.id == "scale_linear"]
    (post,) = [p for p in descr.outputs[0].postprocessing if p.id == "scale_linear"]
    assert pre.kwargs.offset == pytest.approx(16 / 255)
    assert 255 * pre.kwargs.gain + pre.kwargs.offset == pytest.approx(235 / 255)
    assert post.kwargs.gain * pre.kwargs.gain == pytest.approx(1)
    # so the package upscales a grayscale image as napari-sr does with the bundled weights
    image = napari_sr.load_sample("cell").data[:90, :100]
    ours = napari_sr.upscale(image, 2, method="fsrcnn_x2.sr291", dtype=np.float32)
    theirs = napari_sr.upscale(image, 2, method=str(path), dtype=np.float32)
    np.testing.assert_allclose(theirs, ours, atol=1e-3, rtol=0)
    with zipfile.ZipFile(path) as z:
        card = z.read("README.md").decode()
    assert "FSRCNN" in card and "## Validation" in card


def test_a_percentile_normalised_model_of_ones_own_packages_with_its_licence(tmp_path):
    torch.manual_seed(0)
    model = napari_sr.create_model("edsr_light", scale=3, n_resblocks=1, n_feats=8)
    image = np.random.default_rng(0).gamma(2, 300, (130, 120)).astype(np.uint16)
    path = bmz.export_bmz(model, tmp_path / "mine.zip", image=image, license="CC-BY-4.0",
                          authors=["A. Person"])  # fmt: skip
    passes_test_model(path)
    test_input = np.load(zipfile.ZipFile(path).open("test_input.npy"))
    assert test_input.shape == (1, 1, 104, 104) and test_input.max() > 255  # the given image


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


def test_an_exported_package_imports_as_a_method_equal_to_the_network(tmp_path):
    torch.manual_seed(1)
    model = napari_sr.create_model("edsr_light", scale=2, n_resblocks=1, n_feats=8).eval()
    rng = np.random.default_rng(3)
    path = bmz.export_bmz(model, tmp_path / "mine.zip", license="CC-BY-4.0",
                          image=rng.random((120, 120)).astype(np.float32))  # fmt: skip
    image = napari_sr.Image(rng.random((50, 70)).astype(np.float32), axes="YX")
    expected = napari_sr.upscale(image, 2, method=model).data
    for weights in ("torchscript", "onnx"):
        network = bmz.load_bmz(path, weights=weights)
        assert (network.scale, network.in_channels, network.weights_format) == (2, 1, weights)
        assert network.spec.halo == model.spec.halo and network.spec.tiling_safe
        assert network.normalization == model.info.normalization_for(np.dtype("float32"))
        got = napari_sr.upscale(image, 2, method=network).data
        np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)
    via_file = napari_sr.upscale(image, 2, method=str(path))  # as a model file, by its path
    np.testing.assert_allclose(via_file.data, expected, atol=1e-4, rtol=0)


def test_other_axis_orders_are_converted_both_ways():
    from napari_sr.normalization import Normalization

    seen = []

    def nearest_x2(x):  # a package's forward pass in (y, x, channel) → (channel, y, x)
        seen.append(x.shape)
        return np.moveaxis(x.repeat(2, axis=0).repeat(2, axis=1), -1, 0)

    network = bmz.BmzNetwork(nearest_x2, "onnx", ("y", "x", "channel"), ("channel", "y", "x"),
                             scale=2, channels=1, normalization=Normalization("range", 0, 1),
                             halo=None, size_multiple=1, name="toy")  # fmt: skip
    x = torch.rand(3, 1, 5, 6)
    y = network(x)
    assert seen == [(5, 6, 1)] * 3  # no batch axis: one item at a time
    expected = x.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)
    assert torch.equal(y, expected)
    assert not network.spec.tiling_safe  # no halo declared: not cut into tiles silently


def test_packages_napari_sr_cannot_run_are_refused_with_what_they_have(tmp_path):
    from types import SimpleNamespace

    from bioimageio.spec.model import v0_5

    zmuv = v0_5.ZeroMeanUnitVarianceDescr(kwargs=v0_5.ZeroMeanUnitVarianceKwargs())
    with pytest.raises(ValueError, match="zero_mean_unit_variance"):
        bmz_load._normalization(SimpleNamespace(preprocessing=[zmuv]), "BMZ package p.zip")
    (tmp_path / "not.zip").write_bytes(b"PK\x05\x06" + bytes(18))  # an empty zip
    with pytest.raises(ValueError, match="not a valid BioImage Model Zoo model"):
        bmz.load_bmz(tmp_path / "not.zip")
    package = bmz.export_bmz("fsrcnn_x2.sr291", tmp_path / "p.zip")
    with pytest.raises(ValueError, match="drop architecture"):
        napari_sr.load_model(package, architecture="fsrcnn")
