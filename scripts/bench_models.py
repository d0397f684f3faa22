"""CPU training throughput of every registered trainable model: forward + backward samples/s.

Batch 64 of random inputs shaped per each model's default input spec, built as the paper trains it
(both heads for multi-task models, one head otherwise), loss = summed cross-entropy (+ auxiliary loss).
fp32, then the same under ``torch.autocast("cpu", dtype=torch.bfloat16)``. A few warm-up iterations,
then the median of the timed iterations; ``torch.set_num_threads`` is left at its default.

Usage: ``python scripts/bench_models.py [--batch 64] [--warmup 3] [--iters 10]``; prints a markdown table.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from contextlib import nullcontext
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runs from a checkout without installing

from bench.data.inputs import TASKS  # noqa: E402
from bench.registry import count_parameters, create_model, list_models  # noqa: E402


def samples_per_second(name: str, *, batch: int, warmup: int, iters: int, bf16: bool) -> float:
    """Median forward+backward throughput of one model (samples/s)."""
    info = next(m for m in list_models() if m.name == name)
    tasks = TASKS if info.multitask else TASKS[:1]
    model = create_model(name, tasks=tasks).train()
    x = torch.randn(batch, *info.input_spec.sample_shape())
    y = torch.randint(0, 2, (batch,))
    ctx = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else nullcontext()
    times = []
    for i in range(warmup + iters):
        t0 = time.perf_counter()
        with ctx:
            out = model(x)
            loss = sum(F.cross_entropy(v.float(), y) for v in out.values())
            if hasattr(model, "auxiliary_loss"):
                loss = loss + model.auxiliary_loss()
        model.zero_grad(set_to_none=True)
        loss.backward()
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    return batch / statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--iters", type=int, default=10)
    args = parser.parse_args()
    torch.manual_seed(0)
    print(
        f"CPU forward+backward throughput, batch {args.batch}, median of {args.iters} iterations after "
        f"{args.warmup} warm-up; torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"{platform.processor() or platform.machine()}\n"
    )
    print("| model | input (per sample) | heads | parameters | fp32 samples/s | bf16 autocast samples/s |")
    print("|---|---|---|---:|---:|---:|")
    for info in list_models():
        if not info.trainable:
            continue
        tasks = TASKS if info.multitask else TASKS[:1]
        n_params = count_parameters(create_model(info.name, tasks=tasks))
        run = {"batch": args.batch, "warmup": args.warmup, "iters": args.iters}
        fp32 = samples_per_second(info.name, bf16=False, **run)
        try:
            bf16 = samples_per_second(info.name, bf16=True, **run)
            bf16_s = f"{bf16:,.0f}"
        except RuntimeError as err:  # an op without a bf16 CPU kernel
            bf16_s = f"n/a ({str(err).splitlines()[0][:40]})"
        shape = "x".join(map(str, info.input_spec.sample_shape()))
        print(f"| {info.name} | {shape} | {len(tasks)} | {n_params:,} | {fp32:,.0f} | {bf16_s} |")


if __name__ == "__main__":
    main()
