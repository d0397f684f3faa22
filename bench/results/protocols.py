"""Protocol tables: every registered protocol side by side (the paper's 64 models vs 2), and the
segment (leaky) vs trial split per protocol: the leakage inflation."""

from __future__ import annotations

import math

import pandas as pd

from bench.results.cells import cell, cell_fields, diff, ratio
from bench.results.store import Store, find_parent
from bench.results.table import (
    DASH,
    Table,
    TableOption,
    consistency,
    data_notes,
    metric_note,
    missing,
    ordered_models,
    protocols_with,
    register_table,
    run_command,
    short,
    signed,
    title,
)

PAPER_PROTOCOLS: dict[str, dict[str, float]] = {
    "subject-specific": {"valence": 93.93, "arousal": 94.21},
    "whole-set": {"valence": 88.92, "arousal": 90.15},
}
"""The seed paper's 4D-CRNN reproduction: 64 separate models vs 2 models (its Table A)."""
PAPER_MODELS = "32 subjects x 2 tasks = 64 subject-specific models vs 2 whole-set models"
"""What the paper's row compares (DEAP; 4D-CRNN is single-task): the paper's count, never our data's."""
PAPER_PAIR = ("subject-specific", "whole-set")
DELTA = "Δ whole−subject"


def _what_is_trained(pars: list[pd.Series | None]) -> str:
    """The protocols' populations in words, with the number of subjects of the runs shown (a subject-
    specific run trains one model per subject, on as many subjects as its data has)."""
    counts = sorted({int(p["n_subjects"]) for p in pars if p is not None and p["per_subject"]} - {0})
    n = f", {'/'.join(map(str, counts))} subjects" if counts else ""
    return f"subject-specific: a model per subject{n}; whole-set: all subjects pooled"


def _by_protocol(store: Store, split: str, metric: str) -> Table:
    protocols = protocols_with(split, store=store)
    models = ordered_models(store, all_models=False)
    pairs = [(m, {pr: find_parent(store, m, pr, split) for pr in protocols}) for m in models]
    flags = consistency(store, [p for _, pars in pairs for p in pars.values()])
    rows, frame, commands = [], [], []
    has_delta = all(pr in protocols for pr in PAPER_PAIR)
    for model, pars in pairs:
        for pr, par in pars.items():
            if par is None and store.asks(model, pr, split):
                commands.append(run_command(store, model, pr, split))
        for task in store.tasks:
            cs = {pr: cell(store, par, task, metric) for pr, par in pars.items()}
            d = diff(cs.get("whole-set"), cs.get("subject-specific")) if has_delta else math.nan
            out = {"model": model, "task": task}
            for pr in protocols:
                rows.append(
                    {
                        "section": "A",
                        "model": model,
                        "protocol": pr,
                        "split": split,
                        "task": task,
                        "metric": metric,
                        **cell_fields(cs[pr], missing(store, model, pr, split)),
                        "diff_whole_minus_subject": d,
                        "ratio": math.nan,
                    }
                )
                out[pr] = short(cs[pr], flags.mark(pars[pr]), missing(store, model, pr, split))
            if has_delta:
                out[DELTA] = signed(d)
            frame.append(out)
    reported = (
        [t for t in store.tasks if all(t in PAPER_PROTOCOLS[pr] for pr in PAPER_PAIR)] if has_delta else []
    )
    if reported:  # the paper's valence and arousal; a categorical dataset's tasks have no paper row
        for task in reported:
            a, b = (PAPER_PROTOCOLS[pr][task] for pr in PAPER_PAIR)
            frame.append(
                {
                    "model": "4dcrnn (paper, reported)",
                    "task": task,
                    **{pr: DASH for pr in protocols},
                    "subject-specific": f"{a:.2f}",
                    "whole-set": f"{b:.2f}",
                    DELTA: signed((b - a) / 100, 2),
                }
            )
    return Table(
        "protocols",
        title(
            store,
            f"Protocols side by side ({_what_is_trained([p for _, ps in pairs for p in ps.values()])}), "
            f"split {split}",
            metric,
        ),
        pd.DataFrame(frame, columns=["model", "task", *protocols, *([DELTA] if has_delta else [])]),
        pd.DataFrame(rows),
        [
            metric_note(metric),
            "cells: mean ± std (n subjects for per-subject protocols, n folds for pooled ones); Δ in "
            "percentage points.",
            *(
                [
                    f"paper row: the seed paper's 4D-CRNN reproduction (DEAP, {PAPER_MODELS}, segment-level "
                    "folds), not ours."
                ]
                if reported
                else []
            ),
            *flags.notes,
            *data_notes(store),
        ],
        commands,
        priorities={pr: 0 for pr in protocols if pr not in PAPER_PAIR},
    )


def _by_split(store: Store, metric: str) -> Table:
    models = ordered_models(store, all_models=False)
    rows, frame, commands, shown = [], [], [], []
    for model in models:
        for pr in protocols_with("trial", "segment"):
            tr, sg = find_parent(store, model, pr, "trial"), find_parent(store, model, pr, "segment")
            if tr is None and sg is None:
                continue
            shown += [tr, sg]
            for par, sp in ((tr, "trial"), (sg, "segment")):
                if par is None and store.asks(model, pr, sp):
                    commands.append(run_command(store, model, pr, sp, ref=tr if tr is not None else sg))
            for task in store.tasks:
                ct, cs = cell(store, tr, task, metric), cell(store, sg, task, metric)
                d, q = diff(cs, ct), ratio(cs, ct)
                for c, sp in ((ct, "trial"), (cs, "segment")):
                    rows.append(
                        {
                            "section": "B",
                            "model": model,
                            "protocol": pr,
                            "split": sp,
                            "task": task,
                            "metric": metric,
                            **cell_fields(c, missing(store, model, pr, sp)),
                            "diff_segment_minus_trial": d,
                            "ratio": q,
                        }
                    )
                frame.append(
                    {
                        "model": model,
                        "protocol": pr,
                        "task": task,
                        "trial": (ct, tr, missing(store, model, pr, "trial")),
                        "segment (leaky)": (cs, sg, missing(store, model, pr, "segment")),
                        "Δ": signed(d),
                        "ratio": DASH if not math.isfinite(q) else f"{q:.3f}",
                    }
                )
    flags = consistency(store, shown)
    for out in frame:
        for col in ("trial", "segment (leaky)"):
            c, par, absent = out[col]
            out[col] = short(c, flags.mark(par), absent)
    return Table(
        "protocols-split",
        title(store, "Split: segment (leaky) vs trial, leakage inflation", metric),
        pd.DataFrame(frame, columns=["model", "protocol", "task", "trial", "segment (leaky)", "Δ", "ratio"]),
        pd.DataFrame(rows),
        [
            "Δ = segment − trial (percentage points); ratio = segment / trial.",
            *flags.notes,
            *data_notes(store),
        ],
        commands,
        priorities={"ratio": 0, "Δ": 1},
    )


@register_table(
    "protocols",
    help="Every protocol side by side per model (with the paper's row); segment vs trial inflation.",
    options=(TableOption("split", "--split", "trial", "Split of the protocol comparison"),),
    plot=True,
)
def protocols_tables(store: Store, metric: str = "acc", split: str = "trial") -> list[Table]:
    return [_by_protocol(store, split, metric), _by_split(store, metric)]
