"""``bench reproduce``: a grid of runs (the paper's by default) on one executor queue, then the report."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import typer
from rich.console import Group
from rich.live import Live
from rich.text import Text

from bench.api.choices import data_choice
from bench.api.grids import (
    data_grid,
    grid_command,
    grid_configs,
    grid_synthetic,
    scale_data,
    write_grid_report,
)
from bench.cli.common import (
    COMPILE_HELP,
    DATA_DIR_OPTION,
    DATASET_OPTION,
    DEAP_OPTION,
    EXECUTOR_OPTION,
    LOG_MODEL_HELP,
    SCHEDULER_OPTION,
    SYNTHETIC_OPTION,
    WORKERS_OPTION,
    console,
    err_console,
    exit_interrupted,
)
from bench.cli.run_progress import format_duration as _fmt
from bench.cli.run_progress import stamp, verbosity
from bench.config.run import DEVICES
from bench.core.checks import check_option
from bench.core.errors import ConfigError
from bench.core.host import resolve_device
from bench.runs.estimate import (
    assumptions,
    command_seconds,
    estimate_run,
    plan_table,
    plan_text,
    probe_prepared,
    unit_seconds,
)
from bench.runs.executors import make_executor
from bench.runs.finished import finished_in_store
from bench.runs.grid import DEFAULT_PRESET, preset_text
from bench.runs.overhead import pace
from bench.runs.progress import GridReporter, Pulse, epoch_line
from bench.runs.reproduce import prepare_runs, run_grid
from bench.tracking.uris import check_tracking_uri, sqlite_path


def queue_line(reporter: GridReporter, runs, jobs, slots: int) -> str:
    """What the queue holds when a grid starts: units to run, units reused, the estimate."""
    reused = sum(len(r.results) for r in runs)
    return (
        f"queue: {len(jobs)} units of {len(runs)} runs on {slots} worker(s)"
        + (f"; {reused} units already finished in MLflow are reused" if reused else "")
        + f"; estimated {_fmt(reporter.eta.seconds())}"
    )


class LineReporter(GridReporter):
    """Plain progress lines (a pipe, a log file, CI): one when a worker takes a unit, one when it ends."""

    def __init__(self, echo=None, *, verbose: bool = False) -> None:
        super().__init__()
        self.echo = echo or (
            lambda m: err_console.print(f"{stamp()} {m}", markup=False, highlight=False, soft_wrap=True)
        )
        self.verbose = verbose
        self.t0 = time.monotonic()

    def note(self, message: str) -> None:
        self.echo(message)

    def start(self, runs, jobs, slots) -> None:
        super().start(runs, jobs, slots)
        self.t0 = time.monotonic()
        self.echo(queue_line(self, runs, jobs, slots))

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

    def epoch(self, label, unit, row) -> None:
        if self.verbose:
            self.echo(f"{label} {unit.key} {epoch_line(row, None)}")

    def run_closed(self, report) -> None:
        self.echo(f"run {report.status}: {report.label} ({report.n_units} units)")


class LiveReporter(GridReporter):
    """A live view on a terminal: units done / total, elapsed, ETA, and what each worker is on."""

    def __init__(self, *, verbose: bool = False) -> None:
        super().__init__()
        self.t0 = time.monotonic()
        self.verbose = verbose
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
        err_console.print(queue_line(self, runs, jobs, slots), markup=False, highlight=False)
        self.live.start()

    def epoch(self, label, unit, row) -> None:
        if "subject" not in row:
            self.epochs[f"{label} {unit.key}"] = f"epoch {row['epoch']} {epoch_line(row, None, short=True)}"
        if self.verbose:
            self.note(f"{label} {unit.key} {epoch_line(row, None)}")

    def run_closed(self, report) -> None:
        self.closed.append(f"run {report.status}: {report.label}")

    def stop(self) -> None:
        self.live.stop()


def make_grid_reporter(level: str) -> GridReporter:
    """The progress view of a grid at ``level`` (:func:`bench.cli.run_progress.verbosity`): none when
    quiet, a live view on a terminal, timestamped lines elsewhere; verbose adds a line per epoch."""
    if level == "quiet":
        return GridReporter()
    verbose = level == "verbose"
    return LiveReporter(verbose=verbose) if sys.stderr.isatty() else LineReporter(verbose=verbose)


def run_grid_command(g, ex, *, device: str | None, threads: int | None, uri: str, plan_only: bool = False,
                     synthetic=None, log_model: bool = False, compile: bool = False,
                     level: str = "normal"):  # fmt: skip
    """Prepare every run of grid ``g``, print the plan (estimated from a throughput probe of each model),
    then, unless ``plan_only``, run the grid on executor ``ex`` with a progress view. Returns the plans
    and the :class:`~bench.runs.reproduce.GridResult` (None with ``plan_only``). ``level="quiet"`` prints only
    skipped runs, failures and the summary (the plan too with ``plan_only``: it is what was asked for)."""
    dev = resolve_device(device or "auto")  # --device cuda without CUDA: refused before any data
    if hasattr(ex, "connect"):
        ex.connect()  # an unreachable Dask scheduler: refused before any data
    say = lambda m: err_console.print(m, markup=False, soft_wrap=True)  # noqa: E731
    info = say if level != "quiet" or plan_only else (lambda m: None)
    pulse = Pulse(info)  # every step below takes a second or more: never a silent stretch
    for label, reason in g.skipped:
        say(f"skipped {label}: {reason}")
    if not g.entries:
        raise ConfigError(f"grid {g.name!r} has no run to do (every entry was skipped)")
    pulse.say(f"Grid {g.name!r}, scale {g.scale_name}: {len(g.entries)} runs; preparing the data and each "
              "run's folds ...")  # fmt: skip
    configs = grid_configs(g, device=device, threads=threads, log_model=log_model, compile=compile)
    synthetic = synthetic or scale_data(g)
    labels = [e.label for e in g.entries]
    preparing = lambda i, n: pulse.step(f"preparing run {i} of {n}: {labels[i - 1]}")  # noqa: E731
    try:
        with pulse.during("... still preparing (features are computed once per subject, then cached)"):
            plans = prepare_runs(configs, deap=g.deap, synthetic=synthetic, echo=pulse.say, step=preparing)
    except KeyboardInterrupt:
        exit_interrupted(
            "interrupted while preparing data: nothing was tracked in MLflow (finished feature cache entries "
            "are kept); run the same command again to go on"
        )
    fs = plans[0].features
    pulse.say(f"Data: {fs.kind} {fs.fingerprint}; probing each model's throughput (a few training steps "
              "each) ...")  # fmt: skip
    step = lambda i, n: pulse.step(f"probing run {i} of {n}: {labels[i - 1]}")  # noqa: E731
    with pulse.during("... still probing"):
        tps, pace_s = _probe_all(
            plans, dev, threads or getattr(ex, "threads_per_worker", lambda: None)(), step=step
        )
    done = finished_in_store(plans, uri)  # what a run reuses costs nothing (read only: nothing is created)
    rows = [
        (e, estimate_run(p, tps[id(p)], done[id(p)], pace_s)) for e, p in zip(g.entries, plans, strict=True)
    ]
    slots = ex.slots()
    title = f"Plan: grid {g.name}, scale {g.scale_name}, {slots} worker(s)"
    if level == "quiet" and not plan_only:
        pass
    elif sys.stderr.isatty():
        err_console.print(plan_table(rows, title=title))
    else:
        say(title + "\n" + plan_text(rows))
    per_unit = threads or getattr(ex, "threads_per_worker", torch_threads)()
    todo, reused = sum(est.units for _, est in rows), sum(est.reused for _, est in rows)
    new_store = (db := sqlite_path(uri)) is not None and not db.exists()
    total = sum(est.seconds_typical for _, est in rows) / slots
    total += command_seconds(todo, new_store=new_store, pace_s=pace_s)
    reuse = f" ({reused} units finished in MLflow are reused)" if reused else ""
    info(f"Estimated: about {_fmt(total)} for the {todo} units to run on {slots} worker(s) at "
         f"typical epochs{reuse}.")  # fmt: skip
    info(assumptions(per_unit, pace_s))
    if plan_only:
        return plans, None
    reporter = make_grid_reporter(level)
    try:
        res = run_grid(
            plans, tracking_uri=uri, executor=ex, reporter=reporter,
            cost=lambda p, unit, fold: unit_seconds(p, fold, tps[id(p)], pace_s=pace_s),
        )  # fmt: skip
    except KeyboardInterrupt as exc:  # run_grid's line says what was kept
        if isinstance(reporter, LiveReporter):
            reporter.stop()
        exit_interrupted(str(exc) or "interrupted")
    finally:
        if isinstance(reporter, LiveReporter):
            reporter.stop()
    for r in res.failed:
        for key, err in r.errors:
            say(f"FAILED {r.label} {key}: {err}")
    say(res.summary() + f" in {_fmt(res.seconds)}.")
    return plans, res


def _probe_all(plans, device, threads: int | None, step=None) -> tuple[dict, float]:
    """Each run's throughput (by ``id``), probed with the torch threads a unit will have (a pool worker's
    share), and the machine's pace for the tracking overheads (:func:`bench.runs.overhead.pace`: the fastest
    of one sample before each probe); ``step(i, n)`` before the ``i``-th run's probe (a progress line)."""
    import torch

    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(int(threads))
    try:
        out, paces = {}, []
        for i, p in enumerate(plans, start=1):
            if step is not None:
                step(i, len(plans))
            paces.append(pace(1))
            out[id(p)] = probe_prepared(p, device=device)
        return out, min(paces)
    finally:
        torch.set_num_threads(before)


