"""The table registry, the :class:`Table` every builder returns, and what the builders share.

A new table is one module with one decorated function::

    @register_table("mine", help="...", options=(TableOption("model", "--model", "mtcnn", "Model"),))
    def mine(store: Store, metric: str, model: str) -> list[Table]: ...

``bench table mine`` then exists, with the shared options (data, store, ``--where``, ``--metric``,
formats) and its own, once its module is in :data:`BUILTIN_TABLES` (the built-in table modules, imported
on the first lookup by the :class:`~bench.core.registry.Registry` here).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from bench.core.errors import ConfigError
from bench.core.registry import Registry
from bench.data.source import kind_words
from bench.models.registry import get_model_info, list_models
from bench.results.cells import METRIC_LABELS, Cell
from bench.results.commands import data_options, run_command  # noqa: F401  (re-exported: table modules)
from bench.results.naming import arg
from bench.results.store import Store
from protocols import experiment_kinds, list_protocols
from protocols.base import SPLIT_UNITS

NOT_RUN = "not run"
NOT_ASKED = "not asked"
"""Status of a missing cell that the ``where`` conditions or a grid's report leave out (shown as a dash,
with no command: no run of theirs could fill it, or the grid did not ask for it)."""
DASH = "—"
REFERENCE_MODEL = "mtcnn"
TRIVIAL: tuple[str, ...] = ("majority", "prior")
DIFFERS = "†"
TUNED = "‡"
UNTESTABLE = "§"
BELOW_CHANCE = "°"


@dataclass
class Table:
    """One built table: ``frame`` holds the printed cells, ``data`` the tidy numbers behind them."""

    name: str
    title: str
    frame: pd.DataFrame
    data: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    text_columns: tuple[str, ...] = ()
    """Columns of words beyond the usual ones (model, variant, ...): left-aligned by the renderers."""
    priorities: dict[str, int] = field(default_factory=dict)
    """Columns a narrow terminal may leave out (lowest first, equal ones together; named below the
    table); the others are always shown. Files (md, latex, csv, html) keep every column."""


@dataclass(frozen=True)
class TableOption:
    """An option of one table (the CLI turns it into ``--flag``); ``default`` False/True makes a switch."""

    name: str
    flag: str
    default: Any
    help: str


@dataclass(frozen=True)
class TableSpec:
    name: str
    build: Callable[..., list[Table]]
    help: str
    options: tuple[TableOption, ...] = ()
    plot: bool = False
    """True: ``--plot`` draws it (bar chart with CI)."""
    across_pairs: bool = False
    """Reads every cross-dataset data set of a kind, not the one data set a store holds
    (``bench table cross-dataset``): not a section of one data set's report."""
    in_report: Callable[[Store], bool] | None = None
    """Where a report has a section for it: the stores this holds for (the methods table: a store with
    runs of a training method); None: every store."""


BUILTIN_TABLES: tuple[str, ...] = (
    "comparison",
    "protocols",
    "leakage",
    "protocols_audit",
    "ablation",
    "leaderboard",
    "methods",
    "crossdataset",
)
"""Modules of :mod:`bench.results` whose import registers the built-in tables (in this order)."""

TABLES: Registry[TableSpec] = Registry("table", builtins={n: f"bench.results.{n}" for n in BUILTIN_TABLES})
"""Every table, in registration order."""


def register_table(
    name: str,
    *,
    help: str,
    options: Iterable[TableOption] = (),
    plot: bool = False,
    across_pairs: bool = False,
    in_report: Callable[[Store], bool] | None = None,
) -> Callable[[Callable[..., list[Table]]], Callable[..., list[Table]]]:
    """Register ``build(store, metric, **options) -> list[Table]`` as table ``name`` (``in_report``: the
    stores a report shows it for, :attr:`TableSpec.in_report`)."""

    def decorator(build: Callable[..., list[Table]]) -> Callable[..., list[Table]]:
        if name in TABLES:
            raise ValueError(f"table {name!r} is already registered")
        spec = TableSpec(name, build, help, tuple(options), plot, across_pairs, in_report)
        TABLES.register(name, spec)
        return build

    return decorator


