"""Every code example in the README and the docs runs as written, and the docs build.

The documents are the README, ``sample_data/README.md`` and the user guide ``docs/*.md``.
Each block runs on its own, as a
reader would run it after reading the page to that point: ``python`` blocks are executed,
each in a fresh namespace and a fresh scratch folder that holds the bundled
``sample_data/`` (a reader follows the pages from a clone of the repository), so a block
that reads a file writes it first. ``console`` blocks are sessions: each ``$ napari-sr …``
line is run as the installed command runs and must succeed, in order, in one folder; where
the block shows what it prints, the printed lines (stdout) are compared with the block's,
except the timings (the ``seconds`` column) and anything after a ``...`` line. ``bash``
blocks are install commands and ``text`` blocks are synopses or printed tables; they are
not run.

The site (``mkdocs.yml``: these pages and the API reference generated from the numpydoc
docstrings) must build with ``mkdocs build --strict``: a warning, such as a broken link or
a docstring section that does not parse, fails it. And every module that defines a
registered architecture cites its paper: a numpydoc ``References`` section with a DOI or an
arXiv id.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
GUIDE = sorted((REPO / "docs").glob("*.md"))  # the user guide
DOCUMENTS = [REPO / "README.md", REPO / "sample_data" / "README.md", *GUIDE]
RUN_LANGUAGES = {"python", "console"}
KNOWN_LANGUAGES = RUN_LANGUAGES | {"bash", "text", ""}

_FENCE = re.compile(r"^```(\w*)\s*$")


@dataclass(frozen=True)
class Block:
    document: Path
    line: int  # 1-based line of the opening fence
    language: str
    text: str

    @property
    def id(self) -> str:
        return f"{self.document.relative_to(REPO)}:{self.line}"


def code_blocks(document: Path) -> list[Block]:
    """The fenced code blocks of a Markdown file, in order."""
    blocks, language, start, lines = [], None, 0, []
    for number, line in enumerate(document.read_text(encoding="utf-8").splitlines(), 1):
        match = _FENCE.match(line)
        if language is None:
            if match:
                language, start, lines = match.group(1), number, []
        elif line.strip() == "```":
            blocks.append(Block(document, start, language, "\n".join(lines) + "\n"))
            language = None
        else:
            lines.append(line)
    assert language is None, f"{document.name}: code block at line {start} is not closed"
    return blocks


ALL_BLOCKS = [block for document in DOCUMENTS for block in code_blocks(document)]
RUNNABLE = [block for block in ALL_BLOCKS if block.language in RUN_LANGUAGES]


@pytest.fixture
def scratch(tmp_path, monkeypatch):
    """A folder like a clone's root: ``sample_data/`` is there, nothing else."""
    (tmp_path / "sample_data").symlink_to(REPO / "sample_data", target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_every_block_has_a_known_language():
    odd = [b.id for b in ALL_BLOCKS if b.language not in KNOWN_LANGUAGES]
    assert not odd, f"code blocks of unknown language (use python/console/bash/text): {odd}"


def test_the_readme_has_runnable_examples():
    languages = [b.language for b in RUNNABLE if b.document == REPO / "README.md"]
    assert languages.count("python") >= 1 and languages.count("console") >= 1


def test_the_guide_has_runnable_examples():
    languages = [b.language for b in RUNNABLE if b.document in GUIDE]
    assert languages.count("python") >= 10 and languages.count("console") >= 5


_LINK = re.compile(r"\]\(([^)\s]+)\)")


# read outside the site (GitHub, PyPI): links are paths in the repository
READMES = {
    REPO / "README.md": REPO,
    REPO / "sample_data" / "README.md": REPO / "sample_data",
}


@pytest.mark.parametrize("document", [d for d in READMES if d.exists()], ids=lambda d: d.name)
def test_relative_links_of_the_readmes_lead_somewhere(document):
    """The READMEs are read on GitHub and PyPI, outside the site: their links to the guide
    are paths in the repository (the site's own links are checked by ``mkdocs build``)."""
    broken = []
    for target in _LINK.findall(document.read_text(encoding="utf-8")):
        path = target.split("#")[0]
        if path and not re.match(r"[a-z]+:", path) and not (READMES[document] / path).exists():
            broken.append(target)
    assert not broken, f"{document.name}: links to missing files {broken}"


@pytest.mark.parametrize(
    "document",
    [d for d in READMES if d.exists() and READMES[d] == REPO],
    ids=lambda d: d.name,
)
def test_the_readme_gives_the_test_commands_ci_runs(document):
    """The README's test command is the one ``.ci/run`` runs, and the quick subset is
    there too, each alone on a line of a ``bash`` block."""
    lines = {
        line.strip()
        for block in code_blocks(document)
        if block.language == "bash"
        for line in block.text.splitlines()
    }
    assert "python -m pytest" in lines
    assert 'python -m pytest -m "not slow and not gui"' in lines
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert "python -m pytest" in [line.strip() for line in ci]


def test_every_guide_page_is_in_the_site_navigation():
    config = (REPO / "mkdocs.yml").read_text(encoding="utf-8")
    pages = [p.name for p in GUIDE if not p.name.startswith("_")]
    missing = [name for name in pages if f" {name}" not in config]
    assert not missing, f"docs pages missing from mkdocs.yml's nav: {missing}"


@pytest.mark.slow
@pytest.mark.parametrize(
    "block", [b for b in RUNNABLE if b.language == "python"], ids=lambda b: b.id
)
def test_python_example_runs(block, scratch):
    code = compile(block.text, block.id, "exec")
    exec(code, {"__name__": "__readme__"})


# --- console sessions -------------------------------------------------------------------


def _commands(text: str) -> list[tuple[str, list[str]]]:
    """(command, expected output lines) for each ``$`` line; ``\\`` continues a command."""
    sessions: list[tuple[str, list[str]]] = []
    pending = None
    for line in text.splitlines():
        if pending is not None:
            pending += " " + line.strip()
            if not pending.endswith("\\"):
                sessions.append((pending, []))
                pending = None
            else:
                pending = pending[:-1].rstrip()
        elif line.startswith("$ "):
            command = line[2:].strip()
            if command.endswith("\\"):
                pending = command[:-1].rstrip()
            else:
                sessions.append((command, []))
        else:
            assert sessions, f"output before any command: {line!r}"
            sessions[-1][1].append(line)
    return sessions


def _comparable(lines: list[str]) -> list[str]:
    """The lines with timings masked: the ``seconds`` column of a table, and ``N s``."""
    out, seconds_column = [], None
    for line in lines:
        words = line.split()
        if "seconds" in words:
            seconds_column = words.index("seconds") - len(words)  # from the right
        elif seconds_column is not None and len(words) >= -seconds_column:
            words[seconds_column] = "<seconds>"
            line = " ".join(words)
        else:
            seconds_column = None
        out.append(" ".join(re.sub(r"\b\d+(\.\d+)? s\b", "<seconds> s", line).split()))
    return out


# what the installed ``napari-sr`` script does (run with this interpreter, installed or not)
_ENTRY_POINT = "import sys; from napari_sr.cli import main; sys.argv[0] = 'napari-sr'; "
_ENTRY_POINT += "sys.exit(main())"


def _run(command: str, cwd: Path) -> subprocess.CompletedProcess:
    argv = shlex.split(command)
    assert argv[0] == "napari-sr", f"console examples run napari-sr only, not {argv[0]!r}"
    env = dict(os.environ, COLUMNS="200")
    return subprocess.run(
        [sys.executable, "-c", _ENTRY_POINT, *argv[1:]],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    "block", [b for b in RUNNABLE if b.language == "console"], ids=lambda b: b.id
)
def test_console_example_prints_what_the_readme_shows(block, scratch):
    commands = _commands(block.text)
    trained = _trained_in(command for command, _ in commands)
    for command, expected in commands:
        result = _run(command, scratch)
        assert result.returncode == 0, f"{block.id}: `{command}` failed:\n{result.stderr}"
        if not expected:  # the README shows the command, not what it prints
            continue
        printed = result.stdout.splitlines()
        if "..." in expected:  # the README shows the beginning only
            expected = expected[: expected.index("...")]
            printed = printed[: len(expected)]
        assert _agree(printed, expected, trained), (
            f"{block.id}: `{command}` printed\n{result.stdout}"
        )


def _trained_in(commands) -> set[str]:
    """The model files that ``napari-sr train`` commands of a session write (``--out``)."""
    trained = set()
    for command in commands:
        argv = shlex.split(command)
        if argv[1:2] == ["train"]:
            for flag in ("--out", "-o"):
                if flag in argv[:-1]:
                    trained.add(argv[argv.index(flag) + 1])
    return trained


# Scores of a model the session trained itself depend on the CPU's floating-point kernels
# (oneDNN and ATen pick AVX2 or AVX-512 code, which sum in another order: 500 steps of
# FSRCNN score 44.68, 44.69 or 44.75 dB on three x86 machines), so its row is compared to
# 0.5 %; every other number, and every word, must be as shown.
TRAINED_TOLERANCE = 5e-3


def _agree(printed: list[str], expected: list[str], trained: set[str]) -> bool:
    printed, expected = _comparable(printed), _comparable(expected)
    if len(printed) != len(expected):
        return False
    for got, shown in zip(printed, expected, strict=True):
        if got == shown:
            continue
        got_words, shown_words = got.split(), shown.split()
        if not got_words or got_words[0] not in trained or len(got_words) != len(shown_words):
            return False
        for a, b in zip(got_words, shown_words, strict=True):
            x, y = _number(a), _number(b)
            if x is None or y is None:
                if a != b:
                    return False
            elif a.endswith("*") != b.endswith("*") or abs(x - y) > TRAINED_TOLERANCE * abs(y):
                return False
    return True


def _number(word: str) -> float | None:
    try:
        return float(word.rstrip("*"))
    except ValueError:
        return None


def test_masking_keeps_everything_but_timings():
    table = ["method    PSNR (dB)    SSIM   seconds", "bicubic      30.513  0.7947     0.006"]
    other = ["method    PSNR (dB)    SSIM   seconds", "bicubic      30.513  0.7947     9.999"]
    assert _comparable(table) == _comparable(other)
    changed = ["method    PSNR (dB)    SSIM   seconds", "bicubic      30.514  0.7947     0.006"]
    assert _comparable(table) != _comparable(changed)
    assert _commands("$ a \\\n    b\nout\n$ c\n") == [("a b", ["out"]), ("c", [])]


def test_only_a_model_trained_in_the_session_may_score_a_little_differently():
    shown = [
        "method   PSNR (dB)    SSIM",
        "bicubic     43.562  0.9859",
        "m.safetensors  44.679* 0.9839",
    ]
    near = [
        "method   PSNR (dB)    SSIM",
        "bicubic     43.562  0.9859",
        "m.safetensors  44.749* 0.9837",
    ]
    trained = _trained_in(["napari-sr train fsrcnn hr.tif --scale 2 --out m.safetensors"])
    assert trained == {"m.safetensors"}
    assert _agree(near, shown, trained)
    assert not _agree(near, shown, set())  # a file the session did not train: exact
    far = [*near[:2], "m.safetensors  46.100* 0.9837"]
    assert not _agree(far, shown, trained)
    unmarked = [*near[:2], "m.safetensors  44.749  0.9837"]  # the best mark moved
    assert not _agree(unmarked, shown, trained)
    bicubic_moved = [near[0], "bicubic     43.563  0.9859", near[2]]
    assert not _agree(bicubic_moved, shown, trained)


# --- the site ---------------------------------------------------------------------------


@pytest.mark.slow
def test_the_site_builds_with_warnings_as_errors(tmp_path):
    for package in ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python"):
        if importlib.util.find_spec(package.split(".")[0]) is None or (
            "." in package and importlib.util.find_spec(package) is None
        ):
            pytest.skip(f"{package} is not installed (pip install -e '.[docs]')")
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")  # material's notice, not a problem here
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stderr}"
    for page in ("index.html", "api/index.html", "api/architectures/index.html"):
        assert (tmp_path / page).is_file(), page
    # the references of the docstrings became links
    architectures = (tmp_path / "api" / "architectures" / "index.html").read_text("utf-8")
    assert 'href="https://doi.org/10.1109/TPAMI.2015.2439281"' in architectures