def torch_threads() -> int:
    import torch

    return torch.get_num_threads()


def register(root: typer.Typer) -> None:
    @root.command("reproduce")
    def reproduce(
        preset: str | None = typer.Option(
            None, "--preset", help="Built-in grid (default rudakov2021: every table of the paper)"
        ),
        grid_file: Path | None = typer.Option(
            None, "--grid", help="Grid spec, a TOML file (user guide: Grids)"
        ),
        scale: str | None = typer.Option(
            None,
            "--scale",
            help="smoke (minutes) | small (default) | full (the paper's: all subjects, 200 ep)",
        ),
        dataset: str | None = DATASET_OPTION,
        data_dir: Path | None = DATA_DIR_OPTION,
        deap: Path | None = DEAP_OPTION,
        synthetic: bool = SYNTHETIC_OPTION,
        executor: str | None = EXECUTOR_OPTION,
        workers: int | None = WORKERS_OPTION,
        scheduler: str | None = SCHEDULER_OPTION,
        threads: int | None = typer.Option(None, "--threads", min=1, help="torch threads per unit"),
        device: str | None = typer.Option(None, "--device", help="auto | cpu | cuda"),
        tracking_uri: str | None = typer.Option(
            None, "--tracking-uri", help="MLflow store (default ./mlflow.db)"
        ),
        out: Path = typer.Option(Path("report"), "--out", "-o", help="Report folder (default ./report)"),
        plan_only: bool = typer.Option(
            False, "--plan", help="Print the runs, units and estimated time; train nothing"
        ),
        show: bool = typer.Option(False, "--show-grid", help="Print the grid's TOML (a starting point)"),
        log_model: bool = typer.Option(False, "--log-model", help=LOG_MODEL_HELP),
        compile_: bool = typer.Option(False, "--compile", help=COMPILE_HELP),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress or plan (errors, summary only)"),
        verbose: bool = typer.Option(False, "--verbose", "-v", help="A line per epoch of every unit too"),
    ) -> None:
        """Run a whole grid (models x protocols x splits x variants x audits) on one executor queue, then
        write the report (tables, plots, provenance). Re-running the same command resumes."""
        data = data_choice(dataset=dataset, data_dir=data_dir, deap=deap, synthetic=synthetic)
        level = verbosity(quiet, verbose)
        name = grid_file if grid_file is not None else preset or DEFAULT_PRESET
        talk = not show and (level != "quiet" or plan_only)
        pulse = Pulse(lambda m: talk and err_console.print(m, markup=False, highlight=False, soft_wrap=True))
        with pulse.during(f"... loading grid {name} (each run's settings are checked)"):  # a bad one: 1 line
            g = data_grid(data, preset=preset, path=grid_file, scale=scale)
        if show:
            sys.stdout.write(grid_file.read_text() if grid_file is not None else preset_text(g.name))
            return
        ex = make_executor(executor, workers=workers, scheduler=scheduler)
        if device is not None:
            check_option("--device", device, DEVICES)
        uri = check_tracking_uri(tracking_uri)
        plans, res = run_grid_command(
            g, ex, device=device, threads=threads, uri=uri, plan_only=plan_only, log_model=log_model,
            compile=compile_, level=level, synthetic=grid_synthetic(g, data),
        )  # fmt: skip
        if res is None:
            return
        pulse = Pulse(lambda m: level == "quiet" or err_console.print(m, markup=False, highlight=False))
        pulse.say(f"Writing the report to {out} ...")
        with pulse.during("... still writing the report"):
            files = write_grid_report(g, plans[0].features, uri, out, grid_command(g, grid_file, data))
            console.print(files.summary(), markup=False, soft_wrap=True)
        if res.failed:
            raise typer.Exit(1)
