"""The experiment runner: config -> data -> folds -> units of work -> fitted models -> MLflow.

A run is one (model, protocol, split, config) on one data set. It is cut into independent,
serialisable units (one per fold, per subject-fold for subject-specific, per task for single-task
models). Each finished unit is a FINISHED child run in MLflow; re-running the same command finds the
parent by its run key (config hash + data fingerprint) and skips finished units. The parent is marked
FINISHED only when every unit is, so tables never count partial runs.
"""

from __future__ import annotations

import copy
import hashlib
import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from bench import __version__
from bench.claims import claim_unit, find_or_create_run, heartbeat
from bench.config import RunConfig
from bench.data.cache import FeatureSet, prepare_features
from bench.data.features import FeatureConfig
from bench.data.inputs import ModelInputs
from bench.data.source import resolve_source
from bench.errors import ConfigError
from bench.identity import folds_fingerprint, identity_tags, resolve_config
from bench.registry import create_model, get_model_info, resolve_input_spec
from bench.tracking import (
    TAG,
    child_runs,
    client,
    code_version,
    experiment_id,
    flatten,
    resolve_tracking_uri,
    store_lock,
)
from bench.trainer import (
    TASK_INDEX,
    Standardiser,
    classification_metrics,
    confusion,
    fit,
    predict_proba,
    predicted_class,
    resolve_device,
    trial_metrics,
)
from protocols import fold_assignment, get_protocol, make_folds

METRICS = ("acc", "balanced_acc", "f1_macro", "auc", "trial_acc", "trial_balanced_acc")


@dataclass(frozen=True)
class Unit:
    """One independent piece of work: a fold (of a subject) for one group of tasks."""

    key: str
    fold: int
    subject: int | None
    tasks: tuple[str, ...]

    def seed(self, base: int) -> int:
        """A seed that depends only on the run seed and the unit, not on execution order."""
        return int(hashlib.sha256(f"{base}:{self.key}".encode()).hexdigest()[:8], 16) % (2**31 - 1)


@dataclass
class UnitResult:
    unit: Unit
    metrics: dict[str, float]
    history: list[dict] = field(default_factory=list)
    predictions: pd.DataFrame | None = None
    run_id: str | None = None
    reused: bool = False


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


class Reporter:
    """Progress callbacks; the CLI draws them with rich, library users may subclass or ignore."""

    def note(self, message: str) -> None: ...
    def plan(self, n_units: int, n_done: int) -> None: ...
    def unit_start(self, unit: Unit, max_epochs: int) -> None: ...
    def epoch(self, unit: Unit, row: dict) -> None: ...
    def unit_end(self, result: UnitResult) -> None: ...


# --------------------------------------------------------------------------------------------- setup
@dataclass
class Prepared:
    """Everything resolved before training: data, inputs, folds, units."""

    config: RunConfig
    split: str
    features: FeatureSet
    inputs: ModelInputs
    folds: list
    units: list[tuple[Unit, object]]
    hparams: dict
    max_epochs: int
    finetune: bool
    leaky: bool
    folds_fingerprint: str
    """Hash of the test folds (:func:`bench.identity.folds_fingerprint`): paired tests need equal ones."""

    @property
    def run_key(self) -> str:
        payload = f"{self.config.fingerprint()}:{self.features.fingerprint}"
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


def model_hparams(cfg: RunConfig) -> dict:
    """Model keyword arguments: model defaults < config model_options < dropout / batch-norm switches."""
    info = get_model_info(cfg.model)
    allowed = set(info.model_params)
    hp = {k: v for k, v in info.defaults.items() if k in allowed}
    hp.update(cfg.model_options)
    if cfg.train.dropout is not None:
        if "dropout" not in allowed:
            raise ConfigError(f"model {cfg.model!r} has no dropout to set")
        hp["dropout"] = cfg.train.dropout
    if not cfg.train.batch_norm:
        if "batch_norm" not in allowed:
            raise ConfigError(f"model {cfg.model!r} has no batch norm to switch off")
        hp["batch_norm"] = False
    return hp


