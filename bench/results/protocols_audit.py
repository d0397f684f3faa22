"""The protocol audit: each peer benchmark's protocol beside the harness's honest counterpart, on the same
data and model, and what the difference is worth.

Per model and peer protocol (:mod:`protocols.peers`, those that apply to the table's data set), one row per
task: the peer protocol's score and its counterpart's (mean ± sd over test subjects), the difference
(peer − counterpart, percentage points), a two-sided Wilcoxon signed-rank test over the test subjects both
runs tested, the mechanism that can make the peer's number look better than it is, and a verdict. A
subject tested in several folds is averaged first. The peer runs appear nowhere else; the counterparts are
the harness's ordinary runs (shown in the other tables too).

How the pairs are made: per-subject protocols pair each subject's mean over its folds; where the peer's
folds are the counterpart's own (``libeer-front-back`` and ``session-trials``: fold k is session k, the same
test trials) only the folds both tested are paired. Pooled protocols pair each test subject's accuracy
(their units log it per subject); another metric of a pooled run falls back to its folds, with no test.
A peer that tests one subject (EEG-FM-Bench's split) has no test: the row says where that subject falls
among the counterpart's subjects instead.
"""

from __future__ import annotations

import math

import pandas as pd

from bench.core import stats
from bench.core.errors import ConfigError
from bench.results.cells import Cell, cell_fields, method_cell, subjects_test
from bench.results.store import Store, find_parent
from bench.results.table import (
    DASH,
    Table,
    audit_only_protocols,
    consistency,
    data_notes,
    metric_note,
    missing,
    ordered_models,
    pct,
    pval,
    register_table,
    run_command,
    short,
    signed,
    title,
)
from protocols import get_protocol, list_protocols
from protocols.base import MECHANISMS, Protocol

ALPHA = 0.05
"""The level at which the table calls a difference significant."""


def peer_protocols(store: Store) -> list[Protocol]:
    """The peer protocols with a counterpart that can run on the store's data set or have runs in it, in
    registry order."""
    ran = set(store.parents["protocol"]) if not store.parents.empty else set()
    return [
        p
        for p in list_protocols()
        if p.audit_only
        and getattr(p, "counterpart", None)
        and (p.name in ran or store.applies_protocol(p.name))
    ]


def mechanism_words(proto: Protocol) -> str:
    """The protocol's mechanisms in words, ``none (reference)`` for a reference row without any."""
    words = ", ".join(MECHANISMS[m] for m in proto.mechanisms) or "none"
    return words + (" (reference)" if getattr(proto, "reference", False) else "")


def aligned_scores(store: Store, peer: pd.Series, other: pd.Series, task: str) -> tuple[pd.Series, pd.Series]:
    """Per-subject scores of two per-subject runs over the (subject, fold) units both tested: the
    peer's folds are the counterpart's own (fold k, session k), so the pairs share their test trials."""
    u = store.units
    a = u[(u["parent_id"] == peer["run_id"]) & (u["task"] == task)]
    b = u[(u["parent_id"] == other["run_id"]) & (u["task"] == task)]
    keys = set(zip(a["subject"], a["fold"], strict=True)) & set(zip(b["subject"], b["fold"], strict=True))
    return tuple(  # type: ignore[return-value]
        f[[k in keys for k in zip(f["subject"], f["fold"], strict=True)]]
        .groupby("subject")["acc"]
        .mean()
        .sort_index()
        for f in (a, b)
    )


def pair(store: Store, proto: Protocol, peer, other, task: str, metric: str):
    """The two cells and per-subject values of one row (``None`` cells where a run is missing)."""
    if peer is not None and other is not None and metric == "acc" and getattr(proto, "aligned_folds", False):
        a, b = aligned_scores(store, peer, other, task)
        if not a.empty and not b.empty:
            cells = [
                Cell(p["run_id"], task, metric, stats.describe(v.to_numpy()), "subjects", len(v), "subjects")
                for p, v in ((peer, a), (other, b))
            ]
            return cells[0], cells[1], a, b
    (ca, a), (cb, b) = method_cell(store, peer, task, metric), method_cell(store, other, task, metric)
    return ca, cb, a, b


def placement(a: pd.Series, b: pd.Series) -> str:
    """Where a one-subject peer's test subject(s) fall among the counterpart's subjects."""
    if a.empty or b.empty:
        return ""
    ranks = [int((b > b.loc[s]).sum()) + 1 for s in a.index if s in b.index]
    where = ", ".join(f"s{int(s):02d}" for s in a.index)
    spread = f"counterpart's subjects {pct(b.min())}–{pct(b.max())} %"
    rank = f"; rank {', '.join(map(str, ranks))} of {len(b)} there" if ranks else ""
    return f"tests {where}; {spread}{rank}"


def verdict(delta: float, test: dict, one_subject: bool) -> str:
    """The row's reading: above or below the counterpart at :data:`ALPHA`, no difference, or no test."""
    if not math.isfinite(delta):
        return DASH
    p = test.get("p", math.nan)
    if one_subject or not math.isfinite(p):
        return "no test (" + ("one test subject" if one_subject else test.get("why") or "n/a") + ")"
    if p < ALPHA:
        return "above" if delta > 0 else "below"
    if test.get("min_p", 0) >= ALPHA:
        return f"no test can reach p<{ALPHA} with n={test['n']}"
    return "not significant"


def test_text(test: dict) -> str:
    """``W n=8 p=0.008``, or a dash where there is no test."""
    return f"{test['test']} n={test['n']} {pval(test['p'])}".strip() if test["test"] else DASH


