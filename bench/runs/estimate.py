"""How long a grid will take (``bench reproduce --plan``): a throughput probe per model, times the plan.

Nothing here trains a real unit. :func:`probe` times a few real training steps and prediction batches
of a freshly built model on random inputs of the run's input shape, on the device and with the precision
the run will use; :func:`estimate_run` multiplies those rates by the windows of every unit of a
:class:`bench.runs.plan.Prepared` run that is not finished in the store yet, and adds the time spent besides
training (tracking, per unit, per run: :mod:`bench.runs.overhead`, scaled to this machine's measured pace).
The result is an estimate: the probe sees a warm model and random data, the machine may get busier or
quieter than it was during the probes, and the number of epochs early stopping will run is unknown, so
two numbers are given: at the epoch cap and at a typical number.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass

import torch
from rich.table import Table

from bench.config.run import RunConfig
from bench.core.tasks import n_classes
from bench.models.registry import create_model, get_model_info
from bench.runs.overhead import (
    FIRST_UNIT,
    NEW_STORE,
    REFERENCE_WORK_S,
    RUN,
    TRAINED_UNIT,
    UNTRAINED_UNIT,
)
from bench.runs.resolved import feature_bands
from bench.training.step import autocast, make_optimizer, task_class_weights, train_step
from bench.training.trainer import trains_channels_last, use_channels_last

TYPICAL_EPOCHS = 30
"""Assumption: epochs a unit runs before early stopping (patience 16 on validation loss) ends it. The
user guide's extrapolation for a full-size run uses the same ~30; runs at a lower cap run the cap."""

UNIT_OVERHEAD_S = TRAINED_UNIT.seconds()
"""Seconds of a trained unit besides its probed steps on the calibration machine (:mod:`bench.runs.overhead`);
a plan scales it to this machine's pace."""

UNTRAINED_UNIT_OVERHEAD_S = UNTRAINED_UNIT.seconds()
RUN_OVERHEAD_S = RUN.seconds()

PROBE_BUDGET_S = 0.5
"""Warm-up and timed training steps each stop once they took this long (after at least
:data:`MIN_TIMED_STEPS` timed ones), and prediction batches after half of it, so a slow model probes in
a few steps."""

MIN_TIMED_STEPS = 3
"""Timed calls a probe makes at least, whatever the budget, and the fastest counts: a probe lasts a
fraction of a second, so on a shared machine one or two of its calls are often ones another process
slowed down (a probe of SAE-LSTM measured 43 and 750 training samples/s a minute apart; on the 2-vCPU
machine with other jobs, a plan of the smoke grid said 1.1 h for 17 min of units, MC-CNN's runs 10x).
The fastest of three is what the machine does undisturbed: the plan assumes the machine to itself."""

_CACHE: dict[tuple, Throughput] = {}


@dataclass(frozen=True)
class Throughput:
    """Samples per second of one model: training (forward, loss, backward, Adam step) and prediction."""

    train_samples_per_s: float
    """``math.inf`` for a model with nothing to train (trivial baselines)."""
    predict_samples_per_s: float


@dataclass(frozen=True)
class RunEstimate:
    """Size and time of one run; seconds include the per-unit and per-run overhead (``overhead_s`` in
    all) and count only the units left to run (``units``; ``reused`` more are FINISHED in the store)."""

    units: int
    train_windows_mean: float
    train_windows_min: int
    train_windows_max: int
    epochs_cap: int
    epochs_typical: int
    seconds_cap: float
    seconds_typical: float
    overhead_s: float
    reused: int = 0
    """Units FINISHED in the tracking store already: a run reuses them, so they cost nothing here."""


