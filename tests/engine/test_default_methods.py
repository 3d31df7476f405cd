"""How ``method=`` names reach bundled weights: None and 'quality'/'fast' by scale,
architecture names, bundled names, and the normalisation of 0-255 models.

These tests bundle tiny stand-in weights in a temporary weights folder (the
``fake_weights`` fixture of conftest.py), so that they check the resolution rules whatever
the package ships; tests/models/test_bundled.py checks the
shipped weights themselves.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import napari_sr  # noqa: E402
from napari_sr.color import luma_limits  # noqa: E402
from napari_sr.image import Image  # noqa: E402
from napari_sr.models import bundled  # noqa: E402


def _method(result) -> str:
    return result.metadata["provenance"]["method"]


@pytest.fixture
def image(rng):
    return Image((rng.random((12, 10)) * 255).astype(np.uint8), axes="YX")


def test_no_method_is_the_quality_default_of_the_scale(fake_weights, image):
    out = napari_sr.upscale(image, 2)
    assert _method(out) == "edsr_light_x2.sr291"
    model = napari_sr.load_model(fake_weights["edsr_light_x2.sr291"])
    np.testing.assert_array_equal(out.data, napari_sr.upscale(image.data, 2, method=model))
    assert not np.array_equal(out.data, napari_sr.upscale(image.data, 2, method="bicubic"))


@pytest.mark.parametrize("scale", [3, 1.5, 8])
def test_no_method_without_a_quality_default_is_bicubic(fake_weights, image, scale):
    with pytest.warns(napari_sr.MethodFallbackWarning) as caught:
        out = napari_sr.upscale(image, scale)
    assert _method(out) == "bicubic"
    assert len(caught) == 1
    assert str(caught[0].message) == (
        f"no learned quality default is bundled for x{scale:g} (bundled: x2), so bicubic "
        "interpolation ran; pass method='bicubic' to choose it explicitly"
    )
    assert caught[0].filename == __file__  # points at the caller's upscale() line
    np.testing.assert_array_equal(out.data, napari_sr.upscale(image.data, scale, method="bicubic"))


def test_the_default_method_is_one_rule_for_every_front_end(fake_weights, recwarn):
    """default_method() is what the API, the CLI and the widgets ask; explicit names never
    warn, and an explicit default kind at a scale without weights still refuses."""
    from napari_sr.engine.methods import DefaultMethod, default_method

    assert default_method(2) == DefaultMethod("edsr_light_x2.sr291", "quality default", False)
    name, note, fallback = default_method(2.5)
    assert (name, fallback) == ("bicubic", True)
    assert note.startswith("no learned quality default is bundled for x2.5 (bundled: x2)")
    assert default_method(None) == ("bicubic", "no scale given: interpolation", False)
    image = np.zeros((4, 4), np.uint8)
    napari_sr.upscale(image, 2.5, method="bicubic")
    napari_sr.upscale(image, 2)  # the quality default: nothing to say
    assert not [w for w in recwarn if issubclass(w.category, UserWarning)]
    with pytest.raises(ValueError, match=r"no quality default is bundled for x2.5"):
        napari_sr.upscale(image, 2.5, method="quality")


def test_fast_and_quality_pick_by_scale(fake_weights, image):
    assert _method(napari_sr.upscale(image, 2, method="fast")) == "fsrcnn_x2.sr291"
    assert _method(napari_sr.upscale(image, 3, method="FAST")) == "fsrcnn_x3.sr291"
    assert _method(napari_sr.upscale(image, 2, method="quality")) == "edsr_light_x2.sr291"
    with pytest.raises(ValueError, match=r"no quality default is bundled for x3 \(bundled: x2\)"):
        napari_sr.upscale(image, 3, method="quality")
    with pytest.raises(ValueError, match=r"no fast default is bundled for x1.5 \(bundled: x2, x3"):
        napari_sr.upscale(image, 1.5, method="fast")


def test_architecture_names_mean_their_bundled_weights_at_that_scale(fake_weights, image):
    assert _method(napari_sr.upscale(image, 3, method="fsrcnn")) == "fsrcnn_x3.sr291"
    with pytest.raises(ValueError, match=r"'fsrcnn' are bundled at x4 \(bundled for it: "
                       r"fsrcnn_x2.sr291, fsrcnn_x3.sr291\); pass a checkpoint"):  # fmt: skip
        napari_sr.upscale(image, 4, method="fsrcnn")
    with pytest.raises(ValueError, match="no pretrained weights of 'rcan' are bundled at x2;"):
        napari_sr.upscale(image, 2, method="rcan")


def test_bundled_names_work_at_their_own_scale_only(fake_weights, image):
    out = napari_sr.upscale(image, 3, method="fsrcnn_x3.sr291")
    assert _method(out) == "fsrcnn_x3.sr291"
    assert out.metadata["provenance"]["checkpoint"] == str(fake_weights["fsrcnn_x3.sr291"])
    with pytest.raises(ValueError, match="scale=2 does not match the model's scale 3"):
        napari_sr.upscale(image, 2, method="fsrcnn_x3.sr291")


def test_bundled_names_are_listed(fake_weights):
    assert napari_sr.list_models(pretrained=True) == [
        "edsr_light_x2.sr291", "fsrcnn_x2.sr291", "fsrcnn_x3.sr291"]  # fmt: skip
    assert bundled.default_scales("fast") == [2, 3] and bundled.default_scales() == [2]
    assert bundled.default_model(2.0) == "edsr_light_x2.sr291"
    assert bundled.default_model(2.5) is None and bundled.default_model(4, "fast") is None
    with pytest.raises(ValueError, match="kind must be one of quality, fast"):
        bundled.default_model(2, "best")


def test_bundled_name_parts():
    assert bundled.parse_name("edsr_light_x2.sr291") == ("edsr_light", 2, "sr291")
    assert bundled.parse_name("highresnet_x4.bursts291") == ("highresnet", 4, "bursts291")
    assert bundled.parse_name("edsr_light.sr291") is None
    assert bundled.parse_name("my_model.safetensors") is None


def test_compare_resolves_defaults_by_its_scale(fake_weights, rng):
    high = (rng.random((24, 24)) * 255).astype(np.uint8)
    from napari_sr.evaluation import compare_methods

    table = compare_methods(high, 2, ["bicubic", None, "fast"])
    assert [row["method"] for row in table.rows] == ["bicubic", "edsr_light_x2.sr291", "fast"]


def test_a_luma_model_sees_grayscale_uint8_where_it_learnt_y(fake_weights, rng):
    """Trained on the Y of RGB (16-235 of 255), the network sees a grayscale image's 0
    and 255 there, not at 0 and 1."""
    data = (rng.random((16, 16)) * 255).astype(np.uint8)
    record = napari_sr.upscale(Image(data, axes="YX"), 2).metadata["provenance"]
    assert record["normalization"]["kind"] == "range"
    low, high = record["normalization"]["limits"]
    assert (low, high) == pytest.approx((-16 * 255 / 219, 255 + 20 * 255 / 219))
    assert "16-235" in record["normalization"]["luma"]


@pytest.mark.parametrize("dtype", [np.uint16, np.float32])
def test_a_0_255_model_percentile_normalises_other_dtypes(fake_weights, rng, dtype):
    """Fixed 0-255 limits are grey levels of 8-bit images; a uint16 or float image gets
    percentiles, so that a natural-image default serves microscopy data."""
    data = (rng.random((16, 16)) * 3000 + 100).astype(dtype)
    record = napari_sr.upscale(Image(data, axes="YX"), 2).metadata["provenance"]
    assert record["normalization"]["kind"] == "percentile"
    low, high = record["normalization"]["limits"]
    # percentiles 0.1 and 99.99 of the data, moved out so that they land on Y 16 and 235
    lo, hi = np.percentile(data, [0.1, 99.99])
    assert (low, high) == pytest.approx(luma_limits((lo, hi)), rel=1e-4)
    assert 100 < lo < 200 and 2900 < hi < 3100


def test_luma_rgb_uses_the_8bit_range_of_the_rgb_image(fake_weights, rng):
    """The luma of a uint8 RGB image is float, but its normalisation is the uint8 one."""
    rgb = (rng.random((10, 10, 3)) * 255).astype(np.uint8)
    out = napari_sr.upscale(Image(rgb, axes="YXC"), 2)
    record = out.metadata["provenance"]["normalization"]
    # Y of 8-bit RGB already spans 16-235 of the fixed range: nothing to widen
    assert (record["kind"], record["limits"]) == ("range", [0.0, 255.0])
    assert "luma" not in record
    assert "YCbCr" in out.metadata["provenance"]["color"]


def test_luma_of_16_bit_rgb_is_put_into_16_235(fake_weights, rng):
    """Percentile limits of the Y of a uint16 RGB image span 0-1: widened like grayscale."""
    from napari_sr.color import luma

    rgb = (rng.random((12, 12, 3)) * 60000).astype(np.uint16)
    record = napari_sr.upscale(Image(rgb, axes="YXC"), 2).metadata["provenance"]
    y = luma(rgb, 65535).astype(np.float32)
    lo, hi = np.percentile(y, [0.1, 99.99])
    assert record["normalization"]["kind"] == "percentile"
    assert record["normalization"]["limits"] == pytest.approx(luma_limits((lo, hi)), rel=1e-4)


def test_other_models_keep_their_0_255_range_on_any_dtype(tmp_path, rng):
    """Only models that record ``other_dtypes`` switch: a model trained on uint8 (zssr,
    isotropic, a user's) sees float input in its own 0-255 range."""
    from napari_sr.normalization import NATURAL_8BIT

    model = napari_sr.create_model("fsrcnn", scale=2, d=4, s=2, m=1)
    path = napari_sr.save_model(model, tmp_path / "mine.safetensors", normalization=NATURAL_8BIT)
    data = (rng.random((16, 16)) * 3000).astype(np.float32)
    out = napari_sr.upscale(Image(data, axes="YX"), 2, method=str(path))
    record = out.metadata["provenance"]["normalization"]
    assert (record["kind"], record["limits"]) == ("range", [0.0, 255.0])
    assert "luma" not in record  # not trained on luma: nothing to widen


@pytest.mark.parametrize("method", ["highresnet", "highresnet_x2.bursts291"])
def test_fusion_networks_point_to_misr(method, image):
    with pytest.raises(ValueError, match=r"multi-frame fusion network.*napari_sr.misr\(frames"):
        napari_sr.upscale(image, 2, method=method)
    from napari_sr.engine.methods import available_methods

    assert "highresnet_x2.bursts291" not in available_methods()


def test_names_without_a_scale_say_so():
    from napari_sr.engine.methods import resolve_method

    with pytest.raises(ValueError, match="method='fast' needs the scale"):
        resolve_method("fast")
    with pytest.raises(ValueError, match="method='fsrcnn' needs the scale"):
        resolve_method("fsrcnn")


def test_an_installation_without_defaults_says_so(tmp_path, monkeypatch, image):
    monkeypatch.setattr(bundled, "WEIGHTS_DIR", tmp_path)  # empty
    with pytest.raises(ValueError, match="this installation bundles no quality default"):
        napari_sr.upscale(image, 2, method="quality")
    with pytest.warns(napari_sr.MethodFallbackWarning, match=r"x2 \(none is bundled\)"):
        assert _method(napari_sr.upscale(image, 2)) == "bicubic"
