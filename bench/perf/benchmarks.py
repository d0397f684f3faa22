"""What this machine can do and how close the models come to it (``bench perf``), and bf16 parity.

:func:`measure` runs in one process, in this order: the machine (CPU model, torch, threads, native bf16,
device), the ceiling (fp32 and bf16 square-matmul GFLOP/s), then per trainable model its FLOPs per
training sample (:class:`torch.utils.flop_counter.FlopCounterMode` over one training step), its training
samples/s in fp32 and bf16 autocast, contiguous and channels-last, timed round-robin (one step of each
variant in turn, so load on a shared machine hits all variants alike and their ratios stay comparable),
the fraction of the matching ceiling, and the full-size (DEAP: 32 subjects x 40 trials x 120 windows)
wall time per protocol and for the default ``bench reproduce`` grid, via :mod:`bench.runs.estimate`.

:func:`parity` trains one model twice on the embedded synthetic default, fp32 and bf16 autocast, same
folds and seed, through the normal runner, and says whether the accuracy difference is within the
fold-to-fold spread: the measurement a model's ``bf16_parity`` registry string records.
"""

from __future__ import annotations

import contextlib
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

if TYPE_CHECKING:
    from bench.data.inputs import InputSpec

# ------------------------------------------------------------------------------------------- parity


@dataclass(frozen=True)
class ParityResult:
    """Per-fold test accuracy (%) per precision and task, and the verdict."""

    model: str
    n_folds: int
    epochs: int
    seed: int
    tasks: tuple[str, ...]
    accuracy: dict[str, dict[str, list[float]]]
    """``{precision: {task: [fold 1 %, fold 2 %, ...]}}`` (window-level test accuracy)."""
    seconds: dict[str, float]
    """Wall time of each precision's run."""

    def mean_std(self, precision: str, task: str) -> tuple[float, float]:
        """Mean and sample std over folds (the runner's summary uses the same ``ddof=1``)."""
        v = self.accuracy[precision][task]
        return float(np.mean(v)), float(np.std(v, ddof=1)) if len(v) > 1 else 0.0

    def difference(self, task: str) -> float:
        """Mean bf16 minus mean fp32 accuracy, points."""
        return self.mean_std("bf16", task)[0] - self.mean_std("fp32", task)[0]

    def holds(self, task: str) -> bool:
        """Parity: the mean difference is within the smaller of the two fold-to-fold stds."""
        spread = min(self.mean_std("fp32", task)[1], self.mean_std("bf16", task)[1])
        return abs(self.difference(task)) <= spread

    @property
    def verdict(self) -> bool:
        return all(self.holds(t) for t in self.tasks)


