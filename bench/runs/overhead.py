"""The time a grid spends besides training and predicting: tracking each unit and run, the command's
one-off costs. :mod:`bench.runs.estimate` adds it to the probed compute time of every unit.

Measured, not guessed: each cost is a number of :func:`reference_work` calls (a fixed piece of plain
Python work, the same kind of work as tracking: MLflow, SQLAlchemy, pandas, matplotlib in one thread) plus
a number of disk syncs (SQLite commits). A plan times :func:`reference_work` again on the machine it runs
on (:func:`pace`, one sample before each throughput probe, the fastest counts), so the overheads follow
the machine's speed as the probed compute does; the counts hold wherever the harness runs.

Calibration (AMD EPYC, 2 vCPUs, SQLite store on ext4; five other jobs sharing the machine, load 8-10, so
every cost was measured against the yardstick timed just before and after it, in the same window:
``python /tmp/ratio.py``, as the user guide's "Plan before spending hours" says): tracking a trained unit
took a median of 58 yardsticks of wall time (22 units of MT-CNN, MC-CNN and SAE-LSTM at smoke scale;
0.6-1.7 s), an untrained one 30 (6 units of the majority baseline), opening and closing a run 21; a unit's
work outside the probed steps (building the model, standardising, the trainer's bookkeeping, test
metrics) 33 for a trained unit (SAE-LSTM, whose steps take ~0.1 s) and 12 for an untrained one. Disk
syncs counted with ``strace -c -e fdatasync``: 24 per trained unit, 20 per untrained one, 16 per run,
1,088 to create a new store; one took 4 ms (median of 30) on this disk. The syncs' share (~7 yardsticks
of wall time under that load) is taken out of the work counts below.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass

REFERENCE_WORK_S = 0.0063
"""Seconds :func:`reference_work` takes on the calibration machine when it is idle (its CPU time there).
The default pace: an estimate made without :func:`pace` (``bench perf``'s full-size table) uses it."""

SYNC_S = 0.004
"""Seconds of one disk sync (``fdatasync``) on the calibration machine's disk: median of 30 of 4 KB."""


@dataclass(frozen=True)
class Overhead:
    """A cost as ``work`` :func:`reference_work` calls plus ``syncs`` disk syncs."""

    work: float
    syncs: int = 0

    def seconds(self, pace_s: float = REFERENCE_WORK_S) -> float:
        """Its seconds when :func:`reference_work` takes ``pace_s`` (:func:`pace`)."""
        return self.work * pace_s + self.syncs * SYNC_S


TRAINED_UNIT = Overhead(work=84, syncs=24)
"""A trained unit besides its probed steps: the claim and its MLflow child run, params, metrics, per-epoch
history, the artifacts (predictions csv, learning curve and confusion png), and the unit's own work outside
the steps (model, standardiser, the trainer's bookkeeping, test metrics): 51 + 33 yardsticks."""

UNTRAINED_UNIT = Overhead(work=36, syncs=20)
"""The same for a model with nothing to train (no history, no learning curve): 24 + 12 yardsticks."""

RUN = Overhead(work=16, syncs=16)
"""A run with units to run: opening its parent (params, the folds artifact, the data set), closing it
(summary metrics, description)."""

FIRST_UNIT = Overhead(work=225)
"""Once per command that logs a unit: the first one's imports and set-up (matplotlib, the artifact store)
took 283 yardsticks against 58 for the next ones."""

NEW_STORE = Overhead(work=394, syncs=1088)
"""Once when the SQLite store does not exist yet: its tables and migrations (18.6 s under that load, 516
yardsticks, of which the syncs ~120)."""


def reference_work() -> None:
    """A fixed piece of plain Python work (build a dict, a JSON round trip, a sort): the yardstick of
    the overheads. About 6 ms on an idle 2-vCPU machine."""
    d = {f"key{i}": [i, str(i), i * 0.5, {"a": i}] for i in range(1500)}
    json.loads(json.dumps(d, sort_keys=True))
    sorted(d.items(), key=lambda kv: kv[1][1])


def pace(samples: int = 3, clock: Callable[[], float] | None = None) -> float:
    """Seconds of one :func:`reference_work` here: the fastest of ``samples`` calls (undisturbed by other
    processes, as the throughput probe's fastest step; :data:`bench.runs.estimate.MIN_TIMED_STEPS`)."""
    clock = clock or time.perf_counter
    times = []
    for _ in range(samples):
        t0 = clock()
        reference_work()
        times.append(clock() - t0)
    return min(times)
