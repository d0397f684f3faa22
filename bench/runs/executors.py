"""Executors: where units are computed - in this process, a local process pool, or Dask.

The runner keeps the parent run, resume and the summary in the main process and hands the units that
are not finished yet to an executor as :class:`Job` s (a unit with its run's :class:`UnitContext`), one
run's (``bench run``) or a whole grid's (``bench reproduce``, :mod:`bench.runs.reproduce`); the executor
yields an :class:`Outcome` per job as it completes, keeping at most one job per worker in flight.
The local executor runs them in-process (the default). The pool
and Dask executors send each unit as a small serialisable :class:`UnitTask` to a worker, which rebuilds
the prepared run from the feature cache (the features are computed once, in the main process, before
any worker starts), runs the unit inside its own child run (:func:`bench.runs.unit.track_unit`, the same
code the local executor uses) and returns the unit's result. Executors need the plan and unit layers
only (:mod:`bench.runs.plan`, :mod:`bench.runs.unit`); they never import the runner, which imports them.

A unit whose worker dies leaves its child run RUNNING, a unit that fails leaves it FAILED: never
FINISHED, so no partial result is counted and the next run of the same command runs it again. When a
remote executor has ended, child runs still RUNNING under the parent whose claim is stale are marked
FAILED (nothing runs them any more). The parent is FINISHED only when every unit is.

Every executor claims a unit before training it (:mod:`bench.tracking.claims`, in
:func:`bench.runs.unit.track_unit`),
so two commands on the same parent never train a unit twice. The local executor skips units another
command holds and comes back to them at the end; pool and Dask workers wait for such a unit in their
slot and then reuse its result.

Numbers do not depend on the executor: a unit's seed depends only on the run seed and the unit key. On
CPU they do depend on torch's thread count (float reductions are split differently), so the pool and Dask
executors give the local executor's numbers exactly when every process uses the same thread count
(``RunConfig.num_threads`` / ``bench run --threads N``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from bench.core.checks import check_option
from bench.core.errors import BenchError, ConfigError, DataError
from bench.core.host import usable_cores
from bench.runs.plan import prepare
from bench.runs.progress import Reporter
from bench.runs.unit import stacks, track_unit, track_units

EXECUTORS = ("local", "pool", "dask")


class UnitsFailed(BenchError):
    """Some units failed or lost their worker; finished units are kept, the parent run is FAILED."""


# ----------------------------------------------------------------------------------- what travels
@dataclass(frozen=True)
class UnitTask:
    """Everything a worker needs to run one unit: plain values only (pickles in a few kB).

    ``data`` locates the features in the feature cache by content (see :func:`data_reference`), so a
    worker needs the cache but not the DEAP folder.
    """

    config: dict
    data: dict
    unit_key: str
    run_key: str
    tracking_uri: str
    experiment_id: str
    parent_run_id: str
    tags: dict[str, str]
    num_threads: int | None = None


def data_reference(features, cache_dir: str | Path | None = None) -> dict:
    """Where a worker finds ``features``: the cache folder, feature config and each file's sha256.

    Raises ConfigError if a subject's entry is not in that cache (features passed in memory, or
    prepared under another cache folder: pass ``cache_dir``).
    """
    from bench.data.cache import entry_path
    from bench.data.cross import CrossFeatures
    from bench.data.paths import cache_root

    if isinstance(features, CrossFeatures):
        raise ConfigError(
            "cross-dataset runs are one fold (one unit per task group): run them with the local executor, "
            "not a process pool or Dask cluster"
        )
    root = cache_root(cache_dir).resolve()
    missing = [
        int(s)
        for s, digest in features.file_digests.items()
        if not (entry_path(features.config, digest, root, features.contents) / "meta.json").is_file()
    ]
    if missing or not features.file_digests:
        raise ConfigError(
            f"features of subject(s) {', '.join(map(str, missing)) or 'all'} are not in the feature cache "
            f"{root}; workers read features from the cache: pass cache_dir (or set $DEAP_BENCH_CACHE) to "
            "the folder they were prepared in"
        )
    return {
        "cache_dir": str(root),
        "feature_config": features.config.to_dict(),
        "subjects": [int(s) for s in features.subjects],
        "file_digests": {str(int(s)): d for s, d in features.file_digests.items()},
        "synthetic": bool(features.synthetic),
        "dataset": features.dataset,
        "fingerprint": features.fingerprint,
        **({} if features.contents.is_default else {"contents": features.contents.to_dict()}),
    }


def load_features(data: dict):
    """The FeatureSet that :func:`data_reference` describes, read (memory-mapped) from the cache."""
    from bench.data.cache import load_cached
    from bench.data.contents import Contents
    from bench.data.features import FeatureConfig

    fs = load_cached(
        FeatureConfig.from_dict(data["feature_config"]),
        {int(s): data["file_digests"][str(s)] for s in data["subjects"]},
        synthetic=bool(data["synthetic"]),
        cache_dir=data["cache_dir"],
        dataset=data.get("dataset", "deap"),
        contents=Contents(**data.get("contents", {})),
    )
    if fs.fingerprint != data["fingerprint"]:
        raise DataError(f"{data['cache_dir']}: cached features do not match the run's data fingerprint")
    return fs


# --------------------------------------------------------------------------------- worker side
_WORKER: dict = {"features": {}, "prepared": {}, "clients": {}}
"""Per worker process: the feature sets and rebuilt runs it has seen (a grid sends units of many runs to
one worker; they share one feature set and its model inputs), and one tracking client per URI."""
_KEEP_PREPARED = 16
_KEEP_FEATURES = 2


def _init_worker(num_threads: int) -> None:
    torch.set_num_threads(max(1, int(num_threads)))


def _remember(memo: dict, key, value, keep: int):
    """Insert ``key`` as the newest entry of ``memo`` and drop the oldest beyond ``keep``."""
    memo.pop(key, None)
    memo[key] = value
    while len(memo) > keep:
        memo.pop(next(iter(memo)))
    return value


def _worker_prepared(task: UnitTask):
    from bench.config.run import RunConfig

    prepared = _WORKER["prepared"]
    if task.run_key in prepared:
        return _remember(prepared, task.run_key, prepared[task.run_key], _KEEP_PREPARED)
    # runs of one data set share its features, unless their models read different cache contents
    fp = f"{task.data['fingerprint']}:{sorted(task.data.get('contents', {}).items())}"
    features = _WORKER["features"].get(fp)
    if features is None:
        features = _remember(_WORKER["features"], fp, load_features(task.data), _KEEP_FEATURES)
    p = prepare(RunConfig.from_dict(task.config), features=features)
    if p.run_key != task.run_key:
        raise RuntimeError(f"worker rebuilt run {p.run_key}, expected {task.run_key}")
    return _remember(prepared, task.run_key, p, _KEEP_PREPARED)


def run_task(task: UnitTask):
    """Run one unit on a worker: rebuild the prepared run, track the unit as a child run, return it.

    Returns the :class:`bench.runs.unit.UnitResult` (metrics, history, predictions, child run id).
    """
    from bench.core.host import resolve_device
    from bench.tracking.store import client

    if task.num_threads:
        torch.set_num_threads(int(task.num_threads))
    p = _worker_prepared(task)
    unit, fold = next((u, f) for u, f in p.units if u.key == task.unit_key)
    cl = _WORKER["clients"].get(task.tracking_uri)
    if cl is None:
        cl = _WORKER["clients"][task.tracking_uri] = client(task.tracking_uri)
    device = resolve_device(p.config.device)
    return track_unit(
        cl, p, unit, fold, device, Reporter(), task.experiment_id, task.parent_run_id, task.tags
    )


# ---------------------------------------------------------------------------------- main side
@dataclass
class UnitContext:
    """What the runner hands an executor per run: the prepared run and its tracking, in the main process."""

    prepared: object
    client: object
    experiment_id: str
    parent_run_id: str
    tags: dict[str, str]
    device: torch.device
    reporter: object
    tracking_uri: str
    cache_dir: str | Path | None = None
    label: str = ""
    """The run's name in progress lines and failure reports (``model|protocol|split|variant``)."""
    _data: dict | None = field(default=None, repr=False)

    def track(self, unit, fold, *, wait: bool = True):
        """Claim, run and track one unit in this process (None: claimed elsewhere and ``wait`` is False)."""
        return track_unit(
            self.client, self.prepared, unit, fold, self.device, self.reporter,
            self.experiment_id, self.parent_run_id, self.tags, wait=wait,
        )  # fmt: skip

    @property
    def stack_size(self) -> int:
        """Units of this run the local executor trains at once: ``train.stack``, or 1 without stacking."""
        return int(self.prepared.config.train.stack) if stacks(self.prepared) else 1

    def track_group(self, pairs, *, wait: bool = True) -> list:
        """:meth:`track` for several units trained together (``train.stack``): one entry per unit."""
        return track_units(
            self.client, self.prepared, pairs, self.device, self.reporter,
            self.experiment_id, self.parent_run_id, self.tags, wait=wait,
        )  # fmt: skip

    def task(self, unit, num_threads: int | None = None) -> UnitTask:
        """The serialisable task of one unit."""
        if self._data is None:
            self._data = data_reference(self.prepared.features, self.cache_dir)
        return UnitTask(
            config=self.prepared.config.to_dict(), data=self._data, unit_key=unit.key,
            run_key=self.prepared.run_key, tracking_uri=self.tracking_uri, experiment_id=self.experiment_id,
            parent_run_id=self.parent_run_id, tags=dict(self.tags), num_threads=num_threads,
        )  # fmt: skip

    def fail_orphans(self) -> None:
        """Mark child runs still RUNNING under the parent FAILED if their claim is stale (worker gone).

        A live claim belongs to another command working on the same parent: it is left alone.
        """
        from bench.tracking.claims import is_live
        from bench.tracking.store import child_runs

        for run in child_runs(self.client, self.experiment_id, self.parent_run_id):
            if run.info.status == "RUNNING" and not is_live(run):
                self.client.set_terminated(run.info.run_id, status="FAILED")


