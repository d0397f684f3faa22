"""The experiment runner: one whole run, from a plan to a tracked, summarised result in MLflow.

The last of three layers, and data flows one way through them:

- :mod:`bench.runs.plan`: config -> data -> folds -> units of work (:func:`prepare`, :class:`Prepared`).
- :mod:`bench.runs.unit`: fit and predict one unit; :mod:`bench.runs.unit_tracking` tracks it as a child run
  (:func:`track_unit`); the executors (:mod:`bench.runs.executors`) run units through it, in this process or
  on workers.
- :mod:`bench.runs.runner` (this module): the parent run (:func:`run_tags`, found or created by run key),
resume,
  handing the unfinished units to an executor, and the summary (:func:`run_experiment`, :func:`summarise`).

This module imports the other three; none of them imports it, so there is no import circle. The names of
the plan and unit layers are re-exported here (``from bench.runs.runner import prepare, run_unit`` keeps
working).

A run is one (model, protocol, split, config) on one data set. Each finished unit is a FINISHED child run
in MLflow; re-running the same command finds the parent by its run key (config hash + data fingerprint)
and skips finished units. The parent is marked FINISHED only when every unit is, so tables never count
partial runs.
"""

from __future__ import annotations

import contextlib
import json
import math
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from bench import __version__
from bench.config.run import RunConfig
from bench.core.host import hardware, resolve_device
from bench.core.metrics import TEST_METRICS
from bench.data.datasets import left_out_tags
from bench.data.published import published_tags
from bench.data.source import kind_words
from bench.runs.executors import LocalExecutor, check_stack_executor
from bench.runs.finished import collect_finished
from bench.runs.identity import identity_tags
from bench.runs.jobs import Job, Outcome, UnitContext, failure_error
from bench.runs.plan import Prepared, Unit, prepare
from bench.runs.progress import Reporter
from bench.runs.unit import UnitResult, fit_predict, labels_tensor, run_unit
from bench.runs.unit_tracking import (
    DATASET_CONTEXT,
    log_history,
    log_metrics,
    log_unit_artifacts,
    reuse,
    run_params,
    track_unit,
    unit_tags,
)
from bench.tracking.claims import find_or_create_run
from bench.tracking.store import (
    TAG,
    child_runs,
    client,
    code_version,
    experiment_id,
    log_dataset,
    log_params,
    store_lock,
)
from bench.tracking.uris import resolve_tracking_uri
from protocols import fold_assignment

__all__ = [
    "METRICS",
    "ExperimentResult",
    "OpenRun",
    "Prepared",
    "Reporter",
    "Unit",
    "UnitResult",
    "fit_predict",
    "labels_tensor",
    "log_history",
    "log_metrics",
    "log_unit_artifacts",
    "open_run",
    "close_run",
    "prepare",
    "reuse",
    "run_experiment",
    "run_description",
    "run_label",
    "run_name",
    "run_tags",
    "run_unit",
    "summarise",
    "track_unit",
    "unit_rows",
    "unit_tags",
]

METRICS = TEST_METRICS


@dataclass
class ExperimentResult:
    config: RunConfig
    split: str
    data_kind: str
    data_fingerprint: str
    leaky: bool
    parent_run_id: str | None
    units: list[UnitResult]
    summary: dict[str, float]
    per_subject: bool
    data_size: tuple[int, int] = (0, 0)
    """Subjects and trials per subject of the data (0: not known), for naming the data set in words."""


# -------------------------------------------------------------------------------------- summaries
def unit_rows(results: list[UnitResult], tasks: tuple[str, ...]) -> list[dict]:
    """The test metrics of each unit and task, one row each: what :func:`summarise` averages and what
    :attr:`bench.api.RunResult.metrics` shows.

    Parameters
    ----------
    results : list of UnitResult
        The run's units (trained here or reused from MLflow).
    tasks : tuple of str
        The run's tasks; a unit without ``test_acc_{task}`` has no row for it.

    Returns
    -------
    list of dict
        ``unit`` (its key), ``subject`` (the unit's; for a cross-dataset unit, which logs every metric
        per test subject as ``..._sNN``, one row per test subject), ``fold``, ``task`` and each metric of
        :data:`METRICS` (NaN where the unit logged none: MLflow keeps no non-finite values).
    """
    rows = []
    for r in results:
        subs = sorted(k.removeprefix("n_test_trials_") for k in r.metrics if k.startswith("n_test_trials_s"))
        for t in tasks:
            if f"test_acc_{t}" not in r.metrics:
                continue
            for tag in subs or [""]:
                subject = int(tag[1:]) if tag else r.unit.subject
                end = f"_{tag}" if tag else ""
                values = {m: r.metrics.get(f"test_{m}_{t}{end}", np.nan) for m in METRICS}
                rows.append({"unit": r.unit.key, "subject": subject, "fold": r.unit.fold, "task": t} | values)
    return rows


