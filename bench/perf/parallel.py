"""Training throughput of a pool of single-thread workers, measured with all of them running at once.

``bench reproduce --executor pool`` runs one unit per worker process, ``usable cores // workers`` torch
threads each (one on this project's 2-core machine). On small convolutional models that can beat one
process with every core: torch's intra-op threads split each op, and the short ops of a batch-64 step
leave the second core idle part of the time (MT-CNN: 1 -> 2 threads 1.47x, 2 single-thread processes at
once 1.84x, AMD EPYC; ``scripts/bench_workers.py``). What the pool does depends on what the processes
share (caches, memory bandwidth, the AMX unit of a core), so it is measured, not assumed:
:func:`pool_rates` starts ``workers`` spawned processes, each builds the model and warms it up, all wait
at a barrier, then each times training steps for the same seconds, meets the others at a second barrier,
and times prediction batches. The rates are per worker, while all ran at once.
"""

from __future__ import annotations

import multiprocessing as mp
import queue
import statistics
import time
from dataclasses import dataclass

import torch

from bench.core.errors import BenchError
from bench.models.registry import create_model
from bench.perf.throughput import model_setup
from bench.runs.estimate import prediction_step, training_step
from bench.training.trainer import trains_channels_last, use_channels_last

SPAWN_TIMEOUT_S = 300.0
"""How long the parent waits for the workers' rates (spawning imports torch: seconds, not minutes)."""


@dataclass(frozen=True)
class PoolRates:
    """Per-worker training and prediction samples/s of ``workers`` single-thread processes running at once
    (the median over the workers), and what each worker measured."""

    workers: int
    threads_per_worker: int
    train_samples_per_s: float
    predict_samples_per_s: float
    per_worker: tuple[tuple[float, float], ...]


def _timed_rate(fn, batch: int, seconds: float) -> float:
    """Samples/s of ``fn`` (one batch per call) called for at least ``seconds`` (and at least 3 calls)."""
    calls, t0 = 0, time.perf_counter()
    while calls < 3 or time.perf_counter() - t0 < seconds:
        fn()
        calls += 1
    return calls * batch / (time.perf_counter() - t0)


def _worker(name: str, precision: str, batch: int, threads: int, seconds: float, barrier, out) -> None:
    """One worker: build ``name`` as a run does, warm up, then time training and prediction in step with
    the other workers (barriers), and put ``(train, predict)`` samples/s on ``out``."""
    try:
        torch.set_num_threads(threads)
        hp, tasks, shape = model_setup(name)
        torch.manual_seed(0)
        model = create_model(name, tasks=tasks, **hp)
        gen = torch.Generator().manual_seed(0)
        pb = max(batch, 256)
        x = torch.randn(pb, *shape, generator=gen)
        y = torch.randint(0, 2, (batch, 2), generator=gen)
        if trains_channels_last(precision, "cpu"):  # pool workers run on the CPU
            x = use_channels_last(model, x)
        step = training_step(
            model.train(), x[:batch], y, tasks=tasks, device=torch.device("cpu"), precision=precision
        )
        predict = prediction_step(model, x, device=torch.device("cpu"), precision=precision)
        for _ in range(2):
            step()
        barrier.wait()
        train = _timed_rate(step, batch, seconds)
        model.eval()
        predict()
        barrier.wait()
        pred = _timed_rate(predict, pb, seconds / 2)
        out.put(("ok", train, pred))
    except BaseException as exc:  # noqa: BLE001 -- reported to the parent as one line
        barrier.abort()
        out.put(("error", f"{type(exc).__name__}: {exc}", 0.0))


def pool_rates(
    name: str,
    *,
    precision: str,
    workers: int,
    threads_per_worker: int = 1,
    batch: int = 64,
    seconds: float = 3.0,
) -> PoolRates:
    """Per-worker rates of ``workers`` spawned processes training ``name`` at once (see the module doc)."""
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(workers)
    out = ctx.Queue()
    procs = [
        ctx.Process(target=_worker, args=(name, precision, batch, threads_per_worker, seconds, barrier, out))
        for _ in range(workers)
    ]
    for p in procs:
        p.start()
    results: list[tuple] = []
    deadline = time.monotonic() + SPAWN_TIMEOUT_S
    try:
        while len(results) < workers:
            try:
                results.append(out.get(timeout=0.5))
            except queue.Empty:
                dead = [p for p in procs if p.exitcode not in (None, 0)]
                if dead or time.monotonic() > deadline:
                    why = f"exit code {dead[0].exitcode}" if dead else f"no result in {SPAWN_TIMEOUT_S:.0f} s"
                    raise BenchError(f"bench perf: a pool worker timing {name} stopped ({why})") from None
    finally:
        for p in procs:
            p.join(timeout=10)
            if p.is_alive():
                p.kill()
    errors = [r[1] for r in results if r[0] != "ok"]
    if errors:
        raise BenchError(f"bench perf: a pool worker timing {name} failed: {errors[0]}")
    rates = tuple((r[1], r[2]) for r in results)
    return PoolRates(
        workers,
        threads_per_worker,
        statistics.median(t for t, _ in rates),
        statistics.median(p for _, p in rates),
        rates,
    )
