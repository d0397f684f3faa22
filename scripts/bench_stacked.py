"""Stacked training (``bench run --stack K``) against one unit at a time, interleaved in one process.

For each model and K, the same K subject-specific units (embedded synthetic DEAP, 4 subjects x 5 folds)
are trained for ``--epochs`` epochs twice, alternately: one after the other with
``bench.training.trainer.fit``
(what ``bench run`` does without ``--stack``) and all at once with ``bench.training.stacked.fit_stacked``.
Dropout is set to 0 (the configuration in which both give the same numbers). Prints training samples per
second and wall seconds per unit for both, and their ratio; timings of A and B alternate within one
run so a busy shared machine slows both alike. Runs on CUDA too (``--device cuda``).

    OMP_NUM_THREADS=2 python scripts/bench_stacked.py --threads 2
    python scripts/bench_stacked.py --device cuda --ks 1,4,16,32 --epochs 3
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from bench.core.host import cpu_name


def units_of(model: str, epochs: int):
    """The prepared subject-specific run of ``model`` (dropout 0) and its units' data, models built lazily."""
    from bench.config.run import RunConfig, TrainConfig
    from bench.data.source import default_synthetic_config
    from bench.models.registry import get_model_info
    from bench.runs.plan import prepare

    info = get_model_info(model)
    opts = {"dropout": 0.0} if "dropout" in info.model_params else {}
    cfg = RunConfig(
        model=model, protocol="subject-specific", n_folds=5, seed=0, model_options=opts,
        train=TrainConfig(max_epochs=epochs, early_stopping=0, precision="fp32"),
    )  # fmt: skip
    return prepare(cfg, synthetic=default_synthetic_config())


def one_group(p, k: int, device: torch.device, stacked: bool) -> tuple[float, int]:
    """Wall seconds and training samples (x epochs) of the first ``k`` units, alone or stacked."""
    import numpy as np

    from bench.runs.unit import build_model, labels_tensor, train_standardiser, unit_parts
    from bench.training.stacked import fit_stacked
    from bench.training.trainer import fit

    x = torch.from_numpy(np.ascontiguousarray(p.inputs.x))
    y = labels_tensor(p.inputs)
    pairs = [(u, f) for u, f in p.units if u.tasks == p.units[0][0].tasks][:k]
    models, data, seeds = [], [], []
    for unit, fold in pairs:
        seeds.append(unit.seed(p.config.seed))
        models.append(build_model(p, unit, seeds[-1]))
        std = train_standardiser(p, x, fold.train)
        data.append(unit_parts(x, y, fold.train, fold.val, fold.test, std)[:4])
    tasks, cfg, epochs = pairs[0][0].tasks, p.config.train, p.max_epochs
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    if stacked:
        fit_stacked(models, data, tasks=tasks, config=cfg, max_epochs=epochs, seeds=seeds, device=device)
    else:
        for m, d, s in zip(models, data, seeds, strict=True):
            fit(m, *d, tasks=tasks, config=cfg, max_epochs=epochs, seed=s, device=device)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t0, sum(int(d[0].shape[0]) for d in data) * epochs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="mccnn,saelstm,mtcnn")
    ap.add_argument("--ks", default="1,4,16", help="group sizes (at most the 20 units of the data)")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=1, help="alternating A/B pairs per (model, K)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (CPU)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_name()
    print(f"# {where}, torch {torch.__version__}, {torch.get_num_threads()} threads, {args.epochs} epoch(s)")
    print("model    K  alone samples/s  stacked samples/s  alone s/unit  stacked s/unit  stacked/alone speed")
    for model in args.models.split(","):
        p = units_of(model, args.epochs)
        one_group(p, 1, device, True)  # warm-up: first calls, allocator, vmap tracing
        one_group(p, 1, device, False)
        for k in (int(v) for v in args.ks.split(",")):
            alone, stacked, n = [], [], 0
            for _ in range(args.repeats):
                t, n = one_group(p, k, device, False)
                alone.append(t)
                t, n = one_group(p, k, device, True)
                stacked.append(t)
            a, s = statistics.median(alone), statistics.median(stacked)
            cols = f"{n / a:15.0f}  {n / s:17.0f}  {a / k:12.2f}  {s / k:14.2f}  {a / s:19.2f}"
            print(f"{model:8s} {k:2d}  {cols}", flush=True)


if __name__ == "__main__":
    main()
