"""One unit of a run: fit, predict and score it (no tracking).

The second of three layers (plan -> unit -> runner: :mod:`bench.runs.plan`, this module,
:mod:`bench.runs.runner`). It takes a :class:`~bench.runs.plan.Prepared` run and one of its units (or a
group of units trained together) and knows nothing about the experiment around it: tracking a unit as a
child run is :mod:`bench.runs.unit_tracking`, saving and reloading its model :mod:`bench.runs.unit_model`.
This module imports the plan layer only, never the runner or the executors, so every executor's worker
can import it. :mod:`bench.runs.tuning_space` reuses :func:`fit_predict` to score tuning folds on their
validation part.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import torch

from bench.core.metrics import classification_metrics, predicted_class, trial_metrics
from bench.data.inputs import ModelInputs
from bench.models.registry import create_model
from bench.runs.plan import Prepared, Unit
from bench.runs.progress import Reporter
from bench.training.methods import NONE, MethodInfo, get_method_info
from bench.training.methods.inputs import subject_groups
from bench.training.policy import FitResult
from bench.training.stacked import fit_stacked
from bench.training.trainer import Rows, Standardiser, fit, predict_proba, trains_channels_last


@dataclass
class UnitResult:
    """A finished unit: its metrics, per-epoch history, per-sample predictions and child run id.

    ``reused`` units come from an earlier FINISHED child run (metrics only, no history/predictions).
    """

    unit: Unit
    metrics: dict[str, float]
    history: list[dict] = field(default_factory=list)
    predictions: pd.DataFrame | None = None
    run_id: str | None = None
    reused: bool = False
    models: dict[str, tuple[torch.nn.Module, Standardiser | None]] = field(default_factory=dict, repr=False)
    """With ``log_model``: artifact folder -> (trained model, its input standardiser), until logged."""


def labels_tensor(inputs: ModelInputs, tasks: tuple[str, ...]) -> torch.Tensor:
    """The labels of ``tasks`` (samples x tasks, column i for ``tasks[i]``, as the trainer takes them); a
    tensor that shares the array's memory where the columns are all of them in order."""
    cols = inputs.label_columns(tasks)
    y = inputs.labels if cols == list(range(inputs.labels.shape[1])) else inputs.labels[:, cols]
    return torch.from_numpy(np.ascontiguousarray(y))


def run_method(p: Prepared) -> MethodInfo | None:
    """The run's method (``--method``), or None for plain training."""
    return None if p.config.method == NONE else get_method_info(p.config.method)


def unit_input(p: Prepared) -> torch.Tensor:
    """The input every unit of the run reads: ``p.inputs.x``, or with an input method (``subject-norm``,
    ``ea``) its per-subject transform, computed once per prepared run and kept on it (it depends on no
    fold: every subject is transformed by statistics of its own rows)."""
    method = run_method(p)
    if method is None or method.kind != "input":
        return torch.from_numpy(np.ascontiguousarray(p.inputs.x))
    if p.method_x is None:
        p.method_x = method.apply(p.inputs)
    return torch.from_numpy(p.method_x)


def planned_steps(p: Prepared, n_train: int) -> int:
    """The training steps a unit plans (epochs x batches): the horizon of a method's schedule (DANN's
    lambda); early stopping may end the fit before it."""
    return int(p.max_epochs) * max(math.ceil(n_train / int(p.config.train.batch_size)), 1)


def train_standardiser(p: Prepared, x: torch.Tensor, train: np.ndarray) -> Standardiser | None:
    """The input standardisation a model trained on ``train`` uses (None with ``standardise = "none"``):
    per element for brain maps, per channel for signals (whose training part is never copied whole)."""
    if p.config.train.standardise != "train":
        return None
    if p.inputs.spec.layout == "signal":
        return Standardiser.fit_channels(x, torch.from_numpy(train))
    return Standardiser.fit(x[torch.from_numpy(train)])


def build_model(p: Prepared, unit: Unit, seed: int) -> torch.nn.Module:
    """A unit's fresh model, initialised from its seed: the same weights alone or stacked."""
    torch.manual_seed(seed)
    return create_model(p.config.model, tasks=unit.tasks, features=p.config.features,
                        n_channels=p.inputs.spec.n_channels, channels=p.inputs.spec.channels or None,
                        n_bands=p.inputs.spec.n_bands, **p.hparams)  # fmt: skip


