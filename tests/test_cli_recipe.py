"""The options of train, zssr and isotropic that set a field of their training recipe are
made from its fields: every field a command line can give is a flag, with the field's
type, choices and help, and reaches the API as the field's keyword."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import ClassVar

import pytest

from napari_sr.cli import build_parser
from napari_sr.cli._parsers import Parser
from napari_sr.cli._recipe import add_recipe_options, recipe_values
from napari_sr.selfsup.config import IsotropicConfig, ZSSRConfig
from napari_sr.training.config import TrainConfig, describe_options, option
from test_cli import assert_one_line_error, run

ELSEWHERE = {
    "train": {"architecture": "MODEL", "degradation": "--kernel, --blur, --noise"},
    "zssr": {"architecture": "zssr_net only"},
    "isotropic": {"architecture": "--model"},
}
"""Recipe fields a command gives another way (not as a flag of the field's name)."""
NOT_FROM_A_COMMAND_LINE = {"normalization", "version"}
"""A dict of the API, and the record's layout version."""


def _commands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    (commands,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(commands.choices)


@pytest.mark.parametrize(
    ("command", "recipe"),
    [("train", TrainConfig), ("zssr", ZSSRConfig), ("isotropic", IsotropicConfig)],
)
def test_every_field_is_a_flag_made_from_it(command, recipe):
    actions = {a.dest: a for a in _commands()[command]._actions if a.option_strings}
    options = describe_options(recipe)  # the fields the method reads (FIXED left out)
    elsewhere = set(ELSEWHERE[command]) | NOT_FROM_A_COMMAND_LINE
    assert {n for n in options if n not in actions} == elsewhere
    for name, field_option in options.items():
        if name in elsewhere:
            continue
        action = actions[name]
        assert field_option.flag in action.option_strings
        assert action.default is None  # left out: the API applies the recipe's default
        assert action.help.startswith(field_option.help.rstrip(".").replace("%", "%%"))
        if field_option.choices:
            assert tuple(action.choices) == field_option.choices
        if field_option.default is not None:
            assert "default" in action.help, name
    for name in recipe.FIXED:  # what the method sets itself is no option of it
        assert name not in actions or name == "scale", name


def test_a_new_field_is_a_new_flag():
    """What adding an option to a recipe takes on the command line: nothing."""

    @dataclass(frozen=True, kw_only=True)
    class WithSharpness(TrainConfig):
        """A recipe with one more field.

        Attributes
        ----------
        sharpness : float
            Weight of a sharpness term.
        """

        TASK: ClassVar[str] = "test-sharpness"
        sharpness: float = option(0.0, parse=float)

    parser = Parser(prog="demo")
    names = add_recipe_options(parser, WithSharpness, skip=("degradation",))
    assert "sharpness" in names
    args = parser.parse_args(["--scale", "2", "--steps", "5", "--sharpness", "0.1",
                              "--augment", "none", "--betas", "0.8,0.99"])  # fmt: skip
    values = recipe_values(args, WithSharpness, names)
    assert values == {"scale": 2, "steps": 5, "sharpness": 0.1, "augment": (),
                      "betas": (0.8, 0.99)}  # fmt: skip
    assert WithSharpness(**values).sharpness == 0.1
    assert "Weight of a sharpness term (default 0.0)." in parser.format_help()


def test_recipe_flags_reach_the_api(capsys, tmp_path, monkeypatch):
    pytest.importorskip("torch")
    from napari_sr.selfsup import zssr as zssr_module
    from napari_sr.training import loop

    seen = {}

    def fake(*args, **kwargs):
        seen.update(kwargs)
        raise ValueError("stopped here")

    monkeypatch.setattr(loop, "train", fake)
    code, _, err = run(capsys, "train", "fsrcnn", str(tmp_path), "-s", "2", "--steps", "3",
                       "--out", str(tmp_path / "m.safetensors"), "--augment", "hflip,vflip",
                       "--betas", "0.8,0.99", "--min-lr", "1e-6", "--hparams", "d=8")  # fmt: skip
    assert_one_line_error(code, err, "stopped here")
    assert seen["augment"] == ("hflip", "vflip") and seen["betas"] == (0.8, 0.99)
    assert (seen["scale"], seen["steps"], seen["min_lr"]) == (2, 3, 1e-6)
    assert seen["hparams"] == {"d": 8}
    assert "lr" not in seen and "degradation" not in seen  # the recipe's defaults

    source = tmp_path / "x.tif"
    from napari_sr import io

    io.write(source, __import__("numpy").zeros((20, 20), "uint8"))
    seen.clear()
    monkeypatch.setattr(zssr_module, "zssr", fake)
    code, _, err = run(capsys, "zssr", str(source), str(tmp_path / "o.ome.tif"), "-s", "2",
                       "--no-gradual", "--blur", "1.5", "--steps", "4")  # fmt: skip
    assert_one_line_error(code, err, "stopped here")
    assert (seen["gradual"], seen["blur"], seen["steps"]) == (False, 1.5, 4)
    assert "self_ensemble" not in seen and "kernel" not in seen
    monkeypatch.undo()  # the real zssr: the recipe checks the flags before any work
    code, _, err = run(capsys, "zssr", str(source), str(tmp_path / "o.ome.tif"), "-s", "2",
                       "--betas", "0.9")  # fmt: skip
    assert_one_line_error(code, err, "--betas must be two numbers")
