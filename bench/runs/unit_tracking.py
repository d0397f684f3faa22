"""Tracking one unit as a child run in MLflow: claim it, name it, log its params, history, metrics and
artifacts, and end it FINISHED only when it completed.

Every executor (:mod:`bench.runs.executors`: in-process, in a pool worker or on a Dask worker) calls
:func:`track_unit`, so a unit is claimed, trained and logged the same way wherever it runs; that is why
this module imports the plan and unit layers only, never the runner or the executors. The runner reuses
its naming and logging helpers for the parent run.

Each finished unit is a FINISHED child run; an error, Ctrl-C or a dead process never leaves it FINISHED,
so resume runs it again.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from bench.core.host import hardware
from bench.core.metrics import confusion
from bench.core.plots import plot_confusions, plot_learning_curve
from bench.runs.plan import Prepared, Unit
from bench.runs.progress import Reporter
from bench.runs.unit import UnitResult, prediction_scores, run_units
from bench.runs.unit_model import log_unit_model
from bench.tracking.artifacts import log_artifacts
from bench.tracking.claims import claim_unit, heartbeat
from bench.tracking.store import TAG, flatten, log_dataset, log_params


def log_unit_artifacts(cl, run_id: str, res: UnitResult) -> None:
    """Predictions, history, learning curve and confusion matrices as the child run's artifacts, each
    file whole or absent (:func:`bench.tracking.artifacts.log_artifacts`: a full disk leaves no half file)."""
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        res.predictions.to_csv(d / "predictions.csv", index=False)
        if res.history:
            pd.DataFrame(res.history).to_csv(d / "history.csv", index=False)
            plot_learning_curve(res.history, d / "learning_curve.png", title=res.unit.key)
        cms = {t: confusion(res.predictions[f"y_{t}"].to_numpy(), prediction_scores(res.predictions, t))
               for t in res.unit.tasks}  # fmt: skip
        plot_confusions(cms, d / "confusion.png", title=res.unit.key)
        log_artifacts(cl, run_id, d)


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
