"""Full-size wall time (``bench perf``): every model's measured rate times the units of full-size DEAP.

No data is read: :class:`FullSizeFolds` makes the protocols' own folds on subject and trial ids of
:data:`FULL_SIZE` DEAP, and :func:`full_size_estimates` prices their units with
:func:`bench.runs.estimate.estimate_run`, per protocol and for the default ``bench reproduce`` grid.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from bench.config.run import RunConfig
from bench.data.datasets import DEFAULT_DATASET, get_dataset
from bench.data.inputs import SIGNAL_SFREQ, InputSpec
from bench.data.signal import n_windows
from bench.perf.parallel import PoolRates
from bench.perf.throughput import ModelPerf
from bench.runs.estimate import Throughput, estimate_run
from bench.runs.grid import DEFAULT_PRESET, load_grid
from bench.runs.plan import make_units
from bench.runs.resolved import ResolvedRun, resolve_run
from protocols import list_protocols, make_folds

FULL_SIZE = (32, 40, 120)
"""DEAP: subjects, trials per subject, 0.5 s windows per trial (60 s)."""
FULL_SIZE_DEAP = "<DEAP, 32 subjects>"
"""Stands for a DEAP folder with every subject when the grid is expanded (no data is read): folds by
subject are then the scale's 5, as on real DEAP, not the embedded default's 4 subjects."""
PROTOCOL_FOLDS = 5
"""Folds per protocol in the per-protocol estimate (the paper's and the ``full`` grid scale's)."""


@dataclass(frozen=True)
class SizedRun:
    """Just what :func:`bench.runs.estimate.estimate_run` reads of a :class:`bench.runs.plan.Prepared`: the
    units
    (with their folds) and the epoch cap; built from full-size fold sizes without any data."""

    units: list
    max_epochs: int


FEATURE_WINDOW_S = 0.5
"""Seconds per brain-map window of :data:`FULL_SIZE` (the feature recipe's default)."""


def samples_per_trial(spec: InputSpec, windows: int) -> int:
    """Model samples one trial of ``windows`` brain-map windows gives: blocks of ``time_slices`` windows, or
    for a ``signal`` input the windows of ``window_s`` every ``hop_s`` that fit in the trial's seconds, as
    :func:`bench.data.signal.n_windows` cuts them."""
    if spec.layout != "signal":
        return windows // spec.time_slices
    return n_windows(round(windows * FEATURE_WINDOW_S * SIGNAL_SFREQ), spec)


class FullSizeFolds:
    """Folds of full-size DEAP, made by the protocols' own :func:`protocols.make_folds` on subject and
    trial ids of 32 x 40 trials x (120 // time slices) samples. Labels only steer stratification, not
    the sizes: each subject's trials cycle through the four (valence, arousal) classes, so every class has
    enough trials for a stratified 5-fold split. Memoised per fold setting: the grid reuses most."""

    def __init__(self) -> None:
        s, t, _ = FULL_SIZE
        cls = np.arange(t) % 4
        self.labels = np.broadcast_to(np.stack([cls % 2, cls // 2], axis=-1), (s, t, 2))
        self._folds: dict[tuple, list] = {}

    def units(self, run: ResolvedRun) -> list:
        """The units of the resolved ``run`` at full size (:func:`bench.runs.plan.make_units`)."""
        n_s, n_t, n_w = FULL_SIZE
        cfg = run.config
        n_seg = samples_per_trial(run.input_spec, n_w)
        select = "select-on-test" in cfg.audit
        key = (cfg.protocol, cfg.split, cfg.n_folds, cfg.val_fraction, cfg.seed, select, n_seg)
        if key not in self._folds:
            shape = (n_s, n_t, n_seg)
            subject = np.broadcast_to(np.arange(1, n_s + 1)[:, None, None], shape).reshape(-1)
            trial = np.broadcast_to(np.arange(n_t)[None, :, None], shape).reshape(-1)
            labels = np.broadcast_to(self.labels[:, :, None, :], (*shape, 2)).reshape(-1, 2)
            self._folds[key] = make_folds(
                cfg.protocol, subject, trial, labels, split=cfg.split, n_folds=cfg.n_folds,
                val_fraction=cfg.val_fraction, seed=cfg.seed, select_on_test=select,
            )  # fmt: skip
        return make_units(run, self._folds[key])


@dataclass
class FullSizeEstimate:
    """Full-size seconds of one model at ``min(cap, TYPICAL_EPOCHS)`` epochs: per protocol (5 folds, the
    protocol's default split) and summed over its runs in the default grid."""

    model: str
    precision: str
    train_samples_per_s: float
    protocols: dict[str, float]
    grid_runs: int
    grid_seconds: float
    train_windows: dict[str, float] = field(default_factory=dict)
    """Mean training windows per unit, per protocol."""
    pool_workers: int = 0
    """Workers of the pool estimate (0: none, one core or a GPU)."""
    pool_grid_seconds: float | None = None
    """The grid's wall time on a pool of ``pool_workers`` single-thread workers (``bench reproduce
    --executor pool``): its units' seconds at the per-worker rate measured with all workers running at once,
    over the workers."""


def full_size_estimates(
    perfs: Sequence[ModelPerf], pools: Mapping[str, PoolRates] | None = None
) -> tuple[list[FullSizeEstimate], str]:
    """Each model's full-size wall time at its measured rate in ``--precision auto``'s precision and the
    trainer's memory format (:meth:`ModelPerf.trained_rate`), via :func:`bench.runs.estimate.estimate_run`,
    and, where ``pools`` has the model, its grid on that pool; and the grid's name."""
    grid = load_grid(preset=DEFAULT_PRESET, scale="full", deap=FULL_SIZE_DEAP)
    folds = FullSizeFolds()
    out = []
    for mp in perfs:
        sps = mp.trained_rate()
        tp = Throughput(sps, mp.predict_samples_per_s)

        def seconds(run: ResolvedRun, tp=tp) -> tuple[float, float]:
            est = estimate_run(SizedRun(folds.units(run), int(run.config.train.max_epochs)), tp)
            return est.seconds_typical, est.train_windows_mean

        per, windows = {}, {}
        for proto in list_protocols():
            if proto.two_datasets:  # sizes come from DEAP's folds; no second dataset here
                continue
            if proto.audit_only:  # the peer benchmarks' protocols: audited, not the harness's to time
                continue
            if proto.refusal(get_dataset(DEFAULT_DATASET)) is not None:  # the SEED family's own protocols
                continue
            run = resolve_run(RunConfig(model=mp.name, protocol=proto.name, n_folds=PROTOCOL_FOLDS))
            per[proto.name], windows[proto.name] = seconds(run)
        entries = [e for e in grid.entries if e.model == mp.name]
        total = sum(seconds(e.run)[0] for e in entries)
        est = FullSizeEstimate(mp.name, mp.auto_precision, sps, per, len(entries), total, windows)
        pool = (pools or {}).get(mp.name)
        if pool is not None:
            per_worker = Throughput(pool.train_samples_per_s, pool.predict_samples_per_s)
            units = sum(seconds(e.run, tp=per_worker)[0] for e in entries)
            est.pool_workers, est.pool_grid_seconds = pool.workers, units / pool.workers
        out.append(est)
    return out, grid.name
