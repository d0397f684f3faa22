"""Result tables from the runner's MLflow store: comparison, protocols, leakage, ablation, leaderboard.

Pure functions a notebook user can call::

    from bench.tables import load_store, comparison_table
    store = load_store("sqlite:///mlflow.db", data="synthetic")
    tab = comparison_table(store)
    tab.data      # tidy numbers (one row per model x protocol x split x task)
    tab.frame     # the formatted cells, as printed

What counts
-----------
Only FINISHED parent runs (tag ``bench.role = parent``) and their FINISHED unit runs. For every
(model, protocol, split, audit, ablation variant, data fingerprint) the newest such parent is used.
Synthetic and DEAP results live in different MLflow experiments and are never mixed; one table also
shows one data fingerprint only (the newest by default). Leaky runs (segment split, select-on-test
audit) appear only in the leakage table and the protocols table's segment columns.

Statistics (:mod:`bench.stats`)
-------------------------------
A cell is the mean, std (ddof 1) and t-based 95% CI over folds (pooled protocols) or over subjects
(per-subject protocols: each subject's folds are averaged first). Paired tests against a reference
(MT-CNN, or the full model in the ablation): the corrected resampled t-test over shared folds for
pooled protocols, the Wilcoxon signed-rank test over subjects for per-subject ones; p-values are
Holm-corrected over the comparisons of one protocol/split (both tasks). A result "beats chance" when
a one-sided paired test against the better trivial baseline (majority, prior) of the same column is
significant after Holm correction; with no baseline run, when it exceeds the binomial adjusted chance
level (Combrisson & Jerbi 2015) for its number of test samples.
"""

from __future__ import annotations

import html
import io
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from bench import stats
from bench.errors import ConfigError
from bench.tracking import EXPERIMENTS, TAG

TASKS: tuple[str, ...] = ("valence", "arousal")
METRICS: tuple[str, ...] = ("acc", "balanced_acc", "f1_macro", "auc")
TRIVIAL: tuple[str, ...] = ("majority", "prior")
REFERENCE_MODEL = "mtcnn"
TABLES: tuple[str, ...] = ("comparison", "protocols", "leakage", "ablation", "leaderboard")
FORMATS: tuple[str, ...] = ("md", "latex", "csv", "html")
AUDIT = "select-on-test"

VARIANTS: tuple[str, ...] = (
    "full",
    "only-de",
    "only-psd",
    "single-task",
    "no-lr-decay",
    "no-batch-norm",
    "no-dropout",
    "no-balance",
)
"""The ablation grid, in the order the paper's chart lists it (balancing last: not in the paper)."""

ABLATION_CHANGES: dict[str, dict] = {
    "full": {},
    "only-de": {"features": ("de",)},
    "only-psd": {"features": ("psd",)},
    "single-task": {"single_task": True},
    "no-lr-decay": {"train.lr_decay": False},
    "no-batch-norm": {"train.batch_norm": False},
    "no-dropout": {"train.dropout": 0.0},
    "no-balance": {"train.balance": False},
}
"""RunConfig changes of each ablation variant (``train.x`` is a TrainConfig field)."""

VARIANT_FLAGS: dict[str, str] = {
    "full": "",
    "only-de": "--features de",
    "only-psd": "--features psd",
    "single-task": "--single-task",
    "no-lr-decay": "--no-lr-decay",
    "no-batch-norm": "--no-batch-norm",
    "no-dropout": "--no-dropout",
    "no-balance": "--no-balance",
}

PAPER_ABLATION: dict[str, dict[str, float | None]] = {
    "full": {"valence": 96.28, "arousal": 96.62},
    "only-de": {"valence": 92.3, "arousal": 92.9},
    "only-psd": {"valence": 92.0, "arousal": 92.6},
    "single-task": {"valence": 95.7, "arousal": 96.1},
    "no-lr-decay": {"valence": 96.1, "arousal": 96.5},
    "no-batch-norm": {"valence": 94.1, "arousal": 94.6},
    "no-dropout": {"valence": 93.9, "arousal": 94.4},
    "no-balance": {"valence": None, "arousal": None},
}
"""MT-CNN ablation, read off the authors' chart (+-0.1); balancing is not reported."""

PAPER_PROTOCOLS: dict[str, dict[str, float]] = {
    "subject-specific": {"valence": 93.93, "arousal": 94.21},
    "whole-set": {"valence": 88.92, "arousal": 90.15},
}
"""The seed paper's 4D-CRNN reproduction: 64 separate models vs 2 models (Table A)."""

NOT_RUN = "not run"
DASH = "—"


# ------------------------------------------------------------------------------------------ store
@dataclass
class Store:
    """The finished runs of one data kind and one data fingerprint, as DataFrames.

    ``parents``: one row per selected parent run. ``units``: one row per (parent, unit, task) with the
    unit's test metrics. ``subjects``: per (parent, task, subject) accuracy, averaged over folds.
    """

    data_kind: str
    fingerprint: str
    tracking_uri: str | None
    parents: pd.DataFrame
    units: pd.DataFrame
    subjects: pd.DataFrame
    other_fingerprints: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return f"{self.data_kind.upper()} data {self.fingerprint}"


def _search_all(cl, exp_id: str, filter_string: str) -> list:
    out, token = [], None
    while True:
        page = cl.search_runs([exp_id], filter_string=filter_string, max_results=5000, page_token=token)
        out.extend(page)
        token = page.token
        if not token:
            return out


def _json(value: str | None, default=None):
    if value is None:
        return default
    try:
        return json.loads(value)
    except ValueError:
        return value


def variant_of(params: dict[str, str], model: str | None = None) -> str:
    """The ablation variant a parent's flattened config params describe (``"full"`` when none applies).

    Several changes join with ``+`` (``"no-dropout+no-batch-norm"``); a dropout other than 0 is
    ``dropout=X``; a feature list equal to the model's default counts as the full model. Loss weights
    other than 1,1 (e.g. tuned ones) are a variant too (``loss-weights=0.7,1.3``), so they never replace
    the full model's cell.
    """
    parts = []
    feats = _json(params.get("features"))
    if feats:
        feats = sorted(feats)
        default = None
        if model:
            try:
                from bench.registry import get_model_info

                default = sorted(get_model_info(model).input_spec.features)
            except ConfigError:
                default = None
        if feats != default:
            parts.append("only-" + "-".join(feats) if len(feats) == 1 else "features=" + ",".join(feats))
    if _json(params.get("single_task")) is True:
        parts.append("single-task")
    if _json(params.get("train.lr_decay")) is False:
        parts.append("no-lr-decay")
    if _json(params.get("train.batch_norm")) is False:
        parts.append("no-batch-norm")
    dropout = _json(params.get("train.dropout"))
    if dropout is not None:
        parts.append("no-dropout" if float(dropout) == 0.0 else f"dropout={dropout}")
    if _json(params.get("train.balance")) is False:
        parts.append("no-balance")
    weights = _json(params.get("train.loss_weights"))
    if isinstance(weights, list) and len(weights) == 2 and [float(w) for w in weights] != [1.0, 1.0]:
        parts.append(f"loss-weights={float(weights[0]):g},{float(weights[1]):g}")
    return "+".join(parts) or "full"


