"""What a reader of a categorical-label dataset returns: one :class:`SessionRecording` per subject and
session, in one shape whatever the files' layout.

Why a type of its own: the rating datasets (:class:`bench.data.datasets.SubjectRecording`) hold
equal-length trials with a baseline and continuous ratings; the SEED family and FACED hold trials of
unequal length (SEED's films run 185-265 s), several sessions per subject, no baseline, and a
categorical label per trial (several label sets per trial for FACED: 9 emotions and a 3-class valence).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench.core.errors import DataError


@dataclass(frozen=True)
class SessionRecording:
    """One subject's trials of one session, as a categorical-label reader returns them.

    Attributes
    ----------
    dataset : str
        The dataset's name (``seed``, ``seed-iv``, ``seed-v``, ``faced``).
    subject : int
        Subject number in the dataset's own numbering, from 1.
    session : int
        Session number from 1 (FACED: always 1).
    eeg : tuple of array, each shape (n_channels, n_samples_i), float32
        The trials in the dataset's order, in microvolts, channels in :attr:`channels` order, at
        :attr:`sfreq` Hz; each trial its own length.
    sfreq : float
        Sampling rate, Hz.
    channels : tuple of str
        Channel names in the rows' order (upper case, 10-20 names).
    labels : dict of str to array, each shape (n_trials,), int64
        Per label set (``emotion``, ``valence`` ...), each trial's class index 0..k-1 (the dataset's own
        coding mapped to 0-based indices; the reader's docstring states the mapping).
    trial_ids : tuple of int
        Each trial's number in the dataset's own numbering within the session, from 1.
    source : str
        The file the session was read from (for messages and provenance).
    """

    dataset: str
    subject: int
    session: int
    eeg: tuple[np.ndarray, ...]
    sfreq: float
    channels: tuple[str, ...]
    labels: dict[str, np.ndarray]
    trial_ids: tuple[int, ...]
    source: str

    def __post_init__(self) -> None:
        n = len(self.eeg)
        if len(self.trial_ids) != n:
            raise DataError(f"{self.source}: {n} trials but {len(self.trial_ids)} trial ids")
        for name, lab in self.labels.items():
            if lab.shape != (n,):
                raise DataError(f"{self.source}: label set {name!r} has shape {lab.shape}, expected ({n},)")
        for i, trial in enumerate(self.eeg):
            if trial.ndim != 2 or trial.shape[0] != len(self.channels):
                raise DataError(
                    f"{self.source}: trial {self.trial_ids[i]} has shape {trial.shape}, expected "
                    f"({len(self.channels)}, n_samples)"
                )
            if not np.isfinite(trial).all():
                raise DataError(f"{self.source}: trial {self.trial_ids[i]} holds NaN or infinite values")

    @property
    def n_trials(self) -> int:
        return len(self.eeg)
