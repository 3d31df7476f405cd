"""What every command does around its call of the API: check the output before any work,
run with a progress bar and a stop event that Ctrl-C or SIGTERM sets, and write the result
atomically, saying what was written."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from ._output import progress_bar

EXIT_INTERRUPTED = 130
"""Ctrl-C (SIGINT): 128 + 2, as shells report it."""
EXIT_TERMINATED = 143
"""SIGTERM (``timeout``, schedulers, ``docker stop``): 128 + 15, as shells report it."""


class Signals:
    """Which signal interrupted the command (SIGINT or SIGTERM), for the exit status."""

    received: int | None = None


def interrupted_status(exc: BaseException | None = None) -> int:
    """The exit status of an interrupted command: 143 after SIGTERM, else 130."""
    from ..utils.atomic import Terminated

    terminated = isinstance(exc, Terminated) or Signals.received == signal.SIGTERM
    return EXIT_TERMINATED if terminated else EXIT_INTERRUPTED


@contextmanager
def running(args: argparse.Namespace, label: str | None) -> Iterator[tuple]:
    """A progress bar (when asked, or on a terminal) and a stop event that the first
    Ctrl-C or SIGTERM sets (the work then raises Cancelled at its next check, and train
    saves a checkpoint); a second one interrupts at once."""
    bar = progress_bar(args, label)
    stop = threading.Event()
    previous = {}
    if threading.current_thread() is threading.main_thread():

        def on_interrupt(signum, frame):
            Signals.received = signum
            if stop.is_set():
                raise KeyboardInterrupt
            stop.set()
            print("\nnapari-sr: stopping...", file=sys.stderr, flush=True)

        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, on_interrupt)
    try:
        yield bar, stop
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if bar is not None:
            bar.close()


def compression_option(args: argparse.Namespace) -> dict:
    """``io.write`` keyword for ``--compression``; nothing when not given, so that
    ``io.write`` keeps its own default."""
    return {} if args.compression is None else {"compression": args.compression}


def check_output(args: argparse.Namespace) -> None:
    """Before any work: OUT can be written (name, folder, --overwrite) with the
    compression asked for."""
    from ..io import check_output_path, zstd_available

    check_output_path(args.output, overwrite=args.overwrite)
    if args.compression == "zstd" and not zstd_available():
        raise ValueError(
            "--compression zstd needs the imagecodecs package (pip install imagecodecs); "
            "use --compression zlib instead"
        )


def write_result(args: argparse.Namespace, result, method: str = "") -> int:
    """Write ``result`` to ``args.output`` (atomically, in the format its extension names)
    and say what was written; ``method`` (such as ``' with bicubic'``) is inserted after
    the file name."""
    from ..io import write

    path = write(args.output, result, overwrite=args.overwrite, **compression_option(args))
    print(
        f"wrote {path}{method}: shape {result.shape}, {result.dtype}, axes {result.axes}, "
        f"pixel size {result.describe_pixel_size()}"
    )
    return 0
