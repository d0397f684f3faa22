"""``bench reproduce``: a grid of runs (the paper's by default) on one executor queue, then the report."""

from __future__ import annotations

import shlex
import sys
import time
from dataclasses import replace
from pathlib import Path

import typer
from rich.console import Group
from rich.live import Live
from rich.text import Text

from bench.cli.common import console, err_console
from bench.cli.data import DEAP_HELP
from bench.progress import GridReporter


def _fmt(seconds: float) -> str:
    from bench.estimate import format_seconds

    return format_seconds(seconds)


class LineReporter(GridReporter):
    """Plain progress lines (a pipe, a log file, CI): one when a worker takes a unit, one when it ends."""

    def __init__(self, echo=None) -> None:
        super().__init__()
        self.echo = echo or (lambda m: err_console.print(m, markup=False, highlight=False, soft_wrap=True))
        self.t0 = time.monotonic()

    def note(self, message: str) -> None:
        self.echo(message)

    def start(self, runs, jobs, slots) -> None:
        super().start(runs, jobs, slots)
        self.t0 = time.monotonic()
        reused = sum(len(r.results) for r in runs)
        self.echo(
            f"queue: {len(jobs)} units of {len(runs)} runs on {slots} worker(s)"
            + (f"; {reused} units already finished in MLflow are reused" if reused else "")
            + f"; estimated {_fmt(self.eta.seconds())}"
        )

    def job_started(self, job, slot: int) -> None:
        super().job_started(job, slot)
        self.echo(f"worker {slot + 1}: starts {job.name}")

    def job_finished(self, outcome) -> None:
        super().job_finished(outcome)
        what = "FAILED" if outcome.error is not None else "done"
        secs = (
            "" if outcome.error is not None else f" in {outcome.result.metrics.get('fit_seconds', 0):.0f} s"
        )
        self.echo(
            f"[{self.done}/{self.total}] {what} {outcome.job.name}{secs} | elapsed "
            f"{_fmt(time.monotonic() - self.t0)}, ETA {_fmt(self.eta.seconds())}"
        )

    def run_closed(self, report) -> None:
        self.echo(f"run {report.status}: {report.label} ({report.n_units} units)")


class LiveReporter(GridReporter):
    """A live view on a terminal: units done / total, elapsed, ETA, and what each worker is on."""

    def __init__(self) -> None:
        super().__init__()
        self.t0 = time.monotonic()
        self.epochs: dict[str, str] = {}
        self.closed: list[str] = []
        self.live = Live(self, console=err_console, refresh_per_second=2, transient=True)

    def __rich__(self) -> Group:
        failed = f", {self.failed} failed" if self.failed else ""
        lines = [
            Text(
                f"units {self.done}/{self.total}{failed} | elapsed {_fmt(time.monotonic() - self.t0)} | "
                f"ETA {_fmt(self.eta.seconds())}",
                style="bold",
            )
        ]
        for slot in sorted(self.running):
            job = self.running[slot]
            lines.append(Text(f"  worker {slot + 1}: {job.name} {self.epochs.get(job.name, '')}".rstrip()))
        lines += [Text(f"  {c}", style="dim") for c in self.closed[-3:]]
        return Group(*lines)

    def note(self, message: str) -> None:
        self.live.console.print(message, markup=False, highlight=False)

    def start(self, runs, jobs, slots) -> None:
        super().start(runs, jobs, slots)
        self.t0 = time.monotonic()
        self.live.start()

    def epoch(self, label, unit, row) -> None:
        if "subject" not in row:
            self.epochs[f"{label} {unit.key}"] = f"epoch {row['epoch']} val loss {row['val_loss']:.3f}"

    def run_closed(self, report) -> None:
        self.closed.append(f"run {report.status}: {report.label}")

    def stop(self) -> None:
        self.live.stop()


def _where(g) -> list[str]:
    """``--where`` filters that select the grid's scale in the tables (folds are left out: cross-subject
    runs may have fewer, one per subject; with several seeds every seed's run competes for its cell)."""
    import json

    sc = g.scale
    where = [
        f"train.max_epochs={sc.max_epochs}",
        "subjects=" + json.dumps(list(sc.subjects) if sc.subjects else None),
    ]
    return where + ([f"seed={sc.seeds[0]}"] if len(sc.seeds) == 1 else [])


