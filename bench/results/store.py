"""Reading finished runs from MLflow into DataFrames, and choosing one data set and one run per cell.

What counts: FINISHED parent runs (tag ``bench.role = parent``) and their FINISHED unit runs, of one
**data set**: a data kind (synthetic and DEAP live in different experiments) and a data fingerprint
(the feature config and the content of every subject file used, so ``--subjects 1-2`` is another data
set). Which data set a table shows is :func:`choose_dataset`'s rule. A cell is
``(model, protocol, split, audit, variant)``, all read from the tags the runner wrote when the run
started (:mod:`bench.runs.identity`); nothing is re-derived here. When several finished runs compete for a
cell (same recipe, other scale: epochs, folds, seed, subjects, precision) the newest is shown and the
tables say so; ``--where key=value`` picks among them, and picks runs of any setting: the cell a picked
run is shown in is named without the settings the conditions fix (:mod:`bench.results.where`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from bench.core.checks import check_option
from bench.core.errors import ConfigError
from bench.core.metrics import TEST_METRICS
from bench.data.inputs import TASKS
from bench.data.source import kind_words
from bench.results.naming import arg, arg_value, is_cli
from bench.results.where import (
    cell_allowed,
    describe,
    filter_runs,
    json_value,
    lookup,  # noqa: F401  (part of this module's interface before where.py existed)
    parse_where,
    pinned,
    shown_variant,
)
from bench.tracking.store import EXPERIMENTS, TAG
from protocols import get_protocol

_json = json_value

CELL_KEY: tuple[str, ...] = ("model", "protocol", "split", "audit", "variant")


def _count(n: int, noun: str) -> str:
    """``1 subject``, ``4 subjects``, ``? subjects`` (0: not known)."""
    return f"{n or '?'} {noun}{'' if n == 1 else 's'}"


@dataclass(frozen=True)
class DataSet:
    """One data set of the store: its kind, fingerprint, size (from the parents' ``bench.n_subjects``
    and ``bench.n_trials`` tags; 0 = not tagged, runs made before the tag) and finished parent runs."""

    kind: str
    fingerprint: str
    n_subjects: int
    n_trials: int
    n_runs: int
    newest: int
    """Start time (ms since the epoch) of its newest finished parent run."""

    @property
    def size(self) -> str:
        """``4 subjects x 40 trials`` (``?`` for a count no run tagged)."""
        return f"{_count(self.n_subjects, 'subject')} x {_count(self.n_trials, 'trial')}"

    @property
    def label(self) -> str:
        """``synthetic, 4 subjects x 40 trials, d19101f0``: how titles name the data set."""
        return f"{kind_words(self.kind)}, {self.size}, {self.fingerprint[:8]}"

    def describe(self) -> str:
        """``synthetic 2 subjects x 40 trials (3 runs, 1a2b3c4d)``: how notes and errors list it."""
        runs = _count(self.n_runs, "run")
        return f"{kind_words(self.kind)} {self.size} ({runs}, {self.fingerprint[:8]})"


@dataclass
class Store:
    """The finished runs of one data set (one data kind and one data fingerprint).

    ``runs``: every finished parent that passed ``where`` (one row each, newest first). ``parents``: the
    run shown per cell (the newest of ``runs``). ``units``: one row per (parent, unit, task) with the
    unit's test metrics and sizes, for the parents in ``runs``. ``others``: the other data sets with
    finished runs in the same store (both kinds); ``chosen``: why this data set is the one shown.
    """

    data_kind: str
    fingerprint: str
    tracking_uri: str | None
    runs: pd.DataFrame
    parents: pd.DataFrame
    units: pd.DataFrame
    dataset: DataSet | None = None
    others: tuple[DataSet, ...] = ()
    chosen: str = ""
    where: tuple[str, ...] = ()
    untagged: int = 0
    """Finished parents made before runs carried their cell identity (not shown)."""
    conditions: tuple[tuple[str, Any], ...] = ()
    """``where`` parsed: ``(key, value)`` pairs."""
    asked: frozenset[tuple[str, ...]] | None = None
    """The cells (:data:`CELL_KEY` tuples) a grid asked for: a missing cell outside them is not "not run"
    (None: every cell a table shows)."""

    def asks(self, model: str, protocol: str, split: str, audit: str = "none", variant: str = "full") -> bool:
        """Whether a missing cell is one to list as "not run", with a command to fill it: a run meeting
        the ``where`` conditions can fill it (:func:`~bench.results.where.cell_allowed`: ``model=mtcnn``
        asks for no other model) and, for a grid's report, the grid asked for it (:meth:`asking`)."""
        if not cell_allowed(self.conditions, model, protocol, split, audit, variant):
            return False
        return self.asked is None or (model, protocol, split, audit, variant) in self.asked

    def asks_model(self, model: str) -> bool:
        """Whether a table listing every registered model lists ``model`` (see :meth:`asks`)."""
        if not cell_allowed([(k, v) for k, v in self.conditions if k == "model"], model, "", ""):
            return False
        return self.asked is None or any(c[0] == model for c in self.asked)

    def asking(self, cells: Collection[tuple[str, ...]]) -> Store:
        """This store, with only ``cells`` (``(model, protocol, split, audit, variant)``) listed as not run
        when missing: a grid's report names what the grid asked for, not every registered model."""
        return replace(self, asked=frozenset(tuple(c) for c in cells))

    @property
    def notes(self) -> list[str]:
        """What a reader of any table of this store must know about runs left out."""
        if not self.untagged:
            return []
        return [
            f"{self.untagged} finished run(s) on this data predate cell-identity tags and are not shown; "
            "re-run them (bench run ... --force) to include them."
        ]

    @property
    def label(self) -> str:
        """The data set in words, as every title names it: ``synthetic, 4 subjects x 40 trials, d19101f0``."""
        if self.dataset is None:
            return f"{kind_words(self.data_kind)}, {self.fingerprint[:8]}"
        return self.dataset.label

    @property
    def others_note(self) -> str | None:
        """One line naming the other data sets of the store and how to pick one (None when there are none)."""
        if not self.others:
            return None
        n = len(self.others)
        return (
            f"{n} other data set{'s' if n > 1 else ''} in this store: "
            + "; ".join(d.describe() for d in self.others)
            + f". Shown: {self.chosen}; pick another with --fingerprint PREFIX (`bench runs --datasets` "
            "lists them)."
        )

    def rivals(self, parent: pd.Series) -> pd.DataFrame:
        """Other finished runs of the same cell whose scale differs from the shown one."""
        r = self.runs
        same = (r[list(CELL_KEY)] == parent[list(CELL_KEY)].to_numpy()).all(axis=1)
        return r[same & (r["run_id"] != parent["run_id"]) & (r["scale_sig"] != parent["scale_sig"])]


