"""Subject-independent training methods: each model's plain run beside its runs with a training method
(``bench run --method NAME``), where the test subjects are never seen in training.

Which protocols: those whose runs split by a unit that keeps every test subject out of training
(:data:`UNSEEN_SPLITS`: ``subject``, ``dataset``), read from each run's own split, never a list of
protocol names: cross-subject, loso-session and subject-holdout split by subject, cross-dataset by
dataset (its store is a data set of its own, as every store is one data set).

Per (protocol, split), one table: a row per (model, method) run, plain training first, then the methods
in :data:`METHOD_ORDER` (the method registry's order); per task the mean ± sd over test subjects, the
difference to the same model's plain run and a one-sided Wilcoxon signed-rank test over test subjects
(method > plain) on the same folds only, Holm-corrected over every comparison of the table. Reference
rows: the majority and prior baselines where they were run, and the task's chance level 1/k. No "best
constant" chosen with the test labels is shown (that is an oracle, :data:`bench.results.crossdataset.ORACLE`).

Per test subject: a pooled protocol's unit logs each test subject's accuracy (``subject_acc`` of the
unit rows), a cross-dataset unit every metric per test subject; a subject tested in several folds (one
per session: loso-session) is averaged first. A metric no unit logged per subject (pooled protocols:
every metric but accuracy) falls back to the folds, with the corrected resampled t-test, and says so.
"""

from __future__ import annotations

import math

import pandas as pd

from bench.core import stats
from bench.core.errors import ConfigError
from bench.data.source import kind_words
from bench.results.cells import (
    OTHER_FOLDS,
    cell_fields,
    method_cell,
    paired_test,
    subjects_test,
    task_chance,
)
from bench.results.store import Store, find_parent
from bench.results.table import (
    DASH,
    NOT_ASKED,
    NOT_RUN,
    TRIVIAL,
    UNTESTABLE,
    Table,
    consistency,
    data_notes,
    method_notes,
    metric_note,
    model_label,
    model_names,
    pct,
    protocol_names,
    pval,
    register_table,
    run_command,
    short,
    shown_runs,
    signed,
    title,
)
from bench.results.where import cell_allowed
from protocols.base import SPLIT_UNITS

UNSEEN_SPLITS: tuple[str, ...] = tuple(u for u in SPLIT_UNITS if u in ("subject", "dataset"))
"""Split units whose test subjects are never in the training part: whole subjects, or a whole dataset."""

METHOD_ORDER: tuple[str, ...] = ("dann", "subject-norm", "ea", "ms-mda")
"""The built-in methods in the method registry's order (``bench.training.methods.BUILTIN_MODULES``, which
this layer may not import; a test checks that they agree). Another package's method follows them, by name."""

PLAIN = "none"
NO_PLAIN = "no plain run"


def has_methods(store: Store) -> bool:
    """Whether the store holds a training method's run, or a grid's report asks for one: where a report
    has a methods section (:attr:`~bench.results.table.TableSpec.in_report`)."""
    p = store.parents
    ran = not p.empty and bool((p["method"] != PLAIN).any())
    return ran or any(len(c) > 5 and c[5] != PLAIN for c in store.asked or ())


def method_key(method: str) -> tuple[int, str]:
    """Sort key of a method: plain training first, then :data:`METHOD_ORDER`, then any other by name."""
    if method == PLAIN:
        return -1, ""
    return (METHOD_ORDER.index(method), "") if method in METHOD_ORDER else (len(METHOD_ORDER), method)


def versus_plain(store: Store, run: pd.Series | None, plain: pd.Series | None, task: str, metric: str,
                 a: pd.Series, b: pd.Series) -> dict:  # fmt: skip
    """One-sided paired test of a method run over its model's plain run (``a``, ``b``: their per-subject
    values): Wilcoxon over shared test subjects, on the same folds only (else ``n/a (other folds)``); the
    corrected resampled t-test over folds where there are no per-subject values."""
    out = {"p": math.nan, "test": "", "n": 0, "min_p": math.nan, "why": ""}
    if run is None:
        return out
    if plain is None:
        return {**out, "why": NO_PLAIN}
    if not run["folds_fp"] or run["folds_fp"] != plain["folds_fp"]:
        return {**out, "why": OTHER_FOLDS}
    if not a.empty and not b.empty:
        return subjects_test(a, b, alternative="greater")
    return paired_test(store, run, plain, task, metric, alternative="greater")


