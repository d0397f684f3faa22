"""``bench table NAME`` (one command per registered table), ``bench runs`` and ``bench ablate``."""

from __future__ import annotations

import inspect
import json
import sys
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperGroup

from bench import results as R
from bench.api.choices import data_choice
from bench.api.experiment import quick_epochs_line
from bench.api.settings import parse_subjects
from bench.api.tables import built_tables, check_table, print_renderables, runs_frame, runs_store
from bench.cli.common import (
    DATA_DIR_OPTION,
    DATASET_OPTION,
    DEAP_OPTION,
    EXECUTOR_OPTION,
    SCHEDULER_OPTION,
    SYNTHETIC_OPTION,
    WORKERS_OPTION,
    console,
    epochs_help,
    err_console,
)
from bench.cli.reproduce import run_grid_command
from bench.config.ablation import VARIANTS
from bench.config.run import QUICK_EPOCHS
from bench.core.errors import ConfigError
from bench.core.plots import plot_format
from bench.core.terminal import NAME, TEXT, Col, FitTable
from bench.data.source import kind_words
from bench.models.recipes import DEFAULT_MAX_EPOCHS
from bench.models.registry import get_model_info
from bench.results import list_tables
from bench.results.naming import cli_names
from bench.results.plots import plot as draw
from bench.results.store import list_datasets
from bench.runs.executors import make_executor
from bench.runs.grid import expand
from bench.tracking.uris import check_tracking_uri

STDOUT = "-"
"""``--output -``: the formatted table goes to stdout, as without --output (the usual Unix meaning)."""


class _TableGroup(TyperGroup):
    """An unknown table name is a one-line :class:`ConfigError` (exit 2), not a usage dump."""

    def resolve_command(self, ctx, args):
        name = args[0] if args else None
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            known = ", ".join(self.list_commands(ctx))
            raise ConfigError(f"unknown table {name!r}; known: {known}")
        return super().resolve_command(ctx, args)


def store_options() -> list[inspect.Parameter]:
    """The options that pick the runs (store, data, fingerprint, --where) and the metric, declared once
    for every table and for ``bench report``."""
    kw = inspect.Parameter.KEYWORD_ONLY
    opts: list[tuple[str, Any, Any]] = [
        (
            "data",
            str | None,
            typer.Option(
                None, "--data", help="synthetic | deap (default: synthetic if it has runs, else deap)"
            ),
        ),
        (
            "tracking_uri",
            str | None,
            typer.Option(None, "--tracking-uri", help="MLflow store (default ./mlflow.db)"),
        ),
        (
            "fingerprint",
            str | None,
            typer.Option(
                None,
                "--fingerprint",
                help="Data set to show: a prefix of its fingerprint (default: the data `bench run` uses "
                "by default if it has runs, else the one with most runs; `bench runs --datasets` lists them)",
            ),
        ),
        (
            "where",
            list[str] | None,
            typer.Option(
                None,
                "--where",
                help="Only runs whose config has this value, e.g. train.max_epochs=200 (repeatable)",
            ),
        ),
        ("metric", str, typer.Option("acc", "--metric", help="acc | trial-acc | balanced-acc | f1 | auc")),
    ]
    return [inspect.Parameter(n, kw, default=d, annotation=a) for n, a, d in opts]


def _shared() -> list[inspect.Parameter]:
    """The options every table takes, declared once: the store options plus where the table goes."""
    kw = inspect.Parameter.KEYWORD_ONLY
    opts: list[tuple[str, Any, Any]] = [
        (
            "fmt",
            str | None,
            typer.Option(
                None, "--format", "-f", help="md | latex | csv | html: to --output, or to stdout without it"
            ),
        ),
        (
            "output",
            Path | None,
            typer.Option(None, "--output", "-o", help="File to write (needs --format); - for stdout"),
        ),
        (
            "plot",
            Path | None,
            typer.Option(
                None,
                "--plot",
                help="Bar chart with 95% CI error bars (.png, .pdf, .svg or .jpg; comparison and protocols)",
            ),
        ),
    ]
    return store_options() + [inspect.Parameter(n, kw, default=d, annotation=a) for n, a, d in opts]


def _command(spec) -> Any:
    """A typer command for one registered table: the shared options plus the table's own."""
    kw = inspect.Parameter.KEYWORD_ONLY
    params = _shared()
    for o in spec.options:
        kind = bool if isinstance(o.default, bool) else type(o.default) if o.default is not None else str
        params.append(
            inspect.Parameter(
                o.name, kw, default=typer.Option(o.default, o.flag, help=o.help), annotation=kind
            )
        )

    def command(**kwargs: Any) -> None:
        with cli_names():  # errors name the flags (--where), not the Python arguments (where=)
            emit(spec.name, **kwargs)

    command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in params}
    command.__doc__ = spec.help
    command.__name__ = spec.name
    return command


