"""Running blockwise work on this machine's threads or on a dask.distributed cluster.

:func:`run_tasks` computes a list of dask Delayed tasks (each writes one block of an
output and returns a small record) with determinate progress and cancellation:

- **locally** (no client): dask's threaded scheduler, progress counted by a scheduler
  callback and cancellation checked before every task starts;
- **on a cluster**: the client given (``client=``), one started for an address
  (``scheduler="tcp://host:8786"``), a :class:`distributed.LocalCluster` of ``workers``
  processes started for the call (and closed after), or the active client
  (:func:`distributed.get_client`) when there is one. Futures are watched as they finish,
  so progress from every worker reaches the callback; cancelling cancels the futures that
  have not run (a task that runs finishes its block; no block is half-written, as each
  writes its chunks and then records them).

A worker that dies has its tasks run again elsewhere by the scheduler (``distributed``
retries a task up to ``distributed.scheduler.allowed-failures`` times); the tasks write
their own regions, so running one twice writes the same pixels.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from typing import Any

from ..utils.lazy import require
from ..utils.progress import (
    Cancelled,
    CancelToken,
    ProgressCallback,
    is_cancelled,
    raise_if_cancelled,
    report,
)

__all__ = ["LOCAL_THREADS", "check_where", "cluster_client", "run_tasks"]

LOCAL_THREADS = 2
"""Threads of the local scheduler: one block computes (every core, inside numba or torch)
while another is read or written."""

POLL_SECONDS = 0.2
"""How often a distributed run looks at the cancel token while it waits for futures."""


def check_where(client: Any = None, scheduler: Any = None, workers: Any = None) -> None:
    """Check the options of :func:`cluster_client` before any work.

    Raises
    ------
    ValueError
        More than one of them, or ``workers`` not a positive integer.
    TypeError
        A ``scheduler`` that is not an address (a string).
    """
    given = [name for name, value in (("client", client), ("scheduler", scheduler),
                                       ("workers", workers)) if value is not None]  # fmt: skip
    if len(given) > 1:
        raise ValueError(
            f"give one of client, scheduler and workers, not {' and '.join(given)}: each "
            "says where to run"
        )
    if scheduler is not None and not isinstance(scheduler, str | os.PathLike):
        raise TypeError(
            f"scheduler must be an address such as 'tcp://host:8786' or a scheduler file, "
            f"not {type(scheduler).__name__}"
        )
    if workers is not None and (
        isinstance(workers, bool) or not isinstance(workers, int) or workers < 1
    ):
        raise ValueError(f"workers must be a positive number of processes, not {workers!r}")


@contextlib.contextmanager
def cluster_client(
    client: Any = None, scheduler: str | None = None, workers: int | None = None
) -> Iterator[Any]:
    """The dask.distributed client to run on, or None to run on local threads.

    Parameters
    ----------
    client : distributed.Client, optional
        Used as it is (not closed).
    scheduler : str, optional
        Address of a running scheduler (``tcp://host:8786``, or a scheduler file's path
        ending in ``.json``); a client is connected for the call and closed after.
    workers : int, optional
        Start a :class:`distributed.LocalCluster` of this many worker processes (one thread
        each; the machine's cores are shared out to torch in each) for the call.

    Without any of them, the active client (made earlier with ``distributed.Client()``)
    if there is one, else None.

    Raises
    ------
    ValueError
        More than one of ``client``, ``scheduler`` and ``workers``, or ``workers`` < 1.
    """
    check_where(client, scheduler, workers)
    if client is not None:
        yield client
        return
    if scheduler is not None:
        require("distributed", what="running on a dask cluster")
        from distributed import Client

        scheduler = os.fspath(scheduler)
        options = {"scheduler_file": scheduler} if scheduler.endswith(".json") else {
            "address": scheduler}  # fmt: skip
        with Client(**options) as connected:
            yield connected
        return
    if workers is not None:
        require("distributed", what="running on several worker processes")
        from distributed import Client, LocalCluster

        threads = max(1, (os.cpu_count() or 1) // workers)
        with (
            LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                         dashboard_address=":0", env=_torch_threads_env(threads)) as cluster,
            Client(cluster) as started,
        ):  # fmt: skip
            yield started
        return
    yield _active_client()


def _torch_threads_env(threads: int) -> dict[str, str]:
    """Environment of worker processes: the cores shared out between them (torch and
    numba read these when they start)."""
    value = str(threads)
    return {"OMP_NUM_THREADS": value, "MKL_NUM_THREADS": value, "NUMBA_NUM_THREADS": value}


def _active_client() -> Any:
    try:
        from distributed import get_client
    except ImportError:
        return None
    try:
        return get_client()
    except ValueError:  # no client has been made
        return None


def run_tasks(
    tasks: Sequence[Any],
    *,
    client: Any = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    done: int = 0,
    total: int | None = None,
) -> list[Any]:
    """Compute ``tasks`` (dask Delayed objects), reporting each finished one.

    Parameters
    ----------
    tasks : sequence of Delayed
        Independent tasks (they may share dependencies, which are computed once).
    client : distributed.Client, optional
        Run on this cluster; None runs on :data:`LOCAL_THREADS` local threads.
    progress : callable, optional
        ``progress(done + finished, total)`` after every finished task.
    cancel : threading.Event or callable, optional
        Checked before each task starts (locally) or every :data:`POLL_SECONDS`
        (distributed); when set, the tasks not yet finished are dropped and
        :class:`~napari_sr.utils.progress.Cancelled` is raised.
    done, total : int
        Progress units finished before these tasks (a resumed run) and in all.

    Returns
    -------
    list
        The tasks' results, in order.
    """
    total = len(tasks) + done if total is None else total
    if not tasks:
        report(progress, done, total)
        return []
    if client is None:
        return _run_local(tasks, progress, cancel, done, total)
    return _run_distributed(tasks, client, progress, cancel, done, total)


def _run_local(tasks, progress, cancel, done, total) -> list[Any]:
    import dask
    from dask.callbacks import Callback

    keys = {task.key for task in tasks}
    finished = [done]

    class Watch(Callback):
        def _pretask(self, key, dsk, state):
            raise_if_cancelled(cancel)

        def _posttask(self, key, result, dsk, state, worker_id):
            if key in keys:
                finished[0] += 1
                report(progress, finished[0], total)

    with Watch():
        results = dask.compute(*tasks, scheduler="threads", num_workers=LOCAL_THREADS)
    raise_if_cancelled(cancel)
    return list(results)


def _run_distributed(tasks, client, progress, cancel, done, total) -> list[Any]:
    from distributed import wait

    futures = client.compute(list(tasks))
    pending = set(futures)
    finished = done
    try:
        while pending:
            if is_cancelled(cancel):
                raise Cancelled("cancelled by the caller")
            try:
                result = wait(list(pending), timeout=POLL_SECONDS, return_when="FIRST_COMPLETED")
            except TimeoutError:
                continue
            for future in result.done:
                if future.status == "error":
                    future.result()  # raises the task's exception here
                finished += 1
                report(progress, finished, total)
            pending = set(result.not_done)
    except BaseException:
        client.cancel(list(pending))
        raise
    raise_if_cancelled(cancel)
    return client.gather(futures)
