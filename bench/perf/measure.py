"""One ``bench perf`` run (:func:`measure`) and everything it measured (:class:`PerfReport`).

:func:`measure` runs in one process, in this order: the machine (CPU model, torch, threads, native bf16,
device), the ceiling (fp32 and bf16 square-matmul GFLOP/s, :mod:`bench.perf.ceiling`), then per trainable
model its FLOPs per training sample and training samples/s per variant (:mod:`bench.perf.throughput`),
the ceiling again (load drifts), and the full-size (DEAP: 32 subjects x 40 trials x 120 windows) wall
time per protocol and for the default ``bench reproduce`` grid (:mod:`bench.perf.fullsize`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import torch

from bench.core.host import resolve_device, usable_cores
from bench.models.registry import list_models
from bench.perf.ceiling import CEILING_SIZE, fraction_of_ceiling, machine, matmul_gflops
from bench.perf.fullsize import FullSizeEstimate, full_size_estimates
from bench.perf.parallel import PoolRates, pool_rates
from bench.perf.throughput import ModelPerf, measure_model


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
    pools: dict[str, PoolRates] = field(default_factory=dict)
    """Per model: the rates of a pool of single-thread workers running at once (more than one core)."""

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
    pools: dict[str, PoolRates] = {}
    workers = usable_cores()
    if dev.type == "cpu" and workers > 1:  # bench reproduce --executor pool: one single-thread unit per core
        for mp in perfs:
            echo(f"{mp.name}: {workers} single-thread workers at once ({mp.auto_precision})")
            pools[mp.name] = pool_rates(
                mp.name,
                precision=mp.auto_precision,
                workers=workers,
                batch=batch,
                seconds=0.5 if quick else 3.0,
            )
    echo("full-size estimates")
    estimates, grid = full_size_estimates(perfs, pools)
    return PerfReport(machine(dev), settings, before, after, perfs, estimates, grid, pools)