def table_app() -> typer.Typer:
    """The ``bench table`` group, built from the table registry at call time."""
    app = typer.Typer(
        cls=_TableGroup,
        help="Result tables from the MLflow store: "
        + ", ".join(t.name for t in list_tables(across_pairs=True))
        + ".",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
    )
    for spec in list_tables(across_pairs=True):
        app.command(spec.name)(_command(spec))
    return app


def show(renderables: list) -> None:
    """Print tables and notes at the terminal's width (:func:`bench.api.tables.print_renderables`)."""
    print_renderables(console, renderables)


def emit(
    name: str,
    *,
    data: str | None,
    tracking_uri: str | None,
    fingerprint: str | None,
    where: list[str] | None,
    metric: str,
    fmt: str | None,
    output: Path | None,
    plot: Path | None,
    **options: Any,
) -> None:
    """Build a table from the store (:func:`bench.api.tables.built_tables`), then print it, write it, or
    print it in a format to stdout."""
    spec = check_table(name, metric, fmt)
    if output is not None and fmt is None:
        raise ConfigError("--output needs --format (e.g. --format md --output table.md)")
    if plot is not None and not spec.plot:
        plottable = ", ".join(t.name for t in R.list_tables(across_pairs=True) if t.plot)
        raise ConfigError(f"--plot is available for the {plottable} tables, not {name!r}")
    if plot is not None:
        plot_format("--plot", plot)
    to_stdout = output is not None and str(output) == STDOUT
    built = built_tables(
        name, data=data, tracking_uri=tracking_uri, fingerprint=fingerprint, where=where, metric=metric,
        **options,
    )  # fmt: skip
    if fmt is not None and (output is None or to_stdout):
        sys.stdout.write(R.render(built, fmt))
    else:
        show(R.to_rich(built))
    if output is not None and not to_stdout:
        err_console.print(f"Wrote {R.write(built, fmt, output)}", markup=False)
    if plot is not None:
        err_console.print(f"Wrote {draw(built, plot)}", markup=False)


def runs_table(store) -> Any:
    """The finished parents of the store's data set (:func:`bench.api.tables.runs_frame`): run id, cell,
    scale, other settings that set it apart."""
    frame = runs_frame(store)
    rows, example = [], None
    for _, r in frame.iterrows():
        others = r["other_settings"]
        if example is None and others and r["shown_as"] != "full":
            key, value = next(iter(others.items()))
            example = f"--where {key}={_where_value(value)}"
        mark = " *" if r["shown"] else ""
        rows.append([r["run_id"][:8] + mark, r["model"], r["cell"], r["scale"], r["other"]])
    columns = [Col("run", NAME), Col("model", NAME), Col("cell", NAME), Col("scale", TEXT)]
    caption = "*: the run the tables show for its cell (the newest). The tables show other runs with --where "
    caption += "KEY=VALUE of any setting" + (f" (e.g. {example})" if example else "")
    return FitTable(
        [*columns, Col("other settings", TEXT)], rows, title=f"Finished runs | {store.label}", caption=caption
    )


def _where_value(value: Any) -> str:
    """A setting's value as ``--where`` takes it: lists comma-joined (``subjects=1,2``), else JSON."""
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return value if isinstance(value, str) else json.dumps(value)


def datasets_table(sets, default, chosen: str) -> Any:
    """One row per data set of the store: kind, size, finished runs, newest run, fingerprint."""
    import time

    def when(ms: int) -> str:
        return time.strftime("%Y-%m-%d %H:%M", time.localtime(ms / 1000)) if ms else "?"

    rows = [
        [
            kind_words(d.kind) + (" *" if d == default else ""),
            str(d.n_subjects or "?"),
            str(d.n_trials or "?"),
            str(d.n_runs),
            when(d.newest),
            d.fingerprint,
        ]
        for d in sets
    ]
    columns = [Col("data", NAME), Col("subjects"), Col("trials"), Col("runs"), Col("newest run", NAME)]
    return FitTable(
        [*columns, Col("fingerprint", NAME)],
        rows,
        title="Data sets with finished runs",
        caption=f"*: the data set tables show by default: {chosen}. Pick another with --fingerprint PREFIX "
        "(a few first characters are enough).",
    )


