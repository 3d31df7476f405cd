"""A default role ('quality', 'fast', no method) runs the weights that suit the input's
noise: the bicubic-protocol ``*.sr291`` weights on clean inputs, the ``*.microscope``
weights on noisy ones, where bundled; the choice is recorded and said.

Tiny stand-in weights (the ``fake_weights`` fixture of conftest.py, plus a stand-in
``edsr_light_x2.microscope``) check the rule whatever the package ships.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import napari_sr  # noqa: E402
from napari_sr.cli import main  # noqa: E402
from napari_sr.engine.method_table import choose_default, noise_note  # noqa: E402
from napari_sr.evaluation import compare_low_resolution  # noqa: E402
from napari_sr.image import Image  # noqa: E402
from napari_sr.models import bundled  # noqa: E402
from napari_sr.normalization import IMAGE_RANGE, NATURAL_8BIT  # noqa: E402

ROBUST = "edsr_light_x2.microscope"


@pytest.fixture
def robust_weights(fake_weights, tmp_path):
    """fake_weights plus a stand-in noise-trained EDSR-light x2 (other random weights)."""
    from tests.conftest import TINY_DEFAULTS

    torch.manual_seed(1)
    model = napari_sr.create_model("edsr_light", scale=2, **TINY_DEFAULTS["edsr_light"])
    folder = bundled.WEIGHTS_DIR
    path = napari_sr.save_model(
        model, folder / f"{ROBUST}.safetensors", normalization=NATURAL_8BIT,
        data={"color": "luma", "other_dtypes": IMAGE_RANGE.to_dict()},
    )  # fmt: skip
    (folder / f"{ROBUST}.md").write_text(f"# {ROBUST} — stand-in\n", encoding="utf-8")
    return {**fake_weights, ROBUST: path}


def _scene(noise_fraction: float, seed: int = 0, dtype=np.uint16) -> Image:
    """A smooth scene (YX) with Gaussian noise of σ = ``noise_fraction`` of its span: 16-bit
    of span ~1000 by default, or 8-bit of span ~200."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:48, 0:40]
    span = 200 if dtype == np.uint8 else 1000
    clean = span * (0.2 + 0.4 * (1 + np.sin(y / 6.0) * np.cos(x / 5.0)))
    noisy = clean + rng.normal(0, noise_fraction * span, clean.shape)
    return Image(np.clip(np.round(noisy), 0, np.iinfo(dtype).max).astype(dtype), axes="YX")


def _ran(result) -> str:
    return result.metadata["provenance"]["method"]


def test_the_bundled_name_of_each_kind_of_input(robust_weights):
    assert bundled.default_model(2, "quality") == "edsr_light_x2.sr291"
    assert bundled.default_model(2, "quality", noisy=True) == ROBUST
    # no noise-trained FSRCNN is bundled here: the clean weights run on noisy inputs too
    assert bundled.default_model(3, "fast", noisy=True) == "fsrcnn_x3.sr291"
    assert bundled.default_model(3, "quality", noisy=True) is None
    # texture reads more like noise the coarser an image is sampled: the bar rises
    thresholds = [bundled.noise_threshold(s) for s in (2, 3, 4)]
    assert thresholds == pytest.approx([0.010, 0.012, 0.014])


@pytest.mark.parametrize("method", [None, "quality", " Quality "])
def test_a_noisy_input_runs_the_noise_trained_weights(robust_weights, method):
    image = _scene(0.05)
    out = napari_sr.upscale(image, 2, method=method)
    assert _ran(out) == ROBUST
    record = out.metadata["provenance"]["default"]
    assert record["role"] == "quality" and record["noisy"] is True
    assert record["weights"] == ROBUST
    assert record["relative_noise"] == pytest.approx(0.05, rel=0.35)
    assert record["threshold"] == bundled.noise_threshold(2) == 0.01
    np.testing.assert_array_equal(out.data, napari_sr.upscale(image, 2, method=ROBUST).data)


