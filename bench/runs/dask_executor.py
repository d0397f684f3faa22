"""The Dask executor: units as tasks on a Dask distributed cluster.

Dask is a heavy optional dependency (``deap-bench[dask]``): ``distributed`` is imported inside the
functions that need it, so this module (and ``bench run`` without ``--executor dask``) imports without
it. Workers run :func:`bench.runs.unit_worker.run_task`.
"""

from __future__ import annotations

import importlib.util
import uuid
from collections.abc import Callable, Iterator, Sequence

from bench.core.errors import ConfigError
from bench.runs.job_queue import Started, bounded, ignore_started
from bench.runs.jobs import Job, Outcome, data_reference, fail_orphans
from bench.runs.unit_worker import run_task


def dask_available() -> bool:
    """Whether Dask distributed is installed (without importing it: that takes seconds)."""
    return importlib.util.find_spec("distributed") is not None


class DaskExecutor:
    """Units as tasks on a Dask distributed cluster at ``scheduler`` (an address or a ``Client``).

    As many units are in flight as the cluster has worker threads (asked again before each submission,
    so a cluster that scales up gets more). Each unit is submitted with ``retries`` (default 1): a unit
    that raises is tried once more; a unit whose worker dies is rescheduled by the scheduler
    (``distributed.scheduler.allowed-failures``). Workers need this package, the feature cache (shared
    path) and the tracking store (an MLflow server, or a sqlite file on a shared path for one machine).
    ``RunConfig.num_threads`` sets torch's threads per unit; else the worker's own (Dask's nanny starts
    workers with ``OMP_NUM_THREADS=1``).
    """

    name = "dask"

    def __init__(
        self, scheduler, *, retries: int = 1, task_fn: Callable | None = None, connect_timeout: str = "30s"
    ) -> None:
        self.scheduler = scheduler
        self.connect_timeout = connect_timeout
        self.retries = int(retries)
        self.task_fn = task_fn
        self._client = None

    def check(self, prepared, cache_dir=None) -> None:
        """Features in the cache and the scheduler reachable, else ConfigError (before any tracking)."""
        data_reference(prepared.features, cache_dir)
        self.connect()

    def connect(self):
        """The Dask client (connected once); an unreachable scheduler is a one-line ConfigError."""
        from distributed import Client  # heavy optional dependency: only with --executor dask

        if isinstance(self.scheduler, Client):
            return self.scheduler
        if self._client is None:
            try:
                self._client = Client(self.scheduler, timeout=self.connect_timeout)
            except (OSError, TimeoutError) as exc:
                raise ConfigError(f"cannot reach the Dask scheduler at {self.scheduler}: {exc}") from exc
        return self._client

    def slots(self) -> int:
        try:
            return max(1, sum(self.connect().nthreads().values()))
        except Exception:  # a cluster still starting: one at a time until it answers
            return 1

    def run(self, jobs: Sequence[Job], started: Started = ignore_started) -> Iterator[Outcome]:
        from distributed import Client, wait  # heavy optional dependency: only with --executor dask

        own = not isinstance(self.scheduler, Client)
        if not jobs:
            if own and self._client is not None:
                self._client.close()
                self._client = None
            return
        dask_client = self.connect()
        fn = self.task_fn or run_task
        tag = uuid.uuid4().hex[:8]
        futures: list = []

        def submit(job: Job):
            task = job.ctx.task(job.unit, job.ctx.prepared.config.num_threads)
            key = f"bench-unit-{job.ctx.prepared.run_key}-{task.unit_key}-{tag}"
            futures.append(dask_client.submit(fn, task, key=key, retries=self.retries, pure=False))
            return futures[-1]

        try:
            yield from bounded(
                jobs,
                capacity=self.slots,
                submit=submit,
                wait_any=lambda fs: set(wait(list(fs), return_when="FIRST_COMPLETED").done),
                result=lambda fut: fut.result(),
                started=started,
            )
        finally:
            for fut in futures:
                if not fut.done():
                    fut.cancel()
            if own:
                dask_client.close()
                self._client = None
            fail_orphans(jobs)