def _per_subject(protocol: str) -> bool:
    from protocols import get_protocol

    try:
        return get_protocol(protocol).population == "per-subject"
    except ConfigError:
        return False


def _parent_row(run) -> dict:
    t, p = run.data.tags, run.data.params
    model = t.get(f"{TAG}model", "?")
    audit = t.get(f"{TAG}audit", "none") or "none"
    epochs = _json(p.get("train.max_epochs"))
    return {
        "run_id": run.info.run_id,
        "model": model,
        "protocol": t.get(f"{TAG}protocol", "?"),
        "split": t.get(f"{TAG}split", "?"),
        "audit": audit,
        "leaky": t.get(f"{TAG}leaky", "false") == "true",
        "variant": variant_of(p, model),
        "fingerprint": t.get(f"{TAG}data_fingerprint", "?"),
        "data_kind": t.get(f"{TAG}data_kind", "?"),
        "code_version": t.get(f"{TAG}code_version", "?"),
        "n_subjects": int(t.get(f"{TAG}n_subjects", "0") or 0),
        "n_folds": int(_json(p.get("n_folds"), 0) or 0),
        "seed": int(_json(p.get("seed"), 0) or 0),
        "subjects_param": p.get("subjects", "null"),
        "epochs": int(epochs) if isinstance(epochs, int | float) else None,
        "start_time": int(run.info.start_time or 0),
        "per_subject": _per_subject(t.get(f"{TAG}protocol", "?")),
    }


def _unit_rows(run) -> tuple[list[dict], list[dict]]:
    t, m = run.data.tags, run.data.metrics
    key = t.get(f"{TAG}unit", run.info.run_name or "")
    base = key.removesuffix("-valence").removesuffix("-arousal")
    subj = t.get(f"{TAG}subject", "")
    subject = int(subj) if subj.strip().isdigit() else None
    fold = int(t.get(f"{TAG}fold", "0") or 0)
    tasks = [x for x in t.get(f"{TAG}tasks", ",".join(TASKS)).split(",") if x]
    parent = t.get("mlflow.parentRunId")
    rows, subs = [], []
    for task in tasks:
        if f"test_acc_{task}" not in m:
            continue
        row = {"parent_id": parent, "unit": key, "base": base, "fold": fold, "subject": subject, "task": task}
        row.update({k: float(m.get(f"test_{k}_{task}", math.nan)) for k in METRICS})
        row["n_train"] = float(m.get("n_train", math.nan))
        row["n_test"] = float(m.get("n_test", math.nan))
        rows.append(row)
        if subject is not None:
            subs.append(
                {"parent_id": parent, "task": task, "subject": subject, "fold": fold, "acc": row["acc"]}
            )
        else:
            prefix = f"test_acc_{task}_s"
            for name, v in m.items():
                if name.startswith(prefix) and name[len(prefix) :].isdigit():
                    subs.append(
                        {
                            "parent_id": parent,
                            "task": task,
                            "subject": int(name[len(prefix) :]),
                            "fold": fold,
                            "acc": float(v),
                        }
                    )
    return rows, subs


def _kind_has_runs(cl, kind: str) -> str | None:
    exp = cl.get_experiment_by_name(EXPERIMENTS[kind])
    if exp is None:
        return None
    runs = cl.search_runs(
        [exp.experiment_id],
        filter_string=f"tags.`{TAG}role` = 'parent' and attributes.status = 'FINISHED'",
        max_results=1,
    )
    return exp.experiment_id if runs else None


def load_store(
    tracking_uri: str | None = None, data: str | None = None, fingerprint: str | None = None
) -> Store:
    """Read the finished runs of one data kind (default: synthetic if it has runs, else deap).

    ``fingerprint`` picks one data set (default: the one of the newest finished parent run).
    Raises :class:`ConfigError` for an unknown data kind or an empty store.
    """
    from bench.tracking import client, resolve_tracking_uri

    if data is not None and data not in EXPERIMENTS:
        raise ConfigError(f"--data {data!r} is not known; allowed: {', '.join(EXPERIMENTS)}")
    where = resolve_tracking_uri(tracking_uri)
    if where.startswith("sqlite:///") and not Path(where.removeprefix("sqlite:///")).is_file():
        raise ConfigError(f"no MLflow store at {where}; run `bench run ...` first (or pass --tracking-uri)")
    cl = client(tracking_uri)
    if data is None:
        for kind in EXPERIMENTS:
            if _kind_has_runs(cl, kind):
                data = kind
                break
        else:
            raise ConfigError(f"no finished runs in {where}; run `bench run ...` first")
    exp_id = _kind_has_runs(cl, data)
    if exp_id is None:
        raise ConfigError(f"no finished {data} runs in {where} (experiment {EXPERIMENTS[data]!r})")
    parents = pd.DataFrame(
        [
            _parent_row(r)
            for r in _search_all(
                cl, exp_id, f"tags.`{TAG}role` = 'parent' and attributes.status = 'FINISHED'"
            )
        ]
    )
    parents = parents.sort_values(["start_time", "run_id"], ascending=[False, False], kind="stable")
    fps = list(dict.fromkeys(parents["fingerprint"]))
    if fingerprint is None:
        fingerprint = fps[0]
    elif fingerprint not in fps:
        raise ConfigError(f"no finished {data} runs on data {fingerprint!r}; known: {', '.join(fps)}")
    parents = parents[parents["fingerprint"] == fingerprint]
    key = ["model", "protocol", "split", "audit", "variant"]
    parents = parents.drop_duplicates(key, keep="first").reset_index(drop=True)
    ids = set(parents["run_id"])
    rows, subs, seen = [], [], set()
    units = _search_all(cl, exp_id, f"tags.`{TAG}role` = 'unit' and attributes.status = 'FINISHED'")
    units.sort(key=lambda r: (-(r.info.start_time or 0), r.info.run_id))
    for run in units:
        pid = run.data.tags.get("mlflow.parentRunId")
        ukey = (pid, run.data.tags.get(f"{TAG}unit"))
        if pid not in ids or ukey in seen:
            continue
        seen.add(ukey)
        r, s = _unit_rows(run)
        rows += r
        subs += s
    ucols = ["parent_id", "unit", "base", "fold", "subject", "task", *METRICS, "n_train", "n_test"]
    udf = pd.DataFrame(rows, columns=ucols).sort_values(["parent_id", "task", "unit"], kind="stable")
    sdf = pd.DataFrame(subs, columns=["parent_id", "task", "subject", "fold", "acc"])
    sdf = sdf.groupby(["parent_id", "task", "subject"], as_index=False)["acc"].mean()
    return Store(
        data_kind=data,
        fingerprint=fingerprint,
        tracking_uri=tracking_uri,
        parents=parents,
        units=udf.reset_index(drop=True),
        subjects=sdf,
        other_fingerprints=tuple(f for f in fps if f != fingerprint),
    )


