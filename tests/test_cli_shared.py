"""The shared parts of the command line: options declared once (parent parsers) and the
steps every command takes around the API (check the output, read, show progress)."""

from __future__ import annotations

import argparse
import io as stdio
from collections import defaultdict

import numpy as np
import pytest

from napari_sr import io
from napari_sr.cli import build_parser
from napari_sr.cli._output import ProgressBar, print_over
from napari_sr.cli._parsers import Parser, given, overwrite, parse_hparams, progress
from napari_sr.cli._running import check_output, read_input, showing_progress


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    (commands,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(commands.choices)


def _signature(action: argparse.Action) -> tuple:
    return (
        type(action), tuple(action.option_strings), action.dest, repr(action.default),
        action.type, action.nargs, repr(action.choices), action.const, action.help,
    )  # fmt: skip


def test_an_option_several_commands_share_is_declared_once():
    """Where two commands take an option with the same flags, type, default and help, it
    is one argparse action, inherited from one parent parser, not two declarations."""
    by_signature = defaultdict(dict)
    for name, sub in _subcommands().items():
        for action in sub._actions:
            if action.option_strings and action.dest != "help":
                by_signature[_signature(action)][name] = action
    shared = {sig[1]: commands for sig, commands in by_signature.items() if len(commands) > 1}
    for flags, commands in shared.items():
        assert len({id(action) for action in commands.values()}) == 1, (flags, list(commands))
    assert set(shared[("--overwrite",)]) == {
        "upscale", "degrade", "train", "isotropic", "zssr", "misr", "export", "export-bmz"
    }  # fmt: skip
    assert len(shared[("--progress", "--no-progress")]) == 5


def test_inherit_adds_options_where_it_is_called():
    parser = Parser(prog="demo")
    parser.add_argument("input")
    parser.add_argument("--first")
    parser.inherit(overwrite("the file"), progress())
    parser.add_argument("--last")
    options = [a.option_strings[0] for a in parser._actions if a.option_strings][1:]
    assert options == ["--first", "--overwrite", "--progress", "--last"]
    assert "replace the file if it exists" in parser.format_help()
    args = parser.parse_args(["x", "--no-progress"])
    assert (args.overwrite, args.progress, args.last) == (False, False, None)


def test_given_drops_what_was_left_out_only():
    args = argparse.Namespace(lr=None, steps=0, seed=3, flag=False)
    assert given(args, "lr", "steps", "seed", "flag", hparams=None, noise={"gaussian": 2.0}) == {
        "steps": 0, "seed": 3, "flag": False, "noise": {"gaussian": 2.0}
    }  # fmt: skip


def test_parse_hparams_values_are_json_else_text():
    assert parse_hparams(None) is None
    assert parse_hparams("d=32, act=relu,flag=true,sizes=[3]") == {
        "d": 32, "act": "relu", "flag": True, "sizes": [3]
    }  # fmt: skip
    with pytest.raises(ValueError, match=r"--hparams takes KEY=VALUE pairs .* not 'd'"):
        parse_hparams("d")


def test_check_output_checks_every_file_before_any_work(tmp_path):
    taken = tmp_path / "table.csv"
    taken.write_text("x")
    args = argparse.Namespace(output=str(tmp_path / "out.ome.tif"), overwrite=False,
                              compression=None)  # fmt: skip
    check_output(args, None)  # an optional file not asked for
    with pytest.raises(FileExistsError, match="table.csv' already exists"):
        check_output(args, str(taken))
    args.overwrite = True
    check_output(args, str(taken))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        check_output(argparse.Namespace(overwrite=False), str(tmp_path / "no" / "t.csv"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["table.csv"]  # nothing written


def test_read_input_uses_axes_for_input_and_other_images(tmp_path):
    data = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    first, second = tmp_path / "a.tif", tmp_path / "b.tif"
    io.write(first, data, axes="ZYX")
    io.write(second, data + 1, axes="ZYX")
    args = argparse.Namespace(input=str(first), axes="TYX")
    image = read_input(args)
    assert image.axes == "TYX"
    np.testing.assert_array_equal(image.data, data)
    other = read_input(args, str(second))
    assert other.axes == "TYX"
    np.testing.assert_array_equal(other.data, data + 1)


def test_showing_progress_ends_the_line_when_the_work_fails(monkeypatch):
    stream = stdio.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    with pytest.raises(RuntimeError), showing_progress(argparse.Namespace(progress=True),
                                                         "planes") as bar:  # fmt: skip
        bar(1, 4)
        raise RuntimeError("boom")
    assert stream.getvalue().startswith("\r[") and stream.getvalue().endswith("\n")
    with showing_progress(argparse.Namespace(progress=False), "planes") as bar:
        assert bar is None


def test_print_over_writes_a_log_line_over_the_bar(monkeypatch):
    stream = stdio.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    print_over(None, "step 1")
    bar = ProgressBar(stream, label="steps", width=10)
    bar(1, 2)
    print_over(bar, "step 2")
    lines = stream.getvalue().split("\n")
    assert lines[0] == "step 1"
    assert lines[1].startswith("\r[#####-----] 1/2 steps")
    assert lines[1].endswith("\rstep 2" + " " * 34)  # covers the bar's text


def test_train_flags_are_the_training_recipe_fields():
    """``train``'s options that set a field of the recipe (TrainConfig) carry that field's
    flag and choices, and leave the default to the recipe, so that the two cannot drift."""
    from napari_sr.training.config import describe_options

    train = _subcommands()["train"]
    recipe = describe_options()
    shared = [a for a in train._actions if a.dest in recipe]
    assert len(shared) >= 12
    for action in shared:
        option = recipe[action.dest]
        assert option.flag in action.option_strings, (action.dest, option.flag)
        if option.choices is not None and action.choices is not None:
            assert list(action.choices) == list(option.choices), action.dest
        assert action.default is None  # left out: train() applies the recipe's default
