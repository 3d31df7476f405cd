"""The ``napari-sr`` command: parses arguments, calls the API, prints.

Bad input never shows a traceback: it prints one line, ``napari-sr: error: ...``, on
stderr and exits with status 2; messages of the API are reworded for the command line
(``axes='TYX'`` becomes ``--axes TYX``). An unexpected error is one line too, and exit 2;
``NAPARI_SR_DEBUG=1`` shows its traceback. Ctrl-C exits with 130 and SIGTERM (``timeout``,
Slurm, ``docker stop``) with 143, after one line, ``napari-sr: interrupted; nothing was
written``, and leave no output file (``train`` first saves a checkpoint to resume from).
Our own warnings (such as the bicubic fallback) are printed after a successful command as
``napari-sr: warning: ...`` lines; libraries' warnings and log messages only with
``--verbose``.

One module per purpose, imports pointing one way (commands → shared helpers):

- ``_main``: :func:`main` and :func:`build_parser`, which asks each command module to add
  its subcommands;
- commands: ``_single_image`` (upscale, degrade, compare), ``_inspect`` (info, samples,
  models), ``_train`` (train), ``_selfsup`` (isotropic, zssr), ``_multiframe`` (misr);
- shared: ``_parsers`` (the parser class, the options several commands take, as parent
  parsers, and option values), ``_running`` (checking OUT, the progress bar and stop event,
  writing the result), ``_output`` (progress bar, notices, one-line messages), ``_wording``
  (API messages in the command line's words).

Importing this package is cheap: the API is imported by a command when it runs.
"""

from ._main import DEBUG_ENV, EXIT_USAGE, build_parser, main
from ._output import ProgressBar
from ._running import EXIT_INTERRUPTED, EXIT_TERMINATED
from ._wording import cli_wording

__all__ = [
    "DEBUG_ENV",
    "EXIT_INTERRUPTED",
    "EXIT_TERMINATED",
    "EXIT_USAGE",
    "ProgressBar",
    "build_parser",
    "cli_wording",
    "main",
]
