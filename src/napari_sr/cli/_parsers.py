"""The argument parser of ``napari-sr``, the options its commands share, and their values.

An option that several commands take is declared once, here, as a *parent parser*
(argparse's way of sharing arguments). A command takes it with :meth:`Parser.inherit` at
the place where the option belongs in its help: ``parents=`` would put every shared option
before the command's own ones, and change the order of ``--help`` and of the "required"
errors. A parent whose help names the command's subject (``--overwrite``: replace OUT, or
replace the CSV) takes that wording as an argument; each distinct parent is built once.
"""

from __future__ import annotations

import argparse
from functools import cache
from typing import NoReturn

VERBOSE_HELP = "also print the warnings and log messages of the libraries used (torch, ...)"
NOISE_KEYS = {"poisson": float, "gaussian": float}
"""``--noise`` keys and the type of their values (photons at the peak; sigma, in counts)."""


class UsageError(Exception):
    """A command line that argparse rejects; ``main`` prints it as one line and exits 2."""


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line, like every other error of the CLI, and
    which takes shared options where they belong in its help (:meth:`inherit`)."""

    def error(self, message: str) -> NoReturn:
        # the prefix "napari-sr: error: " is added once, by main()
        raise UsageError(f"{message} (see {self.prog} --help)")

    def inherit(self, *parents: argparse.ArgumentParser) -> None:
        """Add the arguments of ``parents`` here, after those added so far, in order.

        This is what ``ArgumentParser(parents=...)`` does, at a chosen place."""
        for parent in parents:
            self._add_container_actions(parent)
            self._defaults.update(parent._defaults)


def parent_parser() -> Parser:
    """An empty parser to declare shared options on (no ``-h`` of its own)."""
    return Parser(add_help=False)


# --------------------------------------------------------------------- shared options


@cache
def output(help: str | None = None) -> Parser:
    """``OUT``, the image file a command writes (default help: each ending of
    :data:`napari_sr.io.formats.FORMATS` and what it writes)."""
    from ..io.formats import output_help

    parent = parent_parser()
    parent.add_argument("output", metavar="OUT", help=help or output_help())
    return parent


@cache
def scale(help: str, kind: type = float) -> Parser:
    """``--scale``/``-s``, required: the factor of the command (whole for ``kind=int``)."""
    parent = parent_parser()
    parent.add_argument("--scale", "-s", type=kind, required=True, help=help)
    return parent


@cache
def overwrite(what: str = "OUT") -> Parser:
    """``--overwrite``: replace ``what`` (the command's output) if it exists."""
    parent = parent_parser()
    parent.add_argument("--overwrite", action="store_true", help=f"replace {what} if it exists")
    return parent


@cache
def axes(help: str = "axes of IN (default: from the file)") -> Parser:
    """``--axes``: the axes of the input, when its file does not say them."""
    parent = parent_parser()
    parent.add_argument("--axes", default=None, help=help)
    return parent


@cache
def device(help: str = "auto (default), cpu, cuda, mps") -> Parser:
    """``--device``: where a network runs (``auto``: CUDA, then MPS, then CPU)."""
    parent = parent_parser()
    parent.add_argument("--device", default="auto", help=help)
    return parent


@cache
def seed(help: str = "random seed (default 0)") -> Parser:
    """``--seed``: the seed of the random numbers (noise, patches, initial weights)."""
    parent = parent_parser()
    parent.add_argument("--seed", type=int, default=None, help=help)
    return parent


@cache
def hparams(example: str) -> Parser:
    """``--hparams``: an architecture's hyperparameters as ``KEY=VALUE,...`` pairs
    (:func:`parse_hparams`); ``example`` shows some of the command's architecture."""
    parent = parent_parser()
    parent.add_argument(
        "--hparams",
        default=None,
        metavar="KEY=VALUE,...",
        help=f"architecture hyperparameters, e.g. {example}",
    )
    return parent


@cache
def progress() -> Parser:
    """``--[no-]progress``: a progress bar on stderr (default: when stderr is a terminal)."""
    parent = parent_parser()
    parent.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="draw a progress bar on stderr (default: when stderr is a terminal)",
    )
    return parent


@cache
def compression() -> Parser:
    """``--compression``, for every command that writes an image."""
    from ..io import COMPRESSIONS, DEFAULT_COMPRESSION

    parent = parent_parser()
    parent.add_argument(
        "--compression",
        choices=COMPRESSIONS,
        default=None,
        help=f"lossless compression of a TIFF OUT (default {DEFAULT_COMPRESSION}; zstd is "
        "smaller and faster but needs the imagecodecs package; PNG is always compressed)",
    )
    return parent


