"""The feature worker pool: forked processes that compute missing subjects in parallel.

Workers only read and compute (:func:`bench.data.compute.compute_arrays`); the calling process writes
every entry (:mod:`bench.data.cache`), so a worker that fails or is killed leaves nothing in the cache.
This module owns when a pool is safe and worth it, how its workers start (through
:func:`bench.core.pool.process_pool`), and how a dead worker becomes a one-line error naming the file.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import sys
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import numpy as np

from bench.core.errors import DataError
from bench.core.pool import process_pool
from bench.data.compute import compute_arrays, dataset_args
from bench.data.contents import Contents
from bench.data.features import FeatureConfig
from bench.data.source import DataSource


def feature_pool(n: int) -> ProcessPoolExecutor | None:
    """A pool of ``n`` forked worker processes, or None where that is no gain or unsafe (then features
    are computed in this process).

    Forked workers start at once (a spawned one re-imports numpy and scipy, ~2 s on a small machine).
    Forking is only safe on Linux, from a process running no other Python thread (a lock that thread
    holds at the fork stays held forever in the child) and not itself a daemonic pool worker (those may
    not have children). The pool forks all its workers on the first submit, before its own threads
    start."""
    if n < 2 or not sys.platform.startswith("linux") or threading.active_count() > 1:
        return None
    if multiprocessing.current_process().daemon:
        return None
    # fork: workers start at once; Ctrl-C is the parent's (workers write nothing, the parent stops them)
    return process_pool(n, "fork", parent_handles_interrupt=True, initializer=_reuse_freed_memory)


def _reuse_freed_memory() -> None:
    """Let glibc's malloc serve large arrays from the heap and keep them when freed, in this process.

    By default every array over 32 MB is a fresh ``mmap`` that the kernel faults in and zeroes page by
    page, then unmaps: reading and filtering one subject does that with ~0.5 GB, ~0.4 s of system time
    per subject (a third of the work) spent on the same memory again and again. Only for pool workers:
    they live for one extraction and hold one subject's memory at a time. No-op without glibc.
    """
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 1 << 30)  # M_MMAP_THRESHOLD: arrays up to 1 GiB come from the heap
        libc.mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD: keep up to 1 GiB of freed heap for reuse


def submit(pool: ProcessPoolExecutor, source: DataSource, subject: int, config: FeatureConfig,
           contents: Contents) -> Future:  # fmt: skip
    """Queue one subject; a pool already broken by a dead worker gives a future holding that error."""
    extra = dataset_args(source.dataset, source.subject_files(subject), contents)
    try:
        return pool.submit(compute_arrays, source.files[subject], subject, config, **extra)
    except BrokenProcessPool as exc:
        failed: Future = Future()
        failed.set_exception(exc)
        return failed


def worker_result(future: Future | None, path: Path) -> tuple[dict[str, np.ndarray], float] | None:
    """A pool worker's ({name: array}, seconds) for ``path``; None if no worker computed it."""
    if future is None:
        return None
    try:
        return future.result()
    except BrokenProcessPool:
        raise DataError(f"{path}: a feature process died before finishing it (out of memory?)") from None
