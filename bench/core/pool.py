"""Local process pools: how the package starts, interrupts and stops worker processes.

Three kinds of work run in pools of local processes, each under the start method that suits it (the
caller names it, with the reason, where it creates its pool): the feature cache's numpy work (fork:
workers start at once), training units (forkserver: a clean server process that imported the unit code
once) and tuning trials (spawn: a fresh interpreter per worker). What they share lives here, so a pool
is started, interrupted and stopped one way:

- :func:`process_pool` creates a :class:`~concurrent.futures.ProcessPoolExecutor` for a start method;
  ``parent_handles_interrupt`` says who handles Ctrl-C. Work that writes nothing a half-finished task
  could spoil is left to the parent (:func:`ignore_interrupt`), which stops the workers; work that must
  record its own end (a unit's child run KILLED, a tuning trial FAIL) keeps Ctrl-C in the worker.
- :func:`interrupt_workers` passes an interrupt on to the workers (a ``kill -INT`` of the parent alone).
- :func:`stop_pool` cancels the tasks not started yet and waits for those in flight, then terminates
  workers that outlive ``timeout``, so a stop never hangs on a worker that does not end.
- :func:`is_broken` tells a pool broken by a dead worker (every task in flight is lost with it, the pool
  must be replaced) from a task's own error (only that task failed).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

START_METHODS = ("fork", "forkserver", "spawn")


def ignore_interrupt() -> None:
    """Worker initialiser: Ctrl-C is the parent's to handle (it stops the workers).

    The terminal sends SIGINT to the whole process group; a worker that raised KeyboardInterrupt while
    waiting for work would die and break the pool under a parent that is still cleaning up.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _start_worker(ignore: bool, initializer: Callable | None, initargs: tuple) -> None:
    """The initialiser every pool worker runs: the interrupt policy first, then the caller's own."""
    if ignore:
        ignore_interrupt()
    else:  # Python's KeyboardInterrupt even where the parent started with SIGINT ignored (a background job
        # of a non-interactive shell passes that on): the interrupt the parent forwards must reach the task
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if initializer is not None:
        initializer(*initargs)


def process_pool(
    workers: int,
    method: str,
    *,
    parent_handles_interrupt: bool,
    initializer: Callable | None = None,
    initargs: tuple = (),
    preload: Sequence[str] = (),
) -> ProcessPoolExecutor:
    """A pool of ``workers`` processes started with ``method`` (one of :data:`START_METHODS`).

    Parameters
    ----------
    workers
        Worker processes (>= 1); they start as tasks are submitted.
    method
        The multiprocessing start method; the caller says why it needs that one.
    parent_handles_interrupt
        True: workers ignore Ctrl-C (:func:`ignore_interrupt`) and the parent stops them. False: a worker
        sees Ctrl-C in its task, so the task can record how it ended.
    initializer, initargs
        Run in each worker after the interrupt policy is set (e.g. torch's thread count).
    preload
        Modules the forkserver imports once, so each worker forked from it starts with them (forkserver
        only: the server is shared by every forkserver pool of this process).
    """
    if method not in START_METHODS:
        raise ValueError(f"start method {method!r}: expected one of {', '.join(START_METHODS)}")
    ctx = multiprocessing.get_context(method)
    if preload:
        if method != "forkserver":
            raise ValueError("preload applies to the forkserver start method only")
        ctx.set_forkserver_preload(list(preload))
    return ProcessPoolExecutor(
        max_workers=int(workers),
        mp_context=ctx,
        initializer=_start_worker,
        initargs=(bool(parent_handles_interrupt), initializer, tuple(initargs)),
    )


def _workers(pool: ProcessPoolExecutor) -> list:
    """The pool's live worker processes. The executor keeps them in a private attribute (there is no
    public accessor), read before shutdown, which drops it."""
    return [p for p in list((getattr(pool, "_processes", None) or {}).values()) if p.is_alive()]


def interrupt_workers(pool: ProcessPoolExecutor) -> None:
    """Send SIGINT to every live worker (what Ctrl-C in the terminal does), e.g. after the parent alone was
    interrupted; workers that ignore Ctrl-C are not affected."""
    for proc in _workers(pool):
        if proc.pid:
            with contextlib.suppress(OSError):
                os.kill(proc.pid, signal.SIGINT)


def stop_pool(pool: ProcessPoolExecutor, *, timeout: float | None = None) -> None:
    """Cancel the tasks not started yet and let those in flight end; never hangs past ``timeout``.

    ``timeout=None`` waits for the tasks in flight (a normal end, or work that ends by itself soon).
    Otherwise workers still running ``timeout`` seconds later are terminated (their tasks are lost) and
    the pool is left without waiting for its manager thread: a worker killed while sending its result
    can leave that thread blocked on a half message.
    """
    if timeout is None:
        pool.shutdown(wait=True, cancel_futures=True)
        return
    procs = _workers(pool)
    pool.shutdown(wait=False, cancel_futures=True)
    deadline = time.monotonic() + max(0.0, float(timeout))
    for proc in procs:
        proc.join(max(0.0, deadline - time.monotonic()))
    for proc in procs:
        if proc.is_alive():
            proc.terminate()
            proc.join(10)


def is_broken(exc: BaseException) -> bool:
    """True if ``exc`` says the pool broke (a worker died, taking every task in flight with it), False
    for a task's own error (only that task failed; the pool goes on)."""
    return isinstance(exc, BrokenProcessPool)
