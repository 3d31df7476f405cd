"""``method='perceptual'``: the bundled adversarially trained weights, by role, run as they
are on every input (no routing by noise), said aloud; never picked for an architecture's
name or for ``method=None``."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import napari_sr  # noqa: E402
from napari_sr.engine import method_table as table  # noqa: E402
from napari_sr.models import bundled  # noqa: E402
from napari_sr.normalization import IMAGE_RANGE, NATURAL_8BIT  # noqa: E402


@pytest.fixture
def perceptual_weights(tmp_path, monkeypatch):
    """Stand-in EDSR-light x4 weights of three trainings (tiny, random)."""
    torch.manual_seed(0)
    for weights in ("sr291", "microscope", "perceptual"):
        model = napari_sr.create_model("edsr_light", scale=4, n_resblocks=1, n_feats=4)
        name = f"edsr_light_x4.{weights}"
        napari_sr.save_model(
            model, tmp_path / f"{name}.safetensors", normalization=NATURAL_8BIT,
            data={"color": "luma", "other_dtypes": IMAGE_RANGE.to_dict()},
        )  # fmt: skip
        (tmp_path / f"{name}.md").write_text(f"# {name}: stand-in\n", encoding="utf-8")
    monkeypatch.setattr(bundled, "WEIGHTS_DIR", tmp_path)


def test_the_perceptual_role_runs_its_weights_on_every_input(perceptual_weights):
    assert table.default_scales("perceptual") == [4]
    assert table.default_for("perceptual", 4) == "edsr_light_x4.perceptual"
    for noisy, camera in ((True, False), (False, True)):  # no routing to other weights
        assert table.default_for("perceptual", 4, noisy=noisy, camera=camera) == (
            "edsr_light_x4.perceptual"
        )
    assert table.default_for("quality", 4, noisy=True) == "edsr_light_x4.microscope"
    info = table.describe_method("perceptual", 4)
    assert info.available and info.runs == "edsr_light_x4.perceptual"
    assert "synthesise texture" in info.description and "not measurement" in info.description
    assert table.describe_method("perceptual", 2).reason.startswith("no perceptual default")
    # an architecture's name and the default never pick it
    assert table.describe_method("edsr_light", 4).runs == "edsr_light_x4.sr291"
    assert table.default_method(4).name == "edsr_light_x4.sr291"


def test_upscale_with_the_perceptual_role_says_what_ran(perceptual_weights):
    rng = np.random.default_rng(0)
    noisy = (rng.random((24, 24)) * 255).astype(np.uint8)
    image = napari_sr.upscale(napari_sr.Image(noisy, axes="YX"), 4, method="perceptual")
    record = image.metadata["provenance"]["default"]
    assert record["weights"] == "edsr_light_x4.perceptual"
    note = table.noise_note(record)
    assert "synthesise texture on every input" in note and "part of the noise into texture" in note
