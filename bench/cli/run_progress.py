"""How ``bench run`` shows its progress: rich bars on a terminal, plain timestamped lines anywhere else.

A run under ``nohup``, in CI or into a log file must never look like a hang, so off a terminal one
line is printed when a unit starts, after every epoch and when a unit ends (with the ETA). On a
terminal three bars follow the units, the epochs of the current unit and the batches of the current
epoch, each with its ETA. ``--quiet`` prints neither (errors, warnings and the result table stay);
``--verbose`` adds the epoch lines above the bars on a terminal, and a line per tenth of an epoch off
one.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from bench.core.checks import check_option
from bench.core.errors import ConfigError
from bench.runs.estimate import format_seconds
from bench.runs.progress import Reporter, epoch_line

VERBOSITIES = ("quiet", "normal", "verbose")


def verbosity(quiet: bool, verbose: bool) -> str:
    """``--quiet`` / ``--verbose`` as one value (both at once is refused)."""
    if quiet and verbose:
        raise ConfigError("--quiet and --verbose exclude each other")
    return "quiet" if quiet else "verbose" if verbose else "normal"


def stamp() -> str:
    """Local wall-clock time for plain progress lines (a log read later needs the date too)."""
    return time.strftime("%Y-%m-%d %H:%M:%S")


def format_duration(seconds: float) -> str:
    """``45 s``, ``3 min 20 s`` (:func:`bench.runs.estimate.format_seconds`, imported only when a line
    needs it:
    the estimate module loads torch)."""
    return format_seconds(seconds)


class RunReporter(Reporter):
    """Counts units and times them (the ETA and the Ctrl-C message); subclasses draw."""

    def __init__(self, level: str = "normal") -> None:
        check_option("verbosity", level, VERBOSITIES)
        self.level = level
        self.n_units: int | None = None
        self.n_reused = 0
        """Units taken from earlier FINISHED runs (resume): they end at once and take no time."""
        self.n_finished = 0
        """Units trained by this command."""
        self.t_first: float | None = None
        self.unit_t0: dict[str, float] = {}
        self.max_epochs = 0

    @property
    def n_done(self) -> int:
        return self.n_reused + self.n_finished

    def plan(self, n_units: int, n_done: int) -> None:
        self.n_units = n_units

    def unit_start(self, unit, max_epochs: int) -> None:
        now = time.monotonic()
        self.t_first = self.t_first if self.t_first is not None else now
        self.unit_t0[unit.key] = now
        self.max_epochs = max_epochs

    def unit_end(self, result) -> None:
        if getattr(result, "reused", False):
            self.n_reused += 1
        else:
            self.n_finished += 1

    def eta_seconds(self) -> float | None:
        """Seconds left: the mean wall time per unit trained here times the units left (None before one)."""
        if self.t_first is None or not self.n_finished or self.n_units is None:
            return None
        return (time.monotonic() - self.t_first) / self.n_finished * max(self.n_units - self.n_done, 0)

    def interrupted(self) -> str:
        """What Ctrl-C leaves behind, in one line (finished units are FINISHED runs; resume reuses them)."""
        if self.n_units is None:
            return "interrupted before training started: nothing was tracked in MLflow"
        return (
            f"interrupted: {self.n_done} of {self.n_units} units finished and kept in MLflow; run the same "
            "command again to resume"
        )


def resuming_line(n_units: int, n_done: int) -> str:
    return f"Resuming: {n_done} of {n_units} units already finished in MLflow."


def accuracy_summary(metrics: dict, tasks=("valence", "arousal")) -> str:
    """``test acc valence 71.3 % arousal 68.0 %`` from a unit's metrics (tasks it has only)."""
    parts = [f"{t} {100 * metrics[f'test_acc_{t}']:.1f} %" for t in tasks if f"test_acc_{t}" in metrics]
    return "test acc " + " ".join(parts) if parts else ""


