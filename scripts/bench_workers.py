"""Worker scaling: wall time of one grid with 1 and 2 local pool workers, against a same-run calibration.

The grid: MT-CNN, subject-specific protocol on a synthetic DEAP (default 4 subjects x 40 trials),
2 folds, 1 epoch: 8 independent units. Each configuration runs the whole grid from scratch (a fresh
MLflow store, so nothing is resumed); the features are computed once beforehand (cache hit in every
run). The pool's default gives each of N workers ``cpu_count // N`` torch threads; 1 worker is also
timed on 1 thread, to separate process-level scaling from torch's intra-op threading.

Calibration, in the same run, before and after the grids: one fixed single-thread CPU-bound torch job
run twice one after the other vs twice at once in two processes. On a shared 2-vCPU machine two
processes at once need not run twice as fast (an earlier calibration here measured ~1.24x); the
workers' speed-up is only meaningful against that ceiling. Prints a markdown table.

    python scripts/bench_workers.py [--subjects 4] [--trials 40] [--epochs 1] [--folds 2] [--workers 1,2]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

CALIBRATION_JOB = """
import time, torch
torch.set_num_threads(1)
a = torch.randn(384, 384)
t = time.perf_counter()
for _ in range({n}):
    a = torch.tanh(a @ a / 384.0)
print(time.perf_counter() - t)
"""


def calibrate(n: int) -> tuple[float, float]:
    """(one after the other, both at once) wall seconds of two single-thread CPU-bound processes."""
    cmd = [sys.executable, "-c", CALIBRATION_JOB.format(n=n)]
    t0 = time.perf_counter()
    for _ in range(2):
        subprocess.run(cmd, check=True, capture_output=True)
    seq = time.perf_counter() - t0
    t0 = time.perf_counter()
    procs = [subprocess.Popen(cmd, stdout=subprocess.DEVNULL) for _ in range(2)]
    for p in procs:
        if p.wait() != 0:
            raise RuntimeError("calibration job failed")
    return seq, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subjects", type=int, default=4)
    ap.add_argument("--trials", type=int, default=40)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--folds", type=int, default=2)
    ap.add_argument("--workers", default="1,2", help="pool sizes to time, comma-separated")
    ap.add_argument("--calibration-steps", type=int, default=2000)
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench_workers_"))
    os.environ["DEAP_BENCH_CACHE"] = str(tmp / "cache")  # before the bench imports read it
    try:
        run(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(args: argparse.Namespace, tmp: Path) -> None:

    from bench.config.run import RunConfig, TrainConfig
    from bench.data.cache import prepare_features
    from bench.data.source import open_deap
    from bench.data.synthetic import SyntheticConfig, write_synthetic_deap
    from bench.runs.executors import PoolExecutor
    from bench.runs.runner import prepare, run_experiment

    data = tmp / "deap"
    write_synthetic_deap(data, SyntheticConfig(n_subjects=args.subjects, n_trials=args.trials, seed=0))
    t0 = time.perf_counter()
    features = prepare_features(open_deap(data))
    print(f"features: {time.perf_counter() - t0:.1f} s ({args.subjects} subjects x {args.trials} trials)")
    cfg = RunConfig(
        model="mtcnn", protocol="subject-specific", n_folds=args.folds, seed=0,
        train=TrainConfig(max_epochs=args.epochs),
    )  # fmt: skip
    p = prepare(cfg, features=features)
    n_units = len(p.units)
    ncpu = os.cpu_count() or 1

    # (workers, torch threads per worker): the pool's default for 1 and 2 workers, plus 1 worker on one
    # thread, which separates process-level scaling from torch's own intra-op threading.
    runs = []
    for n in [int(w) for w in args.workers.split(",")]:
        runs.append((n, None))
        if n == 1 and ncpu > 1:
            runs.append((1, 1))
    cal = [calibrate(args.calibration_steps)]
    print(f"calibration: one after the other {cal[0][0]:.1f} s, at once {cal[0][1]:.1f} s")
    rows = []
    for n, threads in runs:
        ex = PoolExecutor(n)
        run_cfg = replace(cfg, num_threads=threads)  # num_threads is not part of the run key
        t0 = time.perf_counter()
        res = run_experiment(
            run_cfg, prepared=replace(p, config=replace(p.config, num_threads=threads)),
            tracking_uri=f"sqlite:///{tmp / f'mlflow_{len(rows)}.db'}", executor=ex, force=True,
        )  # fmt: skip
        wall = time.perf_counter() - t0
        acc = res.summary.get("acc_valence_mean", float("nan"))
        rows.append((n, threads or ex.threads_per_worker(), wall, acc))
        print(f"{n} worker(s) x {rows[-1][1]} thread(s): {wall:.1f} s")
    cal.append(calibrate(args.calibration_steps))
    print(f"calibration again: one after the other {cal[1][0]:.1f} s, at once {cal[1][1]:.1f} s")

    base = rows[0][2]
    print()
    print(f"Grid: mtcnn, subject-specific, {args.subjects} synthetic subjects x {args.trials} trials, "
          f"{args.folds} folds, {args.epochs} epoch(s) = {n_units} units; {ncpu} CPUs.")  # fmt: skip
    print()
    print("| pool workers | torch threads per worker | wall s | speed-up vs first row | valence acc (mean) |")
    print("|---:|---:|---:|---:|---:|")
    for n, threads, wall, acc in rows:
        print(f"| {n} | {threads} | {wall:.1f} | {base / wall:.2f}x | {acc:.3f} |")
    print()
    print("| calibration: 2 single-thread CPU-bound processes | before | after |")
    print("|---|---:|---:|")
    print(f"| one after the other, s | {cal[0][0]:.1f} | {cal[1][0]:.1f} |")
    print(f"| both at once, s | {cal[0][1]:.1f} | {cal[1][1]:.1f} |")
    print(f"| parallel capacity (ratio) | {cal[0][0] / cal[0][1]:.2f}x | {cal[1][0] / cal[1][1]:.2f}x |")


if __name__ == "__main__":
    main()