# ------------------------------------------------------------------------------------- statistics
@dataclass(frozen=True)
class Cell:
    """Statistics of one (parent run, task): over subjects (per-subject protocols) or folds."""

    run_id: str
    task: str
    summary: stats.Summary
    over: str
    n_test_total: float

    @property
    def mean(self) -> float:
        return self.summary.mean


def find_parent(
    store: Store, model: str, protocol: str, split: str, *, audit: str = "none", variant: str = "full"
) -> pd.Series | None:
    """The selected parent row for one table cell, or None when it was not run."""
    p = store.parents
    hit = p[
        (p["model"] == model)
        & (p["protocol"] == protocol)
        & (p["split"] == split)
        & (p["audit"] == audit)
        & (p["variant"] == variant)
    ]
    return None if hit.empty else hit.iloc[0]


def cell(store: Store, parent: pd.Series | None, task: str) -> Cell | None:
    """Mean/std/CI of a parent's test accuracy for a task; per-subject protocols average per subject first."""
    if parent is None:
        return None
    u = store.units[(store.units["parent_id"] == parent["run_id"]) & (store.units["task"] == task)]
    if u.empty:
        return None
    if parent["per_subject"]:
        values = u.groupby("subject")["acc"].mean().sort_index().to_numpy()
        over = "subjects"
    else:
        values = u.sort_values("base")["acc"].to_numpy()
        over = "folds"
    return Cell(parent["run_id"], task, stats.describe(values), over, float(u["n_test"].sum()))


def _same_folds(a: pd.Series, b: pd.Series) -> bool:
    return (a["protocol"], a["split"], a["n_folds"], a["seed"], a["subjects_param"]) == (
        b["protocol"],
        b["split"],
        b["n_folds"],
        b["seed"],
        b["subjects_param"],
    )


def paired_test(store: Store, a: pd.Series, b: pd.Series, task: str, alternative: str = "two-sided") -> dict:
    """Paired comparison of two parents on one task: ``{"p": .., "test": "t"|"W", "n": ..}``.

    Pooled protocols: corrected resampled t-test over the folds both ran (same protocol, split, folds,
    seed and subjects, matched by fold key). Per-subject protocols (or pooled ones whose folds differ):
    Wilcoxon signed-rank over the subjects both cover (per-subject accuracy averaged over folds).
    """
    out = {"p": math.nan, "test": "", "n": 0}
    if not a["per_subject"] and _same_folds(a, b):
        u = store.units[store.units["task"] == task]
        ua = u[u["parent_id"] == a["run_id"]].set_index("base")
        ub = u[u["parent_id"] == b["run_id"]].set_index("base")
        shared = sorted(set(ua.index) & set(ub.index))
        if len(shared) >= 2:
            ratio = (ua.loc[shared, "n_test"] + ub.loc[shared, "n_test"]) / (
                ua.loc[shared, "n_train"] + ub.loc[shared, "n_train"]
            )
            _, p = stats.corrected_ttest(
                ua.loc[shared, "acc"].to_numpy(),
                ub.loc[shared, "acc"].to_numpy(),
                n_train=np.ones(len(shared)),
                n_test=ratio.to_numpy(),
                alternative=alternative,
            )
            return {"p": p, "test": "t", "n": len(shared)}
    s = store.subjects[store.subjects["task"] == task]
    sa = s[s["parent_id"] == a["run_id"]].set_index("subject")["acc"]
    sb = s[s["parent_id"] == b["run_id"]].set_index("subject")["acc"]
    shared = sorted(set(sa.index) & set(sb.index))
    if shared:
        p = stats.wilcoxon_paired(
            sa.loc[shared].to_numpy(), sb.loc[shared].to_numpy(), alternative=alternative
        )
        out = {"p": p, "test": "W", "n": len(shared)}
    return out


# ------------------------------------------------------------------------------------------ tables
@dataclass
class Table:
    """One rendered table: ``frame`` holds the printed cells, ``data`` the tidy numbers behind them."""

    name: str
    title: str
    frame: pd.DataFrame
    data: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)


def _pct(x: float | None, digits: int = 1) -> str:
    if x is None or not math.isfinite(x):
        return DASH
    return f"{100 * x:.{digits}f}"


def _signed(x: float | None, digits: int = 1, scale: float = 100.0) -> str:
    if x is None or not math.isfinite(x):
        return DASH
    v = round(scale * x, digits)
    return f"{'+' if v > 0 else '−' if v < 0 else '±'}{abs(v):.{digits}f}"


def _pval(p: float) -> str:
    if not math.isfinite(p):
        return ""
    return "p<0.001" if p < 0.001 else f"p={p:.3f}"


def _short(c: Cell | None) -> str:
    if c is None:
        return NOT_RUN
    s = c.summary
    return _pct(s.mean) + ("" if not math.isfinite(s.std) else f" ± {_pct(s.std)}") + f" (n={s.n})"


def _subjects_arg(param: str) -> str | None:
    subs = _json(param)
    if not subs:
        return None
    subs = sorted(int(s) for s in subs)
    parts, start, prev = [], subs[0], subs[0]
    for s in [*subs[1:], None]:
        if s is not None and s == prev + 1:
            prev = s
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if s is not None:
            start = prev = s
    return ",".join(parts)


