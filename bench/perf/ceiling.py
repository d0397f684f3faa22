"""What this machine is and what it can do at most: the machine's description and the matmul ceiling.

``bench perf`` states the machine (CPU, torch, threads, native bf16, device) with every measurement, and
measures the fp32 and bf16 square-matmul GFLOP/s that each model's achieved GFLOP/s is a fraction of.
"""

from __future__ import annotations

import statistics

import torch

from bench.core import host
from bench.core.host import cpu_name
from bench.runs.estimate import timed


def machine(device: torch.device) -> dict[str, object]:
    """What the numbers were measured on: CPU, torch, threads, native bf16, device."""
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    return {
        "cpu": cpu_name(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "native_bf16": host.native_bf16(device),  # read when called: a test pins it
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
