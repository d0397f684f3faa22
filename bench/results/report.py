"""The report: every registered table, its plots, the statistics legend and the runs' provenance, as one
self-contained HTML page and one Markdown file, plus each table as CSV and LaTeX and each plot as PNG.

``bench reproduce`` ends with :func:`build_report`; ``bench report`` rebuilds it from the MLflow store
alone (no training). Nothing is recomputed: the tables come from :func:`bench.results.build`, the
renderers from :mod:`bench.results.render`, the plots from :mod:`bench.results.plots`. The same runs
give the same bytes (no timestamps, stable order), and every file is written to a temporary name and
moved in place, so an interrupted report never leaves a half-written file.
"""

from __future__ import annotations

import base64
import html
import json
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from bench.core.errors import ConfigError
from bench.core.files import atomic_write
from bench.core.stats import MIN_CI_N
from bench.core.tasks import n_classes, task_names
from bench.results import Store, Table, build, list_tables, render
from bench.results.cells import check_metric
from bench.results.plots import chance_label, plot
from bench.results.render import html_fragment
from bench.results.store import describe_scale, other_settings
from bench.results.table import model_names

NOT_RECORDED = "not recorded"
PLOT_DPI = 150

STANDARD_TAGS = frozenset(
    {
        "model", "protocol", "split", "data_kind", "synthetic", "data_fingerprint", "leaky", "audit",
        "config_fingerprint", "run_key", "code_version", "package_version", "n_subjects", "n_trials",
        "variant", "settings", "scale", "folds_fingerprint", "role", "hardware", "tuned_from",
    }
)  # fmt: skip
"""Parent tags (``bench.`` prefix removed) every run has or the provenance shows in its own column;
any other tag (e.g. one ``bench reproduce`` adds) is listed with the run."""

STATISTICS: tuple[str, ...] = (
    "Cells: mean ± std over the outer folds for pooled protocols, with a 95% CI from the corrected "
    "resampled variance s²·(1/k + n_test/n_train) (Nadeau & Bengio 2003), because the training sets of "
    "k folds overlap; for per-subject protocols each subject's folds are averaged first, then mean ± std "
    "over subjects with a Student-t CI. n is the number of folds or subjects. A CI is clipped to the "
    f"metric's range (0-100 %) and shown only from n = {MIN_CI_N}: with n = 2 the t quantile is 12.7, "
    "so the interval is ±9 std wide (2 subjects; more for 2 folds with the corrected variance), nearly the "
    "whole range, and says nothing.",
    "p: a paired test against MT-CNN (comparison) or the full model (ablation), Holm-corrected over the "
    "comparisons of one protocol/split. (t): corrected resampled t-test over folds (pooled protocols); "
    "(W): Wilcoxon signed-rank test over subjects (per-subject protocols). Runs are paired only when they "
    "share the same folds fingerprint; otherwise the cell reads 'n/a (other folds)'.",
    "°: not significantly above chance: a one-sided paired test against the better trivial baseline "
    "(majority, prior) on the same folds is not significant (Holm, α = 0.05). Without such a baseline "
    "run: the binomial adjusted chance level (Combrisson & Jerbi 2015) over the independent test units "
    "(trials, or subjects when folds are by subject; never windows). (chance) marks a trivial baseline.",
    "§: the design cannot reach significance at all, e.g. with 4 subjects the exact one-sided Wilcoxon "
    "test cannot go below p = 1/16 = 0.0625.",
    "†: the run shown differs in scale (epochs, folds, seed, subjects, precision) from the rest of its "
    "table, or other finished runs of the same cell exist (the newest is shown); the footnote names them "
    "and --where KEY=VALUE picks one.",
    "‡: loss weights tuned by bench tune on data that is test data of other folds: optimistic. The "
    "leaderboard ranks such runs only with --include-tuned.",
    "reported / paper: numbers copied from the papers (DEAP, their own protocols, mostly leaky "
    "segment-level folds). They are never ours and never enter a test.",
    "Leakage: the segment split (windows of one trial in train and test) and the select-on-test audit are "
    "leaky; they appear only in the leakage table and part B of the protocols table, where Δ is the "
    "inflation they cause.",
    "One decision rule everywhere: class 'high' when its probability is above 0.5; an exact tie is 'low'.",
)

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
  font-size: 15px; line-height: 1.45; color: #1d1d1f; margin: 0 auto; max-width: 1320px; padding: 24px; }