def probe(
    cfg: RunConfig,
    sample_shape: tuple[int, ...],
    *,
    tasks: tuple[str, ...],
    hparams: dict,
    device: torch.device | str,
    batch_size: int | None = None,
    steps: int = 6,
    warmup: int = 2,
    channels: tuple[str, ...] | None = None,
) -> Throughput:
    """Measured throughput of ``cfg.model`` (resolved config) on random inputs of ``sample_shape``.

    A training step is the trainer's (:func:`bench.training.trainer.fit`): autocast at the run's precision,
    class-weighted cross-entropy per task (+ the model's auxiliary loss), backward and an Adam step,
    at the run's batch size. Prediction is :func:`bench.training.trainer.predict_proba`'s batch of
    ``max(batch_size, 256)`` in eval mode. Up to ``steps`` timed steps follow ``warmup`` untimed ones,
    and timing stops after :data:`PROBE_BUDGET_S` but not before :data:`MIN_TIMED_STEPS` calls; the
    fastest step counts. Prediction gets one untimed batch first (eval mode and its batch size are new to
    the kernels). ``channels``: the data's electrodes, for a model whose shape depends on them (SAE-LSTM,
    the time-domain models: DREAMER and AMIGOS have 14); None builds the model's default (DEAP's 32).
    Results are cached per model, hyper-parameters, tasks, input shape, electrodes, device, precision,
    batch size and torch thread count within the process. Measured on this 2-vCPU machine (shared, load
    ~3), fp32, batch 64, 2 threads, before the three-call minimum: mtcnn 1.3 s (440 train / 1,200 predict
    samples/s), 4dcrnn 2.5 s (95 / 240: one step is ~0.7 s, a prediction batch ~1.1 s, so with three
    timed calls of each and the untimed batch it takes ~7 s, the one model over ~2 s), fbccnn 1.2 s,
    mccnn 0.5 s, saelstm 0.07 s, majority and prior 1 ms; the first probe of a process pays ~1 s more
    (torch's start-up); a cached call takes microseconds.
    """
    device = torch.device(device)
    info = get_model_info(cfg.model)
    bs = int(batch_size or cfg.train.batch_size)
    precision = cfg.train.precision
    key = (
        cfg.model,
        json.dumps(hparams, sort_keys=True, default=str),
        tuple(cfg.features or ()),
        tuple(tasks),
        tuple(sample_shape),
        channels,
        str(device),
        precision,
        bs,
        torch.get_num_threads(),
    )
    if key in _CACHE:
        return _CACHE[key]
    gen = torch.Generator().manual_seed(0)
    # the model the run builds: on a dataset's own electrodes where its shape depends on them
    on_channels = {} if channels is None else {"n_channels": len(channels), "channels": channels}
    model = create_model(
        cfg.model, tasks=tasks, features=cfg.features, n_bands=feature_bands(cfg), **on_channels, **hparams
    ).to(device)
    pb = max(bs, 256)
    x = torch.randn(pb, *sample_shape, generator=gen).to(device)
    y = torch.stack([torch.randint(0, n_classes(t), (bs,), generator=gen) for t in tasks], dim=1).to(device)
    train_sps = math.inf
    if trains_channels_last(precision, device.type):  # as the trainer runs it (where it applies)
        x = use_channels_last(model, x)
    if info.trainable:
        model.train()
        step = training_step(
            model, x[:bs], y, tasks=tasks, device=device, precision=precision, lr=cfg.train.lr
        )
        train_sps = bs / _fastest_time(step, steps, warmup, device, PROBE_BUDGET_S)
    else:
        model.fit_labels({t: y[:, i] for i, t in enumerate(tasks)})

    predict = prediction_step(model, x, device=device, precision=precision)
    model.eval()
    # one untimed batch: eval mode and the prediction batch are new shapes and code paths for the kernels
    predict_sps = pb / _fastest_time(predict, max(MIN_TIMED_STEPS, steps // 2), 1, device, PROBE_BUDGET_S / 2)
    tp = Throughput(train_sps, predict_sps)
    _CACHE[key] = tp
    return tp


def training_step(
    model: torch.nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    tasks: Sequence[str],
    device: torch.device,
    precision: str,
    lr: float = 1e-3,
) -> Callable[[], None]:
    """One training step of ``model`` on the batch ``x``, ``y`` (labels, shape (batch, len(tasks))) as
    the trainer (:func:`bench.training.trainer.fit`) takes it:
    :func:`bench.training.step.train_step` (autocast at
    ``precision``, class-weighted cross-entropy per task, weight 1 each, + the model's auxiliary loss,
    backward and an Adam step). The probe here and ``bench perf`` (:mod:`bench.perf.throughput`) time this one
    step, so their numbers measure the work a run does."""
    opt = make_optimizer(model.parameters(), lr=lr)
    cw = task_class_weights(y, tasks)
    weights = dict.fromkeys(tasks, 1.0)

    def step() -> None:
        train_step(model, opt, x, y, tasks=tasks, weights=weights, cw=cw, device=device, precision=precision)

    return step


def prediction_step(
    model: torch.nn.Module, x: torch.Tensor, *, device: torch.device, precision: str
) -> Callable[[], None]:
    """One prediction batch as :func:`bench.training.trainer.predict_proba` runs it: no grad, autocast at
    ``precision`` (the caller puts the model in eval mode)."""

    @torch.no_grad()
    def predict() -> None:
        with autocast(device, precision):
            model(x)

    return predict


def timed(fn: Callable[[], None], device: torch.device, clock: Callable[[], float] | None = None) -> float:
    """Seconds of one call of ``fn`` (waiting for a CUDA device to finish it); ``clock``: perf_counter."""
    clock = clock or time.perf_counter
    t0 = clock()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return clock() - t0


def _fastest_time(
    fn,
    steps: int,
    warmup: int,
    device: torch.device,
    budget: float,
    *,
    min_steps: int = MIN_TIMED_STEPS,
    clock: Callable[[], float] | None = None,
) -> float:
    """Seconds of the fastest of up to ``steps`` timed calls of ``fn`` after up to ``warmup`` untimed ones:
    what the machine does when nothing else disturbs it (:data:`MIN_TIMED_STEPS`).

    The warm-up stops once it took ``budget`` seconds (after at least one call); timed calls stop after
    ``budget`` seconds too, but not before ``min(steps, min_steps)`` calls.
    """
    clock = clock or time.perf_counter
    start = clock()
    for _ in range(warmup):
        fn()
        if clock() - start >= budget:
            break
    times: list[float] = []
    start = clock()
    least = min(steps, min_steps)
    while len(times) < steps and (len(times) < least or clock() - start < budget):
        times.append(timed(fn, device, clock))
    return min(times)


def overheads(pace_s: float = REFERENCE_WORK_S) -> tuple[float, float, float]:
    """Seconds per trained unit, per untrained unit and per run at ``pace_s`` (``overhead.pace``)."""
    return TRAINED_UNIT.seconds(pace_s), UNTRAINED_UNIT.seconds(pace_s), RUN.seconds(pace_s)


def command_seconds(units: int, *, new_store: bool, pace_s: float = REFERENCE_WORK_S) -> float:
    """The one-off costs of a command that runs ``units`` units: the first unit's set-up, and creating the
    store when it does not exist yet (``new_store``); nothing when there is nothing to run."""
    if not units:
        return 0.0
    return FIRST_UNIT.seconds(pace_s) + (NEW_STORE.seconds(pace_s) if new_store else 0.0)


def probe_prepared(p, *, device: torch.device | str = "cpu") -> Throughput:
    """:func:`probe` for a :class:`bench.runs.plan.Prepared` run (its input shape, electrodes, tasks,
    hyper-parameters)."""
    unit = p.units[0][0]
    spec = p.inputs.spec
    channels = tuple(spec.channels) if spec.channels else None
    return probe(p.config, tuple(p.inputs.x.shape[1:]), tasks=unit.tasks, hparams=p.hparams, device=device,
                 channels=channels)  # fmt: skip


def unit_seconds(
    p, fold, tp: Throughput, epochs: int | None = None, pace_s: float = REFERENCE_WORK_S
) -> float:
    """Seconds of one unit (``fold`` of the prepared run ``p``) at throughput ``tp``: ``epochs`` (default
    ``min(cap, TYPICAL_EPOCHS)``) of training and validation, the test part once, the tracking overhead
    at ``pace_s`` (:func:`overheads`).

    A model with nothing to train (infinite ``train_sps``) runs no epochs, predicts the test part only and
    costs the untrained overhead.
    """
    trained_s, untrained_s, _ = overheads(pace_s)
    if not math.isfinite(tp.train_samples_per_s):
        return len(fold.test) / tp.predict_samples_per_s + untrained_s
    if epochs is None:
        epochs = min(int(p.max_epochs), TYPICAL_EPOCHS)
    epoch = len(fold.train) / tp.train_samples_per_s + len(fold.val) / tp.predict_samples_per_s
    return epochs * epoch + len(fold.test) / tp.predict_samples_per_s + trained_s


def estimate_run(
    p, tp: Throughput, done: Collection[str] = frozenset(), pace_s: float = REFERENCE_WORK_S
) -> RunEstimate:
    """Seconds of a :class:`bench.runs.plan.Prepared` run at throughput ``tp``, for its units whose key is not
    in ``done`` (units FINISHED in the store, :func:`bench.runs.finished.finished_in_store`: a run reuses
    them at no cost).

    Per unit: ``epochs * (n_train / train_sps + n_valid / predict_sps) + n_test / predict_sps +``
    :data:`UNIT_OVERHEAD_S`, summed over the units left, at the epoch cap (``p.max_epochs``) and at
    ``min(cap, TYPICAL_EPOCHS)``; plus :data:`RUN_OVERHEAD_S` once when any unit is left. A model with
    nothing to train (infinite ``train_sps``) runs no epochs (``epochs_cap`` 0), predicts the test part
    only and costs :data:`UNTRAINED_UNIT_OVERHEAD_S` per unit. The overheads are scaled by ``pace_s``
    (:func:`pace`, :func:`overheads`): the calibration machine's by default. whole-set-finetune: the
    per-subject fine-tuning stage is not counted (it trains on the same windows again, subject by subject,
    so it can add up to as much again as the pooled training).
    """
    trained = math.isfinite(tp.train_samples_per_s)
    cap = int(p.max_epochs) if trained else 0
    typical = min(cap, TYPICAL_EPOCHS)
    trained_s, untrained_s, per_run_s = overheads(pace_s)
    overhead = trained_s if trained else untrained_s
    trains = [len(fold.train) for _, fold in p.units]
    todo = [fold for unit, fold in p.units if getattr(unit, "key", None) not in done]
    n = len(todo)
    run_s = per_run_s if n else 0.0
    return RunEstimate(
        units=n,
        train_windows_mean=sum(trains) / len(trains) if trains else 0.0,
        train_windows_min=min(trains, default=0),
        train_windows_max=max(trains, default=0),
        epochs_cap=cap,
        epochs_typical=typical,
        seconds_cap=sum(unit_seconds(p, fold, tp, cap, pace_s) for fold in todo) + run_s,
        seconds_typical=sum(unit_seconds(p, fold, tp, typical, pace_s) for fold in todo) + run_s,
        overhead_s=n * overhead + run_s,
        reused=len(p.units) - n,
    )


def assumptions(threads: int, pace_s: float = REFERENCE_WORK_S) -> str:
    """What a plan's estimate assumes, in one line (``--plan`` prints it; the user guide says the same)."""
    unit_s, untrained_s, run_s = overheads(pace_s)
    return (
        "Assumes: this machine to itself (other jobs on it make every part proportionally longer; the ETA "
        "then corrects itself from the units that finish); each model trains and predicts at the fastest "
        f"rate its probe measured ({threads} torch thread(s) per unit); min(cap, {TYPICAL_EPOCHS}) epochs "
        f"per unit (early stopping); besides that {unit_s:.1f} s per trained unit, {untrained_s:.1f} s per "
        f"untrained one and {run_s:.1f} s per run (tracking), at this machine's measured pace "
        f"({pace_s / REFERENCE_WORK_S:.2g}x the calibration machine's time). Not counted: the report at the "
        "end."
    )


def format_seconds(s: float) -> str:
    """``45 s``, ``3 min 20 s``, ``5.2 h``, ``3.1 d``."""
    if not math.isfinite(s):
        return "?"
    if s < 60:
        return f"{s:.0f} s"
    if s < 3600:
        m, sec = divmod(round(s), 60)
        return f"{m} min {sec} s" if sec else f"{m} min"
    if s < 48 * 3600:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.1f} d"


HEADERS = ("run", "units to run", "train windows/unit", "at epoch cap", "at typical epochs")


def plan_rows(entries_with_estimates: Iterable[tuple[object, RunEstimate]]) -> list[tuple[str, ...]]:
    """Rows of the plan: one per run (``entry.label``), a total per model (``entry.model``), a grand total.

    Each item is ``(entry, estimate)`` where ``entry`` has ``label`` and ``model`` (a GridEntry).
    """
    items = list(entries_with_estimates)
    rows: list[tuple[str, ...]] = []
    totals: dict[str, list[float]] = {}
    for entry, est in items:
        w = f"{est.train_windows_mean:,.0f}"
        if est.train_windows_min != est.train_windows_max:
            w += f" ({est.train_windows_min:,}-{est.train_windows_max:,})"
        cap, typ = format_seconds(est.seconds_cap), format_seconds(est.seconds_typical)
        if est.epochs_cap and est.units:  # a model with nothing to train runs no epochs
            cap, typ = f"{cap} ({est.epochs_cap} ep)", f"{typ} ({est.epochs_typical} ep)"
        units = str(est.units) + (f" (+{est.reused} done)" if est.reused else "")
        rows.append((entry.label, units, w, cap, typ))
        t = totals.setdefault(entry.model, [0, 0.0, 0.0])
        t[0] += est.units
        t[1] += est.seconds_cap
        t[2] += est.seconds_typical
    for model, (units, cap_s, typ_s) in totals.items():
        rows.append((f"total {model}", str(int(units)), "", format_seconds(cap_s), format_seconds(typ_s)))
    units = sum(int(t[0]) for t in totals.values())
    cap_s = sum(t[1] for t in totals.values())
    typ_s = sum(t[2] for t in totals.values())
    rows.append((f"total ({len(items)} runs)", str(units), "", format_seconds(cap_s), format_seconds(typ_s)))
    return rows


def plan_table(entries_with_estimates: Iterable[tuple[object, RunEstimate]], title: str = "Plan") -> Table:
    """The plan as a rich table (totals in bold)."""
    rows = plan_rows(entries_with_estimates)
    table = Table(
        title=title,
        caption=f"Estimates from a throughput probe; typical = min(cap, {TYPICAL_EPOCHS}) epochs (early "
        "stopping); + tracking per unit and run; units finished in MLflow are reused (not counted).",
    )
    for i, h in enumerate(HEADERS):
        table.add_column(h, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*row, style="bold" if row[0].startswith("total") else None)
    return table


def plan_text(entries_with_estimates: Iterable[tuple[object, RunEstimate]]) -> str:
    """The plan as aligned plain text (for a pipe or a log file)."""
    rows = [HEADERS, *plan_rows(entries_with_estimates)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADERS))]
    lines = [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in rows
    ]
    return "\n".join(line.rstrip() for line in lines)