def prepare(
    cfg: RunConfig,
    *,
    deap: str | Path | None = None,
    synthetic=None,
    features: FeatureSet | None = None,
    echo: Callable[[str], None] | None = None,
) -> Prepared:
    """Resolve data, model input, folds and units (no training, no tracking)."""
    # The run key, params and resume all see the resolved values: `--split trial` and the default
    # split are the same run; `--recipe paper` is the model's own training set-up.
    cfg = resolve_config(cfg)
    info = get_model_info(cfg.model)
    proto = get_protocol(cfg.protocol)
    split = cfg.split
    if cfg.single_task and not info.multitask:
        raise ConfigError(f"model {cfg.model!r} is single-task already; --single-task changes nothing")
    hp = model_hparams(cfg)  # bad model options fail before any data is read
    try:  # build once (cheap): values the factory refuses fail here too, not in a tracked unit
        create_model(
            cfg.model, tasks=cfg.tasks if info.multitask else cfg.tasks[:1], features=cfg.features, **hp
        )
    except (TypeError, ValueError, RuntimeError) as exc:
        raise ConfigError(f"model {cfg.model!r} options {hp}: {exc}") from None
    spec = resolve_input_spec(cfg.model, features=cfg.features, **hp)
    feature_config = FeatureConfig.from_dict(cfg.feature_config)
    if features is None:
        source = resolve_source(deap, subjects=cfg.subjects, synthetic=synthetic, echo=echo)
        features = prepare_features(source, feature_config)
    elif cfg.subjects is not None:
        features = features.select(cfg.subjects)
    inputs = features.inputs(spec, threshold=cfg.threshold, high_if=cfg.high_if)
    select_on_test = "select-on-test" in cfg.audit
    folds = make_folds(
        cfg.protocol,
        inputs.subject,
        inputs.trial,
        inputs.labels,
        split=split,
        n_folds=cfg.n_folds,
        val_fraction=cfg.val_fraction,
        seed=cfg.seed,
        select_on_test=select_on_test,
    )
    groups = [cfg.tasks] if info.multitask and not cfg.single_task else [(t,) for t in cfg.tasks]
    units = []
    for fold in folds:
        for g in groups:
            suffix = "" if len(groups) == 1 and (info.multitask and not cfg.single_task) else f"-{g[0]}"
            units.append((Unit(fold.key + suffix, fold.index, fold.subject, g), fold))
    leaky = split == "segment" or select_on_test
    fp = folds_fingerprint(folds, inputs.subject, inputs.trial, inputs.segment, inputs.labels, split)
    epochs = int(cfg.train.max_epochs)
    return Prepared(cfg, split, features, inputs, folds, units, hp, epochs, proto.finetune, leaky, fp)


# ---------------------------------------------------------------------------------------- one unit
def _labels_tensor(inputs: ModelInputs) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(inputs.labels))


def _fit_predict(
    p: Prepared,
    unit: Unit,
    x: torch.Tensor,
    y: torch.Tensor,
    train: np.ndarray,
    val: np.ndarray,
    test: np.ndarray,
    device: torch.device,
    reporter: Reporter,
    *,
    model: torch.nn.Module | None = None,
    lr: float | None = None,
    seed: int,
) -> tuple[torch.nn.Module, dict[str, np.ndarray], list[dict]]:
    """Fit (or fine-tune ``model``) on train/val, then predict the test indices once."""
    cfg = p.config
    info = get_model_info(cfg.model)
    torch.manual_seed(seed)
    if model is None:
        model = create_model(cfg.model, tasks=unit.tasks, features=cfg.features, **p.hparams)
    tr = torch.from_numpy(train)
    history: list[dict] = []
    if cfg.train.standardise == "train":
        std = Standardiser.fit(x[tr])
        xt, xv, xs = std(x[tr]), std(x[torch.from_numpy(val)]), std(x[torch.from_numpy(test)])
    else:
        xt, xv, xs = x[tr], x[torch.from_numpy(val)], x[torch.from_numpy(test)]
    yt, yv = y[tr], y[torch.from_numpy(val)]
    if info.trainable:
        tcfg = cfg.train if lr is None else replace(cfg.train, lr=lr)
        res = fit(
            model, xt, yt, xv, yv,
            tasks=unit.tasks, config=tcfg, max_epochs=p.max_epochs, seed=seed, device=device,
            on_epoch=lambda row: reporter.epoch(unit, row),
        )  # fmt: skip
        history = [dict(r, fit_seconds=res.fit_seconds, best_epoch=res.best_epoch) for r in res.history]
    else:
        model.fit_labels({t: yt[:, TASK_INDEX[t]] for t in unit.tasks})
    probs = predict_proba(
        model, xs, batch_size=cfg.train.batch_size, device=device, precision=cfg.train.precision
    )
    return model, probs, history