def _asks(store: Store, model: str, protocol: str, split: str, method: str) -> bool:
    """Whether a missing (model, method) cell is "not run", with a command (:meth:`Store.asks`; a grid asks
    for a method's cell as ``(model, protocol, split, audit, variant, method)``)."""
    if method == PLAIN:
        return store.asks(model, protocol, split)
    if not cell_allowed(store.conditions, model, protocol, split, "none", "full"):
        return False
    if not store.applies(model) or not store.applies_protocol(protocol):
        return False
    return store.asked is None or (model, protocol, split, "none", "full", method) in store.asked


def _unseen(store: Store) -> pd.DataFrame:
    """The leak-free, full-recipe, unaudited runs of a split that keeps test subjects out of training."""
    p = shown_runs(store.parents)
    if p.empty:
        return p
    return p[p["split"].isin(UNSEEN_SPLITS) & ~p["leaky"] & (p["audit"] == "none") & (p["variant"] == "full")]


def _asked_methods(store: Store) -> list[tuple[str, str, str, str]]:
    """``(model, protocol, split, method)`` of every method cell a grid asks for under an unseen split."""
    return [
        (c[0], c[1], c[2], c[5])
        for c in store.asked or ()
        if len(c) > 5 and c[5] != PLAIN and c[2] in UNSEEN_SPLITS and c[3] == "none" and c[4] == "full"
    ]


def _groups(runs: pd.DataFrame, asked: list[tuple[str, str, str, str]]) -> list[tuple[str, str]]:
    """(protocol, split) pairs with a method run or a method cell asked for, in protocol registry order."""
    pairs = (
        {(r.protocol, r.split) for r in runs[runs["method"] != PLAIN].itertuples()}
        if not runs.empty
        else set()
    )
    pairs |= {(pr, sp) for _, pr, sp, _ in asked}
    order = {name: i for i, name in enumerate(protocol_names())}
    return sorted(pairs, key=lambda g: (order.get(g[0], len(order)), g[0], SPLIT_UNITS.index(g[1])))


def _rows(runs: pd.DataFrame, asked: list, protocol: str, split: str) -> list[tuple[str, str]]:
    """The (model, method) rows of one group: every model with a run or an asked method cell here (model
    registry order, trivial baselines apart), its plain run first, then its methods in registry order."""
    here = runs[(runs["protocol"] == protocol) & (runs["split"] == split)] if not runs.empty else runs
    found: dict[str, set[str]] = {}
    for r in here.itertuples():
        found.setdefault(r.model, set()).add(r.method)
    for m, pr, sp, method in asked:
        if (pr, sp) == (protocol, split):
            found.setdefault(m, set()).add(method)
    names = model_names()
    models = [m for m in names if m in found] + sorted(set(found) - set(names))
    return [
        (m, meth) for m in models if m not in TRIVIAL for meth in sorted(found[m] | {PLAIN}, key=method_key)
    ]


def _dataset_name(store: Store, runs: pd.DataFrame) -> str:
    """The dataset in words for a title: the registered dataset's title, else a cross-dataset pair's."""
    ds = store.registered_dataset
    if ds is not None:
        return ds.title
    pairs = sorted({str(t.get("dataset", "")) for t in runs["tags"]} - {""}) if not runs.empty else []
    return ", ".join(p.replace(">", " -> ") for p in pairs) or kind_words(store.data_kind)


