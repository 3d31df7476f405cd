"""The table of single-image methods: one answer, for the API, the CLI and the widgets, to
what a method is, whether it is learned, at which scales it runs and why not elsewhere."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import napari_sr
from napari_sr.engine import method_table as table
from napari_sr.engine.method_table import MethodInfo, describe_method, list_methods


def _by_name(scale=None):
    return {m.name: m for m in list_methods(scale)}


def test_the_table_at_a_scale(fake_weights):
    methods = _by_name(3)
    kinds = [m.kind for m in methods.values()]
    assert kinds == sorted(kinds, key=["interpolation", "default", "bundled",
                                       "architecture"].index)  # fmt: skip
    assert methods["bicubic"] == MethodInfo(
        "bicubic", "interpolation", False, description="bicubic interpolation"
    )
    quality, fast = methods["quality"], methods["fast"]
    assert (quality.kind, quality.learned, quality.scales, quality.runs) == (
        "default", True, (2,), None,
    )  # fmt: skip
    assert quality.reason.startswith("no quality default is bundled for x3 (bundled: x2)")
    assert fast.available and fast.runs == "fsrcnn_x3.sr291" and fast.scales == (2, 3)
    assert "FSRCNN trained on the 291-image set (x2, x3)" in fast.description
    assert methods["fsrcnn_x3.sr291"].available
    assert methods["fsrcnn_x2.sr291"].reason == "bundled for x2 only"
    assert methods["fsrcnn"].runs == "fsrcnn_x3.sr291" and methods["fsrcnn"].scales == (2, 3)
    assert methods["rcan"].reason.startswith("no pretrained weights of 'rcan' are bundled at x3;")
    assert not {"highresnet", "highresnet_x2.bursts291"} & set(methods)  # fusion: misr's


def test_without_a_scale_availability_means_at_some_scale(fake_weights):
    methods = _by_name()
    assert methods["quality"].available and methods["quality"].runs is None
    assert methods["fsrcnn_x2.sr291"].available and methods["fsrcnn"].available
    assert methods["rcan"].reason.startswith("no pretrained weights of 'rcan' are bundled; pass")


def test_bundled_defaults_by_role_and_scale(fake_weights):
    assert table.default_roles() == ("quality", "fast", "perceptual")
    assert table.bundled_defaults() == {
        "quality": {2: "edsr_light_x2.sr291"},
        "fast": {2: "fsrcnn_x2.sr291", 3: "fsrcnn_x3.sr291"},
        "perceptual": {},
    }
    assert table.default_for("fast", 3.0) == "fsrcnn_x3.sr291"
    assert table.default_for("quality", 2.5) is None
    assert table.default_method(3) == ("bicubic", table.default_method(3).note, True)


def test_what_each_kind_of_value_is(fake_weights, tmp_path):
    torch = pytest.importorskip("torch")
    model = napari_sr.create_model("fsrcnn", scale=2, d=4, s=2, m=1)
    described = describe_method(model)
    assert (described.kind, described.learned, described.scales) == ("model", True, (2,))
    path = tmp_path / "mine.pth"
    torch.save(model.state_dict(), path)
    for value in (path, str(path)):
        assert describe_method(value) == MethodInfo(str(path), "file", True, None, None, None,
                                                    "a model file")  # fmt: skip
    missing = describe_method(tmp_path / "gone.safetensors")
    assert "looks like a model file but does not exist" in missing.reason
    assert "is not a model file" in describe_method(tmp_path / "notes.txt").reason
    assert describe_method(None, 2).runs is None and describe_method(None, 2).kind == "bundled"
    assert describe_method(None, 2.5).name == "bicubic"
    assert describe_method(" Bicubic ").name == "bicubic"
    with pytest.raises(ValueError, match=r"unknown method 'magic'; available: nearest, .*"
                       r"quality, fast, perceptual, diffusion, edsr_light_x2.sr291.*a model file "
                       r"\(.safetensors, .pth, .pt, .ckpt, .zip\)"):  # fmt: skip
        describe_method("magic")
    with pytest.raises(TypeError, match="method must be an interpolation name"):
        describe_method(3)


@pytest.mark.parametrize(
    ("method", "learned"),
    [("bicubic", False), ("lanczos3", False), ("quality", True), ("fast", True),
     ("fsrcnn_x2.sr291", True), ("fsrcnn", True), ("w.safetensors", True)],
)  # fmt: skip
def test_is_learned(fake_weights, method, learned):
    assert table.is_learned(method) is learned


def test_resolved_methods_say_whether_they_are_learned(fake_weights):
    from napari_sr.engine.methods import resolve_method

    assert table.is_learned(resolve_method("bicubic")) is False
    pytest.importorskip("torch")
    assert table.is_learned(resolve_method("fast", 2)) is True


def test_model_files_are_one_list():
    from napari_sr.models.checkpoint import PICKLE_SUFFIXES, SAFETENSORS_SUFFIXES

    assert table.MODEL_FILE_SUFFIXES == SAFETENSORS_SUFFIXES + PICKLE_SUFFIXES + (".zip",)
    assert table.model_file_filter() == "Model files (*.safetensors *.pth *.pt *.ckpt *.zip)"
    assert table.is_model_file("A.PTH") and not table.is_model_file("a.tif")


def test_upscale_refuses_with_the_tables_reason(fake_weights):
    image = np.zeros((6, 6), np.uint8)
    for method in ("quality", "rcan"):
        reason = describe_method(method, 3).reason
        with pytest.raises(ValueError) as caught:
            napari_sr.upscale(image, 3, method=method)
        assert str(caught.value) == reason


def test_the_real_bundled_defaults():
    methods = _by_name(3)
    assert methods["quality"].runs == "edsr_light_x3.sr291"
    assert methods["fast"].runs == "fsrcnn_x3.sr291"
    assert table.single_image_weights() == [
        n for n in napari_sr.list_models(pretrained=True) if not n.startswith("highresnet")
    ]


def test_listing_methods_is_public_and_imports_no_torch():
    code = (
        "import sys, napari_sr; m = napari_sr.list_methods(2); "
        "print(len(m), sum(x.learned for x in m), 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    count, learned, torch_loaded = out.stdout.split()
    assert int(count) > int(learned) >= 2 and torch_loaded == "False"
    assert napari_sr.list_methods is list_methods
