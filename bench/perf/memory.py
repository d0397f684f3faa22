"""Peak resident memory of each model's training unit at DEAP size (``bench perf --memory``).

A unit of a whole-set run at full size holds far more than its batches: the run's input (every window of
full-size DEAP), the unit's training, validation and test parts (standardised copies for brain maps,
:class:`bench.training.trainer.Rows` of the input for signals), the channels-last copies the trainer makes
in bf16, the model with its gradients and Adam state, and one step's activations. The issue asks that a
whole-set unit stays under :data:`MEMORY_LIMIT_BYTES` on this machine, so each model is measured the way
a run builds it (:func:`whole_set_unit`, :func:`unit_tensors`, :func:`bench.runs.unit.build_model`,
:func:`bench.training.trainer.fit`), on random data of the full size, each in a fresh child process
(multiprocessing ``spawn``): a process's peak never falls, so one model's peak would hide the next one's.

The peak is the child's own high-water mark: ``VmHWM`` of ``/proc/self/status`` where Linux has it,
``resource.getrusage(RUSAGE_SELF).ru_maxrss`` elsewhere. ru_maxrss alone misreads a spawned child: Linux
folds the high-water mark of the memory the process had before ``exec`` (the parent's, shared up to
``exec``) into the new process's ru_maxrss, so a child of a ``bench perf`` that had reached 2 GB reads
2 GB before it allocated anything (measured: 15 MB without, 1.97 GB with a 2 GB parent). The child
reports ru_maxrss too (``maxrss_bytes``): it agrees with the high-water mark whenever the parent's peak
was lower.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import resource
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection
from pathlib import Path

import numpy as np
import torch

from bench.config.run import RunConfig
from bench.core.host import resolve_device
from bench.data.inputs import InputSpec
from bench.perf import fullsize
from bench.perf.fullsize import FullSizeFolds, samples_per_trial
from bench.runs.plan import Unit
from bench.runs.resolved import ResolvedRun, resolve_run
from bench.runs.unit import build_model, train_standardiser, unit_parts
from bench.training.trainer import channels_last_applies, fit, predict_proba, trains_channels_last
from protocols import Fold

MEMORY_LIMIT_BYTES = 4_000_000_000
"""The issue's bound: "a whole-set unit stays under 4 GB on this machine" (decimal GB, the stricter)."""

TRAINING_STEPS = 3
"""Training steps a measurement takes: the first allocates the gradients and Adam's two moments, the
second and third reuse the allocator's blocks, so the peak of a whole epoch is reached by then (the data
are held from the start; activations of every step have the same shape)."""

PROTOCOL = "whole-set"
"""The protocol whose unit is measured and timed: the largest training part of one unit on DEAP (4/5 of
every window less validation), so the unit the issue bounds."""


# ---------------------------------------------------------------------------------- one full-size unit
@dataclass(frozen=True)
class _Inputs:
    spec: InputSpec


@dataclass(frozen=True)
class RunView:
    """What :func:`bench.runs.unit.build_model` and :func:`bench.runs.unit.train_standardiser` read of a
    :class:`bench.runs.plan.Prepared` (its config, hyper-parameters and input spec), without data: so the
    model and the standardisation are the run's own, called, not copied."""

    config: RunConfig
    hparams: dict
    inputs: _Inputs

    @classmethod
    def of(cls, run: ResolvedRun) -> RunView:
        return cls(run.config, run.hparams, _Inputs(run.input_spec))


@dataclass(frozen=True)
class FullSizeUnit:
    """The first unit of a whole-set run of one model on full-size DEAP (:data:`fullsize.FULL_SIZE`):
    the resolved run, the unit, its fold (indices into ``n_samples`` windows) and its seed."""

    run: ResolvedRun
    unit: Unit
    fold: Fold
    n_samples: int

    @property
    def seed(self) -> int:
        return self.unit.seed(self.run.config.seed)

    @property
    def windows(self) -> dict[str, int]:
        return {k: len(getattr(self.fold, k)) for k in ("train", "val", "test")}


def whole_set_unit(name: str, folds: FullSizeFolds | None = None) -> FullSizeUnit:
    """Fold 1 of ``name``'s default whole-set run at full size, from the protocol's own splitter
    (:class:`bench.perf.fullsize.FullSizeFolds`; a time-domain model on its own windows). A single-task
    model's first unit is its valence unit: both tasks' units have the same windows."""
    run = resolve_run(RunConfig(model=name, protocol=PROTOCOL))
    unit, fold = (folds or FullSizeFolds()).units(run)[0]
    s, t, w = fullsize.FULL_SIZE  # read when called: a test shrinks it
    return FullSizeUnit(run, unit, fold, s * t * samples_per_trial(run.input_spec, w))


