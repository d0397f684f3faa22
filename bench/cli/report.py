"""``bench report``: the report of the finished runs in the MLflow store (no training)."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import typer

from bench.api.grids import write_report
from bench.cli.common import (
    DATA_DIR_OPTION,
    DATASET_OPTION,
    DEAP_OPTION,
    SYNTHETIC_OPTION,
    console,
    err_console,
)
from bench.cli.tables import store_options
from bench.results.naming import cli_names


def report(
    *,
    data: str | None,
    tracking_uri: str | None,
    fingerprint: str | None,
    where: list[str] | None,
    metric: str,
    out: Path,
    preset: str | None = None,
    grid_file: Path | None = None,
    scale: str | None = None,
    deap: Path | None = None,
    dataset: str | None = None,
    data_dir: Path | None = None,
    synthetic: bool = False,
) -> None:
    """Write every table, its plots, the statistics legend and the runs' provenance into --out
    (report.html, self-contained; report.md; tables/*.csv|.tex; plots/*.png). With --preset/--grid
    (and --scale and the data options --dataset, --data-dir, --deap, --synthetic, as given to `bench
    reproduce`): the report `bench reproduce` wrote for that grid, rebuilt from the store."""
    echo = lambda m: err_console.print(m, markup=False, soft_wrap=True)  # noqa: E731
    files = write_report(
        out, tracking_uri=tracking_uri, data=data, fingerprint=fingerprint, where=where, metric=metric,
        preset=preset, grid=grid_file, scale=scale, dataset=dataset, data_dir=data_dir, deap=deap,
        synthetic=synthetic, echo=echo,
    )  # fmt: skip
    console.print(files.summary(), markup=False, soft_wrap=True)


def register(root: typer.Typer) -> None:
    """``bench report``, with the store options of ``bench table`` plus ``--out``."""
    kw = inspect.Parameter.KEYWORD_ONLY
    out = typer.Option(Path("report"), "--out", "-o", help="Folder to write the report into")
    grid = [
        ("preset", str | None, typer.Option(None, "--preset", help="The report of this built-in grid")),
        ("grid_file", Path | None, typer.Option(None, "--grid", help="The report of this grid file")),
        ("scale", str | None, typer.Option(None, "--scale", help="smoke | small | full (with the grid)")),
        ("dataset", str | None, DATASET_OPTION),
        ("data_dir", Path | None, DATA_DIR_OPTION),
        ("deap", Path | None, DEAP_OPTION),
        ("synthetic", bool, SYNTHETIC_OPTION),
    ]
    params = [*store_options(), inspect.Parameter("out", kw, default=out, annotation=Path)]
    params += [inspect.Parameter(n, kw, default=d, annotation=a) for n, a, d in grid]

    def command(**kwargs: Any) -> None:
        with cli_names():  # errors name the flags (--where), not the Python arguments (where=)
            report(**kwargs)

    command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in params}
    command.__doc__ = report.__doc__
    root.command("report")(command)