def summarise(results: list[UnitResult], tasks: tuple[str, ...], per_subject: bool) -> dict[str, float]:
    """Mean and std of test metrics; per-subject and cross-dataset protocols average per subject first.

    A metric missing from a unit counts as NaN: MLflow keeps no non-finite values, so a reused unit's
    undefined AUC (one class in its test fold) comes back missing rather than NaN, and a unit reused from
    a run older than the trial-level metrics has no ``test_trial_*``; means and stds skip them.
    """
    rows = unit_rows(results, tasks)
    out: dict[str, float] = {}
    if not rows:
        return out
    df = pd.DataFrame(rows)
    for t, g in df.groupby("task"):
        if per_subject:
            g = g.groupby("subject")[list(METRICS)].mean()
        for m in METRICS:
            vals = g[m].to_numpy(dtype=float)
            n = int(np.isfinite(vals).sum())  # no finite value: no mean; fewer than 2: no std (no warnings)
            out[f"{m}_{t}_mean"] = float(np.nanmean(vals)) if n else math.nan
            std = float(np.nanstd(vals, ddof=1)) if n > 1 else math.nan
            out[f"{m}_{t}_std"] = std if len(vals) > 1 else 0.0
        out[f"n_{t}"] = float(len(g))
    return out


# -------------------------------------------------------------------------------------- tracking
def run_tags(p: Prepared) -> dict[str, str]:
    """Tags of a run's parent (and, in :mod:`bench.runs.tuning`, its study and trials): what the run is."""
    cfg = p.config
    return {
        f"{TAG}model": cfg.model,
        f"{TAG}protocol": cfg.protocol,
        f"{TAG}split": p.split,
        f"{TAG}data_kind": p.features.kind,
        f"{TAG}dataset": p.features.dataset,
        f"{TAG}synthetic": str(p.features.synthetic).lower(),
        f"{TAG}data_fingerprint": p.features.fingerprint,
        f"{TAG}leaky": str(p.leaky).lower(),
        f"{TAG}audit": ",".join(cfg.audit) or "none",
        f"{TAG}config_fingerprint": cfg.fingerprint(),
        f"{TAG}run_key": p.run_key,
        f"{TAG}code_version": code_version(),
        f"{TAG}package_version": __version__,
        f"{TAG}hardware": hardware(),
        f"{TAG}n_subjects": str(len(p.features.subjects)),
        f"{TAG}n_trials": str(p.features.features.shape[1]),  # per subject: names the data set in tables
        **identity_tags(cfg, p.folds_fingerprint, prefix=TAG),
        # what the reader left out of the copy (MAHNOB-HCI's sessions); none for the other datasets
        **left_out_tags(p.features, TAG),
        # the dataset's published feature files, where the run read them instead of computing features
        **published_tags(p.features, TAG),
    }


def run_scale(p: Prepared) -> str:
    """A run's size in a few characters: ``4s x 5f x 2ep`` (subjects, folds (per subject for per-subject
    protocols), epoch cap), then `` seed N``, `` stack N`` and the precision where not the defaults."""
    cfg = p.config
    text = f"{len(p.features.subjects)}s x {max(f.index for f in p.folds)}f x {p.max_epochs}ep"
    text += f" seed {cfg.seed}" if cfg.seed else ""
    text += f" stack {cfg.train.stack}" if cfg.train.stack else ""
    return text + (f" {cfg.train.precision}" if cfg.train.precision != "fp32" else "")


