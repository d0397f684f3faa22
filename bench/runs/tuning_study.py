"""A tuning study's home: its Optuna storage, the study itself (created once, resumed, seeded per
session), its MLflow parent run, and its best trial.

Storage
-------
Studies live in an Optuna RDB storage: ``sqlite:///<cwd>/optuna.db`` by default, else any SQLAlchemy
URL (PostgreSQL/MySQL for several machines). The study is created (``load_if_exists``) in the calling
process; re-running the same command adds ``n_trials`` more trials to it. A study remembers its
config, data and search space and refuses to resume with different ones. A SQLite storage is created,
and the study opened, under the file lock ``<db>.lock``, so commands started together on a fresh
storage all succeed; each command is a new *session* of the study, and no two processes on a study
share a sampler seed (:func:`sampler`).

Tracking
--------
The study is one MLflow parent run (tag ``bench.study``, role ``study``) in the data kind's experiment;
every trial is a nested run (``mlflow.parentRunId``) with its params, per-epoch validation metrics,
the objective and its state (tag ``bench.trial_state``: COMPLETE / PRUNED / FAIL). The parent ends with
the best trial as metrics and tags plus PNGs of the optimisation history and parameter importances.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from bench.core.errors import ConfigError
from bench.runs.plan import Prepared
from bench.runs.runner import run_tags
from bench.runs.tuning_space import (
    DROPOUT_RANGE,
    LOG2_RATIO,
    LR_RANGE,
    WEIGHT_SUM,
    canonical_objective,
    weights_from_params,
)
from bench.tracking.claims import find_or_create_run
from bench.tracking.store import TAG, code_version, init_once, store_lock
from bench.tracking.uris import sqlite_path

COMMAND_ATTR = "bench_command"
"""The user attribute naming the ``bench tune`` command that ran a trial (:func:`own_trials`)."""


def default_storage() -> str:
    """``sqlite:///<cwd>/optuna.db``: studies beside the command, like ``mlruns``."""
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


def study_key(p: Prepared, space: str, objective: str, tune_folds: int) -> dict:
    """What a study must keep to be resumed: config and data fingerprints, space, objective, folds."""
    return {
        "config_fingerprint": p.config.fingerprint(),
        "data_fingerprint": p.features.fingerprint,
        "space": space,
        "objective": objective,
        "tune_folds": int(tune_folds),
    }


def sampler(seed: int, n_existing: int, worker: int = 0, session: int = 0):
    """TPE for one worker of one session; no two processes on a study share a seed.

    The seed mixes the run seed, the trials already in the study (a resumed study does not repeat its
    first proposals), the worker index and the session's number in the study (:func:`open_study`:
    two commands started together see the same trials but get different sessions). ``constant_liar``
    lets TPE see trials still RUNNING in other workers, so parallel workers spread out.
    """
    import optuna

    mixed = int(seed) + 10007 * int(n_existing) + int(worker) + 1_000_003 * int(session)
    return optuna.samplers.TPESampler(seed=mixed % 2**32, constant_liar=True)


def default_pruner():
    """MedianPruner: 5 startup trials, 2 warm-up epochs (see :mod:`bench.runs.tuning_space`)."""
    import optuna

    return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=2)


def open_study(url: str, name: str, key: dict, seed: int, pruner, p: Prepared, space: str):
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
            sampler=sampler(seed, 0), pruner=pruner,
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


def study_parent(cl, exp: str, name: str, url: str, p: Prepared, key: dict) -> str:
    """The study's MLflow run: found, or created once even when tuners start together
    (bench.tracking.claims)."""
    from mlflow.entities import Param

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
    """The best COMPLETE trial as :class:`TunedWeights`, None if no trial completed."""
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


def own_trials(trials, command: str) -> list:
    """The trials of ``trials`` that the command ``command`` ran
    (:attr:`bench.runs.tuning_trials.Settings.command`)."""
    return [t for t in trials if t.user_attrs.get(COMMAND_ATTR) == command]


def best_value(study) -> float | None:
    """The lowest value of a COMPLETE trial of the whole study, None before the first."""
    import optuna

    vals = [t.value for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))]
    return min(vals) if vals else None


def finish_parent(cl, parent_id: str, study, best: TunedWeights | None, seed: int, notes: list[str]) -> None:
    """The study's parent run at the end: trial counts and the best trial as metrics and tags, the
    trials as CSV, the plots (or notes saying why not)."""
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
        notes.extend(plots(study, d, seed))
        import pandas as pd

        rows = [{"number": t.number, "state": t.state.name, "value": t.value, **t.params,
                 "w_valence": t.user_attrs.get("w_valence"), "w_arousal": t.user_attrs.get("w_arousal")}
                for t in trials]  # fmt: skip
        pd.DataFrame(rows).to_csv(d / "trials.csv", index=False)
        if notes:
            (d / "notes.txt").write_text("\n".join(notes) + "\n")
        cl.log_artifacts(parent_id, str(d))


def plots(study, folder: Path, seed: int) -> list[str]:
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