def run_unit(
    p: Prepared, unit: Unit, fold, device: torch.device, reporter: Reporter | None = None
) -> UnitResult:
    """Train and test one unit; returns metrics, per-epoch history and per-sample predictions."""
    reporter = reporter or Reporter()
    cfg = p.config
    x = torch.from_numpy(np.ascontiguousarray(p.inputs.x))
    y = _labels_tensor(p.inputs)
    seed = unit.seed(cfg.seed)
    t0 = time.perf_counter()
    reporter.unit_start(unit, p.max_epochs)
    model, probs, history = _fit_predict(
        p, unit, x, y, fold.train, fold.val, fold.test, device, reporter, seed=seed
    )
    test = fold.test
    if p.finetune:
        # whole-set-finetune: the pooled model is the starting point of one fine-tuned model per subject
        div = cfg.train.finetune_lr_divisor or (8.0 if len(unit.tasks) > 1 else 4.0)
        parts, idx_parts = [], []
        for s in np.unique(p.inputs.subject[fold.test]):
            m = {
                k: getattr(fold, k)[p.inputs.subject[getattr(fold, k)] == s] for k in ("train", "val", "test")
            }
            _, pr, h = _fit_predict(
                p, unit, x, y, m["train"], m["val"], m["test"], device, reporter,
                model=copy.deepcopy(model), lr=cfg.train.lr / div, seed=seed + int(s),
            )  # fmt: skip
            history += [dict(r, subject=int(s), stage="finetune") for r in h]
            parts.append(pr)
            idx_parts.append(m["test"])
        test = np.concatenate(idx_parts)
        probs = {t: np.concatenate([pr[t] for pr in parts]) for t in unit.tasks}
    inp = p.inputs
    pred = pd.DataFrame(
        {
            "subject": inp.subject[test],
            "trial": inp.trial[test],
            "segment": inp.segment[test],
            "fold": unit.fold,
        }
    )
    metrics: dict[str, float] = {}
    for t in unit.tasks:
        y_true = inp.labels[test, TASK_INDEX[t]]
        pred[f"y_{t}"] = y_true
        pred[f"p_{t}"] = probs[t]
        for k, v in classification_metrics(y_true, probs[t]).items():
            metrics[f"test_{k}_{t}"] = v
        # trials are the independent unit: soft vote over the trial's windows in THIS test part (with
        # the segment split, only the share of the trial's windows that fell into this fold)
        for k, v in trial_metrics(inp.subject[test], inp.trial[test], y_true, probs[t]).items():
            metrics[f"test_{k}_{t}"] = v
        if unit.subject is None:  # pooled protocols: per-subject accuracy, for per-subject statistics
            hit = predicted_class(probs[t]) == y_true
            for s, acc in pd.Series(hit).groupby(pred["subject"].to_numpy()).mean().items():
                metrics[f"test_acc_{t}_s{int(s):02d}"] = float(acc)
    metrics["fit_seconds"] = time.perf_counter() - t0
    metrics["epochs_run"] = float(max((r["epoch"] for r in history), default=0))
    metrics["best_epoch"] = (
        float(history[-1]["best_epoch"]) if history and "best_epoch" in history[-1] else 0.0
    )
    metrics["n_train"], metrics["n_val"], metrics["n_test"] = map(
        float, (len(fold.train), len(fold.val), len(test))
    )
    # independent units behind the test metrics, for chance levels downstream
    metrics["n_test_trials"] = float(len(pred[["subject", "trial"]].drop_duplicates()))
    metrics["n_test_subjects"] = float(pred["subject"].nunique())
    return UnitResult(unit, metrics, history, pred)


