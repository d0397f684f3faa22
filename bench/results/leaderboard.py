"""Leaderboard: one ranked table per protocol and split of every finished, leak-free run."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from bench.core.errors import ConfigError
from bench.results.cells import cell
from bench.results.store import Store
from bench.results.table import (
    TUNED,
    Table,
    TableOption,
    consistency,
    data_notes,
    groups,
    method_notes,
    metric_note,
    model_label,
    model_names,
    pct,
    register_table,
    short,
    title,
)


@register_table(
    "leaderboard",
    help="One ranked table per protocol and split of every finished, leak-free run (all variants).",
    options=(
        TableOption(
            "include_tuned",
            "--include-tuned",
            False,
            "Also rank runs with loss weights tuned on data that is test data of other folds",
        ),
    ),
)
def leaderboard_tables(store: Store, metric: str = "acc", include_tuned: bool = False) -> list[Table]:
    pairs = groups(store, leaky=False)
    if not pairs:
        raise ConfigError(f"no leak-free runs on {store.label}; the leaderboard never shows leaky runs")
    order = {m: i for i, m in enumerate(model_names())}
    out = []
    for protocol, split in pairs:
        p = store.parents
        sel = p[(p["protocol"] == protocol) & (p["split"] == split) & (~p["leaky"])]
        n_tuned = int((sel["tuned"] != "").sum())
        if not include_tuned:
            sel = sel[sel["tuned"] == ""]
        if sel.empty:
            continue
        flags = consistency(store, [r for _, r in sel.iterrows()])
        rows = []
        for _, par in sel.iterrows():
            cs = {t: cell(store, par, t, metric) for t in store.tasks}
            means = [c.mean for c in cs.values() if c is not None and math.isfinite(c.mean)]
            rows.append(
                {
                    "model": par["model"],
                    "method": par["method"],
                    "label": model_label(par),
                    "variant": par["variant"],
                    "protocol": protocol,
                    "split": split,
                    "metric": metric,
                    **{f"{t}_mean": cs[t].mean if cs[t] else math.nan for t in store.tasks},
                    **{f"{t}_std": cs[t].summary.std if cs[t] else math.nan for t in store.tasks},
                    "mean": float(np.mean(means)) if means else math.nan,
                    "n_folds": par["n_folds"],
                    "n_subjects": par["n_subjects"],
                    "tuned": par["tuned"],
                    "data_kind": par["data_kind"],
                    "fingerprint": par["fingerprint"],
                    "code_version": par["code_version"],
                    "run_id": par["run_id"],
                    "_cells": cs,
                    "_mark": flags.mark(par),
                }
            )
        rows.sort(
            key=lambda r: (
                -r["mean"] if math.isfinite(r["mean"]) else math.inf,
                order.get(r["model"], 99),
                r["model"],
                r["variant"],
                r["method"] != "none",
                r["method"],
            )
        )
        frame = []
        for rank, r in enumerate(rows, start=1):
            r["rank"] = rank
            frame.append(
                {
                    "rank": str(rank),
                    "model": r["label"] + (f" {r['_mark']}" if r["_mark"] else ""),
                    "variant": r["variant"],
                    **{t: short(r["_cells"][t]) for t in store.tasks},
                    "mean": pct(r["mean"]),
                    "folds": str(r["n_folds"]),
                    "subjects": str(r["n_subjects"]),
                    "code": r["code_version"],
                }
            )
        data = pd.DataFrame([{k: v for k, v in r.items() if not k.startswith("_")} for r in rows])
        hidden = (
            []
            if include_tuned or not n_tuned
            else [
                f"{n_tuned} run(s) with tuned loss weights not ranked (optimistic); "
                "--include-tuned shows them."
            ]
        )
        out.append(
            Table(
                "leaderboard",
                title(store, f"Leaderboard | {protocol} | split {split}", metric),
                pd.DataFrame(frame),
                data,
                [
                    metric_note(metric),
                    f"ranked by the mean of {_tasks_words(store.tasks)}; leaky runs are never listed.",
                    *hidden,
                    *flags.notes,
                    *method_notes(r for _, r in sel.iterrows()),
                    *data_notes(store),
                ],
                priorities={"code": 0, "subjects": 1, "folds": 2},
            )
        )
    if not out:
        raise ConfigError(
            f"only runs with tuned loss weights on {store.label}; add --include-tuned ({TUNED})"
        )
    return out


def _tasks_words(tasks: tuple[str, ...]) -> str:
    """The tasks a rank averages, in words: ``valence and arousal``, ``valence3``."""
    return " and ".join([", ".join(tasks[:-1]), tasks[-1]]) if len(tasks) > 1 else tasks[0]
