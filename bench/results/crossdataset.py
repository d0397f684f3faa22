"""Cross-dataset matrix: per model, test accuracy of training on one dataset (rows) and testing on
another (columns), with the trivial references of the same pair and a paired test against the stronger.

The majority baseline answers the TRAINING dataset's majority class, which can be the test dataset's
minority class: then the other constant answer scores higher, and a model that learnt nothing but that
constant would beat the baseline. So the star tests a model against the stronger of the two constants
on each pair, the other one computed per test subject from the baseline's own scores (it is right exactly
where the baseline is wrong). Picking the better constant uses the test labels: an oracle reference, not
a model, and labelled so.

Every pair is its own data set (the fingerprint of both datasets' features), so this table reads every
cross-dataset data set of the chosen kind (real or synthetic, never both) and places each run by the
pair it was made on (its ``bench.dataset`` tag, ``train>test``). Statistics run over the test dataset's
subjects (one fold: all of the training dataset against all of the test dataset).
"""

from __future__ import annotations

import math

import pandas as pd

from bench.core.errors import ConfigError
from bench.core.tasks import n_classes, task_names
from bench.data.datasets import dataset_names, get_dataset, pair_tasks
from bench.results.cells import cell, cell_fields, paired_test, subject_scores, subjects_test
from bench.results.commands import run_command
from bench.results.naming import arg_value
from bench.results.store import Store, list_datasets, load_stores
from bench.results.table import (
    DASH,
    UNTESTABLE,
    Table,
    TableOption,
    consistency,
    data_notes,
    metric_note,
    ordered_models,
    pct,
    register_table,
    short,
)
from protocols.cross_dataset import CROSS_DATASET

PROTOCOL = CROSS_DATASET
"""The protocol whose runs this table shows (their name, split and experiment kind are its own)."""
KIND = str(PROTOCOL.experiment_kind)
BASELINE = "majority"
ALPHA = 0.05
ORACLE = "oracle const"
"""The label of the better constant answer, chosen with the test labels (not a model)."""


def _pair(parent: pd.Series) -> tuple[str, str] | None:
    train, sep, test = str(parent["tags"].get("dataset", "")).partition(">")
    return (train, test) if sep else None


def cross_store(store: Store) -> Store:
    """One store of every cross-dataset data set of ``store``'s kind, each run tagged with its pair; a
    pair run on several data sets (other twins or feature settings) keeps the newest runs' data set."""
    if store.data_kind.removesuffix("-synthetic") != KIND:
        raise ConfigError(
            f"the cross-dataset table reads cross-dataset runs, not {store.label}; pass --data "
            f"{KIND}-synthetic (twins) or --data {KIND} (real data)"
        )
    stores = load_stores(store.tracking_uri, store.data_kind, store.where or None)
    parents = pd.concat([s.parents for s in stores], ignore_index=True)
    parents = parents[parents["protocol"] == PROTOCOL.name].copy()
    parents["pair"] = [_pair(p) for _, p in parents.iterrows()]
    parents = parents[parents["pair"].notna()]
    # the data set each pair is shown on: the one of its newest run
    newest = parents.sort_values("start_time", ascending=False).drop_duplicates("pair")
    keep = dict(zip(newest["pair"], newest["fingerprint"], strict=True))
    shown = parents["fingerprint"] == parents["pair"].map(keep)
    dropped, parents = parents[~shown], parents[shown]
    ids = set(parents["run_id"])
    runs = pd.concat([s.runs for s in stores], ignore_index=True)
    units = pd.concat([s.units for s in stores], ignore_index=True)
    pairs = ", ".join(sorted({f"{a}>{b}" for a, b in dropped["pair"]}))
    return Store(
        data_kind=store.data_kind,
        fingerprint="*",
        tracking_uri=store.tracking_uri,
        runs=runs[runs["fingerprint"].isin(set(keep.values()))],
        parents=parents.reset_index(drop=True),
        units=units[units["parent_id"].isin(ids)],
        chosen=f"{len(dropped)} run(s) of pairs also run on newer data are not shown ({pairs})"
        if pairs
        else "",
        where=store.where,
        untagged=sum(s.untagged for s in stores),
        conditions=store.conditions,
    )


def default_kind(tracking_uri: str | None) -> str:
    """The cross-dataset kind a table shows without ``--data``: the synthetic twins' if they have runs
    (as every table's default prefers synthetic runs), else the real data's."""
    synthetic = f"{KIND}-synthetic"
    try:
        list_datasets(tracking_uri, synthetic)
    except ConfigError:
        return KIND
    return synthetic


