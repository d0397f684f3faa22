"""The ``bench`` command line: a thin shell over functions a notebook user can call too."""

from __future__ import annotations

import sys

import click
import typer

from bench.cli.common import err_console
from bench.errors import BenchError

app = typer.Typer(
    name="bench",
    help="deap-bench: benchmark EEG emotion-recognition models on DEAP (or its synthetic stand-in).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _register() -> None:
    from bench.cli import data, models

    app.add_typer(data.app, name="data")
    models.register(app)
    try:
        from bench.cli import run
    except ImportError:  # pragma: no cover - during bootstrap of the runner
        return
    run.register(app)
    from bench.cli import tune

    tune.register(app)
    from bench.cli import tables

    tables.register(app)


_register()


def main(argv: list[str] | None = None) -> int:
    """Entry point: user errors are one line on stderr and a non-zero exit, never a traceback."""
    try:
        app(args=argv, prog_name="bench", standalone_mode=False)
    except BenchError as exc:
        err_console.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        return 2
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.exceptions.ClickException as exc:
        err_console.print(f"error: {exc.format_message()}", markup=False, highlight=False, soft_wrap=True)
        return exc.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt):
        err_console.print("interrupted", markup=False)
        return 130
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
