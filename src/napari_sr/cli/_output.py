"""What the ``napari-sr`` command shows besides its result: the progress bar on stderr,
the notices (our own warnings after a success, libraries' warnings and log records with
``--verbose``), and the one-line form of a message."""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

OUR_PREFIX = re.compile(r"^napari-sr(?: [a-z]+)?: (?:error: |warning: )?")
"""A prefix a message of ours may carry already; ``main`` adds the one prefix itself."""


def one_line(message: object) -> str:
    """``message`` on one line, whitespace runs made one space."""
    return " ".join(str(message).split())


def without_prefix(message: object) -> str:
    """``message`` on one line, without a ``napari-sr: error:`` prefix of its own."""
    return OUR_PREFIX.sub("", one_line(message))


# ----------------------------------------------------------------------------- progress


def format_seconds(seconds: float) -> str:
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
        parts.append(f"{format_seconds(seconds)} elapsed")
        if 0 < done < total:
            parts.append(f"about {format_seconds(seconds * (total - done) / done)} left")
        return ", ".join(parts)

    def close(self) -> None:
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()


def print_over(bar: ProgressBar | None, line: str) -> None:
    """Print ``line`` on stderr, over the progress bar where one is drawn (the bar is drawn
    again below it at its next update), so that log lines and the bar do not mix."""
    if bar is not None and bar._drawn:
        line = "\r" + line.ljust(bar.width + 30)
    print(line, file=sys.stderr, flush=True)


def progress_bar(args: argparse.Namespace, label: str | None) -> ProgressBar | None:
    """A bar on stderr when ``--progress`` asks for one, or by default on a terminal."""
    show = sys.stderr.isatty() if args.progress is None else args.progress
    return ProgressBar(sys.stderr, label=label) if show else None


# ----------------------------------------------------------------------------- notices


class Notices(logging.Handler):
    """What a command says besides its result: our own warnings, shown after a success as
    ``napari-sr: warning: ...``; libraries' warnings and log records, shown with
    ``--verbose`` only (torch, Pillow, numpy and tifffile speak to developers)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.ours: list[str] = []
        self.others: list[str] = []

    def showwarning(self, message, category, filename, lineno, file=None, line=None) -> None:
        text = one_line(message)
        if issubclass(category, UserWarning) and _issued_by_us():
            self.ours.append(text)
        else:
            where = os.path.basename(str(filename))
            self.others.append(f"{category.__name__} ({where}:{lineno}): {text}")

    def emit(self, record: logging.LogRecord) -> None:
        self.others.append(f"{record.name}: {one_line(record.getMessage())}")

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
def collecting_notices() -> Iterator[Notices]:
    """Catch every warning and library log record during a command (none reach stderr
    on their own: an error stays one line)."""
    notices = Notices()
    root = logging.getLogger()
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = notices.showwarning
        root.addHandler(notices)  # a root handler also keeps logging's last resort quiet
        try:
            yield notices
        finally:
            root.removeHandler(notices)
