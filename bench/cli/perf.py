"""``bench perf``: this machine's matmul ceiling, every model's throughput against it, full-size estimates."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from bench.cli.common import console, err_console
from bench.config.run import DEVICES
from bench.core.checks import check_number, check_option
from bench.core.errors import ConfigError
from bench.core.files import atomic_write
from bench.models.registry import list_models
from bench.perf.measure import measure
from bench.perf.report import markdown, rich_tables

FORMATS = ("table", "md")


def register(app: typer.Typer) -> None:
    @app.command("perf")
    def perf(
        models: str | None = typer.Option(
            None, "--models", help="Comma-separated trainable models (default: every trainable model)"
        ),
        batch: int = typer.Option(64, "--batch", help="Training batch size"),
        quick: bool = typer.Option(
            False, "--quick", help="Few repetitions: a smoke check, not a measurement"
        ),
        device: str = typer.Option("auto", "--device", help="auto | cpu | cuda"),
        fmt: str = typer.Option("table", "--format", "-f", help="table (terminal) | md (for the README)"),
        json_path: Path | None = typer.Option(None, "--json", help="Write every raw number to this file"),
    ) -> None:
        """Measure the fp32 and bf16 matmul ceiling, each model's FLOPs per training sample and samples/s
        (fp32 / bf16, contiguous / channels-last) with its fraction of the ceiling, and the full-size
        wall time per protocol and for the default grid. One run: the numbers compare with each other."""
        check_option("--format", fmt, FORMATS)
        check_option("--device", device, DEVICES)
        check_number("--batch", batch, integer=True, low=1)
        if json_path is not None and not json_path.parent.is_dir():
            raise ConfigError(f"--json {json_path}: no folder {json_path.parent}")
        names = None
        if models is not None:
            trainable = [m.name for m in list_models() if m.trainable]
            names = [check_option("--models", m.strip(), trainable) for m in models.split(",") if m.strip()]
        report = measure(
            names, batch=batch, device=device, quick=quick,
            echo=lambda m: err_console.print(m, markup=False, highlight=False),
        )  # fmt: skip
        if json_path is not None:
            try:  # whole or not at all: a reader never sees half a report
                atomic_write(json_path, json.dumps(report.to_json(), indent=2) + "\n")
            except OSError as exc:
                raise ConfigError(f"--json {json_path}: cannot write ({exc.strerror or exc})") from None
        if fmt == "md":
            typer.echo(markdown(report))
        else:
            for part in rich_tables(report):
                console.print(part)