def register(root: typer.Typer) -> None:
    @root.command("reproduce")
    def reproduce(
        preset: str | None = typer.Option(
            None, "--preset", help="Built-in grid (default rudakov2021: every table of the paper)"
        ),
        grid_file: Path | None = typer.Option(None, "--grid", help="Grid spec, a TOML file (see README)"),
        scale: str | None = typer.Option(
            None,
            "--scale",
            help="smoke (minutes) | small (default) | full (the paper's: 32 subjects, 200 ep)",
        ),
        deap: Path | None = typer.Option(None, "--deap", help=DEAP_HELP),
        executor: str | None = typer.Option(
            None, "--executor", help="local (default) | pool (--workers N) | dask (--scheduler)"
        ),
        workers: int | None = typer.Option(None, "--workers", help="Worker processes of the pool"),
        scheduler: str | None = typer.Option(None, "--scheduler", help="Dask scheduler, tcp://HOST:8786"),
        threads: int | None = typer.Option(None, "--threads", min=1, help="torch threads per unit"),
        device: str | None = typer.Option(None, "--device", help="auto | cpu | cuda"),
        tracking_uri: str | None = typer.Option(
            None, "--tracking-uri", help="MLflow store (default ./mlflow.db)"
        ),
        out: Path = typer.Option(Path("report"), "--out", "-o", help="Report folder"),
        plan_only: bool = typer.Option(
            False, "--plan", help="Print the runs, units and estimated time, train nothing"
        ),
        show: bool = typer.Option(False, "--show-grid", help="Print the grid's TOML (a starting point)"),
    ) -> None:
        """Run a whole grid (models x protocols x splits x variants x audits) on one executor queue, then
        write the report (tables, plots, provenance). Re-running the same command resumes."""
        from bench.config import DEVICES
        from bench.estimate import estimate_run, plan_table, plan_text, probe_prepared, unit_seconds
        from bench.executors import make_executor
        from bench.grid import load_grid, preset_text
        from bench.reproduce import prepare_runs, run_grid
        from bench.tracking import check_tracking_uri
        from bench.trainer import resolve_device

        t_start = time.monotonic()
        g = load_grid(preset=preset, path=grid_file, scale=scale, deap=deap)
        if show:
            if grid_file is not None:
                sys.stdout.write(grid_file.read_text())
            else:
                sys.stdout.write(preset_text(g.name))
            return
        ex = make_executor(executor, workers=workers, scheduler=scheduler)
        if device is not None:
            from bench.checks import check_option

            check_option("--device", device, DEVICES)
        dev = resolve_device(device or "auto")
        uri = check_tracking_uri(tracking_uri)
        configs = [
            (e.label, replace(e.config, device=device or "auto", num_threads=threads)) for e in g.entries
        ]
        for label, reason in g.skipped:
            err_console.print(f"skipped {label}: {reason}", markup=False, soft_wrap=True)
        say = lambda m: err_console.print(m, markup=False, soft_wrap=True)  # noqa: E731
        try:
            plans = prepare_runs([c for _, c in configs], deap=g.deap, echo=say)
        except KeyboardInterrupt:
            raise KeyboardInterrupt(
                "interrupted while preparing data: nothing was tracked in MLflow"
            ) from None
        say(f"Grid {g.name!r}, scale {g.scale_name}: {len(plans)} runs on {plans[0].features.kind} data "
            f"{plans[0].features.fingerprint}; probing each model's throughput ...")  # fmt: skip
        estimates = {id(p): estimate_run(p, probe_prepared(p, device=dev)) for p in plans}
        rows = [(_Row(e.label, e.model), estimates[id(p)]) for e, p in zip(g.entries, plans, strict=True)]
        title = f"Plan: grid {g.name}, scale {g.scale_name}, {ex.slots()} worker(s)"
        if sys.stderr.isatty():
            err_console.print(plan_table(rows, title=title))
        else:
            say(title + "\n" + plan_text(rows))
        total = sum(est.seconds_typical for est in estimates.values())
        say(f"Estimated wall time on {ex.slots()} worker(s): about {_fmt(total / max(1, ex.slots()))} "
            "(at typical epochs; the table gives the epoch cap too).")  # fmt: skip
        if plan_only:
            return
        tps = {id(p): probe_prepared(p, device=dev) for p in plans}
        reporter = LiveReporter() if sys.stderr.isatty() else LineReporter()
        say(f"Tracking to {uri}")
        try:
            res = run_grid(
                plans, tracking_uri=uri, executor=ex, reporter=reporter,
                cost=lambda p, unit, fold: unit_seconds(p, fold, tps[id(p)]),
            )  # fmt: skip
        finally:
            if isinstance(reporter, LiveReporter):
                reporter.stop()
        for r in res.failed:
            for key, err in r.errors:
                say(f"FAILED {r.label} {key}: {err}")
        say(res.summary() + f" in {_fmt(res.seconds)}.")
        _write_report(g, plans, uri, out, res, time.monotonic() - t_start)
        if res.failed:
            raise typer.Exit(1)


class _Row:
    """What the plan table needs of a run: its label and model."""

    def __init__(self, label: str, model: str) -> None:
        self.label, self.model = label, model


def _write_report(g, plans, uri: str, out: Path, res, wall: float) -> None:
    from bench.report import build_report
    from bench.results import load_store

    p = plans[0]
    store = load_store(uri, data=p.features.kind, fingerprint=p.features.fingerprint, where=_where(g))
    context = {
        "grid": g.name,
        "scale": f"{g.scale_name} (subjects {'all' if g.scale.subjects is None else len(g.scale.subjects)}, "
        f"{g.scale.n_folds} folds, up to {g.scale.max_epochs} epochs, seeds {list(g.scale.seeds)})",
        "runs": f"{len(res.runs) - len(res.failed)} of {len(res.runs)} finished",
        "command": "bench " + " ".join(shlex.quote(a) for a in sys.argv[1:])
        if sys.argv[1:]
        else "bench reproduce",
    }
    files = build_report(store, out, context=context)
    console.print(files.summary(), markup=False, soft_wrap=True)
