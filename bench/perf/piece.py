"""A measured full-size piece (``bench perf --piece MODEL``): one real epoch against its estimate.

``bench perf``'s full-size wall times are arithmetic: measured training and prediction rates times the
windows of every unit (:func:`bench.runs.estimate.estimate_run`). The issue asks that this arithmetic be
within :data:`TOLERANCE` of a real piece of the work it prices, so :func:`measure_piece` times one epoch of
fold 1 of a whole-set run at DEAP size: the trainer's :func:`bench.training.trainer.fit` with
``max_epochs=1`` on random data of full size (the unit's training and validation parts, as a run holds
them), at the run's precision and memory format; and prices the same epoch by calling ``estimate_run``
itself with the model's measured rates (:func:`estimated_epoch`), so the check is of the formula
``bench perf`` uses, not of a copy. Each term (training, validation) is compared on its own, so a
miss says which term is off.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import torch

from bench.core.host import resolve_device
from bench.perf.fullsize import SizedRun
from bench.perf.memory import RunView, unit_tensors, whole_set_unit
from bench.perf.throughput import ModelPerf, measure_model
from bench.runs.estimate import Throughput, estimate_run
from bench.runs.plan import Unit
from bench.runs.unit import build_model
from bench.training.trainer import channels_last_applies, fit, trains_channels_last
from protocols import Fold

TOLERANCE = 0.25
"""The issue's bound: the estimate within +-25 % of the measured piece."""


def epoch_seconds(unit: Unit, fold: Fold, tp: Throughput) -> float:
    """Seconds :func:`bench.runs.estimate.estimate_run` gives one epoch of ``fold`` at ``tp``: the same
    one-unit run priced at one epoch and at none, whose difference leaves out what estimate_run adds once
    per unit and run (the test part's prediction, the tracking overheads)."""
    one = estimate_run(SizedRun([(unit, fold)], 1), tp)
    none = estimate_run(SizedRun([(unit, fold)], 0), tp)
    return one.seconds_cap - none.seconds_cap


def estimated_epoch(unit: Unit, fold: Fold, tp: Throughput) -> tuple[float, float, float]:
    """(epoch, training term, validation term) seconds of ``fold`` at ``tp`` by
    :func:`epoch_seconds`; the training term is the epoch priced with a prediction that costs nothing, the
    validation term the rest (``train windows / train rate`` and ``validation windows / predict rate``)."""
    epoch = epoch_seconds(unit, fold, tp)
    train = epoch_seconds(unit, fold, Throughput(tp.train_samples_per_s, math.inf))
    return epoch, train, epoch - train


@dataclass
class Piece:
    """One full-size epoch measured beside its estimate (seconds)."""

    model: str
    precision: str
    channels_last: bool
    batch: int
    windows: dict[str, int]
    """The unit's training and validation windows (the epoch's work) and its test windows (not used)."""
    train_samples_per_s: float
    """``bench perf``'s measured training rate (:meth:`ModelPerf.trained_rate`) the estimate uses."""
    predict_samples_per_s: float
    measured_s: float
    measured_train_s: float
    """From calling fit to its last training batch: set-up (the channels-last copies, Adam) and steps."""
    measured_val_s: float
    """From the last training batch to fit's return: the validation pass and the epoch's bookkeeping."""
    estimated_s: float
    estimated_train_s: float
    estimated_val_s: float
    step_seconds: list[float] = field(default_factory=list, repr=False)
    """Wall time of each training batch of the epoch (the first includes fit's set-up)."""

    @property
    def ratio(self) -> float:
        """Estimated over measured seconds."""
        return self.estimated_s / self.measured_s

    @property
    def within(self) -> bool:
        return abs(self.ratio - 1) <= TOLERANCE

    @property
    def fit_train_samples_per_s(self) -> float:
        """Training windows per second of the epoch's median batch: the rate the fit ran at, beside
        ``train_samples_per_s`` (the training term's own ratio without the set-up and the stragglers)."""
        if not self.step_seconds:
            return math.nan
        return self.batch / statistics.median(self.step_seconds)

    def to_json(self) -> dict:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "step_seconds"}
        return {**d, "ratio": self.ratio, "within_tolerance": self.within, "tolerance": TOLERANCE,
                "fit_train_samples_per_s": self.fit_train_samples_per_s}  # fmt: skip


def measure_piece(
    name: str,
    perfs: Sequence[ModelPerf],
    *,
    batch: int,
    device: str | torch.device,
    warmup: int,
    reps: int,
    echo: Callable[[str], None] | None = None,
) -> Piece:
    """Time one epoch of ``name``'s whole-set fold 1 at full size and price it from the rates in
    ``perfs`` (``bench perf``'s own measurements; a model not measured there is measured here first,
    with the same ``warmup`` and ``reps``)."""
    echo = echo or (lambda _m: None)
    dev = resolve_device(str(device))
    mp = next((m for m in perfs if m.name == name), None)
    if mp is None:
        mp = measure_model(name, batch=batch, device=dev, warmup=warmup, reps=reps, echo=echo)
    tp = Throughput(mp.trained_rate(), mp.predict_samples_per_s)
    fu = whole_set_unit(name)
    est, est_train, est_val = estimated_epoch(fu.unit, fu.fold, tp)
    cfg = fu.run.config
    tcfg = replace(cfg.train, batch_size=batch, precision=mp.auto_precision)
    x, (xt, yt, xv, yv, _xs) = unit_tensors(fu.run, fu.n_samples, fu.fold)  # x: a run holds it too
    model = build_model(RunView.of(fu.run), fu.unit, fu.seed)
    cl = trains_channels_last(tcfg.precision, dev.type)
    nhwc = cl and channels_last_applies(model, x.dim())
    w = fu.windows
    layout = ", channels-last" if nhwc else ""
    echo(f"piece: {name}, one epoch of a whole-set fold at full size ({w['train']:,} training + "
         f"{w['val']:,} validation windows, {tcfg.precision}{layout})")  # fmt: skip
    marks: list[float] = []
    t0 = time.perf_counter()
    fit(model, xt, yt, xv, yv, tasks=fu.unit.tasks, config=tcfg, max_epochs=1, seed=fu.seed, device=dev,
        on_batch=lambda _d, _n: marks.append(time.perf_counter()), channels_last=cl)  # fmt: skip
    end = time.perf_counter()
    del x
    last = marks[-1] if marks else t0
    return Piece(
        model=name,
        precision=tcfg.precision,
        channels_last=nhwc,
        batch=batch,
        windows=w,
        train_samples_per_s=tp.train_samples_per_s,
        predict_samples_per_s=tp.predict_samples_per_s,
        measured_s=end - t0,
        measured_train_s=last - t0,
        measured_val_s=end - last,
        estimated_s=est,
        estimated_train_s=est_train,
        estimated_val_s=est_val,
        step_seconds=[b - a for a, b in zip([t0, *marks[:-1]], marks, strict=True)],
    )
