"""Bar charts with 95% CI error bars of the comparison and protocols tables (deterministic PNG/SVG)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bench.data.inputs import TASKS
from bench.errors import ConfigError
from bench.results.table import Table


def _bars(ax, labels: list[str], series: dict[str, list[tuple[float, float, float]]]) -> None:
    x = np.arange(len(labels))
    width = 0.8 / max(1, len(series))
    for i, (name, vals) in enumerate(series.items()):
        means = np.array([100 * v[0] for v in vals])
        lo = np.array([100 * (v[0] - v[1]) if math.isfinite(v[1]) else 0.0 for v in vals])
        hi = np.array([100 * (v[2] - v[0]) if math.isfinite(v[2]) else 0.0 for v in vals])
        ax.bar(
            x + (i - (len(series) - 1) / 2) * width,
            np.nan_to_num(means),
            width,
            label=name,
            yerr=np.vstack([lo, hi]),
            capsize=2,
        )
    ax.set_xticks(x, labels, rotation=30, ha="right", fontsize=7)
    ax.set_ylim(0, 100)
    ax.set_ylabel("accuracy %")
    ax.axhline(50, color="grey", lw=0.5, ls=":")
    ax.legend(fontsize=6)


def plot(tables: Sequence[Table], path: str | Path, *, dpi: int = 100) -> Path:
    """Bar chart with 95% CI error bars (comparison and protocols tables); deterministic PNG/SVG.

    ``dpi``: PNG resolution (the report draws at a higher one so the small labels stay readable)."""
    path = Path(path)
    suffix = path.suffix.lower().lstrip(".")
    if suffix not in ("png", "svg"):
        raise ConfigError(f"--plot {path}: the file must end in .png or .svg")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = tables[0]
    if t.name == "comparison":
        d = t.data[t.data["status"] == "ok"]
        groups = list(dict.fromkeys(zip(d["protocol"], d["split"], strict=True)))
        panels = []
        for pr, sp in groups:
            g = d[(d["protocol"] == pr) & (d["split"] == sp)]
            models = list(dict.fromkeys(g["model"]))
            series = {
                task: [
                    tuple(g[(g["model"] == m) & (g["task"] == task)][["mean", "ci_low", "ci_high"]].iloc[0])
                    if not g[(g["model"] == m) & (g["task"] == task)].empty
                    else (math.nan, math.nan, math.nan)
                    for m in models
                ]
                for task in TASKS
            }
            panels.append((f"{pr} / {sp}", models, series))
    elif t.name == "protocols":
        d = t.data[t.data["status"] == "ok"]
        panels = []
        for task in TASKS:
            g = d[d["task"] == task]
            models = list(dict.fromkeys(g["model"]))
            series = {}
            for pr in dict.fromkeys(g["protocol"]):
                vals = []
                for m in models:
                    r = g[(g["model"] == m) & (g["protocol"] == pr)]
                    vals.append(
                        tuple(r[["mean", "ci_low", "ci_high"]].iloc[0])
                        if not r.empty
                        else (math.nan, math.nan, math.nan)
                    )
                series[pr] = vals
            panels.append((task, models, series))
    else:
        raise ConfigError(f"--plot is available for the comparison and protocols tables, not {t.name!r}")
    if not panels:
        raise ConfigError("nothing to plot: every cell is 'not run'")
    plt.rcParams["svg.hashsalt"] = "deap-bench"
    fig, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 3.8), squeeze=False)
    for ax, (title, labels, series) in zip(axes[0], panels, strict=True):
        _bars(ax, labels, series)
        ax.set_title(title, fontsize=8)
    fig.suptitle(t.title, fontsize=8)
    fig.tight_layout()
    meta = {"Date": None} if suffix == "svg" else {"Software": None}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, format=suffix, metadata=meta, dpi=dpi)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write ({exc.strerror or exc})") from None
    finally:
        plt.close(fig)
    return path
