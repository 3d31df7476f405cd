"""Packaging: cheap lazy import, the public names, the npe2 manifest and the wheel."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import napari_sr
from conftest import REPO

HEAVY = ["torch", "napari", "qtpy", "PyQt5", "PyQt6", "PySide2", "PySide6", "magicgui", "vispy"]


@pytest.mark.parametrize("module", ["napari_sr", "napari_sr.cli"])
def test_import_is_cheap(module):
    """Importing the package, or the command line (``napari-sr --help``), loads no torch,
    napari or Qt: a command imports the API when it runs."""
    code = (
        f"import json, sys, {module}; "
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_public_names_resolve_lazily():
    code = (
        "import sys, napari_sr; "
        "assert 'napari_sr.engine.upscaler' not in sys.modules; "
        "f = napari_sr.upscale; "
        "assert 'napari_sr.engine.upscaler' in sys.modules; "
        "print(f.__module__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "napari_sr.engine.upscaler"


@pytest.mark.parametrize("name", napari_sr.__all__)
def test_every_public_name_exists(name):
    assert getattr(napari_sr, name) is not None


def test_public_functions_are_not_shadowed_by_submodules():
    """Importing a submodule sets it as an attribute of the package; no submodule may have
    a public function's name (``napari_sr.degrade`` was once the module after
    ``napari_sr.evaluation`` was imported)."""
    code = (
        "import importlib, pkgutil, inspect, napari_sr; "
        "[importlib.import_module(m.name) for m in pkgutil.walk_packages(napari_sr.__path__, "
        "'napari_sr.') if '_napari' not in m.name]; "
        "print([n for n in napari_sr._LAZY if inspect.ismodule(getattr(napari_sr, n))])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_unknown_attribute_raises():
    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        napari_sr.nonsense  # noqa: B018


def test_core_never_imports_gui_libraries():
    """Only napari_sr/_napari may import napari, Qt or magicgui (the core/plugin split)."""
    offenders = []
    for path in (REPO / "src" / "napari_sr").rglob("*.py"):
        if "_napari" in path.parts:
            continue
        for line in path.read_text().splitlines():
            words = line.strip().split()
            if words[:1] in (["import"], ["from"]) and len(words) > 1:
                root = words[1].split(".")[0]
                if root in {"napari", "qtpy", "PyQt5", "PyQt6", "PySide2", "PySide6", "magicgui"}:
                    offenders.append(f"{path.name}: {line.strip()}")
    assert offenders == []


def test_npe2_discovers_and_validates_the_manifest():
    npe2 = pytest.importorskip("npe2")
    from npe2 import PluginManager, PluginManifest

    pm = PluginManager()
    pm.discover()
    assert "napari-sr" in pm._manifests
    manifest = pm.get_manifest("napari-sr")
    assert manifest.display_name == "napari-sr"
    # the discovered manifest is the top-level file (through the package's symlink)
    top = PluginManifest.from_file(REPO / "napari.yaml")
    assert top.name == manifest.name
    result = subprocess.run(
        [sys.executable, "-m", "npe2", "validate", "napari-sr"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert npe2  # keeps the importorskip meaningful


@pytest.mark.slow
def test_wheel_contains_manifest_sample_data_and_weights(tmp_path):
    pytest.importorskip("build")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--outdir",
            str(tmp_path),
            str(REPO),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    (wheel,) = tmp_path.glob("napari_sr-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        manifest = zf.read("napari_sr/napari.yaml").decode()
        entry_points = next(n for n in names if n.endswith("entry_points.txt"))
        entry_text = zf.read(entry_points).decode()
    assert manifest == (REPO / "napari.yaml").read_text()  # a real file, not a dangling link
    shipped = {Path(n).name for n in names if n.startswith("napari_sr/sample_data/")}
    expected = {p.name for p in (REPO / "sample_data").iterdir() if p.is_file()}
    assert expected <= shipped
    weights = REPO / "src" / "napari_sr" / "models" / "weights"
    bundled = {f"napari_sr/models/weights/{p.name}" for p in weights.iterdir()}
    assert bundled and bundled <= names  # the weights and their model cards
    # NIQE's pristine model travels with the release's copyright notice
    assert {
        "napari_sr/data/niqe_pristine.npz",
        "napari_sr/data/NIQE_LICENSE.txt",
        "napari_sr/data/lpips_linear.npz",
        "napari_sr/data/LPIPS_LICENSE.txt",
    } <= names
    assert "napari-sr = napari_sr:napari.yaml" in entry_text
    assert "napari-sr = napari_sr.cli:main" in entry_text


def test_all_lists_every_lazy_name():
    assert set(napari_sr._LAZY) | set(napari_sr._SUBMODULES) | {"__version__"} == set(
        napari_sr.__all__
    )
