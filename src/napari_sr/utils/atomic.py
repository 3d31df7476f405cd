"""Atomic file writes: a file appears whole or not at all, and nothing is overwritten unasked.

A write goes to a hidden part file next to the target, ``.NAME.<pid>-<host>.<random>.part``,
which is renamed into place when complete and removed when the write fails or is
interrupted (Ctrl-C, or SIGTERM under :func:`terminate_as_interrupt`). A process killed
outright (SIGKILL, power loss) cannot clean up; its part file names the process and host, so
the next write of NAME on that host removes it once that process is gone
(:func:`remove_stale_parts`).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import signal
import socket
import stat
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

PART_SUFFIX = ".part"
"""Suffix of the temporary files that writes go through."""

_NAME_ROOM = 200
"""Characters of the target's name kept in its part file's name: the part file needs about
30 more characters, and names are limited to 255 on most file systems."""

_DISK_FULL_ERRNOS = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
_DISK_FULL_TEXT = re.compile(
    r"no space left|disk quota|storagefull|quota exceeded|\d+ requested and \d+ written",
    re.IGNORECASE,
)
"""How libraries that do not raise OSError(ENOSPC) say the disk is full: numpy's short-write
``OSError('524288 requested and 130960 written')`` (tifffile), safetensors' ``StorageFull``."""


class DiskFullError(OSError):
    """No space left on the device (errno ENOSPC), said in one line without "[Errno 28]"."""

    def __str__(self) -> str:
        return self.strerror or super().__str__()


class Terminated(KeyboardInterrupt):
    """Raised in the main thread on SIGTERM inside :func:`terminate_as_interrupt`.

    A KeyboardInterrupt, so that everything that cleans up after Ctrl-C (part files,
    progress bars, ``finally`` blocks) does the same after a scheduler's or ``timeout``'s
    SIGTERM.
    """


