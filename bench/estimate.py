"""How long a grid will take (``bench reproduce --plan``): a throughput probe per model, times the plan.

Nothing here trains a real unit. :func:`probe` times a few real training steps and prediction batches
of a freshly built model on random inputs of the run's input shape, on the device and with the precision
the run will use; :func:`estimate_run` multiplies those rates by the windows of every unit of a
:class:`bench.plan.Prepared` run. The result is an estimate, good to a small factor: the probe sees a
warm model and random data, the machine may be busy with something else, and the number of epochs early
stopping will run is unknown, so two numbers are given: at the epoch cap and at a typical number.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import torch
from rich.table import Table

from bench.config import RunConfig
from bench.registry import create_model, get_model_info
from bench.trainer import (
    TASK_INDEX,
    _loss,
    autocast,
    class_weights,
    trains_channels_last,
    use_channels_last,
)

TYPICAL_EPOCHS = 30
"""Assumption: epochs a unit runs before early stopping (patience 16 on validation loss) ends it. The
README's extrapolation for a full-size run uses the same ~30; runs at a lower cap run the cap."""

UNIT_OVERHEAD_S = 1.5
"""Per-unit cost of a trained unit besides fitting and predicting: test metrics, the MLflow child run
with its claim, metrics and per-epoch history, the artifacts (predictions csv, learning curve and
confusion png). Measured on this project's 2-vCPU machine: MT-CNN whole-set at smoke scale (3 units,
embedded synthetic default, SQLite store) spent 4.9 s of wall time outside its units' fit time, i.e.
~1.6 s per unit; a process's first run pays ~3-5 s once more (imports, store set-up), not counted."""

UNTRAINED_UNIT_OVERHEAD_S = 0.3
"""The same for a model with nothing to train (no history, no learning curve): the majority baseline,
subject-specific at smoke scale, ran 9 units in 1.9 s of wall time on a quiet machine (0.6-1.3 s per
unit while other jobs loaded it)."""

PROBE_BUDGET_S = 0.5
"""Warm-up and timed training steps each stop once they took this long (after at least one), and
prediction batches after half of it, so a slow model probes in a few steps."""

_CACHE: dict[tuple, Throughput] = {}


@dataclass(frozen=True)
class Throughput:
    """Samples per second of one model: training (forward, loss, backward, Adam step) and prediction."""

    train_samples_per_s: float
    """``math.inf`` for a model with nothing to train (trivial baselines)."""
    predict_samples_per_s: float


