"""Model comparison: models x (protocol, split) x task, leak-free runs of the full models only."""

from __future__ import annotations

import math

import pandas as pd

from bench.core import stats
from bench.core.tasks import get_task
from bench.results.cells import OTHER_FOLDS, binomial_chance, cell, cell_fields, paired_test, task_chance
from bench.results.store import Store, find_parent
from bench.results.table import (
    BELOW_CHANCE,
    DASH,
    NOT_ASKED,
    NOT_RUN,
    REFERENCE_MODEL,
    TRIVIAL,
    UNTESTABLE,
    Table,
    consistency,
    data_notes,
    groups,
    metric_note,
    model_names,
    ordered_models,
    pct,
    pval,
    register_table,
    reported,
    run_command,
    title,
)


def _chance(store: Store, par: pd.Series, c, trivial: dict, task: str, metric: str) -> dict:
    """Chance reference of one cell: a one-sided paired test vs the better trivial baseline run on the
    same folds, else the binomial level over the run's independent test units."""
    out = {
        "chance_model": "",
        "p_vs_chance": math.nan,
        "chance_min_p": math.nan,
        "chance_binomial": binomial_chance(c),
        "chance_n": c.n_independent,
        "chance_unit": c.independent_unit,
    }
    cells = {
        m: cell(store, r, task, metric)
        for m, r in trivial.items()
        if r is not None and r["folds_fp"] == par["folds_fp"]
    }
    cells = {m: x for m, x in cells.items() if x is not None}
    if cells:
        best = max(sorted(cells), key=lambda m: cells[m].mean)
        t = paired_test(store, par, trivial[best], task, metric, alternative="greater")
        out.update(chance_model=best, p_vs_chance=t["p"], chance_min_p=t["min_p"])
    return out


def _verdict(r: pd.Series) -> object:
    """True/False: above chance or not; "untestable": the design cannot reach significance."""
    if math.isfinite(r["p_vs_chance_holm"]):
        if math.isfinite(r["chance_min_p"]) and r["chance_min_p"] > stats.ALPHA:
            return "untestable"
        return bool(r["p_vs_chance_holm"] < stats.ALPHA)
    if math.isfinite(r["chance_binomial"]):
        if r["chance_binomial"] >= 1.0:
            return "untestable"
        return bool(r["mean"] > r["chance_binomial"])
    return None


def _text(r: pd.Series, marker: str) -> str:
    if r["status"] != "ok":
        return DASH if r["status"] == NOT_ASKED else NOT_RUN
    text = pct(r["mean"])
    if math.isfinite(r["std"]):
        text += f" ± {pct(r['std'])}"
    if math.isfinite(r["ci_low"]):
        text += f" [{pct(r['ci_low'])}, {pct(r['ci_high'])}]"
    text += f" n={int(r['n'])}"
    if math.isfinite(r["p_vs_mtcnn_holm"]):
        text += f" {pval(r['p_vs_mtcnn_holm'])} ({r['test']})"
    elif r["p_vs_mtcnn_why"]:
        text += f" p {r['p_vs_mtcnn_why']}"
    if r["model"] in TRIVIAL:
        text += " (chance)"
    elif r["above_chance"] == "untestable":
        text += f" {UNTESTABLE}"
    elif r["above_chance"] is False:
        text += f" {BELOW_CHANCE}"
    return text + (f" {marker}" if marker else "")