def _group_table(store: Store, runs: pd.DataFrame, asked: list, protocol: str, split: str,
                 metric: str) -> Table:  # fmt: skip
    """The table of one (protocol, split)."""
    rows, frame, commands, shown = [], [], [], []
    here = runs[(runs["protocol"] == protocol) & (runs["split"] == split)]
    ref = here.iloc[0] if not here.empty else None
    entries = []
    for model, method in _rows(runs, asked, protocol, split):
        par = find_parent(store, model, protocol, split, method=method)
        plain = find_parent(store, model, protocol, split)
        asks = _asks(store, model, protocol, split, method)
        if par is None and asks:
            commands.append(run_command(store, model, protocol, split, ref=ref, method=method))
        shown.append(par)
        entries.append((model, method, par, plain, NOT_RUN if asks else NOT_ASKED))
    references = [(m, find_parent(store, m, protocol, split)) for m in TRIVIAL]
    references = [(m, p) for m, p in references if p is not None]
    shown += [p for _, p in references]
    flags = consistency(store, shown)
    base = {"protocol": protocol, "split": split, "metric": metric}
    for model, method, par, plain, absent in entries:
        for task in store.tasks:
            c, a = method_cell(store, par, task, metric)
            row = {
                **base, "role": "model", "model": model, "method": method,
                "method_label": "" if par is None else str(par["method_label"]),
                "transductive": bool(par is not None and par["transductive"]), "task": task,
                **cell_fields(c, absent), "diff_vs_plain": math.nan, "p_vs_plain": math.nan,
                "p_vs_plain_holm": math.nan, "test": "", "n_pairs": 0, "min_p": math.nan, "p_why": "",
            }  # fmt: skip
            if method != PLAIN and c is not None:
                pc, b = method_cell(store, plain, task, metric)
                t = versus_plain(store, par, plain, task, metric, a, b)
                row.update(diff_vs_plain=c.mean - pc.mean if pc is not None else math.nan, p_vs_plain=t["p"],
                           test=t["test"], n_pairs=t["n"], min_p=t["min_p"], p_why=t["why"])  # fmt: skip
            rows.append(row)
    for model, par in references:
        for task in store.tasks:
            c, _ = method_cell(store, par, task, metric)
            rows.append({**base, "role": "reference", "model": model, "method": PLAIN, "method_label": "",
                         "transductive": False, "task": task, **cell_fields(c)})  # fmt: skip
    for task in store.tasks:
        chance = {**cell_fields(None), "status": "ok", "mean": task_chance(task)}  # a value, not a run
        rows.append({**base, "role": "chance", "model": "chance", "method": PLAIN, "method_label": "",
                     "transductive": False, "task": task, **chance})  # fmt: skip
    data = pd.DataFrame(rows)
    data["p_vs_plain_holm"] = stats.holm(data["p_vs_plain"].to_numpy(dtype=float))
    n_tests = int(data["p_vs_plain"].notna().sum())
    for model, method, par, _, absent in entries:
        label = model_label(par) if par is not None else (model if method == PLAIN else f"{model} + {method}")
        mark = flags.mark(par)
        out = {"model": label + (f" {mark}" if mark else "")}
        for task in store.tasks:
            r = data[(data["role"] == "model") & (data["model"] == model) & (data["method"] == method)
                     & (data["task"] == task)].iloc[0]  # fmt: skip
            c, _ = method_cell(store, par, task, metric)
            out[task] = short(c, "", absent)
            out[f"Δ {task}"] = DASH if method == PLAIN else signed(r["diff_vs_plain"])
            out[f"p {task}"] = _p_text(r) if method != PLAIN else DASH
        frame.append(out)
    for model, par in references:
        mark = flags.mark(par)
        out = {"model": f"{model} (reference)" + (f" {mark}" if mark else "")}
        for task in store.tasks:
            out |= {
                task: short(method_cell(store, par, task, metric)[0]),
                f"Δ {task}": DASH,
                f"p {task}": DASH,
            }
        frame.append(out)
    out = {"model": "chance (1/k)"}
    for task in store.tasks:
        out |= {task: pct(task_chance(task)), f"Δ {task}": DASH, f"p {task}": DASH}
    frame.append(out)
    cols = ["model", *(c for t in store.tasks for c in (t, f"Δ {t}", f"p {t}"))]
    notes = [
        metric_note(metric),
        "runs whose test subjects are never seen in training (split by "
        f"{split}), full recipe; rows: each model's plain training, then each training method "
        "(bench run --method NAME).",
        "cells: mean ± sd over the test subjects (each subject's folds averaged first; n subjects)"
        + (
            ", or over folds (n folds) where no unit logged the metric per subject (pooled protocols log "
            "accuracy only)."
            if (data["over"] == "folds").any()
            else "."
        )  # fmt: skip
        + " Δ: the method's mean − the same model's plain run's (percentage points).",
        f"p: one-sided paired test, method > plain (W: Wilcoxon signed-rank over test subjects; t: corrected "
        f"resampled t-test over folds), only between runs on the same folds, else '{OTHER_FOLDS}'; "
        f"Holm-corrected over the family of this table's {n_tests} method-vs-plain comparison"
        f"{'' if n_tests == 1 else 's'} (every model, method and task above).",
        *_untestable_note(data),
        "references: "
        + (
            "; ".join(f"{m} (reference): the {m} baseline, training labels only" for m, _ in references)
            + "; "
            if references
            else ""
        )  # fmt: skip
        + "chance (1/k): a uniform random guess among the task's k classes. No constant answer chosen with "
        "the test labels is shown (that is an oracle, not a baseline).",
        *flags.notes,
        *method_notes(p for p in shown if p is not None),
        *data_notes(store),
    ]
    what = f"Subject-independent training methods | {protocol} | split {split} | {_dataset_name(store, here)}"
    return Table(
        "methods",
        title(store, what, metric),
        pd.DataFrame(frame, columns=cols),
        data,
        notes,
        commands,
        priorities={**{f"Δ {t}": 0 for t in store.tasks}, **{f"p {t}": 1 for t in store.tasks}},
    )


