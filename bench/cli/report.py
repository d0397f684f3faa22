"""``bench report``: the report of the finished runs in the MLflow store (no training)."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import typer

from bench.cli.common import console
from bench.cli.tables import store_options


def report(
    *,
    data: str | None,
    tracking_uri: str | None,
    fingerprint: str | None,
    where: list[str] | None,
    metric: str,
    out: Path,
) -> None:
    """Write every table, its plots, the statistics legend and the runs' provenance into --out
    (report.html, self-contained; report.md; tables/*.csv|.tex; plots/*.png)."""
    from bench.report import build_report
    from bench.results import load_store
    from bench.results.cells import check_metric
    from bench.tracking import check_tracking_uri

    check_metric(metric)
    store = load_store(
        check_tracking_uri(tracking_uri),
        data=data,
        fingerprint=fingerprint,
        where=where,
        first="bench reproduce",
    )
    console.print(build_report(store, out, metric=metric).summary(), markup=False, soft_wrap=True)


def register(root: typer.Typer) -> None:
    """``bench report``, with the store options of ``bench table`` plus ``--out``."""
    kw = inspect.Parameter.KEYWORD_ONLY
    out = typer.Option(Path("report"), "--out", "-o", help="Folder to write the report into")
    params = [*store_options(), inspect.Parameter("out", kw, default=out, annotation=Path)]

    def command(**kwargs: Any) -> None:
        report(**kwargs)

    command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in params}
    command.__doc__ = report.__doc__
    root.command("report")(command)
