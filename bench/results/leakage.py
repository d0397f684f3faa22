"""Leakage audit: trial split vs segment split vs segment + select-on-test, and each leak's inflation."""

from __future__ import annotations

import pandas as pd

from bench.core.errors import ConfigError
from bench.results.cells import cell, cell_fields, diff
from bench.results.store import Store, find_parent
from bench.results.table import (
    Table,
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

AUDIT = "select-on-test"
SETTINGS = (("trial", "none"), ("segment", "none"), ("segment", AUDIT))


@register_table("leakage", help="Trial split vs segment split vs segment + select-on-test, and each leak.")
def leakage_table(store: Store, metric: str = "acc") -> list[Table]:
    """Per model and protocol (every registered protocol with both splits)."""
    models = ordered_models(store, all_models=False)
    rows, frame, commands, shown = [], [], [], []
    for model in models:
        for pr in protocols_with("trial", "segment"):
            pars = [find_parent(store, model, pr, sp, audit=au) for sp, au in SETTINGS]
            if all(p is None for p in pars):
                continue
            shown += pars
            ref = next(p for p in pars if p is not None)
            absent = [missing(store, model, pr, sp, au) for sp, au in SETTINGS]
            for par, (sp, au) in zip(pars, SETTINGS, strict=True):
                if par is None and store.asks(model, pr, sp, au):
                    commands.append(run_command(store, model, pr, sp, audit=au, ref=ref))
            for task in store.tasks:
                ct, cs, ca = (cell(store, p, task, metric) for p in pars)
                leaks = {
                    "segment_leak": diff(cs, ct),
                    "select_on_test_leak": diff(ca, cs),
                    "total_leak": diff(ca, ct),
                }
                for c, (sp, au), gone in zip((ct, cs, ca), SETTINGS, absent, strict=True):
                    rows.append(
                        {
                            "model": model,
                            "protocol": pr,
                            "split": sp,
                            "audit": au,
                            "task": task,
                            "metric": metric,
                            **cell_fields(c, gone),
                            **leaks,
                        }
                    )
                frame.append(
                    {
                        "model": model,
                        "protocol": pr,
                        "task": task,
                        "cells": (ct, cs, ca),
                        "pars": pars,
                        "absent": absent,
                        "Δ seg": signed(leaks["segment_leak"]),
                        "Δ select": signed(leaks["select_on_test_leak"]),
                        "Δ total": signed(leaks["total_leak"]),
                    }
                )
    if not frame:
        raise ConfigError(f"no runs under protocols with trial and segment splits on {store.label}")
    flags = consistency(store, shown)
    for out in frame:
        cells, pars, absent = out.pop("cells"), out.pop("pars"), out.pop("absent")
        for col, c, par, gone in zip(("trial", "segment", "seg+select"), cells, pars, absent, strict=True):
            out[col] = short(c, flags.mark(par), gone)
    cols = ["model", "protocol", "task", "trial", "segment", "seg+select", "Δ seg", "Δ select", "Δ total"]
    return [
        Table(
            "leakage",
            title(store, "Leakage audit: trial vs segment vs segment + select-on-test", metric),
            pd.DataFrame(frame, columns=cols),
            pd.DataFrame(rows),
            [
                metric_note(metric),
                "seg+select: segment split with the select-on-test audit. Δ seg = segment − trial (windows "
                "of one trial in train and test); Δ select = seg+select − segment (the test fold drives "
                "early stopping and LR decay); Δ total = seg+select − trial (percentage points).",
                "Leaky numbers appear only here and in the protocols table's segment columns.",
                *flags.notes,
                *data_notes(store),
            ],
            commands,
            priorities={"Δ seg": 0, "Δ select": 0, "Δ total": 1},
        )
    ]
