"""Bar charts with 95% CI error bars of the comparison and protocols tables (deterministic files)."""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.core.errors import ConfigError
from bench.core.plots import SAVE_METADATA, plot_format
from bench.core.tasks import n_classes, task_names
from bench.results.table import Table

CHANCE = 0.5
"""The dotted reference line of binary tasks: the accuracy of a random guess between two classes."""


def chance_label(k: int) -> str:
    """The legend entry of the chance line of ``k``-class tasks."""
    return f"chance (random guess between {k} classes): {100 / k:.{0 if k == 2 else 1}f} %"


CHANCE_LABEL = chance_label(2)
FONT = 11
"""Base font size (points); titles one or two points larger."""
PANEL_SIZE = (6.4, 5.0)
"""Inches per panel (width, height): the labels stay readable in the report and on screen."""


def _bars(
    ax, labels: list[str], series: dict[str, list[tuple[float, float, float]]], classes: Sequence[int] = (2,)
) -> None:
    """One panel: a group of bars per label, one bar per series, with its 95% CI where it has one, and a
    dotted chance line for each class count of the panel's tasks (``classes``)."""
    x = np.arange(len(labels))
    width = 0.8 / max(1, len(series))
    for i, (name, vals) in enumerate(series.items()):
        means = np.array([100 * v[0] for v in vals])
        # no error bar at all where the cell has no CI (n < 3: see bench.core.stats.MIN_CI_N)
        lo = np.array([100 * (v[0] - v[1]) if math.isfinite(v[1]) else math.nan for v in vals])
        hi = np.array([100 * (v[2] - v[0]) if math.isfinite(v[2]) else math.nan for v in vals])
        ax.bar(
            x + (i - (len(series) - 1) / 2) * width,
            np.nan_to_num(means),
            width,
            label=name,
            yerr=np.vstack([lo, hi]),
            capsize=3,
            error_kw={"elinewidth": 1.2},
        )
    ax.set_xticks(x, labels, rotation=30, ha="right", fontsize=FONT)
    ax.tick_params(axis="y", labelsize=FONT)
    ax.set_ylim(0, 100)
    ax.set_ylabel("accuracy %", fontsize=FONT)
    for k in sorted(set(classes) - {0}):
        ax.axhline(100 / k, color="black", lw=1.0, ls=":", label=chance_label(k))
    ax.grid(axis="y", color="0.9", lw=0.6)
    ax.set_axisbelow(True)


def _n_classes(task: str) -> int:
    """A task's class count for its chance line (0, no line, for a task no longer registered: a plugin's,
    uninstalled since, whose class count is unknown)."""
    return n_classes(task) if task in task_names() else 0


def plot(tables: Sequence[Table], path: str | Path, *, dpi: int = 150) -> Path:
    """Bar chart with 95% CI error bars (comparison and protocols tables); deterministic PNG/SVG/PDF/JPEG.

    ``path``'s suffix picks the format (:func:`bench.core.plots.plot_format`); ``dpi``: resolution of the
    raster formats."""
    path = Path(path)
    suffix = plot_format("--plot", path)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = tables[0]
    tasks = list(dict.fromkeys(t.data["task"])) if "task" in t.data else []  # the table's tasks, in order
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
                for task in tasks
            }
            panels.append((f"{pr} / {sp}", models, series, [_n_classes(t) for t in tasks]))
    elif t.name == "protocols":
        d = t.data[t.data["status"] == "ok"]
        panels = []
        for task in tasks:
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
            panels.append((task, models, series, [_n_classes(task)]))
    else:
        raise ConfigError(f"--plot is available for the comparison and protocols tables, not {t.name!r}")
    if not panels:
        raise ConfigError("nothing to plot: every cell is 'not run'")
    plt.rcParams["svg.hashsalt"] = "deap-bench"
    w, h = PANEL_SIZE
    fig, axes = plt.subplots(1, len(panels), figsize=(w * len(panels), h), squeeze=False)
    for ax, (title, labels, series, classes) in zip(axes[0], panels, strict=True):
        _bars(ax, labels, series, classes)
        ax.set_title(title, fontsize=FONT + 1)
    # one legend for the figure (every series of every panel, then the chance line), under the title
    handles: dict[str, Any] = {}
    for ax in axes[0]:
        for hd, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, hd)
    for label in [k for k in handles if k.startswith("chance (")]:
        handles[label] = handles.pop(label)
    # a long title (protocols, a metric, the data fingerprint) wraps; each extra line moves the rest down
    title_lines = textwrap.wrap(t.title, width=int(9 * fig.get_figwidth()))
    shift = 0.25 * (len(title_lines) - 1) / h  # ~0.25 inch per line of the title
    fig.suptitle("\n".join(title_lines), fontsize=FONT + 2)
    fig.legend(handles.values(), handles.keys(), loc="upper center", bbox_to_anchor=(0.5, 0.94 - shift),
               ncol=len(handles), fontsize=FONT, frameon=False)  # fmt: skip
    fig.tight_layout(rect=(0, 0, 1, 0.9 - shift))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, format=suffix, metadata=SAVE_METADATA.get(suffix), dpi=dpi)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write ({exc.strerror or exc})") from None
    finally:
        plt.close(fig)
    return path
