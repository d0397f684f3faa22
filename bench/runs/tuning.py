"""Hyper-parameter search (Optuna) for the multi-task loss weights, on validation data only: the study
as ``bench tune`` runs it (:func:`run_study`) and what it reports (:class:`TuneResult`).

The parts live beside this module:

- :mod:`bench.runs.tuning_space`: the search space (the ratio ``w_v / w_a`` on a log scale, sum fixed at
  2; optionally ``lr`` and ``dropout``) and the objective (validation folds only, ``fold.test`` never
  used), with the caveat on nested CV.
- :mod:`bench.runs.tuning_study`: the Optuna storage, creating or resuming the study (one session per
  command, distinct sampler seeds), its MLflow parent run, the best trial and the parent's summary.
- :mod:`bench.runs.tuning_trials`: one trial as a nested MLflow run, and the worker processes of
  ``n_jobs > 1``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path

import torch

from bench.config.run import RunConfig
from bench.core.checks import check_option
from bench.core.errors import ConfigError
from bench.core.host import resolve_device
from bench.models.registry import get_model_info
from bench.runs.plan import Prepared, prepare
from bench.runs.tuning_space import OBJECTIVES, SPACES, canonical_objective, tune_folds_of
from bench.runs.tuning_study import (
    TunedWeights,
    best_of,
    best_value,
    default_pruner,
    finish_parent,
    open_study,
    own_trials,
    resolve_storage,
    sampler,
    study_key,
    study_parent,
)
from bench.runs.tuning_trials import Objective, Settings, TuneReporter, run_processes
from bench.tracking.store import client, experiment_id
from bench.tracking.uris import resolve_tracking_uri


@dataclass
class TuneResult:
    """What ``bench tune`` prints: the study's counts, its best trial and notes."""

    study: str
    storage: str
    objective: str
    space: str
    n_new: int
    """Trials this command ran (not those another ``bench tune`` on the study ran meanwhile)."""
    n_complete: int
    n_pruned: int
    n_fail: int
    best: TunedWeights | None
    parent_run_id: str
    interrupted: bool = False
    notes: list[str] = field(default_factory=list)
    trials: list = field(default_factory=list)
    """FrozenTrials of the whole study (all sessions)."""


def check_tunable(cfg: RunConfig) -> None:
    """A one-line ConfigError unless ``cfg`` is a trainable multi-task model on both tasks."""
    info = get_model_info(cfg.model)  # unknown model: one-line ConfigError
    if not info.trainable or not info.multitask or cfg.single_task or len(cfg.tasks) != 2:
        raise ConfigError(
            f"loss-weight tuning needs a trainable multi-task model on both tasks; {cfg.model!r} "
            + ("is not" if not (info.trainable and info.multitask) else "is run single-task / on one task")
        )
    if "select-on-test" in cfg.audit:
        raise ConfigError("tuning refuses --audit select-on-test: its validation part is the test fold")
    if cfg.method != "none":  # its folds train the bare model: a method would be silently dropped
        raise ConfigError(f"tuning does not apply training methods yet; drop method={cfg.method!r}")


def _validate(n_trials: int, space: str, objective: str, tune_folds: int, n_jobs: int, timeout) -> None:
    """The command-line values, checked before any data is read (one-line ConfigErrors)."""
    if int(n_trials) < 1:
        raise ConfigError(f"--trials {n_trials!r} must be >= 1")
    check_option("--space", space, SPACES)
    check_option("--objective", objective, OBJECTIVES)
    if int(tune_folds) < 1:
        raise ConfigError(f"--tune-folds {tune_folds!r} must be >= 1")
    if int(n_jobs) < 1:
        raise ConfigError(f"--n-jobs {n_jobs!r} must be >= 1")
    if timeout is not None and not timeout > 0:
        raise ConfigError(f"--timeout {timeout!r} must be > 0 seconds")


def default_study_name(cfg: RunConfig, space: str = "weights") -> str:
    """``model-protocol-space``, then the dataset for any but DEAP (whose names predate datasets)."""
    return f"{cfg.model}-{cfg.protocol}-{space}" + ("" if cfg.dataset == "deap" else f"-{cfg.dataset}")