@dataclass(frozen=True)
class RunEstimate:
    """Size and time of one run; seconds include the per-unit overhead (``overhead_s`` in all)."""

    units: int
    train_windows_mean: float
    train_windows_min: int
    train_windows_max: int
    epochs_cap: int
    epochs_typical: int
    seconds_cap: float
    seconds_typical: float
    overhead_s: float


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
) -> Throughput:
    """Measured throughput of ``cfg.model`` (resolved config) on random inputs of ``sample_shape``.

    A training step is the trainer's (:func:`bench.trainer.fit`): autocast at the run's precision,
    class-weighted cross-entropy per task (+ the model's auxiliary loss), backward and an Adam step,
    at the run's batch size. Prediction is :func:`bench.trainer.predict_proba`'s batch of
    ``max(batch_size, 256)`` in eval mode. Up to ``steps`` timed steps follow ``warmup`` untimed ones,
    and timing stops after :data:`PROBE_BUDGET_S`; the median step counts. Results are cached per model,
    hyper-parameters, tasks, input shape, device, precision, batch size and torch thread count within
    the process. Measured on this 2-vCPU machine (shared, load ~3), fp32, batch 64, 2 threads: mtcnn
    1.3 s (440 train / 1,200 predict samples/s), 4dcrnn 2.5 s (95 / 240: one step is ~0.7 s, so it
    is the one model over ~2 s), fbccnn 1.2 s, mccnn 0.5 s, saelstm 0.07 s, majority and prior 1 ms;
    the first probe of a process pays ~1 s more (torch's start-up); a cached call takes microseconds.
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
        str(device),
        precision,
        bs,
        torch.get_num_threads(),
    )
    if key in _CACHE:
        return _CACHE[key]
    gen = torch.Generator().manual_seed(0)
    model = create_model(cfg.model, tasks=tasks, features=cfg.features, **hparams).to(device)
    pb = max(bs, 256)
    x = torch.randn(pb, *sample_shape, generator=gen).to(device)
    y = torch.randint(0, 2, (bs, 2), generator=gen).to(device)
    train_sps = math.inf
    if trains_channels_last(precision):  # as the trainer runs it (where it applies)
        x = use_channels_last(model, x)
    if info.trainable:
        model.train()
        step = training_step(
            model, x[:bs], y, tasks=tasks, device=device, precision=precision, lr=cfg.train.lr
        )
        train_sps = bs / _median_time(step, steps, warmup, device, PROBE_BUDGET_S)
    else:
        model.fit_labels({t: y[:, TASK_INDEX[t]] for t in tasks})

    predict = prediction_step(model, x, device=device, precision=precision)
    model.eval()  # the training steps warmed the kernels up: no untimed prediction
    predict_sps = pb / _median_time(predict, max(1, steps // 2), 0, device, PROBE_BUDGET_S / 2)
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
    """One training step of ``model`` on the batch ``x``, ``y`` (labels, shape (batch, 2)) as the trainer
    (:func:`bench.trainer.fit`) takes it: autocast at ``precision``, class-weighted cross-entropy per task
    (+ the model's auxiliary loss), backward and an Adam step. The probe here and ``bench perf``
    (bench.perf) time this one step, so their numbers measure the same work."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    cw = {t: class_weights(y[:, TASK_INDEX[t]]) for t in tasks}
    aux = getattr(model, "auxiliary_loss", None)

    weights = dict.fromkeys(tasks, 1.0)

    def step() -> None:
        with autocast(device, precision):
            out = model(x)
        loss, _ = _loss(out, y, tuple(tasks), weights, cw)
        if aux is not None:
            loss = loss + aux()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def prediction_step(
    model: torch.nn.Module, x: torch.Tensor, *, device: torch.device, precision: str
) -> Callable[[], None]:
    """One prediction batch as :func:`bench.trainer.predict_proba` runs it: no grad, autocast at
    ``precision`` (the caller puts the model in eval mode)."""

    @torch.no_grad()
    def predict() -> None:
        with autocast(device, precision):
            model(x)

    return predict


def timed(fn: Callable[[], None], device: torch.device) -> float:
    """Seconds of one call of ``fn`` (waiting for a CUDA device to finish it)."""
    t0 = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - t0


def _median_time(fn, steps: int, warmup: int, device: torch.device, budget: float) -> float:
    """Median seconds of ``fn`` over up to ``steps`` timed calls after up to ``warmup`` untimed ones.

    Warm-up and timed calls each stop once they took ``budget`` seconds (after at least one call).
    """
    start = time.perf_counter()
    for _ in range(warmup):
        fn()
        if time.perf_counter() - start >= budget:
            break
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < steps and (not times or time.perf_counter() - start < budget):
        times.append(timed(fn, device))
    times.sort()
    return times[len(times) // 2]


def probe_prepared(p, *, device: torch.device | str = "cpu") -> Throughput:
    """:func:`probe` for a :class:`bench.plan.Prepared` run (its input shape, tasks, hyper-parameters)."""
    unit = p.units[0][0]
    return probe(p.config, tuple(p.inputs.x.shape[1:]), tasks=unit.tasks, hparams=p.hparams, device=device)


def unit_seconds(p, fold, tp: Throughput, epochs: int | None = None) -> float:
    """Seconds of one unit (``fold`` of the prepared run ``p``) at throughput ``tp``: ``epochs`` (default
    ``min(cap, TYPICAL_EPOCHS)``) of training and validation, the test part once, the tracking overhead.

    A model with nothing to train (infinite ``train_sps``) runs no epochs, predicts the test part only and
    costs :data:`UNTRAINED_UNIT_OVERHEAD_S`.
    """
    if not math.isfinite(tp.train_samples_per_s):
        return len(fold.test) / tp.predict_samples_per_s + UNTRAINED_UNIT_OVERHEAD_S
    if epochs is None:
        epochs = min(int(p.max_epochs), TYPICAL_EPOCHS)
    epoch = len(fold.train) / tp.train_samples_per_s + len(fold.val) / tp.predict_samples_per_s
    return epochs * epoch + len(fold.test) / tp.predict_samples_per_s + UNIT_OVERHEAD_S


def estimate_run(p, tp: Throughput) -> RunEstimate:
    """Seconds of a :class:`bench.plan.Prepared` run at throughput ``tp``.

    Per unit: ``epochs * (n_train / train_sps + n_valid / predict_sps) + n_test / predict_sps +``
    :data:`UNIT_OVERHEAD_S`, summed over units, at the epoch cap (``p.max_epochs``) and at
    ``min(cap, TYPICAL_EPOCHS)``. A model with nothing to train (infinite ``train_sps``) runs no epochs
    (``epochs_cap`` 0), predicts the test part only and costs :data:`UNTRAINED_UNIT_OVERHEAD_S` per unit.
    whole-set-finetune: the per-subject fine-tuning stage is not counted (it trains on the same windows
    again, subject by subject, so it can add up to as much again as the pooled training).
    """
    trained = math.isfinite(tp.train_samples_per_s)
    cap = int(p.max_epochs) if trained else 0
    typical = min(cap, TYPICAL_EPOCHS)
    overhead = UNIT_OVERHEAD_S if trained else UNTRAINED_UNIT_OVERHEAD_S
    trains = [len(fold.train) for _, fold in p.units]
    cap_s = sum(unit_seconds(p, fold, tp, cap) for _, fold in p.units)
    typ_s = sum(unit_seconds(p, fold, tp, typical) for _, fold in p.units)
    n = len(p.units)
    return RunEstimate(
        units=n,
        train_windows_mean=sum(trains) / n if n else 0.0,
        train_windows_min=min(trains, default=0),
        train_windows_max=max(trains, default=0),
        epochs_cap=cap,
        epochs_typical=typical,
        seconds_cap=cap_s,
        seconds_typical=typ_s,
        overhead_s=n * overhead,
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


HEADERS = ("run", "units", "train windows/unit", "at epoch cap", "at typical epochs")


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
        if est.epochs_cap:  # a model with nothing to train runs no epochs
            cap, typ = f"{cap} ({est.epochs_cap} ep)", f"{typ} ({est.epochs_typical} ep)"
        rows.append((entry.label, str(est.units), w, cap, typ))
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
        f"stopping); + {UNIT_OVERHEAD_S:g} s tracking per trained unit.",
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
