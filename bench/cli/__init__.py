"""The ``bench`` command line: a thin shell over functions a notebook user can call too."""

from __future__ import annotations

import sys

import click
import typer

from bench import __version__
from bench.cli import data, methods, models, perf, report, reproduce, run, tables, tune
from bench.cli.common import err_console
from bench.core.errors import BenchError
from bench.core.faults import fault_line
from bench.tracking.store import code_version


def build_app() -> typer.Typer:
    """The command tree; built per call, so tables and models registered at run time appear in it."""
    root = typer.Typer(
        name="bench",
        help="deap-bench: benchmark EEG emotion-recognition models on DEAP (or its synthetic stand-in).",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
    )
    root.callback()(_root)
    root.add_typer(data.app, name="data")
    models.register(root)
    methods.register(root)
    run.register(root)
    tune.register(root)
    tables.register(root)
    reproduce.register(root)
    report.register(root)
    perf.register(root)
    return root


def version_line() -> str:
    """``deap-bench VERSION (commit SHA)``: the package version and, in a git checkout, the commit of the
    code (``-dirty`` with local changes), as every tracked run records them (bench.tracking.store)."""
    code = code_version()
    commit = "commit unknown: not a git checkout" if code == f"v{__version__}" else f"commit {code}"
    return f"deap-bench {__version__} ({commit})"


def _print_version(value: bool) -> None:
    """``--version`` is eager: it answers before any command runs, and ends the call."""
    if value:
        typer.echo(version_line())
        raise typer.Exit()


def _root(
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version and exit"
    ),
) -> None:
    """The root's options (only --version); the commands do the work."""


app = build_app()


def _classes(name: str) -> tuple[type, ...]:
    """An exception class from click and from the copy of click that newer typer versions vendor."""
    found = [getattr(click.exceptions, name, None), getattr(typer, name, None)]
    try:
        from typer._click import exceptions as vendored

        found.append(getattr(vendored, name, None))
    except ImportError:  # typer that uses click itself
        pass
    return tuple({c for c in found if isinstance(c, type)})


_EXIT, _USAGE, _ABORT = _classes("Exit"), _classes("ClickException"), _classes("Abort")


def main(argv: list[str] | None = None) -> int:
    """Entry point: user errors are one line on stderr and a non-zero exit, never a traceback."""
    import os

    # MLflow's store set-up chatter ("Creating initial MLflow database tables") is not for the terminal;
    # MLflow sets its loggers' level from this variable when it is imported (a user's own value wins)
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    try:
        rv = build_app()(args=argv, prog_name="bench", standalone_mode=False)
    except BenchError as exc:
        err_console.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        return 2
    except _EXIT as exc:
        return int(getattr(exc, "exit_code", getattr(exc, "code", 1)) or 0)
    except _USAGE as exc:
        err_console.print(f"error: {exc.format_message()}", markup=False, highlight=False, soft_wrap=True)
        return exc.exit_code
    except (*_ABORT, KeyboardInterrupt) as exc:
        # A command may re-raise KeyboardInterrupt with a line saying what was kept (see `bench run`).
        text = str(exc) if isinstance(exc, KeyboardInterrupt) else ""
        err_console.print(text or "interrupted", markup=False, highlight=False, soft_wrap=True)
        return 130
    except Exception as exc:
        # the machine's faults (a full disk, a read-only file system) are one line too; bugs are not
        line = fault_line(exc)
        if line is None:
            raise
        err_console.print(f"error: {line}", markup=False, highlight=False, soft_wrap=True)
        return 1
    return rv if isinstance(rv, int) else 0  # standalone_mode=False returns an Exit's code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