def run_study(
    cfg: RunConfig,
    *,
    n_trials: int,
    study_name: str | None = None,
    storage: str | None = None,
    space: str = "weights",
    objective: str = "valid-loss",
    tune_folds: int = 1,
    n_jobs: int = 1,
    timeout: float | None = None,
    deap: str | Path | None = None,
    synthetic=None,
    features=None,
    prepared: Prepared | None = None,
    tracking_uri: str | None = None,
    pruner=None,
    reporter: TuneReporter | None = None,
) -> TuneResult:
    """Create or resume a study and run ``n_trials`` more trials (see the module docstring).

    ``pruner`` defaults to :func:`default_pruner`. Ctrl-C stops cleanly: finished trials stay in the
    storage and in MLflow, the trial in flight is marked FAIL, and the result says ``interrupted``.
    """
    import optuna

    objective = canonical_objective(objective)
    _validate(n_trials, space, objective, tune_folds, n_jobs, timeout)
    check_tunable(cfg)
    reporter = reporter or TuneReporter()
    p = prepared or prepare(cfg, deap=deap, synthetic=synthetic, features=features, echo=reporter.note)
    cfg = p.config
    tune_folds_of(p, tune_folds)
    url = resolve_storage(storage)
    name = study_name or default_study_name(cfg, space)
    pruner = pruner if pruner is not None else default_pruner()
    key = study_key(p, space, objective, tune_folds)
    study, session = open_study(url, name, key, cfg.seed, pruner, p, space)
    n_existing = sum(t.state != optuna.trial.TrialState.WAITING for t in study.trials)
    study.sampler = sampler(cfg.seed, n_existing, session=session)
    uri = resolve_tracking_uri(tracking_uri)
    cl = client(uri)
    exp = experiment_id(cl, p.features.kind)
    parent_id = study_parent(cl, exp, name, url, p, key)
    settings = Settings(name, url, space, objective, int(tune_folds), uri, parent_id, exp, uuid.uuid4().hex)
    reporter.start(int(n_trials), n_existing, best_value(study))
    interrupted, status = False, "FAILED"
    try:
        if n_jobs == 1:
            if cfg.num_threads:
                torch.set_num_threads(int(cfg.num_threads))
            obj = Objective(p, settings, resolve_device(cfg.device))
            try:
                study.optimize(
                    obj, n_trials=int(n_trials), timeout=timeout,
                    callbacks=[lambda st, t: reporter.trial(t, best_value(st))],
                )  # fmt: skip
            except KeyboardInterrupt:
                interrupted = True
        else:
            reload = features is None and prepared is None and (deap is not None or synthetic is not None)
            payload = {
                "run": p.run, "deap": str(deap) if deap is not None else None,
                "synthetic": synthetic,
                # workers reload the feature cache from DEAP_DIR/synthetic, else get the features pickled
                "features": None if reload else p.features,
                "settings": settings, "n_existing": n_existing, "session": session, "pruner": pruner,
                "timeout": timeout,
                "verbosity": optuna.logging.get_verbosity(),
            }  # fmt: skip
            interrupted = run_processes(payload, int(n_jobs), int(n_trials), study, reporter)
        status = "KILLED" if interrupted else "FINISHED"
    finally:
        trials = study.get_trials()
        best = best_of(study, url, objective)
        notes: list[str] = []
        try:
            finish_parent(cl, parent_id, study, best, cfg.seed, notes)
        finally:
            cl.set_terminated(parent_id, status=status)
    if interrupted:
        notes.insert(0, "interrupted: finished trials are kept; re-run the same command to continue")
    states = [t.state.name for t in trials]
    n_new = len(own_trials(trials, settings.command))  # not those of another command on the study
    return TuneResult(
        study=name, storage=url, objective=objective, space=space, n_new=n_new,
        n_complete=states.count("COMPLETE"), n_pruned=states.count("PRUNED"),
        n_fail=states.count("FAIL"), best=best, parent_run_id=parent_id, interrupted=interrupted,
        notes=notes, trials=trials,
    )  # fmt: skip
