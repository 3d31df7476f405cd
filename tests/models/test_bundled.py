"""Bundled weights: named architecture_xS.data, each loads, each has a complete model card."""

from __future__ import annotations

import re

import pytest

from napari_sr.models.bundled import WEIGHTS_DIR, bundled_models, bundled_path, model_card

NAME = re.compile(r"^(?P<arch>[a-z0-9_]+)_x(?P<scale>\d)\.(?P<data>[a-z0-9]+)$")
CARD_SECTIONS = ("Architecture", "Training data", "Recipe", "Measured", "Intended use", "Licence")
WHEEL_WEIGHTS_LIMIT = 40 * 2**20
"""The wheel's budget for all bundled weights together (40 MB)."""


def test_the_bundled_fusion_networks_are_listed():
    import napari_sr

    assert {"highresnet_x2.bursts291", "highresnet_x4.bursts291"} <= set(bundled_models())
    assert napari_sr.list_models(pretrained=True) == list(bundled_models())
    fours = napari_sr.list_models("*_x4.*", pretrained=True)
    assert "highresnet_x4.bursts291" in fours and all("_x4." in name for name in fours)
    assert "highresnet" in napari_sr.list_models()  # architectures, without pretrained


@pytest.mark.parametrize("name", sorted(bundled_models()))
def test_each_bundled_model_loads_as_named_and_has_a_card(name):
    pytest.importorskip("torch")
    from napari_sr.models.checkpoint import load_model

    parts = NAME.match(name)
    assert parts, f"{name}: bundled names are <architecture>_x<scale>.<training data>"
    model = load_model(bundled_path(name))
    assert model.spec.name == parts["arch"] and model.scale == int(parts["scale"])
    card = model_card(name)
    for section in CARD_SECTIONS:
        assert f"## {section}" in card, f"{name}'s model card lacks '## {section}'"
    assert f"{model.checkpoint['parameters']:,}" in card  # the card describes these weights
    assert re.search(r"\b(CPU|GPU|H100|H200)\b", card), f"{name}'s card names no device"
    assert bundled_path(name).stat().st_size < 5 * 2**20


def test_the_bundled_weights_fit_the_wheel_budget():
    total = sum(p.stat().st_size for p in WEIGHTS_DIR.glob("*.safetensors"))
    assert total < WHEEL_WEIGHTS_LIMIT, f"{total / 2**20:.1f} MB of bundled weights"


def test_every_file_in_the_weights_folder_pairs_with_a_card():
    stems = {p.name.split(".safetensors")[0].split(".md")[0] for p in WEIGHTS_DIR.iterdir()}
    assert stems == set(bundled_models())


def test_an_unknown_name_lists_the_bundled_ones():
    with pytest.raises(ValueError, match=r"no bundled model is named 'edsr_x9.none'; bundled: "):
        bundled_path("edsr_x9.none")
