"""Progress reporting and cancellation for long-running work.

Every long function takes ``progress`` (a callable ``progress(done, total)``, counting
work units such as planes) and ``cancel`` (anything with ``is_set()``, such as a
:class:`threading.Event`, or a callable returning True once the user has cancelled).
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
