"""Benchmark of ``bench reproduce``: the smoke grid's wall time and units/hour with 1 and 2 pool workers,
and the ``--plan`` estimate for ``--scale full`` next to measured full-size units.

    python scripts/bench_reproduce.py smoke [--workers 1 2]
    python scripts/bench_reproduce.py full-sample --deap DIR [--epochs 2] [--runs mtcnn|subject-specific ...]

Every part prints this machine's CPU and its fp32 / bf16 matmul ceiling, measured in the same run: wall
times on a shared machine mean little without it. ``smoke`` runs ``bench reproduce --scale smoke`` as a
subprocess on a fresh store per worker count (the smoke data is generated once, in the feature cache).
``full-sample`` prints the full-scale plan of the rudakov2021 preset on the DEAP folder DIR (e.g. a
full-size synthetic DEAP from ``bench data synth DIR --subjects 32``), then trains the first unit of some
of its runs for exactly ``--epochs`` epochs (early stopping off) and compares the seconds with the
estimate for that many epochs (tracking overhead left out of both).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import replace


def ceiling() -> dict:
    """This machine's CPU and its matmul throughput (GFLOP/s), fp32 and bf16, 2048 x 2048, torch threads."""
    import torch

    from bench.core.host import hardware

    out = {"hardware": hardware(), "threads": torch.get_num_threads()}
    n = 2048
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
        for _ in range(2):
            a @ b
        reps, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < 1.0:
            a @ b
            reps += 1
        out[f"{name}_gflops"] = round(2 * n**3 * reps / (time.perf_counter() - t0) / 1e9, 1)
    return out


def smoke(workers: list[int]) -> None:
    print(json.dumps({"ceiling_before": ceiling()}))
    for n in workers:
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [sys.executable, "-m", "bench", "reproduce", "--scale", "smoke", "--tracking-uri",
                   f"sqlite:///{tmp}/mlflow.db", "--out", f"{tmp}/report"]  # fmt: skip
            if n > 1:
                cmd += ["--workers", str(n)]
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp)
            wall = time.perf_counter() - t0
            done = [ln for ln in proc.stderr.splitlines() if " done " in ln and ln.startswith("[")]
            print(json.dumps({"workers": n, "exit": proc.returncode, "wall_s": round(wall, 1),
                              "units": len(done), "units_per_hour": round(len(done) / wall * 3600),
                              "last": proc.stderr.strip().splitlines()[-3:]}))  # fmt: skip
    print(json.dumps({"ceiling_after": ceiling()}))


def full_sample(deap: str, epochs: int, runs: list[str]) -> None:
    from bench.core.host import resolve_device
    from bench.runs.estimate import UNIT_OVERHEAD_S, estimate_run, plan_text, probe_prepared, unit_seconds
    from bench.runs.grid import load_grid
    from bench.runs.reproduce import prepare_runs
    from bench.runs.unit import run_unit

    print(json.dumps({"ceiling": ceiling()}))
    g = load_grid(scale="full", deap=deap)
    t0 = time.perf_counter()
    plans = prepare_runs([e.config for e in g.entries], deap=g.deap)
    print(f"prepared {len(plans)} runs in {time.perf_counter() - t0:.0f} s")
    dev = resolve_device("auto")
    tps = {id(p): probe_prepared(p, device=dev) for p in plans}
    rows = [(e, estimate_run(p, tps[id(p)])) for e, p in zip(g.entries, plans, strict=True)]
    print(plan_text(rows))
    total = sum(r.seconds_typical for _, r in rows)
    print(f"full scale, 1 worker: {total / 3600:.1f} h at typical epochs, "
          f"{sum(r.seconds_cap for _, r in rows) / 3600:.1f} h at the 200-epoch cap")  # fmt: skip
    by_label = {e.label: p for e, p in zip(g.entries, plans, strict=True)}
    for want in runs:
        label = next(lbl for lbl in by_label if lbl.startswith(want))
        p = by_label[label]
        # exactly `epochs` epochs: early stopping off, cap = epochs
        cfg = p.config.with_train(max_epochs=epochs, early_stopping=0)
        p_fixed = replace(p, config=cfg, max_epochs=epochs)
        unit, fold = p_fixed.units[0]
        est = unit_seconds(p_fixed, fold, tps[id(p)], epochs) - UNIT_OVERHEAD_S
        t0 = time.perf_counter()
        res = run_unit(p_fixed, unit, fold, dev)
        took = time.perf_counter() - t0
        acc = {t: round(res.metrics[f"test_acc_{t}"], 3) for t in unit.tasks}
        print(json.dumps({"run": label, "unit": unit.key, "train_windows": len(fold.train), "epochs": epochs,
                          "measured_s": round(took, 1), "estimated_s": round(est, 1),
                          "measured/estimated": round(took / est, 2), "test_acc": acc}))  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="part", required=True)
    s = sub.add_parser("smoke")
    s.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    f = sub.add_parser("full-sample")
    f.add_argument("--deap", required=True)
    f.add_argument("--epochs", type=int, default=2)
    runs = ["mtcnn|subject-specific|trial", "mtcnn|whole-set|trial", "4dcrnn|whole-set|trial"]
    f.add_argument("--runs", nargs="+", default=runs)
    a = ap.parse_args()
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    if a.part == "smoke":
        smoke(a.workers)
    else:
        full_sample(a.deap, a.epochs, a.runs)


if __name__ == "__main__":
    main()
