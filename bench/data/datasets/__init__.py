"""The dataset registry: every dataset the harness reads is one registered :class:`Dataset`.

A dataset is a description (channels, sampling rate, baseline and trial lengths, rating names and scale,
the default binarisation, where its files live) plus three functions: find a copy's files, read one
subject, write a synthetic twin. Everything downstream (features, grids, the cache key, fingerprints,
MLflow experiment names, the CLI's ``--dataset``) follows from the description, so a new dataset is one
module plus one line in :data:`MODULES`.

Every reader returns a :class:`SubjectRecording` in one shape: per trial, the last ``baseline_s`` seconds
before the stimulus followed by ``trial_s`` seconds of the stimulus, all at ``sfreq`` Hz, channels in
the dataset's order, ratings with valence and arousal first.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.checks import check_option

MODULES: dict[str, str] = {
    "deap": "bench.data.datasets.deap",
    "dreamer": "bench.data.datasets.dreamer",
    "amigos": "bench.data.datasets.amigos",
    "mahnob-hci": "bench.data.datasets.mahnob",
}
"""Registered datasets: name -> the module that defines (and registers) it, imported on first use."""


@dataclass(frozen=True)
class SubjectRecording:
    """One subject's EEG and ratings, as every reader returns them.

    Attributes
    ----------
    subject : int
        Subject number in the dataset's own numbering.
    eeg : array, shape (n_trials, n_channels, n_samples)
        EEG in microvolts: ``baseline_s`` seconds of pre-stimulus baseline, then ``trial_s`` seconds of the
        stimulus (DEAP: 3 s + 60 s at 128 Hz = 8064 samples), channels in ``channel_names`` order.
    ratings : array, shape (n_trials, n_ratings)
        Self-ratings in the dataset's ``rating_names`` order (valence and arousal first), on its scale.
    path : Path
        The file the subject was read from (the first of several, for datasets with a file per session).
    trial_ids : tuple of int, optional
        The dataset's own trial numbers of the rows (datasets that drop empty trials); None: 0, 1, ...
    peripheral : array, shape (n_trials, n_peripheral, n_samples), optional
        The non-EEG signals a reader keeps (DEAP: its 8 peripheral channels), cut like ``eeg``; None for
        datasets whose peripheral signals this harness does not read (:attr:`Dataset.peripheral`).
    peripheral_names : tuple of str
        The channels of ``peripheral``, in its order.
    """

    subject: int
    eeg: np.ndarray
    ratings: np.ndarray
    path: Path
    sfreq: float = 128.0
    channel_names: tuple[str, ...] = ()
    trial_ids: tuple[int, ...] | None = None
    peripheral: np.ndarray | None = None
    peripheral_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.channel_names:  # the DEAP reader's default, kept for callers that build one by hand
            from bench.data.datasets.deap import EEG_CHANNELS

            object.__setattr__(self, "channel_names", EEG_CHANNELS)

    @property
    def n_trials(self) -> int:
        return int(self.eeg.shape[0])


@dataclass(frozen=True)
class Dataset:
    """A registered dataset: what its recordings are and how to read and synthesise them.

    ``find(root, subjects)`` returns ``{subject: files}`` (the files one subject is read from: one per
    subject for DEAP and AMIGOS, the one shared file for DREAMER, a subject's session files for
    MAHNOB-HCI) or raises a one-line DataError. ``read(files, subject)`` returns that subject's
    :class:`SubjectRecording`. ``write_synthetic(folder, config)`` writes a twin in the dataset's own
    file format (``config`` is a :class:`bench.data.synthetic.SyntheticConfig`) and returns its files.
    """

    name: str
    title: str
    citation: str
    channels: tuple[str, ...]
    """EEG channels in the order of the recordings' channel axis."""
    sfreq: float
    """Sampling rate of the recordings the reader returns (after any resampling), Hz."""
    baseline_s: float
    """Seconds of pre-stimulus baseline before each trial in a recording."""
    trial_s: float
    """Seconds of stimulus per trial in a recording (longer stimuli are cut by the reader: see its docs)."""
    rating_names: tuple[str, ...]
    scale: tuple[float, float]
    threshold: float
    """Default binarisation: a rating is high if it is above this (``high_if="gt"``)."""
    n_subjects: int
    n_trials: int
    """Subjects in the full dataset, and trials per subject (the most; some subjects may have fewer)."""
    env: str
    """Environment variable naming a copy of the dataset (like ``--data-dir``)."""
    layout: str
    """The files a copy holds, in words (shown by ``bench data info`` and in errors)."""
    find: Callable[[Path, Iterable[int] | None], dict[int, tuple[Path, ...]]]
    read: Callable[[tuple[Path, ...], int], SubjectRecording]
    write_synthetic: Callable[..., list[Path]]
    digest_salt: str | None = None
    """Part of each subject's cache key besides the files' content hashes: the reader's version and the
    cut it makes. None (DEAP): the subject file's hash alone, as before datasets were registered."""
    shared_file: bool = False
    """All subjects are read from one file (DREAMER): the cache key then names the subject too."""
    missing_trials: bool = False
    """Subjects may have fewer than ``n_trials`` trials (documented gaps, AMIGOS and MAHNOB-HCI); where
    False, subjects with different trial counts cannot be pooled."""
    peripheral: tuple[str, ...] = ()
    """Peripheral channels the reader returns (:attr:`SubjectRecording.peripheral`); empty: none, so a
    model input that asks for them is refused before any data is read."""
    notes: tuple[str, ...] = field(default=())

    @property
    def n_baseline(self) -> int:
        return round(self.baseline_s * self.sfreq)

    @property
    def n_samples(self) -> int:
        """Samples per trial in a recording: baseline and stimulus."""
        return round((self.baseline_s + self.trial_s) * self.sfreq)

    def describe(self) -> str:
        return (
            f"{self.title}: {self.n_subjects} subjects x {self.n_trials} trials, {len(self.channels)} EEG "
            f"channels at {self.sfreq:g} Hz, ratings {self.scale[0]:g}-{self.scale[1]:g} "
            f"(high if > {self.threshold:g})"
        )


_REGISTRY: dict[str, Dataset] = {}


def register_dataset(dataset: Dataset) -> Dataset:
    """Add a dataset (its module calls this on import); a duplicate name is a programmer error."""
    if dataset.name in _REGISTRY and _REGISTRY[dataset.name] is not dataset:
        raise ValueError(f"dataset {dataset.name!r} is already registered")
    if dataset.rating_names[:2] != ("valence", "arousal"):
        raise ValueError(f"dataset {dataset.name!r}: ratings must start with valence, arousal")
    _REGISTRY[dataset.name] = dataset
    return dataset


def dataset_names() -> tuple[str, ...]:
    return tuple(MODULES)


def get_dataset(name: str) -> Dataset:
    """A registered dataset by name; an unknown name is a one-line ConfigError listing the known ones."""
    check_option("dataset", name, MODULES)
    if name not in _REGISTRY:
        importlib.import_module(MODULES[name])
    return _REGISTRY[name]


def list_datasets() -> list[Dataset]:
    return [get_dataset(n) for n in MODULES]
