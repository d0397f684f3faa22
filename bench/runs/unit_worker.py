"""The worker side of the pool and Dask executors: run one :class:`~bench.runs.jobs.UnitTask`.

A worker rebuilds the prepared run from the task (features read from the feature cache, computed once
in the main process before any worker starts; the run resolved once in the main process, not again),
runs the unit inside its own child run (:func:`bench.runs.unit_tracking.track_unit`, the same code the
local executor uses) and returns the unit's result. A worker keeps the feature sets and runs it has
rebuilt (a grid sends units of many runs to one worker) and one tracking client per URI. This module
imports the plan, unit and job layers only, so a forkserver preloads it without the runner.
"""

from __future__ import annotations

import torch

from bench.core.host import resolve_device
from bench.runs.jobs import UnitTask, load_features
from bench.runs.plan import prepare
from bench.runs.progress import Reporter
from bench.runs.unit_tracking import track_unit
from bench.tracking.store import client

_WORKER: dict = {"features": {}, "prepared": {}, "clients": {}}
"""Per worker process: the feature sets and rebuilt runs it has seen (a grid sends units of many runs to
one worker; they share one feature set and its model inputs), and one tracking client per URI."""
_KEEP_PREPARED = 16
_KEEP_FEATURES = 2


def set_threads(num_threads: int) -> None:
    """Pool worker initialiser: torch's thread count, one for the whole pool (numbers depend on it)."""
    torch.set_num_threads(max(1, int(num_threads)))


def _remember(memo: dict, key, value, keep: int):
    """Insert ``key`` as the newest entry of ``memo`` and drop the oldest beyond ``keep``."""
    memo.pop(key, None)
    memo[key] = value
    while len(memo) > keep:
        memo.pop(next(iter(memo)))
    return value


def _worker_prepared(task: UnitTask):
    """The task's prepared run, rebuilt once per worker (features read once per data set)."""
    prepared = _WORKER["prepared"]
    if task.run_key in prepared:
        return _remember(prepared, task.run_key, prepared[task.run_key], _KEEP_PREPARED)
    # runs of one data set share its features, unless their models read different cache contents
    fp = f"{task.data['fingerprint']}:{sorted(task.data.get('contents', {}).items())}"
    features = _WORKER["features"].get(fp)
    if features is None:
        features = _remember(_WORKER["features"], fp, load_features(task.data), _KEEP_FEATURES)
    p = prepare(task.run, features=features)
    if p.run_key != task.run_key:
        raise RuntimeError(f"worker rebuilt run {p.run_key}, expected {task.run_key}")
    return _remember(prepared, task.run_key, p, _KEEP_PREPARED)


def run_task(task: UnitTask):
    """Run one unit on a worker: rebuild the prepared run, track the unit as a child run, return it.

    Returns the :class:`bench.runs.unit.UnitResult` (metrics, history, predictions, child run id).
    """
    if task.num_threads:
        torch.set_num_threads(int(task.num_threads))
    p = _worker_prepared(task)
    unit, fold = next((u, f) for u, f in p.units if u.key == task.unit_key)
    cl = _WORKER["clients"].get(task.tracking_uri)
    if cl is None:
        cl = _WORKER["clients"][task.tracking_uri] = client(task.tracking_uri)
    device = resolve_device(p.config.device)
    return track_unit(
        cl, p, unit, fold, device, Reporter(), task.experiment_id, task.parent_run_id, task.tags
    )
