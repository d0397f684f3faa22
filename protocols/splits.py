"""The fold helpers every protocol shares: folds and validation parts from group ids and labels, with
sklearn's splitters. Which samples form a scope (a subject, the pool, two datasets) is the protocol's
own decision (:meth:`protocols.base.Protocol.folds`).

Rules (user guide, Protocols and splits): the outer split keeps its unit together (a trial's windows,
or a subject's data, never straddle train and test unless the unit is ``segment``); the validation part
that drives early stopping and LR decay is carved out of the training part with the *same* unit; the
test part is never used for validation, except under the explicit ``select_on_test`` audit.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import (
    GroupKFold,
    LeaveOneGroupOut,
    StratifiedGroupKFold,
    StratifiedKFold,
)

from bench.core.errors import ConfigError


@dataclass(frozen=True)
class Fold:
    """One outer fold: sample indices into the model inputs (int64, sorted)."""

    index: int
    """1-based fold number (within the subject for per-subject protocols)."""
    subject: int | None
    """The subject for per-subject protocols, else None."""
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray

    @property
    def key(self) -> str:
        return f"fold{self.index}" if self.subject is None else f"s{self.subject:02d}-fold{self.index}"


def strata_of(labels: np.ndarray) -> np.ndarray:
    """One stratum per combination of the tasks' classes (valence x arousal: 4; one k-class task: k), so
    every task stays balanced across folds.

    Strata are numbered in the lexicographic order of the class tuples: for two binary tasks that is
    ``2 * valence + arousal``, the numbering folds were always stratified on (same folds, same run keys).
    """
    labels = np.asarray(labels)
    if labels.ndim != 2 or labels.shape[1] == 1:
        return labels.ravel()
    if labels.shape[1] == 2 and labels.size and labels.min() >= 0 and labels.max() <= 1:
        return labels[:, 0] * 2 + labels[:, 1]
    return np.unique(labels, axis=0, return_inverse=True)[1].reshape(-1)


def unit_groups(unit: str, subject: np.ndarray, trial: np.ndarray) -> np.ndarray | None:
    """One group id per sample for ``unit`` (None for ``segment``: every window is its own unit)."""
    if unit == "segment":
        return None
    if unit == "trial":
        return subject.astype(np.int64) * 1000 + trial.astype(np.int64)
    return subject.astype(np.int64)  # "subject", and "dataset" (whose validation part is drawn by subject)


def split_units(
    idx: np.ndarray, unit: str, strata: np.ndarray, groups: np.ndarray | None, n_splits: int, seed: int
) -> list[np.ndarray]:
    """Partition ``idx`` into ``n_splits`` test parts, keeping ``unit`` groups together."""
    n_units = len(idx) if groups is None else len(np.unique(groups[idx]))
    if n_splits > n_units:
        raise ConfigError(f"cannot make {n_splits} folds from {n_units} {unit}(s); use fewer folds")
    with warnings.catch_warnings():  # stratification is best effort when a class pair is rare
        warnings.simplefilter("ignore", UserWarning)
        if unit == "segment":
            counts = np.bincount(strata[idx])
            if counts[counts > 0].min() >= n_splits:
                it = StratifiedKFold(n_splits, shuffle=True, random_state=seed).split(idx, strata[idx])
            else:
                it = GroupKFold(n_splits, shuffle=True, random_state=seed).split(idx, groups=idx)
        elif unit == "trial":
            it = StratifiedGroupKFold(n_splits, shuffle=True, random_state=seed).split(
                idx, strata[idx], groups[idx]
            )
        elif n_splits == n_units:
            it = LeaveOneGroupOut().split(idx, groups=groups[idx])
        else:
            it = GroupKFold(n_splits, shuffle=True, random_state=seed).split(idx, groups=groups[idx])
        return [np.sort(idx[test]) for _, test in it]


def inner_val(
    train: np.ndarray, unit: str, strata: np.ndarray, groups: np.ndarray | None, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Split a training part into (fit, validation) with the outer split's unit."""
    n_units = len(train) if groups is None else len(np.unique(groups[train]))
    n_splits = min(max(2, round(1.0 / fraction)), n_units)
    if n_splits < 2:
        raise ConfigError(f"the training part holds one {unit} only; no validation part can be carved out")
    val = split_units(train, unit, strata, groups, n_splits, seed)[0]
    return np.setdiff1d(train, val, assume_unique=True), val


def scoped_folds(
    scopes: list[tuple[int | None, np.ndarray]],
    unit: str,
    strata: np.ndarray,
    groups: np.ndarray | None,
    *,
    n_folds: int,
    val_fraction: float,
    seed: int,
    select_on_test: bool,
) -> list[Fold]:
    """``n_folds`` folds inside each scope (a subject's samples, or the pool), each with a validation part
    carved out of its training part with the same unit (the test part itself under ``select_on_test``).

    A scope's seed is derived from ``seed`` and its subject, so one subject's folds do not depend on
    which other subjects are in the data.
    """
    folds = []
    for subj, idx in scopes:
        scope_seed = seed if subj is None else seed * 100 + subj
        for k, test in enumerate(split_units(idx, unit, strata, groups, int(n_folds), scope_seed), start=1):
            train = np.setdiff1d(idx, test, assume_unique=True)
            if select_on_test:
                val = test.copy()
            else:
                train, val = inner_val(train, unit, strata, groups, val_fraction, scope_seed + 7919 * k)
            folds.append(Fold(k, subj, train, val, test))
    return folds


def fold_assignment(
    folds: list[Fold], subject: np.ndarray, trial: np.ndarray, segment: np.ndarray
) -> pd.DataFrame:
    """Every sample's role per fold (``train``, ``val``, ``test``, ``test+val`` under the audit).

    One row per sample, columns ``subject, trial, segment, fold1..foldK``; logged with every run so a
    reader can check which windows were tested where.
    """
    df = pd.DataFrame({"subject": subject, "trial": trial, "segment": segment})
    for k in sorted({f.index for f in folds}):
        role = np.full(len(df), "", dtype=object)
        for f in (f for f in folds if f.index == k):
            role[f.train] = "train"
            role[f.val] = "val"
            both = np.intersect1d(f.val, f.test)
            role[f.test] = "test"
            role[both] = "test+val"
        df[f"fold{k}"] = role
    return df
