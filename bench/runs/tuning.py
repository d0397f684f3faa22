"""Hyper-parameter search (Optuna) for the multi-task loss weights, on validation data only.

Search space
------------
MT-CNN's loss is ``L = w_v * L_v + w_a * L_a`` (the paper: ``w_v = w_a = 1``). Only the *ratio*
``r = w_v / w_a`` changes what is learnt; the *sum* scales the gradients, i.e. acts as a learning-rate
multiplier. So the search fixes the sum at 2 and searches ``log2 r`` uniformly in ``[-3, 3]``::

    w_v = 2 r / (1 + r),   w_a = 2 / (1 + r)        (r = 1 is the paper's (1, 1))

Weights are rounded to 6 decimals, and the rounded values are the ones trained with. ``--space
weights+lr+dropout`` adds ``lr`` (log-uniform 1e-4..3e-3) and ``dropout`` (uniform 0..0.5). A new
study starts with the paper's setting (r = 1, the configured lr, the model's dropout) as trial 0, so
the baseline is always among the trials.

Objective (minimised)
---------------------
Per tuned fold: the model is trained on ``fold.train`` exactly as ``bench run`` trains it (same
seed, same early stopping / LR decay on ``fold.val``) and scored on ``fold.val``, the inner
validation part carved out of the training part with the test split's unit. ``fold.test`` is never
used. The score is

* ``valid-loss`` (default): the *reference* validation loss ``L_v + L_a`` (class-balanced
  cross-entropy, class weights from the training labels as in training), i.e. the paper's (1, 1)
  loss whatever weights the trial trained with. The training loss itself cannot be the objective:
  with other weights it is on another scale, and moving weight onto the easier task would lower
  it without any model getting better.
* ``valid-bacc``: ``1 - mean(balanced accuracy of valence, arousal)`` on the validation part.

The objective is the mean over the first ``tune_folds`` folds (for per-subject protocols: the first
``tune_folds`` folds of every subject) of the score of the model restored at its best validation
epoch. For whole-set-finetune only the pooled model is tuned (no fine-tune stage).

Pruning: the score of every epoch is reported (step = fold position * max_epochs + epoch) to a
MedianPruner (5 startup trials, 2 warm-up epochs); a pruned trial raises ``optuna.TrialPruned``.

Caveat: tuned weights evaluated with ``bench run`` on the same folds are not a nested CV: fold 1's
validation part is test data of other folds. The test folds of the tuned folds themselves are never
seen. For a strictly unbiased number, tune on other subjects or data than the final evaluation.

Storage, resuming, processes
----------------------------
Studies live in an Optuna RDB storage: ``sqlite:///<cwd>/optuna.db`` by default, else any SQLAlchemy
URL (PostgreSQL/MySQL for several machines). The study is created (``load_if_exists``) in the calling
process; re-running the same command adds ``n_trials`` more trials to it. A study remembers its
config, data and search space and refuses to resume with different ones. ``n_jobs > 1`` starts that
many worker *processes* (spawn), each running ``study.optimize`` on the same storage with
``torch.set_num_threads(max(1, cores // n_jobs))``; worker ``i`` of the study's ``session``-th command
samples with TPE seed ``seed + 10007 * n_existing_trials + i + 1000003 * session`` and constant liar (a
resumed study does not repeat its first proposals; several ``bench tune`` commands on one storage, at
once or one after the other, never share a seed). A SQLite storage is created, and the study opened,
under the file lock ``<db>.lock``, so commands started together on a fresh storage all succeed.

Tracking
--------
The study is one MLflow parent run (tag ``bench.study``, role ``study``) in the data kind's experiment;
every trial is a nested run (``mlflow.parentRunId``) with its params, per-epoch validation metrics,
the objective and its state (tag ``bench.trial_state``: COMPLETE / PRUNED / FAIL). The parent ends with
the best trial as metrics and tags plus PNGs of the optimisation history and parameter importances.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import tempfile
import time
import uuid
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from bench.config.run import RunConfig
from bench.core.checks import check_option
from bench.core.errors import ConfigError
from bench.core.host import resolve_device
from bench.core.metrics import balanced_accuracy, predicted_class
from bench.models.registry import create_model, get_model_info
from bench.runs.plan import Prepared, Unit, model_hparams, prepare
from bench.runs.progress import Reporter
from bench.runs.runner import run_tags
from bench.runs.unit import fit_predict, labels_tensor, train_standardiser
from bench.tracking.store import (
    TAG,
    client,
    code_version,
    experiment_id,
    init_once,
    resolve_tracking_uri,
    sqlite_path,
    store_lock,
)
from bench.training.trainer import TASK_INDEX, class_weights, predict_proba

COMMAND_ATTR = "bench_command"
SPACES = ("weights", "weights+lr+dropout")
OBJECTIVES = ("valid-loss", "valid-bacc")
OBJECTIVE_ALIASES = {"val-loss": "valid-loss", "val-bacc": "valid-bacc"}
"""Names from before "valid" replaced "val" (which reads as valence): accepted, and read in old studies."""
LOG2_RATIO = (-3.0, 3.0)
LR_RANGE = (1e-4, 3e-3)
DROPOUT_RANGE = (0.0, 0.5)
WEIGHT_SUM = 2.0


# ----------------------------------------------------------------------------------- parametrisation
def ratio_to_weights(ratio: float) -> tuple[float, float]:
    """``r = w_v / w_a`` with ``w_v + w_a = 2`` -> ``(w_v, w_a)``, rounded to 6 decimals."""
    if not ratio > 0 or not math.isfinite(ratio):
        raise ConfigError(f"loss-weight ratio {ratio!r} must be a positive number")
    wv = WEIGHT_SUM * ratio / (1.0 + ratio)
    return round(wv, 6), round(WEIGHT_SUM - wv, 6)


def weights_from_params(params: dict) -> tuple[float, float]:
    return ratio_to_weights(2.0 ** float(params.get("log2_ratio", 0.0)))


def default_storage() -> str:
    return f"sqlite:///{Path.cwd() / 'optuna.db'}"


def resolve_storage(url: str | None = None) -> str:
    """The argument, else ``$BENCH_OPTUNA_STORAGE``, else ``sqlite:///<cwd>/optuna.db``."""
    return url or os.environ.get("BENCH_OPTUNA_STORAGE") or default_storage()