def run_command(
    store: Store,
    model: str,
    protocol: str,
    split: str,
    *,
    variant: str = "full",
    audit: str = "none",
    ref: pd.Series | None = None,
) -> str:
    """The ``bench run`` command that fills a missing cell, with the folds/seed/subjects/epochs of ``ref``."""
    parts = ["bench run", f"--model {model}", f"--protocol {protocol}", f"--split {split}"]
    for v in variant.split("+"):
        if VARIANT_FLAGS.get(v):
            parts.append(VARIANT_FLAGS[v])
    if audit != "none":
        parts.append(f"--audit {audit}")
    if ref is None and not store.parents.empty:
        ref = store.parents.iloc[0]
    if ref is not None:
        if ref["n_folds"] and (protocol != "cross-subject" or ref["protocol"] == protocol):
            parts.append(f"--folds {ref['n_folds']}")
        if ref["seed"]:
            parts.append(f"--seed {ref['seed']}")
        subs = _subjects_arg(ref["subjects_param"])
        if subs:
            parts.append(f"--subjects {subs}")
        if ref["epochs"]:
            parts.append(f"--epochs {ref['epochs']}")
    parts.append("--synthetic" if store.data_kind == "synthetic" else '--deap "$DEAP_DIR"')
    if store.tracking_uri:
        parts.append(f"--tracking-uri {store.tracking_uri}")
    return " ".join(parts)


def _title(store: Store, what: str) -> str:
    return f"{what} | {store.label}"


def _data_notes(store: Store) -> list[str]:
    notes = []
    if store.data_kind == "synthetic":
        notes.append("SYNTHETIC data: numbers test the harness, they say nothing about DEAP.")
    if store.other_fingerprints:
        notes.append(
            "other data sets in this store (pick with --fingerprint): " + ", ".join(store.other_fingerprints)
        )
    return notes


def _groups(store: Store, leaky: bool | None) -> list[tuple[str, str]]:
    from protocols import list_protocols
    from protocols.registry import SPLIT_UNITS

    p = store.parents
    if leaky is not None:
        p = p[p["leaky"] == leaky]
    order = {x.name: i for i, x in enumerate(list_protocols())}
    pairs = {(r.protocol, r.split) for r in p.itertuples()}
    return sorted(
        pairs,
        key=lambda g: (order.get(g[0], 99), g[0], SPLIT_UNITS.index(g[1]) if g[1] in SPLIT_UNITS else 99),
    )


def _model_names() -> list[str]:
    from bench.registry import list_models

    return [m.name for m in list_models()]


def _ordered_models(store: Store, all_models: bool) -> list[str]:
    names = _model_names()
    seen = set(store.parents["model"])
    extra = sorted(seen - set(names))
    return [m for m in names if all_models or m in seen] + extra


def _reported(model: str) -> dict:
    from bench.registry import get_model_info

    try:
        return get_model_info(model).reported
    except ConfigError:
        return {}


def comparison_table(store: Store) -> Table:
    """Models x (protocol, split) x task: accuracy mean ± std [95% CI] (n), paired p vs MT-CNN, chance.

    Leak-free runs of the full model only; the paper-reported number is its own column.
    """
    groups = _groups(store, leaky=False) or [("whole-set", "trial")]
    models = _ordered_models(store, all_models=True)
    rows, commands = [], []
    for protocol, split in groups:
        ref_row = find_parent(store, REFERENCE_MODEL, protocol, split)
        trivial = {m: find_parent(store, m, protocol, split) for m in TRIVIAL}
        col_ref = next((r for r in [ref_row, *trivial.values()] if r is not None), None)
        if col_ref is None:
            col_ref = next(
                (
                    find_parent(store, m, protocol, split)
                    for m in models
                    if find_parent(store, m, protocol, split) is not None
                ),
                None,
            )
        for model in models:
            par = find_parent(store, model, protocol, split)
            if par is None:
                commands.append(run_command(store, model, protocol, split, ref=col_ref))
            for task in TASKS:
                c = cell(store, par, task)
                row = {
                    "model": model,
                    "protocol": protocol,
                    "split": split,
                    "task": task,
                    "status": "ok" if c is not None else NOT_RUN,
                    "run_id": c.run_id if c else "",
                    "over": c.over if c else "",
                    "mean": math.nan,
                    "std": math.nan,
                    "ci_low": math.nan,
                    "ci_high": math.nan,
                    "n": 0,
                    "p_vs_mtcnn": math.nan,
                    "p_vs_mtcnn_holm": math.nan,
                    "test": "",
                    "chance_model": "",
                    "p_vs_chance": math.nan,
                    "p_vs_chance_holm": math.nan,
                    "chance_binomial": math.nan,
                    "above_chance": None,
                    "reported": _reported(model).get(task),
                }
                if c is not None:
                    s = c.summary
                    row.update(mean=s.mean, std=s.std, ci_low=s.ci_low, ci_high=s.ci_high, n=s.n)
                    if model != REFERENCE_MODEL and ref_row is not None:
                        t = paired_test(store, par, ref_row, task)
                        row.update(p_vs_mtcnn=t["p"], test=t["test"])
                    if model not in TRIVIAL:
                        cells = {m: cell(store, r, task) for m, r in trivial.items() if r is not None}
                        if cells:
                            best = max(sorted(cells), key=lambda m: cells[m].mean)
                            t = paired_test(store, par, trivial[best], task, alternative="greater")
                            row.update(chance_model=best, p_vs_chance=t["p"])
                        per_unit = c.n_test_total / (c.summary.n if c.over == "subjects" else 1)
                        row["chance_binomial"] = stats.binomial_chance(int(round(per_unit)))
                rows.append(row)
    data = pd.DataFrame(rows)
    for (_, _), idx in data.groupby(["protocol", "split"], sort=False).groups.items():
        data.loc[idx, "p_vs_mtcnn_holm"] = stats.holm(data.loc[idx, "p_vs_mtcnn"].to_numpy())
        data.loc[idx, "p_vs_chance_holm"] = stats.holm(data.loc[idx, "p_vs_chance"].to_numpy())
    for i, r in data.iterrows():
        if r["status"] != "ok" or r["model"] in TRIVIAL:
            continue
        if math.isfinite(r["p_vs_chance_holm"]):
            data.at[i, "above_chance"] = bool(r["p_vs_chance_holm"] < stats.ALPHA)
        elif math.isfinite(r["chance_binomial"]):
            data.at[i, "above_chance"] = bool(r["mean"] > r["chance_binomial"])
    frame_rows = []
    for model in models:
        out = {"model": model}
        for protocol, split in groups:
            for task in TASKS:
                r = data[
                    (data["model"] == model)
                    & (data["protocol"] == protocol)
                    & (data["split"] == split)
                    & (data["task"] == task)
                ].iloc[0]
                out[f"{protocol}/{split} {task}"] = _comparison_text(r)
        for task in TASKS:
            rep = _reported(model).get(task)
            out[f"reported {task}"] = DASH if rep is None else f"{rep:.2f}"
        frame_rows.append(out)
    notes = [
        "cells: accuracy % mean ± std [95% t CI] (n folds, or n subjects for per-subject protocols: "
        "each subject's folds averaged first).",
        "p: paired test vs MT-CNN, Holm-corrected within a protocol/split (t: corrected resampled t-test "
        "over shared folds, Nadeau & Bengio 2003; W: Wilcoxon signed-rank over subjects).",
        "°: not significantly above chance (one-sided paired test vs the better trivial baseline, Holm; "
        "without one, the binomial adjusted chance level, Combrisson & Jerbi 2015); "
        "(chance): a trivial baseline, the chance reference.",
        "reported: the paper's number (DEAP, its own protocol, usually leaky segment-level folds), "
        "never ours.",
        *_data_notes(store),
    ]
    for model in models:
        note = _reported(model).get("note")
        if note:
            notes.append(f"reported {model}: {note}")
    return Table(
        "comparison",
        _title(store, "Model comparison (leak-free splits)"),
        pd.DataFrame(frame_rows),
        data,
        notes,
        commands,
    )


