"""``bench table NAME`` (comparison, protocols, leakage, ablation, leaderboard) and ``bench ablate``."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer
from typer.core import TyperGroup

from bench.cli.common import console, err_console, parse_subjects
from bench.cli.data import DEAP_HELP
from bench.errors import ConfigError


class _TableGroup(TyperGroup):
    """An unknown table name is a one-line :class:`ConfigError` (exit 2), not a usage dump."""

    def resolve_command(self, ctx, args):
        name = args[0] if args else None
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            known = ", ".join(self.list_commands(ctx))
            raise ConfigError(f"unknown table {name!r}; known: {known}")
        return super().resolve_command(ctx, args)


app = typer.Typer(
    cls=_TableGroup,
    help="Result tables from the MLflow store: comparison, protocols, leakage, ablation, leaderboard.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

_DATA = typer.Option(None, "--data", help="synthetic | deap (default: synthetic if it has runs, else deap)")
_URI = typer.Option(None, "--tracking-uri", help="MLflow store (default ./mlflow.db)")
_FMT = typer.Option(None, "--format", "-f", help="md | latex | csv | html (needs --output)")
_OUT = typer.Option(None, "--output", "-o", help="File to write in --format")
_PLOT = typer.Option(None, "--plot", help="Bar chart with 95% CI error bars (.png or .svg)")
_FP = typer.Option(None, "--fingerprint", help="Data fingerprint to show (default: the newest run's)")


def show(renderables: list) -> None:
    """Print tables; notes and commands are soft-wrapped so a command stays one copyable line."""
    from rich.text import Text

    for r in renderables:
        console.print(r, soft_wrap=isinstance(r, Text))


def emit(
    name: str,
    *,
    data: str | None,
    tracking_uri: str | None,
    fmt: str | None,
    output: Path | None,
    plot_path: Path | None,
    fingerprint: str | None = None,
    **options,
) -> None:
    """Build a table from the store, print it, and write the requested file and plot."""
    from bench import tables as T

    if fmt is not None and fmt not in T.FORMATS:
        raise ConfigError(f"--format {fmt!r} is not known; allowed: {', '.join(T.FORMATS)}")
    if (fmt is None) != (output is None):
        raise ConfigError("--format and --output go together (e.g. --format md --output table.md)")
    if plot_path is not None and name not in ("comparison", "protocols"):
        raise ConfigError(f"--plot is available for the comparison and protocols tables, not {name!r}")
    if plot_path is not None and plot_path.suffix.lower() not in (".png", ".svg"):
        raise ConfigError(f"--plot {plot_path}: the file must end in .png or .svg")
    store = T.load_store(tracking_uri, data=data, fingerprint=fingerprint)
    built = T.build(name, store, **options)
    show(T.to_rich(built))
    if fmt is not None:
        path = T.write(built, fmt, output)
        err_console.print(f"Wrote {path}", markup=False)
    if plot_path is not None:
        path = T.plot(built, plot_path)
        err_console.print(f"Wrote {path}", markup=False)


@app.command("comparison")
def comparison(
    data: str | None = _DATA,
    tracking_uri: str | None = _URI,
    fmt: str | None = _FMT,
    output: Path | None = _OUT,
    plot: Path | None = _PLOT,
    fingerprint: str | None = _FP,
) -> None:
    """Models x protocols/splits: accuracy mean ± std, 95% CI, n, p vs MT-CNN, chance, paper-reported."""
    emit(
        "comparison",
        data=data,
        tracking_uri=tracking_uri,
        fmt=fmt,
        output=output,
        plot_path=plot,
        fingerprint=fingerprint,
    )


@app.command("protocols")
def protocols(
    data: str | None = _DATA,
    tracking_uri: str | None = _URI,
    fmt: str | None = _FMT,
    output: Path | None = _OUT,
    plot: Path | None = _PLOT,
    fingerprint: str | None = _FP,
    split: str = typer.Option("trial", "--split", help="Split of the protocol comparison"),
) -> None:
    """Subject-specific vs whole-set per model (with the paper's row); segment vs trial leakage inflation."""
    emit(
        "protocols",
        data=data,
        tracking_uri=tracking_uri,
        fmt=fmt,
        output=output,
        plot_path=plot,
        fingerprint=fingerprint,
        split=split,
    )


@app.command("leakage")
def leakage(
    data: str | None = _DATA,
    tracking_uri: str | None = _URI,
    fmt: str | None = _FMT,
    output: Path | None = _OUT,
    plot: Path | None = _PLOT,
    fingerprint: str | None = _FP,
) -> None:
    """Trial split vs segment split vs segment + select-on-test audit, and each leak's inflation."""
    emit(
        "leakage",
        data=data,
        tracking_uri=tracking_uri,
        fmt=fmt,
        output=output,
        plot_path=plot,
        fingerprint=fingerprint,
    )


@app.command("ablation")
def ablation(
    data: str | None = _DATA,
    tracking_uri: str | None = _URI,
    fmt: str | None = _FMT,
    output: Path | None = _OUT,
    plot: Path | None = _PLOT,
    fingerprint: str | None = _FP,
    model: str = typer.Option("mtcnn", "--model", "-m", help="Ablated model"),
    protocol: str = typer.Option("whole-set", "--protocol", "-p", help="Protocol"),
    split: str = typer.Option("trial", "--split", help="Split"),
) -> None:
    """Each ablation variant vs the full model, with the paper's values beside."""
    emit(
        "ablation",
        data=data,
        tracking_uri=tracking_uri,
        fmt=fmt,
        output=output,
        plot_path=plot,
        fingerprint=fingerprint,
        model=model,
        protocol=protocol,
        split=split,
    )


@app.command("leaderboard")
def leaderboard(
    data: str | None = _DATA,
    tracking_uri: str | None = _URI,
    fmt: str | None = _FMT,
    output: Path | None = _OUT,
    plot: Path | None = _PLOT,
    fingerprint: str | None = _FP,
) -> None:
    """One ranked table per protocol and split of every finished, leak-free run."""
    emit(
        "leaderboard",
        data=data,
        tracking_uri=tracking_uri,
        fmt=fmt,
        output=output,
        plot_path=plot,
        fingerprint=fingerprint,
    )


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="table")

    @root.command("ablate")
    def ablate(
        model: str = typer.Option("mtcnn", "--model", "-m", help="Model to ablate"),
        protocol: str = typer.Option("whole-set", "--protocol", "-p", help="Protocol"),
        split: str | None = typer.Option(None, "--split", help="trial (default) | segment | subject"),
        variants: str | None = typer.Option(
            None, "--variants", help="Comma-separated subset of the grid (default: all)"
        ),
        folds: int | None = typer.Option(None, "--folds", help="Outer folds (default 5)"),
        subjects: str | None = typer.Option(None, "--subjects", help="Subjects, e.g. '1-32' or '1,3,5-8'"),
        epochs: int | None = typer.Option(None, "--epochs", min=1, help="Max epochs"),
        seed: int | None = typer.Option(None, "--seed", help="Random seed"),
        deap: Path | None = typer.Option(None, "--deap", help=DEAP_HELP),
        synthetic: bool = typer.Option(False, "--synthetic", help="Use the embedded synthetic DEAP"),
        device: str | None = typer.Option(None, "--device", help="auto | cpu | cuda"),
        threads: int | None = typer.Option(None, "--threads", min=1, help="torch.set_num_threads"),
        tracking_uri: str | None = _URI,
    ) -> None:
        """Run the ablation grid (full, only DE, only PSD, single-task, no dropout/BN/LR decay/balancing).

        Finished variants are reused (each run resumes by its run key); the ablation table follows.
        """
        from bench import tables as T
        from bench.cli.run import QUICK_EPOCHS, RichReporter
        from bench.config import RunConfig, TrainConfig
        from bench.data.source import default_synthetic_config
        from bench.runner import prepare, run_experiment

        if deap is not None and synthetic:
            raise ConfigError("--deap and --synthetic exclude each other")
        grid = T.VARIANTS
        if variants is not None:
            grid = tuple(v.strip() for v in variants.split(",") if v.strip())
            bad = [v for v in grid if v not in T.VARIANTS]
            if not grid or bad:
                raise ConfigError(f"--variants {variants!r}: allowed values are {', '.join(T.VARIANTS)}")
        embedded = deap is None and not os.environ.get("DEAP_DIR")
        if embedded and epochs is None:
            epochs = QUICK_EPOCHS
            err_console.print(
                f"Embedded synthetic default: at most {QUICK_EPOCHS} epochs (--epochs N for more)."
            )
        sub = parse_subjects(subjects)
        base = RunConfig(
            model=model,
            protocol=protocol,
            split=split,
            n_folds=folds or 5,
            seed=seed or 0,
            subjects=tuple(sub) if sub else None,
            train=TrainConfig(max_epochs=epochs),
            device=device or "auto",
            num_threads=threads,
        )
        features = None
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        for name, cfg in T.ablation_configs(base, grid):
            try:
                p = prepare(
                    cfg,
                    deap=deap,
                    synthetic=default_synthetic_config() if synthetic else None,
                    features=features,
                    echo=lambda m: err_console.print(m, markup=False),
                )
            except ConfigError as exc:
                err_console.print(f"{name}: skipped ({exc})", markup=False)
                continue
            features = p.features
            err_console.print(f"ablation variant {name}", markup=False)
            with Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=err_console,
                transient=True,
                disable=not sys.stderr.isatty(),
            ) as bar:
                run_experiment(cfg, tracking_uri=tracking_uri, reporter=RichReporter(bar), prepared=p)
        if features is None:
            raise ConfigError(f"no ablation variant applies to model {model!r}")
        store = T.load_store(tracking_uri, data=features.kind, fingerprint=features.fingerprint)
        split_used = split or p.split
        show(T.to_rich([T.ablation_table(store, model=model, protocol=protocol, split=split_used)]))
