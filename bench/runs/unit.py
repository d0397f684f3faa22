"""One unit of a run: fit, predict and score it, and track it as a child run in MLflow.

The second of three layers (plan -> unit -> runner: ``bench/plan.py``, this module, ``bench/runner.py``).
It takes a :class:`~bench.runs.plan.Prepared` run and one of its units and knows nothing about the experiment
around it. Every executor (:mod:`bench.runs.executors`: in-process, in a pool worker or on a Dask worker)
calls
:func:`track_unit`, so a unit is claimed, trained and logged the same way wherever it runs; that is why
this module imports the plan layer only, never the runner or the executors. :mod:`bench.runs.tuning` reuses
:func:`fit_predict` to score tuning folds on their validation part.

Each finished unit is a FINISHED child run; an error, Ctrl-C or a dead process never leaves it FINISHED,
so resume runs it again.
"""

from __future__ import annotations

import contextlib
import copy
import json
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from bench.core.metrics import classification_metrics, confusion, predicted_class, trial_metrics
from bench.data.inputs import ModelInputs
from bench.models.registry import create_model, get_model_info
from bench.runs.plan import Prepared, Unit
from bench.runs.progress import Reporter
from bench.tracking.artifacts import log_artifacts
from bench.tracking.claims import claim_unit, heartbeat
from bench.tracking.store import TAG, flatten, hardware, log_dataset, log_params
from bench.training.policy import FitResult
from bench.training.step import TASK_INDEX
from bench.training.trainer import (
    Rows,
    Standardiser,
    fit,
    predict_proba,
    trains_channels_last,
)


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


