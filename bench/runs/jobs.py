"""What an executor is handed and what it hands back: a unit as a :class:`Job` of a run's
:class:`UnitContext`, as the serialisable :class:`UnitTask` a worker gets, and as an :class:`Outcome`.

The runner keeps the parent run, resume and the summary in the main process and hands the units that are
not finished yet to an executor (:mod:`bench.runs.executors`, :mod:`bench.runs.dask_executor`) as jobs.
A remote worker gets a :class:`UnitTask` (the resolved run and where the features lie in the feature
cache, :func:`data_reference`) and rebuilds the prepared run from it without resolving the config again
(:mod:`bench.runs.unit_worker`). This module also names failures: one line per failed unit
(:func:`error_line`), one error for a run's failed units (:func:`failure_error`), and the child runs a
dead worker left RUNNING (:func:`fail_orphans`).

A unit whose worker dies leaves its child run RUNNING, a unit that fails leaves it FAILED: never
FINISHED, so no partial result is counted and the next run of the same command runs it again. When a
remote executor has ended, child runs still RUNNING under the parent whose claim is stale are marked
FAILED (nothing runs them any more). The parent is FINISHED only when every unit is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from bench.core.errors import BenchError, ConfigError, DataError
from bench.data.cache import entry_path, load_cached
from bench.data.contents import Contents
from bench.data.cross import CrossFeatures
from bench.data.datasets import DEFAULT_DATASET
from bench.data.features import FeatureConfig
from bench.data.paths import cache_root
from bench.runs.resolved import ResolvedRun
from bench.runs.unit import stacks
from bench.runs.unit_tracking import track_unit, track_units
from bench.tracking.claims import is_live
from bench.tracking.store import child_runs


class UnitsFailed(BenchError):
    """Some units failed or lost their worker; finished units are kept, the parent run is FAILED."""


# ----------------------------------------------------------------------------------- what travels
@dataclass(frozen=True)
class UnitTask:
    """Everything a worker needs to run one unit (pickles in a few kB).

    ``run`` is the run resolved once in the main process (:class:`bench.runs.resolved.ResolvedRun`, which
    pickles), so a worker plans with it as it is instead of resolving the config again. ``data``
    locates the features in the feature cache by content (see :func:`data_reference`), so a worker needs
    the cache but not the DEAP folder.
    """

    run: ResolvedRun
    data: dict
    unit_key: str
    run_key: str
    tracking_uri: str
    experiment_id: str
    parent_run_id: str
    tags: dict[str, str]
    num_threads: int | None = None


def data_reference(features, cache_dir: str | Path | None = None) -> dict:
    """Where a worker finds ``features``: the cache folder, feature config and each file's sha256.

    Raises ConfigError if a subject's entry is not in that cache (features passed in memory, or
    prepared under another cache folder: pass ``cache_dir``).
    """
    if isinstance(features, CrossFeatures):
        raise ConfigError(
            "cross-dataset runs are one fold (one unit per task group): run them with the local executor, "
            "not a process pool or Dask cluster"
        )
    root = cache_root(cache_dir).resolve()
    missing = [
        int(s)
        for s, digest in features.file_digests.items()
        if not (entry_path(features.config, digest, root, features.contents) / "meta.json").is_file()
    ]
    if missing or not features.file_digests:
        raise ConfigError(
            f"features of subject(s) {', '.join(map(str, missing)) or 'all'} are not in the feature cache "
            f"{root}; workers read features from the cache: pass cache_dir (or set $DEAP_BENCH_CACHE) to "
            "the folder they were prepared in"
        )
    return {
        "cache_dir": str(root),
        "feature_config": features.config.to_dict(),
        "subjects": [int(s) for s in features.subjects],
        "file_digests": {str(int(s)): d for s, d in features.file_digests.items()},
        "synthetic": bool(features.synthetic),
        "dataset": features.dataset,
        "fingerprint": features.fingerprint,
        **({} if features.contents.is_default else {"contents": features.contents.to_dict()}),
    }


def load_features(data: dict):
    """The FeatureSet that :func:`data_reference` describes, read (memory-mapped) from the cache."""
    fs = load_cached(
        FeatureConfig.from_dict(data["feature_config"]),
        {int(s): data["file_digests"][str(s)] for s in data["subjects"]},
        synthetic=bool(data["synthetic"]),
        cache_dir=data["cache_dir"],
        dataset=data.get("dataset", DEFAULT_DATASET),
        contents=Contents(**data.get("contents", {})),
    )
    if fs.fingerprint != data["fingerprint"]:
        raise DataError(f"{data['cache_dir']}: cached features do not match the run's data fingerprint")
    return fs


@dataclass
class UnitContext:
    """What the runner hands an executor per run: the prepared run and its tracking, in the main process."""

    prepared: object
    client: object
    experiment_id: str
    parent_run_id: str
    tags: dict[str, str]
    device: torch.device
    reporter: object
    tracking_uri: str
    cache_dir: str | Path | None = None
    label: str = ""
    """The run's name in progress lines and failure reports (``model|protocol|split|variant``)."""
    _data: dict | None = field(default=None, repr=False)

    def track(self, unit, fold, *, wait: bool = True):
        """Claim, run and track one unit in this process (None: claimed elsewhere and ``wait`` is False)."""
        return track_unit(
            self.client, self.prepared, unit, fold, self.device, self.reporter,
            self.experiment_id, self.parent_run_id, self.tags, wait=wait,
        )  # fmt: skip

    @property
    def stack_size(self) -> int:
        """Units of this run the local executor trains at once: ``train.stack``, or 1 without stacking."""
        return int(self.prepared.config.train.stack) if stacks(self.prepared) else 1

    def track_group(self, pairs, *, wait: bool = True) -> list:
        """:meth:`track` for several units trained together (``train.stack``): one entry per unit."""
        return track_units(
            self.client, self.prepared, pairs, self.device, self.reporter,
            self.experiment_id, self.parent_run_id, self.tags, wait=wait,
        )  # fmt: skip

    def task(self, unit, num_threads: int | None = None) -> UnitTask:
        """The serialisable task of one unit."""
        if self._data is None:
            self._data = data_reference(self.prepared.features, self.cache_dir)
        return UnitTask(
            run=self.prepared.run, data=self._data, unit_key=unit.key,
            run_key=self.prepared.run_key, tracking_uri=self.tracking_uri, experiment_id=self.experiment_id,
            parent_run_id=self.parent_run_id, tags=dict(self.tags), num_threads=num_threads,
        )  # fmt: skip

    def fail_orphans(self) -> None:
        """Mark child runs still RUNNING under the parent FAILED if their claim is stale (worker gone).

        A live claim belongs to another command working on the same parent: it is left alone.
        """
        for run in child_runs(self.client, self.experiment_id, self.parent_run_id):
            if run.info.status == "RUNNING" and not is_live(run):
                self.client.set_terminated(run.info.run_id, status="FAILED")