def run_name(p: Prepared) -> str:
    """A parent run's name in the MLflow UI: ``model|protocol|split``, then the variant unless it is the
    default, the audit if any, and the scale (``mtcnn|whole-set|trial|4s x 5f x 2ep``). Display only:
    runs are found again by their run key tag, never by name."""
    cfg = p.config
    variant = identity_tags(cfg, p.folds_fingerprint, prefix="")["variant"]
    parts = [cfg.model, cfg.protocol, p.split] + ([variant] if variant != "full" else [])
    parts += [p.features.dataset] if p.features.dataset != "deap" else []  # DEAP's names stay as they were
    return "|".join([*parts, *([",".join(cfg.audit)] if cfg.audit else []), run_scale(p)])


def _new_parent(cl, exp: str, p: Prepared, tags: dict[str, str], extra: dict[str, str]) -> str:
    """Create a parent run (bare: params and artifacts follow once it is known to be the one)."""
    tags = {**tags, **extra, f"{TAG}role": "parent"}
    return cl.create_run(exp, run_name=run_name(p), tags=tags).info.run_id


def _log_parent(cl, parent_id: str, p: Prepared) -> None:
    """The new parent's params (config, resolved split/epochs, model hparams) and artifacts."""
    cfg = p.config
    log_params(cl, parent_id, run_params(p))
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        (d / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2, default=str))
        (d / "feature_config.json").write_text(json.dumps(p.features.config.to_dict(), indent=2))
        inp = p.inputs
        fold_assignment(p.folds, inp.subject, inp.trial, inp.segment).to_csv(d / "folds.csv.gz", index=False)
        cl.log_artifacts(parent_id, str(d))


@dataclass
class OpenRun:
    """A run whose parent exists in MLflow: its context, the units reused, and those left to run."""

    prepared: Prepared
    ctx: UnitContext
    results: dict[str, UnitResult]
    todo: list[tuple[Unit, object]]
    failures: list[tuple[str, BaseException]] = field(default_factory=list)
    status: str = "RUNNING"
    opened: float = field(default_factory=time.monotonic)
    """When this command opened the run (its wall time in the run's description)."""
    finished_before: bool = False
    """The parent was FINISHED with every unit when this command found it: nothing to run, and closing it
    writes nothing (a no-op rerun leaves its end time, status, metrics and description as they were)."""

    @property
    def label(self) -> str:
        return self.ctx.label

    @property
    def complete(self) -> bool:
        return all(u.key in self.results for u, _ in self.prepared.units)

    def record(self, outcome: Outcome) -> None:
        """Keep what an executor returned for one of this run's units: its result, or its error."""
        if outcome.error is not None:
            self.failures.append((outcome.job.unit.key, outcome.error))
        else:
            self.results[outcome.job.unit.key] = outcome.result


def run_label(p: Prepared) -> str:
    """``model|protocol|split|variant`` (+ ``|audit``): a run's name in progress lines and reports."""
    cfg = p.config
    variant = identity_tags(cfg, p.folds_fingerprint, prefix="")["variant"]
    audit = f"|{','.join(cfg.audit)}" if cfg.audit else ""
    return f"{cfg.model}|{cfg.protocol}|{p.split}|{variant}{audit}"


def open_run(
    p: Prepared,
    cl,
    tracking_uri: str,
    *,
    device: torch.device,
    reporter: Reporter,
    force: bool = False,
    extra_tags: dict | None = None,
    cache_dir: str | Path | None = None,
) -> OpenRun:
    """Find or create the parent run of ``p`` (one per run key, whoever else starts it), reuse its
    FINISHED units and return what is left to run."""
    exp = experiment_id(cl, p.features.kind)
    tags = run_tags(p)
    extra = {str(k): str(v) for k, v in (extra_tags or {}).items()}
    key = {f"{TAG}run_key": p.run_key, f"{TAG}role": "parent"}
    parent, parent_id = find_or_create_run(
        cl, exp, key, lambda: _new_parent(cl, exp, p, tags, extra), force=force
    )
    done: dict[str, object] = {}
    finished_before = False
    if parent is not None:
        for run in child_runs(cl, exp, parent.info.run_id):
            if run.info.status == "FINISHED":
                done.setdefault(run.data.tags.get(f"{TAG}unit"), run)
        parent_id = parent.info.run_id
        finished_before = parent.info.status == "FINISHED" and all(u.key in done for u, _ in p.units)
        for k, v in extra.items():
            if parent.data.tags.get(k) != v:
                cl.set_tag(parent_id, k, v)
        name = run_name(p)  # a parent named before names carried the scale gets today's name
        if finished_before:  # nothing to run: the parent keeps its status and end time
            if parent.info.run_name != name:
                cl.update_run(parent_id, name=name)
        elif parent.info.status != "RUNNING" or parent.info.run_name != name:
            cl.update_run(parent_id, status="RUNNING", name=name)
    else:
        _log_parent(cl, parent_id, p)
    if not finished_before:
        log_dataset(cl, parent_id, p.features, context=DATASET_CONTEXT)  # again on resume: no change
    ctx = UnitContext(
        prepared=p, client=cl, experiment_id=exp, parent_run_id=parent_id, tags=tags, device=device,
        reporter=reporter, tracking_uri=tracking_uri, cache_dir=cache_dir, label=run_label(p),
    )  # fmt: skip
    reporter.plan(len(p.units), sum(u.key in done for u, _ in p.units))
    results: dict[str, UnitResult] = {}
    todo = []
    for unit, fold in p.units:
        if unit.key in done:
            results[unit.key] = reuse(done[unit.key], unit)
            reporter.unit_end(results[unit.key])
        else:
            todo.append((unit, fold))
    return OpenRun(p, ctx, results, todo, finished_before=finished_before)


