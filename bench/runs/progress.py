"""Progress callbacks of a run (the plan, each unit's start and epochs, each finished unit) and of a
grid of runs on one executor queue (what each worker is on, units done, the ETA).

It lives in its own module so that :mod:`bench.runs.unit` (which reports epochs) and the runner
(``bench/runner.py``, which reports the plan and finished units) both import it, and the unit layer
never has to import the runner.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench.runs.plan import Unit
    from bench.runs.unit import UnitResult


def epoch_line(row: dict, max_epochs: int | None, *, short: bool = False) -> str:
    """One epoch of :func:`bench.training.trainer.fit`'s history in words; "valid" is the validation part.

    ``epoch 2/10 train loss 0.651 valid loss 0.612 valid acc valence 71.2 % arousal 69.0 %``;
    ``short`` leaves out the epoch and the training loss (a progress bar shows those).
    """
    accs = " ".join(
        f"{k.removeprefix('valid_acc_')} {100 * v:.1f} %" for k, v in row.items()
        if k.startswith("valid_acc_")
    )  # fmt: skip
    stage = f" (fine-tuning subject {row['subject']})" if "subject" in row else ""
    valid = f"valid loss {row['valid_loss']:.3f}" + (f" valid acc {accs}" if accs else "")
    if short:
        return valid
    of = f"/{max_epochs}" if max_epochs else ""
    return f"epoch {row['epoch']}{of}{stage} train loss {row['train_loss']:.3f} {valid}"


class Reporter:
    """Progress callbacks; the CLI draws them with rich, library users may subclass or ignore."""

    def note(self, message: str) -> None: ...
    def plan(self, n_units: int, n_done: int) -> None: ...
    def unit_start(self, unit: Unit, max_epochs: int) -> None: ...
    def epoch(self, unit: Unit, row: dict) -> None:
        """One finished epoch: a row of :func:`bench.training.trainer.fit`'s history."""

    def batch(self, unit: Unit, done: int, total: int) -> None:
        """``done`` of the epoch's ``total`` training batches are through (every batch: keep it cheap)."""

    def unit_end(self, result: UnitResult) -> None: ...


class GridReporter:
    """Progress callbacks of a grid of runs on one executor queue (:func:`bench.runs.reproduce.run_grid`).

    The base class keeps the counts and the ETA (:class:`Eta`); the CLI draws them (rich on a terminal,
    plain lines elsewhere). ``running`` maps a worker slot to the job it is on.
    """

    def __init__(self) -> None:
        self.total = 0
        self.done = 0
        self.failed = 0
        self.running: dict[int, object] = {}
        self.eta = Eta()

    def note(self, message: str) -> None: ...

    def start(self, runs: list, jobs: list, slots: int) -> None:
        """The queue is known: ``jobs`` (each with an estimated ``cost`` in seconds) on ``slots`` workers."""
        self.total = len(jobs)
        self.eta = Eta(sum(j.cost for j in jobs), slots)

    def job_started(self, job, slot: int) -> None:
        self.running[slot] = job
        self.eta.started(job)

    def job_finished(self, outcome) -> None:
        for slot, job in list(self.running.items()):
            if job is outcome.job:
                del self.running[slot]
        self.done += 1
        self.failed += outcome.error is not None
        self.eta.finished(outcome.job)

    def epoch(self, label: str, unit: Unit, row: dict) -> None: ...
    def run_closed(self, report) -> None: ...


class Eta:
    """Remaining wall time of a queue: the estimated cost left, scaled by how the finished jobs compared
    with their estimates, spread over the worker slots.

    ``cost`` of a job is its estimated seconds on one worker (:mod:`bench.runs.estimate`); before any job has
    finished the estimate is taken as it is.
    """

    def __init__(self, total_cost: float = 0.0, slots: int = 1) -> None:
        self.left = float(total_cost)
        self.slots = max(1, int(slots))
        self.begun: dict[int, float] = {}
        self.spent = 0.0
        self.estimated = 0.0

    def started(self, job) -> None:
        self.begun[id(job)] = time.monotonic()

    def finished(self, job) -> None:
        t = self.begun.pop(id(job), None)
        self.left = max(0.0, self.left - job.cost)
        if t is not None and job.cost > 0:
            self.spent += time.monotonic() - t
            self.estimated += job.cost

    @property
    def ratio(self) -> float:
        """Measured / estimated seconds over the jobs finished so far (1 before any)."""
        return self.spent / self.estimated if self.estimated > 0 else 1.0

    def seconds(self) -> float:
        """Estimated seconds until the queue is empty."""
        return self.left * self.ratio / self.slots


PULSE_S = 3.0
"""Seconds after a line at which a :class:`Pulse` step says what it starts, or (:meth:`Pulse.during`) that
it goes on: a line comes at least every ~3 s, within the ~5 s a user reads as a hang, and a stretch of
quick steps (a run's preparation, a throughput probe, opening a run in MLflow) does not print one each."""


class Pulse:
    """Progress lines for a long stretch of short steps (preparing 36 runs, probing 17 models, opening 36
    runs in MLflow) that never leave a user without a line for long, nor print one line per step.

    :meth:`say` prints a line; :meth:`step` is called before each step and prints its message only when
    the last line is ``every`` seconds old; :meth:`during` covers a block that may be one long step.
    ``clock`` is injectable for tests.
    """

    def __init__(
        self,
        echo: Callable[[str], None],
        every: float | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        # PULSE_S is read here, not bound as a default: the tests turn time-driven lines off through it
        self.echo, self.clock = echo, clock or time.monotonic
        self.every = float(PULSE_S if every is None else every)
        self.last = self.clock()
        self.current = ""
        """The message of the step under way (:meth:`during` repeats it when that step runs long)."""

    def say(self, message: str) -> None:
        self.echo(message)
        self.last = self.clock()

    def step(self, message: str) -> None:
        self.current = message
        if self.clock() - self.last >= self.every:
            self.say(message)

    @contextlib.contextmanager
    def during(self, message: str, poll: float = 0.25) -> Iterator[None]:
        """A block that may hold one long step (creating a new MLflow store: ~7 s on a 2-vCPU machine,
        mostly 1,088 disk syncs; computing the features of many subjects; a slow model's probe): a thread
        says what is under way (the last :meth:`step`'s message, else ``message``) with the seconds the
        block has taken so far, whenever the last line is ``every`` seconds old, until the block ends."""
        stop = threading.Event()
        start = self.clock()
        self.current = ""

        def watch() -> None:
            while not stop.wait(poll):
                if self.clock() - self.last >= self.every:
                    self.say(f"{self.current or message} ({self.clock() - start:.0f} s)")

        thread = threading.Thread(target=watch, name="bench-pulse", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()
