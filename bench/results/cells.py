"""Statistics of one table cell (one run x task x metric) and of pairs of cells.

* A cell is the mean, std (ddof 1) and 95% CI of a metric over folds (pooled protocols; CI with the
  Nadeau & Bengio corrected variance, as k-fold training sets overlap) or over subjects (per-subject
  protocols: each subject's folds averaged first; plain t CI, subjects are independent). Every metric
  is a proportion, so the CI is clipped to [0, 1]; it is left out (NaN) below ``stats.MIN_CI_N``
  values, where a t interval spans nearly the whole range.
* Two runs are paired only when their folds fingerprints agree (same test units with the same labels in
  the same folds): the corrected resampled t-test over folds for pooled protocols, the Wilcoxon
  signed-rank test over subjects for per-subject ones. Otherwise the p cell reads ``n/a (other folds)``.
* Chance without a trivial-baseline run on the same folds: the binomial adjusted chance level
  (Combrisson & Jerbi 2015) over the run's independent test units - trials for window-level models
  split by trial, subjects when folds are by subject - never over windows.
* A design that cannot reach significance (exact Wilcoxon with few subjects: the smallest p exceeds
  alpha; a binomial level of 100 %) is reported as such, not as "not above chance".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bench.core import stats
from bench.core.checks import check_option
from bench.core.tasks import get_task, task_names
from bench.results.naming import arg
from bench.results.store import Store

METRICS: dict[str, str] = {
    "acc": "acc",
    "trial-acc": "trial_acc",
    "balanced-acc": "balanced_acc",
    "f1": "f1_macro",
    "auc": "auc",
}
"""``--metric`` name -> unit metric column."""
METRIC_LABELS: dict[str, str] = {
    "acc": "window accuracy",
    "trial-acc": "trial accuracy (window probabilities averaged per trial)",
    "balanced-acc": "window balanced accuracy",
    "f1": "window macro-F1",
    "auc": "window ROC-AUC",
}
METRIC_COLUMNS: dict[str, str] = {
    "acc": "accuracy",
    "trial-acc": "trial accuracy",
    "balanced-acc": "balanced accuracy",
    "f1": "macro-F1",
    "auc": "AUC",
}
"""Column header of a cell value in tables with one value column."""
CHANCE_METRICS = ("acc", "trial-acc", "balanced-acc")
"""Metrics a binomial chance level applies to (proportions of correct decisions)."""
OTHER_FOLDS = "n/a (other folds)"


def check_metric(metric: str) -> str:
    return check_option(arg("metric"), metric, METRICS)


@dataclass(frozen=True)
class Cell:
    """Statistics of one (parent run, task, metric)."""

    run_id: str
    task: str
    metric: str
    summary: stats.Summary
    over: str
    """``"folds"`` or ``"subjects"``."""
    n_independent: int
    """Independent test units over all folds (trials, or subjects for folds by subject)."""
    independent_unit: str

    @property
    def mean(self) -> float:
        return self.summary.mean


def _units(store: Store, run_id: str, task: str) -> pd.DataFrame:
    u = store.units
    return u[(u["parent_id"] == run_id) & (u["task"] == task)]


def independent_units(parent: pd.Series, u: pd.DataFrame) -> tuple[int, str]:
    """How many independent test units a run tested (each tested once over its folds), and their name."""
    if parent["split"] == "subject":
        col, name = "n_test_subjects", "subjects"
    elif parent["split"] == "segment":
        col, name = "n_test", "windows"
    else:
        col, name = "n_test_trials", "trials"
    n = u.drop_duplicates("base")[col].sum() if col in u else math.nan
    return (int(n) if math.isfinite(n) else 0), name


def cell(store: Store, parent: pd.Series | None, task: str, metric: str = "acc") -> Cell | None:
    """Mean/std/CI of a parent's test metric for a task, or None when it was not run."""
    if parent is None:
        return None
    col = METRICS[check_metric(metric)]
    u = _units(store, parent["run_id"], task)
    if u.empty:
        return None
    if parent["per_subject"]:
        summary = stats.describe(u.groupby("subject")[col].mean().sort_index().to_numpy())
        over = "subjects"
    else:
        u = u.sort_values("base")
        ratio = float(np.nanmean(u["n_test"] / u["n_train"])) if len(u) > 1 else None
        summary = stats.describe(u[col].to_numpy(), test_train_ratio=ratio)
        over = "folds"
    n, name = independent_units(parent, u)
    return Cell(parent["run_id"], task, metric, summary, over, n, name)


def paired_test(
    store: Store,
    a: pd.Series,
    b: pd.Series,
    task: str,
    metric: str = "acc",
    alternative: str = "two-sided",
) -> dict:
    """Paired comparison of two runs on one task.

    Returns ``{"p", "test", "n", "min_p", "why"}``: ``test`` is ``"t"`` (corrected resampled t-test over
    shared folds, pooled protocols) or ``"W"`` (Wilcoxon over subjects, per-subject protocols);
    ``min_p`` the smallest p the design can reach; ``why`` says why there is no test (e.g. other folds).
    """
    out = {"p": math.nan, "test": "", "n": 0, "min_p": math.nan, "why": ""}
    if not a["folds_fp"] or a["folds_fp"] != b["folds_fp"]:
        return {**out, "why": OTHER_FOLDS}
    col = METRICS[check_metric(metric)]
    if a["per_subject"]:
        return subjects_test(subject_scores(store, a, task, metric), subject_scores(store, b, task, metric),
                             alternative)  # fmt: skip
    ua, ub = _units(store, a["run_id"], task), _units(store, b["run_id"], task)
    ua, ub = ua.set_index("base"), ub.set_index("base")
    shared = sorted(set(ua.index) & set(ub.index))
    if len(shared) < 2:
        return {**out, "why": "fewer than 2 shared folds"}
    ratio = (ua.loc[shared, "n_test"] + ub.loc[shared, "n_test"]) / (
        ua.loc[shared, "n_train"] + ub.loc[shared, "n_train"]
    )
    _, p = stats.corrected_ttest(
        ua.loc[shared, col].to_numpy(),
        ub.loc[shared, col].to_numpy(),
        n_train=np.ones(len(shared)),
        n_test=ratio.to_numpy(),
        alternative=alternative,
    )
    return {"p": p, "test": "t", "n": len(shared), "min_p": 0.0, "why": ""}


