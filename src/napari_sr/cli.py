"""The ``napari-sr`` command: parses arguments, calls the API, prints.

Bad input never shows a traceback: it prints one line, ``napari-sr: error: ...``, on
stderr and exits with status 2; messages of the API are reworded for the command line
(``axes='TYX'`` becomes ``--axes TYX``). An unexpected error is one line too, and exit 2;
``NAPARI_SR_DEBUG=1`` shows its traceback. Ctrl-C exits with 130 and SIGTERM (``timeout``,
Slurm, ``docker stop``) with 143, after one line, ``napari-sr: interrupted; nothing was
written``, and leave no output file (``train`` first saves a checkpoint to resume from).
Our own warnings (such as the bicubic fallback) are printed after a successful command as
``napari-sr: warning: ...`` lines; libraries' warnings and log messages only with
``--verbose``. The self-supervised commands (``isotropic``, ``zssr``) live in
:mod:`napari_sr._cli_selfsup`, ``misr`` in :mod:`napari_sr._cli_multiframe`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import os
import re
import shlex
import signal
import sys
import textwrap
import threading
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import NoReturn, TextIO

from ._version import __version__

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
"""Ctrl-C (SIGINT): 128 + 2, as shells report it."""
EXIT_TERMINATED = 143
"""SIGTERM (``timeout``, schedulers, ``docker stop``): 128 + 15, as shells report it."""
DEBUG_ENV = "NAPARI_SR_DEBUG"
"""Set to 1 to get the traceback of an unexpected error instead of one line."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line, like every other error of the CLI."""

    def error(self, message: str) -> NoReturn:
        # the prefix "napari-sr: error: " is added once, by main()
        raise _UsageError(f"{message} (see {self.prog} --help)")


class _UsageError(Exception):
    pass


class _Signals:
    """Which signal interrupted the command (SIGINT or SIGTERM), for the exit status."""

    received: int | None = None


def _interrupted_status(exc: BaseException | None = None) -> int:
    from .utils.atomic import Terminated

    terminated = isinstance(exc, Terminated) or _Signals.received == signal.SIGTERM
    return EXIT_TERMINATED if terminated else EXIT_INTERRUPTED


