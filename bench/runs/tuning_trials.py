"""Tuning trials: one trial (:class:`Objective`: sample, train the tuned folds, log, report for pruning)
and the worker processes that run a study's trials side by side.

Processes
---------
``n_jobs > 1`` starts that many worker *processes*, each running ``study.optimize`` on the same storage
with ``torch.set_num_threads(max(1, cores // n_jobs))`` and a sampler seed of its own
(:func:`bench.runs.tuning_study.sampler`). The workers are a spawn process pool
(:func:`bench.core.pool.process_pool`): each worker is a fresh interpreter that rebuilds the prepared
run, so it inherits no threads, torch state or open database connections from the command. Ctrl-C
stops them cleanly: each worker's trial in flight is marked FAIL, finished trials stay.
"""

from __future__ import annotations

import contextlib
import math
import time
from concurrent.futures import wait
from dataclasses import dataclass, replace

import numpy as np
import torch

from bench.core.host import resolve_device, usable_cores
from bench.core.pool import interrupt_workers, is_broken, process_pool, stop_pool
from bench.runs.jobs import error_line
from bench.runs.plan import Prepared, prepare
from bench.runs.runner import run_tags
from bench.runs.tuning_space import score_fold, suggest, tune_folds_of
from bench.runs.tuning_study import COMMAND_ATTR, best_value, open_storage, own_trials, sampler
from bench.tracking.store import TAG, client


class TuneReporter:
    """Progress callbacks; the CLI draws them with rich."""

    def note(self, message: str) -> None: ...
    def start(self, n_trials: int, n_existing: int, best: float | None) -> None: ...
    def trial(self, trial, best: float | None) -> None: ...


@dataclass(frozen=True)
class Settings:
    """What every trial of one ``bench tune`` command needs besides the prepared run (pickled to workers)."""

    study: str
    storage: str
    space: str
    objective: str
    tune_folds: int
    tracking_uri: str
    parent_run_id: str
    experiment_id: str
    command: str = ""
    """This command's id, on each trial it runs (user attr ``bench_command``): its own trials are told
    from those of another ``bench tune`` on the same study at the same time."""


class Objective:
    """One trial: sample, train the tuned folds on train/val only, log to MLflow, report for pruning."""

    def __init__(self, p: Prepared, settings: Settings, device: torch.device) -> None:
        self.p, self.s, self.device = p, settings, device
        self.cl = client(settings.tracking_uri)

    def __call__(self, trial) -> float:
        import optuna
        from mlflow.entities import Metric, Param

        s, p = self.s, self.p
        trial.set_user_attr(COMMAND_ATTR, s.command)  # first: a trial that fails at once is counted too
        cfg_t, params = suggest(trial, s.space, p.config)
        # the trial's run is the resolved one with the trial's values: a sampled dropout changes the
        # model's arguments too; the rest are training settings the resolved run does not derive from
        run_t = p.run.with_dropout(params["dropout"]) if "dropout" in params else p.run
        pt = replace(p, run=replace(run_t, config=cfg_t))
        tags = {
            **run_tags(pt),
            f"{TAG}role": "trial",
            f"{TAG}study": s.study,
            f"{TAG}trial_number": str(trial.number),
            "mlflow.parentRunId": s.parent_run_id,
        }
        run_id = self.cl.create_run(s.experiment_id, run_name=f"trial-{trial.number}", tags=tags).info.run_id
        trial.set_user_attr("mlflow_run_id", run_id)
        self.cl.log_batch(
            run_id,
            params=[
                Param(k, str(v)) for k, v in {**params, "space": s.space, "objective": s.objective}.items()
            ],
        )
        metrics: list = []
        state, status = "FAIL", "FAILED"

        def flush() -> None:
            for start in range(0, len(metrics), 900):
                self.cl.log_batch(run_id, metrics=metrics[start : start + 900])
            metrics.clear()

        try:
            values = []
            for pos, (unit, fold) in enumerate(tune_folds_of(pt, s.tune_folds)):
                offset = pos * pt.max_epochs

                def on_epoch(row: dict, offset=offset) -> None:
                    step = offset + int(row["epoch"])
                    now = int(time.time() * 1000)
                    for k in ("train_loss", "valid_loss", "valid_ref_loss", "valid_bacc", "objective", "lr"):
                        if k in row and math.isfinite(row[k]):
                            metrics.append(
                                Metric(k if k != "objective" else "valid_objective", row[k], now, step)
                            )
                    for k, v in row.items():
                        if k.startswith("valid_acc_") and math.isfinite(v):
                            metrics.append(Metric(k, v, now, step))
                    value = row["objective"]
                    if math.isfinite(value):
                        trial.report(value, step)
                        if trial.should_prune():
                            raise optuna.TrialPruned(f"pruned at step {step}")

                value, _ = score_fold(pt, unit, fold, self.device, s.objective, on_epoch)
                metrics.append(Metric(f"objective_{unit.key}", value, int(time.time() * 1000), 0))
                trial.set_user_attr(f"objective_{unit.key}", value)
                values.append(value)
            value = float(np.mean(values))
            if math.isfinite(value):
                metrics.append(Metric("objective", value, int(time.time() * 1000), 0))
                state, status = "COMPLETE", "FINISHED"
            return value
        except optuna.TrialPruned:
            state, status = "PRUNED", "FINISHED"
            raise
        except KeyboardInterrupt:
            status = "KILLED"
            raise
        finally:
            try:
                flush()
                self.cl.set_tag(run_id, f"{TAG}trial_state", state)
            finally:
                self.cl.set_terminated(run_id, status=status)