h1 { font-size: 26px; margin: 0 0 8px; } h2 { font-size: 21px; margin-top: 36px;
  border-bottom: 2px solid #d0d7de; padding-bottom: 4px; } h3 { font-size: 16px; margin: 22px 0 6px; }
.synthetic { background: #fff1c2; border: 3px solid #c00; color: #900; font-size: 18px;
  font-weight: bold; padding: 10px 14px; margin: 10px 0 16px; }
.help { color: #57606a; margin: 4px 0 8px; }
table { border-collapse: collapse; font-size: 13px; margin: 6px 0 10px; display: block;
  overflow-x: auto; max-width: 100%; }
th, td { border: 1px solid #d0d7de; padding: 4px 8px; text-align: right; vertical-align: top; }
th { background: #f3f4f6; } th.text, td.text, .prov td, .prov th { text-align: left; }
tr:nth-child(even) td { background: #fafbfc; }
td.reported, th.reported, tr.reported td { background: #eef3fb; color: #3a4a6b; font-style: italic; }
ul { font-size: 13px; color: #333; padding-left: 22px; } li { margin: 2px 0; }
ul.meta { font-size: 15px; color: #1d1d1f; }
pre { background: #f6f8fa; border: 1px solid #d0d7de; padding: 8px; font-size: 12px;
  white-space: pre-wrap; overflow-wrap: anywhere; }
figure { margin: 10px 0 18px; } img { max-width: 100%; border: 1px solid #d0d7de; }
figcaption { font-size: 13px; color: #57606a; }
nav a { margin-right: 14px; } code { font-size: 13px; }
"""


@dataclass
class ReportFiles:
    """The files a report wrote (paths inside its ``out_dir``)."""

    out_dir: Path
    markdown: Path
    html: Path
    tables: list[Path] = field(default_factory=list)
    plots: list[Path] = field(default_factory=list)

    @property
    def paths(self) -> list[Path]:
        return [self.html, self.markdown, *self.tables, *self.plots]

    def summary(self) -> str:
        """One line for the terminal: files, tables and plots written."""
        n_tables = len({p.stem for p in self.tables})
        return (
            f"Wrote {self.html}, {self.markdown}, {n_tables} tables (csv, tex), "
            f"{len(self.plots)} plot{'' if len(self.plots) == 1 else 's'}"
        )


@dataclass
class _Section:
    """One registered table in the report: its built tables (or why none) and its plot."""

    name: str
    help: str
    tables: list[Table]
    error: str = ""
    plot: bytes | None = None
    plot_note: str = ""


# --------------------------------------------------------------------------------------- content
def _build_sections(store: Store, metric: str, scratch: Path) -> list[_Section]:
    """Every registered table that applies to the store (:func:`list_tables`: the methods table only where
    it holds a training method's runs), in registry order, with a PNG of those that have a plot."""
    sections = []
    for spec in list_tables(store=store):
        try:
            tables = build(spec.name, store, metric=metric)
        except ConfigError as exc:  # a table that cannot be built from these runs says why, in place
            sections.append(_Section(spec.name, spec.help, [], error=str(exc)))
            continue
        sec = _Section(spec.name, spec.help, tables)
        if spec.plot and tables:
            try:
                sec.plot = plot(tables, scratch / f"{spec.name}.png", dpi=PLOT_DPI).read_bytes()
            except ConfigError as exc:  # e.g. every cell not run
                sec.plot_note = f"no plot: {exc}"
        sections.append(sec)
    return sections


def _duration(seconds: float) -> str:
    if not seconds or seconds != seconds or seconds < 0:
        return NOT_RECORDED
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, sec = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {sec:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _hardware(tags: Mapping[str, str]) -> str:
    raw = tags.get("hardware")
    if not raw:
        return NOT_RECORDED
    try:
        value = json.loads(raw)
    except ValueError:
        return raw
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items())
    return str(value)


def _ordered_parents(store: Store) -> pd.DataFrame:
    """The shown runs in reading order: model registry order, then protocol, split, audit, variant."""
    order = {m: i for i, m in enumerate(model_names())}
    p = store.parents.copy()
    p["_order"] = p["model"].map(lambda m: order.get(m, len(order)))
    return p.sort_values(
        ["_order", "model", "protocol", "split", "audit", "variant", "run_id"], kind="stable"
    )


def _context_table(context: Mapping[str, Any]) -> Table:
    ctx = pd.DataFrame({"key": [str(k) for k in context], "value": [str(v) for v in context.values()]})
    return Table("provenance-context", "How this report was made", ctx, ctx, text_columns=("key", "value"))


def provenance_tables(store: Store, context: Mapping[str, Any] | None = None) -> list[Table]:
    """The caller's context, code versions and one row per shown run (cell, scale, deviations,
    hardware, times), as :class:`Table` objects so the ordinary renderers draw them."""
    parents = _ordered_parents(store)
    units = store.units.drop_duplicates(["parent_id", "unit"])
    compute = units.groupby("parent_id")["fit_seconds"].sum(min_count=1)
    unit_wall = units.groupby("parent_id")["wall_seconds"].sum(min_count=1)
    rows = []
    for _, r in parents.iterrows():
        extra = {k: v for k, v in r["tags"].items() if k not in STANDARD_TAGS}
        deviations = [f"{k}={json.dumps(v)}" for k, v in other_settings(r).items()]
        deviations += [f"tag {k}={v}" for k, v in sorted(extra.items())]
        if r["tuned"]:
            deviations.append(f"loss weights tuned ({r['tuned']})")
        cell = f"{r['protocol']}/{r['split']}" + (" (leaky)" if r["leaky"] else "")
        rows.append(
            {
                "run": r["run_id"][:8],
                "model": r["model"],
                "protocol/split": cell,
                "audit": r["audit"],
                "variant": r["variant"],
                "scale": describe_scale(r, n_subjects=r["n_subjects"]),
                "deviations from default": ", ".join(deviations) or "none",
                "hardware": _hardware(r["tags"]),
                "unit wall time": _duration(float(unit_wall.get(r["run_id"], float("nan")))),
                "unit compute": _duration(float(compute.get(r["run_id"], float("nan")))),
                "code": r["code_version"],
            }
        )
    runs = pd.DataFrame(rows)
    versions = (
        parents.groupby("code_version", sort=True)["run_id"]
        .agg(lambda ids: ", ".join(i[:8] for i in ids))
        .reset_index()
        .rename(columns={"code_version": "code version", "run_id": "runs"})
    )
    if len(versions) == 1:
        versions["runs"] = f"all {len(parents)} runs"
    out = [] if not context else [_context_table(context)]
    out += [
        Table("provenance-code", "Code versions", versions, versions, text_columns=("code version", "runs")),
        Table(
            "provenance-runs",
            f"Runs shown ({len(parents)})",
            runs,
            runs,
            notes=[
                "unit wall time: the sum of its units' MLflow run times (training, testing and tracking); "
                "unit compute: the sum of their fit times (fit_seconds). A run's own start and end say "
                "little: in a grid, its units wait in one queue with every other run's.",
                "hardware: the parent tag bench.hardware; 'not recorded' for runs made before it existed.",
            ],
            text_columns=(
                "run",
                "protocol/split",
                "audit",
                "scale",
                "deviations from default",
                "hardware",
                "code",
            ),  # fmt: skip
        ),
    ]
    return out


def _synthetic(store: Store) -> bool:
    """The store's runs are on a synthetic twin (kind ``synthetic`` for DEAP, ``NAME-synthetic`` else)."""
    return store.data_kind == "synthetic" or store.data_kind.endswith("-synthetic")


def _stands_for(store: Store) -> str:
    """The real data the store's runs are on or stand in for: ``DEAP``, ``SEED``, ``the real datasets``."""
    ds = store.registered_dataset
    return ds.title if ds is not None else "the real datasets"


def _header_items(store: Store, metric: str) -> list[tuple[str, str]]:
    what = _stands_for(store)
    items = [
        ("data", f"SYNTHETIC (generated stand-in for {what})" if _synthetic(store) else what),
        ("data fingerprint", store.fingerprint),
        ("runs shown", f"{len(store.parents)} (of {len(store.runs)} finished)"),
        ("metric", metric),
        (
            "reported / paper",
            "columns and rows with the papers' own numbers (shaded in the HTML); never ours",
        ),
    ]
    if store.where:
        items.append(("runs picked with", " ".join(f"--where {w}" for w in store.where)))
    if store.others:
        items.append(("other data sets in the store", "; ".join(d.describe() for d in store.others)))
    return items


def _synthetic_warning(store: Store) -> str:
    return (
        f"SYNTHETIC DATA: these numbers test the harness on generated signals; they say nothing about "
        f"{_stands_for(store)} and must never be quoted as results."
    )


def _plot_caption(sec: _Section) -> str:
    """The caption of a section's plot: one dotted chance line per class count of its tasks (the plot
    draws the same lines: :func:`bench.results.plots.plot`)."""
    tasks = {t for table in sec.tables if "task" in table.data for t in table.data["task"]}
    counts = sorted({n_classes(t) for t in tasks if t in task_names()}) or [2]
    lines = "; ".join(chance_label(k) for k in counts)
    return f"Bars: mean; error bars: 95% CI (none where n < {MIN_CI_N}); dotted line: {lines}."


# ------------------------------------------------------------------------------------- markdown
def _markdown(store: Store, metric: str, sections: list[_Section], prov: list[Table]) -> str:
    lines = [f"# deap-bench report | {store.label}", ""]
    if _synthetic(store):
        lines += [f"> **{_synthetic_warning(store)}**", ""]
    lines += [f"- {k}: {v}" for k, v in _header_items(store, metric)] + [""]
    for sec in sections:
        lines += [f"## {sec.name}", "", sec.help, ""]
        if sec.error:
            lines += [f"Not built: {sec.error}", ""]
            continue
        lines.append(render(sec.tables, "md"))
        if sec.plot:
            lines += [f"![{sec.name}: {_plot_caption(sec)}](plots/{sec.name}.png)", ""]
        elif sec.plot_note:
            lines += [sec.plot_note, ""]
    lines += ["## Statistics", "", *[f"- {s}" for s in STATISTICS], ""]
    lines += ["## Provenance", "", f"- data: {store.data_kind}, fingerprint {store.fingerprint}", ""]
    lines += [render([t], "md") for t in prov]
    return "\n".join(lines).rstrip("\n") + "\n"


# ----------------------------------------------------------------------------------------- html
def _html(store: Store, metric: str, sections: list[_Section], prov: list[Table]) -> str:
    esc = html.escape
    title = f"deap-bench report | {store.label}"
    body = [f"<h1>{esc(title)}</h1>"]
    if _synthetic(store):
        body.append(f'<div class="synthetic">{esc(_synthetic_warning(store))}</div>')
    items = "".join(f"<li><b>{esc(k)}</b>: {esc(v)}</li>" for k, v in _header_items(store, metric))
    body.append(f'<ul class="meta">{items}</ul>')
    links = [(s.name, s.name) for s in sections] + [
        ("statistics", "Statistics"),
        ("provenance", "Provenance"),
    ]
    body.append("<nav>" + "".join(f'<a href="#{a}">{esc(t)}</a>' for a, t in links) + "</nav>")
    for sec in sections:
        body.append(f'<section id="{esc(sec.name)}"><h2>{esc(sec.name)}</h2>')
        body.append(f'<p class="help">{esc(sec.help)}</p>')
        if sec.error:
            body.append(f"<p>Not built: {esc(sec.error)}</p>")
        else:
            body.append(html_fragment(sec.tables, level=3, classes=True))
        if sec.plot:
            data = base64.b64encode(sec.plot).decode("ascii")
            body.append(
                f'<figure><img src="data:image/png;base64,{data}" alt="{esc(sec.name)} bar chart">'
                f"<figcaption>{esc(sec.name)}: {esc(_plot_caption(sec))}</figcaption></figure>"
            )
        elif sec.plot_note:
            body.append(f"<p>{esc(sec.plot_note)}</p>")
        body.append("</section>")
    body.append('<section id="statistics"><h2>Statistics</h2><ul>')
    body.append("".join(f"<li>{esc(s)}</li>" for s in STATISTICS) + "</ul></section>")
    body.append('<section id="provenance" class="prov"><h2>Provenance</h2>')
    body.append(f"<p><b>data</b>: {esc(store.data_kind)}, fingerprint {esc(store.fingerprint)}</p>")
    body += [html_fragment([t], level=3, classes=True) for t in prov]  # each table with its own notes
    body.append("</section>")
    head = f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>'
    head += f"<style>{_CSS}</style></head><body>"
    return "\n".join([head, *body, "</body></html>"]) + "\n"


# ---------------------------------------------------------------------------------------- writing
def grid_cells(grid: Any) -> list[tuple[str, ...]]:
    """The cells a grid (:class:`bench.runs.grid.Grid`) asks for: ``(model, protocol, split, audit, variant)``
    of each of its runs, with the training method last where it has one (the methods table's cells: a
    plain cell is never asked for by a method run)."""
    cells: list[tuple[str, ...]] = []
    for e in grid.entries:
        cell = (e.model, e.protocol, e.split, e.audit, e.variant)
        method = getattr(e, "method", "none")
        cells.append(cell if method == "none" else (*cell, method))
    return cells


def build_report(
    store: Store,
    out_dir: str | Path,
    *,
    metric: str = "acc",
    context: Mapping[str, Any] | None = None,
    grid: Any | None = None,
) -> ReportFiles:
    """Write the report of ``store`` into ``out_dir``: ``report.html`` (self-contained), ``report.md``,
    ``tables/<name>.csv|.tex`` and ``plots/<name>.png``. ``context`` (e.g. the grid, scale and command
    of ``bench reproduce``) is shown in the provenance. With ``grid`` (the :class:`bench.runs.grid.Grid` the
    runs come from) a missing cell is "not run", with a command to fill it, only where the grid asked for
    it (:func:`grid_cells`): a grid of two models does not list nine others as not run. Raises
    :class:`ConfigError` for a store without finished runs and for an ``out_dir`` that cannot be
    written."""
    check_metric(metric)
    if grid is not None:
        store = store.asking(grid_cells(grid))
    if store.parents.empty:
        raise ConfigError(
            f"no finished runs on {store.label}: nothing to report; run bench reproduce first "
            "(or bench run ...)"
        )
    out = Path(out_dir)
    with tempfile.TemporaryDirectory(prefix="deap-bench-report-") as scratch:
        sections = _build_sections(store, metric, Path(scratch))
    prov = provenance_tables(store, context)
    files: dict[Path, bytes] = {}
    result = ReportFiles(out, out / "report.md", out / "report.html")
    for sec in sections:
        if sec.tables:
            for ext, fmt in (("csv", "csv"), ("tex", "latex")):
                path = out / "tables" / f"{sec.name}.{ext}"
                files[path] = render(sec.tables, fmt).encode("utf-8")
                result.tables.append(path)
        if sec.plot:
            path = out / "plots" / f"{sec.name}.png"
            files[path] = sec.plot
            result.plots.append(path)
    # the pages last, so the files they name are in place when they appear
    files[result.markdown] = _markdown(store, metric, sections, prov).encode("utf-8")
    files[result.html] = _html(store, metric, sections, prov).encode("utf-8")
    try:
        for path, data in files.items():
            atomic_write(path, data)
    except OSError as exc:
        raise ConfigError(f"{out}: cannot write the report ({exc.strerror or exc})") from None
    return result
