"""The tables page: every registered result table (``bench table NAME``), what it shows and its options.

Read from each :class:`bench.results.table.TableSpec` of the table registry (its help line, options and
flags) and from the docstring of the module that registers it (what the table shows and why), plus the
options every table shares (:data:`bench.results.METRICS`, :data:`bench.results.FORMATS`).
"""

from __future__ import annotations

import inspect

from bench.results import FORMATS, METRICS
from bench.results.table import TableSpec, list_tables
from registry_pages.markup import code, code_block, fields, generated_note, heading, page, prose, table, text


def _options(spec: TableSpec) -> str:
    if not spec.options:
        return "none beyond the shared ones"
    rows = [
        (code(o.flag), code(o.default) if o.default is not None else "none", text(o.help))
        for o in spec.options
    ]
    return table(("option", "default", "what"), rows, escaped=True)


def table_section(spec: TableSpec) -> str:
    """One table: its help line, the docstring of its module, its flags and options."""
    module = inspect.getmodule(spec.build)
    rows = [
        ("command", code(f"bench table {spec.name}")),
        ("shows", text(spec.help)),
        ("defined in", f"{{py:mod}}`{module.__name__}`" if module else "unknown"),
        ("plot", "`--plot` draws it (bars with 95 % CI)" if spec.plot else "no"),
        (
            "data",
            text("every cross-dataset pair of a kind (real or synthetic)")
            if spec.across_pairs
            else text("one data set of the store (a section of `bench report`)"),
        ),
    ]
    blocks = [heading(spec.name, 2, target=f"table-{spec.name}"), fields(rows)]
    doc = inspect.getdoc(module) if module else None
    if doc:
        blocks.append(prose(doc))
    blocks += [heading("Options", 3), _options(spec)]
    return page(*blocks)


def tables_page() -> str:
    """The page: a summary, the shared options, then one section per registered table."""
    specs = list_tables(across_pairs=True)
    summary = [(f"[{text(s.name)}](#table-{s.name})", text(s.help)) for s in specs]
    return page(
        heading("Tables", target="tables-page"),
        generated_note("the table registry (bench.results.table)"),
        text(
            "Each table reads the finished runs of an MLflow store and shows one data set: real and "
            "synthetic results are never mixed, and paper-reported numbers appear as reported, in a column "
            "of their own, never as results of this harness."
        ),
        table(("table", "shows"), summary, escaped=True),
        heading("Options every table shares", 2),
        fields(
            [
                ("--metric", ", ".join(code(m) for m in METRICS) + " (default `acc`)"),
                ("--format", ", ".join(code(f) for f in FORMATS) + " (besides the terminal's)"),
                ("--data", text("the kind of data: synthetic or a dataset's real runs, never both")),
                ("--tracking-uri", text("the MLflow store (default ./mlflow.db)")),
                ("--fingerprint", text("the data set to show, by a prefix of its fingerprint")),
                ("--where KEY=VALUE", text("only runs whose config has this value (repeatable)")),
            ]
        ),
        code_block("bench table --help\nbench table comparison --help", "bash"),
        *(table_section(s) for s in specs),
    )