def trial_worker(payload: dict) -> None:
    """Entry point of a spawned worker process: load the study and optimise its share of trials."""
    import optuna

    optuna.logging.set_verbosity(payload.get("verbosity", optuna.logging.WARNING))
    torch.set_num_threads(payload["threads"])
    p = prepare(  # the run resolved once by the command: taken as it is
        payload["run"], deap=payload["deap"], synthetic=payload["synthetic"], features=payload["features"]
    )
    s: Settings = payload["settings"]
    study = optuna.load_study(
        study_name=s.study, storage=open_storage(s.storage),
        sampler=sampler(p.config.seed, payload["n_existing"], payload["index"], payload["session"]),
        pruner=payload["pruner"],
    )  # fmt: skip
    objective = Objective(p, s, resolve_device(p.config.device))
    # Ctrl-C: the trial in flight is marked FAIL by Optuna; finished ones stay
    with contextlib.suppress(KeyboardInterrupt):
        study.optimize(objective, n_trials=payload["n_trials"], timeout=payload["timeout"])


def run_processes(payload: dict, n_jobs: int, n_trials: int, study, reporter: TuneReporter) -> bool:
    """Run ``n_trials`` trials in ``n_jobs`` worker processes, reporting this command's trials as they end.

    Returns True if Ctrl-C stopped them (each worker's trial in flight is marked FAIL by Optuna, finished
    trials stay). A worker that raises or dies is a RuntimeError naming it, unless interrupted.
    """
    import optuna  # heavy: imported by the tuning commands only

    shares = [n_trials // n_jobs + (i < n_trials % n_jobs) for i in range(n_jobs)]
    work = [(i, share) for i, share in enumerate(shares) if share > 0]
    threads = max(1, usable_cores() // n_jobs)
    # spawn: each worker is a fresh interpreter that rebuilds the run (no threads, torch state or database
    # connections inherited). Ctrl-C stays with the workers: a trial in flight must end as FAIL in Optuna
    # and KILLED in MLflow, which only the worker running it can record.
    pool = process_pool(len(work), "spawn", parent_handles_interrupt=False)
    futures = {
        pool.submit(trial_worker, dict(payload, index=i, n_trials=share, threads=threads)): f"bench-tune-{i}"
        for i, share in work
    }
    finished = (
        optuna.trial.TrialState.COMPLETE,
        optuna.trial.TrialState.PRUNED,
        optuna.trial.TrialState.FAIL,
    )
    seen = {t.number for t in study.get_trials(deepcopy=False, states=finished)}
    interrupted = False
    command = payload["settings"].command

    def poll() -> None:  # this command's trials only: another tuner on the study reports its own
        for t in own_trials(study.get_trials(deepcopy=False, states=finished), command):
            if t.number not in seen:
                seen.add(t.number)
                b = best_value(study)
                reporter.trial(t, b)

    try:
        while wait(futures, timeout=0.5).not_done:
            poll()
    except KeyboardInterrupt:
        interrupted = True
        # Ctrl-C in a terminal reaches the workers too: a second SIGINT would cut short the trial's own
        # clean-up, so the workers get one only if theirs have not ended soon (``kill -INT`` of this process)
        if wait(futures, timeout=5).not_done:
            interrupt_workers(pool)
        stop_pool(pool, timeout=60)  # trials record how they ended; a worker that does not is terminated
    else:
        stop_pool(pool)
    poll()
    failed = {name: fut.exception() for fut, name in futures.items()
              if fut.done() and not fut.cancelled() and fut.exception() is not None}  # fmt: skip
    if failed and not interrupted:
        bad = ", ".join(f"{name} ({_failure(exc)})" for name, exc in failed.items())
        raise RuntimeError(f"tuning worker(s) failed: {bad}") from next(iter(failed.values()))
    return interrupted


def _failure(exc: BaseException) -> str:
    """How a worker ended: its process died (the pool broke), or its own error in one line."""
    return "worker process died" if is_broken(exc) else error_line(exc)