def atomic_write(
    path: str | os.PathLike,
    writer: Callable[[str], None],
    *,
    overwrite: bool,
    size_hint: int | None = None,
) -> Path:
    """Write a file through a temporary file in the same folder, then rename it into place.

    Parameters
    ----------
    path : path-like
        The file to create.
    writer : callable
        Called with the temporary file's path; writes the complete file there.
    overwrite : bool
        Replace ``path`` if it exists. When False an existing file is an error, checked
        before any work and again, atomically, when the file is put in place.
    size_hint : int, optional
        About how many bytes the file needs, for the message when the disk is full.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``overwrite`` is False.
    FileNotFoundError
        If the folder of ``path`` does not exist.
    OSError
        With errno ENOSPC and a message saying so, when the disk (or quota) is full;
        nothing is left behind.
    """
    path = check_target(path, overwrite=overwrite)
    folder = path.parent
    remove_stale_parts(path)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=_part_prefix(path.name), suffix=PART_SUFFIX)
    os.close(fd)
    try:
        writer(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        if overwrite:
            os.replace(tmp, path)
        else:
            _link_exclusive(tmp, path)
    except Exception as exc:
        if is_disk_full(exc):
            raise disk_full_error(path, size_hint) from exc
        raise
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    return path


def check_target(path: str | os.PathLike, *, overwrite: bool, folder: bool = False) -> Path:
    """Check that ``path`` can be created: a file (or, with ``folder``, a folder such as an
    OME-Zarr store) whose folder exists, and that does not exist already unless
    ``overwrite``. Returns it as a Path."""
    path = Path(path)
    if path.is_dir() and not folder:
        raise IsADirectoryError(f"{str(path)!r} is a folder; give a file name to write")
    if folder and path.exists() and not path.is_dir():
        raise ValueError(
            f"{str(path)!r} is a file, and what is written there is a folder; give a name "
            "that does not exist"
        )
    if not overwrite and path.exists():
        raise FileExistsError(
            f"{str(path)!r} already exists; choose another name or pass overwrite=True "
            "(--overwrite on the command line)"
        )
    if not path.parent.is_dir():
        raise FileNotFoundError(
            f"cannot write {str(path)!r}: folder {str(path.parent)!r} does not exist"
        )
    return path


def is_disk_full(exc: BaseException) -> bool:
    """True if ``exc`` says the disk or the user's quota is full (any library's wording)."""
    if isinstance(exc, OSError) and exc.errno in _DISK_FULL_ERRNOS:
        return True
    return bool(_DISK_FULL_TEXT.search(str(exc)))


def disk_full_error(path: str | os.PathLike, size_hint: int | None = None) -> OSError:
    """The OSError (errno ENOSPC) to raise when writing ``path`` found the disk full."""
    need = f" (needed about {_megabytes(size_hint)})" if size_hint else ""
    return DiskFullError(
        errno.ENOSPC,
        f"no space left on device while writing {str(path)!r}{need}; free some space or "
        "choose another folder; nothing was written",
    )


def remove_stale_parts(path: str | os.PathLike) -> list[Path]:
    """Remove part files of ``path`` left by processes of this host that no longer run.

    Only files named exactly as :func:`atomic_write` names them
    (``.NAME.<pid>-<host>.<random>.part``), whose host tag is this machine's and whose
    process is gone (or is a younger process that reused the number), are removed: never a
    file of a live process, of another machine sharing the folder, or of another program.

    Returns
    -------
    list of pathlib.Path
        The files removed.
    """
    path = Path(path)
    pattern = re.compile(
        re.escape(_part_stem(path.name))
        + r"\.(\d+)-([0-9a-f]{6})\.[A-Za-z0-9_]+"
        + re.escape(PART_SUFFIX)
    )
    removed = []
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return removed
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if match is None or match.group(2) != _host_tag():
            continue
        pid = int(match.group(1))
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISREG(info.st_mode) or not _writer_gone(pid, info.st_mtime):
            continue
        with contextlib.suppress(OSError):  # gone already, or not ours to remove
            os.unlink(entry.path)
            removed.append(Path(entry.path))
    return removed


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM like Ctrl-C while the block runs: raise :class:`Terminated` (a
    KeyboardInterrupt) in the main thread, so that interrupted writes remove their part
    files and nothing half-written is left.

    Batch schedulers (Slurm, Kubernetes) and ``timeout`` stop jobs with SIGTERM. Further
    SIGTERMs while the first is being handled are ignored, so that clean-up finishes
    (SIGKILL still ends the process). Outside the main thread, or where the platform has
    no SIGTERM handler, the block runs unchanged. The previous handler is restored on exit.
    """
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGTERM"):
        yield
        return
    received = []

    def on_terminate(signum: int, frame: object) -> None:
        if received:
            return
        received.append(signum)
        raise Terminated("terminated (SIGTERM)")

    try:
        previous = signal.signal(signal.SIGTERM, on_terminate)
    except (ValueError, OSError):  # e.g. not the main interpreter
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _part_stem(name: str) -> str:
    return "." + name[:_NAME_ROOM]


def _part_prefix(name: str) -> str:
    return f"{_part_stem(name)}.{os.getpid()}-{_host_tag()}."


_HOST_TAG: list[str] = []


def _host_tag() -> str:
    """Six hex digits naming this machine, so that folders shared between machines (NFS,
    cluster scratch) never see one host remove another's part files."""
    if not _HOST_TAG:
        host = socket.gethostname().encode("utf-8", "replace")
        _HOST_TAG.append(hashlib.blake2s(host, digest_size=3).hexdigest())
    return _HOST_TAG[0]


def _writer_gone(pid: int, mtime: float) -> bool:
    """True if process ``pid`` of this host cannot be writing a file last modified at
    ``mtime``: it does not exist, or it started after that (its number was reused)."""
    if pid == os.getpid():
        return False  # another thread of ours may be writing it now
    import psutil

    try:
        started = psutil.Process(pid).create_time()
    except psutil.NoSuchProcess:
        return True
    except Exception:  # access denied or unknown: assume it is alive
        return False
    return started > mtime + 2.0  # slack for clock granularity of the two timestamps


def _link_exclusive(tmp: str, path: Path) -> None:
    """Put ``tmp`` at ``path`` unless something appeared there meanwhile."""
    try:
        os.link(tmp, path)  # atomic, and fails if path exists
    except FileExistsError:
        raise FileExistsError(
            f"{str(path)!r} appeared while it was being written; nothing was overwritten"
        ) from None
    except OSError:  # file systems without hard links
        if path.exists():
            raise FileExistsError(
                f"{str(path)!r} already exists; nothing was overwritten"
            ) from None
        os.replace(tmp, path)


def _megabytes(nbytes: int) -> str:
    return f"{nbytes / 1e6:.0f} MB" if nbytes >= 1e7 else f"{nbytes / 1e6:.1f} MB"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
