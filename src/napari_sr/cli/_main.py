"""The entry point of ``napari-sr``: builds the parser from the command modules, runs the
command, and turns whatever happens into an exit status and at most one line of error."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from .._version import __version__
from . import _export, _inspect, _multiframe, _selfsup, _single_image, _train
from ._output import collecting_notices, one_line
from ._parsers import VERBOSE_HELP, Parser, UsageError, verbose
from ._running import Signals, interrupted_status
from ._wording import for_the_command_line

EXIT_USAGE = 2
DEBUG_ENV = "NAPARI_SR_DEBUG"
"""Set to 1 to get the traceback of an unexpected error instead of one line."""

COMMAND_MODULES = (_single_image, _inspect, _train, _selfsup, _multiframe, _export)
"""The modules whose ``add_parsers`` add the subcommands, in the order ``--help`` lists them."""


def build_parser() -> argparse.ArgumentParser:
    """The ``napari-sr`` parser with every subcommand; each sets ``run``, its function."""
    parser = Parser(
        prog="napari-sr",
        description="Super-resolve microscopy and medical images and stacks.",
    )
    parser.add_argument("--version", action="version", version=f"napari-sr {__version__}")
    parser.add_argument("--verbose", action="store_true", help=VERBOSE_HELP)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    commands.required = True
    for module in COMMAND_MODULES:
        module.add_parsers(commands)
    for sub in commands.choices.values():  # also after the command: napari-sr info F --verbose
        sub.inherit(verbose())
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``napari-sr`` command; returns the exit status.

    Whatever happens, stderr gets one line for an error (exit 2) or an interruption
    (exit 130 for Ctrl-C, 143 for SIGTERM); warnings that matter to the user are printed
    after a successful command.
    """
    from ..utils.atomic import terminate_as_interrupt
    from ..utils.progress import Cancelled

    Signals.received = None
    parser, args, status, error = None, None, EXIT_USAGE, None
    with terminate_as_interrupt(), collecting_notices() as notices:
        try:
            parser = build_parser()  # imports that may warn happen here, inside
            args = parser.parse_args(argv)
            status = args.run(args)
        except UsageError as exc:  # argparse's own words are already the command line's
            error = f"napari-sr: error: {one_line(exc)}"
        except (ValueError, TypeError, OSError, ImportError, MemoryError, OverflowError) as exc:
            error = f"napari-sr: error: {for_the_command_line(exc, parser, args)}"
        except (KeyboardInterrupt, Cancelled) as exc:  # Ctrl-C, or SIGTERM (Terminated)
            note = getattr(exc, "napari_sr_note", "interrupted; nothing was written")
            error = f"napari-sr: {note}"
            status = interrupted_status(exc)
        except Exception as exc:  # a last resort: hostile input that no check caught yet
            if _debugging():
                raise
            error = (
                f"napari-sr: error: unexpected {type(exc).__name__}: "
                f"{for_the_command_line(exc, parser, args)} (a bug, or input napari-sr does "
                f"not check yet; {DEBUG_ENV}=1 shows the traceback)"
            )
    verbose_ = bool(getattr(args, "verbose", False))
    if error is None or verbose_:
        for line in notices.lines(verbose=verbose_):
            print(f"napari-sr: warning: {for_the_command_line(line, parser, args)}",
                  file=sys.stderr)  # fmt: skip
    if error is not None:
        print(error, file=sys.stderr, flush=True)
    return status


def _debugging() -> bool:
    return os.environ.get(DEBUG_ENV, "").strip() not in ("", "0")
