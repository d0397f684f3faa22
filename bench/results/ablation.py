"""Ablation table: each variant of one model vs its full recipe, with the paper's chart beside."""

from __future__ import annotations

import math

import pandas as pd

from bench.config.ablation import VARIANTS
from bench.core import stats
from bench.core.errors import ConfigError
from bench.results.cells import METRIC_COLUMNS, cell, cell_fields, diff, paired_test
from bench.results.store import Store, find_parent
from bench.results.table import (
    DASH,
    REFERENCE_MODEL,
    Table,
    TableOption,
    consistency,
    data_notes,
    metric_note,
    missing,
    pval,
    register_table,
    run_command,
    short,
    signed,
    title,
)

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
"""MT-CNN ablation, read off the authors' chart (±0.1); balancing is not reported."""


@register_table(
    "ablation",
    help="Each ablation variant vs the full model, with the paper's values beside.",
    options=(
        TableOption("model", "--model", REFERENCE_MODEL, "Ablated model"),
        TableOption("protocol", "--protocol", "whole-set", "Protocol"),
        TableOption("split", "--split", "trial", "Split"),
    ),
)
def ablation_table(
    store: Store,
    metric: str = "acc",
    model: str = REFERENCE_MODEL,
    protocol: str = "whole-set",
    split: str = "trial",
) -> list[Table]:
    p = store.parents
    sel = p[
        (p["model"] == model) & (p["protocol"] == protocol) & (p["split"] == split) & (p["audit"] == "none")
    ]
    variants = list(VARIANTS) + sorted(set(sel["variant"]) - set(VARIANTS))
    full = find_parent(store, model, protocol, split)
    ref = full if full is not None else find_parent(store, REFERENCE_MODEL, protocol, split)
    pars = {v: find_parent(store, model, protocol, split, variant=v) for v in variants}
    if all(par is None for par in pars.values()) and not any(
        store.asks(model, protocol, split, variant=v) for v in variants
    ):  # a grid's report whose grid asks for no ablation (the SEED family's): nothing to show
        raise ConfigError(f"no {model} runs under {protocol}/{split} here, and none asked for")
    flags = consistency(store, pars.values())
    rows, frame, commands = [], [], []
    for v, par in pars.items():
        absent = missing(store, model, protocol, split, variant=v)
        if par is None and store.asks(model, protocol, split, variant=v):
            commands.append(run_command(store, model, protocol, split, variant=v, ref=ref))
        for task in store.tasks:
            c, cf = cell(store, par, task, metric), cell(store, full, task, metric)
            test = (
                paired_test(store, par, full, task, metric)
                if (par is not None and full is not None and v != "full")
                else {"p": math.nan, "test": "", "why": ""}
            )
            paper = PAPER_ABLATION.get(v, {}).get(task) if model == REFERENCE_MODEL else None
            paper_full = PAPER_ABLATION["full"].get(task)  # None: a task the paper did not run
            rows.append(
                {
                    "model": model,
                    "protocol": protocol,
                    "split": split,
                    "variant": v,
                    "task": task,
                    "metric": metric,
                    **cell_fields(c, absent),
                    "diff_vs_full": diff(c, cf),
                    "p_vs_full": test["p"],
                    "test": test["test"],
                    "p_why": test["why"],
                    "p_vs_full_holm": math.nan,
                    "paper": paper,
                    "paper_diff": None
                    if paper is None or paper_full is None
                    else round(paper - paper_full, 2),
                }
            )
            frame.append(
                {
                    "variant": v,
                    "task": task,
                    METRIC_COLUMNS[metric]: short(c, flags.mark(par), absent),
                    "Δ vs full": signed(diff(c, cf)) if v != "full" else "",
                    "p vs full": test["why"],
                    "paper": DASH if paper is None else f"{paper:.2f}",
                    "paper Δ": ""
                    if v == "full" or paper is None or paper_full is None
                    else signed((paper - paper_full) / 100, 2),
                }
            )
    data = pd.DataFrame(rows)
    data["p_vs_full_holm"] = stats.holm(data["p_vs_full"].to_numpy())
    fr = pd.DataFrame(frame)
    for i, r in data.iterrows():  # frame and data rows are in the same order
        if math.isfinite(r["p_vs_full_holm"]):
            fr.at[i, "p vs full"] = f"{pval(r['p_vs_full_holm'])} ({r['test']})"
    return [
        Table(
            "ablation",
            title(
                store,
                f"Ablation of {model} | {protocol} | split {split}"
                + (" (LEAKY)" if split == "segment" else ""),
                metric,
            ),
            fr,
            data,
            [
                metric_note(metric),
                f"{METRIC_COLUMNS[metric]}: mean ± std (n); Δ: change against the full model (percentage "
                "points); p: paired test vs the full model on the same folds, Holm-corrected (t: corrected "
                "resampled t-test, W: Wilcoxon).",
                "paper: Rudakov et al. 2021 ablation chart (±0.1, leaky segment-level folds); balancing not "
                "reported.",
                *flags.notes,
                *data_notes(store),
            ],
            commands,
            priorities={"paper Δ": 0, "paper": 1, "p vs full": 2},
        )
    ]