def parity(
    model: str,
    *,
    n_folds: int = 5,
    epochs: int | None = None,
    seed: int = 0,
    tracking_uri: str | None = None,
    echo: Callable[[str], None] | None = None,
) -> ParityResult:
    """Train ``model`` whole-set, ``n_folds`` folds by trial, on the embedded synthetic default in fp32 and
    in bf16 autocast (explicit precisions: bf16 runs even without native bf16, only slower), same folds
    and seed, through :func:`bench.runs.runner.run_experiment` into ``tracking_uri`` (default: a SQLite store
    in a temporary folder, removed afterwards). ``epochs`` defaults to the embedded default's cap
    (``bench.config.run.QUICK_EPOCHS``, what ``bench run`` trains there)."""
    from bench.config.run import QUICK_EPOCHS, RunConfig, TrainConfig
    from bench.data.cache import prepare_features
    from bench.data.source import synthetic_source
    from bench.models.registry import get_model_info
    from bench.runs.plan import prepare
    from bench.runs.runner import run_experiment

    epochs = QUICK_EPOCHS if epochs is None else int(epochs)
    get_model_info(model)  # an unknown name fails before any data is prepared
    fs = prepare_features(synthetic_source(echo=echo))
    tmp = None
    if tracking_uri is None:
        tmp = tempfile.TemporaryDirectory(prefix="deap-bench-parity-")
        tracking_uri = f"sqlite:///{Path(tmp.name) / 'mlflow.db'}"
    acc: dict[str, dict[str, list[float]]] = {}
    secs: dict[str, float] = {}
    tasks: tuple[str, ...] = ()
    # a SQLite store puts its artifacts under ./mlruns: in the temporary folder, not the caller's
    where = contextlib.chdir(tmp.name) if tmp is not None else contextlib.nullcontext()
    try:
        with where:
            for precision in ("fp32", "bf16"):
                cfg = RunConfig(
                    model=model, protocol="whole-set", split="trial", n_folds=n_folds, seed=seed,
                    train=TrainConfig(max_epochs=epochs, precision=precision),
                )  # fmt: skip
                p = prepare(cfg, features=fs)
                tasks = tuple(p.config.tasks)
                if echo:
                    echo(f"{model} {precision}: {len(p.units)} units, {epochs} epoch(s)")
                t0 = time.perf_counter()
                res = run_experiment(p.config, tracking_uri=tracking_uri, force=True, prepared=p)
                secs[precision] = time.perf_counter() - t0
                per_task: dict[str, dict[int, float]] = {t: {} for t in tasks}
                for u in res.units:
                    for t in u.unit.tasks:
                        per_task[t][u.unit.fold] = 100 * float(u.metrics[f"test_acc_{t}"])
                acc[precision] = {t: [v[k] for k in sorted(v)] for t, v in per_task.items()}
    finally:
        if tmp is not None:
            tmp.cleanup()
    return ParityResult(model, n_folds, epochs, seed, tuple(tasks), acc, secs)


def parity_text(r: ParityResult) -> str:
    """Markdown: per-fold accuracies, mean ± std per precision and task, the differences and the verdict."""
    head = "| precision | " + " | ".join(
        f"{t} fold {i + 1}" for t in r.tasks for i in range(len(r.accuracy["fp32"][t]))
    )
    lines = [
        f"{r.model}: embedded synthetic default, whole-set, {r.n_folds} folds by trial, {r.epochs} epoch(s), "
        f"seed {r.seed}; window test accuracy %",
        "",
        head + " | " + " | ".join(f"{t} mean ± std" for t in r.tasks) + " | wall s |",
        "|---|" + "---:|" * (sum(len(r.accuracy["fp32"][t]) for t in r.tasks) + len(r.tasks) + 1),
    ]
    for prec in ("fp32", "bf16"):
        folds = [f"{a:.1f}" for t in r.tasks for a in r.accuracy[prec][t]]
        ms = [f"{m:.1f} ± {s:.1f}" for m, s in (r.mean_std(prec, t) for t in r.tasks)]
        lines.append(f"| {prec} | " + " | ".join(folds + ms) + f" | {r.seconds[prec]:.0f} |")
    lines.append("")
    for t in r.tasks:
        spread = min(r.mean_std("fp32", t)[1], r.mean_std("bf16", t)[1])
        lines.append(
            f"{t}: bf16 - fp32 = {_signed(r.difference(t))} points; smaller fold-to-fold std {spread:.1f}: "
            f"{'within' if r.holds(t) else 'OUTSIDE'}"
        )
    lines.append(f"verdict: {'parity holds' if r.verdict else 'parity NOT shown'}")
    return "\n".join(lines)


def _signed(points: float) -> str:
    """``+0.7``, ``-1.2``; a difference that rounds to zero is ``0.0`` (never ``-0.0``)."""
    text = f"{points:+.1f}"
    return "0.0" if text in ("+0.0", "-0.0") else text


