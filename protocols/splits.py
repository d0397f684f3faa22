"""Folds and validation parts from group ids and labels, with sklearn's splitters.

Rules (README, Protocols and splits): the outer split keeps its unit together (a trial's windows,
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

from bench.core.checks import check_option
from bench.core.errors import ConfigError
from protocols.registry import get_protocol


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


def _strata(labels: np.ndarray) -> np.ndarray:
    """One stratum per (valence, arousal) class pair, so both tasks stay balanced across folds."""
    labels = np.asarray(labels)
    return labels[:, 0] * 2 + labels[:, 1] if labels.ndim == 2 and labels.shape[1] > 1 else labels.ravel()


def _groups(unit: str, subject: np.ndarray, trial: np.ndarray) -> np.ndarray | None:
    if unit == "segment":
        return None
    if unit == "trial":
        return subject.astype(np.int64) * 1000 + trial.astype(np.int64)
    return subject.astype(np.int64)  # "subject", and "dataset" (whose validation part is drawn by subject)


def _split(
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


def _inner_val(
    train: np.ndarray, unit: str, strata: np.ndarray, groups: np.ndarray | None, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Split a training part into (fit, validation) with the outer split's unit."""
    n_units = len(train) if groups is None else len(np.unique(groups[train]))
    n_splits = min(max(2, round(1.0 / fraction)), n_units)
    if n_splits < 2:
        raise ConfigError(f"the training part holds one {unit} only; no validation part can be carved out")
    val = _split(train, unit, strata, groups, n_splits, seed)[0]
    return np.setdiff1d(train, val, assume_unique=True), val


def make_folds(
    protocol: str,
    subject: np.ndarray,
    trial: np.ndarray,
    labels: np.ndarray,
    *,
    split: str | None = None,
    n_folds: int = 5,
    val_fraction: float = 0.2,
    seed: int = 0,
    select_on_test: bool = False,
    domain: np.ndarray | None = None,
) -> list[Fold]:
    """Outer folds with inner validation parts for a protocol.

    Parameters
    ----------
    protocol : str
        Registered protocol name.
    subject, trial : arrays, shape (N,)
        Group ids per sample (DEAP subject number, trial index within the subject).
    labels : array, shape (N, 2)
        Binary labels (valence, arousal); folds are stratified on the pair where the unit allows.
    split : {"segment", "trial", "subject"}, optional
        Split unit; default: the protocol's.
    n_folds : int
        Outer folds (per subject for per-subject protocols). For ``subject`` splits, ``n_folds`` equal
        to the number of subjects is leave-one-subject-out.
    val_fraction : float
        Share of the training part held out for validation (rounded to ``1 / k`` of a k-fold split).
    seed : int
        Seeds every shuffle: the same inputs and seed give the same folds.
    select_on_test : bool
        Audit only: the validation part *is* the test part (the MT-CNN authors' code). Leaky.
    domain : array, shape (N,), optional
        Cross-dataset protocols only: 0 for samples of the training dataset, 1 for the test dataset. One
        fold: train on all of domain 0 (less a validation part drawn by subject), test on all of domain 1.
    """
    proto = get_protocol(protocol)
    unit = split or proto.default_split
    check_option(f"split (protocol {protocol})", unit, proto.splits)
    if int(n_folds) < 2:
        raise ConfigError(f"n_folds={n_folds!r} must be >= 2")
    if not 0 < val_fraction < 1:
        raise ConfigError(f"val_fraction={val_fraction!r} must be in (0, 1)")
    subject, trial = np.asarray(subject), np.asarray(trial)
    strata = _strata(labels)
    groups = _groups(unit, subject, trial)
    if proto.population == "cross-dataset":
        if domain is None:
            raise ConfigError(f"protocol {protocol!r} needs the inputs of two datasets")
        domain = np.asarray(domain)
        train, test = np.flatnonzero(domain == 0), np.flatnonzero(domain == 1)
        if not len(train) or not len(test):
            raise ConfigError(f"protocol {protocol!r}: the training or the test dataset has no samples")
        if select_on_test:
            return [Fold(1, None, train, test.copy(), test)]
        train, val = _inner_val(train, "subject", strata, groups, val_fraction, seed + 7919)
        return [Fold(1, None, train, val, test)]
    scopes = (
        [(int(s), np.flatnonzero(subject == s)) for s in np.unique(subject)]
        if proto.population == "per-subject"
        else [(None, np.arange(len(subject)))]
    )
    folds = []
    for subj, idx in scopes:
        scope_seed = seed if subj is None else seed * 100 + subj
        for k, test in enumerate(_split(idx, unit, strata, groups, int(n_folds), scope_seed), start=1):
            train = np.setdiff1d(idx, test, assume_unique=True)
            if select_on_test:
                val = test.copy()
            else:
                train, val = _inner_val(train, unit, strata, groups, val_fraction, scope_seed + 7919 * k)
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