def _title(name: str) -> str:
    return get_dataset(name).title


@register_table(
    "cross-dataset",
    help="Per model: train on one dataset (rows) x test on another (columns), with the majority baseline.",
    options=(TableOption("model", "--model", None, "Only this model (default: every model with runs)"),),
    across_pairs=True,
)
def cross_dataset_tables(store: Store, metric: str = "acc", model: str | None = None) -> list[Table]:
    st = cross_store(store)
    p = st.parents
    if p.empty:
        raise ConfigError(f"no finished cross-dataset runs in {store.tracking_uri}")
    models = [m for m in ordered_models(st, all_models=False) if m != BASELINE or model == BASELINE]
    if model is not None:
        if model not in set(p["model"]):
            raise ConfigError(
                f"{arg_value('model', model)}: no cross-dataset runs; runs exist for {', '.join(models)}"
            )
        models = [model]
    if not models:  # a table of no model would print nothing at all
        raise ConfigError(
            f"only the {BASELINE} baseline has cross-dataset runs in {store.tracking_uri}: the table sets a "
            f"model against it; run one on a pair (bench run --model NAME --protocol {PROTOCOL.name} ...), "
            f"or pass --model {BASELINE} for the baseline alone"
        )
    order = {n: i for i, n in enumerate(dataset_names())}
    trains = sorted({a for a, _ in p["pair"]}, key=order.get)
    tests = sorted({b for _, b in p["pair"]}, key=order.get)

    def shown(m: str, pair: tuple[str, str]) -> pd.Series | None:
        hit = p[(p["model"] == m) & (p["pair"] == pair) & (p["variant"] == "full") & (~p["leaky"])]
        return None if hit.empty else hit.iloc[0]

    flags = consistency(st, [shown(m, (a, b)) for m in [*models, BASELINE] for a in trains for b in tests])
    out = []
    for m in models:
        frame, rows = [], []
        for a in trains:
            for task in row_tasks(st, a, tests):
                line = {"train": _title(a), "task": task}
                for b in tests:
                    if a != b and task not in pair_tasks(a, b):
                        line[_title(b)] = DASH  # the pair offers no such task
                        continue
                    par, base = shown(m, (a, b)), shown(BASELINE, (a, b))
                    c, cb = cell(st, par, task, metric), cell(st, base, task, metric)
                    test = {"p": math.nan, "why": "no majority run"}
                    ref = {"p": math.nan, "why": "no majority run"}
                    name, best = "", math.nan
                    if base is not None and cb is not None:
                        name, scores = stronger_constant(st, base, task, metric)
                        best = float(scores.mean())
                        if par is not None and c is not None:
                            test = paired_test(st, par, base, task, metric, alternative="greater")
                            model_scores = subject_scores(st, par, task, metric)
                            ref = subjects_test(model_scores, scores, alternative="greater")
                    above = math.isfinite(ref["p"]) and ref["p"] < ALPHA
                    untestable = ref.get("min_p", 0.0) > ALPHA  # too few test subjects for any p < alpha
                    mark = flags.mark(par) + ("*" if above else UNTESTABLE if untestable else "")
                    line[_title(b)] = (
                        DASH
                        if a == b
                        else short(c, mark)
                        + (f" | maj {pct(cb.mean)}" if c and cb else "")
                        + (f", {ORACLE} {pct(best)}" if c and cb and name != "majority" else "")
                    )
                    rows.append(
                        {
                            "model": m, "train": a, "test": b, "task": task, "metric": metric,
                            **cell_fields(c),
                            "majority": cb.mean if cb is not None else math.nan,
                            "best_constant": best,
                            "reference": name,
                            "p_vs_reference": ref["p"],
                            "p_vs_majority": test["p"], "p_note": ref.get("why", ""),
                            "data_fingerprint": par["fingerprint"] if par is not None else "",
                        }
                    )  # fmt: skip
                frame.append(line)
        cols = ["train", "task", *[_title(b) for b in tests]]
        out.append(
            Table(
                "cross-dataset",
                f"Cross-dataset {metric}: {m}, train (rows) x test (columns) | {_kind(st)}",
                pd.DataFrame(frame, columns=cols),
                pd.DataFrame(rows),
                [
                    metric_note(metric),
                    "Each cell: mean ± sd over the test dataset's subjects (n = subjects), one model "
                    "trained on every subject of the row's dataset, on the channels both share; `maj`: the "
                    "majority baseline on the same pair (it answers the training dataset's majority class, "
                    f"which may be the test dataset's minority); `{ORACLE}`: the better of the two constant "
                    "answers on the test dataset, chosen with the TEST labels: an oracle reference, not a "
                    "model; * = above the stronger of the two (one-sided Wilcoxon over subjects against the "
                    f"stronger constant's per-subject scores, p < {ALPHA}); {UNTESTABLE} = too few test "
                    f"subjects for p < {ALPHA} (the smallest p with n subjects is 1/2^n)."
                    + " Each dataset is binarised at its own threshold (DEAP, AMIGOS, MAHNOB-HCI: > 5 of "
                    "1-9; DREAMER: > 3 of 1-5)."
                    + f" {DASH}: the row's dataset itself, or a pair that shares no such task."
                    + _oracle_note(frame)
                    + _harmonised_note(trains, tests),
                    *([st.chosen] if st.chosen else []),
                    *flags.notes,
                    *data_notes(st),
                ],
                [
                    _command(st, m, (a, b))
                    for a in trains
                    for b in tests
                    if a != b
                    and shown(m, (a, b)) is None
                    and st.asks(m, PROTOCOL.name, PROTOCOL.default_split)
                ],
            )
        )
    return out