class LineReporter(RunReporter):
    """Plain, timestamped lines: unit start, every epoch, unit end with the ETA (``verbose``: batches)."""

    def __init__(self, echo: Callable[[str], None], level: str = "normal") -> None:
        super().__init__(level)
        self.echo = echo
        self.next_batch_line = 0.0

    def _say(self, message: str) -> None:
        if self.level != "quiet":
            self.echo(f"{stamp()} {message}")

    def note(self, message: str) -> None:
        self._say(message)

    def plan(self, n_units: int, n_done: int) -> None:
        super().plan(n_units, n_done)
        self._say(f"{n_units} units")
        if n_done:
            self._say(resuming_line(n_units, n_done))

    def unit_start(self, unit, max_epochs: int) -> None:
        super().unit_start(unit, max_epochs)
        self.next_batch_line = 0.0
        self._say(f"{unit.key}: starts (up to {max_epochs} epoch{'s' if max_epochs != 1 else ''})")

    def epoch(self, unit, row: dict) -> None:
        self.next_batch_line = 0.0
        self._say(f"{unit.key}: {epoch_line(row, self.max_epochs)}")

    def batch(self, unit, done: int, total: int) -> None:
        if self.level == "verbose" and done >= self.next_batch_line * total:
            self._say(f"{unit.key}: batch {done}/{total}")
            self.next_batch_line = done / total + 0.1

    def unit_end(self, result) -> None:
        super().unit_end(result)
        if getattr(result, "reused", False):
            return  # said once, in the "Resuming" line
        t0 = self.unit_t0.pop(result.unit.key, None)
        took = f" in {format_duration(time.monotonic() - t0)}" if t0 is not None else ""
        done = self.n_done
        eta = self.eta_seconds()
        left = f", ETA {format_duration(eta)}" if eta is not None and done < (self.n_units or 0) else ""
        summary = accuracy_summary(result.metrics, result.unit.tasks)
        self._say(f"{result.unit.key}: done{took}: {summary} [{done}/{self.n_units} units{left}]")


class BarReporter(RunReporter):
    """Rich bars on a terminal: units, the epochs of the current unit, the batches of the current epoch."""

    def __init__(self, progress: Progress, level: str = "normal") -> None:
        super().__init__(level)
        self.progress = progress
        self.units = progress.add_task("units", total=None)
        self.epochs = None
        self.batches = None

    def note(self, message: str) -> None:
        self.progress.console.print(message, markup=False, highlight=False)

    def plan(self, n_units: int, n_done: int) -> None:
        super().plan(n_units, n_done)
        self.progress.update(self.units, total=n_units)
        if n_done:
            self.note(resuming_line(n_units, n_done))

    def unit_start(self, unit, max_epochs: int) -> None:
        super().unit_start(unit, max_epochs)
        for task in (self.epochs, self.batches):
            if task is not None:
                self.progress.remove_task(task)
        self.epochs = self.progress.add_task(f"{unit.key} epochs", total=max_epochs)
        self.batches = self.progress.add_task(f"{unit.key} batches", total=None)

    def epoch(self, unit, row: dict) -> None:
        if self.level == "verbose":
            self.note(f"{stamp()} {unit.key}: {epoch_line(row, self.max_epochs)}")
        if "subject" not in row and self.epochs is not None:
            desc = f"{unit.key} epochs | {epoch_line(row, None, short=True)}"
            self.progress.update(self.epochs, completed=row["epoch"], description=desc)

    def batch(self, unit, done: int, total: int) -> None:
        if self.batches is not None:
            if done == 1:
                self.progress.reset(self.batches, total=total)
            self.progress.update(self.batches, completed=done)

    def unit_end(self, result) -> None:
        super().unit_end(result)
        self.progress.advance(self.units)
        if self.level == "verbose" and not getattr(result, "reused", False):
            summary = accuracy_summary(result.metrics, result.unit.tasks)
            self.note(f"{stamp()} {result.unit.key}: done: {summary}")


def bar_columns() -> tuple:
    """Description, bar, done/total, elapsed and remaining time."""
    return (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )


class NoProgress:
    """A stand-in for a disabled rich Progress (``--quiet``): the same context manager, nothing drawn."""

    def __enter__(self) -> NoProgress:
        return self

    def __exit__(self, *exc) -> None:
        return None


def make_reporter(is_terminal: bool, level: str, echo: Callable[[str], None], console) -> tuple:
    """``(context, reporter)`` of ``bench run``: bars on a terminal, lines elsewhere, nothing if quiet."""
    if level == "quiet":
        return NoProgress(), LineReporter(echo, "quiet")
    if not is_terminal:
        return NoProgress(), LineReporter(echo, level)
    progress = Progress(*bar_columns(), console=console, transient=True)
    return progress, BarReporter(progress, level)