def _comparison_text(r: pd.Series) -> str:
    if r["status"] != "ok":
        return NOT_RUN
    text = _pct(r["mean"])
    if math.isfinite(r["std"]):
        text += f" ± {_pct(r['std'])} [{_pct(r['ci_low'])}, {_pct(r['ci_high'])}]"
    text += f" n={int(r['n'])}"
    if math.isfinite(r["p_vs_mtcnn_holm"]):
        text += f" {_pval(r['p_vs_mtcnn_holm'])} ({r['test']})"
    if r["model"] in TRIVIAL:
        text += " (chance)"
    elif r["above_chance"] is False:
        text += " °"
    return text


def _cell_fields(c: Cell | None) -> dict:
    """The tidy numbers of one cell (NaN and status 'not run' for a missing one)."""
    if c is None:
        return {"status": NOT_RUN, "mean": math.nan, "std": math.nan, "ci_low": math.nan,
                "ci_high": math.nan, "n": 0}  # fmt: skip
    s = c.summary
    return {"status": "ok", "mean": c.mean, "std": s.std, "ci_low": s.ci_low, "ci_high": s.ci_high, "n": s.n}


def _diff(a: Cell | None, b: Cell | None) -> float:
    return a.mean - b.mean if a is not None and b is not None else math.nan


def _ratio(a: Cell | None, b: Cell | None) -> float:
    return a.mean / b.mean if a is not None and b is not None and b.mean else math.nan


def protocols_tables(store: Store, split: str = "trial") -> list[Table]:
    """Table A: subject-specific vs whole-set per model (the paper's 64 vs 2 models), with the paper's row.
    Table B: segment (leaky) vs trial split per model and protocol: the leakage inflation."""
    models = _ordered_models(store, all_models=False)
    rows, frame, commands = [], [], []
    ps = ("subject-specific", "whole-set")
    for model in models:
        pars = {pr: find_parent(store, model, pr, split) for pr in ps}
        for pr, par in pars.items():
            if par is None:
                commands.append(run_command(store, model, pr, split))
        for task in TASKS:
            out = {"model": model, "task": task}
            cs = {pr: cell(store, par, task) for pr, par in pars.items()}
            d = _diff(cs["whole-set"], cs["subject-specific"])
            for pr in ps:
                c = cs[pr]
                rows.append(
                    {
                        "section": "A",
                        "model": model,
                        "protocol": pr,
                        "split": split,
                        "task": task,
                        **_cell_fields(c),
                        "diff_whole_minus_subject": d,
                        "ratio": math.nan,
                    }
                )
                out[pr] = _short(c)
            out["Δ whole−subject"] = _signed(d)
            frame.append(out)
    for task in TASKS:
        a, b = PAPER_PROTOCOLS["subject-specific"][task], PAPER_PROTOCOLS["whole-set"][task]
        frame.append(
            {
                "model": "4dcrnn (paper, reported)",
                "task": task,
                "subject-specific": f"{a:.2f}",
                "whole-set": f"{b:.2f}",
                "Δ whole−subject": _signed((b - a) / 100, 2),
            }
        )
    ta = Table(
        "protocols",
        _title(store, f"Protocol: subject-specific (64 models) vs whole-set (2 models), split {split}"),
        pd.DataFrame(frame),
        pd.DataFrame(rows),
        [
            "cells: accuracy % mean ± std (n subjects for subject-specific, n folds for whole-set); "
            "Δ in percentage points.",
            "paper row: the seed paper's 4D-CRNN reproduction (DEAP, segment-level folds), not ours.",
            *_data_notes(store),
        ],
        commands,
    )
    rows_b, frame_b, commands_b = [], [], []
    for model in models:
        for pr in ("subject-specific", "whole-set", "whole-set-finetune"):
            tr, sg = find_parent(store, model, pr, "trial"), find_parent(store, model, pr, "segment")
            if tr is None and sg is None:
                continue
            for par, sp in ((tr, "trial"), (sg, "segment")):
                if par is None:
                    commands_b.append(run_command(store, model, pr, sp, ref=tr if tr is not None else sg))
            for task in TASKS:
                out = {"model": model, "protocol": pr, "task": task}
                ct, cs_ = cell(store, tr, task), cell(store, sg, task)
                d, q = _diff(cs_, ct), _ratio(cs_, ct)
                for c, sp in ((ct, "trial"), (cs_, "segment")):
                    rows_b.append(
                        {
                            "section": "B",
                            "model": model,
                            "protocol": pr,
                            "split": sp,
                            "task": task,
                            **_cell_fields(c),
                            "diff_segment_minus_trial": d,
                            "ratio": q,
                        }
                    )
                out["trial"] = _short(ct)
                out["segment (leaky)"] = _short(cs_)
                out["Δ"] = _signed(d)
                out["ratio"] = DASH if not math.isfinite(q) else f"{q:.3f}"
                frame_b.append(out)
    tb = Table(
        "protocols-split",
        _title(store, "Split: segment (leaky) vs trial, leakage inflation"),
        pd.DataFrame(
            frame_b, columns=["model", "protocol", "task", "trial", "segment (leaky)", "Δ", "ratio"]
        ),
        pd.DataFrame(rows_b),
        ["Δ = segment − trial (percentage points); ratio = segment / trial.", *_data_notes(store)],
        commands_b,
    )
    return [ta, tb]