def _search_all(cl, exp_id: str, filter_string: str) -> list:
    out, token = [], None
    while True:
        page = cl.search_runs([exp_id], filter_string=filter_string, max_results=5000, page_token=token)
        out.extend(page)
        token = page.token
        if not token:
            return out


def _nested_params(params: dict[str, str]) -> dict:
    """Flat MLflow params (``train.lr``) -> a nested dict of JSON values, for ``--where`` look-ups."""
    out: dict = {}
    for key, raw in params.items():
        node = out
        *path, last = key.split(".")
        for part in path:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                break
        else:
            node[last] = _json(raw)
    return out


def _parent_row(run) -> dict:
    t, p = run.data.tags, run.data.params
    scale = _json(t.get(f"{TAG}scale"), {}) or {}
    protocol = t.get(f"{TAG}protocol", "?")
    try:
        per_subject = get_protocol(protocol).over_subjects
    except ConfigError:
        per_subject = False
    settings = _json(t.get(f"{TAG}settings"), {}) or {}
    return {
        "run_id": run.info.run_id,
        "model": t.get(f"{TAG}model", "?"),
        "protocol": protocol,
        "split": t.get(f"{TAG}split", "?"),
        "audit": t.get(f"{TAG}audit", "none") or "none",
        "variant": t.get(f"{TAG}variant"),
        "run_variant": t.get(f"{TAG}variant"),
        "source": _source(run),
        "leaky": t.get(f"{TAG}leaky", "false") == "true",
        "fingerprint": t.get(f"{TAG}data_fingerprint", "?"),
        "data_kind": t.get(f"{TAG}data_kind", "?"),
        "code_version": t.get(f"{TAG}code_version", "?"),
        "folds_fp": t.get(f"{TAG}folds_fingerprint", ""),
        "settings": settings,
        "scale": scale,
        "scale_sig": json.dumps({k: v for k, v in settings.items() if k in scale}, sort_keys=True),
        "tuned": t.get(f"{TAG}tuned_from", ""),
        "n_subjects": int(t.get(f"{TAG}n_subjects", "0") or 0),
        "n_trials": int(t.get(f"{TAG}n_trials", "0") or 0),
        "n_folds": int(scale.get("n_folds") or 0),
        "seed": int(scale.get("seed") or 0),
        "subjects": scale.get("subjects"),
        "epochs": scale.get("train.max_epochs"),
        "start_time": int(run.info.start_time or 0),
        "end_time": int(run.info.end_time or 0),
        "per_subject": per_subject,
        "config": _nested_params(p),
        "tags": {k.removeprefix(TAG): v for k, v in t.items() if k.startswith(TAG)},
    }