@cache
def large() -> Parser:
    """Options of commands that write OME-Zarr block by block (data larger than memory)."""
    parent = parent_parser()
    group = parent.add_argument_group(
        "data larger than memory (OUT ending in .ome.zarr; needs napari-sr[large])"
    )
    where = group.add_mutually_exclusive_group()
    where.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="run on a local dask cluster of N worker processes (default: threads of this "
        "process)",
    )
    where.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="run on a running dask scheduler: tcp://host:8786, or a scheduler file (.json)",
    )
    group.add_argument(
        "--resume",
        action="store_true",
        help="finish an interrupted run of the same command (OUT.partial); only the blocks "
        "not yet written are computed",
    )
    group.add_argument(
        "--chunks",
        default=None,
        metavar="SPEC",
        help="chunks of OUT: one edge for Y and X (512), or per axis (Z=8,Y=512,X=512); "
        "default one plane per chunk, 1024 x 1024",
    )
    group.add_argument(
        "--levels",
        type=int,
        default=1,
        metavar="N",
        help="resolution levels of OUT (default 1; more add a pyramid for fast viewing)",
    )
    return parent


def parse_chunks(text: str | None) -> int | dict[str, int] | None:
    """``--chunks``: ``512`` (Y and X) or ``Z=8,Y=512,X=512``."""
    if text is None:
        return None
    text = text.strip()
    if text.isdigit():
        return int(text)
    try:
        pairs = [item.split("=", 1) for item in text.split(",") if item.strip()]
        return {key.strip().upper(): int(value) for key, value in pairs}
    except ValueError:
        raise ValueError(
            f"--chunks {text!r} must be one number (Y and X) or AXIS=SIZE pairs, e.g. "
            "--chunks Z=8,Y=512,X=512"
        ) from None


@cache
def verbose() -> Parser:
    """``--verbose`` after a command (``napari-sr info F --verbose``); left out of the
    namespace when not given, so that ``napari-sr --verbose info F`` keeps its value."""
    parent = parent_parser()
    parent.add_argument(
        "--verbose", action="store_true", default=argparse.SUPPRESS, help=VERBOSE_HELP
    )
    return parent


@cache
def blur() -> Parser:
    """``--blur``: a Gaussian blur of the degradation model, sigma in HR pixels."""
    parent = parent_parser()
    parent.add_argument("--blur", type=float, default=None, help="Gaussian sigma, HR pixels")
    return parent


@cache
def noise() -> Parser:
    """``--noise``: the noise of the degradation model (:data:`NOISE_KEYS`)."""
    parent = parent_parser()
    parent.add_argument(
        "--noise",
        default=None,
        metavar="KEY=VALUE,...",
        help="e.g. poisson=100 (peak photons), gaussian=2 (sigma), or both",
    )
    return parent


# --------------------------------------------------------------------- option values


def given(args: argparse.Namespace, *names: str, **values) -> dict:
    """The API keywords the user gave: ``names`` read from ``args`` (the option's dest is
    the keyword), and ``values`` already parsed; those left out (None) are dropped, so
    that the API keeps its own defaults."""
    options = {name: getattr(args, name) for name in names} | values
    return {keyword: value for keyword, value in options.items() if value is not None}


def parse_key_values(text: str | None, option: str, allowed: dict[str, type]) -> dict | None:
    """Parse ``a=1,b=x`` into a dict, converting each value to the type ``allowed`` gives.

    None when the option was not given (``text`` None)."""
    if text is None:
        return None
    result = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        key = key.strip().lower()
        if not sep or key not in allowed:
            raise ValueError(
                f"{option} takes KEY=VALUE pairs with keys {', '.join(allowed)}, not {item!r}"
            )
        try:
            result[key] = allowed[key](value.strip())
        except ValueError:
            kind = "a number" if allowed[key] in (int, float) else "text"
            raise ValueError(
                f"{option}: {key}={value.strip()} is not a valid value; {key} takes {kind}"
            ) from None
    return result


def parse_noise(text: str | None) -> dict | None:
    """The ``--noise`` value as the ``noise`` argument of the API (None when not given)."""
    return parse_key_values(text, "--noise", NOISE_KEYS)


def parse_hparams(text: str | None) -> dict | None:
    """Parse ``d=32,s=5`` into a dict; values are JSON numbers, booleans or lists, else
    text. None when ``--hparams`` was not given."""
    if text is None:
        return None
    from ..training.config import parse_key_values as parse_pairs

    try:
        return parse_pairs(text)
    except ValueError as err:
        raise ValueError(f"--hparams {err}") from None
