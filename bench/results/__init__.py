"""The results layer: finished runs in MLflow -> cells with statistics -> tables -> text and plots.

Pure functions a notebook user can call::

    from bench.results import load_store, build
    store = load_store("sqlite:///mlflow.db", data="synthetic", where=["train.max_epochs=200"])
    [tab] = build("comparison", store, metric="trial-acc")
    tab.data      # tidy numbers (one row per model x protocol x split x task)
    tab.frame     # the formatted cells, as printed

Modules: :mod:`~bench.results.store` (reading runs, one per cell), :mod:`~bench.results.cells`
(statistics of a cell and of pairs), one module per table registered with
:func:`~bench.results.table.register_table`, :mod:`~bench.results.render` and
:mod:`~bench.results.plots`. A new table is one module plus its name in
:data:`~bench.results.table.BUILTIN_TABLES`.
"""

from __future__ import annotations

from bench.results.cells import METRICS, Cell, cell, paired_test
from bench.results.render import FORMATS, render, to_csv, to_html, to_latex, to_markdown, to_rich, write
from bench.results.store import Store, find_parent, load_store
from bench.results.table import (
    BUILTIN_TABLES,
    NOT_RUN,
    Table,
    TableOption,
    build,
    get_table,
    list_tables,
    register_table,
    unregister_table,
)

__all__ = [
    "FORMATS",
    "METRICS",
    "NOT_RUN",
    "BUILTIN_TABLES",
    "Cell",
    "Store",
    "Table",
    "TableOption",
    "build",
    "cell",
    "find_parent",
    "get_table",
    "list_tables",
    "load_store",
    "paired_test",
    "register_table",
    "render",
    "to_csv",
    "to_html",
    "to_latex",
    "to_markdown",
    "to_rich",
    "unregister_table",
    "write",
]