def subject_scores(store: Store, parent: pd.Series, task: str, metric: str = "acc") -> pd.Series:
    """A run's metric per test subject (each subject's folds averaged), indexed by subject."""
    col = METRICS[check_metric(metric)]
    return _units(store, parent["run_id"], task).groupby("subject")[col].mean().sort_index()


def subjects_test(a: pd.Series, b: pd.Series, alternative: str = "two-sided") -> dict:
    """Wilcoxon signed-rank test of per-subject scores ``a`` vs ``b`` over their shared subjects, in
    :func:`paired_test`'s form (``min_p``: the smallest p this many subjects can give)."""
    shared = sorted(set(a.index) & set(b.index))
    if not shared:
        return {"p": math.nan, "test": "", "n": 0, "min_p": math.nan, "why": "no shared subjects"}
    p = stats.wilcoxon_paired(a.loc[shared].to_numpy(), b.loc[shared].to_numpy(), alternative=alternative)
    return {"p": p, "test": "W", "n": len(shared), "min_p": stats.wilcoxon_min_p(len(shared), alternative),
            "why": ""}  # fmt: skip


def subject_values(store: Store, parent: pd.Series, task: str, metric: str) -> pd.Series:
    """A run's metric per test subject (indexed by subject, folds that test a subject averaged), or an
    empty series where its units logged none for ``metric`` (pooled protocols log accuracy only)."""
    if parent["per_subject"]:
        return subject_scores(store, parent, task, metric)
    if metric != "acc" or "subject_acc" not in store.units:
        return pd.Series(dtype=float)
    u = store.units
    u = u[(u["parent_id"] == parent["run_id"]) & (u["task"] == task)]
    pairs = [(s, a) for d in u["subject_acc"] if isinstance(d, dict) for s, a in d.items()]
    if not pairs:
        return pd.Series(dtype=float)
    subjects, values = zip(*pairs, strict=True)
    return pd.Series(values, index=list(subjects), dtype=float).groupby(level=0).mean().sort_index()


def method_cell(
    store: Store, parent: pd.Series | None, task: str, metric: str
) -> tuple[Cell | None, pd.Series]:
    """The cell of one run and task over its test subjects, with the per-subject values behind it; over
    folds (:func:`~bench.results.cells.cell`, empty values) where no unit logged the metric per subject."""
    if parent is None:
        return None, pd.Series(dtype=float)
    scores = subject_values(store, parent, task, metric)
    if scores.empty:
        return cell(store, parent, task, metric), scores
    summary = stats.describe(scores.to_numpy())
    return Cell(parent["run_id"], task, metric, summary, "subjects", summary.n, "subjects"), scores


def task_chance(task: str) -> float:
    """A task's nominal chance level, ``1 / n_classes`` (0.5 for a binary task); NaN for a task no longer
    registered (a plugin's, uninstalled since): its class count is unknown, so no chance level is shown."""
    return get_task(task).chance if task in task_names() else math.nan


def binomial_chance(c: Cell) -> float:
    """The adjusted chance level over the cell's independent test units (NaN where it does not apply)."""
    p = task_chance(c.task)
    if c.metric not in CHANCE_METRICS or c.independent_unit == "windows" or c.n_independent <= 0:
        return math.nan
    return stats.binomial_chance(c.n_independent, p=p) if math.isfinite(p) else math.nan


def _clip(x: float) -> float:
    """A CI bound within the metric's range [0, 1] (the t interval is symmetric and ignores it)."""
    return min(1.0, max(0.0, x)) if math.isfinite(x) else math.nan


def ci_kind(s: stats.Summary) -> str:
    """How a cell's CI was computed, or why there is none (the ``ci`` column of the tidy data)."""
    if s.n < stats.MIN_CI_N:
        return f"none (n<{stats.MIN_CI_N})"
    return "corrected t" if s.corrected else "t"


def cell_fields(c: Cell | None, absent: str = "not run") -> dict:
    """The tidy numbers of one cell (NaN and status ``absent`` for a missing one, never zeros): 'not run',
    or 'not asked' for a cell the ``where`` conditions or a grid leave out."""
    if c is None:
        return {
            "status": absent,
            "run_id": "",
            "over": "",
            "mean": math.nan,
            "std": math.nan,
            "ci_low": math.nan,
            "ci_high": math.nan,
            "ci": "",
            "n": 0,
        }
    s = c.summary
    shown = s.n >= stats.MIN_CI_N
    return {
        "status": "ok",
        "run_id": c.run_id,
        "over": c.over,
        "mean": c.mean,
        "std": s.std,
        "ci_low": _clip(s.ci_low) if shown else math.nan,
        "ci_high": _clip(s.ci_high) if shown else math.nan,
        "ci": ci_kind(s),
        "n": s.n,
    }


def diff(a: Cell | None, b: Cell | None) -> float:
    return a.mean - b.mean if a is not None and b is not None else math.nan


def ratio(a: Cell | None, b: Cell | None) -> float:
    return a.mean / b.mean if a is not None and b is not None and b.mean else math.nan
