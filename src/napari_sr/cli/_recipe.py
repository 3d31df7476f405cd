"""Command-line flags made from the fields of a training recipe.

The options of ``train``, ``zssr`` and ``isotropic`` that set a field of their recipe
(:class:`~napari_sr.training.config.TrainConfig` and its subclasses) are not declared
here: :func:`add_recipe_options` makes one flag per field from
:func:`~napari_sr.training.config.describe_options` (the flag from the field's name, the
type and choices from its declaration, the help from its documentation, with the default
the recipe applies), and :func:`recipe_values` turns the flags given back into the
trainer's keyword arguments. A new field of a recipe is a new flag of its command with no
edit here.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

NATIVE = (int, float, str)
"""Field parsers argparse runs itself (its own messages: "invalid int value: '1.5'")."""


def add_recipe_options(
    parser: Any,
    recipe: type,
    *,
    skip: Sequence[str] = (),
    aliases: Mapping[str, Sequence[str]] | None = None,
) -> list[str]:
    """Add a flag for every field of ``recipe`` that a command line can give.

    Parameters
    ----------
    parser : napari_sr.cli._parsers.Parser
        The command's parser; the flags come after its arguments so far, in the order of
        the recipe's fields. A flag that another command's recipe declares alike (type,
        default, help) is that same argparse action.
    recipe : type
        A :class:`~napari_sr.training.config.TrainConfig` class.
    skip : sequence of str
        Fields the command gives another way (an argument of its own).
    aliases : dict, optional
        Short flags by field name, e.g. ``{"scale": ["-s"]}``.

    Returns
    -------
    list of str
        The fields that got a flag (what :func:`recipe_values` reads).
    """
    from ..training.config import describe_options

    names = []
    for name, option in describe_options(recipe).items():
        if option.parse is None or name in skip:
            continue
        help_text = option.help.replace("%", "%%")
        if option.default is not None and "default" not in help_text:
            shown = f" (default {_shown(option.default)})"
            help_text = (
                help_text[:-1] + shown + "." if help_text.endswith(".") else help_text + shown
            )
        flags = (option.flag, *(aliases or {}).get(name, ()))
        kind = option.parse if option.parse in (*NATIVE, bool) else str
        parser.inherit(_flag(flags, kind, option.choices, option.metavar, option.required,
                             help_text))  # fmt: skip
        names.append(name)
    return names


@cache
def _flag(
    flags: tuple[str, ...],
    kind: type,
    choices: tuple[str, ...] | None,
    metavar: str | None,
    required: bool,
    help_text: str,
) -> argparse.ArgumentParser:
    """A parent parser with one recipe flag: commands whose recipes give a field the same
    type, default and help share it (one declaration, as the shared options are)."""
    from ._parsers import parent_parser

    parent = parent_parser()
    if kind is bool:
        parent.add_argument(
            *flags, action=argparse.BooleanOptionalAction, default=None, help=help_text
        )
    else:
        parent.add_argument(
            *flags,
            type=kind,
            choices=choices,
            metavar=metavar,
            default=None,  # left out: the trainer applies the recipe's default
            required=required,
            help=help_text,
        )
    return parent


def recipe_values(args: argparse.Namespace, recipe: type, names: Sequence[str]) -> dict[str, Any]:
    """The keyword arguments of the trainer for the recipe flags given (None: left out, so
    that the recipe keeps its default); text fields are read by their field's parser, and
    a mistake names the flag."""
    from ..training.config import describe_options

    options = describe_options(recipe)
    values = {}
    for name in names:
        value = getattr(args, name, None)
        if value is None:
            continue
        parse = options[name].parse
        if parse not in NATIVE and parse is not bool:
            try:
                value = parse(value)
            except ValueError as err:
                raise ValueError(f"{options[name].flag} {err}") from None
        values[name] = value
    return values


def _shown(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(map(str, value)) or "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)