def unregister_table(name: str) -> None:
    """Remove a registration (tests, notebooks)."""
    TABLES.unregister(name)


def list_tables(*, across_pairs: bool = False, store: Store | None = None) -> list[TableSpec]:
    """The tables of one data set (a report's sections); with ``across_pairs`` also those that read
    every cross-dataset pair (every ``bench table`` command); with ``store`` only those a report of it
    shows (:attr:`TableSpec.in_report`: the methods table where it holds a method's runs)."""
    return [
        t
        for t in TABLES.values()
        if (across_pairs or not t.across_pairs)
        and (store is None or t.in_report is None or t.in_report(store))
    ]


def get_table(name: str) -> TableSpec:
    """A registered table; an unknown name is a one-line :class:`ConfigError`."""
    return TABLES.get(name)


def build(name: str, store: Store, metric: str = "acc", **options: Any) -> list[Table]:
    """Build a registered table; options not given take the table's defaults."""
    spec = get_table(name)
    known = {o.name: o.default for o in spec.options}
    unknown = sorted(set(options) - set(known))
    if unknown:
        have = ", ".join(map(arg, known))
        raise ConfigError(f"table {name!r} has no option {', '.join(map(arg, unknown))}; allowed: {have}")
    kwargs = {**known, **{k: v for k, v in options.items() if v is not None}}
    return spec.build(store, metric, **kwargs)


# ------------------------------------------------------------------------------------- formatting
def pct(x: float | None, digits: int = 1) -> str:
    if x is None or not math.isfinite(x):
        return DASH
    return f"{100 * x:.{digits}f}"


def signed(x: float | None, digits: int = 1, scale: float = 100.0) -> str:
    if x is None or not math.isfinite(x):
        return DASH
    v = round(scale * x, digits)
    return f"{'+' if v > 0 else '−' if v < 0 else '±'}{abs(v):.{digits}f}"


def pval(p: float) -> str:
    if not math.isfinite(p):
        return ""
    return "p<0.001" if p < 0.001 else f"p={p:.3f}"


def short(c: Cell | None, marker: str = "", absent: str = NOT_RUN) -> str:
    """``mean ± std (n=k)`` of a cell, with its marker; for a missing one its status ``absent`` (``not
    run``; a dash for ``not asked``)."""
    if c is None:
        return DASH if absent == NOT_ASKED else absent
    s = c.summary
    text = pct(s.mean) + ("" if not math.isfinite(s.std) else f" ± {pct(s.std)}") + f" (n={s.n})"
    return text + (f" {marker}" if marker else "")


def metric_note(metric: str) -> str:
    return f"metric: {METRIC_LABELS[metric]}, % (--metric acc|trial-acc|balanced-acc|f1|auc)."


def title(store: Store, what: str, metric: str = "acc") -> str:
    shown = "" if metric == "acc" else f" | {metric}"
    return f"{what}{shown} | {store.label}"


def data_notes(store: Store) -> list[str]:
    notes = []
    if store.data_kind == "synthetic":
        notes.append("SYNTHETIC data: numbers test the harness, they say nothing about DEAP.")
    elif store.data_kind.endswith("-synthetic"):
        real = store.data_kind.removesuffix("-synthetic")
        real = "the real datasets" if real in experiment_kinds() else kind_words(real)
        notes.append(f"SYNTHETIC data: numbers test the harness, they say nothing about {real}.")
    if store.where:
        notes.append(where_note(store))
    if store.others_note:
        notes.append(store.others_note)
    return [*notes, *store.notes]