def test_a_clean_8bit_input_runs_the_bicubic_protocol_weights(robust_weights):
    image = _scene(0.0, dtype=np.uint8)
    out = napari_sr.upscale(image, 2, method="quality")
    assert _ran(out) == "edsr_light_x2.sr291"
    record = out.metadata["provenance"]["default"]
    assert record["noisy"] is False and record["dtype"] == "uint8"
    assert record["relative_noise"] < 0.01
    explicit = napari_sr.upscale(image, 2, method="edsr_light_x2.sr291")
    np.testing.assert_array_equal(out.data, explicit.data)
    assert not np.array_equal(out.data, napari_sr.upscale(image, 2, method=ROBUST).data)
    note = noise_note(record)  # (rounding to 8 bits reads as a little noise)
    assert note.startswith("clean input: noise 0.") and note.endswith("% of the range <= 1 %")


@pytest.mark.parametrize("dtype", [np.uint16, np.float32])
def test_a_clean_input_that_is_not_8bit_runs_the_microscope_weights(robust_weights, dtype):
    """A camera's 16-bit counts or float data come through optics, not the bicubic
    protocol: clean, they still run the weights that learnt the microscope's blur."""
    image = Image(_scene(0.0).data.astype(dtype), axes="YX")
    out = napari_sr.upscale(image, 2)
    assert _ran(out) == ROBUST
    record = out.metadata["provenance"]["default"]
    assert record["noisy"] is False and record["dtype"] == np.dtype(dtype).name
    assert noise_note(record) == (
        f"clean {np.dtype(dtype).name} input (not 8-bit as in the bicubic protocol): "
        "noise 0.0 % of the range <= 1 %"
    )
    # at a scale with no microscope-trained weights the protocol ones run, and it is said
    fast = napari_sr.upscale(image, 3, method="fast").metadata["provenance"]["default"]
    assert fast["weights"] == "fsrcnn_x3.sr291"
    assert noise_note(fast).endswith("; no microscope-trained weights are bundled at this scale")


def test_noisy_only_weights_leave_clean_inputs_of_every_dtype_to_the_protocol_ones(
    robust_weights,
):
    """The fast x2 microscope weights learnt noisy inputs only (bundled.NOISY_ONLY): a
    clean 16-bit input keeps the protocol weights, and the note says why."""
    from tests.conftest import TINY_DEFAULTS

    name = "fsrcnn_x2.microscope"
    assert name in bundled.NOISY_ONLY
    torch.manual_seed(2)
    model = napari_sr.create_model("fsrcnn", scale=2, **TINY_DEFAULTS["fsrcnn"])
    napari_sr.save_model(
        model, bundled.WEIGHTS_DIR / f"{name}.safetensors", normalization=NATURAL_8BIT,
        data={"color": "luma", "other_dtypes": IMAGE_RANGE.to_dict()},
    )  # fmt: skip
    assert bundled.default_model(2, "fast", camera=True) == "fsrcnn_x2.sr291"
    assert bundled.default_model(2, "fast", noisy=True) == name
    assert bundled.default_model(2, "quality", camera=True) == ROBUST  # not noisy-only

    clean = napari_sr.upscale(_scene(0.0), 2, method="fast")
    assert _ran(clean) == "fsrcnn_x2.sr291"
    assert noise_note(clean.metadata["provenance"]["default"]).endswith(
        "; the microscope-trained weights at this scale are for noisy inputs"
    )
    assert _ran(napari_sr.upscale(_scene(0.05), 2, method="fast")) == name
    assert _ran(napari_sr.upscale(_scene(0.0), 2, method="quality")) == ROBUST


def test_named_weights_run_as_named_whatever_the_noise(robust_weights):
    out = napari_sr.upscale(_scene(0.05), 2, method="edsr_light_x2.sr291")
    assert _ran(out) == "edsr_light_x2.sr291"
    assert "default" not in out.metadata["provenance"]
    assert (
        "default"
        not in napari_sr.upscale(_scene(0.05), 2, method="bicubic").metadata["provenance"]
    )