def redact(url: str) -> str:
    """The storage URL without its password (safe for tags and messages)."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - not a SQLAlchemy URL: show it as given
        return url


def open_storage(url: str, *, must_exist: bool = False):
    """An Optuna RDB storage; sqlite waits up to 60 s for a lock (several worker processes).

    A SQLite storage is created (tables, alembic version) under ``<db>.lock`` the first time this
    process opens it (:func:`bench.tracking.store.init_once`), so commands started together cannot collide.
    """
    import optuna

    path = sqlite_path(url)
    if must_exist and path is not None and not path.exists():
        raise ConfigError(f"no Optuna storage at {path}; run `bench tune` first or pass --storage URL")
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else None
    try:
        return init_once(url, "Optuna storage", lambda: optuna.storages.RDBStorage(url, engine_kwargs=kwargs))
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001 - bad URL, driver missing, server down: one line
        raise ConfigError(f"cannot open Optuna storage {redact(url)}: {exc}") from None


# ------------------------------------------------------------------------------------------ results
@dataclass(frozen=True)
class TunedWeights:
    """The best trial of a study, as ``bench run --loss-weights tuned:STUDY`` uses it."""

    study: str
    storage: str
    weights: tuple[float, float]
    trial: int
    value: float
    objective: str
    params: dict

    def tags(self) -> dict[str, str]:
        return {
            f"{TAG}tuned_from": self.study,
            f"{TAG}tuned_storage": redact(self.storage),
            f"{TAG}tuned_trial": str(self.trial),
            f"{TAG}tuned_value": f"{self.value:.6g}",
            f"{TAG}tuned_objective": self.objective,
        }


@dataclass
class TuneResult:
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


class TuneReporter:
    """Progress callbacks; the CLI draws them with rich."""

    def note(self, message: str) -> None: ...
    def start(self, n_trials: int, n_existing: int, best: float | None) -> None: ...
    def trial(self, trial, best: float | None) -> None: ...


# ---------------------------------------------------------------------------------------- objective
def valid_scores(
    y_val: np.ndarray, probs: dict[str, np.ndarray], cw: dict[str, np.ndarray | None]
) -> dict[str, float]:
    """Reference loss ``L_v + L_a`` (class-weighted CE) and balanced accuracies from class-1 probs."""
    out: dict[str, float] = {}
    loss, bacc = 0.0, []
    for t, p in probs.items():
        y = y_val[:, TASK_INDEX[t]].astype(np.int64)
        p1 = np.clip(p.astype(np.float64), 1e-12, 1 - 1e-12)
        nll = -np.where(y == 1, np.log(p1), np.log1p(-p1))
        w = np.ones_like(nll) if cw[t] is None else np.asarray(cw[t], dtype=np.float64)[y]
        lt = float((w * nll).sum() / max(w.sum(), 1e-12))
        b = balanced_accuracy(y, predicted_class(p))
        out[f"valid_ref_loss_{t}"], out[f"valid_bacc_{t}"] = lt, b
        loss += lt
        bacc.append(b)
    out["valid_ref_loss"] = loss
    out["valid_bacc"] = float(np.mean(bacc))
    return out


def _score(scores: dict[str, float], objective: str) -> float:
    return scores["valid_ref_loss"] if objective == "valid-loss" else 1.0 - scores["valid_bacc"]


def canonical_objective(name: str) -> str:
    """The objective's current name (``val-loss`` -> ``valid-loss``); other values pass unchanged."""
    return OBJECTIVE_ALIASES.get(name, name)


