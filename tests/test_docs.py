"""Every code example in the README and the docs runs as written.

``python`` blocks are executed, each in a fresh namespace, in a scratch folder that holds
the bundled ``sample_data/`` (a reader follows the README from a clone of the repository).
``console`` blocks are sessions: each ``$ napari-sr …`` line is run with the installed
command and must succeed; where the block shows what it prints, the printed lines are
compared with the block's, except the timings (the ``seconds`` column) and anything after a
``...`` line. ``bash`` blocks are install commands
and ``text`` blocks are synopses or printed tables; they are not run.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCUMENTS = [REPO / "README.md", REPO / "sample_data" / "README.md"]
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
    languages = [b.language for b in RUNNABLE if b.document.name == "README.md"]
    assert languages.count("python") >= 5 and languages.count("console") >= 3


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


def _run(command: str, cwd: Path) -> subprocess.CompletedProcess:
    argv = shlex.split(command)
    assert argv[0] == "napari-sr", f"console examples run napari-sr only, not {argv[0]!r}"
    env = dict(os.environ, COLUMNS="200")
    return subprocess.run(
        [sys.executable, "-m", "napari_sr.cli", *argv[1:]],
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
    for command, expected in _commands(block.text):
        result = _run(command, scratch)
        assert result.returncode == 0, f"{block.id}: `{command}` failed:\n{result.stderr}"
        if not expected:  # the README shows the command, not what it prints
            continue
        printed = result.stdout.splitlines()
        if "..." in expected:  # the README shows the beginning only
            expected = expected[: expected.index("...")]
            printed = printed[: len(expected)]
        assert _comparable(printed) == _comparable(expected), (
            f"{block.id}: `{command}` printed\n{result.stdout}"
        )


def test_masking_keeps_everything_but_timings():
    table = ["method    PSNR (dB)    SSIM   seconds", "bicubic      30.513  0.7947     0.006"]
    other = ["method    PSNR (dB)    SSIM   seconds", "bicubic      30.513  0.7947     9.999"]
    assert _comparable(table) == _comparable(other)
    changed = ["method    PSNR (dB)    SSIM   seconds", "bicubic      30.514  0.7947     0.006"]
    assert _comparable(table) != _comparable(changed)
    assert _commands("$ a \\\n    b\nout\n$ c\n") == [("a b", ["out"]), ("c", [])]
