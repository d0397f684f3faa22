"""The executors' queue: at most one job per worker slot in flight, in queue order, each yielded as an
:class:`~bench.runs.jobs.Outcome` as it completes, and a job whose error is worth another try put back
in front (a pool broken by a dead worker).

Shared by the pool and Dask executors (:mod:`bench.runs.executors`, :mod:`bench.runs.dask_executor`):
they differ only in how a job is submitted and waited for.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from bench.runs.jobs import Job, Outcome

Started = Callable[[Job, int], None]
"""Called when a job starts on a worker slot (0 .. slots-1): what each worker is on."""


def ignore_started(job: Job, slot: int) -> None:
    """The default ``started`` callback."""


class Slots:
    """Worker slots 0..n-1: which one a job took, so progress can say what each worker is on."""

    def __init__(self) -> None:
        self.free: list[int] = []
        self.next = 0

    def take(self) -> int:
        if self.free:
            return self.free.pop(0)
        self.next += 1
        return self.next - 1

    def give(self, slot: int) -> None:
        self.free.append(slot)
        self.free.sort()


def bounded(
    jobs: Sequence[Job],
    capacity: Callable[[], int],
    submit: Callable[[Job], object],
    wait_any: Callable[[set], set],
    result: Callable[[object], object],
    started: Started,
    retry: Callable[[Job, BaseException], bool] = lambda job, exc: False,
) -> Iterator[Outcome]:
    """Keep at most ``capacity()`` jobs in flight, in queue order, and yield each as it completes.

    Submitting only what the workers can run now keeps the queue order (largest first) exact and tells
    which worker slot each running job holds. A job whose ``retry(job, error)`` is true goes back to the
    front of the queue instead of failing.
    """
    queue = list(jobs)
    slots = Slots()
    running: dict[object, tuple[Job, int]] = {}
    while queue or running:
        while queue and len(running) < max(1, capacity()):
            job = queue.pop(0)
            try:
                fut = submit(job)
            except Exception as exc:  # e.g. a pool broken by a dead worker: this job cannot start
                yield Outcome(job, error=exc)
                continue
            slot = slots.take()
            started(job, slot)
            running[fut] = (job, slot)
        for fut in wait_any(set(running)):
            job, slot = running.pop(fut)
            slots.give(slot)
            try:
                res = result(fut)
            except Exception as exc:  # the unit's child run is FAILED (or RUNNING if its worker died)
                if retry(job, exc):
                    queue.insert(0, job)
                else:
                    yield Outcome(job, error=exc)
            else:
                yield Outcome(job, result=res)