def tune_folds_of(p: Prepared, tune_folds: int) -> list[tuple[Unit, object]]:
    """The (unit, fold) pairs a trial trains: the first ``tune_folds`` folds (of every subject)."""
    picked = [(u, f) for u, f in p.units if f.index <= tune_folds]
    if not picked:
        raise ConfigError(f"--tune-folds {tune_folds} selects no fold")
    return picked


class _EpochHook(Reporter):
    def __init__(self, fn) -> None:
        self.fn = fn

    def epoch(self, unit: Unit, row: dict) -> None:
        self.fn(row)


def score_fold(p: Prepared, unit: Unit, fold, device: torch.device, objective: str, on_epoch=None):
    """Train on ``fold.train`` (early stopping on ``fold.val``), score on ``fold.val``; never ``fold.test``.

    Returns ``(value, history)``; ``on_epoch(row)`` sees each epoch's row with the trainer's metrics
    plus ``valid_ref_loss``, ``valid_bacc`` and ``objective`` of that epoch's model.
    """
    cfg = p.config
    train, val = np.asarray(fold.train), np.asarray(fold.val)
    x = torch.from_numpy(np.ascontiguousarray(p.inputs.x))
    y = labels_tensor(p.inputs)
    y_val = np.asarray(p.inputs.labels)[val]
    cw = {
        t: (class_weights(y[torch.from_numpy(train), TASK_INDEX[t]]).numpy() if cfg.train.balance else None)
        for t in unit.tasks
    }
    std = train_standardiser(p, x, train)
    xv = x[torch.from_numpy(val)] if std is None else std(x[torch.from_numpy(val)])
    seed = unit.seed(cfg.seed)
    torch.manual_seed(seed)  # the same initial weights as `bench run` for this unit
    model = create_model(cfg.model, tasks=unit.tasks, features=cfg.features, **p.hparams)
    history: list[dict] = []

    def hook(row: dict) -> None:
        pr = predict_proba(
            model, xv, batch_size=cfg.train.batch_size, device=device, precision=cfg.train.precision
        )
        scores = valid_scores(y_val, pr, cw)
        full = {**row, **scores, "objective": _score(scores, objective)}
        history.append(full)
        if on_epoch is not None:
            on_epoch(full)

    # the validation indices stand in for the test indices: the test fold is not passed at all
    _, probs, _ = fit_predict(
        p, unit, x, y, train, val, val, device, _EpochHook(hook), standardiser=std, model=model, seed=seed
    )
    return _score(valid_scores(y_val, probs, cw), objective), history


@dataclass(frozen=True)
class _Settings:
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


