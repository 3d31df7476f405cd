"""Atomic file writes: a file appears whole or not at all, and nothing is overwritten unasked."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def atomic_write(
    path: str | os.PathLike, writer: Callable[[str], None], *, overwrite: bool
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
    """
    path = check_target(path, overwrite=overwrite)
    folder = path.parent
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".part")
    os.close(fd)
    try:
        writer(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        if overwrite:
            os.replace(tmp, path)
        else:
            _link_exclusive(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    return path


def check_target(path: str | os.PathLike, *, overwrite: bool) -> Path:
    """Check that ``path`` can be created: not a folder, its folder exists, and it does
    not exist already unless ``overwrite``. Returns it as a Path."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{str(path)!r} is a folder; give a file name to write")
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


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