# -------------------------------------------------------------------------------------- summaries
def summarise(results: list[UnitResult], tasks: tuple[str, ...], per_subject: bool) -> dict[str, float]:
    """Mean and std of test metrics; per-subject protocols average per subject first.

    A metric missing from a unit counts as NaN: MLflow keeps no non-finite values, so a reused unit's
    undefined AUC (one class in its test fold) comes back missing rather than NaN, and a unit reused from
    a run older than the trial-level metrics has no ``test_trial_*``; means and stds skip them.
    """
    rows = []
    for r in results:
        for t in tasks:
            if f"test_acc_{t}" in r.metrics:
                rows.append({"subject": r.unit.subject, "fold": r.unit.fold, "task": t,
                             **{m: r.metrics.get(f"test_{m}_{t}", np.nan) for m in METRICS}})  # fmt: skip
    out: dict[str, float] = {}
    if not rows:
        return out
    df = pd.DataFrame(rows)
    for t, g in df.groupby("task"):
        if per_subject:
            g = g.groupby("subject")[list(METRICS)].mean()
        for m in METRICS:
            vals = g[m].to_numpy(dtype=float)
            out[f"{m}_{t}_mean"] = float(np.nanmean(vals))
            out[f"{m}_{t}_std"] = float(np.nanstd(vals, ddof=1)) if len(vals) > 1 else 0.0
        out[f"n_{t}"] = float(len(g))
    return out


# -------------------------------------------------------------------------------------- tracking
def _tags(p: Prepared) -> dict[str, str]:
    cfg = p.config
    return {
        f"{TAG}model": cfg.model,
        f"{TAG}protocol": cfg.protocol,
        f"{TAG}split": p.split,
        f"{TAG}data_kind": p.features.kind,
        f"{TAG}synthetic": str(p.features.synthetic).lower(),
        f"{TAG}data_fingerprint": p.features.fingerprint,
        f"{TAG}leaky": str(p.leaky).lower(),
        f"{TAG}audit": ",".join(cfg.audit) or "none",
        f"{TAG}config_fingerprint": cfg.fingerprint(),
        f"{TAG}run_key": p.run_key,
        f"{TAG}code_version": code_version(),
        f"{TAG}package_version": __version__,
        f"{TAG}n_subjects": str(len(p.features.subjects)),
        **identity_tags(cfg, p.folds_fingerprint, prefix=TAG),
    }


def _log_unit_artifacts(cl, run_id: str, res: UnitResult) -> None:
    from bench.plots import plot_confusions, plot_learning_curve

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        res.predictions.to_csv(d / "predictions.csv", index=False)
        if res.history:
            pd.DataFrame(res.history).to_csv(d / "history.csv", index=False)
            plot_learning_curve(res.history, d / "learning_curve.png", title=res.unit.key)
        cms = {t: confusion(res.predictions[f"y_{t}"].to_numpy(), res.predictions[f"p_{t}"].to_numpy())
               for t in res.unit.tasks}  # fmt: skip
        plot_confusions(cms, d / "confusion.png", title=res.unit.key)
        cl.log_artifacts(run_id, str(d))


def _log_history(cl, run_id: str, history: list[dict]) -> None:
    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    ms = []
    for i, row in enumerate(history, start=1):
        for k, v in row.items():
            if k in ("epoch", "subject", "stage", "fit_seconds", "best_epoch") or not isinstance(
                v, int | float
            ):
                continue
            name = k if row.get("stage") != "finetune" else f"finetune_s{row['subject']:02d}_{k}"
            ms.append(Metric(name, float(v), now, int(row.get("epoch", i))))
    for start in range(0, len(ms), 900):
        cl.log_batch(run_id, metrics=ms[start : start + 900])


def _log_metrics(cl, run_id: str, metrics: dict[str, float]) -> None:
    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    ms = [Metric(k, float(v), now, 0) for k, v in metrics.items() if np.isfinite(v)]
    for start in range(0, len(ms), 900):
        cl.log_batch(run_id, metrics=ms[start : start + 900])


