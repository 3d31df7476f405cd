"""Progress reporting and cancellation for long-running work.

Every long function takes ``progress`` (a callable ``progress(done, total)``, counting
work units such as planes) and ``cancel`` (anything with ``is_set()``, such as a
:class:`threading.Event`, or a callable returning True once the user has cancelled).

The contract: once ``cancel`` is set, the function raises :class:`Cancelled` instead of
returning, even when it was set during the last unit of work or by the final
``progress(total, total)`` report (the token is checked again after the last unit), so
that a caller who asked to stop never receives, shows or writes a result.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol


class Cancelled(Exception):
    """The work was cancelled by the caller; nothing was returned or written."""


class _EventLike(Protocol):
    def is_set(self) -> bool: ...


ProgressCallback = Callable[[int, int], None]
CancelToken = _EventLike | Callable[[], bool]


def is_cancelled(cancel: CancelToken | None) -> bool:
    """True once ``cancel`` (an Event-like object or a callable) says stop."""
    if cancel is None:
        return False
    is_set = getattr(cancel, "is_set", None)
    if is_set is not None:
        return bool(is_set())
    if callable(cancel):
        return bool(cancel())
    raise TypeError(
        "cancel must be a threading.Event (or anything with is_set()) or a callable "
        f"returning bool, not {type(cancel).__name__}"
    )


def raise_if_cancelled(cancel: CancelToken | None) -> None:
    """Raise :class:`Cancelled` if the caller has asked to stop."""
    if is_cancelled(cancel):
        raise Cancelled("cancelled by the caller")


def report(progress: ProgressCallback | None, done: int, total: int) -> None:
    """Call ``progress(done, total)`` if a callback was given."""
    if progress is not None:
        progress(done, total)


class Stages:
    """One determinate progress over several stages of work (training, then planes…).

    ``part()`` gives the callback for the next stage (its ``done`` counts from where the
    previous stages ended); ``advance(n)`` closes a stage of ``n`` units.

    Parameters
    ----------
    progress : callable or None
        The caller's ``progress(done, total)``.
    total : int
        Units of all stages together.
    """

    def __init__(self, progress: ProgressCallback | None, total: int) -> None:
        self.progress, self.total, self.done = progress, max(1, int(total)), 0

    def part(self) -> ProgressCallback:
        offset = self.done
        return lambda done, _total: report(self.progress, offset + done, self.total)

    def advance(self, amount: int) -> None:
        self.done += int(amount)
        report(self.progress, self.done, self.total)
