"""``ea``: Euclidean alignment of the EEG signal (He & Wu 2019).

Each subject's trials (windows) are whitened by the mean of that subject's spatial covariances: with
``R_s = mean_i X_i X_i^T / S`` over the subject's windows ``X_i`` (C x S), every window becomes
``R_s^{-1/2} X_i``, so each subject's mean covariance is the identity and the subjects' signals share one
reference point. The statistics come from every window of the subject, unlabelled (transductive for the
test subject; its labels are never read). The windows' channel means are not removed first, as in the
paper (the signal readers band-pass the EEG, so they are near zero).
"""

from __future__ import annotations

import numpy as np

from bench.training.methods import MethodInfo, register_method
from bench.training.methods.inputs import CHUNK, per_group, subject_groups

RIDGE = 1e-10
"""Eigenvalues of ``R_s`` are floored at ``RIDGE x`` the largest (a rank-deficient covariance: a flat or
duplicated channel), so ``R_s^{-1/2}`` stays finite."""


def mean_covariance(x: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``mean_i X_i X_i^T / S`` over ``x[rows]`` ((N, C, S) windows), float64, chunk by chunk."""
    c, s = x.shape[1], x.shape[2]
    total = np.zeros((c, c), dtype=np.float64)
    for start in range(0, len(rows), CHUNK):
        part = x[rows[start : start + CHUNK]].astype(np.float64)
        total += np.einsum("ncs,nds->cd", part, part)
    return total / (max(len(rows), 1) * s)


def inverse_sqrt(r: np.ndarray) -> np.ndarray:
    """``R^{-1/2}`` of a symmetric positive semi-definite matrix (eigendecomposition, floored)."""
    w, v = np.linalg.eigh((r + r.T) / 2)
    w = np.maximum(w, RIDGE * max(float(w.max()), np.finfo(np.float64).tiny))
    return (v / np.sqrt(w)) @ v.T


def euclidean_alignment(x: np.ndarray, subject: np.ndarray, domain: np.ndarray | None = None) -> np.ndarray:
    """Each subject's windows of ``x`` (N, C, S) aligned by that subject's ``R_s^{-1/2}`` (float32 copy)."""

    def fit(arr: np.ndarray, rows: np.ndarray) -> np.ndarray:
        return inverse_sqrt(mean_covariance(arr, rows))

    def apply(part: np.ndarray, w: np.ndarray) -> np.ndarray:
        return np.einsum("cd,nds->ncs", w, part.astype(np.float64)).astype(np.float32)

    return per_group(x, subject_groups(subject, domain), fit, apply)


def transform(inputs) -> np.ndarray:
    """The method's input transform of a run's :class:`~bench.data.inputs.ModelInputs` (signals)."""
    return euclidean_alignment(inputs.x, inputs.subject, inputs.domain)


register_method(
    MethodInfo(
        name="ea",
        full_name="Euclidean alignment of the EEG signal",
        label="EA",
        citation="He & Wu - IEEE Trans. Biomed. Eng. 67(5):1235, 2020 (online 2019)",
        doi="10.1109/TBME.2019.2913914",
        kind="input",
        transductive=True,
        layouts=("signal",),
        needs_trunk=False,
        apply=transform,
        notes=(
            "R_s = mean of the subject's window covariances X X^T / S (all of its windows, unlabelled; a "
            "cross-dataset run keeps the two datasets' subjects apart); X <- R_s^(-1/2) X; then the usual "
            "per-channel training-part standardiser.",
        ),
    )
)
