"""The training forms of the widgets follow the recipes: their options are fields of the
recipe, start at the recipe's defaults (or a documented table of the form's own), and
show the field's documentation as their tooltip."""

from __future__ import annotations

import pytest

pytest.importorskip("napari")
pytestmark = pytest.mark.gui


def test_the_train_form_is_made_of_recipe_fields(make_napari_viewer):
    from napari_sr._napari.train_widget import FORM_DEFAULTS
    from napari_sr.training.config import TrainConfig, describe_options

    assert set(FORM_DEFAULTS) <= set(TrainConfig.field_names())
    TrainConfig(**FORM_DEFAULTS)  # the form's starting values are a valid recipe
    viewer = make_napari_viewer()
    _dock, widget = viewer.window.add_plugin_dock_widget("napari-sr", "Train")
    controls = widget.recipe_controls()
    options = describe_options(TrainConfig)
    for name, control in controls.items():
        assert control.toolTip() == options[name].help, name
    for name, value in FORM_DEFAULTS.items():
        assert controls[name].value() == pytest.approx(value), name


def test_the_self_supervised_forms_start_at_the_recipes_defaults(make_napari_viewer):
    from napari_sr.selfsup.config import IsotropicConfig, ZSSRConfig
    from napari_sr.training.config import describe_options

    viewer = make_napari_viewer()
    _dock, zssr = viewer.window.add_plugin_dock_widget("napari-sr", "Zero-shot SR")
    recipe, options = ZSSRConfig(), describe_options(ZSSRConfig)
    assert zssr.steps.value() == recipe.steps
    for name in ("gradual", "self_ensemble", "back_projection"):
        assert getattr(zssr, name).isChecked() is getattr(recipe, name)
        assert getattr(zssr, name).toolTip() == options[name].help
    _dock, iso = viewer.window.add_plugin_dock_widget("napari-sr", "Isotropic")
    assert iso.steps.value() == IsotropicConfig().steps
    assert iso.psf.toolTip() == describe_options(IsotropicConfig)["psf"].help