def suggest(trial, space: str, cfg: RunConfig) -> tuple[RunConfig, dict]:
    """Sample one point; returns the trial's config and the params to log."""
    r_log2 = trial.suggest_float("log2_ratio", *LOG2_RATIO)
    w = ratio_to_weights(2.0**r_log2)
    changes: dict = {"loss_weights": w}
    if space == "weights+lr+dropout":
        changes["lr"] = trial.suggest_float("lr", *LR_RANGE, log=True)
        changes["dropout"] = trial.suggest_float("dropout", *DROPOUT_RANGE)
    trial.set_user_attr("w_valence", w[0])
    trial.set_user_attr("w_arousal", w[1])
    params = {"log2_ratio": r_log2, "ratio": 2.0**r_log2, "w_valence": w[0], "w_arousal": w[1]}
    params.update({k: v for k, v in changes.items() if k in ("lr", "dropout")})
    return cfg.with_train(**changes), params


class Objective:
    """One trial: sample, train the tuned folds on train/val only, log to MLflow, report for pruning."""

    def __init__(self, p: Prepared, settings: _Settings, device: torch.device) -> None:
        self.p, self.s, self.device = p, settings, device
        self.cl = client(settings.tracking_uri)

    def __call__(self, trial) -> float:
        import optuna
        from mlflow.entities import Metric, Param

        s, p = self.s, self.p
        trial.set_user_attr(COMMAND_ATTR, s.command)  # first: a trial that fails at once is counted too
        cfg_t, params = suggest(trial, s.space, p.config)
        pt = replace(p, config=cfg_t, hparams=model_hparams(cfg_t))
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


# ------------------------------------------------------------------------------------------- study
def _study_key(p: Prepared, space: str, objective: str, tune_folds: int) -> dict:
    return {
        "config_fingerprint": p.config.fingerprint(),
        "data_fingerprint": p.features.fingerprint,
        "space": space,
        "objective": objective,
        "tune_folds": int(tune_folds),
    }


def _sampler(seed: int, n_existing: int, worker: int = 0, session: int = 0):
    """TPE for one worker of one session; no two processes on a study share a seed.

    The seed mixes the run seed, the trials already in the study (a resumed study does not repeat its
    first proposals), the worker index and the session's number in the study (:func:`_open_study`:
    two commands started together see the same trials but get different sessions). ``constant_liar``
    lets TPE see trials still RUNNING in other workers, so parallel workers spread out.
    """
    import optuna

    mixed = int(seed) + 10007 * int(n_existing) + int(worker) + 1_000_003 * int(session)
    return optuna.samplers.TPESampler(seed=mixed % 2**32, constant_liar=True)


def default_pruner():
    import optuna

    return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=2)


def check_tunable(cfg: RunConfig) -> None:
    info = get_model_info(cfg.model)  # unknown model: one-line ConfigError
    if not info.trainable or not info.multitask or cfg.single_task or len(cfg.tasks) != 2:
        raise ConfigError(
            f"loss-weight tuning needs a trainable multi-task model on both tasks; {cfg.model!r} "
            + ("is not" if not (info.trainable and info.multitask) else "is run single-task / on one task")
        )
    if "select-on-test" in cfg.audit:
        raise ConfigError("tuning refuses --audit select-on-test: its validation part is the test fold")


def _validate(n_trials: int, space: str, objective: str, tune_folds: int, n_jobs: int, timeout) -> None:
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


