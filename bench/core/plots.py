"""Small matplotlib figures logged as run artifacts (learning curves, confusion matrices), and the check
every user-named plot file goes through (:func:`plot_format`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.core.checks import check_option
from bench.core.tasks import get_task, task_names

PLOT_FORMATS: tuple[str, ...] = ("png", "pdf", "svg", "jpg", "jpeg")
"""File types a plot option writes (those of them the installed matplotlib can write)."""
SAVE_METADATA: dict[str, dict] = {
    "png": {"Software": None},
    "svg": {"Date": None},
    "pdf": {"CreationDate": None},
}
"""savefig metadata that leaves out the date and version stamps, so the same figure gives the same bytes
(JPEG carries none)."""


def plot_format(option: str, path: str | Path) -> str:
    """The format of a user-named plot file, from its suffix (lower case, without the dot).

    Any other suffix is a one-line ConfigError, so a typo such as ``maps.jpg2`` is refused before any
    work, instead of matplotlib writing a PNG under that name or failing after the figure is drawn.
    """
    from matplotlib.backend_bases import FigureCanvasBase

    writable = FigureCanvasBase.get_supported_filetypes()
    allowed = [f".{f}" for f in PLOT_FORMATS if f in writable]
    suffix = Path(path).suffix.lower()
    check_option(f"{option} {path}: file type", suffix, allowed)
    return suffix.removeprefix(".")


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _current_names(row: dict) -> dict:
    """A history row with validation metrics named ``valid_*`` (older runs' rows said ``val_*``)."""
    return {("valid_" + k[4:] if k.startswith("val_") else k): v for k, v in row.items()}


def plot_learning_curve(history: list[dict], out: Path, title: str = "") -> Path:
    """Train/validation loss and validation accuracy per epoch."""
    plt = _plt()
    rows = [_current_names(r) for r in history if r.get("stage") != "finetune"]
    ep = [r["epoch"] for r in rows]
    fig, (a, b) = plt.subplots(1, 2, figsize=(8, 3))
    a.plot(ep, [r["train_loss"] for r in rows], label="train")
    a.plot(ep, [r["valid_loss"] for r in rows], label="validation")
    a.set_xlabel("epoch")
    a.set_ylabel("loss")
    a.legend()
    for k in sorted(k for k in rows[0] if k.startswith("valid_acc_")) if rows else []:
        b.plot(ep, [r[k] for r in rows], label=k.removeprefix("valid_acc_"))
    b.set_xlabel("epoch")
    b.set_ylabel("validation accuracy")
    b.legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out, dpi=80)
    plt.close(fig)
    return out


def plot_confusions(cms: dict[str, np.ndarray], out: Path, title: str = "") -> Path:
    """One confusion matrix (rows true, columns predicted) per task, its ticks the task's class names
    (binary rating tasks: low, high; a task no longer registered: class indices)."""
    plt = _plt()
    size = max(3.0, 0.45 * max(cm.shape[0] for cm in cms.values()) + 1.6)  # 9 classes need room
    fig, axes = plt.subplots(1, len(cms), figsize=((size + 0.2) * len(cms), size), squeeze=False)
    for ax, (task, cm) in zip(axes[0], cms.items(), strict=True):
        ax.imshow(cm, cmap="Blues")
        for (i, j), v in np.ndenumerate(cm):
            ax.text(j, i, str(v), ha="center", va="center")
        k = cm.shape[0]
        names = get_task(task).classes if task in task_names() else tuple(map(str, range(k)))
        ax.set_xticks(range(k), names, rotation=0 if k <= 3 else 45, ha="center" if k <= 3 else "right")
        ax.set_yticks(range(k), names)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(task)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out, dpi=80)
    plt.close(fig)
    return out
