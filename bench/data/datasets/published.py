"""Published feature sets: the features a dataset's authors extracted and released beside the EEG.

A categorical dataset registers what it publishes (``Dataset.published_features``, name ->
:class:`PublishedSource`); ``-F published=NAME`` (:attr:`bench.data.features.FeatureConfig.published`)
then makes a run read those files instead of computing features (:mod:`bench.data.published`). A source
says in words what its files hold (kinds, window, smoothing, bands) and reads one subject into the
layout of a cache entry (:class:`PublishedSubject`): trials x windows x kinds x bands x channels, float32,
each trial's real windows and session, the labels as the dataset's EEG reader gives them.

The SEED family's two published sets (SEED's ``ExtractedFeatures/``, SEED-IV's ``eeg_feature_smooth/``)
hold ``de`` and ``psd``, each smoothed two ways; :func:`seed_family_read` turns their low-level reader's
:class:`~bench.data.categorical.seed_common.PublishedFeatures` into a subject.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.core.errors import DataError


@dataclass(frozen=True)
class PublishedSubject:
    """One subject's published features in a cache entry's layout.

    Attributes
    ----------
    features : array, shape (n_trials, n_windows, n_kinds, n_bands, n_channels), float32
        Windows beyond a trial's own are zeros (``n_windows`` says how many are real).
    ratings : array, shape (n_trials, n_label_columns), float64
        The class indices of the dataset's tasks, as its EEG reader gives them.
    n_windows, sessions : array of int, shape (n_trials,)
        Each trial's real windows and its session (from 1).
    """

    features: np.ndarray
    ratings: np.ndarray
    n_windows: np.ndarray
    sessions: np.ndarray

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays of its cache entry (as :func:`bench.data.compute.compute_arrays` returns them)."""
        trials = np.column_stack([self.n_windows, self.sessions]).astype(np.float32)
        return {"features": self.features, "ratings": self.ratings, "trials": trials}


@dataclass(frozen=True)
class PublishedSource:
    """One published feature set of a dataset (the value of ``-F published=NAME``).

    ``find(root, subjects)`` returns ``{subject: files}`` (every file a subject's features and labels
    are read from: its content is the subject's cache key) or raises a one-line DataError; ``root`` is
    the dataset copy's folder as :func:`bench.data.source.open_dataset` found it (its top folder or its
    EEG folder). ``read(files, subject)`` returns the subject's :class:`PublishedSubject`.
    """

    name: str
    """The option's value: ``lds``, ``moving-average``, ``de``, ``de-psd``."""
    title: str
    """What the tables and tags show: ``SEED ExtractedFeatures de/psd LDS``."""
    kinds: tuple[str, ...]
    """Feature kinds the files hold (:data:`bench.data.inputs.FEATURE_KINDS` names, in that order)."""
    window_s: float
    """Seconds per window (non-overlapping)."""
    smoothing: str
    """The smoothing over a trial's windows, in words (or what is documented about it)."""
    layout: str
    """The files, in words."""
    bands: tuple[tuple[str, float, float], ...]
    find: Callable[[Path, Iterable[int] | None], dict[int, tuple[Path, ...]]]
    read: Callable[[tuple[Path, ...], int], PublishedSubject]

    def describe(self) -> str:
        """One line: title, kinds, window, smoothing."""
        return (
            f"{self.title}: {', '.join(self.kinds)} per {self.window_s:g} s window, "
            f"{len(self.bands)} bands ({', '.join(b[0] for b in self.bands)}); smoothing: {self.smoothing}"
        )


def stack_trials(trials: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per-trial (W_i, K, B, C) arrays -> ((T, max W, K, B, C) float32 zero-padded, (T,) W_i)."""
    n = np.array([len(x) for x in trials], dtype=np.int64)
    out = np.zeros((len(trials), int(n.max(initial=0)), *trials[0].shape[1:]), dtype=np.float32)
    for i, x in enumerate(trials):
        out[i, : len(x)] = x
    return out, n


def check_labels(path: object, got: np.ndarray, expected: np.ndarray, what: str) -> None:
    """A published file's labels must be the EEG's: one line naming the file and the first difference."""
    got, expected = np.asarray(got), np.asarray(expected)
    if got.shape != expected.shape or not np.array_equal(got, expected):
        if got.shape != expected.shape:
            raise DataError(f"{path}: {len(got)} labels, the EEG has {len(expected)} ({what})")
        i = int(np.argmax(got != expected))
        raise DataError(
            f"{path}: label of trial {i + 1} is {got[i]}, the EEG's is {expected[i]} ({what}); "
            "feature files and EEG disagree"
        )


def seed_family_read(
    reader: Callable[..., object],
    sessions: Sequence[tuple[int, Path]],
    subject: int,
    smoothing: str,
    kinds: tuple[str, ...],
    label_set: str,
    eeg_labels: Callable[[int], np.ndarray],
) -> PublishedSubject:
    """A SEED-family subject from its session feature files: ``reader(path, subject, session, kind=,
    smoothing=)`` per session and kind (:func:`bench.data.categorical.seed.read_features` or SEED-IV's),
    trials session-major as the EEG reader orders them; ``eeg_labels(session)`` the EEG's class
    indices of that session, which the files' labels must equal."""
    trials, labels, sess = [], [], []
    for session, path in sessions:
        got = {k: reader(path, subject, session, kind=k, smoothing=smoothing) for k in kinds}
        first = got[kinds[0]]
        check_labels(path, first.labels[label_set], eeg_labels(session), f"session {session}")
        for t in range(len(first.features)):
            planes = [got[k].features[t] for k in kinds]  # each (W, C, B)
            if len({p.shape for p in planes}) != 1:
                shapes = ", ".join(f"{k} {p.shape}" for k, p in zip(kinds, planes, strict=True))
                raise DataError(f"{path}: trial {t + 1}: the kinds' windows differ ({shapes})")
            trials.append(np.stack(planes, axis=1).transpose(0, 1, 3, 2))  # (W, K, B, C)
        labels.append(first.labels[label_set])
        sess.append(np.full(len(first.features), session, dtype=np.int64))
    feats, n_windows = stack_trials(trials)
    ratings = np.concatenate(labels).astype(np.float64)[:, None]
    return PublishedSubject(feats, ratings, n_windows, np.concatenate(sess))


def top_folder(root: Path, eeg_folder: str) -> Path:
    """The copy's top folder: ``root``, or its parent where ``root`` is the EEG folder itself."""
    root = Path(root).expanduser()
    return root.parent if root.name == eeg_folder and not (root / eeg_folder).is_dir() else root
