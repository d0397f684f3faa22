"""What every peer protocol shares: where it comes from (:class:`PeerSource`), the mixin that gives it the
benchmark's datasets and selection rule (:class:`PeerProtocol`), and the split helpers several benchmarks'
rules need (window-level validation)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np

from bench.config.run import TrainConfig
from bench.core.errors import ConfigError
from bench.data.datasets import Dataset, get_dataset

READ_ON = "2026-12-07"
"""The date the peers' code was read for these protocols."""


@dataclass(frozen=True)
class PeerSource:
    """Where a peer protocol comes from: the benchmark, its repository and commit, the files and lines
    that hold the split and the selection rule, and the date they were read."""

    benchmark: str
    repository: str
    commit: str
    lines: tuple[str, ...]
    read: str = READ_ON

    def cite(self) -> str:
        """One line: ``LibEER (github.com/XJTU-EEG/LibEER @ dddff97, read 2026-12-07)``."""
        return f"{self.benchmark} ({self.repository} @ {self.commit[:7]}, read {self.read})"


SELECTIONS = {
    "acc": "the epoch of the highest validation accuracy",
    "f1": "the epoch of the highest validation macro-F1",
    None: "the last epoch (no selection)",
}


class PeerProtocol:
    """Mixin of the peer protocols (before :class:`~protocols.base.Protocol` in the bases): the
    benchmark's source, the datasets it ran the protocol on, its selection rule and the harness's honest
    counterpart."""

    audit_only: ClassVar[bool] = True
    source: ClassVar[PeerSource]
    used_on: ClassVar[tuple[str, ...]]
    """The datasets the benchmark ran this protocol on (a run elsewhere is refused)."""
    counterpart: ClassVar[str | None] = None
    """The harness's honest protocol on the same data and model (None: this protocol is one)."""
    reference: ClassVar[bool] = False
    """A reference row: a peer protocol with no leak, expected to score like its counterpart."""
    select_by: ClassVar[str | None] = "acc"
    """The selection rule, as ``train.select_by`` (None: no selection, the last epoch is tested)."""

    def refusal(self, ds: Dataset) -> str | None:
        """Why the protocol cannot run on ``ds``: a dataset the benchmark did not use it on."""
        if ds.name not in self.used_on:
            used = ", ".join(get_dataset(n).title for n in self.used_on)
            return f"reproduces {self.source.benchmark}'s protocol on {used}; not on {ds.title}"
        return None

    def resolve_train(self, train: TrainConfig) -> TrainConfig:
        """The benchmark's selection rule replaces the harness's: no early stopping and no learning-rate
        plateau schedule (the benchmarks train a fixed number of epochs); the weights of the epoch its
        rule picks (:attr:`select_by`), or of the last epoch."""
        if self.select_by is None:
            return replace(train, early_stopping=0, lr_decay=False, restore_best=False, select_by="loss")
        return replace(train, early_stopping=0, lr_decay=False, restore_best=True, select_by=self.select_by)

    @property
    def selection(self) -> str:
        """The selection rule in words."""
        return SELECTIONS[self.select_by]


def subject_trials(trial: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """The trials of one subject's samples ``idx``, in recording order (the peers' trial order)."""
    return np.unique(trial[idx])


def subjects_with_trials(name: str, subject: np.ndarray, trial: np.ndarray, at_least: int):
    """Per subject, in order: (subject, its sample indices, its trials in recording order), refusing a
    subject with fewer than ``at_least`` trials (a one-line ConfigError naming protocol ``name``)."""
    for s in np.unique(subject):
        idx = np.flatnonzero(subject == s)
        trials = subject_trials(trial, idx)
        need(name, len(trials), at_least, f"trials per subject (subject {s})")
        yield int(s), idx, trials


def need(name: str, have: int, want: int, what: str) -> None:
    """A ConfigError when a split needs ``want`` of ``what`` and the data has ``have``."""
    if have < want:
        raise ConfigError(f"protocol {name!r} needs {want} or more {what}, got {have}")


def window_validation(
    train: np.ndarray, strata: np.ndarray, shuffle, fraction: float = 0.2, class_order: str = "sorted"
) -> tuple[np.ndarray, np.ndarray]:
    """A peer's window-level validation part: within each class of ``train``'s windows, shuffle them
    (``shuffle(list)`` in place: the peer's own generator) and cut at ``int(n * (1 - fraction))``, the
    windows before it training, the rest validating. ``class_order``: ``sorted`` (EEGain's
    ``np.unique``) or ``first`` (AdaBrain's dict, the order the classes first appear). Windows of one
    trial land on both sides: that is the mechanism."""
    labels = strata[train]
    classes = np.unique(labels) if class_order == "sorted" else list(dict.fromkeys(labels.tolist()))
    fit, val = [], []
    for c in classes:
        members = train[labels == c].tolist()
        shuffle(members)
        cut = int(len(members) * (1 - fraction))
        fit += members[:cut]
        val += members[cut:]
    return np.sort(np.asarray(fit, dtype=np.int64)), np.sort(np.asarray(val, dtype=np.int64))