def has_peer_runs(store: Store) -> bool:
    """Whether the store holds a peer protocol's run, or a grid's report asks for one: where a report has
    a protocol audit section (:attr:`~bench.results.table.TableSpec.in_report`)."""
    hidden = audit_only_protocols()
    ran = not store.parents.empty and bool(store.parents["protocol"].isin(hidden).any())
    return ran or any(c[1] in hidden for c in store.asked or ())


@register_table(
    "protocols-audit",
    help="Each peer benchmark's protocol beside the harness's honest counterpart: Δ, test, mechanism.",
    in_report=has_peer_runs,
)
def protocols_audit_table(store: Store, metric: str = "acc") -> list[Table]:
    """Per model and peer protocol that applies to the data set: peer vs counterpart per task."""
    protos = peer_protocols(store)
    rows, frame, commands, shown = [], [], [], []
    for model in ordered_models(store, all_models=False):
        for proto in protos:
            other_proto = get_protocol(proto.counterpart)
            cells_of = ((proto.name, proto.default_split), (other_proto.name, other_proto.default_split))
            pars = [find_parent(store, model, pr, sp) for pr, sp in cells_of]
            if pars[0] is None:
                continue  # a model with no run under this peer protocol: nothing to audit
            shown += pars
            absent = [missing(store, model, pr, sp) for pr, sp in cells_of]
            for par, (pr, sp) in zip(pars, cells_of, strict=True):
                if par is None and store.asks(model, pr, sp):
                    commands.append(run_command(store, model, pr, sp, ref=pars[0]))
            one_subject = "one-test-subject" in proto.mechanisms
            for task in store.tasks:
                ca, cb, a, b = pair(store, proto, pars[0], pars[1], task, metric)
                if ca is None:
                    continue  # a task the peer's run did not test (a single-task run)
                delta = (ca.summary.mean - cb.summary.mean) if ca is not None and cb is not None else math.nan
                test = {"p": math.nan, "test": "", "n": 0, "min_p": math.nan, "why": ""}
                if not one_subject and not a.empty and not b.empty:
                    test = subjects_test(a, b)
                elif not one_subject and ca is not None and cb is not None:
                    test["why"] = "no per-subject scores"
                note = placement(a, b) if one_subject else ""
                reading = verdict(delta, test, one_subject)
                rows.append({
                    "model": model, "protocol": proto.name, "benchmark": proto.source.benchmark,
                    "counterpart": other_proto.name, "task": task, "metric": metric,
                    "mechanisms": ",".join(proto.mechanisms), "leaky": proto.leaky,
                    "reference": bool(getattr(proto, "reference", False)),
                    **{f"peer_{k}": v for k, v in cell_fields(ca, absent[0]).items()},
                    **{f"counterpart_{k}": v for k, v in cell_fields(cb, absent[1]).items()},
                    "diff": delta, "p": test["p"], "test": test["test"], "n_pairs": test["n"],
                    "verdict": reading, "note": note,
                })  # fmt: skip
                frame.append({
                    "model": model, "protocol": proto.name, "task": task, "pars": pars, "absent": absent,
                    "cells": (ca, cb), "mechanism": mechanism_words(proto), "counterpart": other_proto.name,
                    "Δ": signed(delta),
                    "test": test_text(test),
                    "reading": reading + (f"; {note}" if note else ""),
                })  # fmt: skip
    if not frame:
        raise ConfigError(f"no runs under a peer benchmark's protocol on {store.label}")
    flags = consistency(store, shown)
    for out in frame:
        (ca, cb), pars, absent = out.pop("cells"), out.pop("pars"), out.pop("absent")
        out["peer"] = short(ca, flags.mark(pars[0]), absent[0])
        out["honest"] = short(cb, flags.mark(pars[1]), absent[1])
    cols = ["model", "protocol", "mechanism", "task", "peer", "counterpart", "honest", "Δ", "test", "reading"]
    sources = sorted({p.source.cite() for p in protos if any(f["protocol"] == p.name for f in frame)})
    return [
        Table(
            "protocols-audit",
            title(store, "Protocol audit: peer benchmarks' protocols vs honest counterparts", metric),
            pd.DataFrame(frame, columns=cols),
            pd.DataFrame(rows),
            [
                metric_note(metric),
                "peer: the score under the benchmark's own protocol, reproduced from its code; honest: the "
                "harness's counterpart on the same data and model; both mean ± sd over test subjects. "
                "Δ = peer − honest (percentage points).",
                "test: two-sided Wilcoxon signed-rank test over the test subjects both runs tested (W), "
                f"reading 'above'/'below' at p<{ALPHA}.",
                "mechanism: segment leak (windows of one trial in train and test), selection on test (the "
                "test part picks the epoch), one test subject (the spread is over seeds, not subjects), "
                "window-level validation (validation windows share trials with training); reference: a "
                "peer protocol without a leak.",
                "The peer protocols keep the benchmarks' selection rules (no early stopping; their best "
                "or last epoch); the honest runs the harness's recipe.",
                "Leaky numbers appear only here, in the leakage table and in the protocols table's segment "
                "columns.",
                "Sources: " + "; ".join(sources) + " (files and lines: each protocol's docstring in "
                "protocols.peers, the API reference).",
                *flags.notes,
                *data_notes(store),
            ],
            commands,
            text_columns=("mechanism", "counterpart", "reading"),
            priorities={"counterpart": 0, "mechanism": 1, "test": 2},
        )
    ]
