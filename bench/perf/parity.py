"""bf16 parity of one model: is bf16 autocast's test accuracy within the fold-to-fold spread of fp32's?

:func:`parity` trains one model twice on the embedded synthetic default, fp32 and bf16 autocast, same
folds and seed, through the normal runner, and says whether the accuracy difference is within the
fold-to-fold spread: the measurement a model's ``bf16_parity`` registry string records
(``scripts/bench_parity.py``). :func:`parity_text` and :func:`parity_note` put it in words.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.config.run import QUICK_EPOCHS, RunConfig, TrainConfig
from bench.data.cache import prepare_features
from bench.data.source import synthetic_source
from bench.models.registry import get_model_info
from bench.runs.plan import prepare
from bench.runs.runner import run_experiment


@dataclass(frozen=True)
class ParityResult:
    """Per-fold test accuracy (%) per precision and task, and the verdict."""

    model: str
    n_folds: int
    epochs: int
    seed: int
    tasks: tuple[str, ...]
    accuracy: dict[str, dict[str, list[float]]]
    """``{precision: {task: [fold 1 %, fold 2 %, ...]}}`` (window-level test accuracy)."""
    seconds: dict[str, float]
    """Wall time of each precision's run."""

    def mean_std(self, precision: str, task: str) -> tuple[float, float]:
        """Mean and sample std over folds (the runner's summary uses the same ``ddof=1``)."""
        v = self.accuracy[precision][task]
        return float(np.mean(v)), float(np.std(v, ddof=1)) if len(v) > 1 else 0.0

    def difference(self, task: str) -> float:
        """Mean bf16 minus mean fp32 accuracy, points."""
        return self.mean_std("bf16", task)[0] - self.mean_std("fp32", task)[0]

    def holds(self, task: str) -> bool:
        """Parity: the mean difference is within the smaller of the two fold-to-fold stds."""
        spread = min(self.mean_std("fp32", task)[1], self.mean_std("bf16", task)[1])
        return abs(self.difference(task)) <= spread

    @property
    def verdict(self) -> bool:
        return all(self.holds(t) for t in self.tasks)


def parity(
    model: str,
    *,
    n_folds: int = 5,
    epochs: int | None = None,
    seed: int = 0,
    tracking_uri: str | None = None,
    echo: Callable[[str], None] | None = None,
) -> ParityResult:
    """Train ``model`` whole-set, ``n_folds`` folds by trial, on the embedded synthetic default in fp32 and
    in bf16 autocast (explicit precisions: bf16 runs even without native bf16, only slower), same folds
    and seed, through :func:`bench.runs.runner.run_experiment` into ``tracking_uri`` (default: a SQLite store
    in a temporary folder, removed afterwards). ``epochs`` defaults to the embedded default's cap
    (``bench.config.run.QUICK_EPOCHS``, what ``bench run`` trains there)."""
    epochs = QUICK_EPOCHS if epochs is None else int(epochs)
    get_model_info(model)  # an unknown name fails before any data is prepared
    fs = prepare_features(synthetic_source(echo=echo))
    tmp = None
    if tracking_uri is None:
        tmp = tempfile.TemporaryDirectory(prefix="deap-bench-parity-")
        tracking_uri = f"sqlite:///{Path(tmp.name) / 'mlflow.db'}"
    acc: dict[str, dict[str, list[float]]] = {}
    secs: dict[str, float] = {}
    tasks: tuple[str, ...] = ()
    # a SQLite store puts its artifacts under ./mlruns: in the temporary folder, not the caller's
    where = contextlib.chdir(tmp.name) if tmp is not None else contextlib.nullcontext()
    try:
        with where:
            for precision in ("fp32", "bf16"):
                cfg = RunConfig(
                    model=model, protocol="whole-set", split="trial", n_folds=n_folds, seed=seed,
                    train=TrainConfig(max_epochs=epochs, precision=precision),
                )  # fmt: skip
                p = prepare(cfg, features=fs)
                tasks = tuple(p.config.tasks)
                if echo:
                    echo(f"{model} {precision}: {len(p.units)} units, {epochs} epoch(s)")
                t0 = time.perf_counter()
                res = run_experiment(p.config, tracking_uri=tracking_uri, force=True, prepared=p)
                secs[precision] = time.perf_counter() - t0
                per_task: dict[str, dict[int, float]] = {t: {} for t in tasks}
                for u in res.units:
                    for t in u.unit.tasks:
                        per_task[t][u.unit.fold] = 100 * float(u.metrics[f"test_acc_{t}"])
                acc[precision] = {t: [v[k] for k in sorted(v)] for t, v in per_task.items()}
    finally:
        if tmp is not None:
            tmp.cleanup()
    return ParityResult(model, n_folds, epochs, seed, tuple(tasks), acc, secs)