def labels_tensor(inputs: ModelInputs) -> torch.Tensor:
    """The labels (samples x tasks) as a tensor that shares the array's memory where it can."""
    return torch.from_numpy(np.ascontiguousarray(inputs.labels))


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
                        **p.hparams)  # fmt: skip


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
    the tuner's validation scoring need the same one).
    """
    cfg = p.config
    info = get_model_info(cfg.model)
    torch.manual_seed(seed)  # also for a given model: an untrained baseline may draw at prediction
    if model is None:
        model = build_model(p, unit, seed)
    history: list[dict] = []
    xt, yt, xv, yv, xs = unit_parts(x, y, train, val, test, standardiser, p.inputs.spec.layout == "signal")
    nhwc = trains_channels_last(cfg.train.precision)
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
        model.fit_labels({t: yt[:, TASK_INDEX[t]] for t in unit.tasks})
    probs = predict_proba(
        model, xs, batch_size=cfg.train.batch_size, device=device, precision=cfg.train.precision,
        channels_last=nhwc,
    )  # fmt: skip
    return model, probs, history


def fit_history(res: FitResult) -> list[dict]:
    """A unit's history rows: the fit's epochs with its fit time and best epoch on every row."""
    return [dict(r, fit_seconds=res.fit_seconds, best_epoch=res.best_epoch) for r in res.history]


def stacks(p: Prepared) -> bool:
    """Whether the run trains its units stacked (``train.stack``; plan.check_config refuses it where it
    cannot apply: untrained models, whole-set-finetune)."""
    return bool(p.config.train.stack) and get_model_info(p.config.model).trainable and not p.finetune


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
    x = torch.from_numpy(np.ascontiguousarray(p.inputs.x))
    y = labels_tensor(p.inputs)
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
    from bench.training.stacked import fit_stacked

    cfg = p.config
    x = torch.from_numpy(np.ascontiguousarray(p.inputs.x))
    y = labels_tensor(p.inputs)
    out: dict[str, UnitResult] = {}
    for tasks in dict.fromkeys(u.tasks for u, _ in pairs):
        group = [(u, f) for u, f in pairs if u.tasks == tasks]
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
        y_true = inp.labels[test, TASK_INDEX[t]]
        pred[f"y_{t}"] = y_true
        pred[f"p_{t}"] = probs[t]
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


def log_unit_artifacts(cl, run_id: str, res: UnitResult) -> None:
    """Predictions, history, learning curve and confusion matrices as the child run's artifacts, each
    file whole or absent (:func:`bench.tracking.artifacts.log_artifacts`: a full disk leaves no half file)."""
    from bench.core.plots import plot_confusions, plot_learning_curve

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        res.predictions.to_csv(d / "predictions.csv", index=False)
        if res.history:
            pd.DataFrame(res.history).to_csv(d / "history.csv", index=False)
            plot_learning_curve(res.history, d / "learning_curve.png", title=res.unit.key)
        cms = {t: confusion(res.predictions[f"y_{t}"].to_numpy(), res.predictions[f"p_{t}"].to_numpy())
               for t in res.unit.tasks}  # fmt: skip
        plot_confusions(cms, d / "confusion.png", title=res.unit.key)
        log_artifacts(cl, run_id, d)


MODEL_FILE, MODEL_INFO, STANDARDISER_FILE = "model.pt", "model.json", "standardiser.pt"
"""The files of a unit model artifact (``--log-model``): state_dict, how to rebuild it, input scaling."""


def log_unit_model(cl, run_id: str, p: Prepared, unit: Unit, res: UnitResult) -> None:
    """Each trained model of a unit as an artifact folder (``model``; whole-set-finetune adds one per
    subject, ``model_sNN``): its ``state_dict`` (``model.pt``), what :func:`load_unit_model` needs to
    rebuild it (``model.json``) and the training part's input standardisation (``standardiser.pt``).

    A plain ``state_dict`` loads with torch alone, offline (MT-CNN: 4.9 MB, ~0.04 s per unit);
    ``mlflow.pytorch.log_model`` refuses dict outputs in its pt2 format and takes ~10 s in pickle format.
    """
    cfg = p.config
    for folder, (model, std) in res.models.items():
        info = {
            "model": cfg.model,
            "tasks": list(unit.tasks),
            "features": list(cfg.features) if cfg.features is not None else None,
            "options": p.hparams,
            "n_channels": p.inputs.spec.n_channels,
            "input_shape": [int(v) for v in p.inputs.x.shape[1:]],
            "input_dtype": str(p.inputs.x.dtype),
            "n_parameters": int(sum(t.numel() for t in model.parameters())),
            "standardise": cfg.train.standardise,
            "unit": unit.key,
            "run_key": p.run_key,
            "data_fingerprint": p.features.fingerprint,
        }
        with tempfile.TemporaryDirectory() as tmp:
            d = Path(tmp)
            torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, d / MODEL_FILE)
            if std is not None:
                torch.save({"mean": std.mean, "std": std.std}, d / STANDARDISER_FILE)
            (d / MODEL_INFO).write_text(json.dumps(info, indent=2, default=str))
            log_artifacts(cl, run_id, d, artifact_path=folder)


def load_unit_model(folder: str | Path) -> tuple[torch.nn.Module, Standardiser | None]:
    """A model saved by :func:`log_unit_model` (a downloaded artifact folder), ready to predict, and the
    standardisation its inputs need (None if it was trained on raw inputs)."""
    folder = Path(folder)
    info = json.loads((folder / MODEL_INFO).read_text())
    model = create_model(info["model"], tasks=info["tasks"], features=info["features"],
                         n_channels=info.get("n_channels"), **info["options"])  # fmt: skip
    model.load_state_dict(torch.load(folder / MODEL_FILE, map_location="cpu", weights_only=True))
    model.eval()
    std = None
    if (folder / STANDARDISER_FILE).is_file():
        s = torch.load(folder / STANDARDISER_FILE, map_location="cpu", weights_only=True)
        std = Standardiser(s["mean"], s["std"])
    return model, std


def log_history(cl, run_id: str, history: list[dict]) -> None:
    """Per-epoch metrics as metric histories (fine-tuning rows as ``finetune_sNN_<name>``)."""
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


def log_metrics(cl, run_id: str, metrics: dict[str, float]) -> None:
    """Finite metrics at step 0, in batches (MLflow keeps no NaN/inf: undefined metrics are left out)."""
    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    ms = [Metric(k, float(v), now, 0) for k, v in metrics.items() if np.isfinite(v)]
    for start in range(0, len(ms), 900):
        cl.log_batch(run_id, metrics=ms[start : start + 900])


def reuse(run, unit: Unit) -> UnitResult:
    """The result of ``unit`` from its FINISHED child ``run`` (metrics only)."""
    return UnitResult(unit, dict(run.data.metrics), run_id=run.info.run_id, reused=True)


DATASET_CONTEXT = "train/valid/test"
"""The data set's role in a run (MLflow's dataset context): every run trains, validates and tests on it."""


def run_params(p: Prepared) -> dict[str, str]:
    """A run's params: its full resolved config, flat, and the resolved split, epoch cap and model
    hyper-parameters (logged on the parent and on every unit)."""
    params = flatten(p.config.to_dict())
    params.update({"split_resolved": p.split, "max_epochs_resolved": str(p.max_epochs),
                   "model_hparams": json.dumps(p.hparams, sort_keys=True, default=str)})  # fmt: skip
    return params


def _subjects(values: np.ndarray) -> str:
    return ",".join(str(int(s)) for s in np.unique(values))


def _n_folds(p: Prepared, fold) -> int:
    """Folds of ``fold``'s population (all folds, or one subject's for subject-specific protocols)."""
    return sum(f.subject == fold.subject for f in p.folds)


def unit_name(p: Prepared, unit: Unit, fold) -> str:
    """A unit's run name in MLflow: ``fold 2/5``, ``subject 3 fold 2/5``, ``fold 2/4 test s03`` (folds by
    subject), plus the task of a single-task unit. Display only: units are found by their tags."""
    n = _n_folds(p, fold)
    name = ("" if unit.subject is None else f"subject {unit.subject} ") + f"fold {unit.fold}/{n}"
    if p.split == "subject":
        name += " test " + ",".join(f"s{int(s):02d}" for s in np.unique(p.inputs.subject[fold.test]))
    if unit.key.endswith(f"-{unit.tasks[0]}"):  # one of two single-task units of a fold
        name += f" {unit.tasks[0]}"
    return name


def unit_params(p: Prepared, unit: Unit, fold) -> dict[str, str]:
    """A unit's params: the run's (:func:`run_params`) and its own - fold, subjects, seed and the number
    of samples (windows, or stacks of windows for multi-window models) it trains, validates and tests on."""
    subject = p.inputs.subject
    return {
        **run_params(p),
        "unit": unit.key,
        "unit.fold": str(unit.fold),
        "unit.n_folds": str(_n_folds(p, fold)),
        "unit.subject": str(unit.subject or ""),
        "unit.train_subjects": _subjects(subject[fold.train]),
        "unit.test_subjects": _subjects(subject[fold.test]),
        "unit.tasks": ",".join(unit.tasks),
        "unit.seed": str(unit.seed(p.config.seed)),
        "unit.n_train": str(len(fold.train)),
        "unit.n_valid": str(len(fold.val)),
        "unit.n_test": str(len(fold.test)),
    }


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
    and claimed (:mod:`bench.tracking.claims`) the same way wherever it runs. If another process finished the
    unit meanwhile, its result is reused; if another process is running it, this waits for it, or
    returns None at once when ``wait`` is False. An error or Ctrl-C leaves the child FAILED/KILLED, a
    dead process leaves it RUNNING with a claim that goes stale: never FINISHED, so resume (or a
    concurrent command) runs the unit again.
    """
    return track_units(cl, p, [(unit, fold)], device, reporter, experiment, parent_id, tags, wait=wait)[0]


