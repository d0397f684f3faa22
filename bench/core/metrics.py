"""The test metrics: one decision rule, the window-level and the trial-level scores, their names.

Training, the tuning objective and the tables all score through these functions, and the store's
columns are named after :data:`TEST_METRICS`, so a table reads exactly what a unit logged.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import confusion_matrix, f1_score, roc_auc_score


def predicted_class(scores: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
    """The one decision rule, for the scores of :func:`class_scores`.

    Binary task (``scores`` of shape (N,), the class-1 probability ``p_high``): class 1 ("high") only when
    ``p_high > 0.5``; an exact tie is class 0 ("low"), as ``argmax`` over two equal logits gives, so the
    majority baseline on a 50/50 training split predicts "low" everywhere. k classes (``scores`` of shape
    (N, k), class probabilities): the most probable class, a tie going to the lowest class index (the
    same rule for k = 2). Every predicted class (training and validation accuracy, test metrics,
    confusion matrices, per-subject accuracies, trial votes) goes through this function, so validation
    and test can never disagree on a tie. Returns int64 of the input's kind.
    """
    if isinstance(scores, torch.Tensor):
        return (scores > 0.5).long() if scores.ndim == 1 else scores.argmax(dim=1)
    scores = np.asarray(scores)
    return (scores > 0.5).astype(np.int64) if scores.ndim == 1 else scores.argmax(axis=1).astype(np.int64)


def class_scores(logits: torch.Tensor) -> torch.Tensor:
    """The scores :func:`predicted_class` and the metrics read, from (N, k) logits, in fp32.

    Two classes: the class-1 ("high") probability, shape (N,); k > 2 classes: the class probabilities,
    shape (N, k). Validation and test both take this path, so the same logits give the same class in both
    (argmax on the logits could say "high" where the rounded probability is exactly 0.5).
    """
    p = torch.softmax(logits.float(), dim=1)
    return p[:, 1] if p.shape[1] == 2 else p


def n_score_classes(scores: np.ndarray) -> int:
    """The number of classes behind ``scores``: 2 for binary scores (N,), k for (N, k)."""
    return 2 if np.ndim(scores) == 1 else int(np.shape(scores)[1])


TEST_METRICS: tuple[str, ...] = ("acc", "balanced_acc", "f1_macro", "auc", "trial_acc", "trial_balanced_acc")
"""Test metrics every unit logs per task as ``test_{metric}_{task}`` (window level, then trial level)."""


def balanced_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean recall over the classes present in ``y_true``: sklearn's ``balanced_accuracy_score`` value,
    without its warnings when a small test part lacks a class (NaN when ``y_true`` is empty)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    recalls = [float((y_pred[y_true == c] == c).mean()) for c in np.unique(y_true)]
    return float(np.mean(recalls)) if recalls else float("nan")


def one_vs_rest_auc(y_true: np.ndarray, scores: np.ndarray) -> float:
    """ROC-AUC: binary scores (N,) as they are; k-class probabilities (N, k) one class against the rest,
    averaged (unweighted) over the classes present in ``y_true``. NaN with fewer than two classes present.

    With every class present this is sklearn's ``roc_auc_score(multi_class="ovr", average="macro")``; a
    test part that lacks a class (a few trials of one subject) still gets the AUC of the classes it holds,
    where sklearn would raise.
    """
    y_true = np.asarray(y_true)
    present = np.unique(y_true)
    if present.size < 2:
        return float("nan")
    if np.ndim(scores) == 1:
        return float(roc_auc_score(y_true, scores))
    return float(np.mean([roc_auc_score(y_true == c, scores[:, c]) for c in present]))


def classification_metrics(y_true: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """Accuracy, balanced accuracy, macro-F1 (over every class of the task) and ROC-AUC (one class
    against the rest for k classes; NaN if one class is present) of one task's test part.

    ``scores`` are :func:`class_scores`: ``p_high`` (N,) for a binary task, probabilities (N, k) else.
    """
    y_pred = predicted_class(scores)
    k = n_score_classes(scores)
    return {
        "acc": float((y_pred == y_true).mean()),
        "balanced_acc": balanced_accuracy(y_true, y_pred),
        "f1_macro": float(f1_score(y_true, y_pred, average="macro", labels=list(range(k)), zero_division=0)),
        "auc": one_vs_rest_auc(y_true, scores),
    }


def trial_metrics(
    subject: np.ndarray, trial: np.ndarray, y_true: np.ndarray, scores: np.ndarray
) -> dict[str, float]:
    """Accuracy and balanced accuracy over trials, the independent unit (windows of a trial are not).

    Soft vote: the window scores (class probabilities) of each (subject, trial) pair are averaged and
    :func:`predicted_class` is applied to the mean (a binary mean of exactly 0.5 is "low"). The vote
    covers the windows given here, i.e. those of the trial in this test part: with the segment split a
    trial's windows are spread over folds and each fold votes with its share. All windows of a trial must
    carry the same label.
    """
    scores = np.asarray(scores, dtype=np.float64)
    flat = scores.reshape(len(scores), -1)
    cols = [f"p{c}" for c in range(flat.shape[1])]
    columns = dict(zip(cols, flat.T, strict=True))
    df = pd.DataFrame({"subject": subject, "trial": trial, "y": y_true, **columns})
    g = df.groupby(["subject", "trial"], sort=False).agg(
        y=("y", "first"), n_labels=("y", "nunique"), **{c: (c, "mean") for c in cols}
    )
    if (g["n_labels"] > 1).any():
        raise ValueError("trial_metrics: windows of one trial carry different labels")
    votes = g[cols].to_numpy()
    m = classification_metrics(g["y"].to_numpy(), votes[:, 0] if scores.ndim == 1 else votes)
    return {"trial_acc": m["acc"], "trial_balanced_acc": m["balanced_acc"]}


def confusion(y_true: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """k x k confusion matrix (rows true, columns predicted; binary: low, high) under
    :func:`predicted_class`."""
    return confusion_matrix(y_true, predicted_class(scores), labels=list(range(n_score_classes(scores))))