def register(root: typer.Typer) -> None:
    root.add_typer(table_app(), name="table")

    @root.command("runs")
    def runs(
        data: str | None = typer.Option(None, "--data", help="synthetic | deap"),
        tracking_uri: str | None = typer.Option(None, "--tracking-uri", help="MLflow store"),
        fingerprint: str | None = typer.Option(
            None, "--fingerprint", help="Data set (a fingerprint prefix; default: as the tables pick it)"
        ),
        where: list[str] | None = typer.Option(None, "--where", help="key=value filter (repeatable)"),
        model: str | None = typer.Option(None, "--model", "-m", help="Only this model"),
        list_sets: bool = typer.Option(
            False, "--datasets", help="List the data sets instead: kind, size, runs, fingerprint"
        ),
    ) -> None:
        """List the finished runs the tables choose from (of one data set), with the settings that set
        them apart; --datasets lists the data sets of the store."""
        uri = check_tracking_uri(tracking_uri)
        if list_sets:
            if fingerprint is not None or where or model:
                raise ConfigError("--datasets lists every data set: drop --fingerprint, --where and --model")
            with cli_names():
                console.print(datasets_table(*list_datasets(uri, data)))
            return
        with cli_names():
            store = runs_store(uri, data=data, fingerprint=fingerprint, where=where, model=model)
        console.print(runs_table(store))
        for n in [*([store.others_note] if store.others_note else []), *store.notes]:
            err_console.print(n, markup=False)

    @root.command("ablate")
    def ablate(
        model: str = typer.Option("mtcnn", "--model", "-m", help="Model to ablate"),
        protocol: str = typer.Option("whole-set", "--protocol", "-p", help="Protocol"),
        split: str | None = typer.Option(None, "--split", help="trial (default) | segment | subject"),
        variants: str | None = typer.Option(
            None,
            "--variants",
            help="Comma-separated variants (default: the paper's grid; also: peripheral, plus-dasm, "
            "plus-hjorth)",
        ),
        folds: int | None = typer.Option(None, "--folds", help="Outer folds (default 5)"),
        subjects: str | None = typer.Option(None, "--subjects", help="Subjects, e.g. '1-32' or '1,3,5-8'"),
        epochs: int | None = typer.Option(None, "--epochs", min=1, help=epochs_help("Max epochs per run")),
        seed: int | None = typer.Option(None, "--seed", help="Random seed"),
        dataset: str | None = DATASET_OPTION,
        data_dir: Path | None = DATA_DIR_OPTION,
        deap: Path | None = DEAP_OPTION,
        synthetic: bool = SYNTHETIC_OPTION,
        device: str | None = typer.Option(None, "--device", help="auto | cpu | cuda"),
        threads: int | None = typer.Option(None, "--threads", min=1, help="torch.set_num_threads"),
        tracking_uri: str | None = typer.Option(None, "--tracking-uri", help="MLflow store"),
        executor: str | None = EXECUTOR_OPTION,
        workers: int | None = WORKERS_OPTION,
        scheduler: str | None = SCHEDULER_OPTION,
    ) -> None:
        """Run the ablation grid (full, only DE, only PSD, single-task, no dropout/BN/LR decay/balancing).

        A one-block grid run like `bench reproduce` (one executor queue; finished runs and units are
        reused); the ablation table of exactly that scale follows.
        """
        data = data_choice(dataset=dataset, data_dir=data_dir, deap=deap, synthetic=synthetic)
        name = data.name()
        sub = parse_subjects(subjects, name)
        ex = make_executor(executor, workers=workers, scheduler=scheduler)
        tracking_uri = check_tracking_uri(tracking_uri)
        grid = list(VARIANTS) if variants is None else [v.strip() for v in variants.split(",") if v.strip()]
        if data.embedded(name) and epochs is None:
            epochs = QUICK_EPOCHS
            err_console.print(quick_epochs_line())
        if epochs is None:
            epochs = int(get_model_info(model).defaults.get("max_epochs", DEFAULT_MAX_EPOCHS))
        run = {"models": [model], "protocols": [protocol], "variants": grid}
        if split is not None:
            run["splits"] = [split]
        doc = {
            "name": f"ablation-{model}",
            "scale": {
                "subjects": sub or "all",
                "n_folds": folds or 5,
                "max_epochs": epochs,
                "seeds": [seed or 0],
            },  # fmt: skip
            "runs": [run],
        }
        folder = None if data.folder is None else str(data.folder)
        g = expand(doc, source="bench ablate", deap=folder, dataset=name)
        plans, res = run_grid_command(
            g, ex, device=device, threads=threads, uri=tracking_uri, synthetic=data.twin(name),
        )  # fmt: skip
        p = plans[0]
        scale = [
            f"n_folds={p.config.n_folds}",
            f"seed={p.config.seed}",
            f"train.max_epochs={p.config.train.max_epochs}",
            "subjects=" + json.dumps(list(p.config.subjects) if p.config.subjects else None),
        ]

        with cli_names():
            store = R.load_store(
                tracking_uri, data=p.features.kind, fingerprint=p.features.fingerprint, where=scale
            )
            show(R.to_rich(R.build("ablation", store, model=model, protocol=protocol, split=p.split)))
        if res.failed:
            raise typer.Exit(1)