@dataclass(frozen=True, eq=False)
class Job:
    """One unit of one run, queued on an executor; ``cost`` (estimated seconds) orders the queue."""

    ctx: UnitContext
    unit: object
    fold: object
    cost: float = 0.0

    @property
    def name(self) -> str:
        return f"{self.ctx.label} {self.unit.key}".strip()


@dataclass(frozen=True, eq=False)
class Outcome:
    """What became of a job: its result, or the error that stopped it (never both)."""

    job: Job
    result: object = None
    error: BaseException | None = None


Started = Callable[[Job, int], None]
"""Called when a job starts on a worker slot (0 .. slots-1): what each worker is on."""


def _ignore(job: Job, slot: int) -> None:
    """The default ``started`` callback."""


def error_line(exc: BaseException) -> str:
    """``Type: first line of the message``: how a failed unit is named in one line."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}".rstrip(": ")


def failure_error(failures: Sequence[tuple[str, BaseException]], total: int) -> UnitsFailed:
    """One line: how many units failed, each distinct error once with the units it hit."""
    by_error: dict[str, list[str]] = {}
    for key, exc in failures:
        by_error.setdefault(error_line(exc), []).append(key)
    parts = [
        f"{err} ({', '.join(keys[:4])}{', ...' if len(keys) > 4 else ''})" for err, keys in by_error.items()
    ]
    return UnitsFailed(
        f"{len(failures)} of {total} units failed: {'; '.join(parts[:3])}; finished units are kept in "
        "MLflow: run the same command again to resume"
    )


def _fail_orphans(jobs: Sequence[Job]) -> None:
    """Once per run of ``jobs``: its child runs left RUNNING by a dead worker are marked FAILED."""
    seen: set[int] = set()
    for job in jobs:
        if id(job.ctx) not in seen:
            seen.add(id(job.ctx))
            job.ctx.fail_orphans()


class _Slots:
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
    trains its units N at a time (:func:`stack_groups`, :func:`bench.runs.unit.track_units`).

    A unit that raises is yielded as a failed :class:`Outcome` (every unit of its group with it); the
    caller decides whether to stop (``bench run``) or go on (``bench reproduce``).
    """

    name = "local"

    def check(self, prepared, cache_dir=None) -> None:
        """Nothing to check: units run on the prepared data in this process."""

    def slots(self) -> int:
        return 1

    def run(self, jobs: Sequence[Job], started: Started = _ignore) -> Iterator[Outcome]:
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