def unit_tensors(
    run: ResolvedRun, n_samples: int, fold: Fold, seed: int = 0
) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
    """Random float32 input of ``n_samples`` windows of the model's sample shape, labels, and the unit's
    parts as a run holds them (:func:`bench.runs.unit.unit_parts` after
    :func:`bench.runs.unit.train_standardiser`): standardised copies for brain maps, rows of the input for
    signals. Returns the input too: a run keeps it for the whole unit, and so must the caller."""
    spec = run.input_spec
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n_samples, *spec.sample_shape(), generator=gen)
    y = torch.randint(0, 2, (n_samples, 2), generator=gen)
    std = train_standardiser(RunView.of(run), x, fold.train)
    parts = unit_parts(x, y, fold.train, fold.val, fold.test, std, rows=spec.layout == "signal")
    return x, parts


# ------------------------------------------------------------------------------------ the child process
def own_peak_rss() -> int:
    """Bytes: this process's resident high-water mark since it started (``VmHWM``; ru_maxrss where
    ``/proc`` is missing, see the module docstring for why not ru_maxrss first)."""
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return maxrss_bytes()


def maxrss_bytes() -> int:
    """``ru_maxrss`` of this process in bytes (Linux reports kB, macOS bytes)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss) if sys.platform == "darwin" else int(rss) * 1024


def rss_readings() -> tuple[int, int]:
    """(:func:`own_peak_rss`, :func:`maxrss_bytes`) of this process: in a spawned child of a parent whose
    peak was higher they differ by the parent's peak (what a test checks)."""
    return own_peak_rss(), maxrss_bytes()


