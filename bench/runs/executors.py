"""Executors: where units are computed - in this process, a local process pool, or Dask.

The runner hands the units that are not finished yet to an executor as :class:`~bench.runs.jobs.Job` s
(a unit with its run's :class:`~bench.runs.jobs.UnitContext`), one run's (``bench run``) or a whole
grid's (``bench reproduce``, :mod:`bench.runs.reproduce`); the executor yields an
:class:`~bench.runs.jobs.Outcome` per job as it completes, keeping at most one job per worker in flight
(:mod:`bench.runs.job_queue`). This module holds the local executor (in-process, the default), the
process pool executor and :func:`make_executor`; the Dask executor is :mod:`bench.runs.dask_executor`.
The pool and Dask executors send each unit as a small serialisable :class:`~bench.runs.jobs.UnitTask`
to a worker (:mod:`bench.runs.unit_worker`). Executors need the plan and unit layers only; they never
import the runner, which imports them.

Every executor claims a unit before training it (:mod:`bench.tracking.claims`, in
:func:`bench.runs.unit_tracking.track_unit`), so two commands on the same parent never train a unit
twice. The local executor skips units another command holds and comes back to them at the end; pool and
Dask workers wait for such a unit in their slot and then reuse its result.

Numbers do not depend on the executor: a unit's seed depends only on the run seed and the unit key. On
CPU they do depend on torch's thread count (float reductions are split differently), so the pool and Dask
executors give the local executor's numbers exactly when every process uses the same thread count
(``RunConfig.num_threads`` / ``bench run --threads N``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, wait

from bench.core.checks import check_option
from bench.core.errors import ConfigError
from bench.core.host import usable_cores
from bench.core.pool import is_broken, process_pool, stop_pool
from bench.runs.dask_executor import DaskExecutor, dask_available
from bench.runs.job_queue import Started, bounded, ignore_started
from bench.runs.jobs import Job, Outcome, data_reference, fail_orphans
from bench.runs.unit_worker import run_task, set_threads

EXECUTORS = ("local", "pool", "dask")

WORKER_MODULES = (
    "bench.runs.plan",
    "bench.runs.unit",
    "bench.runs.unit_tracking",
    "bench.runs.jobs",
    "bench.runs.unit_worker",
)
"""What a pool worker imports to run a unit: the forkserver imports them once, before it forks workers."""


def stack_groups(jobs: Sequence[Job]) -> list[list[Job]]:
    """The jobs in queue order, cut into the groups the local executor trains at once: consecutive jobs of
    one run with ``train.stack = N`` in groups of up to N, every other job alone."""
    groups: list[list[Job]] = []
    for job in jobs:
        n = job.ctx.stack_size
        last = groups[-1] if groups else None
        if last is not None and last[0].ctx is job.ctx and len(last) < n:
            last.append(job)
        else:
            groups.append([job])
    return groups


class LocalExecutor:
    """Runs jobs one after the other in this process (progress per epoch); a run with ``train.stack = N``
    trains its units N at a time (:func:`stack_groups`, :func:`bench.runs.unit_tracking.track_units`).

    A unit that raises is yielded as a failed :class:`Outcome` (every unit of its group with it); the
    caller decides whether to stop (``bench run``) or go on (``bench reproduce``).
    """

    name = "local"

    def check(self, prepared, cache_dir=None) -> None:
        """Nothing to check: units run on the prepared data in this process."""

    def slots(self) -> int:
        return 1

    def run(self, jobs: Sequence[Job], started: Started = ignore_started) -> Iterator[Outcome]:
        """Units claimed by another command go last (then wait for them): their result is reused."""
        deferred = []
        for group in stack_groups(jobs):
            for job in group:
                started(job, 0)
            try:
                if len(group) == 1:  # no stacking: the plain one-unit path
                    results = [group[0].ctx.track(group[0].unit, group[0].fold, wait=False)]
                else:
                    results = group[0].ctx.track_group([(j.unit, j.fold) for j in group], wait=False)
            except Exception as exc:  # the group's child runs are FAILED
                for job in group:
                    yield Outcome(job, error=exc)
                continue
            for job, res in zip(group, results, strict=True):
                if res is None:
                    deferred.append(job)
                else:
                    yield Outcome(job, result=res)
        for job in deferred:
            started(job, 0)
            try:
                yield Outcome(job, result=job.ctx.track(job.unit, job.fold))
            except Exception as exc:
                yield Outcome(job, error=exc)


class PoolExecutor:
    """A pool of ``workers`` local processes (forkserver); each uses ``usable cores // workers`` threads.

    ``RunConfig.num_threads`` overrides the per-worker thread count. A failing unit does not stop the
    others; each yields a failed :class:`Outcome`. A worker that dies breaks the pool and every unit in
    flight with it: the pool is started again and those units are tried ``retries`` more times (default
    1, as on Dask), so a worker killed mid-grid costs only the units it was running.
    ``task_fn`` replaces :func:`run_task` (a picklable wrapper around it; for tests and instrumentation).
    """

    name = "pool"

    def __init__(self, workers: int, *, task_fn: Callable | None = None, retries: int = 1) -> None:
        if int(workers) < 1:
            raise ConfigError(f"workers={workers!r} must be >= 1")
        self.workers = int(workers)
        self.task_fn = task_fn
        self.retries = int(retries)

    def check(self, prepared, cache_dir=None) -> None:
        """Workers read the features from the cache: raise ConfigError if they are not there."""
        data_reference(prepared.features, cache_dir)

    def slots(self) -> int:
        return self.workers

    def threads_per_worker(self) -> int:
        return max(1, usable_cores() // self.workers)

    def run(self, jobs: Sequence[Job], started: Started = ignore_started) -> Iterator[Outcome]:
        if not jobs:
            return
        # one thread count for the pool: the first run's setting, else cores // workers
        threads = next((j.ctx.prepared.config.num_threads for j in jobs if j.ctx.prepared.config.num_threads),
                       None) or self.threads_per_worker()  # fmt: skip
        fn = self.task_fn or run_task
        n = min(self.workers, len(jobs))

        def new_pool():
            # forkserver: workers fork from a clean server process that imported the unit code once (no
            # threads, no MLflow connections inherited from this process; later pools start in ~0.1 s).
            # Ctrl-C stays with the workers: a unit in flight marks its child run KILLED itself, so the
            # next command runs it again at once instead of waiting for its claim to go stale.
            return process_pool(
                n, "forkserver", parent_handles_interrupt=False, initializer=set_threads, initargs=(threads,),
                preload=WORKER_MODULES,
            )  # fmt: skip

        pool = [new_pool()]
        tries: dict[int, int] = {}

        def submit(job: Job):
            try:
                return pool[0].submit(fn, job.ctx.task(job.unit, threads))
            except Exception as exc:
                if not is_broken(exc):
                    raise
                # a worker died: the units in flight come back through retry()
                stop_pool(pool[0], timeout=0)
                pool[0] = new_pool()
                return pool[0].submit(fn, job.ctx.task(job.unit, threads))

        def retry(job: Job, exc: BaseException) -> bool:
            """A dead worker breaks the pool and every unit in flight with it: each is tried once more on
            a new pool (the unit that killed its worker, if it does so again, then fails alone)."""
            tries[id(job)] = tries.get(id(job), 0) + 1
            return is_broken(exc) and tries[id(job)] <= self.retries

        try:
            yield from bounded(
                jobs,
                capacity=lambda: self.workers,
                submit=submit,
                wait_any=lambda fs: wait(fs, return_when=FIRST_COMPLETED).done,
                result=lambda fut: fut.result(),
                started=started,
                retry=retry,
            )
        finally:
            stop_pool(pool[0])  # the units in flight end (Ctrl-C reaches them too) and are tracked
            fail_orphans(jobs)


def check_stack_executor(stack: int | None, executor) -> None:
    """``train.stack`` groups units in this process: refuse it with a pool or Dask executor (one line)."""
    if stack and executor is not None and executor.name != "local":
        raise ConfigError(
            f"--stack {stack} trains units together in this process: it needs the local executor, not "
            f"{executor.name}"
        )


def make_executor(kind: str | None = None, *, workers: int | None = None, scheduler: str | None = None):
    """An executor from command-line values; ``kind=None`` is ``pool`` if ``workers > 1``, else local."""
    if workers is not None and int(workers) < 1:
        raise ConfigError(f"--workers {workers}: must be >= 1")
    if kind is None:
        kind = "dask" if scheduler else ("pool" if workers and workers > 1 else "local")
    kind = kind.strip().lower()
    check_option("--executor", kind, EXECUTORS)
    if scheduler is not None and kind != "dask":
        raise ConfigError("--scheduler only applies with --executor dask")
    if kind == "local":
        if workers and workers > 1:
            raise ConfigError("--workers > 1 needs --executor pool (local runs units in this process)")
        return LocalExecutor()
    if kind == "pool":
        return PoolExecutor(workers or usable_cores())
    if workers is not None:
        raise ConfigError("--workers applies to --executor pool; a Dask cluster is sized where it starts")
    if not scheduler:
        raise ConfigError("--executor dask needs --scheduler tcp://HOST:PORT (the Dask scheduler's address)")
    if "://" not in scheduler or scheduler.endswith("://"):
        raise ConfigError(f"--scheduler {scheduler!r}: expected an address like tcp://HOST:8786")
    if not dask_available():
        raise ConfigError("--executor dask needs Dask distributed: install deap-bench[dask]")
    return DaskExecutor(scheduler)
