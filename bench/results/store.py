"""One data set's finished runs as DataFrames, one run per cell: the :class:`Store` the tables read.

What counts: FINISHED parent runs (tag ``bench.role = parent``) and their FINISHED unit runs
(:mod:`bench.results.runs` reads them into rows), of one **data set** (:mod:`bench.results.datasets`: a
data kind and a data fingerprint; :func:`~bench.results.datasets.choose_dataset` picks it). A cell is
``(model, protocol, split, audit, variant)``, all read from the tags the runner wrote when the run
started (:mod:`bench.runs.identity`); nothing is re-derived here. When several finished runs compete for a
cell (same recipe, other scale: epochs, folds, seed, subjects, precision) the newest is shown and the
tables say so; ``--where key=value`` picks among them, and picks runs of any setting: the cell a picked
run is shown in is named without the settings the conditions fix (:mod:`bench.results.where`).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from bench.core.checks import check_option
from bench.core.errors import ConfigError
from bench.core.tasks import task_names
from bench.data.datasets import Dataset, dataset_names, get_dataset
from bench.data.inputs import TASKS
from bench.data.source import kind_words
from bench.models.registry import get_model_info
from bench.results.datasets import DataSet, choose_dataset, datasets
from bench.results.naming import arg
from bench.results.runs import UNIT_COLS, finished_parents, finished_units, unit_rows
from bench.results.where import (
    cell_allowed,
    describe,
    filter_runs,
    parse_where,
    pinned,
    shown_variant,
)
from bench.tracking.store import EXPERIMENTS, TAG, client
from bench.tracking.uris import check_store_uri, resolve_tracking_uri
from protocols import get_protocol

CELL_KEY: tuple[str, ...] = ("model", "protocol", "split", "audit", "variant", "method")
"""What names a cell; ``method`` (``bench run --method``, ``none`` for plain training) last, so a method
run never shares a cell with plain training."""

METHOD_DEFAULTS: dict[str, Any] = {"method": "none", "method_label": "", "transductive": False}
"""The method columns of a run row, as a plain run (no ``--method``) has them."""


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

    def __post_init__(self) -> None:
        # Runs read from a store always carry the method columns (bench.results.runs); frames built by
        # hand (a table's own sub-store, tests, plugins) may predate them: their runs are plain runs.
        for name in ("runs", "parents"):
            frame = getattr(self, name)
            missing = {k: v for k, v in METHOD_DEFAULTS.items() if k not in frame.columns}
            if missing:
                setattr(self, name, frame.assign(**missing))

    def asks(self, model: str, protocol: str, split: str, audit: str = "none", variant: str = "full") -> bool:
        """Whether a missing cell is one to list as "not run", with a command to fill it: a run meeting
        the ``where`` conditions can fill it (:func:`~bench.results.where.cell_allowed`: ``model=mtcnn``
        asks for no other model) and, for a grid's report, the grid asked for it (:meth:`asking`)."""
        if not cell_allowed(self.conditions, model, protocol, split, audit, variant):
            return False
        if not self.applies(model) or not self.applies_protocol(protocol):
            return False
        return self.asked is None or (model, protocol, split, audit, variant) in self.asked

    def asks_model(self, model: str) -> bool:
        """Whether a table listing every registered model lists ``model`` (see :meth:`asks`)."""
        if not cell_allowed([(k, v) for k, v in self.conditions if k == "model"], model, "", ""):
            return False
        if not self.applies(model):
            return False
        return self.asked is None or any(c[0] == model for c in self.asked)

    @property
    def registered_dataset(self) -> Dataset | None:
        """The registered dataset of this data set's runs (None: a cross-dataset pair, or a dataset no
        longer registered)."""
        kind = self.data_kind
        name = "deap" if kind in ("synthetic", "deap") else kind.removesuffix("-synthetic")
        return get_dataset(name) if name in dataset_names() else None

    def applies_protocol(self, protocol: str) -> bool:
        """Whether ``protocol`` can run on this data set (the session protocols need sessions, or the
        dataset's own split): a table lists no column or command for one that cannot."""
        ds = self.registered_dataset
        try:
            return ds is None or get_protocol(protocol).refusal(ds) is None
        except ConfigError:  # a protocol no longer registered: its runs are shown, nothing is asked
            return False

    def applies(self, model: str) -> bool:
        """Whether ``model`` can run on this data set: every model can, except that a time-domain model reads
        the EEG signal, which a data set of published feature files does not hold (its runs are refused)."""
        if self.dataset is None or not self.dataset.features_source:
            return True
        try:
            return get_model_info(model).input_spec.layout != "signal"
        except ConfigError:  # a model no longer registered: its runs are shown, nothing is asked of it
            return False

    def asking(self, cells: Collection[tuple[str, ...]]) -> Store:
        """This store, with only ``cells`` (``(model, protocol, split, audit, variant)``) listed as not run
        when missing: a grid's report names what the grid asked for, not every registered model."""
        return replace(self, asked=frozenset(tuple(c) for c in cells))

    @cached_property  # every table asks per model and protocol; the units do not change
    def tasks(self) -> tuple[str, ...]:
        """The tasks the tables show a column or row for, in canonical order: valence and arousal (the
        rating datasets' tasks, shown "not run" where missing) plus every other task the runs tested; a
        data set whose runs tested other tasks only (a categorical dataset) shows those alone."""
        tested = set(self.units["task"]) if "task" in self.units else set()
        known = task_names()
        # a task no longer registered (a plugin's, uninstalled since) is still shown, after the others
        ordered = tuple(t for t in known if t in tested) + tuple(sorted(tested - set(known)))
        if tested and not tested & set(TASKS):
            return ordered
        return TASKS + tuple(t for t in ordered if t not in TASKS)

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


def _open(tracking_uri: str | None, data: str | None, first: str) -> tuple[Any, dict, list[DataSet]]:
    """The client, the finished parents per kind (:func:`_finished_parents`) and the data sets of a store;
    one-line errors for a missing or empty store and an unknown or empty data kind. Reading writes
    nothing, so a store this user cannot write (a read-only mount, another user's files) is read as it
    is (:func:`bench.tracking.store.client` with ``write=False``)."""
    if data is not None:
        check_option(arg("data"), data, EXPERIMENTS)
    uri = check_store_uri(resolve_tracking_uri(tracking_uri))
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).is_file():
        raise ConfigError(f"no MLflow store at {uri}; run `{first}` first (or pass {arg('tracking_uri')})")
    cl = client(uri, write=False)
    found = finished_parents(cl)
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
    units = finished_units(cl, found[ds.kind][0])
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
    units = finished_units(cl, found[data][0])
    chosen = f"every {data} data set"
    return [_store(found, sets, d, chosen, tracking_uri, where, conditions, units) for d in sets]


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
            urows += unit_rows(run)
    udf = pd.DataFrame(urows, columns=UNIT_COLS).sort_values(["parent_id", "task", "unit"], kind="stable")
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
    store: Store,
    model: str,
    protocol: str,
    split: str,
    *,
    audit: str = "none",
    variant: str = "full",
    method: str = "none",
) -> pd.Series | None:
    """The run shown in one table cell, or None when it was not run. ``method`` defaults to plain
    training: a table that asks for a model's cell never gets a method run in its place."""
    p = store.parents
    if p.empty:
        return None
    hit = p[
        (p["model"] == model)
        & (p["protocol"] == protocol)
        & (p["split"] == split)
        & (p["audit"] == audit)
        & (p["variant"] == variant)
        & (p["method"] == method)
    ]
    return None if hit.empty else hit.iloc[0]