def _format_seconds(seconds: float) -> str:
    """``42 s``, ``3 min 05 s``, ``2 h 07 min``."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class ProgressBar:
    """A one-line text progress bar on a stream, with the time elapsed and left.

    ``[#####-----] 16/32 planes, 4.1 planes/s, 3.9 s elapsed, about 3.9 s left``; without
    a unit (work of several kinds, such as training steps then planes):
    ``[#####-----] 50%, 3.9 s elapsed, about 3.9 s left``.

    Parameters
    ----------
    stream : text stream
        Where to draw (stderr in the CLI).
    label : str or None
        What ``done`` and ``total`` count (``'planes'``, ``'tiles'``, ``'steps'``), or None
        when they count mixed units: then only the percentage is shown.
    width : int
        Characters in the bar.
    """

    def __init__(self, stream: TextIO, label: str | None = "planes", width: int = 30) -> None:
        self.stream, self.label, self.width = stream, label, width
        self.started = time.perf_counter()
        self._drawn = False
        self._last = -float("inf")
        self._done = 0
        self._width = 0
        self.min_interval = 0.1

    def __call__(self, done: int, total: int) -> None:
        now = time.perf_counter()
        total = max(int(total), 1)
        done = min(max(int(done), self._done, 0), total)  # never backwards, never past 100 %
        if done < total and now - self._last < self.min_interval:
            return  # redraw at most ~10 times a second
        self._last, self._done = now, done
        text = self.render(done, total, now - self.started)
        self._drawn = True  # first: a signal may interrupt the write, close() must end the line
        # spaces over the end of a longer previous line (no terminal codes: logs stay clean)
        self.stream.write(f"\r{text.ljust(self._width)}")
        self._width = len(text)
        self.stream.flush()

    def render(self, done: int, total: int, seconds: float) -> str:
        """The bar's text after ``seconds`` with ``done`` of ``total`` units done."""
        filled = self.width * done // total
        bar = "#" * filled + "-" * (self.width - filled)
        if self.label is None:
            parts = [f"[{bar}] {100 * done // total}%"]
        else:
            parts = [f"[{bar}] {done}/{total} {self.label}"]
            if done and seconds > 0:
                parts.append(f"{done / seconds:.3g} {self.label}/s")
        parts.append(f"{_format_seconds(seconds)} elapsed")
        if 0 < done < total:
            parts.append(f"about {_format_seconds(seconds * (total - done) / done)} left")
        return ", ".join(parts)

    def close(self) -> None:
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()


def progress_bar(args: argparse.Namespace, label: str | None) -> ProgressBar | None:
    """A bar on stderr when ``--progress`` asks for one, or by default on a terminal."""
    show = sys.stderr.isatty() if args.progress is None else args.progress
    return ProgressBar(sys.stderr, label=label) if show else None


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
            _Signals.received = signum
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


# ----------------------------------------------------------------------------- warnings


class _Notices(logging.Handler):
    """What a command says besides its result: our own warnings, shown after a success as
    ``napari-sr: warning: ...``; libraries' warnings and log records, shown with
    ``--verbose`` only (torch, Pillow, numpy and tifffile speak to developers)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.ours: list[str] = []
        self.others: list[str] = []

    def showwarning(self, message, category, filename, lineno, file=None, line=None) -> None:
        text = _one_line(message)
        if issubclass(category, UserWarning) and _issued_by_us():
            self.ours.append(text)
        else:
            where = os.path.basename(str(filename))
            self.others.append(f"{category.__name__} ({where}:{lineno}): {text}")

    def emit(self, record: logging.LogRecord) -> None:
        self.others.append(f"{record.name}: {_one_line(record.getMessage())}")

    def lines(self, *, verbose: bool) -> list[str]:
        lines = list(dict.fromkeys(self.ours))  # a warning repeated per plane: say it once
        if verbose:
            lines += [f"(library) {text}" for text in dict.fromkeys(self.others)]
        return lines


def _issued_by_us() -> bool:
    """Whether the code that called ``warnings.warn`` is napari-sr's own.

    The first frame outside the warnings machinery is the one that called ``warn`` (a
    warning raised in C, by numpy or torch, has no frame of its own: it shows up in our
    frame, so that frame must also be one that calls a ``warn``)."""
    frame = sys._getframe(2)
    while frame is not None and frame.f_globals.get("__name__") in ("warnings", __name__):
        frame = frame.f_back
    if frame is None:
        return False
    module = str(frame.f_globals.get("__name__", ""))
    return module.split(".")[0] == "napari_sr" and "warn" in frame.f_code.co_names


@contextmanager
def _collecting_notices() -> Iterator[_Notices]:
    """Catch every warning and library log record during a command (none reach stderr
    on their own: an error stays one line)."""
    notices = _Notices()
    root = logging.getLogger()
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = notices.showwarning
        root.addHandler(notices)  # a root handler also keeps logging's last resort quiet
        try:
            yield notices
        finally:
            root.removeHandler(notices)


# ----------------------------------------------------------------------------- wording

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


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="napari-sr",
        description="Super-resolve microscopy and medical images and stacks.",
    )
    parser.add_argument("--version", action="version", version=f"napari-sr {__version__}")
    parser.add_argument("--verbose", action="store_true", help=_VERBOSE_HELP)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    up = commands.add_parser(
        "upscale",
        help="super-resolve an image or stack and save it",
        description="Super-resolve the Y and X axes of every plane of IN by SCALE and write "
        "OUT, with pixel sizes divided by SCALE. Without --method, the bundled quality "
        "model runs where one exists for SCALE, else bicubic (with a warning); the 'wrote' "
        "line names the method that ran.",
    )
    up.add_argument("input", metavar="IN", help="TIFF, OME-TIFF, PNG or JPEG file")
    up.add_argument("output", metavar="OUT", help=_OUT_HELP)
    up.add_argument("--scale", "-s", type=float, required=True, help="upscaling factor, > 0")
    up.add_argument(
        "--method",
        "-m",
        default=None,
        help="'quality' or 'fast' (the bundled defaults; 'napari-sr models' lists them and "
        "their scales), bundled weights by name, an interpolation (bicubic, lanczos3, ...) or "
        "a model file (.safetensors, .pth) (default: quality where bundled for the scale, "
        "else bicubic)",
    )
    up.add_argument(
        "--device",
        default="auto",
        help="for models: auto (CUDA, MPS, CPU), cpu, cuda, cuda:1, mps",
    )
    up.add_argument(
        "--tile",
        type=int,
        default=None,
        help="for models: tile edge in input pixels, 0 for none (default: automatic, bounded "
        "by memory)",
    )
    up.add_argument(
        "--precision",
        choices=["fp32", "bf16", "fp16"],
        default=None,
        help="for models (default: bf16/fp16 on a GPU where the model allows, else fp32)",
    )
    up.add_argument(
        "--self-ensemble",
        action="store_true",
        help="for models: average the 8 flips and rotations (8x slower, often +0.1 dB)",
    )
    up.add_argument("--axes", default=None, help="axes of IN, e.g. ZYX (default: from the file)")
    up.add_argument(
        "--dtype",
        default=None,
        choices=["uint8", "uint16", "int16", "float32", "float64"],
        help="output dtype (default: the input's)",
    )
    up.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    up.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="draw a progress bar on stderr (default: when stderr is a terminal)",
    )
    add_compression_option(up)
    up.set_defaults(run=_run_upscale)

    deg = commands.add_parser(
        "degrade",
        help="simulate a low-resolution observation of an image (blur, downscale, noise)",
        description="Apply the observation model y = (x * k) downscaled by SCALE + noise to "
        "IN and write OUT with pixel sizes multiplied by SCALE.",
    )
    deg.add_argument("input", metavar="IN")
    deg.add_argument("output", metavar="OUT", help=_OUT_HELP)
    deg.add_argument("--scale", "-s", type=float, required=True, help="downscaling factor")
    deg.add_argument(
        "--along",
        default="YX",
        help="axes to downscale (default YX; e.g. Z for anisotropic stacks)",
    )
    deg.add_argument(
        "--kernel",
        default="bicubic",
        help="bicubic (MATLAB, default), another interpolation method, or decimate",
    )
    deg.add_argument("--blur", type=float, default=None, help="Gaussian sigma, HR pixels")
    deg.add_argument(
        "--psf",
        default=None,
        metavar="KEY=VALUE,...",
        help="microscope PSF, e.g. na=1.4,wavelength=0.52,kind=confocal (µm; pixel size from "
        "IN, or pixel_size=0.1)",
    )
    deg.add_argument(
        "--noise",
        default=None,
        metavar="KEY=VALUE,...",
        help="e.g. poisson=100 (peak photons), gaussian=2 (sigma), or both",
    )
    deg.add_argument("--seed", type=int, default=None, help="noise seed")
    deg.add_argument("--axes", default=None, help="axes of IN (default: from the file)")
    deg.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    add_compression_option(deg)
    deg.set_defaults(run=_run_degrade)

    cmp_ = commands.add_parser(
        "compare",
        help="benchmark SR methods on a high-resolution image (PSNR/SSIM table)",
        description="Degrade IMAGE by the SR protocol (MATLAB bicubic), restore it with each "
        "method, and print PSNR, SSIM and seconds per method, as in a paper's table. With "
        "--low-res or --reference, IMAGE is restored as it is (a real low-resolution "
        "acquisition) and scored against the reference, if given.",
    )
    cmp_.add_argument(
        "input", metavar="IMAGE", help="high-resolution reference (or, with --low-res, the input)"
    )
    cmp_.add_argument("--scale", "-s", type=float, required=True, help="SR factor, > 1")
    cmp_.add_argument(
        "--methods",
        default=None,
        help="comma-separated methods (default: every interpolation method, then the "
        "bundled fast and quality defaults where they exist for the scale)",
    )
    cmp_.add_argument(
        "--low-res",
        action="store_true",
        help="IMAGE is already low-resolution: restore it without degrading it",
    )
    cmp_.add_argument(
        "--reference",
        default=None,
        metavar="HR",
        help="high-resolution image of the same field to score against (implies --low-res)",
    )
    cmp_.add_argument("--csv", default=None, metavar="FILE", help="also write the table as CSV")
    cmp_.add_argument("--overwrite", action="store_true", help="replace the CSV if it exists")
    cmp_.add_argument("--axes", default=None, help="axes of HR (default: from the file)")
    cmp_.add_argument(
        "--data-range",
        type=float,
        default=None,
        help="L of PSNR/SSIM (default: 255 for 8-bit images, else the reference's max - min)",
    )
    cmp_.add_argument(
        "--no-y-channel",
        dest="y_channel",
        action="store_false",
        help="score RGB on all channels rather than luma",
    )
    cmp_.set_defaults(run=_run_compare)

    info = commands.add_parser(
        "info",
        help="show shape, dtype, axes and pixel sizes of an image file",
        description="Show what napari-sr reads from FILE: shape, dtype, axes, pixel sizes.",
    )
    info.add_argument("file", metavar="FILE")
    info.add_argument("--json", action="store_true", help="print one JSON object")
    info.set_defaults(run=_run_info)

    samples = commands.add_parser(
        "samples",
        help="list the bundled sample images and where they are",
        description="List the sample images bundled with napari-sr, with their paths.",
    )
    samples.set_defaults(run=_run_samples)

    models = commands.add_parser(
        "models",
        help="list the bundled pretrained weights and the architectures",
        description="List the pretrained weights bundled with napari-sr (usable as "
        "--method NAME; 'quality' and 'fast' pick the defaults for the scale) and the "
        "registered architectures (train them with 'napari-sr train').",
    )
    models.add_argument("--card", metavar="NAME", help="print the model card of NAME")
    models.set_defaults(run=_run_models)
    _add_train_parser(commands)
    for sub in commands.choices.values():  # also after the command: napari-sr info F --verbose
        sub.add_argument(
            "--verbose", action="store_true", default=argparse.SUPPRESS, help=_VERBOSE_HELP
        )
    return parser


_VERBOSE_HELP = "also print the warnings and log messages of the libraries used (torch, ...)"


def add_compression_option(parser: argparse.ArgumentParser) -> None:
    """``--compression``, for every command that writes an image."""
    from .io import COMPRESSIONS, DEFAULT_COMPRESSION

    parser.add_argument(
        "--compression",
        choices=COMPRESSIONS,
        default=None,
        help=f"lossless compression of a TIFF OUT (default {DEFAULT_COMPRESSION}; zstd is "
        "smaller and faster but needs the imagecodecs package; PNG is always compressed)",
    )


def compression_option(args: argparse.Namespace) -> dict:
    """``io.write`` keyword for ``--compression``; nothing when not given, so that
    ``io.write`` keeps its own default."""
    return {} if args.compression is None else {"compression": args.compression}


def check_output(args: argparse.Namespace) -> None:
    """Before any work: OUT can be written (name, folder, --overwrite) with the
    compression asked for."""
    from .io import check_output_path, zstd_available

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
    from .io import write

    path = write(args.output, result, overwrite=args.overwrite, **compression_option(args))
    print(
        f"wrote {path}{method}: shape {result.shape}, {result.dtype}, axes {result.axes}, "
        f"pixel size {result.describe_pixel_size()}"
    )
    return 0


_OUT_HELP = "output file: .ome.tif or .tif (OME-TIFF, any image), or .png (a 2-D 8/16-bit image)"


def _add_train_parser(commands) -> None:
    from .training.config import LOSS_NAMES, SCHEDULES, TrainConfig

    default = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
    tr = commands.add_parser(
        "train",
        help="train an SR model on high-resolution images",
        description="Train MODEL on the high-resolution IMAGES: low-resolution inputs are "
        "synthesised from them (MATLAB-bicubic downscaling by SCALE, plus --blur and "
        "--noise). OUT (.safetensors) is written every --checkpoint-every steps and at the "
        "end, with the best validation weights; OUT's .resume.safetensors sibling lets "
        "--resume continue an interrupted run exactly. Ctrl-C saves a checkpoint and stops.",
    )
    tr.add_argument(
        "model",
        metavar="MODEL",
        help="architecture name (e.g. fsrcnn, edsr_baseline), or a .safetensors model file "
        "to fine-tune",
    )
    tr.add_argument(
        "images", metavar="IMAGES", nargs="+", help="high-resolution image files or folders"
    )
    tr.add_argument("--scale", "-s", type=int, required=True, help="upscaling factor, >= 2")
    tr.add_argument("--steps", type=int, required=True, help="optimiser updates")
    tr.add_argument("--out", "-o", required=True, help="model file to write, .safetensors")
    tr.add_argument(
        "--validation",
        nargs="+",
        action="extend",
        default=None,
        metavar="IMAGE",
        help="held-out high-resolution images or folders for validation PSNR/SSIM",
    )
    tr.add_argument(
        "--validation-fraction",
        type=float,
        default=None,
        help="without --validation: fraction of rows held out at the bottom of every image",
    )
    tr.add_argument(
        "--batch-size", type=int, default=None, help=f"default {default['batch_size']}"
    )
    tr.add_argument(
        "--patch-size", type=int, default=None, help="HR patch side, pixels (default 48 x scale)"
    )
    tr.add_argument("--lr", type=float, default=None, help=f"Adam learning rate ({default['lr']})")
    tr.add_argument(
        "--loss",
        default=None,
        help=f"one of {', '.join(LOSS_NAMES)}, or weights such as l1=1,ssim=0.2 (default "
        f"{default['loss']})",
    )
    tr.add_argument("--schedule", choices=SCHEDULES, default=None, help="default cosine")
    tr.add_argument("--warmup-steps", type=int, default=None, help="linear warm-up steps")
    tr.add_argument(
        "--validate-every",
        type=int,
        default=None,
        help=f"steps between validations (default {default['validate_every']})",
    )
    tr.add_argument(
        "--patience", type=int, default=None, help="stop after N validations without gain"
    )
    tr.add_argument(
        "--checkpoint-every",
        type=int,
        default=None,
        help=f"steps between checkpoints (default {default['checkpoint_every']})",
    )
    tr.add_argument(
        "--kernel", default=None, help="downscaling kernel of the degradation (bicubic)"
    )
    tr.add_argument("--blur", type=float, default=None, help="Gaussian sigma, HR pixels")
    tr.add_argument(
        "--noise",
        default=None,
        metavar="KEY=VALUE,...",
        help="e.g. poisson=100 (peak photons), gaussian=2 (sigma), or both",
    )
    tr.add_argument(
        "--in-channels", type=int, default=None, help="3 for RGB images (default: guessed)"
    )
    tr.add_argument(
        "--hparams",
        default=None,
        metavar="KEY=VALUE,...",
        help="architecture hyperparameters, e.g. d=32,s=5,m=1",
    )
    tr.add_argument("--seed", type=int, default=None, help="random seed (default 0)")
    tr.add_argument("--device", default="auto", help="auto (default), cpu, cuda, cuda:N, mps")
    tr.add_argument(
        "--init",
        default=None,
        metavar="bundled|scratch|NAME",
        help="how MODEL starts: 'bundled', its bundled weights at SCALE (an error where "
        "there are none); 'scratch', random weights; or bundled weights by NAME (default: "
        "the bundled weights where they exist and fit, else scratch; the log says which)",
    )
    tr.add_argument(
        "--resume", action="store_true", help="continue the run saved at OUT (same options)"
    )
    tr.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    tr.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="draw a progress bar on stderr (default: when stderr is a terminal)",
    )
    tr.set_defaults(run=_run_train)

    from . import _cli_multiframe, _cli_selfsup

    _cli_selfsup.add_parsers(commands)  # isotropic, zssr
    _cli_multiframe.add_parsers(commands)  # misr


def _run_upscale(args: argparse.Namespace) -> int:
    from .engine.methods import DEFAULT_KINDS, default_method, resolve_method
    from .engine.upscaler import upscale
    from .geometry import check_scale
    from .io import read

    # cheap checks first, so that mistakes are reported before minutes of work
    scale = check_scale(args.scale)
    method = resolve_method(args.method, scale)  # a model file is read here, once
    options = {}
    if hasattr(method, "model"):
        options = {"device": args.device, "tile": args.tile, "precision": args.precision,
                   "self_ensemble": args.self_ensemble}  # fmt: skip
    elif args.tile is not None or args.precision is not None or args.self_ensemble:
        raise ValueError(
            "--tile, --precision and --self-ensemble apply to learned models; "
            f"{method.name} is an interpolation - drop them or give a model file"
        )
    check_output(args)
    image = read(args.input, axes=args.axes)

    bar = progress_bar(args, "tiles" if hasattr(method, "model") else "planes")
    try:
        result = upscale(image, scale, method=method, dtype=args.dtype, progress=bar, **options)
    finally:
        if bar is not None:
            bar.close()
    kind = None if args.method is None else args.method.strip().lower()
    if kind is None:
        default = default_method(scale)
        note = f"the default at x{scale:g}" if default.fallback else default.note
    elif kind in DEFAULT_KINDS:
        note = f"{kind} default"
    else:
        note = None
    ran = result.metadata["provenance"]["method"]  # what ran, as recorded in the file
    return write_result(args, result, f" with {ran}" + (f" ({note})" if note else ""))


def _key_values(text: str | None, option: str, allowed: dict[str, type]) -> dict | None:
    """Parse ``a=1,b=x`` into a dict, converting each value to the type ``allowed`` gives."""
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


def _run_degrade(args: argparse.Namespace) -> int:
    from .degradation import degrade
    from .geometry import check_scale
    from .io import read

    scale = check_scale(args.scale)
    along = args.along.upper()
    psf = _key_values(
        args.psf,
        "--psf",
        {
            "na": float,
            "wavelength": float,
            "kind": str,
            "refractive_index": float,
            "excitation": float,
            "pixel_size": float,
        },
    )
    noise = _key_values(args.noise, "--noise", {"poisson": float, "gaussian": float})
    check_output(args)
    image = read(args.input, axes=args.axes)
    spatial = [a for a in image.axes if a in "ZYX"]
    if not along or any(a not in spatial for a in along) or len(set(along)) < len(along):
        raise ValueError(
            f"--along {args.along} must name spatial axes of {args.input}, whose axes are "
            f"{image.axes}; use letters of {''.join(spatial)}, e.g. --along YX"
        )
    if psf is not None and "pixel_size" not in psf and not image.pixel_size:
        raise ValueError(
            f"--psf needs the pixel size, and {args.input} does not record one; add it to "
            "--psf, e.g. --psf na=1.4,wavelength=0.52,pixel_size=0.1 (µm)"
        )
    result = degrade(
        image,
        dict.fromkeys(along, scale),
        kernel=args.kernel,
        blur=args.blur,
        psf=psf,
        noise=noise,
        seed=args.seed,
    )
    return write_result(args, result)


def _run_compare(args: argparse.Namespace) -> int:
    from .evaluation import compare_low_resolution, compare_methods
    from .io import read
    from .metrics import describe_range, scoring_range
    from .resample import INTERPOLATION_METHODS

    if args.methods:
        methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    else:  # every interpolation, then the bundled defaults that work at this scale
        from .models.bundled import DEFAULT_ARCHITECTURES, default_model

        learned = [k for k in reversed(DEFAULT_ARCHITECTURES) if default_model(args.scale, k)]
        methods = [*INTERPOLATION_METHODS, *learned]
    if args.csv:
        from .utils.atomic import check_target

        check_target(args.csv, overwrite=args.overwrite)
    image = read(args.input, axes=args.axes)
    reference = None
    if args.reference:
        reference = read(args.reference, axes=args.axes)
        if reference.axes != image.axes:
            raise ValueError(
                f"{args.reference} has axes {reference.axes} but {args.input} has "
                f"{image.axes}; give files with the same axes (or --axes)"
            )
    low_res = bool(args.low_res or args.reference)
    data_range = args.data_range
    if data_range is None:  # 255 for 8-bit, else the reference's span
        data_range = scoring_range(reference.data if low_res and reference else image.data)
    options = {"axes": image.axes, "data_range": data_range, "y_channel": args.y_channel}
    scoring = f"with {describe_range(data_range, given=args.data_range is not None)}"
    if image.axes.endswith("C"):
        scoring = ("on Y (BT.601) " if args.y_channel else "on all channels ") + scoring
    if low_res:
        result = compare_low_resolution(
            image.data, args.scale, methods,
            reference=None if reference is None else reference.data, **options,
        )  # fmt: skip
        against = (
            f"PSNR/SSIM against {args.reference} {scoring}, {result.crop_border}-pixel "
            "border removed" if reference is not None else "no reference, times only"
        )  # fmt: skip
        print(f"{args.input}: x{result.scale:g} of the image as it is; {against}")
    else:
        result = compare_methods(image.data, args.scale, methods, **options)
        print(
            f"{args.input}: x{result.scale:g}, MATLAB-bicubic degradation; PSNR/SSIM "
            f"{scoring}, {result.crop_border}-pixel border removed"
        )
    print(result.table())
    if args.csv:
        result.write_csv(args.csv, overwrite=args.overwrite)
        print(f"wrote {args.csv}")
    return 0


def _run_info(args: argparse.Namespace) -> int:
    from .io import read

    image = read(args.file)
    record = {
        "file": args.file,
        "format": image.metadata.get("format"),
        "shape": list(image.shape),
        "dtype": image.dtype.name,
        "axes": image.axes,
        "pixel_size": image.pixel_size,
        "unit": image.unit,
        "min": _json_number(image.data.min().item()),
        "max": _json_number(image.data.max().item()),
    }
    if "provenance" in image.metadata:
        record["provenance"] = image.metadata["provenance"]
    if "note" in image.metadata:
        record["note"] = image.metadata["note"]
    if args.json:
        print(json.dumps(record, ensure_ascii=False))
        return 0
    rows = [
        ("file", args.file),
        ("format", record["format"]),
        ("shape", " x ".join(map(str, image.shape))),
        ("dtype", record["dtype"]),
        ("axes", image.axes),
        ("pixel size", image.describe_pixel_size()),
        ("range", f"{record['min']} .. {record['max']}"),
    ]
    if "provenance" in record:
        rows.append(("provenance", json.dumps(record["provenance"], ensure_ascii=False)))
    if "note" in record:
        rows.append(("note", record["note"]))
    for key, value in rows:
        print(f"{key:<11} {value}")
    return 0


def _run_samples(args: argparse.Namespace) -> int:
    from .samples import SAMPLES, sample_path

    for sample in SAMPLES:
        print(f"{sample.name:<22} {sample_path(sample.name)}")
        print(f"{'':<22} {sample.description}")
        if sample.ground_truth:
            print(f"{'':<22} ground truth: {sample_path(sample.name, ground_truth=True)}")
    return 0


def _run_models(args: argparse.Namespace) -> int:
    from .models.bundled import (
        DEFAULT_ARCHITECTURES,
        bundled_models,
        default_description,
        model_card,
        single_image_models,
    )
    from .models.registry import list_models

    if args.card is not None:
        print(model_card(args.card.strip().lower()), end="")
        return 0

    def show(names: list[str]) -> None:
        for name in names:
            title = model_card(name).splitlines()[0]
            print(f"  {name:<28} {title.partition(' — ')[2]}")

    single = single_image_models()
    print("bundled single-image weights (upscale --method NAME; --card NAME: how each was "
          "made and scored):")  # fmt: skip
    show(single)
    for kind in DEFAULT_ARCHITECTURES:
        print(f"  --method {default_description(kind)}")
    print("bundled fusion networks (misr --method learned):")
    show([name for name in bundled_models() if name not in single])
    print("architectures (napari-sr train ARCH ...):")
    print(textwrap.fill(", ".join(list_models()), initial_indent="  ", subsequent_indent="  "))
    return 0


def _run_train(args: argparse.Namespace) -> int:
    from .training.log import format_record
    from .utils.progress import Cancelled

    options = {
        "validation_fraction": args.validation_fraction,
        "batch_size": args.batch_size,
        "patch_size": args.patch_size,
        "lr": args.lr,
        "loss": args.loss,
        "schedule": args.schedule,
        "warmup_steps": args.warmup_steps,
        "validate_every": args.validate_every,
        "patience": args.patience,
        "checkpoint_every": args.checkpoint_every,
        "in_channels": args.in_channels,
        "seed": args.seed,
        "init": args.init,
    }
    options = {k: v for k, v in options.items() if v is not None}  # train() owns the defaults
    degradation = {
        "kernel": args.kernel,
        "blur": args.blur,
        "noise": _key_values(args.noise, "--noise", {"poisson": float, "gaussian": float}),
    }
    degradation = {k: v for k, v in degradation.items() if v is not None}
    if degradation:
        options["degradation"] = degradation
    if args.hparams is not None:
        options["hparams"] = _hparams(args.hparams)
    model = args.model
    if model.lower().endswith((".safetensors", ".pth", ".pt", ".ckpt")):
        from .models.checkpoint import load_model

        model = load_model(model)

    from .training.loop import train

    try:
        with running(args, "steps") as (bar, stop):

            def log(record: dict) -> None:
                line = format_record(record)
                if bar is not None and bar._drawn:
                    line = "\r" + line.ljust(bar.width + 30)  # over the bar, redrawn next
                print(line, file=sys.stderr, flush=True)

            result = train(
                model,
                args.images,
                scale=args.scale,
                steps=args.steps,
                validation=args.validation,
                checkpoint=args.out,
                resume=args.resume,
                overwrite=args.overwrite,
                device=args.device,
                progress=bar,
                log=log,
                cancel=stop,
                **options,
            )
    except Cancelled as exc:  # the checkpoint was saved: say where, exit 130 (143: SIGTERM)
        print(f"napari-sr: {_OUR_PREFIX.sub('', _one_line(exc))}", file=sys.stderr)
        return _interrupted_status()
    report = result.training_report
    summary = (
        f"wrote {args.out}: {result.spec.name} x{result.scale}, {report['steps_done']} steps "
        f"({report['stopped']}) in {report['seconds']:.1f} s"
    )
    validation, bicubic = report.get("validation"), report.get("bicubic")
    if validation:
        summary += (
            f"; validation PSNR {validation['psnr']:.2f} dB, SSIM {validation['ssim']:.4f} "
            f"(step {validation['step']})"
        )
        if bicubic:
            summary += f"; bicubic {bicubic['psnr']:.2f} dB, {bicubic['ssim']:.4f}"
    elif report.get("final_loss") is not None:
        summary += f"; final loss {report['final_loss']:.5f}"
    print(summary)
    return 0


def _hparams(text: str) -> dict:
    """Parse ``d=32,s=5`` into a dict; values are JSON numbers, booleans or lists, else text."""
    result = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--hparams takes KEY=VALUE pairs such as d=32,s=5, not {item!r}")
        try:
            result[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            result[key.strip()] = value.strip()
    return result


def _json_number(value: float) -> float | str:
    """Numbers as JSON allows them: NaN and infinities become strings."""
    return value if math.isfinite(value) else str(value)


def _one_line(message: object) -> str:
    return " ".join(str(message).split())


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``napari-sr`` command; returns the exit status.

    Whatever happens, stderr gets one line for an error (exit 2) or an interruption
    (exit 130 for Ctrl-C, 143 for SIGTERM); warnings that matter to the user are printed
    after a successful command.
    """
    from .utils.atomic import terminate_as_interrupt
    from .utils.progress import Cancelled

    _Signals.received = None
    parser, args, status, error = None, None, EXIT_USAGE, None
    with terminate_as_interrupt(), _collecting_notices() as notices:
        try:
            parser = build_parser()  # imports that may warn happen here, inside
            args = parser.parse_args(argv)
            status = args.run(args)
        except _UsageError as exc:  # argparse's own words are already the command line's
            error = f"napari-sr: error: {_one_line(exc)}"
        except (ValueError, TypeError, OSError, MemoryError, OverflowError) as exc:
            error = f"napari-sr: error: {_for_the_command_line(exc, parser, args)}"
        except (KeyboardInterrupt, Cancelled) as exc:  # Ctrl-C, or SIGTERM (Terminated)
            error = "napari-sr: interrupted; nothing was written"
            status = _interrupted_status(exc)
        except Exception as exc:  # a last resort: hostile input that no check caught yet
            if _debugging():
                raise
            error = (
                f"napari-sr: error: unexpected {type(exc).__name__}: "
                f"{_for_the_command_line(exc, parser, args)} (a bug, or input napari-sr does "
                f"not check yet; {DEBUG_ENV}=1 shows the traceback)"
            )
    verbose = bool(getattr(args, "verbose", False))
    if error is None or verbose:
        for line in notices.lines(verbose=verbose):
            print(f"napari-sr: warning: {_for_the_command_line(line, parser, args)}",
                  file=sys.stderr)  # fmt: skip
    if error is not None:
        print(error, file=sys.stderr, flush=True)
    return status


_OUR_PREFIX = re.compile(r"^napari-sr(?: [a-z]+)?: (?:error: |warning: )?")


def _debugging() -> bool:
    return os.environ.get(DEBUG_ENV, "").strip() not in ("", "0")


def _for_the_command_line(message: object, parser: argparse.ArgumentParser | None, args) -> str:
    """One line of ``message`` in the command line's words (see :func:`cli_wording`)."""
    command = getattr(args, "command", None)
    text = _OUR_PREFIX.sub("", _one_line(message))  # main() adds the one prefix
    if not text and isinstance(message, BaseException):
        text = type(message).__name__
    return cli_wording(text, _subparser(parser, command), command)


def _subparser(parser: argparse.ArgumentParser | None, command: str | None):
    for action in [] if parser is None else parser._actions:
        if isinstance(action, argparse._SubParsersAction) and command in action.choices:
            return action.choices[command]
    return None


if __name__ == "__main__":
    sys.exit(main())