# --- references -------------------------------------------------------------------------

_REFERENCES = re.compile(r"^References\n-{10}\n(.+?)(?=^\S.*\n-{3,}\n|\Z)", re.M | re.S)
_IDENTIFIER = re.compile(r"doi:10\.\d{4,9}/\S+|arXiv:\d{4}\.\d{4,5}")


def _architecture_modules() -> dict[str, list[str]]:
    """Module of ``napari_sr.models`` -> the registered architectures it builds."""
    from napari_sr.models.registry import REGISTRY, list_models

    modules: dict[str, list[str]] = {}
    for name in list_models():
        module = REGISTRY.spec(name).builder.partition(":")[0]
        modules.setdefault(module, []).append(name)
    return modules


def test_every_architecture_module_cites_its_paper():
    """A numpydoc References section, with a DOI or (for papers without one) an arXiv id,
    in the docstring of each module that defines a registered architecture."""
    uncited = []
    for module, names in _architecture_modules().items():
        spec = importlib.util.find_spec(f"napari_sr.models.{module}")
        source = Path(spec.origin).read_text(encoding="utf-8")
        docstring = ast.get_docstring(ast.parse(source)) or ""
        section = _REFERENCES.search(docstring)
        if section is None or not _IDENTIFIER.search(section.group(1)):
            uncited.append(f"{module} ({', '.join(names)})")
    assert not uncited, f"modules without References (doi:/arXiv:) in their docstring: {uncited}"


def test_the_reference_check_sees_a_missing_identifier():
    good = (
        'Net.\n\nReferences\n----------\n.. [1] A. B, "T," CVPR 2016. doi:10.1109/CVPR.2016.90\n'
    )
    bad = good.replace("doi:10.1109/CVPR.2016.90", "(no identifier)")
    for text, cited in ((good, True), (bad, False)):
        section = _REFERENCES.search(text)
        assert bool(section and _IDENTIFIER.search(section.group(1))) is cited
