"""GPU benchmark, ready for the day a CUDA GPU is there: what `bench perf` measures, at batch 64 and 1024,
one full-size whole-set training epoch through the real trainer, and the grid estimate.

1. ``bench perf`` on the GPU at each ``--batches`` size: the fp32/bf16 matmul ceiling, every model's
   FLOPs per training sample, training samples/s (fp32 / bf16, contiguous / channels-last) and the
   fraction of the ceiling, and the full-size estimates per protocol and for the default grid.
2. One full-size epoch: :func:`bench.training.trainer.fit` on random tensors of a whole-set unit's size
(fold 1
   of the full-size whole-set protocol: 98,280 training and ~24,600 validation windows of MT-CNN's 8x8x9
   maps), resident on the device, at the precision ``--precision auto`` picks, once eager and once with
   ``--compile`` (CUDA graphs); the seconds per epoch are what a full-size unit pays per epoch,
   validation included.

    python scripts/bench_gpu.py                       # on a CUDA machine: everything (~10 min)
    python scripts/bench_gpu.py --device cpu --quick --models saelstm --epoch-windows 2000   # dry run

Writes the markdown to stdout and every raw number to ``--json`` (default bench_gpu.json).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runs from a checkout without installing

from bench.config.run import RunConfig  # noqa: E402
from bench.core.host import resolve_device  # noqa: E402
from bench.data.inputs import TASKS  # noqa: E402
from bench.models.registry import create_model, get_model_info, resolve_input_spec  # noqa: E402
from bench.perf.measure import measure  # noqa: E402
from bench.perf.report import markdown  # noqa: E402
from bench.runs.identity import resolve_config  # noqa: E402
from bench.training.trainer import fit  # noqa: E402


def whole_set_sizes(model_name: str) -> tuple[int, int]:
    """Training and validation windows of fold 1 of a full-size whole-set run of ``model_name`` (the
    protocol's own folds on 32 x 40 trials, as ``bench perf`` sizes its estimates)."""
    from bench.perf.fullsize import FullSizeFolds
    from bench.runs.resolved import resolve_run

    _unit, fold = FullSizeFolds().units(resolve_run(RunConfig(model=model_name, protocol="whole-set")))[0]
    return len(fold.train), len(fold.val)


def full_size_epoch(
    model_name: str, device: torch.device, *, n_train: int, n_valid: int, compile: bool
) -> dict[str, float | str]:
    """Seconds of one training epoch (with its validation pass) of a whole-set unit of ``model_name``,
    through the trainer, on random inputs of the model's input shape; the first epoch warms up (and
    compiles), the second is timed."""
    cfg = resolve_config(RunConfig(model=model_name, device=device.type))
    info = get_model_info(model_name)
    tasks = TASKS if info.multitask else TASKS[:1]
    shape = resolve_input_spec(model_name).sample_shape()
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(n_train + n_valid, *shape, generator=gen)
    y = torch.randint(0, 2, (n_train + n_valid, 2), generator=gen)
    train = replace(cfg.train, early_stopping=0, lr_decay=False)
    torch.manual_seed(0)
    model = create_model(model_name, tasks=tasks)
    seconds: list[float] = []
    t_last = time.perf_counter()

    def on_epoch(row: dict) -> None:
        nonlocal t_last
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        now = time.perf_counter()
        seconds.append(now - t_last)
        t_last = now

    fit(model, x[:n_train], y[:n_train], x[n_train:], y[n_train:], tasks=tasks, config=train, max_epochs=2,
        seed=0, device=device, on_epoch=on_epoch, channels_last=train.precision == "bf16",
        compile=compile)  # fmt: skip
    return {
        "model": model_name,
        "precision": train.precision,
        "compile": compile,
        "first_epoch_s": seconds[0],
        "epoch_s": seconds[1],
        "train_samples_per_s": n_train / seconds[1],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda", help="cuda (default) | cpu (a dry run of the script)")
    ap.add_argument("--batches", default="64,1024", help="Training batch sizes for the bench perf part")
    ap.add_argument("--models", default=None, help="Comma-separated models (default: every trainable one)")
    ap.add_argument("--epoch-model", default="mtcnn", help="Model of the full-size epoch")
    ap.add_argument("--epoch-windows", type=int, default=None, help="Training windows (default: full size)")
    ap.add_argument("--quick", action="store_true", help="Few repetitions (a smoke check)")
    ap.add_argument("--json", type=Path, default=Path("bench_gpu.json"))
    args = ap.parse_args()
    device = resolve_device(args.device)  # cuda without a GPU: one line, exit 2 (below)
    models = args.models.split(",") if args.models else None
    out: dict[str, object] = {"device": str(device)}
    if device.type == "cuda":
        out["gpu"] = torch.cuda.get_device_name(device)
        torch.backends.cuda.matmul.allow_tf32 = False  # the fp32 ceiling is fp32, not TF32
        torch.backends.cudnn.allow_tf32 = False
    for batch in (int(b) for b in args.batches.split(",")):
        report = measure(models, batch=batch, device=device.type, quick=args.quick,
                         echo=lambda m: print(m, file=sys.stderr))  # fmt: skip
        out[f"perf_batch_{batch}"] = report.to_json()
        print(f"## bench perf, batch {batch}\n\n{markdown(report)}\n")
    n_train, n_valid = whole_set_sizes(args.epoch_model)
    if args.epoch_windows is not None:  # a smaller epoch, same train/valid ratio
        n_train, n_valid = args.epoch_windows, max(2, round(args.epoch_windows * n_valid / n_train))
    epochs = [
        full_size_epoch(args.epoch_model, device, n_train=n_train, n_valid=n_valid, compile=c)
        for c in (False, True)
    ]
    out["full_size_epoch"] = epochs
    print(f"## One whole-set epoch, {n_train:,} training + {n_valid:,} validation windows\n")
    print("| model | precision | torch.compile | first epoch s | epoch s | training samples/s |")
    print("|---|---|---|---:|---:|---:|")
    for e in epochs:
        compiled = "yes" if e["compile"] else "no"
        print(f"| {e['model']} | {e['precision']} | {compiled} | {e['first_epoch_s']:.1f} | "
              f"{e['epoch_s']:.1f} | {e['train_samples_per_s']:,.0f} |")  # fmt: skip
    args.json.write_text(json.dumps(out, indent=2, default=str) + "\n")
    print(f"\nraw numbers: {args.json}", file=sys.stderr)


if __name__ == "__main__":
    from bench.core.errors import BenchError

    try:
        main()
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