def leakage_table(store: Store) -> Table:
    """Per model and protocol: trial, segment, segment + select-on-test, and each leak's inflation."""
    models = _ordered_models(store, all_models=False)
    rows, frame, commands = [], [], []
    settings = (("trial", "none"), ("segment", "none"), ("segment", AUDIT))
    for model in models:
        for pr in ("subject-specific", "whole-set", "whole-set-finetune"):
            pars = [find_parent(store, model, pr, sp, audit=au) for sp, au in settings]
            if all(p is None for p in pars):
                continue
            ref = next(p for p in pars if p is not None)
            for par, (sp, au) in zip(pars, settings, strict=True):
                if par is None:
                    commands.append(run_command(store, model, pr, sp, audit=au, ref=ref))
            for task in TASKS:
                out = {"model": model, "protocol": pr, "task": task}
                ct, cs_, ca = (cell(store, p, task) for p in pars)
                leaks = {
                    "segment_leak": _diff(cs_, ct),
                    "select_on_test_leak": _diff(ca, cs_),
                    "total_leak": _diff(ca, ct),
                }
                for c, (sp, au) in zip((ct, cs_, ca), settings, strict=True):
                    rows.append(
                        {
                            "model": model,
                            "protocol": pr,
                            "split": sp,
                            "audit": au,
                            "task": task,
                            "status": "ok" if c else NOT_RUN,
                            "mean": c.mean if c else math.nan,
                            "std": c.summary.std if c else math.nan,
                            "n": c.summary.n if c else 0,
                            **leaks,
                        }
                    )
                out["trial"] = _short(ct)
                out["segment"] = _short(cs_)
                out["seg+select"] = _short(ca)
                out["Δ seg"] = _signed(leaks["segment_leak"])
                out["Δ select"] = _signed(leaks["select_on_test_leak"])
                out["Δ total"] = _signed(leaks["total_leak"])
                frame.append(out)
    if not frame:
        raise ConfigError(f"no runs under subject-specific/whole-set protocols on {store.label}")
    return Table(
        "leakage",
        _title(store, "Leakage audit: trial vs segment vs segment + select-on-test"),
        pd.DataFrame(frame),
        pd.DataFrame(rows),
        [
            "seg+select: segment split with the select-on-test audit. Δ seg = segment − trial (windows of "
            "one trial in train and test); Δ select = seg+select − segment (the test fold drives early "
            "stopping and LR decay); Δ total = seg+select − trial (percentage points).",
            "Leaky numbers appear only here and in the protocols table's segment columns.",
            *_data_notes(store),
        ],
        commands,
    )


def ablation_table(
    store: Store, model: str = REFERENCE_MODEL, protocol: str = "whole-set", split: str = "trial"
) -> Table:
    """Each ablation variant's accuracy, its change against the full model, and the paper's values."""
    p = store.parents
    seen = set(
        p[
            (p["model"] == model)
            & (p["protocol"] == protocol)
            & (p["split"] == split)
            & (p["audit"] == "none")
        ]["variant"]
    )
    variants = list(VARIANTS) + sorted(seen - set(VARIANTS))
    full = find_parent(store, model, protocol, split)
    ref = full if full is not None else (find_parent(store, REFERENCE_MODEL, protocol, split))
    rows, frame, commands = [], [], []
    for v in variants:
        par = find_parent(store, model, protocol, split, variant=v)
        if par is None:
            commands.append(run_command(store, model, protocol, split, variant=v, ref=ref))
        for task in TASKS:
            out = {"variant": v, "task": task}
            c, cf = cell(store, par, task), cell(store, full, task)
            test = (
                paired_test(store, par, full, task)
                if (par is not None and full is not None and v != "full")
                else {"p": math.nan, "test": ""}
            )
            paper = PAPER_ABLATION.get(v, {}).get(task) if model == REFERENCE_MODEL else None
            paper_full = PAPER_ABLATION["full"][task]
            rows.append(
                {
                    "model": model,
                    "protocol": protocol,
                    "split": split,
                    "variant": v,
                    "task": task,
                    "status": "ok" if c else NOT_RUN,
                    "mean": c.mean if c else math.nan,
                    "std": c.summary.std if c else math.nan,
                    "n": c.summary.n if c else 0,
                    "diff_vs_full": _diff(c, cf),
                    "p_vs_full": test["p"],
                    "test": test["test"],
                    "p_vs_full_holm": math.nan,
                    "paper": paper,
                    "paper_diff": None if paper is None else round(paper - paper_full, 2),
                }
            )
            out["accuracy"] = _short(c)
            out["Δ vs full"] = _signed(_diff(c, cf)) if v != "full" else ""
            out["p vs full"] = ""
            out["paper"] = DASH if paper is None else f"{paper:.2f}"
            out["paper Δ"] = "" if v == "full" or paper is None else _signed((paper - paper_full) / 100, 2)
            frame.append(out)
    data = pd.DataFrame(rows)
    data["p_vs_full_holm"] = stats.holm(data["p_vs_full"].to_numpy())
    fr = pd.DataFrame(frame)
    for i, r in data.iterrows():  # frame and data rows are in the same order
        if math.isfinite(r["p_vs_full_holm"]):
            fr.at[i, "p vs full"] = f"{_pval(r['p_vs_full_holm'])} ({r['test']})"
    return Table(
        "ablation",
        _title(
            store,
            f"Ablation of {model} | {protocol} | split {split}" + (" (LEAKY)" if split == "segment" else ""),
        ),
        fr,
        data,
        [
            "cells: accuracy % mean ± std (n); Δ: change against the full model (percentage points); "
            "p: paired test vs the full model, Holm-corrected (t: corrected resampled t-test, W: Wilcoxon).",
            "paper: Rudakov et al. 2021 ablation chart (±0.1, leaky segment-level folds); "
            "balancing not reported.",
            *_data_notes(store),
        ],
        commands,
    )