def track_units(
    cl,
    p: Prepared,
    pairs: list[tuple[Unit, object]],
    device: torch.device,
    reporter: Reporter,
    experiment: str,
    parent_id: str,
    tags: dict[str, str],
    *,
    wait: bool = True,
) -> list[UnitResult | None]:
    """:func:`track_unit` for several units of one run, trained together by :func:`run_units`.

    Each unit is claimed and becomes its own child run, logged as :func:`track_unit` logs it; a unit
    finished elsewhere is reused and one claimed elsewhere is left out of the group (None without
    ``wait``). An error or Ctrl-C while the group trains leaves every child of the group that is not
    FINISHED yet FAILED/KILLED. Returns one entry per unit, in order.
    """
    out: list[UnitResult | None] = [None] * len(pairs)
    mine: list[tuple[int, str]] = []  # (position, child run id) of the units this process trains
    for i, (unit, fold) in enumerate(pairs):

        def create(claim: dict[str, str], unit=unit, fold=fold) -> str:
            run_tags = {**unit_tags(tags, unit, parent_id), **claim, f"{TAG}hardware": hardware()}
            return cl.create_run(experiment, run_name=unit_name(p, unit, fold), tags=run_tags).info.run_id

        claim = claim_unit(cl, experiment, parent_id, unit.key, create, wait=wait)
        if claim is not None and claim.finished is not None:
            out[i] = reuse(claim.finished, unit)
        elif claim is not None:
            mine.append((i, claim.run_id))
    if not mine:
        return out
    open_ids = {cid for _, cid in mine}
    try:
        with contextlib.ExitStack() as beats:
            for i, cid in mine:
                beats.enter_context(heartbeat(cl, cid))
                log_params(cl, cid, unit_params(p, *pairs[i]))
                log_dataset(cl, cid, p.features, context=DATASET_CONTEXT)
            results = run_units(p, [pairs[i] for i, _ in mine], device, reporter)
            for (i, cid), res in zip(mine, results, strict=True):
                log_history(cl, cid, res.history)
                log_metrics(cl, cid, res.metrics)
                log_unit_artifacts(cl, cid, res)
                log_unit_model(cl, cid, p, res.unit, res)
                res.models = {}  # logged; a worker sends the result back without them
                cl.set_terminated(cid, status="FINISHED")
                open_ids.discard(cid)
                res.run_id = cid
                out[i] = res
    except KeyboardInterrupt:
        for cid in open_ids:
            cl.set_terminated(cid, status="KILLED")
        raise
    except BaseException:
        for cid in open_ids:
            cl.set_terminated(cid, status="FAILED")
        raise
    return out