@dataclass(frozen=True, eq=False)
class Job:
    """One unit of one run, queued on an executor; ``cost`` (estimated seconds) orders the queue."""

    ctx: UnitContext
    unit: object
    fold: object
    cost: float = 0.0

    @property
    def name(self) -> str:
        return f"{self.ctx.label} {self.unit.key}".strip()


@dataclass(frozen=True, eq=False)
class Outcome:
    """What became of a job: its result, or the error that stopped it (never both)."""

    job: Job
    result: object = None
    error: BaseException | None = None


def error_line(exc: BaseException) -> str:
    """``Type: first line of the message``: how a failed unit is named in one line."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}".rstrip(": ")


def failure_error(failures: Sequence[tuple[str, BaseException]], total: int) -> UnitsFailed:
    """One line: how many units failed, each distinct error once with the units it hit."""
    by_error: dict[str, list[str]] = {}
    for key, exc in failures:
        by_error.setdefault(error_line(exc), []).append(key)
    parts = [
        f"{err} ({', '.join(keys[:4])}{', ...' if len(keys) > 4 else ''})" for err, keys in by_error.items()
    ]
    return UnitsFailed(
        f"{len(failures)} of {total} units failed: {'; '.join(parts[:3])}; finished units are kept in "
        "MLflow: run the same command again to resume"
    )


def fail_orphans(jobs: Sequence[Job]) -> None:
    """Once per run of ``jobs``: its child runs left RUNNING by a dead worker are marked FAILED."""
    seen: set[int] = set()
    for job in jobs:
        if id(job.ctx) not in seen:
            seen.add(id(job.ctx))
            job.ctx.fail_orphans()
