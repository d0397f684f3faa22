"""The test metrics: one decision rule, the window-level and the trial-level scores, their names.

Training, the tuning objective and the tables all score through these functions, and the store's
columns are named after :data:`TEST_METRICS`, so a table reads exactly what a unit logged.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import confusion_matrix, f1_score, roc_auc_score


def predicted_class(p_high: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
    """The one decision rule: class 1 ("high") only when ``p_high > 0.5``; an exact tie is class 0 ("low").

    The tie goes to class 0 as ``argmax`` over two equal logits does, so the majority baseline on a
    50/50 training split predicts "low" everywhere. Every predicted class (training and validation
    accuracy, test metrics, confusion matrices, per-subject accuracies, trial votes) goes through this
    function, so validation and test can never disagree on a tie. Returns int64 of the input's kind.
    """
    if isinstance(p_high, torch.Tensor):
        return (p_high > 0.5).long()
    return (np.asarray(p_high) > 0.5).astype(np.int64)


TEST_METRICS: tuple[str, ...] = ("acc", "balanced_acc", "f1_macro", "auc", "trial_acc", "trial_balanced_acc")
"""Test metrics every unit logs per task as ``test_{metric}_{task}`` (window level, then trial level)."""


def balanced_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean recall over the classes present in ``y_true``: sklearn's ``balanced_accuracy_score`` value,
    without its warnings when a small test part holds one class only (NaN when ``y_true`` is empty)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    recalls = [float((y_pred[y_true == c] == c).mean()) for c in (0, 1) if (y_true == c).any()]
    return float(np.mean(recalls)) if recalls else float("nan")


def classification_metrics(y_true: np.ndarray, p_high: np.ndarray) -> dict[str, float]:
    """Accuracy, balanced accuracy, macro-F1 and ROC-AUC of one binary task (AUC NaN if one class)."""
    y_pred = predicted_class(p_high)
    out = {
        "acc": float((y_pred == y_true).mean()),
        "balanced_acc": balanced_accuracy(y_true, y_pred),
        "f1_macro": float(f1_score(y_true, y_pred, average="macro", labels=[0, 1], zero_division=0)),
        "auc": float(roc_auc_score(y_true, p_high)) if len(np.unique(y_true)) == 2 else float("nan"),
    }
    return out


def trial_metrics(
    subject: np.ndarray, trial: np.ndarray, y_true: np.ndarray, p_high: np.ndarray
) -> dict[str, float]:
    """Accuracy and balanced accuracy over trials, the independent unit (windows of a trial are not).

    Soft vote: the window probabilities of each (subject, trial) pair are averaged and
    :func:`predicted_class` is applied to the mean (a mean of exactly 0.5 is "low"). The vote covers the
    windows given here, i.e. those of the trial in this test part: with the segment split a trial's
    windows are spread over folds and each fold votes with its share. All windows of a trial must carry
    the same label.
    """
    df = pd.DataFrame(
        {"subject": subject, "trial": trial, "y": y_true, "p": np.asarray(p_high, dtype=np.float64)}
    )
    g = df.groupby(["subject", "trial"], sort=False).agg(
        y=("y", "first"), n_labels=("y", "nunique"), p=("p", "mean")
    )
    if (g["n_labels"] > 1).any():
        raise ValueError("trial_metrics: windows of one trial carry different labels")
    m = classification_metrics(g["y"].to_numpy(), g["p"].to_numpy())
    return {"trial_acc": m["acc"], "trial_balanced_acc": m["balanced_acc"]}


def confusion(y_true: np.ndarray, p_high: np.ndarray) -> np.ndarray:
    """2x2 confusion matrix (rows true, columns predicted low/high) under :func:`predicted_class`."""
    return confusion_matrix(y_true, predicted_class(p_high), labels=[0, 1])