def _source(run) -> str:
    """The folder the run read its data from (its MLflow dataset input; ``a -> b`` for a cross-dataset
    pair), or "" where it was not recorded (a run on the feature cache alone)."""
    for item in getattr(getattr(run, "inputs", None), "dataset_inputs", None) or ():
        uri = json_value(getattr(item.dataset, "source", None), {})
        if isinstance(uri, dict) and uri.get("uri") and uri["uri"] != "feature cache":
            return str(uri["uri"])
    return ""


def _unit_rows(run) -> list[dict]:
    """One row per (unit, task) with its test metrics; a cross-dataset unit (which logs every metric per
    test subject, ``..._sNN``) gives one row per (unit, task, test subject) instead."""
    t, m = run.data.tags, run.data.metrics
    key = t.get(f"{TAG}unit", run.info.run_name or "")
    subj = t.get(f"{TAG}subject", "")
    tasks = [x for x in t.get(f"{TAG}tasks", ",".join(TASKS)).split(",") if x]
    end, start = run.info.end_time, run.info.start_time
    wall = (end - start) / 1000 if end and start else math.nan
    per_subject = sorted(k.removeprefix("n_test_trials_") for k in m if k.startswith("n_test_trials_s"))
    rows = []
    for task in tasks:
        if f"test_acc_{task}" not in m:
            continue
        base = key.removesuffix("-valence").removesuffix("-arousal")
        row = {
            "parent_id": t.get("mlflow.parentRunId"),
            "unit": key,
            "base": base,
            "fold": int(t.get(f"{TAG}fold", "0") or 0),
            "subject": int(subj) if subj.strip().isdigit() else None,
            "task": task,
        }
        if per_subject:
            for tag in per_subject:
                sub = {**row, "base": f"{base}-{tag}", "subject": int(tag[1:])}
                sub.update({k: float(m.get(f"test_{k}_{task}_{tag}", math.nan)) for k in TEST_METRICS})
                sub["n_test"], sub["n_test_trials"] = m.get(f"n_test_{tag}"), m.get(f"n_test_trials_{tag}")
                sub.update(n_test_subjects=1.0, n_train=float(m.get("n_train", math.nan)))
                sub.update(fit_seconds=float(m.get("fit_seconds", math.nan)), wall_seconds=wall)
                rows.append(sub)
            continue
        row.update({k: float(m.get(f"test_{k}_{task}", math.nan)) for k in TEST_METRICS})
        for k in ("n_train", "n_test", "n_test_trials", "n_test_subjects", "fit_seconds"):
            row[k] = float(m.get(k, math.nan))
        row["wall_seconds"] = wall
        rows.append(row)
    return rows


_FINISHED_PARENTS = f"tags.`{TAG}role` = 'parent' and attributes.status = 'FINISHED'"


def _finished_parents(cl) -> dict[str, tuple[str, list[dict]]]:
    """Per data kind with finished parent runs: its experiment id and those runs (one row each)."""
    out = {}
    for kind, name in EXPERIMENTS.items():
        exp = cl.get_experiment_by_name(name)
        if exp is not None and (runs := _search_all(cl, exp.experiment_id, _FINISHED_PARENTS)):
            out[kind] = (exp.experiment_id, [_parent_row(r) for r in runs])
    return out