def where_note(store: Store) -> str:
    """Which settings picked the runs (``where``), and the variants of theirs the cells show under another
    name: the run's own, as `bench runs` lists it, and the cell's. Worded as the CLI options whoever made
    the table (``bench report``, ``bench reproduce``, a notebook): the same runs give the same notes."""
    text = "runs picked with " + " ".join(f"--where {w}" for w in store.where)
    renamed = store.runs[store.runs["run_variant"] != store.runs["variant"]]
    if renamed.empty:
        return text + "."
    pairs = sorted(set(zip(renamed["run_variant"], renamed["variant"], strict=True)))
    shown = "; ".join(f"{own} as {cell}" for own, cell in pairs)
    return (
        f"{text}: every cell shows runs with these settings, named by their other settings (variants as "
        f"`bench runs` lists them: {shown})."
    )


def model_names() -> list[str]:
    return [m.name for m in list_models()]


def ordered_models(store: Store, all_models: bool) -> list[str]:
    """Models with runs, registry order first; with ``all_models`` also every registered model the store
    asks for (:meth:`Store.asks_model`: all of them, unless ``where`` or a grid's report narrow it)."""
    names = model_names()
    seen = set(store.parents["model"]) if not store.parents.empty else set()
    listed = [m for m in names if m in seen or (all_models and store.asks_model(m))]
    return listed + sorted(seen - set(names))


def missing(store: Store, model: str, protocol: str, split: str, audit: str = "none",
            variant: str = "full") -> str:  # fmt: skip
    """The status of a missing cell: ``not run`` where the store asks for it, else ``not asked`` (shown
    as a dash, :func:`short`)."""
    return NOT_RUN if store.asks(model, protocol, split, audit, variant) else NOT_ASKED


def protocol_names() -> list[str]:
    return [p.name for p in list_protocols()]


def audit_only_protocols() -> set[str]:
    """The protocols whose runs only the protocol audit table shows (the peer benchmarks' protocols and
    their counterparts, :attr:`protocols.base.Protocol.audit_only`)."""
    return {p.name for p in list_protocols() if p.audit_only}


def shown_runs(p: pd.DataFrame) -> pd.DataFrame:
    """The rows of a parents frame every table but the protocol audit may show: none of an
    :func:`audit_only_protocols` protocol's runs."""
    return p if p.empty else p[~p["protocol"].isin(audit_only_protocols())]


def protocols_with(*splits: str, store: Store | None = None) -> list[str]:
    """Registered protocols offering every one of ``splits`` (registry order), the audit-only ones aside;
    with ``store``, those that can run on its data set (:meth:`Store.applies_protocol`) or have runs
    in it."""
    hidden = audit_only_protocols()
    names = [p.name for p in list_protocols() if all(s in p.splits for s in splits) and p.name not in hidden]
    if store is None:
        return names
    ran = set(store.parents["protocol"]) if not store.parents.empty else set()
    return [n for n in names if n in ran or store.applies_protocol(n)]


def groups(store: Store, leaky: bool | None) -> list[tuple[str, str]]:
    """(protocol, split) pairs with runs, in registry order (the audit-only protocols' aside)."""
    p = shown_runs(store.parents)
    if p.empty:
        return []
    if leaky is not None:
        p = p[p["leaky"] == leaky]
    order = {name: i for i, name in enumerate(protocol_names())}
    pairs = {(r.protocol, r.split) for r in p.itertuples()}
    return sorted(
        pairs,
        key=lambda g: (order.get(g[0], 99), g[0], SPLIT_UNITS.index(g[1]) if g[1] in SPLIT_UNITS else 99),
    )


def reported(model: str) -> dict:
    try:
        return get_model_info(model).reported
    except ConfigError:
        return {}


# ---------------------------------------------------------------------------------- consistency
TRANSDUCTIVE_MARK = "\N{PILCROW SIGN}"
TRANSDUCTIVE_NOTE = (
    f"{TRANSDUCTIVE_MARK} transductive: sees the test subjects' unlabelled inputs (never their labels)."
)


def model_label(parent: pd.Series) -> str:
    """A run's model as a table names it: the model, or with a training method ``fbccnn + DANN``, with
    :data:`TRANSDUCTIVE_MARK` (not the scale dagger, :data:`DIFFERS`) where the method is transductive
    (:data:`TRANSDUCTIVE_NOTE`). Plain runs: the model name as before."""
    method = parent.get("method", "none")
    if not method or method == "none":
        return str(parent["model"])
    label = f"{parent['model']} + {parent.get('method_label') or method}"
    return label + (f" {TRANSDUCTIVE_MARK}" if parent.get("transductive") else "")


