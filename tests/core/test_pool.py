"""bench.core.pool: start methods, the Ctrl-C policy, stopping without hanging, broken vs failed tasks."""

from __future__ import annotations

import os
import signal
import time

import pytest

from bench.core.pool import is_broken, process_pool, stop_pool


def _sigint_handler(_: int = 0) -> str:
    """What the worker does on Ctrl-C: 'ignore' when the parent handles it."""
    handler = signal.getsignal(signal.SIGINT)
    return "ignore" if handler == signal.SIG_IGN else "raise"


def _fail(message: str) -> None:
    raise ValueError(message)


def _die(_: int = 0) -> None:
    os._exit(3)


@pytest.mark.parametrize("parent", [True, False])
def test_the_interrupt_policy_reaches_the_worker(parent):
    pool = process_pool(1, "fork", parent_handles_interrupt=parent)
    try:
        assert pool.submit(_sigint_handler).result(timeout=60) == ("ignore" if parent else "raise")
    finally:
        stop_pool(pool)


def test_a_task_error_is_not_a_broken_pool():
    pool = process_pool(1, "fork", parent_handles_interrupt=True)
    try:
        exc = pool.submit(_fail, "bad value").exception(timeout=60)
        assert isinstance(exc, ValueError) and not is_broken(exc)
        dead = pool.submit(_die).exception(timeout=60)
        assert is_broken(dead)
    finally:
        stop_pool(pool, timeout=0)


def test_stop_with_a_timeout_terminates_a_worker_that_does_not_end():
    pool = process_pool(1, "fork", parent_handles_interrupt=True)
    fut = pool.submit(time.sleep, 120)
    time.sleep(0.5)  # the worker is in the task
    t0 = time.monotonic()
    stop_pool(pool, timeout=0.5)
    assert time.monotonic() - t0 < 15
    assert fut.running() or fut.done()


def test_preload_is_forkserver_only_and_methods_are_checked():
    with pytest.raises(ValueError, match="forkserver"):
        process_pool(1, "spawn", parent_handles_interrupt=True, preload=["json"])
    with pytest.raises(ValueError, match="start method"):
        process_pool(1, "thread", parent_handles_interrupt=True)
