"""Training benchmark: the harness's trainer vs a plain loop (bf16 parity: scripts/bench_parity.py).

1. Throughput: MT-CNN on the training part of fold 1 (embedded synthetic default, whole-set, trial
   split). A plain loop (pre-made tensors, contiguous index slices, forward/backward/step, nothing else)
   vs ``bench.training.trainer.fit`` (shuffled index slices, class-balanced loss, per-epoch validation on a
   256-
   window validation part, best-state copy): samples/s and the trainer's overhead.
2. ``--full-size DIR`` (a DEAP-size folder, e.g. from ``bench data synth DIR --subjects 32``): one
   epoch of the first unit of whole-set and of subject-specific (5 folds, trial split), timed, and the
   wall time of the full 5-fold runs extrapolated per epoch (every unit of a protocol is the same size).

    python scripts/bench_training.py [--folds 3] [--full-size DIR]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from bench.config.run import RunConfig, TrainConfig
from bench.data.cache import prepare_features
from bench.data.source import open_deap, synthetic_source
from bench.models.registry import create_model
from bench.runs.runner import prepare, run_unit
from bench.training.trainer import Standardiser, fit, trains_channels_last


def plain_loop(x: torch.Tensor, y: torch.Tensor, epochs: int, batch: int) -> float:
    torch.manual_seed(0)
    model = create_model("mtcnn")
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    t0 = time.perf_counter()
    for _ in range(epochs):
        for start in range(0, len(x), batch):
            out = model(x[start : start + batch])
            yb = y[start : start + batch]
            loss = F.cross_entropy(out["valence"], yb[:, 0]) + F.cross_entropy(out["arousal"], yb[:, 1])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return epochs * len(x) / (time.perf_counter() - t0)


def harness_loop(x, y, xv, yv, epochs: int, batch: int, precision: str = "fp32") -> float:
    torch.manual_seed(0)
    model = create_model("mtcnn")
    cfg = TrainConfig(batch_size=batch, early_stopping=0, precision=precision)
    res = fit(model, x, y, xv, yv, tasks=("valence", "arousal"), config=cfg, max_epochs=epochs, seed=0,
              device=torch.device("cpu"), channels_last=trains_channels_last(precision))  # fmt: skip
    return epochs * len(x) / res.fit_seconds


def full_size(folder: Path) -> None:
    """Time one epoch of one unit per protocol on DEAP-size data; extrapolate to the 5-fold run."""
    fs = prepare_features(open_deap(folder))
    print(
        f"{len(fs.subjects)} subjects, {fs.features.shape[1]} trials; MT-CNN fp32, 1 epoch of the first unit"
    )
    print(
        "| protocol | units | training windows per unit | s per unit-epoch | h per epoch of the whole run |"
    )
    print("|---|---:|---:|---:|---:|")
    for protocol in ("whole-set", "subject-specific"):
        cfg = RunConfig(model="mtcnn", protocol=protocol, train=TrainConfig(max_epochs=1, early_stopping=0))
        p = prepare(cfg, features=fs)
        unit, fold = p.units[0]
        t0 = time.perf_counter()
        run_unit(p, unit, fold, torch.device("cpu"))
        dt = time.perf_counter() - t0
        print(
            f"| {protocol} | {len(p.units)} | {len(fold.train)} | {dt:.0f} | {dt * len(p.units) / 3600:.2f} |"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--folds", type=int, default=3)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument(
        "--full-size", type=Path, default=None, help="DEAP-size folder for the wall-time estimate"
    )
    args = ap.parse_args()
    if args.full_size is not None:
        full_size(args.full_size)
        return
    fs = prepare_features(synthetic_source())
    cfg = RunConfig(model="mtcnn", protocol="whole-set", n_folds=args.folds,
                    train=TrainConfig(max_epochs=1))  # fmt: skip
    p = prepare(cfg, features=fs)
    fold = p.folds[0]
    x_all = torch.from_numpy(p.inputs.x)
    y_all = torch.from_numpy(p.inputs.labels)
    tr, va = torch.from_numpy(fold.train), torch.from_numpy(fold.val[:256])
    std = Standardiser.fit(x_all[tr])
    x, y, xv, yv = std(x_all[tr]).contiguous(), y_all[tr], std(x_all[va]).contiguous(), y_all[va]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; {len(x)} training windows")
    plain = plain_loop(x, y, 1, args.batch)
    harness = harness_loop(x, y, xv, yv, 1, args.batch)
    bf16 = harness_loop(x, y, xv, yv, 1, args.batch, "bf16")
    print("| loop | samples/s | vs plain |")
    print("|---|---:|---:|")
    print(f"| plain forward/backward (fp32) | {plain:.0f} | 1.00 |")
    print(f"| bench.training.trainer.fit (fp32) | {harness:.0f} | {harness / plain:.2f} |")
    print(f"| bench.training.trainer.fit (bf16 autocast, channels-last) | {bf16:.0f} | {bf16 / plain:.2f} |")


if __name__ == "__main__":
    main()