def _p_text(r: pd.Series) -> str:
    """A method row's p cell: the Holm-corrected p with its test, § where the design cannot reach α, or
    why there is no test."""
    if math.isfinite(r["p_vs_plain_holm"]):
        text = f"{pval(r['p_vs_plain_holm'])} ({r['test']})"
        return text + (f" {UNTESTABLE}" if math.isfinite(r["min_p"]) and r["min_p"] > stats.ALPHA else "")
    return r["p_why"] if r["p_why"] and r["p_why"] != NO_PLAIN else DASH


def _untestable_note(data: pd.DataFrame) -> list[str]:
    """The § footnote where a comparison cannot reach significance with its test subjects."""
    low = data[data["min_p"].notna() & (data["min_p"] > stats.ALPHA)]
    if low.empty:
        return []
    n = int(low.iloc[0]["n_pairs"])
    return [
        f"{UNTESTABLE}: with n={n} test subjects the smallest one-sided Wilcoxon p is 1/2^{n} = "
        f"{low.iloc[0]['min_p']:.4f} > α={stats.ALPHA}: this design cannot reach significance."
    ]


@register_table(
    "methods",
    help="Subject-independent training methods: each model plain vs with --method, over unseen test "
    "subjects (Wilcoxon, Holm), baselines and chance.",
    in_report=has_methods,
)
def methods_table(store: Store, metric: str = "acc") -> list[Table]:
    """One table per protocol/split whose test subjects are unseen in training and which holds a method's
    run (or a grid asks for one)."""
    runs = _unseen(store)
    asked = _asked_methods(store)
    pairs = _groups(runs, asked)
    if not pairs:
        raise ConfigError(
            f"no runs of a training method (bench run --method NAME) split by {' or '.join(UNSEEN_SPLITS)} "
            f"on {store.label}"
        )
    return [_group_table(store, runs, asked, pr, sp, metric) for pr, sp in pairs]
