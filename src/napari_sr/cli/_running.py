"""What the commands do around their call of the API, one helper per step: check every
file they will write before any work (:func:`check_output`), read the input
(:func:`read_input`), show progress (:func:`showing_progress`, or :func:`running` for
long work that the first Ctrl-C stops at its next step), and write the result atomically,
saying what was written (:func:`write_result`)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from ._output import ProgressBar, progress_bar

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
def showing_progress(args: argparse.Namespace, label: str | None) -> Iterator[ProgressBar | None]:
    """A progress bar on stderr (when ``--progress`` asks for one, or on a terminal; else
    None), ended with a new line however the work ends. Ctrl-C interrupts at once: for
    work of seconds, where stopping at the next step gains nothing."""
    bar = progress_bar(args, label)
    try:
        yield bar
    finally:
        if bar is not None:
            bar.close()


@contextmanager
def running(args: argparse.Namespace, label: str | None) -> Iterator[tuple]:
    """A progress bar (as :func:`showing_progress`) and a stop event that the first
    Ctrl-C or SIGTERM sets (the work then raises Cancelled at its next check, and train
    saves a checkpoint); a second one interrupts at once."""
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
        with showing_progress(args, label) as bar:
            yield bar, stop
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def compression_option(args: argparse.Namespace) -> dict:
    """``io.write`` keyword for ``--compression``; nothing when not given, so that
    ``io.write`` keeps its own default."""
    return {} if args.compression is None else {"compression": args.compression}


def check_output(args: argparse.Namespace, *also: str | None) -> None:
    """Before any work: OUT, where the command has one, can be written (name, folder,
    --overwrite) with the compression asked for, and so can the other files it will write
    (``also``: such as ``--csv`` or ``--save-model``; None where not asked for)."""
    from ..io import check_output_path, zstd_available
    from ..utils.atomic import check_target

    if getattr(args, "output", None) is not None:
        # --resume may find OUT finished by the same run; the work says if it is another
        resuming = bool(getattr(args, "resume", False))
        check_output_path(args.output, overwrite=args.overwrite or resuming)
    if getattr(args, "compression", None) == "zstd" and not zstd_available():
        raise ValueError(
            "--compression zstd needs the imagecodecs package (pip install imagecodecs); "
            "use --compression zlib instead"
        )
    for path in also:
        if path:
            check_target(path, overwrite=args.overwrite)


def blockwise_options(args: argparse.Namespace) -> dict | None:
    """The keywords that make ``upscale`` (or ``isotropic``) write OUT block by block, when
    OUT is an OME-Zarr store; None for other outputs, where the large-data options
    (``--workers``, ``--scheduler``, ``--resume``, ``--chunks``, ``--levels``) are refused."""
    from ..io import output_format
    from ._parsers import parse_chunks

    asked = [
        option
        for option, on in (
            ("--workers", args.workers is not None),
            ("--scheduler", args.scheduler is not None),
            ("--resume", args.resume),
            ("--chunks", args.chunks is not None),
            ("--levels", args.levels != 1),
        )
        if on
    ]
    if output_format(args.output) != "OME-Zarr":
        if asked:
            raise ValueError(
                f"{', '.join(asked)} only work when OUT is an OME-Zarr store, written block by "
                f"block; name it so, e.g. {_as_zarr(args.output)}"
            )
        return None
    return {"out": args.output, "overwrite": args.overwrite, "resume": args.resume,
            "workers": args.workers, "scheduler": args.scheduler,
            "chunks": parse_chunks(args.chunks), "levels": args.levels}  # fmt: skip


def _as_zarr(name: str) -> str:
    from ..io.formats import strip_extension

    return strip_extension(str(name)) + ".ome.zarr"


def check_result_fits(args: argparse.Namespace, shape, dtype) -> None:
    """Before the work: a result that is written whole (TIFF, PNG) must fit in memory;
    the message says to write OME-Zarr, block by block, instead."""
    from ..utils.memory import check_fits

    try:
        check_fits(shape, dtype, what="result")
    except ValueError as exc:
        raise ValueError(
            f"{exc}; write it block by block instead, as OME-Zarr: {_as_zarr(args.output)}"
        ) from None


def resume_hint(exc: BaseException, output: str) -> BaseException:
    """``exc`` (an interruption of a block-by-block run) with the line main prints: the
    finished blocks are kept for ``--resume``."""
    exc.napari_sr_note = (  # type: ignore[attr-defined]
        f"interrupted; the blocks written so far are kept in {output}.partial - run the same "
        "command with --resume to finish it"
    )
    return exc


def read_input(args: argparse.Namespace, path: str | None = None):
    """The image IN (or ``path``, another image of the command such as ``--reference``),
    with the axes ``--axes`` gives where the file does not say them."""
    from ..io import read

    return read(args.input if path is None else path, axes=args.axes)


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