def leaderboard_tables(store: Store) -> list[Table]:
    """One ranked table per protocol and split of every finished, non-leaky run (all variants)."""
    groups = _groups(store, leaky=False)
    if not groups:
        raise ConfigError(f"no leak-free runs on {store.label}; the leaderboard never shows leaky runs")
    out = []
    for protocol, split in groups:
        p = store.parents
        sel = p[(p["protocol"] == protocol) & (p["split"] == split) & (~p["leaky"])]
        rows = []
        for _, par in sel.iterrows():
            cs = {t: cell(store, par, t) for t in TASKS}
            means = [c.mean for c in cs.values() if c is not None]
            rows.append(
                {
                    "model": par["model"],
                    "variant": par["variant"],
                    "protocol": protocol,
                    "split": split,
                    **{f"{t}_mean": cs[t].mean if cs[t] else math.nan for t in TASKS},
                    **{f"{t}_std": cs[t].summary.std if cs[t] else math.nan for t in TASKS},
                    "mean": float(np.mean(means)) if means else math.nan,
                    "n_folds": par["n_folds"],
                    "n_subjects": par["n_subjects"],
                    "data_kind": par["data_kind"],
                    "fingerprint": par["fingerprint"],
                    "code_version": par["code_version"],
                    "run_id": par["run_id"],
                    "_cells": cs,
                }
            )
        order = {m: i for i, m in enumerate(_model_names())}
        rows.sort(
            key=lambda r: (
                -r["mean"] if math.isfinite(r["mean"]) else math.inf,
                order.get(r["model"], 99),
                r["model"],
                r["variant"],
            )
        )
        frame = []
        for rank, r in enumerate(rows, start=1):
            r["rank"] = rank
            frame.append(
                {
                    "rank": str(rank),
                    "model": r["model"],
                    "variant": r["variant"],
                    **{t: _short(r["_cells"][t]) for t in TASKS},
                    "mean": _pct(r["mean"]),
                    "folds": str(r["n_folds"]),
                    "subjects": str(r["n_subjects"]),
                    "data": f"{r['data_kind']} {r['fingerprint']}",
                    "code": r["code_version"],
                }
            )
        data = pd.DataFrame([{k: v for k, v in r.items() if k != "_cells"} for r in rows])
        out.append(
            Table(
                "leaderboard",
                _title(store, f"Leaderboard | {protocol} | split {split}"),
                pd.DataFrame(frame),
                data,
                [
                    "ranked by the mean of valence and arousal accuracy (%); leaky runs are never listed.",
                    *_data_notes(store),
                ],
            )
        )
    return out


def build(name: str, store: Store, **options) -> list[Table]:
    """A named table (``comparison``, ``protocols``, ``leakage``, ``ablation``, ``leaderboard``) as Tables."""
    if name == "comparison":
        return [comparison_table(store)]
    if name == "protocols":
        return protocols_tables(store, split=options.get("split") or "trial")
    if name == "leakage":
        return [leakage_table(store)]
    if name == "ablation":
        return [
            ablation_table(
                store,
                model=options.get("model") or REFERENCE_MODEL,
                protocol=options.get("protocol") or "whole-set",
                split=options.get("split") or "trial",
            )
        ]
    if name == "leaderboard":
        return leaderboard_tables(store)
    raise ConfigError(f"unknown table {name!r}; known: {', '.join(TABLES)}")


# ----------------------------------------------------------------------------------------- output
def _footer(tables: Sequence[Table]) -> tuple[list[str], list[str]]:
    notes = list(dict.fromkeys(n for t in tables for n in t.notes))
    commands = list(dict.fromkeys(c for t in tables for c in t.commands))
    return notes, commands


def to_rich(tables: Sequence[Table]) -> list:
    """Rich renderables (tables, then notes and the commands that fill missing cells)."""
    from rich.table import Table as RichTable
    from rich.text import Text

    out = []
    for t in tables:
        rt = RichTable(title=t.title, show_lines=False)
        for col in t.frame.columns:
            text = col in _TEXT_COLS
            rt.add_column(str(col), justify="left" if text else "right", overflow="fold", no_wrap=text)
        for row in t.frame.itertuples(index=False):
            cells = [str(v) for v in row]
            rt.add_row(
                *cells,
                style="dim"
                if NOT_RUN in cells[1:] and all(c in (NOT_RUN, DASH, "") for c in cells[1:])
                else None,
            )
        out.append(rt)
    notes, commands = _footer(tables)
    for n in notes:
        out.append(Text(n, style="dim"))
    if commands:
        out.append(Text("Missing cells (not run): fill them with", style="bold"))
        out += [Text("  " + c, no_wrap=True, overflow="ignore") for c in commands]
    return out


_TEXT_COLS = ("model", "variant", "protocol", "rank", "task")


def _md_cell(v) -> str:
    return str(v).replace("|", "\\|").replace("\n", " ")


def to_markdown(tables: Sequence[Table]) -> str:
    parts = []
    for t in tables:
        cols = [str(c) for c in t.frame.columns]
        lines = [
            f"### {t.title}",
            "",
            "| " + " | ".join(map(_md_cell, cols)) + " |",
            "|" + "|".join("---" if c in _TEXT_COLS else "---:" for c in cols) + "|",
        ]
        for row in t.frame.itertuples(index=False):
            lines.append("| " + " | ".join(_md_cell(v) for v in row) + " |")
        parts.append("\n".join(lines))
    notes, commands = _footer(tables)
    tail = [f"- {n}" for n in notes]
    if commands:
        tail += ["", "Missing cells (not run): fill them with", "", "```", *commands, "```"]
    return "\n\n".join(parts) + "\n\n" + "\n".join(tail) + "\n"


_LATEX = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "±": r"$\pm$",
    "Δ": r"$\Delta$",
    "−": "--",
    "°": r"$^\circ$",
    "—": "---",
    "<": r"$<$",
    ">": r"$>$",
}


def _tex(v) -> str:
    return "".join(_LATEX.get(ch, ch) for ch in str(v))


def to_latex(tables: Sequence[Table]) -> str:
    parts = []
    for t in tables:
        cols = [str(c) for c in t.frame.columns]
        spec = "".join("l" if c in _TEXT_COLS else "r" for c in cols)
        lines = [
            r"\begin{table}[ht]",
            r"\centering",
            r"\scriptsize",
            f"\\caption{{{_tex(t.title)}}}",
            f"\\begin{{tabular}}{{{spec}}}",
            r"\hline",
            " & ".join(_tex(c) for c in cols) + r" \\",
            r"\hline",
        ]
        for row in t.frame.itertuples(index=False):
            lines.append(" & ".join(_tex(v) for v in row) + r" \\")
        lines += [r"\hline", r"\end{tabular}", r"\end{table}"]
        parts.append("\n".join(lines))
    notes, commands = _footer(tables)
    tail = [r"\begin{itemize}\scriptsize"] + [f"\\item {_tex(n)}" for n in notes]
    tail += [f"\\item \\texttt{{{_tex(c)}}}" for c in commands] + [r"\end{itemize}"]
    return "\n\n".join(parts) + "\n\n" + "\n".join(tail) + "\n"