def _open_study(url: str, name: str, key: dict, seed: int, pruner, p: Prepared, space: str):
    """Create or load the study; returns ``(study, session)``, this command's session number in it.

    On a SQLite storage this runs under the storage's lock, so commands started together create the
    study once, enqueue the baseline trial once and reserve distinct session numbers (sampler seeds).
    Other storages cannot be locked: the session number also mixes in the process id there.
    """
    import optuna

    storage = open_storage(url)
    with store_lock(url) as locked:
        study = optuna.create_study(
            study_name=name, storage=storage, direction="minimize", load_if_exists=True,
            sampler=_sampler(seed, 0), pruner=pruner,
        )  # fmt: skip
        old = study.user_attrs.get("bench_key")
        if old is not None and "objective" in old:
            old = {**old, "objective": canonical_objective(old["objective"])}
        if old is None:
            study.set_user_attr("bench_key", key)
            study.set_user_attr("config", json.loads(json.dumps(p.config.to_dict(), default=str)))
            study.set_user_attr("data_kind", p.features.kind)
            study.set_user_attr("max_epochs", p.max_epochs)
        elif old != key:
            diff = ", ".join(k for k in key if old.get(k) != key[k])
            raise ConfigError(
                f"study {name!r} in {redact(url)} was created with a different {diff}; "
                "use another --study name (or the original settings) to resume"
            )
        session = int(study.user_attrs.get("bench_sessions", 0))
        study.set_user_attr("bench_sessions", session + 1)
        if not locked:
            session = session * 65537 + os.getpid()
        if not study.trials:  # the paper's setting first: the baseline is always among the trials
            first = {"log2_ratio": 0.0}
            if space == "weights+lr+dropout":
                first["lr"] = float(min(max(p.config.train.lr, LR_RANGE[0]), LR_RANGE[1]))
                first["dropout"] = float(min(max(p.hparams.get("dropout", 0.2), 0.0), DROPOUT_RANGE[1]))
            study.enqueue_trial(first, skip_if_exists=True)
    return study, session


def _study_parent(cl, exp: str, name: str, url: str, p: Prepared, key: dict) -> str:
    """The study's MLflow run: found, or created once even when tuners start together
    (bench.tracking.claims)."""
    from mlflow.entities import Param

    from bench.tracking.claims import find_or_create_run

    tags = {
        **run_tags(p),
        f"{TAG}role": "study",
        f"{TAG}study": name,
        f"{TAG}storage": redact(url),
        f"{TAG}code_version": code_version(),
    }
    ident = {f"{TAG}study": name, f"{TAG}role": "study"}
    run, run_id = find_or_create_run(
        cl, exp, ident, lambda: cl.create_run(exp, run_name=f"study {name}", tags=tags).info.run_id
    )
    if run is not None:
        cl.update_run(run.info.run_id, status="RUNNING")
        return run.info.run_id
    params = {**{f"study.{k}": str(v) for k, v in key.items()}, "model": p.config.model,
              "protocol": p.config.protocol, "split": p.split, "max_epochs": str(p.max_epochs),
              "n_folds": str(p.config.n_folds), "seed": str(p.config.seed),
              "search.log2_ratio": f"uniform{list(LOG2_RATIO)}",
              "search.weight_sum": str(WEIGHT_SUM)}  # fmt: skip
    if key["space"] == "weights+lr+dropout":
        params.update(
            {"search.lr": f"loguniform{list(LR_RANGE)}", "search.dropout": f"uniform{list(DROPOUT_RANGE)}"}
        )
    cl.log_batch(run_id, params=[Param(k, v) for k, v in sorted(params.items())])
    return run_id


def best_of(study, url: str, objective: str) -> TunedWeights | None:
    import optuna

    done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if not done:
        return None
    best = min(done, key=lambda t: t.value)
    w = (best.user_attrs.get("w_valence"), best.user_attrs.get("w_arousal"))
    if None in w:
        w = weights_from_params(best.params)
    return TunedWeights(study.study_name, url, (float(w[0]), float(w[1])), best.number, float(best.value),
                        objective, dict(best.params))  # fmt: skip


def best_weights(study_name: str, storage: str | None = None) -> TunedWeights:
    """The best completed trial's loss weights; a missing study or no completed trial is a ConfigError."""
    import optuna

    url = resolve_storage(storage)
    if not study_name:
        raise ConfigError("tuned:STUDY needs a study name, e.g. --loss-weights tuned:mtcnn-whole-set-weights")
    st = open_storage(url, must_exist=True)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.load_study(study_name=study_name, storage=st)
    except KeyError:
        names = ", ".join(optuna.get_all_study_names(st)) or "none"
        raise ConfigError(
            f"study {study_name!r} not found in {redact(url)}; studies there: {names}"
        ) from None
    objective = canonical_objective((study.user_attrs.get("bench_key") or {}).get("objective", "valid-loss"))
    best = best_of(study, url, objective)
    if best is None:
        raise ConfigError(f"study {study_name!r} in {redact(url)} has no completed trial yet")
    return best


