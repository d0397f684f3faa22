"""Benchmark: feature extraction on full DEAP-size synthetic data, and the cache hit.

Writes a 32 x 40 synthetic DEAP (if not there), then:

1. profiles one subject stage by stage (CPU seconds: content hash, read + unpickle, features, cache
   write + verification) - where the cold time goes;
2. measures cold extraction (read + features + cache write, fresh cache folder) of all subjects with the
   process pool (``workers`` = usable cores) and in one process (``workers=1``), interleaved
   (pool, serial, pool, serial, ...; each run in a fresh Python process so its peak memory is its own),
   then a cache hit. Reported: wall and CPU time, subjects/s, peak RSS of the main process and of the
   largest worker (``RUSAGE_CHILDREN``), the serial/pool ratio within each round, the load average
   around the runs, the CPU, and the per-subject time against TorchEEG 1.1.3 (42 s per subject for the
   same DE + band-power grid, measured by this project earlier).

    python scripts/bench_features.py [--subjects 32] [--repeat 2] [--modes pool,serial]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

TORCHEEG_S_PER_SUBJECT = 42.0
"""TorchEEG 1.1.3, DE + band power on the same 0.5 s grid, one DEAP subject (measured earlier)."""
MODES = {"pool": None, "serial": 1}
"""Benchmark mode -> ``workers`` argument of prepare_features (None: the usable cores)."""


def _cpu_seconds(who: int) -> float:
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime


def _peak_rss_gb() -> float:
    """This process's peak RSS. VmHWM, not ``ru_maxrss``: Linux carries ``ru_maxrss`` over from the
    process that started this one (fork + exec), so it would report the benchmark driver's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024**2  # kB -> GiB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def one_run(data: Path, cache: Path, mode: str) -> dict:
    """Cold extraction into an empty ``cache`` then a cache hit, in this (fresh) process."""
    from bench.core.host import usable_cores
    from bench.data.cache import prepare_features
    from bench.data.source import open_deap

    shutil.rmtree(cache, ignore_errors=True)
    src = open_deap(data)
    workers = MODES[mode]
    cpu0 = _cpu_seconds(resource.RUSAGE_SELF) + _cpu_seconds(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    fs = prepare_features(src, cache_dir=cache, workers=workers)
    cold = time.perf_counter() - t0
    cpu = _cpu_seconds(resource.RUSAGE_SELF) + _cpu_seconds(resource.RUSAGE_CHILDREN) - cpu0
    peak_self = _peak_rss_gb()
    peak_child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024**2
    t0 = time.perf_counter()
    fs2 = prepare_features(src, cache_dir=cache, workers=workers)
    hit = time.perf_counter() - t0
    assert fs2.fingerprint == fs.fingerprint
    n = len(fs.subjects)
    return {
        "mode": mode,
        "subjects": n,
        "workers": 1 if workers == 1 else min(usable_cores(), n),
        "cold_s": cold,
        "cpu_s": cpu,
        "hit_s": hit,
        "peak_main_gb": peak_self,
        "peak_worker_gb": peak_child,
        "fingerprint": fs.fingerprint,
    }


def profile_stages(path: Path, cache: Path) -> dict[str, float]:
    """CPU seconds of each stage for one subject file (best of 2)."""
    from bench.data.cache import _recompute, entry_path
    from bench.data.compute import compute_arrays
    from bench.data.features import FeatureConfig, extract_features
    from bench.data.fingerprints import file_digest
    from bench.data.reader import read_subject, subject_number

    cfg, subject = FeatureConfig(), subject_number(path)
    best: dict[str, float] = {}

    def timed(name: str, fn, *args):
        t0 = time.process_time()
        out = fn(*args)
        best[name] = min(best.get(name, float("inf")), time.process_time() - t0)
        return out

    for _ in range(2):
        shutil.rmtree(cache, ignore_errors=True)
        cache.mkdir(parents=True)
        digest = timed("content hash (sha256)", file_digest, path, cache)
        rec = timed("read + unpickle + validate", read_subject, path)
        timed("features (4 bands: filter, DE, energy)", extract_features, rec.eeg, cfg)
        computed = compute_arrays(path, subject, cfg)
        entry = entry_path(cfg, digest, cache)
        timed("cache write + verify", _recompute, path, subject, cfg, digest, entry, True, None, computed)
    shutil.rmtree(cache, ignore_errors=True)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subjects", type=int, default=32)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/deap-bench-perf"))
    ap.add_argument("--repeat", type=int, default=2, help="rounds of the interleaved modes")
    ap.add_argument("--modes", default="pool,serial", help="comma-separated: pool, serial")
    ap.add_argument("--one", choices=list(MODES), help=argparse.SUPPRESS)  # a single run (child process)
    args = ap.parse_args()
    data = args.workdir / f"synthetic-{args.subjects}"
    if args.one:
        print(json.dumps(one_run(data, args.workdir / f"cache-{args.one}", args.one)))
        return

    from bench.core.host import hardware
    from bench.data.synthetic import SyntheticConfig, write_synthetic_deap

    if not (data / "SYNTHETIC.json").is_file():
        t0 = time.perf_counter()
        write_synthetic_deap(data, SyntheticConfig(n_subjects=args.subjects, n_trials=40, seed=0))
        print(f"generated {args.subjects} synthetic subjects in {time.perf_counter() - t0:.1f} s")
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    print(f"machine: {hardware()}; usable cores: {len(os.sched_getaffinity(0))}")

    stages = profile_stages(data / "s01.dat", args.workdir / "cache-profile")
    total = sum(stages.values())
    print("\none subject (40 trials x 32 ch x 8064), CPU seconds per stage:")
    print("| stage | CPU s | share |\n|---|---|---|")
    for name, sec in stages.items():
        print(f"| {name} | {sec:.3f} | {sec / total:.0%} |")
    print(f"| total | {total:.3f} | |")

    load0 = os.getloadavg()
    runs: list[dict] = []
    script = Path(__file__).resolve()
    for r in range(args.repeat):
        for mode in modes:
            cmd = [sys.executable, str(script), "--subjects", str(args.subjects), "--workdir",
                   str(args.workdir), "--one", mode]  # fmt: skip
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            runs.append(dict(json.loads(out.strip().splitlines()[-1]), round=r + 1))
            print(f"  round {r + 1} {mode}: {runs[-1]['cold_s']:.1f} s", flush=True)
    load1 = os.getloadavg()
    for mode in modes:
        shutil.rmtree(args.workdir / f"cache-{mode}", ignore_errors=True)
    assert len({x["fingerprint"] for x in runs}) == 1, "modes disagree on the data fingerprint"

    n = runs[0]["subjects"]
    print(f"\n{n} subjects x 40 trials x 32 ch x 8064 samples, cold = read + features + cache write")
    print(
        "| round | mode | workers | cold | CPU (all processes) | subjects/s | s/subject | vs TorchEEG "
        "1.1.3 (42 s/subject) | peak RSS main | peak RSS largest worker | cache hit |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for x in runs:
        per = x["cold_s"] / n
        worker = f"{x['peak_worker_gb']:.2f} GB" if x["workers"] > 1 else "-"
        print(
            f"| {x['round']} | {x['mode']} | {x['workers']} | {x['cold_s']:.1f} s | {x['cpu_s']:.1f} s | "
            f"{n / x['cold_s']:.2f} | {per:.2f} s | {TORCHEEG_S_PER_SUBJECT / per:.0f}x faster | "
            f"{x['peak_main_gb']:.2f} GB | {worker} | {x['hit_s']:.2f} s |"
        )
    if {"pool", "serial"} <= set(modes):
        ratios = [
            s["cold_s"] / p["cold_s"]
            for p, s in zip(
                [x for x in runs if x["mode"] == "pool"],
                [x for x in runs if x["mode"] == "serial"],
                strict=True,
            )
        ]
        print(
            f"serial / pool cold time, per round: {', '.join(f'{q:.2f}' for q in ratios)} "
            f"(median {statistics.median(ratios):.2f})"
        )
    for x in (x for x in runs if x["workers"] > 1):
        bound = x["peak_main_gb"] + x["workers"] * x["peak_worker_gb"]
        print(f"round {x['round']} pool: peak memory <= {bound:.2f} GB (main + {x['workers']} x largest)")
    print(
        f"load average (1 min) {load0[0]:.1f} before, {load1[0]:.1f} after the runs "
        f"(timings on a loaded machine are slower; compare modes within a round)"
    )


if __name__ == "__main__":
    main()