def parity_note(r: ParityResult, machine: str, date: str) -> str:
    """The registry's ``bf16_parity`` wording for a measurement (as MT-CNN's in mtcnn/model.py)."""

    def accs(prec: str) -> str:
        return ", ".join(
            f"{t} {m:.1f} ± {s:.1f}" for t, (m, s) in ((t, r.mean_std(prec, t)) for t in r.tasks)
        )

    diffs = " and ".join(_signed(r.difference(t)) for t in r.tasks)
    per_fold = max(
        abs(b - a) for t in r.tasks for a, b in zip(r.accuracy["fp32"][t], r.accuracy["bf16"][t], strict=True)
    )
    return (
        f"Embedded synthetic default (4 subjects x 40 trials), whole-set, {r.n_folds} folds by trial, "
        f"{r.epochs} epoch{'s' if r.epochs != 1 else ''}, seed {r.seed}, the same folds, "
        f"on {machine} ({date}): "
        f"window test accuracy, mean ± std over folds, fp32 {accs('fp32')}; bf16 autocast {accs('bf16')}. "
        f"Mean difference{'s' if len(r.tasks) > 1 else ''} {diffs} points, "
        f"{'within' if r.verdict else 'NOT within'} the fold-to-fold std; per-fold differences up to "
        f"{per_fold:.1f} points."
    )


# ------------------------------------------------------------------------------------------ machine
def machine(device: torch.device) -> dict[str, object]:
    """What the numbers were measured on: CPU, torch, threads, native bf16, device."""
    from bench.core.host import native_bf16
    from bench.tracking.store import cpu_name

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    return {
        "cpu": cpu_name(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "native_bf16": native_bf16(device),
        "device": name,
    }


# ------------------------------------------------------------------------------------------ ceiling
CEILING_SIZE = 2048
"""Square matmul size of the ceiling: large enough that BLAS runs at its peak on a CPU (a 2048^3 product
is 17 GFLOP, ~0.1 s at fp32 on a 2-core EPYC), small enough to repeat; ``--quick`` uses 1024."""


def matmul_gflops(n: int, dtype: torch.dtype, device: torch.device, *, warmup: int, reps: int) -> float:
    """GFLOP/s of an ``n x n`` by ``n x n`` matmul (``2 n^3`` FLOPs) in ``dtype``: the median of ``reps``
    timed products after ``warmup`` untimed ones. The median, not the best: the models' rates are medians
    too, so on a loaded machine a fraction of the ceiling compares like with like."""
    from bench.runs.estimate import timed

    gen = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=gen).to(device=device, dtype=dtype)
    b = torch.randn(n, n, generator=gen).to(device=device, dtype=dtype)
    for _ in range(warmup):
        torch.mm(a, b)
    times = [timed(lambda: torch.mm(a, b), device) for _ in range(reps)]
    return 2 * n**3 / statistics.median(times) / 1e9


def fraction_of_ceiling(flops_per_sample: float, samples_per_s: float, ceiling_gflops: float) -> float:
    """Achieved GFLOP/s (``flops_per_sample * samples_per_s / 1e9``) over the ceiling's GFLOP/s."""
    return flops_per_sample * samples_per_s / 1e9 / ceiling_gflops


# ------------------------------------------------------------------------------------------- models
VARIANTS: tuple[tuple[str, str, bool], ...] = (
    ("fp32", "fp32", False),
    ("fp32-cl", "fp32", True),
    ("bf16", "bf16", False),
    ("bf16-cl", "bf16", True),
)
"""(key, precision, channels-last) of every timed training variant."""


