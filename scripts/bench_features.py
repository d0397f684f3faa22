"""Benchmark: feature extraction on full DEAP-size synthetic data, and the cache hit.

Writes a 32 x 40 synthetic DEAP (if not there), then measures, in fresh cache folders:
cold extraction (read + features + cache write) of all subjects, peak memory, and a cache hit.

    python scripts/bench_features.py [--subjects 32] [--workdir /tmp/deap-bench-perf]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import time
from pathlib import Path

from bench.data.cache import prepare_features
from bench.data.source import open_deap
from bench.data.synthetic import SyntheticConfig, write_synthetic_deap


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subjects", type=int, default=32)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/deap-bench-perf"))
    args = ap.parse_args()
    data = args.workdir / f"synthetic-{args.subjects}"
    cfg = SyntheticConfig(n_subjects=args.subjects, n_trials=40, seed=0)
    if not (data / "SYNTHETIC.json").is_file():
        t0 = time.perf_counter()
        write_synthetic_deap(data, cfg)
        print(f"generated {args.subjects} synthetic subjects in {time.perf_counter() - t0:.1f} s")
    cache = args.workdir / "cache"
    shutil.rmtree(cache, ignore_errors=True)
    src = open_deap(data)
    t0 = time.perf_counter()
    fs = prepare_features(src, cache_dir=cache)
    cold = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    t0 = time.perf_counter()
    fs2 = prepare_features(src, cache_dir=cache)
    hit = time.perf_counter() - t0
    assert fs2.fingerprint == fs.fingerprint
    n = len(fs.subjects)
    print("| subjects | cold (read + features + write) | subjects/s | peak RSS | cache hit |")
    print("|---|---|---|---|---|")
    print(f"| {n} x 40 trials x 32 ch x 8064 | {cold:.1f} s | {n / cold:.2f} | {peak:.2f} GB | {hit:.2f} s |")


if __name__ == "__main__":
    main()