def parity_text(r: ParityResult) -> str:
    """Markdown: per-fold accuracies, mean ± std per precision and task, the differences and the verdict."""
    head = "| precision | " + " | ".join(
        f"{t} fold {i + 1}" for t in r.tasks for i in range(len(r.accuracy["fp32"][t]))
    )
    lines = [
        f"{r.model}: embedded synthetic default, whole-set, {r.n_folds} folds by trial, {r.epochs} epoch(s), "
        f"seed {r.seed}; window test accuracy %",
        "",
        head + " | " + " | ".join(f"{t} mean ± std" for t in r.tasks) + " | wall s |",
        "|---|" + "---:|" * (sum(len(r.accuracy["fp32"][t]) for t in r.tasks) + len(r.tasks) + 1),
    ]
    for prec in ("fp32", "bf16"):
        folds = [f"{a:.1f}" for t in r.tasks for a in r.accuracy[prec][t]]
        ms = [f"{m:.1f} ± {s:.1f}" for m, s in (r.mean_std(prec, t) for t in r.tasks)]
        lines.append(f"| {prec} | " + " | ".join(folds + ms) + f" | {r.seconds[prec]:.0f} |")
    lines.append("")
    for t in r.tasks:
        spread = min(r.mean_std("fp32", t)[1], r.mean_std("bf16", t)[1])
        lines.append(
            f"{t}: bf16 - fp32 = {_signed(r.difference(t))} points; smaller fold-to-fold std {spread:.1f}: "
            f"{'within' if r.holds(t) else 'OUTSIDE'}"
        )
    lines.append(f"verdict: {'parity holds' if r.verdict else 'parity NOT shown'}")
    return "\n".join(lines)


def _signed(points: float) -> str:
    """``+0.7``, ``-1.2``; a difference that rounds to zero is ``0.0`` (never ``-0.0``)."""
    text = f"{points:+.1f}"
    return "0.0" if text in ("+0.0", "-0.0") else text


def parity_note(r: ParityResult, machine: str, date: str) -> str:
    """The registry's ``bf16_parity`` wording for a measurement (as MT-CNN's in mtcnn/model.py)."""

    def accs(prec: str) -> str:
        return ", ".join(
            f"{t} {m:.1f} ± {s:.1f}" for t, (m, s) in ((t, r.mean_std(prec, t)) for t in r.tasks)
        )

    diffs = " and ".join(_signed(r.difference(t)) for t in r.tasks)
    per_fold = max(
        abs(b - a) for t in r.tasks for a, b in zip(r.accuracy["fp32"][t], r.accuracy["bf16"][t], strict=True)
    )
    return (
        f"Embedded synthetic default (4 subjects x 40 trials), whole-set, {r.n_folds} folds by trial, "
        f"{r.epochs} epoch{'s' if r.epochs != 1 else ''}, seed {r.seed}, the same folds, "
        f"on {machine} ({date}): "
        f"window test accuracy, mean ± std over folds, fp32 {accs('fp32')}; bf16 autocast {accs('bf16')}. "
        f"Mean difference{'s' if len(r.tasks) > 1 else ''} {diffs} points, "
        f"{'within' if r.verdict else 'NOT within'} the fold-to-fold std; per-fold differences up to "
        f"{per_fold:.1f} points."
    )