def test_the_threshold_splits_inputs_by_their_noise(robust_weights):
    low = choose_default("quality", 2, _scene(0.01 / 3, dtype=np.uint8), "YX")
    high = choose_default("quality", 2, _scene(0.01 * 3, dtype=np.uint8), "YX")
    assert (low.name, low.noisy) == ("edsr_light_x2.sr291", False)
    assert (high.name, high.noisy) == (ROBUST, True)
    assert choose_default("quality", 3, _scene(0.05), "YX") is None  # nothing bundled at x3


def test_the_note_says_which_weights_ran_and_why(robust_weights):
    noisy = napari_sr.upscale(_scene(0.05), 2).metadata["provenance"]["default"]
    assert noise_note(noisy).startswith("noisy input: noise ")
    assert noise_note(noisy).endswith("% of the range > 1 %")
    fast = napari_sr.upscale(_scene(0.05), 3, method="fast").metadata["provenance"]
    assert fast["method"] == "fsrcnn_x3.sr291"
    assert noise_note(fast["default"]).endswith(
        "but no noise-trained weights are bundled at this scale"
    )


def test_a_stack_is_judged_as_a_whole(robust_weights):
    """One choice for the whole stack, so that its planes are restored alike."""
    planes = [_scene(0.05, seed).data for seed in range(3)] + [_scene(0.0).data]
    stack = Image(np.stack(planes), axes="ZYX")
    out = napari_sr.upscale(stack, 2)
    assert _ran(out) == ROBUST
    np.testing.assert_array_equal(out.data, napari_sr.upscale(stack, 2, method=ROBUST).data)


def test_compare_routes_a_role_like_upscale(robust_weights):
    low = _scene(0.05).data
    table = compare_low_resolution(low, 2, ["quality", "edsr_light_x2.sr291"])
    assert [row["method"] for row in table.rows] == ["quality", "edsr_light_x2.sr291"]
    np.testing.assert_array_equal(
        np.asarray(table.outputs["quality"]), napari_sr.upscale(low, 2, method=ROBUST).data
    )


def test_compare_runs_the_protocol_weights_on_the_protocol_input_whatever_its_dtype(
    robust_weights,
):
    """compare_methods makes its LR by the bicubic protocol, so a clean 16-bit image is
    restored by the protocol's weights there; as an acquired LR it runs the microscope's."""
    from napari_sr.evaluation import compare_methods

    high = napari_sr.upscale(_scene(0.0), 2, method="bicubic").data  # a clean 16-bit HR
    table = compare_methods(high, 2, ["quality"], axes="YX")
    low = napari_sr.degrade(high, 2, axes="YX")
    protocol = napari_sr.upscale(low, 2, method="edsr_light_x2.sr291", axes="YX")
    np.testing.assert_array_equal(np.asarray(table.outputs["quality"]), protocol)
    acquired = compare_low_resolution(low, 2, ["quality"], axes="YX")
    microscope = napari_sr.upscale(low, 2, method=ROBUST, axes="YX")
    np.testing.assert_array_equal(np.asarray(acquired.outputs["quality"]), microscope)


def test_the_cli_says_which_weights_ran(robust_weights, tmp_path, capsys):
    src = napari_sr.io.write(tmp_path / "noisy.ome.tif", _scene(0.05).data)
    code = main(["upscale", str(src), str(tmp_path / "out.ome.tif"), "-s", "2"])
    out, err = capsys.readouterr()
    assert code == 0 and err == ""
    assert f"with {ROBUST} (quality default, noisy input: noise " in out
    written = napari_sr.io.read(tmp_path / "out.ome.tif")
    assert written.metadata["provenance"]["method"] == ROBUST
    assert written.metadata["provenance"]["default"]["noisy"] is True