def method_notes(parents: Iterable[pd.Series]) -> list[str]:
    """The transductive footnote where a table shows a transductive method's run, else nothing."""
    return [TRANSDUCTIVE_NOTE] if any(bool(p.get("transductive")) for p in parents) else []


def cell_label(parent: pd.Series) -> str:
    label = f"{model_label(parent)} {parent['protocol']}/{parent['split']}"
    if parent["audit"] != "none":
        label += f" {parent['audit']}"
    return label + ("" if parent["variant"] == "full" else f" [{parent['variant']}]")


def _scale_text(parent: pd.Series, keys: Iterable[str]) -> str:
    return ", ".join(f"{k}={json.dumps(parent['scale'].get(k))}" for k in keys)


def _ref_text(sig: dict, keys: Iterable[str]) -> str:
    return ", ".join(f"{k}={json.dumps(sig[k])}" if k in sig else f"{k}=model default" for k in keys)


@dataclass
class Consistency:
    """Markers (per run id) and footnotes saying where the runs of one table differ in settings."""

    markers: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def mark(self, parent: pd.Series | None) -> str:
        if parent is None:
            return ""
        return self.markers.get(parent["run_id"], "")


def consistency(store: Store, shown: Iterable[pd.Series | None]) -> Consistency:
    """Flag the shown runs whose scale differs from the table's most common one, runs that have
    finished rivals of another scale in their own cell, and runs with tuned loss weights."""
    shown = [p for p in shown if p is not None]
    shown = list({p["run_id"]: p for p in shown}.values())
    out = Consistency()
    if not shown:
        return out
    common = Counter(p["scale_sig"] for p in shown).most_common(1)[0][0]
    ref = json.loads(common)
    differs: dict[tuple[str, str], list[str]] = {}  # (cell without model, difference) -> models
    for p in shown:
        marks = []
        sig = json.loads(p["scale_sig"])
        if p["scale_sig"] != common:
            keys = sorted(k for k in set(sig) | set(ref) if sig.get(k, None) != ref.get(k, None))
            where = cell_label(p).removeprefix(f"{p['model']} ")
            what = f"{_scale_text(p, keys)}; the other cells: {_ref_text(ref, keys)}."
            differs.setdefault((where, what), []).append(p["model"])
            marks.append(DIFFERS)
        rivals = store.rivals(p)
        if not rivals.empty:
            alts, diff_keys = [], set()
            for _, r in rivals.drop_duplicates("scale_sig").iterrows():
                rsig = json.loads(r["scale_sig"])
                keys = sorted(k for k in set(sig) | set(rsig) if sig.get(k) != rsig.get(k))
                diff_keys.update(keys)
                alts.append(f"{_scale_text(r, keys)} (run {r['run_id'][:8]})")
            out.notes.append(
                f"{DIFFERS} {cell_label(p)}: shows the newest run ({_scale_text(p, sorted(diff_keys))}); "
                "also finished: " + "; ".join(alts) + ". Pick one with --where KEY=VALUE; `bench runs` "
                "lists them."
            )
            if DIFFERS not in marks:
                marks.append(DIFFERS)
        if p["tuned"]:
            marks.append(TUNED)
        out.markers[p["run_id"]] = "".join(marks)
    # one note per difference: the cells of several models that differ alike (e.g. cross-subject with
    # one fold per subject) are named together
    out.notes[:0] = [
        f"{DIFFERS} {', '.join(models)} {where}: {what}" for (where, what), models in differs.items()
    ]
    if any(p["tuned"] for p in shown):
        out.notes.append(
            f"{TUNED} loss weights tuned by `bench tune` on the validation part of fold 1, which is test "
            "data of the other folds: optimistic."
        )
    return out