def datasets(rows: Sequence[dict]) -> list[DataSet]:
    """The data sets of some parent runs (rows as the store reads them): kind order, then newest first."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        groups.setdefault((r["data_kind"], r["fingerprint"]), []).append(r)
    out = []
    for (kind, fp), g in groups.items():
        n_subjects, n_trials = (max(r[k] for r in g) for k in ("n_subjects", "n_trials"))
        out.append(DataSet(kind, fp, n_subjects, n_trials, len(g), max(r["start_time"] for r in g)))
    order = {k: i for i, k in enumerate(EXPERIMENTS)}
    return sorted(out, key=lambda d: (order.get(d.kind, 99), -d.newest, d.fingerprint))


def default_data() -> list[tuple[str, str]]:
    """``[(kind, fingerprint)]`` of the data ``bench run`` uses without --deap/--synthetic (``$DEAP_DIR``,
    else the embedded synthetic default) under the default features; empty when its files are not there
    (the embedded default is never generated, nor a broken ``$DEAP_DIR`` reported, just to pick a table)."""
    from bench.core.errors import BenchError
    from bench.data.fingerprints import source_fingerprint
    from bench.data.source import default_source

    try:
        source = default_source()
        return [] if source is None else [(source.kind, source_fingerprint(source))]
    except BenchError:
        return []


def choose_dataset(
    sets: Sequence[DataSet],
    *,
    data: str | None = None,
    fingerprint: str | None = None,
    default: Callable[[], list[tuple[str, str]]] = default_data,
) -> tuple[DataSet, str]:
    """The data set a table shows, and why (words for the notes). The rule:

    1. ``fingerprint`` (a prefix of one; with ``data``, of that kind): that data set; none or several
       match: a one-line :class:`ConfigError` listing them.
    2. Otherwise the data ``bench run`` uses without data options (:func:`default_data`: ``$DEAP_DIR``,
       else the embedded synthetic default, 4 subjects x 40 trials), if it has finished runs (and is of
       kind ``data`` when given).
    3. Otherwise, within kind ``data`` (default: synthetic if it has runs, else deap), the data set with
       the most finished runs; ties: the one with the newest run.

    So a small side run (``--subjects 1-2``, another folder) never hides the main results: it is listed
    in the notes, and ``--fingerprint`` shows it.
    """
    pool = [d for d in sets if data is None or d.kind == data]
    of_kind = f"{data} " if data else ""
    if fingerprint is not None:
        prefix = fingerprint.strip()
        hits = [d for d in pool if prefix and d.fingerprint.startswith(prefix)]
        if len(hits) == 1:
            return hits[0], "the one picked with --fingerprint"
        listing = "; ".join(d.describe() for d in (hits or pool))
        given = f"{arg('fingerprint')}{' ' if is_cli() else '='}{prefix!r}"
        if not hits:
            raise ConfigError(f"{given}: no {of_kind}data set with finished runs; available: {listing}")
        kinds = "|".join(k for k in EXPERIMENTS if any(d.kind == k for d in hits))
        raise ConfigError(
            f"{given} matches {len(hits)} data sets: {listing}; give more characters"
            + ("" if data else f" or {arg_value('data', kinds)}")
        )
    if len(pool) > 1:
        for kind, fp in default():
            hit = next((d for d in pool if d.kind == kind and d.fingerprint == fp), None)
            if hit is not None:
                what = "$DEAP_DIR" if kind == "deap" else "the embedded synthetic DEAP"
                return hit, f"the data `bench run` uses by default ({what})"
    kind = data or next(k for k in EXPERIMENTS if any(d.kind == k for d in pool))
    pool = [d for d in pool if d.kind == kind]
    best = max(pool, key=lambda d: (d.n_runs, d.newest))
    return best, f"the only {kind} data set" if len(pool) == 1 else f"the {kind} data set with the most runs"


_UNIT_COLS = [
    "parent_id",
    "unit",
    "base",
    "fold",
    "subject",
    "task",
    *TEST_METRICS,
    "n_train",
    "n_test",
    "n_test_trials",
    "n_test_subjects",
    "fit_seconds",
    "wall_seconds",
]


def _open(tracking_uri: str | None, data: str | None, first: str) -> tuple[Any, dict, list[DataSet]]:
    """The client, the finished parents per kind (:func:`_finished_parents`) and the data sets of a store;
    one-line errors for a missing or empty store and an unknown or empty data kind. Reading writes
    nothing, so a store this user cannot write (a read-only mount, another user's files) is read as it
    is (:func:`bench.tracking.store.client` with ``write=False``)."""
    from bench.tracking.store import check_store_uri, client, resolve_tracking_uri

    if data is not None:
        check_option(arg("data"), data, EXPERIMENTS)
    uri = check_store_uri(resolve_tracking_uri(tracking_uri))
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).is_file():
        raise ConfigError(f"no MLflow store at {uri}; run `{first}` first (or pass {arg('tracking_uri')})")
    cl = client(uri, write=False)
    found = _finished_parents(cl)
    if not found:
        raise ConfigError(f"no finished runs in {uri}; run `{first}` first")
    if data is not None and data not in found:
        raise ConfigError(f"no finished {data} runs in {uri} (experiment {EXPERIMENTS[data]!r})")
    return cl, found, datasets([r for _, rows in found.values() for r in rows])


def list_datasets(
    tracking_uri: str | None = None, data: str | None = None, *, first: str = "bench run ..."
) -> tuple[list[DataSet], DataSet, str]:
    """Every data set with finished runs in the store (of kind ``data`` when given), the one tables
    show by default and why (:func:`choose_dataset`)."""
    _, _, sets = _open(tracking_uri, data, first)
    sets = [d for d in sets if data is None or d.kind == data]
    return sets, *choose_dataset(sets, data=data)


def load_store(
    tracking_uri: str | None = None,
    data: str | None = None,
    fingerprint: str | None = None,
    where: Sequence[str] | None = None,
    *,
    first: str = "bench run ...",
) -> Store:
    """Read the finished runs of one data set, chosen by :func:`choose_dataset` (``data``: synthetic or
    deap; ``fingerprint``: a prefix of one).

    ``where`` (``["train.max_epochs=200", ...]``) keeps the runs whose config (or ``bench.`` tag) has
    those values, and the cells show them named without those settings (:mod:`bench.results.where`):
    ``where=["train.lr=0.0001"]`` fills the ``full`` cells with the runs of that learning rate. Without
    ``fingerprint`` the data set is chosen among those with runs meeting ``where`` (``-F`` settings make
    a data set of their own). Raises :class:`ConfigError` for an unknown data kind or fingerprint, an
    empty store, or a ``where`` key no run has; ``first`` is the command those errors tell to run first.
    ``tracking_uri`` is kept as given: the fill-in commands carry it so.
    """
    conditions = parse_where(where)
    cl, found, sets = _open(tracking_uri, data, first)
    pool, note = _matching_sets(found, sets, conditions, data, fingerprint)
    ds, chosen = choose_dataset(pool, data=data, fingerprint=fingerprint)
    units = _finished_units(cl, found[ds.kind][0])
    return _store(found, sets, ds, chosen + note, tracking_uri, where, conditions, units)


def _matching_sets(found: dict, sets: list[DataSet], conditions: list, data: str | None,
                   fingerprint: str | None) -> tuple[list[DataSet], str]:  # fmt: skip
    """The data sets to choose from: with conditions and no fingerprint, those holding a run that meets
    them (all of them when none does: the error then comes from the chosen one); and a note when that
    left some out."""
    if not conditions or fingerprint is not None:
        return sets, ""
    rows = [r for kind, (_, rs) in found.items() if data is None or kind == data for r in rs]
    keep = {(r["data_kind"], r["fingerprint"]) for r in filter_runs(rows, conditions)}
    pool = [d for d in sets if (d.kind, d.fingerprint) in keep]
    if not pool or len(pool) == len([d for d in sets if data is None or d.kind == data]):
        return sets, ""
    return pool, f" among those with runs picked by {arg('where')}"


def load_stores(
    tracking_uri: str | None, data: str, where: Sequence[str] | None = None, *, first: str = "bench run ..."
) -> list[Store]:
    """One :class:`Store` per data set of kind ``data`` (every cross-dataset pair, say), with the store read
    once: as :func:`load_store` for each, without reading every run again per data set. A data set without
    runs meeting ``where`` is left out (error: none has any)."""
    conditions = parse_where(where)
    cl, found, sets = _open(tracking_uri, data, first)
    sets = [d for d in sets if d.kind == data]
    if conditions:
        keep = {r["fingerprint"] for r in filter_runs(found[data][1], conditions)}
        if not keep:
            raise ConfigError(f"{describe(conditions, list(where or ()))}: no finished {data} run matches")
        sets = [d for d in sets if d.fingerprint in keep]
    units = _finished_units(cl, found[data][0])
    chosen = f"every {data} data set"
    return [_store(found, sets, d, chosen, tracking_uri, where, conditions, units) for d in sets]


def _finished_units(cl, exp_id: str) -> list:
    """The finished unit runs of an experiment, newest first."""
    units = _search_all(cl, exp_id, f"tags.`{TAG}role` = 'unit' and attributes.status = 'FINISHED'")
    units.sort(key=lambda r: (-(r.info.start_time or 0), r.info.run_id))
    return units


def _store(found: dict, sets: list[DataSet], ds: DataSet, chosen: str, tracking_uri: str | None,
           where: Sequence[str] | None, conditions: list, units: list) -> Store:  # fmt: skip
    """The Store of data set ``ds`` from the store's finished parents (``found``) and unit runs: the runs
    meeting ``conditions``, each in the cell :func:`~bench.results.where.shown_variant` names."""
    _, rows = found[ds.kind]
    columns = list(rows[0])  # every row has the same keys (an empty frame keeps them too)
    rows = [r for r in rows if r["fingerprint"] == ds.fingerprint]
    untagged = sum(r["variant"] is None for r in rows)
    rows = filter_runs([r for r in rows if r["variant"] is not None], conditions)
    if conditions and not rows:
        raise ConfigError(
            f"{describe(conditions, list(where or ()))}: no finished {ds.kind} run on data set "
            f"{ds.fingerprint[:8]} ({ds.size}) matches"
        )
    keys, whole = pinned(conditions)
    rows = [{**r, "variant": shown_variant(r, keys, whole)} for r in rows]
    runs = pd.DataFrame(rows, columns=columns)
    runs = runs.sort_values(["start_time", "run_id"], ascending=[False, False], kind="stable")
    runs = runs.reset_index(drop=True)
    parents = runs.drop_duplicates(list(CELL_KEY), keep="first").reset_index(drop=True)
    ids = set(runs["run_id"])
    urows, seen = [], set()
    for run in units:
        pid = run.data.tags.get("mlflow.parentRunId")
        ukey = (pid, run.data.tags.get(f"{TAG}unit"))
        if pid in ids and ukey not in seen:
            seen.add(ukey)
            urows += _unit_rows(run)
    udf = pd.DataFrame(urows, columns=_UNIT_COLS).sort_values(["parent_id", "task", "unit"], kind="stable")
    return Store(
        data_kind=ds.kind,
        fingerprint=ds.fingerprint,
        tracking_uri=tracking_uri,
        runs=runs,
        parents=parents,
        units=udf.reset_index(drop=True),
        dataset=ds,
        others=tuple(d for d in sets if d != ds),
        chosen=chosen,
        where=tuple(str(w) for w in ([where] if isinstance(where, str) else where or ())),
        untagged=untagged,
        conditions=tuple(conditions),
    )


def describe_scale(run: Any, n_subjects: int | None = None) -> str:
    """A run's scale in words (folds, seed, epoch cap, subjects), as `bench runs` and the report show it;
    ``n_subjects`` (of the data) says how many "all subjects" is."""
    subs = run["subjects"]
    every = f"all {n_subjects} subjects" if n_subjects else "all subjects"
    return f"{run['n_folds']} folds, seed {run['seed']}, {run['epochs']} epochs, " + (
        every if not subs else f"subjects {min(subs)}-{max(subs)} ({len(subs)})"
    )


def other_settings(run: Any) -> dict:
    """The settings in which a run deviates from its model's default recipe, other than its scale."""
    return {k: v for k, v in run["settings"].items() if k not in run["scale"]}


def find_parent(
    store: Store, model: str, protocol: str, split: str, *, audit: str = "none", variant: str = "full"
) -> pd.Series | None:
    """The run shown in one table cell, or None when it was not run."""
    p = store.parents
    if p.empty:
        return None
    hit = p[
        (p["model"] == model)
        & (p["protocol"] == protocol)
        & (p["split"] == split)
        & (p["audit"] == audit)
        & (p["variant"] == variant)
    ]
    return None if hit.empty else hit.iloc[0]
