"""The registry: names, typed errors, hyperparameter checking, no torch to list."""

from __future__ import annotations

import subprocess
import sys

import pytest

import napari_sr
from napari_sr.models import (
    REGISTRY,
    DuplicateModelError,
    ModelSpec,
    UnknownModelError,
    create_model,
    list_models,
)


def test_listing_imports_no_torch():
    code = (
        "import sys, napari_sr; n = napari_sr.list_models(); print(len(n), 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    count, torch_loaded = out.stdout.split()
    assert int(count) >= 8 and torch_loaded == "False"


def test_glob_pattern():
    assert list_models("srcnn*") == ["srcnn", "srcnn_bn"]
    assert napari_sr.list_models is list_models


def test_unknown_name_is_typed_and_suggests():
    with pytest.raises(UnknownModelError, match="unknown model 'SRCNN'.*did you mean srcnn"):
        create_model("SRCNN", scale=2)
    assert issubclass(UnknownModelError, ValueError)


def test_duplicate_name_is_typed():
    list_models()  # fill the registry
    with pytest.raises(DuplicateModelError, match="already registered"):
        REGISTRY.add(ModelSpec("srcnn", "srcnn:SRCNN", "pre", (2,), paper="-"))


def test_misspelt_hyperparameter_fails_loudly():
    with pytest.raises(ValueError, match="no hyperparameter.*featurs.*it takes features"):
        create_model("srcnn", scale=2, featurs=(32, 16))


def test_unsupported_scale():
    with pytest.raises(ValueError, match="supports scales 2, 3, 4, not 5"):
        create_model("fsrcnn", scale=5)


def test_bad_framework():
    with pytest.raises(ValueError, match="framework must be one of"):
        ModelSpec("x", "x:X", "sideways", (2,), paper="-")


def test_hyperparameters_override_defaults():
    pytest.importorskip("torch")
    small = create_model("vdsr", scale=2, depth=5, features=16)
    assert len([m for m in small.modules() if m.__class__.__name__ == "Conv2d"]) == 5
    assert small.spec.name == "vdsr" and small.spec.framework == "pre"


def test_the_registry_fills_itself_on_import_without_torch():
    """Registration needs no call to list_models(): importing the registry registers the
    table of architectures (models/_catalogue.py), and nothing imports torch."""
    code = (
        "import sys; from napari_sr.models.registry import REGISTRY; "
        "from napari_sr.models._catalogue import ARCHITECTURES; "
        "print(len(REGISTRY.names()), len(ARCHITECTURES), 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    registered, table, torch_loaded = out.stdout.split()
    assert int(registered) == int(table) >= 20 and torch_loaded == "False"


def test_a_registry_refuses_a_table_that_names_one_model_twice():
    from napari_sr.models._catalogue import ARCHITECTURES
    from napari_sr.models.spec import Registry

    assert Registry(ARCHITECTURES).names() == REGISTRY.names()
    with pytest.raises(DuplicateModelError, match="'srcnn' is already registered"):
        Registry([*ARCHITECTURES, ARCHITECTURES[0]])
