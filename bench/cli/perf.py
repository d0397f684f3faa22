"""``bench perf``: this machine's matmul ceiling, every model's throughput against it, full-size estimates."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import typer

from bench.cli.common import console, err_console
from bench.config.run import DEVICES
from bench.core.checks import check_number, check_option
from bench.core.errors import ConfigError
from bench.core.files import atomic_write
from bench.models.registry import list_models
from bench.perf import profile_report
from bench.perf.measure import PerfReport, measure
from bench.perf.memory import UnitMemory, memory_of_models
from bench.perf.piece import Piece, measure_piece
from bench.perf.profile import profile_models
from bench.perf.report import extras_json, extras_markdown, extras_tables, markdown, rich_tables

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
        fmt: str = typer.Option("table", "--format", "-f", help="table (terminal) | md (for the docs)"),
        json_path: Path | None = typer.Option(None, "--json", help="Write every raw number to this file"),
        profile: str | None = typer.Option(
            None,
            "--profile",
            help="Comma-separated trainable models: instead of the throughput tables, a roofline per layer "
            "(each layer alone beside its op limit, and where the step's time goes), fp32 and native bf16",
        ),
        memory: bool = typer.Option(
            False, "--memory", help="Peak memory of each model's whole-set unit at DEAP size (a child each)"
        ),
        piece: str | None = typer.Option(
            None, "--piece", help="Time one full-size whole-set epoch of this model beside its estimate"
        ),
    ) -> None:
        """Measure the fp32 and bf16 matmul ceiling, each model's FLOPs per training sample and samples/s
        (fp32 / bf16, contiguous / channels-last) with its fraction of the ceiling, and the full-size
        wall time per protocol and for the default grid. One run: the numbers compare with each other."""
        check_option("--format", fmt, FORMATS)
        check_option("--device", device, DEVICES)
        check_number("--batch", batch, integer=True, low=1)
        if json_path is not None and not json_path.parent.is_dir():
            raise ConfigError(f"--json {json_path}: no folder {json_path.parent}")
        trainable = [m.name for m in list_models() if m.trainable]
        names = None
        if models is not None:
            names = [check_option("--models", m.strip(), trainable) for m in models.split(",") if m.strip()]
        echo = _echo
        if profile is not None:
            picked = [
                check_option("--profile", m.strip(), trainable) for m in profile.split(",") if m.strip()
            ]
            if not picked:
                raise ConfigError("--profile: name at least one trainable model")
            _profile(picked, batch=batch, device=device, quick=quick, fmt=fmt, json_path=json_path, echo=echo)
            return
        if piece is not None:
            check_option("--piece", piece, trainable)
        report = measure(names, batch=batch, device=device, quick=quick, echo=echo)
        mem, cut = extras(report, memory=memory, piece=piece, device=device)
        _write_json(json_path, extras_json(report.to_json(), mem, cut))
        if fmt == "md":
            typer.echo(markdown(report) + extras_markdown(mem, cut))
        else:
            for part in rich_tables(report) + extras_tables(mem, cut):
                console.print(part)


def _write_json(path: Path | None, data: dict) -> None:
    """``--json``: whole or not at all, so a reader never sees half a report."""
    if path is None:
        return
    try:
        atomic_write(path, json.dumps(data, indent=2) + "\n")
    except OSError as exc:
        raise ConfigError(f"--json {path}: cannot write ({exc.strerror or exc})") from None


def _profile(names: list[str], *, batch: int, device: str, quick: bool, fmt: str, json_path, echo) -> None:
    """``bench perf --profile``: the machine, the ceiling and a roofline per layer of each model."""
    mach, ceilings, profiles = profile_models(names, batch=batch, device=device, quick=quick, echo=echo)
    _write_json(json_path, {"machine": mach, "ceiling": ceilings, "profiles": [asdict(p) for p in profiles]})
    head = (
        f"Machine: {mach['cpu']}; device {mach['device']}; torch {mach['torch']}, {mach['threads']} threads. "
        f"Matmul ceiling: fp32 {ceilings['fp32']:,.0f} GFLOP/s, bf16 {ceilings['bf16']:,.0f} GFLOP/s."
    )
    if fmt == "md":
        typer.echo(head + "\n\n" + profile_report.markdown(profiles, ceilings))
        return
    console.print(head)
    for part in profile_report.rich_tables(profiles, ceilings):
        console.print(part)


def extras(
    report: PerfReport, *, memory: bool, piece: str | None, device: str
) -> tuple[list[UnitMemory] | None, Piece | None]:
    """``--memory`` (a child per measured model) and ``--piece`` (one model's full-size epoch, at the
    rates just measured), after the throughput timings so that neither disturbs them."""
    s = report.settings
    names = [mp.name for mp in report.models]
    mem = memory_of_models(names, batch=s["batch"], device=device, echo=_echo) if memory else None
    cut = None
    if piece is not None:
        cut = measure_piece(piece, report.models, batch=s["batch"], device=device, warmup=s["warmup"],
                            reps=s["reps"], echo=_echo)  # fmt: skip
    return mem, cut


def _echo(message: str) -> None:
    err_console.print(message, markup=False, highlight=False)