def _child_main(conn: Connection, target: Callable, args: tuple) -> None:
    """The child's entry: ``target(*args)`` sent back, or its exception as one line (the parent shows
    it; a traceback from a child process would say nothing more)."""
    try:
        conn.send(("ok", target(*args)))
    except BaseException as exc:  # everything the child raises becomes the parent's one line
        text = str(exc).strip().splitlines()
        conn.send(("error", f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")))
    finally:
        conn.close()


def died(exitcode: int | None) -> str:
    """Why a child ended without an answer, in words: the signal that killed it (SIGKILL: the kernel's
    out-of-memory killer sends it) or its exit status."""
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        oom = " (out of memory: the kernel's OOM killer sends it)" if name == "SIGKILL" else ""
        return f"killed by {name}{oom}"
    return f"exited with status {exitcode} without an answer"


def in_child(target: Callable, *args: object) -> tuple[object, str | None]:
    """``target(*args)`` in a fresh ``spawn`` child: (its result, None), or (None, one line) when it
    raised or died. A fresh interpreter, not a fork: nothing of this process's memory is counted."""
    ctx = multiprocessing.get_context("spawn")
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child_main, args=(send, target, args), daemon=True)
    proc.start()
    send.close()  # the child's end only: EOF when it dies
    try:
        status, value = recv.recv()
    except EOFError:
        status, value = "died", None
    finally:
        recv.close()
    proc.join()
    if status == "ok":
        return value, None
    return None, value if status == "error" else died(proc.exitcode)


# ------------------------------------------------------------------------------------ the measurement
@dataclass(frozen=True)
class MemoryJob:
    """What a child needs to rebuild one unit: the model (its run is resolved again there), the unit,
    its fold's indices, the size of the input, and the measurement's settings."""

    model: str
    unit: Unit
    fold: Fold
    n_samples: int
    batch: int
    device: str
    precision: str
    """The parent's resolved precision: the child trains in it whatever it would resolve itself."""
    steps: int = TRAINING_STEPS
    plant_bytes: int = 0
    """A known extra allocation held through the unit (tests: the peak must rise by as much)."""


@dataclass
class UnitMemory:
    """One model's whole-set unit at full size: its windows and input size, and the child's resident
    memory (bytes) after the imports (``baseline``) and at its peak; ``error`` says why there is none."""

    model: str
    precision: str
    channels_last: bool
    """Whether the run trains it channels-last (bf16 and a 4-D input into 2-D convolutions)."""
    sample_shape: tuple[int, ...]
    windows: dict[str, int]
    input_bytes: int
    """The full-size input a run holds (every window, float32)."""
    baseline_bytes: int | None = None
    peak_bytes: int | None = None
    stages: dict[str, int] = field(default_factory=dict)
    """High-water mark after the data, after the training steps, after the prediction pass."""
    maxrss_bytes: int | None = None
    """ru_maxrss at the end, as the kernel reports it (includes the parent's peak at ``exec``)."""
    error: str | None = None

    @property
    def over_limit(self) -> bool:
        return self.peak_bytes is not None and self.peak_bytes > MEMORY_LIMIT_BYTES


class _EnoughSteps(Exception):
    """Ends :func:`bench.training.trainer.fit` after a few steps: the memory is held by then."""


def measure_unit(job: MemoryJob) -> dict:
    """In the child: hold the unit as a run does and take ``job.steps`` training steps and one prediction
    pass over the validation part at the run's precision and memory format; the high-water marks."""
    baseline = own_peak_rss()
    run = resolve_run(RunConfig(model=job.model, protocol=PROTOCOL))
    cfg, dev = run.config, resolve_device(job.device)
    planted = torch.ones(job.plant_bytes // 4) if job.plant_bytes else None  # touched: resident
    x, (xt, yt, xv, yv, xs) = unit_tensors(run, job.n_samples, job.fold)
    stages = {"data": own_peak_rss()}
    seed = job.unit.seed(cfg.seed)
    model = build_model(RunView.of(run), job.unit, seed)
    tcfg = replace(cfg.train, batch_size=job.batch, precision=job.precision)
    nhwc = trains_channels_last(tcfg.precision, dev.type)

    def stop(done: int, _total: int) -> None:
        if done >= job.steps:
            raise _EnoughSteps

    with contextlib.suppress(_EnoughSteps):  # fit's copies and the step's memory are freed with its frame
        fit(model, xt, yt, xv, yv, tasks=job.unit.tasks, config=tcfg, max_epochs=1, seed=seed, device=dev,
            on_batch=stop, channels_last=nhwc)  # fmt: skip
    stages["train"] = own_peak_rss()
    predict_proba(model, xv, batch_size=job.batch, device=dev, precision=tcfg.precision,
                  channels_last=nhwc)  # fmt: skip
    stages["predict"] = own_peak_rss()
    cl = nhwc and channels_last_applies(model, x.dim())
    del planted  # held until here: through every stage
    # the kernel's RSS counters are per-CPU approximations: a later read can be a few hundred kB lower
    peak = max(own_peak_rss(), *stages.values())
    return {
        "baseline": baseline, "peak": peak, "stages": stages, "maxrss": maxrss_bytes(), "channels_last": cl,
    }  # fmt: skip


def unit_memory(
    name: str,
    *,
    batch: int = 64,
    device: str = "cpu",
    steps: int = TRAINING_STEPS,
    plant_bytes: int = 0,
    folds: FullSizeFolds | None = None,
) -> UnitMemory:
    """Peak resident memory of ``name``'s whole-set unit at full size, measured in a fresh child (host
    memory: on a GPU the tensors the trainer moves there are not in it)."""
    fu = whole_set_unit(name, folds)
    spec, cfg = fu.run.input_spec, fu.run.config
    shape = tuple(spec.sample_shape())
    job = MemoryJob(name, fu.unit, fu.fold, fu.n_samples, batch, device, cfg.train.precision, steps,
                    plant_bytes)  # fmt: skip
    out = UnitMemory(
        model=name,
        precision=cfg.train.precision,
        channels_last=False,
        sample_shape=shape,
        windows=fu.windows,
        input_bytes=fu.n_samples * int(np.prod(shape)) * 4,
    )
    got, error = in_child(measure_unit, job)
    if error is not None:
        out.error = error
        return out
    out.baseline_bytes, out.peak_bytes = got["baseline"], got["peak"]
    out.stages, out.maxrss_bytes = got["stages"], got["maxrss"]
    out.channels_last = got["channels_last"]
    return out


def memory_of_models(
    names: list[str], *, batch: int, device: str, echo: Callable[[str], None] | None = None
) -> list[UnitMemory]:
    """:func:`unit_memory` of every model in turn (one child each; the folds are made once per
    segmentation)."""
    echo = echo or (lambda _m: None)
    folds = FullSizeFolds()
    out = []
    for name in names:
        echo(f"memory: {name}, whole-set unit at full size, in a child process")
        out.append(unit_memory(name, batch=batch, device=device, folds=folds))
    return out
