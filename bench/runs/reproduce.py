"""Many runs, one executor queue: the engine under ``bench reproduce`` and ``bench ablate``.

Every run of a grid is an ordinary run (:mod:`bench.runs.runner`): same run key, same parent and child runs,
so ``bench run`` and ``bench reproduce`` resume each other. What this module adds is the queue: the
unfinished units of *every* run go to one executor, largest first, so a pool or a Dask cluster never
idles at the end of a run while other runs wait. A run's parent is closed FINISHED as soon as its last
unit is in; a failing unit fails its own run only, the grid goes on, and the end says what failed.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from bench.config.run import RunConfig
from bench.core.host import resolve_device
from bench.runs.executors import LocalExecutor
from bench.runs.finished import collect_finished
from bench.runs.jobs import Job, error_line
from bench.runs.plan import Prepared, data_contents, prepare
from bench.runs.progress import GridReporter, Pulse, Reporter
from bench.runs.resolved import ResolvedRun, as_resolved
from bench.runs.runner import OpenRun, close_run, open_run, run_label, unit_cost
from bench.tracking.store import client
from bench.tracking.uris import resolve_tracking_uri


@dataclass(frozen=True)
class RunReport:
    """How one run of a grid ended."""

    label: str
    parent_run_id: str
    status: str
    """FINISHED, FAILED or KILLED (the parent run's status)."""
    n_units: int
    n_reused: int
    errors: tuple[tuple[str, str], ...] = ()
    """(unit key, one-line error) of each failed unit."""


@dataclass
class GridResult:
    """The runs of a grid after one pass over its queue, and the time it took."""

    runs: list[RunReport] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> list[RunReport]:
        return [r for r in self.runs if r.status != "FINISHED"]

    @property
    def n_units(self) -> int:
        return sum(r.n_units for r in self.runs)

    def summary(self) -> str:
        """One line: how many runs finished, and how to resume when some did not."""
        done = len(self.runs) - len(self.failed)
        text = f"{done} of {len(self.runs)} runs finished ({self.n_units} units)"
        if self.failed:
            n_err = sum(len(r.errors) for r in self.failed)
            text += (
                f"; {len(self.failed)} run(s) not finished ({n_err} unit(s) failed): run the same command "
                "again to resume (finished units are kept)"
            )
        return text


class _RunView(Reporter):
    """One run's progress callbacks, forwarded to the grid's reporter with the run's label."""

    def __init__(self, grid: GridReporter, label: str) -> None:
        self.grid, self.label = grid, label

    def note(self, message: str) -> None:
        self.grid.note(message)

    def epoch(self, unit, row: dict) -> None:
        self.grid.epoch(self.label, unit, row)


def prepare_runs(
    configs: Sequence[RunConfig | ResolvedRun],
    *,
    deap: str | Path | None = None,
    synthetic=None,
    echo: Callable[[str], None] | None = None,
    step: Callable[[int, int], None] | None = None,
) -> list[Prepared]:
    """Prepare every run of a grid (a RunConfig, resolved once here, or a ResolvedRun taken as it is): the
    features are computed once and shared (the runs of a grid all use one data set), and each distinct
    model input is built once (:meth:`FeatureSet.inputs`).

    ``step(i, n)`` is called before the ``i``-th of ``n`` runs is prepared (a progress line, see
    :class:`bench.runs.progress.Pulse`)."""
    plans: list[Prepared] = []
    features: dict = {}  # by cache contents: a time-domain model reads the signal, others the maps
    for i, cfg in enumerate(configs, start=1):
        if step is not None:
            step(i, len(configs))
        run = as_resolved(cfg)  # once: the plan takes it as it is
        contents = data_contents(run)
        say = echo if not features else None  # where the data comes from: said once
        p = prepare(run, deap=deap, synthetic=synthetic, features=features.get(contents), echo=say)
        features.setdefault(contents, p.features)
        plans.append(p)
    return plans


def run_grid(
    plans: Sequence[Prepared],
    *,
    tracking_uri: str | None = None,
    executor=None,
    reporter: GridReporter | None = None,
    force: bool = False,
    cache_dir: str | Path | None = None,
    cost: Callable[[Prepared, object, object], float] | None = None,
) -> GridResult:
    """Run (or resume) every prepared run with one executor queue; see the module docstring.

    ``cost(p, unit, fold)`` estimates a unit's seconds (default: training windows x epoch cap); the
    queue runs the largest first. Ctrl-C closes every unfinished run KILLED (its finished units are
    kept) and re-raises ``KeyboardInterrupt`` with a line saying what was kept.
    """
    reporter = reporter or GridReporter()
    executor = executor or LocalExecutor()
    cost = cost or (lambda p, unit, fold: unit_cost(p, fold))
    threads = next((p.config.num_threads for p in plans if p.config.num_threads), None)
    if threads:
        torch.set_num_threads(int(threads))
    devices = {p.config.device: resolve_device(p.config.device) for p in plans}  # cuda without CUDA: here
    for p in plans:  # every run checked (features in the cache for workers, scheduler reachable) first
        executor.check(p, cache_dir)
    uri = resolve_tracking_uri(tracking_uri)
    # opening the store (created on first use) and every run's parent takes seconds: said, not silent
    pulse = Pulse(reporter.note)
    pulse.say(f"Tracking to {uri}: opening {len(plans)} run(s) ...")
    with pulse.during("... opening the MLflow store (a new one is created first)"):
        cl = client(tracking_uri)
    t0 = time.monotonic()
    runs: list[OpenRun] = []
    reports: dict[int, RunReport] = {}
    try:
        for i, p in enumerate(plans, start=1):
            pulse.step(f"opening run {i} of {len(plans)} in MLflow: {run_label(p)}")
            view = _RunView(reporter, run_label(p))
            runs.append(open_run(
                p, cl, uri, device=devices[p.config.device], reporter=view, force=force, cache_dir=cache_dir,
            ))  # fmt: skip
        jobs = [Job(r.ctx, u, f, cost(r.prepared, u, f)) for r in runs for u, f in r.todo]
        jobs.sort(key=lambda j: -j.cost)  # largest first: the pool's tail is short units
        by_ctx = {id(r.ctx): r for r in runs}
        reporter.start(runs, jobs, executor.slots())
        for r in runs:
            if r.complete:  # every unit reused: nothing to run
                reports[id(r)] = _close(r, "FINISHED", reporter)
        # closing: on Ctrl-C the executor stops (a pool waits for its workers) before the count below
        with contextlib.closing(executor.run(jobs, started=reporter.job_started)) as outcomes:
            for out in outcomes:
                run = by_ctx[id(out.job.ctx)]
                run.record(out)
                if run.complete and id(run) not in reports:
                    reports[id(run)] = _close(run, "FINISHED", reporter)
                reporter.job_finished(out)
        for r in runs:
            if id(r) not in reports:
                reports[id(r)] = _close(r, "FAILED", reporter)
    except KeyboardInterrupt:
        for r in runs:
            if id(r) not in reports:  # a run whose last unit came in as Ctrl-C struck is complete
                collect_finished(r)  # units a worker finished after the last result came back
                reports[id(r)] = _close(r, "FINISHED" if r.complete else "KILLED", reporter)
        done = sum(len(r.results) for r in runs)
        total = sum(len(r.prepared.units) for r in runs)
        raise KeyboardInterrupt(
            f"interrupted: {done} of {total} units of {len(plans)} runs finished and kept in MLflow; "
            "run the same command again to resume"
        ) from None
    return GridResult([reports[id(r)] for r in runs], time.monotonic() - t0)


def _close(run: OpenRun, status: str, reporter: GridReporter) -> RunReport:
    close_run(run, status)
    reused = sum(r.reused for r in run.results.values())
    errors = tuple((k, error_line(e)) for k, e in run.failures)
    report = RunReport(run.label, run.ctx.parent_run_id, run.status, len(run.prepared.units), reused, errors)
    reporter.run_closed(report)
    return report