def to_html(tables: Sequence[Table]) -> str:
    esc = html.escape
    parts = ['<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>deap-bench</title></head><body>']
    for t in tables:
        parts.append(f"<h2>{esc(t.title)}</h2>")
        parts.append("<table>")
        parts.append("<tr>" + "".join(f"<th>{esc(str(c))}</th>" for c in t.frame.columns) + "</tr>")
        for row in t.frame.itertuples(index=False):
            parts.append("<tr>" + "".join(f"<td>{esc(str(v))}</td>" for v in row) + "</tr>")
        parts.append("</table>")
    notes, commands = _footer(tables)
    parts.append("<ul>" + "".join(f"<li>{esc(n)}</li>" for n in notes) + "</ul>")
    if commands:
        parts.append(
            "<p>Missing cells (not run): fill them with</p><pre>" + esc("\n".join(commands)) + "</pre>"
        )
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def to_csv(tables: Sequence[Table]) -> str:
    """The tidy numbers behind the tables (one CSV; a ``table`` column names the source table)."""
    frames = []
    for t in tables:
        d = t.data.copy()
        d.insert(0, "table", t.name)
        frames.append(d)
    df = pd.concat(frames, ignore_index=True, sort=False) if frames else pd.DataFrame()
    df = df.astype({c: object for c in df.columns if df[c].dtype == bool})
    buf = io.StringIO()
    df.to_csv(buf, index=False, float_format="%.6g", lineterminator="\n")
    return buf.getvalue()


WRITERS = {"md": to_markdown, "latex": to_latex, "csv": to_csv, "html": to_html}


def render(tables: Sequence[Table], fmt: str) -> str:
    """The tables as text in one of :data:`FORMATS`."""
    if fmt not in WRITERS:
        raise ConfigError(f"--format {fmt!r} is not known; allowed: {', '.join(FORMATS)}")
    return WRITERS[fmt](tables)


def write(tables: Sequence[Table], fmt: str, path: str | Path) -> Path:
    path = Path(path)
    text = render(tables, fmt)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write ({exc.strerror or exc})") from None
    return path


# ------------------------------------------------------------------------------------------- plots
def _bars(ax, labels: list[str], series: dict[str, list[tuple[float, float, float]]]) -> None:
    x = np.arange(len(labels))
    width = 0.8 / max(1, len(series))
    for i, (name, vals) in enumerate(series.items()):
        means = np.array([100 * v[0] for v in vals])
        lo = np.array([100 * (v[0] - v[1]) if math.isfinite(v[1]) else 0.0 for v in vals])
        hi = np.array([100 * (v[2] - v[0]) if math.isfinite(v[2]) else 0.0 for v in vals])
        ax.bar(
            x + (i - (len(series) - 1) / 2) * width,
            np.nan_to_num(means),
            width,
            label=name,
            yerr=np.vstack([lo, hi]),
            capsize=2,
        )
    ax.set_xticks(x, labels, rotation=30, ha="right", fontsize=7)
    ax.set_ylim(0, 100)
    ax.set_ylabel("accuracy %")
    ax.axhline(50, color="grey", lw=0.5, ls=":")
    ax.legend(fontsize=6)


def plot(tables: Sequence[Table], path: str | Path) -> Path:
    """Bar chart with 95% CI error bars (comparison and protocols tables); deterministic PNG/SVG."""
    path = Path(path)
    suffix = path.suffix.lower().lstrip(".")
    if suffix not in ("png", "svg"):
        raise ConfigError(f"--plot {path}: the file must end in .png or .svg")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = tables[0]
    if t.name == "comparison":
        d = t.data[t.data["status"] == "ok"]
        groups = list(dict.fromkeys(zip(d["protocol"], d["split"], strict=True)))
        panels = []
        for pr, sp in groups:
            g = d[(d["protocol"] == pr) & (d["split"] == sp)]
            models = list(dict.fromkeys(g["model"]))
            series = {
                task: [
                    tuple(g[(g["model"] == m) & (g["task"] == task)][["mean", "ci_low", "ci_high"]].iloc[0])
                    if not g[(g["model"] == m) & (g["task"] == task)].empty
                    else (math.nan, math.nan, math.nan)
                    for m in models
                ]
                for task in TASKS
            }
            panels.append((f"{pr} / {sp}", models, series))
    elif t.name == "protocols":
        d = t.data[t.data["status"] == "ok"]
        panels = []
        for task in TASKS:
            g = d[d["task"] == task]
            models = list(dict.fromkeys(g["model"]))
            series = {}
            for pr in ("subject-specific", "whole-set"):
                vals = []
                for m in models:
                    r = g[(g["model"] == m) & (g["protocol"] == pr)]
                    vals.append(
                        tuple(r[["mean", "ci_low", "ci_high"]].iloc[0])
                        if not r.empty
                        else (math.nan, math.nan, math.nan)
                    )
                series[pr] = vals
            panels.append((task, models, series))
    else:
        raise ConfigError(f"--plot is available for the comparison and protocols tables, not {t.name!r}")
    if not panels:
        raise ConfigError("nothing to plot: every cell is 'not run'")
    plt.rcParams["svg.hashsalt"] = "deap-bench"
    fig, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 3.8), squeeze=False)
    for ax, (title, labels, series) in zip(axes[0], panels, strict=True):
        _bars(ax, labels, series)
        ax.set_title(title, fontsize=8)
    fig.suptitle(t.title, fontsize=8)
    fig.tight_layout()
    meta = {"Date": None} if suffix == "svg" else {"Software": None}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, format=suffix, metadata=meta, dpi=100)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write ({exc.strerror or exc})") from None
    finally:
        plt.close(fig)
    return path


def ablation_configs(base, variants: Iterable[str] = VARIANTS) -> list[tuple[str, object]]:
    """``(variant, RunConfig)`` for each ablation variant of ``base`` (a RunConfig)."""
    from dataclasses import replace

    out = []
    for v in variants:
        if v not in ABLATION_CHANGES:
            raise ConfigError(f"unknown ablation variant {v!r}; known: {', '.join(VARIANTS)}")
        top = {k: val for k, val in ABLATION_CHANGES[v].items() if not k.startswith("train.")}
        train = {
            k.removeprefix("train."): val for k, val in ABLATION_CHANGES[v].items() if k.startswith("train.")
        }
        cfg = replace(base, **top)
        if train:
            cfg = cfg.with_train(**train)
        out.append((v, cfg))
    return out
