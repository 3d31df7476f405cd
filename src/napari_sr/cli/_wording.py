"""Messages of the Python API in the words of the command line: ``axes='TYX'`` becomes
``--axes TYX``, ``patch_size`` ``--patch-size``, for the options of the command that ran."""

from __future__ import annotations

import argparse
import re
import shlex

from ._output import without_prefix

_KEYWORD_ALIASES = {"train": {"checkpoint": "out"}, "compare": {"method": "methods"}}
"""API keywords whose command-line option has another name, per command."""

_ASSIGNMENT = re.compile(
    r"(?<![\w.\-/'\"])([a-z][a-z0-9_]*)=('[^']*'|\"[^\"]*\"|[^\s,;)\]}]*)(?![\w(])"
)
_PASS_NAME = re.compile(r"\b(pass|give|set) ([a-z][a-z0-9_]*)\b(?![=\w(.\-])")
_SUBJECT = re.compile(r"(?:^|(?<=; ))([a-z][a-z0-9_]*)(?= (?:must|needs|takes) )")
_OR_KEYWORD = re.compile(r",? or ([a-z][a-z0-9_]*)=[^\s,;)]*")
_SNAKE_NAME = re.compile(r"(?<![\w.\-/'\"])([a-z][a-z0-9]*(?:_[a-z0-9]+)+)(?![\w(\-/'\"]|\.\w)")
_TWICE = re.compile(r"(?P<flag>--[\w-]+(?: [^\s,;()]+)?)(?:, | or )(?P=flag)(?![\w-])")
_AUTOMATIC = re.compile(r"\b(?:be|use) None \(automatic\)")
_REPEATED_FLAG = re.compile(r"(?P<flag>--[\w-]+)(?P<value>(?: [^\s()]+)?) \((?P=flag)[^()]*\)")


def _options_of(parser: argparse.ArgumentParser | None, command: str | None) -> dict:
    """``{keyword: action}`` for the long options of ``parser`` (API keyword = dest)."""
    if parser is None:
        return {}
    table = {
        action.dest: action
        for action in parser._actions
        if any(o.startswith("--") for o in action.option_strings) and action.dest != "help"
    }
    for keyword, dest in _KEYWORD_ALIASES.get(command or "", {}).items():
        if dest in table:
            table.setdefault(keyword, table[dest])
    return table


def _long_option(action: argparse.Action) -> str:
    return next(o for o in action.option_strings if o.startswith("--"))


def _flag(action: argparse.Action, value: str | None) -> str | None:
    """The command-line form of ``keyword=value`` for ``action``; None to leave it."""
    longs = [o for o in action.option_strings if o.startswith("--")]
    negative = [o for o in longs if o.startswith("--no-")]
    positive = [o for o in longs if not o.startswith("--no-")]
    if value is None or value == "":
        return longs[0]
    if value[0] in "{[":
        return None  # a Python literal: no command-line form to offer
    if value == "None":
        return f"no {longs[0]}"
    if action.nargs == 0:  # a switch: --overwrite, --no-gradual, --[no-]progress
        if isinstance(action, argparse.BooleanOptionalAction):
            return positive[0] if value == "True" else negative[0] if negative else None
        wanted = action.const if action.const is not None else True
        if value == str(wanted):
            return longs[0]
        return f"without {longs[0]}"
    if value[0] in "'\"" and value[-1] == value[0] and len(value) >= 2:
        value = value[1:-1]
    return f"{longs[0]} {shlex.quote(value) if value else ''}".rstrip()


def _in_calls(message: str) -> list[bool]:
    """For each character: whether it lies between the parentheses of a call such as
    ``napari_sr.misr(frames, scale, method='learned')`` (Python code, left as it is)."""
    inside, stack = [], []
    for i, char in enumerate(message):
        if char == "(":
            stack.append(i > 0 and (message[i - 1].isalnum() or message[i - 1] == "_"))
        inside.append(any(stack))
        if char == ")" and stack:
            stack.pop()
    return inside


def cli_wording(
    message: str, parser: argparse.ArgumentParser | None, command: str | None = None
) -> str:
    """Reword a message of the Python API for the command line: ``axes='TYX'`` becomes
    ``--axes TYX``, ``overwrite=True`` ``--overwrite``, ``patch_size`` ``--patch-size``,
    for the options of ``parser`` (the subcommand that ran); Python calls quoted in the
    message, and keywords without an option, are left as they are."""
    options = _options_of(parser, command)
    if not options:
        return message

    def substitute(pattern: re.Pattern, text: str, replace) -> str:
        calls = _in_calls(text)
        out, last = [], 0
        for match in pattern.finditer(text):
            if calls[match.start()]:
                continue
            new = replace(match)
            if new is None:
                continue
            out += [text[last : match.start()], new]
            last = match.end()
        return "".join([*out, text[last:]])

    def assignment(match: re.Match) -> str | None:
        action = options.get(match.group(1))
        return None if action is None else _flag(action, match.group(2))

    def passed(match: re.Match) -> str | None:
        action = options.get(match.group(2))
        if action is None:
            return None
        return f"{match.group(1)} {_long_option(action)}"

    def name(match: re.Match) -> str | None:
        action = options.get(match.group(1))
        return None if action is None else _flag(action, None)

    def alternative(match: re.Match) -> str | None:  # "or frame_axis=": no such option
        return "" if match.group(1) not in options else None

    text = substitute(_OR_KEYWORD, message, alternative)
    text = substitute(_ASSIGNMENT, text, assignment)
    text = substitute(_PASS_NAME, text, passed)
    text = substitute(_SUBJECT, text, name)
    text = substitute(_SNAKE_NAME, text, name)
    if text != message:  # an option's None is the option left out
        text = _AUTOMATIC.sub("be left out (automatic)", text)
    text = _REPEATED_FLAG.sub(r"\g<flag>\g<value>", text)
    return _TWICE.sub(r"\g<flag>", text)  # "init='x', --init x" said it twice


def for_the_command_line(message: object, parser: argparse.ArgumentParser | None, args) -> str:
    """One line of ``message`` in the command line's words (see :func:`cli_wording`)."""
    command = getattr(args, "command", None)
    text = without_prefix(message)  # main() adds the one prefix
    if not text and isinstance(message, BaseException):
        text = type(message).__name__
    return cli_wording(text, _subparser(parser, command), command)


def _subparser(parser: argparse.ArgumentParser | None, command: str | None):
    for action in [] if parser is None else parser._actions:
        if isinstance(action, argparse._SubParsersAction) and command in action.choices:
            return action.choices[command]
    return None