def row_tasks(store: Store, train: str, tests: list[str]) -> list[str]:
    """The task rows of a training dataset: the store's tasks that a pair of it with one of the test
    columns offers (DEAP's valence and arousal; SEED's valence3, and valence where a column takes it)."""
    offered = {t for b in tests if b != train for t in pair_tasks(train, b)}
    return [t for t in store.tasks if t in offered]


def stronger_constant(store: Store, base: pd.Series, task: str, metric: str) -> tuple[str, pd.Series]:
    """The stronger constant answer on a pair, and its scores per test subject: ``majority`` (the
    baseline run ``base``, the training dataset's majority class) or ``oracle constant`` (the other class,
    better on the test labels). The other constant is right exactly where the baseline is wrong: its
    (trial, balanced) accuracy is 1 - the baseline's per subject; its macro-F1 is q / (1 + q) with q the
    share of its class (1 - the baseline's window accuracy); any constant's AUC is the same.

    That holds for two classes only: with k > 2 the best other constant needs each test subject's class
    shares, which runs do not record, so the majority baseline is the reference (and no oracle is
    shown)."""
    maj = subject_scores(store, base, task, metric)
    if metric == "auc" or n_classes(task) > 2:
        return "majority", maj
    if metric == "f1":
        q = 1.0 - subject_scores(store, base, task, "acc")
        other = q / (1.0 + q)
    else:
        other = 1.0 - maj
    return ("majority", maj) if maj.mean() >= other.mean() else ("oracle constant", other)


def _command(st: Store, model: str, pair: tuple[str, str]) -> str:
    """The run that fills a missing pair: the scale, folders and ``where`` settings of a run shown on the
    same pair (else of any shown run, with the pair's datasets from their variables or twins)."""
    p = st.parents
    same = p[p["pair"] == pair]
    ref = same.iloc[0] if not same.empty else p.iloc[0]
    data = None
    if same.empty:
        data = ["--dataset", pair[0], "--test", pair[1]] + (["--synthetic"] if _synthetic(st) else [])
    return run_command(st, model, PROTOCOL.name, PROTOCOL.default_split, ref=ref, data=data)


def _oracle_note(frame: list[dict]) -> str:
    """Where a task of more than two classes is shown: its reference is the majority baseline alone."""
    many = sorted({r["task"] for r in frame if r["task"] in task_names() and n_classes(r["task"]) > 2})
    if not many:
        return ""
    return (
        f" {', '.join(many)}: more than two classes, so the reference is the majority baseline (the best "
        "other constant would need each test subject's class shares, which runs do not record)."
    )


def _harmonised_note(trains: list[str], tests: list[str]) -> str:
    """How a task a dataset derives from its own labels is read, for each dataset of the table that
    derives one (SEED's and FACED's binary valence)."""
    said = []
    for name in dict.fromkeys([*trains, *tests]):
        said += [f"{_title(name)}: {d.describe()}" for d in get_dataset(name).derived_tasks]
    return f" Harmonised labels: {'; '.join(said)}." if said else ""


def _synthetic(store: Store) -> bool:
    return store.data_kind.endswith("-synthetic")


def _kind(store: Store) -> str:
    return "synthetic twins" if _synthetic(store) else "real data"