def _bounded(
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
    slots = _Slots()
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

    def run(self, jobs: Sequence[Job], started: Started = _ignore) -> Iterator[Outcome]:
        import multiprocessing
        from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
        from concurrent.futures.process import BrokenProcessPool

        if not jobs:
            return
        # one thread count for the pool: the first run's setting, else cores // workers
        threads = next((j.ctx.prepared.config.num_threads for j in jobs if j.ctx.prepared.config.num_threads),
                       None) or self.threads_per_worker()  # fmt: skip
        fn = self.task_fn or run_task
        # forkserver: workers fork from a clean server process that imported the unit code once (no
        # threads, no MLflow connections inherited from this process; later pools start in ~0.1 s)
        ctx_mp = multiprocessing.get_context("forkserver")
        ctx_mp.set_forkserver_preload(["bench.runs.plan", "bench.runs.unit", "bench.runs.executors"])
        n = min(self.workers, len(jobs))

        def new_pool() -> ProcessPoolExecutor:
            return ProcessPoolExecutor(
                max_workers=n, mp_context=ctx_mp, initializer=_init_worker, initargs=(threads,)
            )

        pool = [new_pool()]
        tries: dict[int, int] = {}

        def submit(job: Job):
            try:
                return pool[0].submit(fn, job.ctx.task(job.unit, threads))
            except BrokenProcessPool:  # a worker died: the units in flight come back through retry()
                pool[0].shutdown(wait=False, cancel_futures=True)
                pool[0] = new_pool()
                return pool[0].submit(fn, job.ctx.task(job.unit, threads))

        def retry(job: Job, exc: BaseException) -> bool:
            """A dead worker breaks the pool and every unit in flight with it: each is tried once more on
            a new pool (the unit that killed its worker, if it does so again, then fails alone)."""
            tries[id(job)] = tries.get(id(job), 0) + 1
            return isinstance(exc, BrokenProcessPool) and tries[id(job)] <= self.retries

        try:
            yield from _bounded(
                jobs,
                capacity=lambda: self.workers,
                submit=submit,
                wait_any=lambda fs: wait(fs, return_when=FIRST_COMPLETED).done,
                result=lambda fut: fut.result(),
                started=started,
                retry=retry,
            )
        finally:
            pool[0].shutdown(wait=True, cancel_futures=True)
            _fail_orphans(jobs)


def dask_available() -> bool:
    import importlib.util

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
        from distributed import Client

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

    def run(self, jobs: Sequence[Job], started: Started = _ignore) -> Iterator[Outcome]:
        from distributed import Client, wait

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
            yield from _bounded(
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
            _fail_orphans(jobs)


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
