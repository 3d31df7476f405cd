"""The declared dependencies match what the code imports.

A core dependency nothing in the core imports costs every user an install (magicgui and
qtpy once were core dependencies that only the plugin used); an import no dependency
declares breaks on a fresh machine. The imports are read from the source with ``ast``, so
lazy imports inside functions count too.
"""

from __future__ import annotations

import ast
import re
import sys

import pytest

from conftest import REPO

tomllib = pytest.importorskip("tomllib", reason="reading pyproject.toml needs Python 3.11+")

SOURCE = REPO / "src" / "napari_sr"
PLUGIN = SOURCE / "_napari"

# distribution name on PyPI -> the top-level module it installs, where they differ
MODULE_OF = {
    "pillow": "PIL",
    "scikit-image": "skimage",
    "opencv-python-headless": "cv2",
    "pyyaml": "yaml",
    "bioimageio.core": "bioimageio",
    "bioimageio.spec": "bioimageio",
}
# imports guarded by importlib.util.find_spec, whose absence gives an error naming the package
OPTIONAL = {
    "cv2": "io reads 16-bit colour PNG with OpenCV when it is installed",
    "imagecodecs": "zstd compression in TIFF",
    "pydicom": "DICOM series: the [dicom] extra, named by the format table when missing",
    "onnx": "ONNX export and the ONNX Runtime backend: the [onnx] extra, named when missing",
    "onnxruntime": "the CPU backend where faster, used only when installed ([onnx] extra)",
    "bioimageio": "BioImage Model Zoo packages: the [bmz] extra, named when missing",
}


def _project() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def _distribution(requirement: str) -> str:
    """``"napari[pyqt6]>=0.5"`` -> ``"napari"``."""
    return re.match(r"[A-Za-z0-9_.\-]+", requirement).group(0).lower()


def _modules(requirements: list[str]) -> set[str]:
    names = (_distribution(r) for r in requirements)
    return {MODULE_OF.get(name, name.replace("-", "_")) for name in names}


def _third_party_imports(files) -> dict[str, set[str]]:
    """Top-level third-party module -> the files that import it (relative imports skipped)."""
    stdlib = set(sys.stdlib_module_names)
    found: dict[str, set[str]] = {}
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in stdlib and top != "napari_sr":
                    found.setdefault(top, set()).add(str(path.relative_to(REPO)))
    return found


def _core_files():
    return [p for p in SOURCE.rglob("*.py") if PLUGIN not in p.parents]


def _large() -> set[str]:
    """Modules of the [large] extra: the core imports them only inside the lazy and
    distributed paths, after napari_sr.utils.lazy.require names the extra if one is missing."""
    return _modules(_project()["optional-dependencies"]["large"])


def test_every_core_import_is_a_core_dependency():
    declared = _modules(_project()["dependencies"]) | _large()
    undeclared = {
        module: sorted(files)
        for module, files in _third_party_imports(_core_files()).items()
        if module not in declared | set(OPTIONAL)
    }
    assert not undeclared, f"imported by the core but not in [project] dependencies: {undeclared}"


def test_every_core_dependency_is_imported_by_the_core():
    imported = set(_third_party_imports(_core_files()))
    unused = sorted(_modules(_project()["dependencies"]) - imported)
    assert not unused, (
        f"core dependencies nothing in src/napari_sr (outside _napari/) imports: {unused}; "
        "move them to the extra that uses them"
    )


def test_plugin_imports_are_declared_by_the_napari_extra():
    extras = _project()["optional-dependencies"]
    declared = _modules(_project()["dependencies"]) | _modules(extras["all"])
    undeclared = {
        module: sorted(files)
        for module, files in _third_party_imports(PLUGIN.rglob("*.py")).items()
        if module not in declared
    }
    assert not undeclared, f"imported by the plugin but not declared for [all]: {undeclared}"


def test_the_test_extra_installs_the_large_data_extra():
    extras = _project()["optional-dependencies"]
    assert sorted(extras["large"]) == sorted(
        r for r in extras["test"] if _modules([r]) <= _large()
    )


def test_the_test_extra_installs_everything_the_plugin_needs():
    extras = _project()["optional-dependencies"]
    missing = sorted(_modules(extras["all"]) - _modules(extras["test"]))
    assert not missing, f"the plugin's extra [all] has what [test] lacks: {missing}"


def test_the_tests_imports_are_declared():
    extras = _project()["optional-dependencies"]
    declared = _modules(_project()["dependencies"]) | _modules(extras["test"])
    declared |= {"pytestqt", "conftest"}  # pytest-qt installs pytestqt; tests/conftest.py
    # the benchmark scripts that tests import from benchmarks/
    optional = set(OPTIONAL) | {p.stem for p in (REPO / "benchmarks").glob("*.py")}
    test_files = [p for p in (REPO / "tests").rglob("*.py")]
    optional |= {p.stem for p in test_files}  # helper modules beside the tests
    undeclared = {
        module: sorted(files)
        for module, files in _third_party_imports(test_files).items()
        if module not in declared | optional and not module.startswith("test")
    }
    assert not undeclared, f"imported by tests but not in the [test] extra: {undeclared}"