def unit_parts(
    x: torch.Tensor,
    y: torch.Tensor,
    train: np.ndarray,
    val: np.ndarray,
    test: np.ndarray,
    standardiser: Standardiser | None,
    rows: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(x_train, y_train, x_val, y_val, x_test) of a unit, inputs standardised with ``standardiser``;
    with ``rows`` the inputs are :class:`~bench.training.trainer.Rows` of ``x`` (signals: no copy of a
    part)."""
    tr, va, te = (torch.from_numpy(i) for i in (train, val, test))
    if rows:
        return Rows(x, tr, standardiser), y[tr], Rows(x, va, standardiser), y[va], Rows(x, te, standardiser)
    std = standardiser if standardiser is not None else (lambda v: v)
    return std(x[tr]), y[tr], std(x[va]), y[va], std(x[te])


def fit_predict(
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
    standardiser: Standardiser | None,
    model: torch.nn.Module | None = None,
    lr: float | None = None,
    seed: int,
) -> tuple[torch.nn.Module, dict[str, np.ndarray], list[dict]]:
    """Fit (or fine-tune ``model``) on train/val, then predict the test indices once.

    ``standardiser`` is :func:`train_standardiser` of ``train`` (the caller keeps it: a logged model and
    the tuner's validation scoring need the same one). A training method (``--method dann``) wraps the
    fresh model (:mod:`bench.training.methods`) with the test part's *inputs* as its target (``y`` of the
    test rows is never read); the trainer fits the wrapper, and the model returned is the one that
    predicts (``predictor``: the inner model for DANN).
    """
    cfg, info = p.config, p.run.info
    torch.manual_seed(seed)  # also for a given model: an untrained baseline may draw at prediction
    xt, yt, xv, yv, xs = unit_parts(x, y, train, val, test, standardiser, p.inputs.spec.layout == "signal")
    method = run_method(p)
    if model is None:
        model = build_model(p, unit, seed)
        if method is not None and method.kind == "training":
            groups = subject_groups(p.inputs.subject, p.inputs.domain)[train]
            model = method.apply(model, target=xs, train_groups=groups, steps=planned_steps(p, len(train)),
                                 seed=seed)  # fmt: skip
    history: list[dict] = []
    nhwc = trains_channels_last(cfg.train.precision, device.type)
    if info.trainable:
        tcfg = cfg.train if lr is None else replace(cfg.train, lr=lr)
        res = fit(
            model, xt, yt, xv, yv,
            tasks=unit.tasks, config=tcfg, max_epochs=p.max_epochs, seed=seed, device=device,
            on_epoch=lambda row: reporter.epoch(unit, row),
            on_batch=lambda done, total: reporter.batch(unit, done, total),
            channels_last=nhwc, compile=cfg.compile,
        )  # fmt: skip
        history = fit_history(res)
    else:
        model.fit_labels({t: yt[:, i] for i, t in enumerate(unit.tasks)})
    probs = predict_proba(
        model, xs, batch_size=cfg.train.batch_size, device=device, precision=cfg.train.precision,
        channels_last=nhwc,
    )  # fmt: skip
    return getattr(model, "predictor", model), probs, history


def fit_history(res: FitResult) -> list[dict]:
    """A unit's history rows: the fit's epochs with its fit time and best epoch on every row."""
    return [dict(r, fit_seconds=res.fit_seconds, best_epoch=res.best_epoch) for r in res.history]


def stacks(p: Prepared) -> bool:
    """Whether the run trains its units stacked (``train.stack``; the protocol's ``check_stack`` refuses
    it where it cannot apply: untrained models, a protocol that is not ``stackable``)."""
    return bool(p.config.train.stack) and p.run.info.trainable and p.run.protocol.stackable


def run_unit(
    p: Prepared, unit: Unit, fold, device: torch.device, reporter: Reporter | None = None
) -> UnitResult:
    """Train and test one unit; returns metrics, per-epoch history and per-sample predictions.

    A run with ``train.stack`` trains it through :func:`run_units` (a group of one), so a unit that a
    pool worker or a resumed command trains alone gets the stacked trainer's numbers too.
    """
    reporter = reporter or Reporter()
    if stacks(p):
        return run_units(p, [(unit, fold)], device, reporter)[0]
    cfg = p.config
    x = unit_input(p)
    y = labels_tensor(p.inputs, unit.tasks)
    seed = unit.seed(cfg.seed)
    t0 = time.perf_counter()
    reporter.unit_start(unit, p.max_epochs)
    std = train_standardiser(p, x, fold.train)
    model, probs, history = fit_predict(
        p, unit, x, y, fold.train, fold.val, fold.test, device, reporter, standardiser=std, seed=seed
    )
    test = fold.test
    models = {"model": (model, std)} if cfg.log_model else {}
    if p.finetune:
        # whole-set-finetune: the pooled model is the starting point of one fine-tuned model per subject
        div = cfg.train.finetune_lr_divisor or (8.0 if len(unit.tasks) > 1 else 4.0)
        parts, idx_parts = [], []
        for s in np.unique(p.inputs.subject[fold.test]):
            m = {
                k: getattr(fold, k)[p.inputs.subject[getattr(fold, k)] == s] for k in ("train", "val", "test")
            }
            std_s = train_standardiser(p, x, m["train"])
            tuned, pr, h = fit_predict(
                p, unit, x, y, m["train"], m["val"], m["test"], device, reporter, standardiser=std_s,
                model=copy.deepcopy(model), lr=cfg.train.lr / div, seed=seed + int(s),
            )  # fmt: skip
            if cfg.log_model:
                models[f"model_s{int(s):02d}"] = (tuned, std_s)
            history += [dict(r, subject=int(s), stage="finetune") for r in h]
            parts.append(pr)
            idx_parts.append(m["test"])
        test = np.concatenate(idx_parts)
        probs = {t: np.concatenate([pr[t] for pr in parts]) for t in unit.tasks}
    return score_unit(p, unit, fold, test, probs, history, models, time.perf_counter() - t0)


def run_units(
    p: Prepared, pairs: list[tuple[Unit, object]], device: torch.device, reporter: Reporter | None = None
) -> list[UnitResult]:
    """Train and test several units of one run; with ``train.stack`` at once
    (bench.training.stacked.fit_stacked).

    Units of different task groups (``--single-task``: a valence and an arousal model per fold) build
    different heads and are stacked separately. Each unit is then predicted and scored alone, exactly as
    :func:`run_unit` scores it; its ``fit_seconds`` is its share of the group's wall time.
    """
    reporter = reporter or Reporter()
    if not stacks(p):
        return [run_unit(p, unit, fold, device, reporter) for unit, fold in pairs]

    cfg = p.config
    x = unit_input(p)
    out: dict[str, UnitResult] = {}
    for tasks in dict.fromkeys(u.tasks for u, _ in pairs):
        group = [(u, f) for u, f in pairs if u.tasks == tasks]
        y = labels_tensor(p.inputs, tasks)
        t0 = time.perf_counter()
        seeds, stds, models, data, tests = [], [], [], [], []
        for unit, fold in group:
            reporter.unit_start(unit, p.max_epochs)
            seeds.append(unit.seed(cfg.seed))
            stds.append(train_standardiser(p, x, fold.train))
            models.append(build_model(p, unit, seeds[-1]))
            xt, yt, xv, yv, xs = unit_parts(x, y, fold.train, fold.val, fold.test, stds[-1])
            data.append((xt, yt, xv, yv))
            tests.append(xs)
        fits = fit_stacked(
            models, data, tasks=tasks, config=cfg.train, max_epochs=p.max_epochs, seeds=seeds, device=device,
            on_epoch=lambda k, row, group=group: reporter.epoch(group[k][0], row),
        )  # fmt: skip
        tcfg = cfg.train
        probs = [
            predict_proba(m, xs, batch_size=tcfg.batch_size, device=device, precision=tcfg.precision)
            for m, xs in zip(models, tests, strict=True)
        ]
        seconds = (time.perf_counter() - t0) / len(group)
        for (unit, fold), model, std, pr, res in zip(group, models, stds, probs, fits, strict=True):
            models_out = {"model": (model, std)} if cfg.log_model else {}
            out[unit.key] = score_unit(p, unit, fold, fold.test, pr, fit_history(res), models_out, seconds)
    return [out[u.key] for u, _ in pairs]


def prediction_columns(task: str, scores: np.ndarray) -> dict[str, np.ndarray]:
    """A task's scores as columns of ``predictions.csv``: ``p_<task>`` (the class-1 probability) for a
    binary task, as always; ``p_<task>_<c>`` per class c for a k-class task."""
    if np.ndim(scores) == 1:
        return {f"p_{task}": scores}
    return {f"p_{task}_{c}": scores[:, c] for c in range(scores.shape[1])}


def prediction_scores(predictions: pd.DataFrame, task: str) -> np.ndarray:
    """A task's scores back from the columns :func:`prediction_columns` wrote."""
    if f"p_{task}" in predictions:
        return predictions[f"p_{task}"].to_numpy()
    k = sum(1 for c in predictions.columns if c.startswith(f"p_{task}_"))
    return predictions[[f"p_{task}_{c}" for c in range(k)]].to_numpy()


def per_subject_metrics(
    subject: np.ndarray, trial: np.ndarray, y_true: np.ndarray, p_high: np.ndarray, task: str
) -> dict[str, float]:
    """``test_<metric>_<task>_sNN`` for every test subject (window and trial level), plus each subject's
    ``n_test_sNN`` and ``n_test_trials_sNN``: a cross-dataset run has one fold, so its statistics run over
    the test dataset's subjects (results.store expands these into one row per subject)."""
    out: dict[str, float] = {}
    for s in np.unique(subject):
        at = subject == s
        tag = f"s{int(s):02d}"
        for k, v in classification_metrics(y_true[at], p_high[at]).items():
            out[f"test_{k}_{task}_{tag}"] = v
        for k, v in trial_metrics(subject[at], trial[at], y_true[at], p_high[at]).items():
            out[f"test_{k}_{task}_{tag}"] = v
        out[f"n_test_{tag}"] = float(at.sum())
        out[f"n_test_trials_{tag}"] = float(len(np.unique(trial[at])))
    return out


def score_unit(
    p: Prepared,
    unit: Unit,
    fold,
    test: np.ndarray,
    probs: dict[str, np.ndarray],
    history: list[dict],
    models: dict,
    seconds: float,
) -> UnitResult:
    """A trained unit's result: per-sample predictions of ``test`` and its test metrics (window and trial
    level, per subject for pooled protocols), its history, and ``seconds`` as ``fit_seconds``."""
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
        y_true = inp.labels[test, inp.label_columns((t,))[0]]
        pred[f"y_{t}"] = y_true
        for column, values in prediction_columns(t, probs[t]).items():
            pred[column] = values
        for k, v in classification_metrics(y_true, probs[t]).items():
            metrics[f"test_{k}_{t}"] = v
        # trials are the independent unit: soft vote over the trial's windows in THIS test part (with
        # the segment split, only the share of the trial's windows that fell into this fold)
        for k, v in trial_metrics(inp.subject[test], inp.trial[test], y_true, probs[t]).items():
            metrics[f"test_{k}_{t}"] = v
        if inp.domain is not None:  # cross-dataset: every metric per test subject, the statistics' unit
            metrics.update(per_subject_metrics(inp.subject[test], inp.trial[test], y_true, probs[t], t))
        elif unit.subject is None:  # pooled protocols: per-subject accuracy, for per-subject statistics
            hit = predicted_class(probs[t]) == y_true
            for s, acc in pd.Series(hit).groupby(pred["subject"].to_numpy()).mean().items():
                metrics[f"test_acc_{t}_s{int(s):02d}"] = float(acc)
    metrics["fit_seconds"] = seconds
    metrics["epochs_run"] = float(max((r["epoch"] for r in history), default=0))
    metrics["best_epoch"] = (
        float(history[-1]["best_epoch"]) if history and "best_epoch" in history[-1] else 0.0
    )
    metrics["n_train"], metrics["n_valid"], metrics["n_test"] = map(
        float, (len(fold.train), len(fold.val), len(test))
    )
    # independent units behind the test metrics, for chance levels downstream
    metrics["n_test_trials"] = float(len(pred[["subject", "trial"]].drop_duplicates()))
    metrics["n_test_subjects"] = float(pred["subject"].nunique())
    return UnitResult(unit, metrics, history, pred, models=models)
