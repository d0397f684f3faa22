"""bf16 parity of one model: fp32 vs bf16 autocast test accuracy on the same folds and seed.

The embedded synthetic default, whole-set, 5 folds by trial, the embedded default's epoch cap (1),
seed 0, both precisions through the normal runner into a temporary MLflow store; prints per-fold and
mean ± std accuracies and the verdict (mean difference within the fold-to-fold std). A model's
``bf16_parity`` registry string records this output (``--precision auto`` uses bf16 only where it is set).

    OMP_NUM_THREADS=2 python scripts/bench_parity.py --model mccnn [--folds 5] [--epochs 1] [--seed 0]
"""

from __future__ import annotations

import argparse
import datetime
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runs from a checkout without installing

import torch  # noqa: E402

from bench.core.host import cpu_name
from bench.perf.parity import parity, parity_note, parity_text  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    print(f"{cpu_name()}, torch {torch.__version__}, {torch.get_num_threads()} threads, {platform.machine()}")
    r = parity(args.model, n_folds=args.folds, epochs=args.epochs, seed=args.seed, echo=print)
    print(parity_text(r))
    if r.verdict:
        from bench.core.host import native_bf16

        bf16 = "native bf16" if native_bf16(torch.device("cpu")) else "bf16 emulated"
        note = parity_note(r, f"{cpu_name()} ({bf16})", datetime.date.today().isoformat())
        print(f"\nbf16_parity for the model's registration:\n{note}")


if __name__ == "__main__":
    main()