def count_flops(fn: Callable[[], None]) -> int:
    """FLOPs of one call of ``fn`` as :class:`torch.utils.flop_counter.FlopCounterMode` counts them
    (matmuls and convolutions, forward and backward; elementwise ops, norms and the optimiser count 0)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


@dataclass
class ModelPerf:
    """One model's measurements; ``samples_per_s`` maps a :data:`VARIANTS` key to training samples/s
    (None: channels-last does not apply to this model's input)."""

    name: str
    sample_shape: tuple[int, ...]
    parameters: int
    flops_per_sample: float
    samples_per_s: dict[str, float | None]
    auto_precision: str
    """What ``--precision auto`` trains this model in on this device
    (bench.runs.identity.resolve_precision)."""
    predict_samples_per_s: float
    """Prediction (eval, batch max(batch, 256)) at ``auto_precision``, NCHW: for the estimates."""

    def best(self, precision: str) -> float:
        """Training samples/s at ``precision`` in the faster memory format."""
        return max(v for k, v in self.samples_per_s.items() if k.split("-")[0] == precision and v)

    def trained_rate(self) -> float:
        """Training samples/s of what a run trains here: ``auto_precision`` in the trainer's memory format
        (:func:`bench.training.trainer.trains_channels_last`, where it applies)."""
        from bench.training.trainer import trains_channels_last

        cl = self.samples_per_s.get(f"{self.auto_precision}-cl")
        if cl is not None and trains_channels_last(self.auto_precision):
            return cl
        return self.samples_per_s[self.auto_precision]

    def channels_last_gain(self, precision: str) -> float | None:
        """Channels-last over contiguous samples/s, minus 1 (None where it does not apply)."""
        cl = self.samples_per_s.get(f"{precision}-cl")
        return None if cl is None else cl / self.samples_per_s[precision] - 1


def _model_setup(name: str) -> tuple[dict, tuple[str, ...], tuple[int, ...]]:
    """Hyper-parameters (the run's defaults), tasks (both heads for multi-task models, one otherwise, as
    a unit trains them) and the per-sample input shape of a default run of ``name``."""
    from bench.config.run import RunConfig
    from bench.data.inputs import TASKS
    from bench.models.registry import get_model_info, resolve_input_spec
    from bench.runs.plan import check_config, model_hparams

    info = get_model_info(name)
    cfg = check_config(RunConfig(model=name))
    hp = model_hparams(cfg)
    tasks = TASKS if info.multitask else TASKS[:1]
    return hp, tasks, resolve_input_spec(name, **hp).sample_shape()


def measure_model(
    name: str, *, batch: int, device: torch.device, warmup: int, reps: int, echo: Callable[[str], None]
) -> ModelPerf:
    """FLOPs per training sample, training samples/s of every variant (timed round-robin: one step of each
    variant in turn, ``reps`` rounds after ``warmup`` untimed steps each; the median counts), and the
    prediction rate at the precision ``--precision auto`` picks."""
    from bench.models.registry import count_parameters, create_model, get_model_info
    from bench.runs.estimate import prediction_step, timed, training_step
    from bench.runs.identity import resolve_precision
    from bench.training.trainer import channels_last_applies

    hp, tasks, shape = _model_setup(name)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(batch, *shape, generator=gen).to(device)
    y = torch.randint(0, 2, (batch, 2), generator=gen).to(device)

    def build(channels_last: bool) -> torch.nn.Module:
        torch.manual_seed(0)
        m = create_model(name, tasks=tasks, **hp).to(device).train()
        return m.to(memory_format=torch.channels_last) if channels_last else m

    probe = build(False)
    flops = count_flops(training_step(probe, x, y, tasks=tasks, device=device, precision="fp32"))
    cl_ok = channels_last_applies(probe, len(shape) + 1)
    steps: dict[str, Callable[[], None]] = {}
    for key, precision, cl in VARIANTS:
        if cl and not cl_ok:
            continue
        xv = x.contiguous(memory_format=torch.channels_last) if cl else x
        steps[key] = training_step(build(cl), xv, y, tasks=tasks, device=device, precision=precision)
    echo(f"{name}: {flops / batch / 1e6:,.1f} MFLOP per training sample; timing {', '.join(steps)}")
    for step in steps.values():
        for _ in range(warmup):
            step()
    times: dict[str, list[float]] = {k: [] for k in steps}
    for _ in range(reps):
        for key, step in steps.items():
            times[key].append(timed(step, device))
    sps = {k: (batch / statistics.median(times[k]) if k in times else None) for k, _, _ in VARIANTS}
    auto = resolve_precision("auto", get_model_info(name), device.type)
    pb = max(batch, 256)
    xp = torch.randn(pb, *shape, generator=gen).to(device)
    probe.eval()
    predict = prediction_step(probe, xp, device=device, precision=auto)
    predict()
    p_times = [timed(predict, device) for _ in range(max(1, reps // 2))]
    return ModelPerf(
        name=name,
        sample_shape=tuple(shape),
        parameters=count_parameters(probe),
        flops_per_sample=flops / batch,
        samples_per_s=sps,
        auto_precision=auto,
        predict_samples_per_s=pb / statistics.median(p_times),
    )


# ------------------------------------------------------------------------------------- full size
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
    from bench.data.inputs import SIGNAL_SFREQ
    from bench.data.signal import n_windows

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

    def units(self, cfg) -> list:
        """The units of the resolved RunConfig ``cfg`` at full size (:func:`bench.runs.plan.make_units`)."""
        from bench.models.registry import resolve_input_spec
        from bench.runs.plan import make_units, model_hparams
        from protocols import make_folds

        n_s, n_t, n_w = FULL_SIZE
        n_seg = samples_per_trial(
            resolve_input_spec(cfg.model, features=cfg.features, **model_hparams(cfg)), n_w
        )
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
        return make_units(cfg, self._folds[key])


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


def full_size_estimates(perfs: Sequence[ModelPerf]) -> tuple[list[FullSizeEstimate], str]:
    """Each model's full-size wall time at its measured rate in ``--precision auto``'s precision and the
    trainer's memory format (:meth:`ModelPerf.trained_rate`), via :func:`bench.runs.estimate.estimate_run`;
    and the grid's name."""
    from bench.config.run import RunConfig
    from bench.runs.estimate import Throughput, estimate_run
    from bench.runs.grid import DEFAULT_PRESET, load_grid
    from bench.runs.plan import check_config
    from protocols import list_protocols

    grid = load_grid(preset=DEFAULT_PRESET, scale="full", deap=FULL_SIZE_DEAP)
    folds = FullSizeFolds()
    out = []
    for mp in perfs:
        sps = mp.trained_rate()
        tp = Throughput(sps, mp.predict_samples_per_s)

        def seconds(cfg, tp=tp) -> tuple[float, float]:
            est = estimate_run(SizedRun(folds.units(cfg), int(cfg.train.max_epochs)), tp)
            return est.seconds_typical, est.train_windows_mean

        per, windows = {}, {}
        for proto in list_protocols():
            if proto.population == "cross-dataset":  # sizes come from DEAP's folds; no second dataset here
                continue
            cfg = check_config(RunConfig(model=mp.name, protocol=proto.name, n_folds=PROTOCOL_FOLDS))
            per[proto.name], windows[proto.name] = seconds(cfg)
        entries = [e for e in grid.entries if e.model == mp.name]
        total = sum(seconds(e.config)[0] for e in entries)
        out.append(FullSizeEstimate(mp.name, mp.auto_precision, sps, per, len(entries), total, windows))
    return out, grid.name


# ------------------------------------------------------------------------------------------ the run
@dataclass
class PerfReport:
    """Everything one ``bench perf`` run measured (``--json`` writes it with the derived numbers)."""

    machine: dict[str, object]
    settings: dict[str, object]
    ceiling_before: dict[str, float]
    ceiling_after: dict[str, float]
    models: list[ModelPerf]
    estimates: list[FullSizeEstimate]
    grid: str

    def ceiling(self, precision: str) -> float:
        """GFLOP/s: the mean of the ceiling measured before and after the models (load drifts)."""
        return (self.ceiling_before[precision] + self.ceiling_after[precision]) / 2

    def fraction(self, mp: ModelPerf, variant: str) -> float | None:
        sps = mp.samples_per_s[variant]
        prec = variant.split("-")[0]
        return None if sps is None else fraction_of_ceiling(mp.flops_per_sample, sps, self.ceiling(prec))

    def to_json(self) -> dict:
        d = asdict(self)
        d["ceiling"] = {p: self.ceiling(p) for p in ("fp32", "bf16")}
        for md, mp in zip(d["models"], self.models, strict=True):
            md["gflops"] = {
                k: (None if v is None else mp.flops_per_sample * v / 1e9) for k, v in mp.samples_per_s.items()
            }
            md["fraction_of_ceiling"] = {k: self.fraction(mp, k) for k in mp.samples_per_s}
            md["channels_last_gain"] = {p: mp.channels_last_gain(p) for p in ("fp32", "bf16")}
        return d


def measure(
    models: Sequence[str] | None = None,
    *,
    batch: int = 64,
    device: str = "auto",
    quick: bool = False,
    echo: Callable[[str], None] | None = None,
) -> PerfReport:
    """The whole ``bench perf`` run: machine, ceiling (before and after the models), every model (default:
    every trainable registered model), the full-size estimates. ``quick``: a 1024 matmul, 1 warm-up and
    2 timed rounds (a smoke check, not a measurement); else 2048, 3 warm-up steps and 10 rounds."""
    from bench.core.host import resolve_device
    from bench.models.registry import list_models

    echo = echo or (lambda _m: None)
    dev = resolve_device(device)
    names = list(models) if models else [m.name for m in list_models() if m.trainable]
    n, warmup, reps = (1024, 1, 2) if quick else (CEILING_SIZE, 3, 10)
    settings = {"batch": batch, "matmul_size": n, "warmup": warmup, "reps": reps, "quick": quick}

    def ceiling() -> dict[str, float]:
        return {
            p: matmul_gflops(n, dt, dev, warmup=max(1, warmup), reps=reps)
            for p, dt in (("fp32", torch.float32), ("bf16", torch.bfloat16))
        }

    echo(f"ceiling: {n}x{n} matmul, fp32 and bf16")
    before = ceiling()
    perfs = [measure_model(m, batch=batch, device=dev, warmup=warmup, reps=reps, echo=echo) for m in names]
    after = ceiling()
    echo("full-size estimates")
    estimates, grid = full_size_estimates(perfs)
    return PerfReport(machine(dev), settings, before, after, perfs, estimates, grid)


# ------------------------------------------------------------------------------------------- output
MODEL_HEADERS = (
    "model",
    "input",
    "parameters",
    "MFLOP/sample",
    "fp32 samples/s",
    "fp32 channels-last",
    "bf16 samples/s",
    "bf16 channels-last",
    "% fp32 ceiling",
    "% bf16 ceiling",
)


def _num(v: float | None) -> str:
    return "n/a" if v is None else f"{v:,.0f}"


def _mflop(f: float) -> str:
    return f"{f / 1e6:,.1f}" if f < 10e6 else f"{f / 1e6:,.0f}"


def model_rows(r: PerfReport) -> list[tuple[str, ...]]:
    """One row per model; a % of ceiling is that precision's faster memory format."""
    rows = []
    for mp in r.models:
        fr = {p: fraction_of_ceiling(mp.flops_per_sample, mp.best(p), r.ceiling(p)) for p in ("fp32", "bf16")}
        rows.append(
            (
                mp.name,
                "x".join(map(str, mp.sample_shape)),
                f"{mp.parameters:,}",
                _mflop(mp.flops_per_sample),
                *(_num(mp.samples_per_s[k]) for k, _, _ in VARIANTS),
                f"{100 * fr['fp32']:.0f} %",
                f"{100 * fr['bf16']:.0f} %",
            )
        )
    return rows


def estimate_headers(r: PerfReport) -> tuple[str, ...]:
    protos = tuple(r.estimates[0].protocols) if r.estimates else ()
    return ("model", "precision (auto)", "samples/s", *protos, f"grid {r.grid} (runs)")


def estimate_rows(r: PerfReport) -> list[tuple[str, ...]]:
    """Full-size hours per model and protocol, and the grid; a total row over the models."""
    from bench.runs.estimate import format_seconds

    rows = []
    for e in r.estimates:
        per = [format_seconds(s) for s in e.protocols.values()]
        rows.append(
            (
                e.model,
                e.precision,
                _num(e.train_samples_per_s),
                *per,
                f"{format_seconds(e.grid_seconds)} ({e.grid_runs})",
            )
        )
    if len(r.estimates) > 1:
        protos = r.estimates[0].protocols
        tot = [format_seconds(sum(e.protocols[p] for e in r.estimates)) for p in protos]
        runs = sum(e.grid_runs for e in r.estimates)
        grid = format_seconds(sum(e.grid_seconds for e in r.estimates))
        rows.append(("total", "", "", *tot, f"{grid} ({runs})"))
    return rows


def header_lines(r: PerfReport) -> list[str]:
    """The machine and the ceiling in words."""
    m, s = r.machine, r.settings
    bf16 = "yes" if m["native_bf16"] else "no (bf16 is emulated: slower than fp32)"
    return [
        f"Machine: {m['cpu']}; device {m['device']}; torch {m['torch']}, {m['threads']} threads; "
        f"native bf16: {bf16}.",
        f"Ceiling ({s['matmul_size']}x{s['matmul_size']} matmul, median of {s['reps']} after warm-up, "
        f"mean of before and after the models): fp32 {r.ceiling('fp32'):,.0f} GFLOP/s "
        f"({r.ceiling_before['fp32']:,.0f} / {r.ceiling_after['fp32']:,.0f}), bf16 {r.ceiling('bf16'):,.0f} "
        f"GFLOP/s ({r.ceiling_before['bf16']:,.0f} / {r.ceiling_after['bf16']:,.0f}).",
    ]


def model_note(r: PerfReport) -> str:
    s = r.settings
    return (
        f"Training step (forward, class-weighted loss, backward, Adam) at batch {s['batch']}, random inputs; "
        f"variants timed round-robin, median of {s['reps']} rounds after {s['warmup']} warm-up steps. "
        "FLOPs: torch.utils.flop_counter over one step / batch (matmuls and convolutions). "
        "% of ceiling: achieved GFLOP/s in the faster memory format / the matmul ceiling of that precision. "
        "Channels-last: 4-D inputs into 2-D convolutions only."
    )


def estimate_note(r: PerfReport) -> str:
    from bench.runs.estimate import TYPICAL_EPOCHS, UNIT_OVERHEAD_S

    s, t, w = FULL_SIZE
    return (
        f"Full size: {s} subjects x {t} trials x {w} windows (a time-domain model: its own windows of those "
        f"{w * FEATURE_WINDOW_S:g} s, 15 of 4 s by default), fold sizes from the protocols' own splitter; "
        f"{PROTOCOL_FOLDS} folds, the protocol's default split; {TYPICAL_EPOCHS} epochs (typical with early "
        f"stopping) of training + validation, + {UNIT_OVERHEAD_S:.1f} s tracking per unit "
        "(bench.runs.estimate); "
        "at the measured rate of the precision --precision auto picks here, channels-last in bf16 (as the "
        "trainer runs it). whole-set-finetune: "
        f"the fine-tuning stage is not counted. Grid: the {r.grid} preset at the full scale, its runs of "
        "these models (variants at the full model's rate)."
    )


def markdown(r: PerfReport) -> str:
    """The whole report as markdown (what the README's Performance section takes verbatim)."""

    def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
        right = "|".join("---" if i == 0 else "---:" for i in range(len(headers)))
        return [f"| {' | '.join(headers)} |", f"|{right}|", *(f"| {' | '.join(row)} |" for row in rows)]

    lines = [*header_lines(r), "", *table(MODEL_HEADERS, model_rows(r)), "", model_note(r), ""]
    lines += [*table(estimate_headers(r), estimate_rows(r)), "", estimate_note(r)]
    return "\n".join(lines)


def rich_tables(r: PerfReport) -> list:
    """The report as rich renderables: the header lines and two tables, laid out for the terminal's width
    (:class:`bench.core.terminal.FitTable`): the columns a narrow terminal cannot hold side by side fold into
    a further table repeating the model column, so no number is ever cut."""
    from bench.core.terminal import NAME, NUMBER, Col, FitTable

    out: list = ["\n".join(header_lines(r))]
    for title, headers, rows, note in (
        ("Training throughput", MODEL_HEADERS, model_rows(r), model_note(r)),
        ("Full-size wall time", estimate_headers(r), estimate_rows(r), estimate_note(r)),
    ):
        columns = [Col(h, NAME if i == 0 else NUMBER) for i, h in enumerate(headers)]  # as aligned before
        styles = ["bold" if row[0] == "total" else None for row in rows]
        out.append(FitTable(columns, rows, title=title, caption=note, styles=styles, fold=1))
    return out