def _pct(summary: dict[str, float], metric: str) -> str:
    mu, sd = summary.get(f"{metric}_mean", math.nan), summary.get(f"{metric}_std", math.nan)
    return "-" if not math.isfinite(mu) else f"{100 * mu:.1f} ± {100 * sd:.1f} %"


def run_description(p: Prepared, summary: dict[str, float], wall_s: float, fit_s: float) -> str:
    """The parent's description in the MLflow UI (``mlflow.note.content``, Markdown): what was run on
    which data, the test accuracy (mean ± sd over units, or over subjects for per-subject protocols) and
    how long it took."""
    cfg = p.config
    per_subject = p.run.protocol.over_subjects
    variant = identity_tags(cfg, p.folds_fingerprint, prefix="")["variant"]
    fs = p.features
    n = int(summary.get(f"n_{cfg.tasks[0]}", 0))
    over = f"{n} subjects (units averaged per subject)" if per_subject else f"{n} units"
    lines = [
        f"**{cfg.model}**, protocol {cfg.protocol}, split {p.split}, variant {variant}"
        + (f", audit {','.join(cfg.audit)} (leaky)" if cfg.audit else ", leaky" if p.leaky else ""),
        f"Data: {kind_words(fs.kind)} `{fs.fingerprint}`, {len(fs.subjects)} subjects x "
        f"{fs.features.shape[1]} trials x {fs.features.shape[2]} windows; {run_scale(p)} "
        f"({len(p.units)} units)",
        "Test accuracy, mean ± sd over " + over + ": "
        + "; ".join(f"{t} {_pct(summary, f'acc_{t}')} (trial vote {_pct(summary, f'trial_acc_{t}')})"
                    for t in cfg.tasks),
        f"Time: {wall_s:.0f} s wall (the command that finished it, from opening the run to closing it); "
        f"{fit_s:.0f} s of unit fitting, summed",
    ]  # fmt: skip
    return "\n\n".join(lines)


def close_run(run: OpenRun, status: str) -> ExperimentResult | None:
    """End a run: with every unit finished, log the summary and mark the parent FINISHED; otherwise mark
    it ``status`` (FAILED / KILLED). Returns the result when the run finished.

    A parent that was FINISHED with every unit before this command opened it (a no-op rerun,
    :attr:`OpenRun.finished_before`) is left exactly as it was: its end time, description and metrics
    record the command that finished it, not one that found nothing to do."""
    p, ctx = run.prepared, run.ctx
    cl, parent_id = ctx.client, ctx.parent_run_id
    result = None
    try:
        if status == "FINISHED":
            missing = [u.key for u, _ in p.units if u.key not in run.results]
            if missing:  # an executor that lost a unit must not let the parent finish
                raise RuntimeError(f"executor returned no result for unit(s) {', '.join(missing)}")
            results = [run.results[u.key] for u, _ in p.units]
            per_subject = p.run.protocol.over_subjects
            summary = summarise(results, p.config.tasks, per_subject)
            fit_s = sum(r.metrics.get("fit_seconds", 0.0) for r in results)
            if not run.finished_before:  # a no-op rerun writes nothing: the summary is already there
                note = run_description(p, summary, time.monotonic() - run.opened, fit_s)
                with store_lock(ctx.tracking_uri):  # two commands sharing a parent end together
                    log_metrics(cl, parent_id, summary)
                    cl.set_tag(parent_id, "mlflow.note.content", note)
            result = ExperimentResult(
                config=p.config, split=p.split, data_kind=p.features.kind,
                data_fingerprint=p.features.fingerprint, leaky=p.leaky, parent_run_id=parent_id,
                units=results, summary=summary, per_subject=per_subject,
                data_size=(len(p.features.subjects), int(p.features.features.shape[1])),
            )  # fmt: skip
    except BaseException:
        status = "FAILED"
        raise
    finally:
        # a command that shares the parent may have finished it: a complete parent stays FINISHED; one
        # that was FINISHED before this command keeps its end time
        untouched = run.finished_before and status == "FINISHED"
        if not untouched and (status == "FINISHED" or cl.get_run(parent_id).info.status != "FINISHED"):
            cl.set_terminated(parent_id, status=status)
        run.status = status
    return result