@register_table(
    "comparison",
    help="Models x protocols/splits: mean ± std [95% CI] n, p vs MT-CNN, chance, paper-reported.",
    plot=True,
)
def comparison_table(store: Store, metric: str = "acc") -> list[Table]:
    """Leak-free runs of the full model recipe; the paper-reported number is its own column."""
    pairs = groups(store, leaky=False) or [("whole-set", "trial")]
    models = ordered_models(store, all_models=True)
    rows, commands, shown = [], [], []
    for protocol, split in pairs:
        ref_row = find_parent(store, REFERENCE_MODEL, protocol, split)
        trivial = {m: find_parent(store, m, protocol, split) for m in TRIVIAL}
        col_ref = next((r for r in [ref_row, *trivial.values()] if r is not None), None)
        if col_ref is None:
            col_ref = next(
                (r for m in models if (r := find_parent(store, m, protocol, split)) is not None), None
            )
        for model in models:
            par = find_parent(store, model, protocol, split)
            shown.append(par)
            asked = store.asks(model, protocol, split)
            if par is None and asked:
                commands.append(run_command(store, model, protocol, split, ref=col_ref))
            for task in store.tasks:
                c = cell(store, par, task, metric)
                row = {
                    "model": model,
                    "protocol": protocol,
                    "split": split,
                    "task": task,
                    "metric": metric,
                    **cell_fields(c, NOT_RUN if asked else NOT_ASKED),
                    "p_vs_mtcnn": math.nan,
                    "p_vs_mtcnn_holm": math.nan,
                    "test": "",
                    "p_vs_mtcnn_why": "",
                    "chance_model": "",
                    "p_vs_chance": math.nan,
                    "p_vs_chance_holm": math.nan,
                    "chance_min_p": math.nan,
                    "chance_binomial": math.nan,
                    "chance_n": 0,
                    "chance_unit": "",
                    "above_chance": None,
                    "reported": reported(model).get(task),
                }
                if c is not None:
                    if model != REFERENCE_MODEL and ref_row is not None:
                        t = paired_test(store, par, ref_row, task, metric)
                        row.update(p_vs_mtcnn=t["p"], test=t["test"], p_vs_mtcnn_why=t["why"])
                    if model not in TRIVIAL:
                        row.update(_chance(store, par, c, trivial, task, metric))
                rows.append(row)
    data = pd.DataFrame(rows)
    for _, idx in data.groupby(["protocol", "split"], sort=False).groups.items():
        data.loc[idx, "p_vs_mtcnn_holm"] = stats.holm(data.loc[idx, "p_vs_mtcnn"].to_numpy())
        data.loc[idx, "p_vs_chance_holm"] = stats.holm(data.loc[idx, "p_vs_chance"].to_numpy())
    data["above_chance"] = data["above_chance"].astype(object)
    for i, r in data.iterrows():
        if r["status"] == "ok" and r["model"] not in TRIVIAL:
            data.at[i, "above_chance"] = _verdict(r)
    flags = consistency(store, shown)
    # the papers' numbers are DEAP's valence and arousal: no column where no task of the store has one
    show_reported = any(reported(m).get(t) is not None for m in model_names() for t in store.tasks)
    frame_rows = []
    for model in models:
        out = {"model": model}
        for protocol, split in pairs:
            par = find_parent(store, model, protocol, split)
            for task in store.tasks:
                r = data[
                    (data["model"] == model)
                    & (data["protocol"] == protocol)
                    & (data["split"] == split)
                    & (data["task"] == task)
                ].iloc[0]
                out[f"{protocol}/{split} {task}"] = _text(r, flags.mark(par))
        for task in store.tasks if show_reported else ():
            rep = reported(model).get(task)
            out[f"reported {task}"] = DASH if rep is None else f"{rep:.2f}"
        frame_rows.append(out)
    notes = [
        metric_note(metric),
        "cells: mean ± std [95% CI, clipped to 0-100] (n folds: CI with the corrected resampled variance, "
        "Nadeau & Bengio 2003; or n subjects for per-subject protocols, each subject's folds averaged "
        f"first: t CI); no CI below n={stats.MIN_CI_N}, where a t interval spans nearly 0-100.",
        "p: paired test vs MT-CNN, Holm-corrected within a protocol/split (t: corrected resampled t-test "
        f"over shared folds; W: Wilcoxon signed-rank over subjects); only between runs on the same folds, "
        f"else '{OTHER_FOLDS}'.",
        f"{BELOW_CHANCE}: not significantly above chance (one-sided paired test vs the better trivial "
        "baseline on the same folds, Holm; without one, the binomial adjusted chance level over the "
        "independent test units, Combrisson & Jerbi 2015); (chance): a trivial baseline.",
        *_chance_notes(data),
        *(
            [
                "reported: the paper's number (DEAP, its own protocol, usually leaky segment-level folds), "
                "never ours."
            ]
            if show_reported
            else []
        ),
        *flags.notes,
        *data_notes(store),
    ]
    for model in models if show_reported else ():
        note = reported(model).get("note")
        if note:
            notes.append(f"reported {model}: {note}")
    # a narrow terminal drops the reported columns first, then the later protocols' columns
    priorities = {f"reported {t}": 0 for t in store.tasks if show_reported}
    for i, (protocol, split) in enumerate(pairs[1:], start=1):
        priorities.update({f"{protocol}/{split} {t}": len(pairs) - i for t in store.tasks})
    return [
        Table(
            "comparison",
            title(store, "Model comparison (leak-free splits)", metric),
            pd.DataFrame(frame_rows),
            data,
            notes,
            commands,
            priorities=priorities,
        )
    ]


def _level(r: pd.Series) -> str:
    """The binomial adjusted chance level of a row, in words."""
    return (
        f"binomial adjusted level {pct(r['chance_binomial'])} % over n={int(r['chance_n'])} independent "
        f"test {r['chance_unit']}."
    )


def _chance_notes(data: pd.DataFrame) -> list[str]:
    notes = []
    untestable = data[data["above_chance"].astype(str) == "untestable"]
    if not untestable.empty:
        r = untestable.iloc[0]
        why = (
            f"the smallest attainable p is {r['chance_min_p']:.4f} > α={stats.ALPHA} "
            f"(exact Wilcoxon, n={int(r['n'])} subjects)"
            if math.isfinite(r["chance_min_p"])
            else f"the binomial chance level over n={int(r['chance_n'])} {r['chance_unit']} is 100 %"
        )
        notes.append(f"{UNTESTABLE}: this design cannot reach significance against chance: {why}.")
    binom = data[data["chance_model"].eq("") & data["chance_binomial"].notna() & data["status"].eq("ok")]
    for (pr, sp), g in binom.groupby(["protocol", "split"], sort=False):
        binary = g[g["task"].map(task_chance) == 0.5]
        if not binary.empty:  # valence and arousal: one line, as it always read
            notes.append(
                f"chance {pr}/{sp} (no trivial baseline on the same folds): {_level(binary.iloc[0])}"
            )
        for task, gt in g[g["task"].map(task_chance) != 0.5].groupby("task", sort=False):
            notes.append(
                f"chance {pr}/{sp} {task} ({get_task(task).n_classes} classes: a random guess scores "
                f"{pct(task_chance(task))} %; no trivial baseline on the same folds): {_level(gt.iloc[0])}"
            )
    return notes