# --------------------------------------------------------------------------------------- optimising
def _worker(payload: dict) -> None:
    """Entry point of a spawned worker process: load the study and optimise its share of trials."""
    import optuna

    optuna.logging.set_verbosity(payload.get("verbosity", optuna.logging.WARNING))
    torch.set_num_threads(payload["threads"])
    cfg = RunConfig.from_dict(payload["config"])
    p = prepare(cfg, deap=payload["deap"], synthetic=payload["synthetic"], features=payload["features"])
    s: _Settings = payload["settings"]
    study = optuna.load_study(
        study_name=s.study, storage=open_storage(s.storage),
        sampler=_sampler(cfg.seed, payload["n_existing"], payload["index"], payload["session"]),
        pruner=payload["pruner"],
    )  # fmt: skip
    objective = Objective(p, s, resolve_device(cfg.device))
    # Ctrl-C: the trial in flight is marked FAIL by Optuna; finished ones stay
    with contextlib.suppress(KeyboardInterrupt):
        study.optimize(objective, n_trials=payload["n_trials"], timeout=payload["timeout"])


def _run_processes(payload: dict, n_jobs: int, n_trials: int, study, reporter: TuneReporter) -> bool:
    import multiprocessing as mp

    import optuna

    ctx = mp.get_context("spawn")
    shares = [n_trials // n_jobs + (i < n_trials % n_jobs) for i in range(n_jobs)]
    from bench.core.host import usable_cores

    cores = usable_cores()
    procs = []
    for i, share in enumerate(shares):
        if share == 0:
            continue
        pl = dict(payload, index=i, n_trials=share, threads=max(1, cores // n_jobs))
        pr = ctx.Process(target=_worker, args=(pl,), name=f"bench-tune-{i}")
        pr.start()
        procs.append(pr)
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
                b = _best_value(study)
                reporter.trial(t, b)

    try:
        while any(pr.is_alive() for pr in procs):
            time.sleep(0.5)
            poll()
    except KeyboardInterrupt:
        interrupted = True
        for pr in procs:
            if pr.is_alive() and pr.pid:
                with contextlib.suppress(OSError):
                    os.kill(pr.pid, signal.SIGINT)
        for pr in procs:
            pr.join(timeout=60)
            if pr.is_alive():
                pr.terminate()
                pr.join(timeout=10)
    for pr in procs:
        pr.join()
    poll()
    bad = [f"{pr.name} (exit {pr.exitcode})" for pr in procs if pr.exitcode not in (0, None)]
    if bad and not interrupted:
        raise RuntimeError(f"tuning worker(s) failed: {', '.join(bad)}; see their traceback above")
    return interrupted


def own_trials(trials, command: str) -> list:
    """The trials of ``trials`` that the command ``command`` (:attr:`_Settings.command`) ran."""
    return [t for t in trials if t.user_attrs.get(COMMAND_ATTR) == command]


def _best_value(study) -> float | None:
    import optuna

    vals = [t.value for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))]
    return min(vals) if vals else None


def _finish_parent(cl, parent_id: str, study, best: TunedWeights | None, seed: int, notes: list[str]) -> None:
    import optuna
    from mlflow.entities import Metric

    trials = study.get_trials(deepcopy=False)
    count = {s: sum(t.state == s for t in trials) for s in optuna.trial.TrialState}
    now = int(time.time() * 1000)
    step = len(trials)
    ms = {
        "n_trials": len(trials),
        "n_complete": count[optuna.trial.TrialState.COMPLETE],
        "n_pruned": count[optuna.trial.TrialState.PRUNED],
        "n_fail": count[optuna.trial.TrialState.FAIL],
    }
    if best is not None:
        ms.update({"best_value": best.value, "best_w_valence": best.weights[0],
                   "best_w_arousal": best.weights[1], "best_trial": best.trial,
                   **{f"best_{k}": v for k, v in best.params.items()}})  # fmt: skip
        # tuners sharing the study run finish at the same moment: MLflow's set_tag (select, then insert)
        # is not atomic on SQLite, so the tags are written under the store's lock
        tags = {"best_trial": str(best.trial), "best_weights": f"{best.weights[0]},{best.weights[1]}",
                "best_params": json.dumps(best.params, sort_keys=True)}  # fmt: skip
        with store_lock(cl.tracking_uri):
            for k, v in tags.items():
                cl.set_tag(parent_id, f"{TAG}{k}", v)
    cl.log_batch(parent_id, metrics=[Metric(k, float(v), now, step) for k, v in ms.items()])
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        notes.extend(_plots(study, d, seed))
        import pandas as pd

        rows = [{"number": t.number, "state": t.state.name, "value": t.value, **t.params,
                 "w_valence": t.user_attrs.get("w_valence"), "w_arousal": t.user_attrs.get("w_arousal")}
                for t in trials]  # fmt: skip
        pd.DataFrame(rows).to_csv(d / "trials.csv", index=False)
        if notes:
            (d / "notes.txt").write_text("\n".join(notes) + "\n")
        cl.log_artifacts(parent_id, str(d))


def _plots(study, folder: Path, seed: int) -> list[str]:
    """Optimisation history and parameter importances as PNGs; returns notes for skipped plots."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    import optuna
    from optuna.visualization import matplotlib as ovm

    notes = []
    done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            if not done:
                raise ValueError("no completed trial")
            ax = ovm.plot_optimization_history(study)
            ax.figure.savefig(folder / "optimization_history.png", dpi=100, bbox_inches="tight")
        except Exception as exc:  # noqa: BLE001 - a plot must never lose the study
            notes.append(f"optimisation history not plotted: {exc}")
        finally:
            plt.close("all")
        n_params = len({k for t in done for k in t.params})
        if len(done) < 2 or n_params < 2:
            notes.append(
                f"parameter importances skipped: need >= 2 completed trials and > 1 parameter "
                f"(have {len(done)} completed, {n_params} parameter(s))"
            )
        else:
            try:
                ev = optuna.importance.FanovaImportanceEvaluator(seed=seed)
                ax = ovm.plot_param_importances(study, evaluator=ev)
                ax.figure.savefig(folder / "param_importances.png", dpi=100, bbox_inches="tight")
            except Exception as exc:  # noqa: BLE001
                notes.append(f"parameter importances not plotted: {exc}")
            finally:
                plt.close("all")
    return notes


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
    key = _study_key(p, space, objective, tune_folds)
    study, session = _open_study(url, name, key, cfg.seed, pruner, p, space)
    n_existing = sum(t.state != optuna.trial.TrialState.WAITING for t in study.trials)
    study.sampler = _sampler(cfg.seed, n_existing, session=session)
    uri = resolve_tracking_uri(tracking_uri)
    cl = client(uri)
    exp = experiment_id(cl, p.features.kind)
    parent_id = _study_parent(cl, exp, name, url, p, key)
    settings = _Settings(name, url, space, objective, int(tune_folds), uri, parent_id, exp, uuid.uuid4().hex)
    reporter.start(int(n_trials), n_existing, _best_value(study))
    interrupted, status = False, "FAILED"
    try:
        if n_jobs == 1:
            if cfg.num_threads:
                torch.set_num_threads(int(cfg.num_threads))
            obj = Objective(p, settings, resolve_device(cfg.device))
            try:
                study.optimize(
                    obj, n_trials=int(n_trials), timeout=timeout,
                    callbacks=[lambda st, t: reporter.trial(t, _best_value(st))],
                )  # fmt: skip
            except KeyboardInterrupt:
                interrupted = True
        else:
            reload = features is None and prepared is None and (deap is not None or synthetic is not None)
            payload = {
                "config": cfg.to_dict(), "deap": str(deap) if deap is not None else None,
                "synthetic": synthetic,
                # workers reload the feature cache from DEAP_DIR/synthetic, else get the features pickled
                "features": None if reload else p.features,
                "settings": settings, "n_existing": n_existing, "session": session, "pruner": pruner,
                "timeout": timeout,
                "verbosity": optuna.logging.get_verbosity(),
            }  # fmt: skip
            interrupted = _run_processes(payload, int(n_jobs), int(n_trials), study, reporter)
        status = "KILLED" if interrupted else "FINISHED"
    finally:
        trials = study.get_trials()
        best = best_of(study, url, objective)
        notes: list[str] = []
        try:
            _finish_parent(cl, parent_id, study, best, cfg.seed, notes)
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