def unit_cost(p: Prepared, fold) -> float:
    """A unit's size for queue order when no estimate is given: training windows x epoch cap."""
    return float(len(fold.train)) * p.max_epochs


def run_experiment(
    cfg: RunConfig,
    *,
    deap: str | Path | None = None,
    synthetic=None,
    tracking_uri: str | None = None,
    force: bool = False,
    reporter: Reporter | None = None,
    prepared: Prepared | None = None,
    extra_tags: dict | None = None,
    executor=None,
    cache_dir: str | Path | None = None,
) -> ExperimentResult:
    """Run (or resume) one experiment and track it in MLflow.

    Re-running the same config on the same data resumes: finished units are reused, the rest run.
    ``force=True`` starts a new parent run. ``extra_tags`` are added to the parent run's tags
    (e.g. ``bench.tuned_from`` for tuned loss weights). Ctrl-C or an error marks the unit and parent
    KILLED/FAILED (never FINISHED), so no table counts them.

    ``executor`` runs the units that are not finished yet: ``None`` or ``bench.runs.executors.LocalExecutor``
    in this process (the default; the first failing unit stops the run with its own error),
    ``PoolExecutor`` in local worker processes, ``DaskExecutor`` on a Dask cluster (failing units are
    reported together at the end, :class:`~bench.runs.jobs.UnitsFailed`). The parent run, resume and the
    summary stay in this process whatever the executor. Workers read the features from the feature cache
    (``cache_dir``, default ``$DEAP_BENCH_CACHE``): pass the folder the features were prepared in if it is
    not the default. A grid of runs on one executor queue is :func:`bench.runs.reproduce.run_grid`.
    """
    reporter = reporter or Reporter()
    if prepared is not None:
        cfg = prepared.config  # the resolved config the folds and units were built from
    if cfg.num_threads:
        torch.set_num_threads(int(cfg.num_threads))
    device = resolve_device(cfg.device)
    p = prepared or prepare(cfg, deap=deap, synthetic=synthetic, echo=reporter.note)
    executor = executor or LocalExecutor()
    executor.check(p, cache_dir)  # e.g. workers need the features in the cache: fail before tracking
    check_stack_executor(p.config.train.stack, executor)
    uri = resolve_tracking_uri(tracking_uri)
    run = open_run(
        p, client(tracking_uri), uri, device=device, reporter=reporter, force=force,
        extra_tags=extra_tags, cache_dir=cache_dir,
    )  # fmt: skip
    jobs = [Job(run.ctx, unit, fold, unit_cost(p, fold)) for unit, fold in run.todo]
    status = "FAILED"
    try:
        # closing: on Ctrl-C the executor stops (a pool waits for its workers) before the count below
        with contextlib.closing(executor.run(jobs)) as outcomes:
            for out in outcomes:
                if out.error is not None and executor.name == "local":
                    raise out.error  # in-process: the unit's own error, traceback and all
                run.record(out)
                if out.error is None:
                    reporter.unit_end(out.result)
        if run.failures:
            raise failure_error(run.failures, len(jobs))
        status = "FINISHED"
    except KeyboardInterrupt:
        for res in collect_finished(run):  # finished by a worker as Ctrl-C struck: kept, so counted
            reporter.unit_end(res)
        status = "FINISHED" if run.complete else "KILLED"
        raise
    finally:
        result = close_run(run, status)
    return result