def _reuse(run, unit: Unit) -> UnitResult:
    return UnitResult(unit, dict(run.data.metrics), run_id=run.info.run_id, reused=True)


def unit_tags(tags: dict[str, str], unit: Unit, parent_id: str) -> dict[str, str]:
    """Tags of a unit's child run: the parent's tags plus the unit's identity."""
    return {**tags, f"{TAG}role": "unit", f"{TAG}unit": unit.key, f"{TAG}fold": str(unit.fold),
            f"{TAG}subject": str(unit.subject or ""), f"{TAG}tasks": ",".join(unit.tasks),
            "mlflow.parentRunId": parent_id}  # fmt: skip


def track_unit(
    cl,
    p: Prepared,
    unit: Unit,
    fold,
    device: torch.device,
    reporter: Reporter,
    experiment: str,
    parent_id: str,
    tags: dict[str, str],
    *,
    wait: bool = True,
) -> UnitResult | None:
    """Claim one unit, then run it inside its own child run; the child is FINISHED only if it completed.

    Every executor calls this (in-process, in a pool worker or on a Dask worker), so a unit is tracked
    and claimed (:mod:`bench.claims`) the same way wherever it runs. If another process finished the
    unit meanwhile, its result is reused; if another process is running it, this waits for it, or
    returns None at once when ``wait`` is False. An error or Ctrl-C leaves the child FAILED/KILLED, a
    dead process leaves it RUNNING with a claim that goes stale: never FINISHED, so resume (or a
    concurrent command) runs the unit again.
    """

    def create(claim: dict[str, str]) -> str:
        run_tags = {**unit_tags(tags, unit, parent_id), **claim}
        return cl.create_run(experiment, run_name=unit.key, tags=run_tags).info.run_id

    claim = claim_unit(cl, experiment, parent_id, unit.key, create, wait=wait)
    if claim is None:
        return None
    if claim.finished is not None:
        return _reuse(claim.finished, unit)
    cid = claim.run_id
    try:
        with heartbeat(cl, cid):
            res = run_unit(p, unit, fold, device, reporter)
            _log_history(cl, cid, res.history)
            _log_metrics(cl, cid, res.metrics)
            _log_unit_artifacts(cl, cid, res)
    except KeyboardInterrupt:
        cl.set_terminated(cid, status="KILLED")
        raise
    except BaseException:
        cl.set_terminated(cid, status="FAILED")
        raise
    cl.set_terminated(cid, status="FINISHED")
    res.run_id = cid
    return res


def _new_parent(cl, exp: str, p: Prepared, tags: dict[str, str], extra: dict[str, str]) -> str:
    """Create a parent run (bare: params and artifacts follow once it is known to be the one)."""
    cfg = p.config
    run_name = f"{cfg.model}|{cfg.protocol}|{p.split}" + ("|audit" if cfg.audit else "")
    return cl.create_run(exp, run_name=run_name, tags={**tags, **extra, f"{TAG}role": "parent"}).info.run_id


