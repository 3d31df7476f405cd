"""The benchmark and documentation scripts name only napari-sr modules and names that exist.

These scripts run by hand, so a renamed module or function breaks them silently; their
imports, lazy ones inside functions included, are read with ``ast`` and resolved here.
"""

from __future__ import annotations

import ast
import importlib

import pytest

from conftest import REPO

SCRIPTS = sorted((REPO / "benchmarks").glob("*.py")) + sorted((REPO / "docs").glob("*.py"))


def _napari_sr_imports(path):
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] == "napari_sr":
                yield node.lineno, node.module, [alias.name for alias in node.names]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "napari_sr":
                    yield node.lineno, alias.name, []


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_napari_sr_import_resolves(script):
    missing = []
    for line, module, names in _napari_sr_imports(script):
        try:
            imported = importlib.import_module(module)
        except ImportError as err:
            missing.append(f"line {line}: {module} ({err})")
            continue
        for name in names:
            if not hasattr(imported, name):
                try:  # a submodule: from napari_sr import io
                    importlib.import_module(f"{module}.{name}")
                except ImportError:
                    missing.append(f"line {line}: {module}.{name}")
    assert not missing, f"{script.name} imports what napari-sr lacks: {missing}"
