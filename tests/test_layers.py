"""The import contracts of ``.importlinter`` hold.

The core never imports napari, Qt, magicgui or vispy; the layers (command line and
plugin, services, training, engine, models, array functions, utils) import downward only,
lazy imports inside functions included; the command line's entry point, commands and
shared helpers form layers of their own; no package has an import cycle between its
modules. Each contract runs as ``lint-imports --contract ID``; a broken one fails this test
with import-linter's report, which names every violating chain
(``napari_sr.models.checkpoint -> napari_sr.engine.device (l.222)``).
"""

from __future__ import annotations

import configparser
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

CONFIG = REPO / ".importlinter"
PACKAGE = REPO / "src" / "napari_sr"
_PREFIX = "importlinter:contract:"


def _config() -> configparser.ConfigParser:
    config = configparser.ConfigParser()
    assert config.read(CONFIG), f"{CONFIG} is missing"
    return config


CONTRACTS = [name.removeprefix(_PREFIX) for name in _config() if name.startswith(_PREFIX)]


def lint_imports(config: Path, contract: str) -> subprocess.CompletedProcess:
    """``lint-imports CONFIG --contract CONTRACT``, with this interpreter (no cache files
    are written to the repository)."""
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "from importlinter.cli import lint_imports_command; lint_imports_command()",
            str(config),
            "--contract",
            contract,
            "--no-cache",
            "--no-logo",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=dict(os.environ, COLUMNS="200"),  # one line per contract and chain
        timeout=300,
    )


def test_every_contract_is_found():
    assert {"gui", "layers", "cli", "acyclic"} <= set(CONTRACTS)


@pytest.mark.parametrize("contract", CONTRACTS)
def test_contract_is_kept(contract):
    result = lint_imports(CONFIG, contract)
    report = result.stdout.partition("Broken contracts")[2] or result.stdout
    assert result.returncode == 0, f"contract {contract!r} broken:\n{report}{result.stderr}"


def test_a_broken_contract_fails_with_the_import_chain(tmp_path):
    """The harness sees violations: ``_main`` imports ``_output``, so a contract that puts
    ``_output`` above ``_main`` is broken, and the report names that import."""
    config = tmp_path / "upside_down.ini"
    config.write_text(
        "[importlinter]\nroot_package = napari_sr\n\n"
        f"[{_PREFIX}upside_down]\nname = upside down\ntype = layers\n"
        "containers = napari_sr.cli\nlayers =\n    _output\n    _main\n"
    )
    result = lint_imports(config, "upside_down")
    assert result.returncode == 1
    assert "napari_sr.cli._main -> napari_sr.cli._output (l." in result.stdout


def test_the_gui_contract_covers_the_whole_core():
    """Every module and package of napari_sr but _napari is a source of the ``gui``
    contract, and every one is in a layer (``exhaustive`` checks that for ``layers``)."""
    config = _config()
    sources = set(config[f"{_PREFIX}gui"]["source_modules"].split())
    core = {
        f"napari_sr.{path.stem}"
        for path in PACKAGE.iterdir()
        if (path.suffix == ".py" and path.stem != "__init__")
        or (path.is_dir() and (path / "__init__.py").exists())
    } - {"napari_sr._napari"}
    assert sources == core
    assert config[f"{_PREFIX}layers"]["exhaustive"].strip().lower() == "true"


def test_ignored_imports_name_their_owner():
    """A known violation is an ``ignore_imports`` entry under a ``# TODO(issue N): OWNER``
    comment, so that the list is a to-do list, not a silent exception."""
    lines = CONFIG.read_text().splitlines()
    ignoring = False
    todo = False
    for line in lines:
        stripped = line.strip()
        if not line.startswith((" ", "\t")):
            ignoring = stripped.startswith("ignore_imports")
            todo = False
        elif ignoring and stripped.startswith("#"):
            todo = todo or stripped.startswith("# TODO(issue ")
        elif ignoring and stripped:
            assert todo, f"{stripped!r} is ignored without a '# TODO(issue N): OWNER' line"