def _log_parent(cl, parent_id: str, p: Prepared) -> None:
    """The new parent's params (config, resolved split/epochs, model hparams) and artifacts."""
    cfg = p.config
    params = flatten(cfg.to_dict())
    params.update({"split_resolved": p.split, "max_epochs_resolved": str(p.max_epochs),
                   "model_hparams": json.dumps(p.hparams, sort_keys=True, default=str)})  # fmt: skip
    from mlflow.entities import Param

    items = [Param(k, v[:6000]) for k, v in sorted(params.items())]
    for start in range(0, len(items), 90):
        cl.log_batch(parent_id, params=items[start : start + 90])
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        (d / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2, default=str))
        (d / "feature_config.json").write_text(json.dumps(p.features.config.to_dict(), indent=2))
        inp = p.inputs
        fold_assignment(p.folds, inp.subject, inp.trial, inp.segment).to_csv(d / "folds.csv.gz", index=False)
        cl.log_artifacts(parent_id, str(d))


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

    ``executor`` runs the units that are not finished yet: ``None`` or ``bench.executors.LocalExecutor``
    in this process (the default), ``PoolExecutor`` in local worker processes, ``DaskExecutor`` on a
    Dask cluster. The parent run, resume and the summary stay in this process whatever the executor.
    Workers read the features from the feature cache (``cache_dir``, default ``$DEAP_BENCH_CACHE``):
    pass the folder the features were prepared in if it is not the default.
    """
    reporter = reporter or Reporter()
    if prepared is not None:
        cfg = prepared.config  # the resolved config the folds and units were built from
    if cfg.num_threads:
        torch.set_num_threads(int(cfg.num_threads))
    device = resolve_device(cfg.device)
    p = prepared or prepare(cfg, deap=deap, synthetic=synthetic, echo=reporter.note)
    cfg = p.config  # resolved (split, epochs, recipe): what the params and tables must see
    from bench.executors import LocalExecutor, UnitContext

    executor = executor or LocalExecutor()
    executor.check(p, cache_dir)  # e.g. workers need the features in the cache: fail before tracking
    cl = client(tracking_uri)
    exp = experiment_id(cl, p.features.kind)
    tags = _tags(p)
    extra = {str(k): str(v) for k, v in (extra_tags or {}).items()}
    # one parent per run key, also when several commands start at once (bench.claims)
    key = {f"{TAG}run_key": p.run_key, f"{TAG}role": "parent"}
    parent, parent_id = find_or_create_run(
        cl, exp, key, lambda: _new_parent(cl, exp, p, tags, extra), force=force
    )
    done: dict[str, object] = {}
    if parent is not None:
        for run in child_runs(cl, exp, parent.info.run_id):
            if run.info.status == "FINISHED":
                done.setdefault(run.data.tags.get(f"{TAG}unit"), run)
        parent_id = parent.info.run_id
        for k, v in extra.items():
            cl.set_tag(parent_id, k, v)
        if parent.info.status != "RUNNING":
            cl.update_run(parent_id, status="RUNNING")
    else:
        _log_parent(cl, parent_id, p)
    reporter.plan(len(p.units), sum(u.key in done for u, _ in p.units))
    by_key: dict[str, UnitResult] = {}
    todo = []
    for unit, fold in p.units:
        if unit.key in done:
            res = _reuse(done[unit.key], unit)
            reporter.unit_end(res)
            by_key[unit.key] = res
        else:
            todo.append((unit, fold))
    ctx = UnitContext(
        prepared=p, client=cl, experiment_id=exp, parent_run_id=parent_id, tags=tags, device=device,
        reporter=reporter, tracking_uri=resolve_tracking_uri(tracking_uri), cache_dir=cache_dir,
    )  # fmt: skip
    status = "FAILED"
    try:
        for res in executor.run(todo, ctx):
            reporter.unit_end(res)
            by_key[res.unit.key] = res
        missing = [u.key for u, _ in p.units if u.key not in by_key]
        if missing:  # an executor that lost a unit must not let the parent finish
            raise RuntimeError(f"executor returned no result for unit(s) {', '.join(missing)}")
        results = [by_key[u.key] for u, _ in p.units]
        per_subject = get_protocol(cfg.protocol).population == "per-subject"
        summary = summarise(results, cfg.tasks, per_subject)
        with store_lock(resolve_tracking_uri(tracking_uri)):  # two commands sharing a parent end together
            _log_metrics(cl, parent_id, summary)
        status = "FINISHED"
    except KeyboardInterrupt:
        status = "KILLED"
        raise
    finally:
        # a command that shares the parent may have finished it: a complete parent stays FINISHED
        if status == "FINISHED" or cl.get_run(parent_id).info.status != "FINISHED":
            cl.set_terminated(parent_id, status=status)
    return ExperimentResult(
        config=cfg, split=p.split, data_kind=p.features.kind, data_fingerprint=p.features.fingerprint,
        leaky=p.leaky, parent_run_id=parent_id, units=results, summary=summary, per_subject=per_subject,
    )  # fmt: skip
