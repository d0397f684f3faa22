"""A feature set: the features of several subjects under one config, as the runs use them.

The cache (:mod:`bench.data.cache`) hands one out per request, stacked from its entries
(:func:`assemble`); protocols slice it by subject (:meth:`FeatureSet.select`) and models take their
inputs from it (:meth:`FeatureSet.inputs`, built once per set and shared by the runs of a grid). It holds
arrays and what they were computed from, and reads or writes nothing on disk itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.core.errors import DataError
from bench.data.contents import Contents
from bench.data.datasets import DEFAULT_DATASET, get_dataset
from bench.data.features import FeatureConfig
from bench.data.fingerprints import data_fingerprint
from bench.data.harmonise import inputs_for_tasks
from bench.data.inputs import BASE_KINDS, InputSpec, ModelInputs, build_inputs
from bench.data.signal import build_signal_inputs
from bench.data.source import data_kind


@dataclass(frozen=True)
class FeatureSet:
    """Features of several subjects under one config, as arrays the dataset layer slices.

    Attributes
    ----------
    features : array, shape (S, T, W, 2, B, C), float32
        Subjects x trials x windows x (DE, PSD) x bands x EEG channels (``channels``).
    ratings : array, shape (S, T, R)
        The dataset's ratings per trial (valence, arousal first; DEAP: + dominance, liking).
    subjects : array, shape (S,)
        Subject numbers in the dataset's numbering.
    n_trials : array, shape (S,), optional
        Trials each subject has, where subjects differ (AMIGOS, MAHNOB-HCI): the first ``n_trials[i]``
        rows of subject i are real, the rest padding (features 0, ratings NaN) that no input is built from.
        None: every subject has all T trials.
    n_windows, sessions : array, shape (S, T), optional
        Each trial's real windows and its session, for datasets whose trials differ in length or that
        hold several sessions (see the attributes).
    """

    features: np.ndarray
    ratings: np.ndarray
    subjects: np.ndarray
    config: FeatureConfig
    synthetic: bool
    file_digests: dict[int, str] = field(default_factory=dict)
    source: str = ""
    """The folder the subject files were read from ("" when loaded from the cache alone, as workers do):
    shown as the data set's source in MLflow."""
    dataset: str = DEFAULT_DATASET
    channels: tuple[str, ...] = ()
    """The EEG channels on the last axis (default: the dataset's, or ``config.channels``)."""
    n_trials: np.ndarray | None = None
    kinds: tuple[str, ...] = BASE_KINDS
    """Feature kinds on axis 3 of ``features`` (DE and PSD, then any a model asked for)."""
    peripheral: np.ndarray | None = None
    """(S, T, W, P) peripheral features per window (DEAP), where a model asked for them."""
    signal: tuple[np.ndarray | Path, ...] | None = None
    """Per subject, (T_s, C, L) band-limited stimulus EEG (float32; the verified cache file's path, read
    where inputs are built), where a model asked for it."""
    signal_band: tuple[float, float] | None = None
    n_windows: np.ndarray | None = None
    """(S, T) real feature windows of each trial, where trials differ in length (the SEED family's films):
    the windows beyond are padding that no input is built from. None: all W windows of every trial."""
    sessions: np.ndarray | None = None
    """(S, T) recording session of each trial, from 1, where the dataset has several; None: one."""
    signal_samples: np.ndarray | None = None
    """(S, T) real samples of each trial's 128 Hz ``signal``, where trials differ in length (the
    categorical datasets' clips, zero-padded beyond): windows are cut from those alone. None: all."""
    _memo: dict = field(default_factory=dict, init=False, repr=False, compare=False)
    """Inputs already built, by (spec, threshold, high_if): the runs of a grid share them (read-only)."""

    def __post_init__(self) -> None:
        if not self.channels:
            chans = self.config.channels or get_dataset(self.dataset).channels
            object.__setattr__(self, "channels", tuple(chans))

    @property
    def trials_per_subject(self) -> np.ndarray:
        """(S,) trials of each subject (padding rows not counted)."""
        if self.n_trials is None:
            return np.full(len(self.subjects), self.features.shape[1], dtype=np.int64)
        return np.asarray(self.n_trials, dtype=np.int64)

    @property
    def trial_mask(self) -> np.ndarray:
        """(S, T) True for real trials, False for padding."""
        return np.arange(self.features.shape[1])[None, :] < self.trials_per_subject[:, None]

    @property
    def fingerprint(self) -> str:
        """Data fingerprint: hash of the feature config and every input file's content hash."""
        return data_fingerprint(self.config, self.file_digests)

    @property
    def kind(self) -> str:
        return data_kind(self.dataset, self.synthetic)

    @property
    def contents(self) -> Contents:
        """What this set's cache entries hold beyond DE/PSD maps (see :mod:`bench.data.contents`)."""
        has_peripheral = self.peripheral is not None
        return Contents(kinds=self.kinds, peripheral=has_peripheral, signal_band=self.signal_band)

    def inputs(
        self,
        spec: InputSpec,
        *,
        threshold: float | None = 5.0,
        high_if: str = "gt",
        tasks: tuple[str, ...] | None = None,
    ) -> ModelInputs:
        """Model inputs per ``spec`` (see :func:`bench.data.inputs.build_inputs`), built once per set.

        The arrays are shared by every run that asks for the same input (a grid of runs on one data set
        holds each distinct input once); nothing downstream writes into them. ``tasks`` (a run's) that the
        labels do not hold are derived from them (:func:`bench.data.harmonise.inputs_for_tasks`).
        """
        key = (spec, None if threshold is None else float(threshold), high_if)
        if tasks is not None:
            derived = (*key, tuple(tasks))
            if derived not in self._memo:
                own = self.inputs(spec, threshold=threshold, high_if=high_if)
                self._memo[derived] = inputs_for_tasks(own, tuple(tasks), self.dataset)
            return self._memo[derived]
        if key not in self._memo:
            ds = get_dataset(self.dataset)
            labels = {"label_tasks": ds.tasks, "categorical": True} if ds.categorical else {}
            if spec.layout == "signal":
                if self.signal is None or self.signal_band != spec.band:
                    raise DataError(f"this data set holds no {spec.band} Hz signal (load it with that band)")
                if self.n_windows is not None and self.signal_samples is None:
                    raise DataError(f"{ds.title}: this signal holds no clip lengths; clear its cache entries")
                self._memo[key] = build_signal_inputs(
                    self.signal, self.ratings, self.subjects, spec, threshold=threshold, high_if=high_if,
                    n_trials=self.n_trials, samples=self.signal_samples, sessions=self.sessions, **labels,
                )  # fmt: skip
            else:
                if spec.peripheral and self.peripheral is None:
                    raise DataError("this data set holds no peripheral features (prepare it with them)")
                self._memo[key] = build_inputs(
                    self.features, self.ratings, self.subjects, spec, threshold=threshold, high_if=high_if,
                    channels=self.channels, n_trials=self.n_trials, kinds=self.kinds,
                    peripheral=self.peripheral if spec.peripheral else None, n_windows=self.n_windows,
                    sessions=self.sessions, **labels,
                )  # fmt: skip
        return self._memo[key]

    def select(self, subjects: Iterable[int]) -> FeatureSet:
        """The same set restricted to some subjects (in the given order)."""
        wanted = list(subjects)
        pos = {int(s): i for i, s in enumerate(self.subjects)}
        missing = [s for s in wanted if s not in pos]
        if missing:
            raise DataError(f"subject(s) {', '.join(map(str, missing))} not in this data set")
        idx = [pos[s] for s in wanted]
        n_trials = None if self.n_trials is None else self.trials_per_subject[idx]
        t = self.features.shape[1] if n_trials is None else int(n_trials.max())  # drop all-padding rows
        if n_trials is not None and (n_trials == t).all():
            n_trials = None
        return FeatureSet(
            features=self.features[idx, :t],
            ratings=self.ratings[idx, :t],
            subjects=self.subjects[idx],
            config=self.config,
            synthetic=self.synthetic,
            file_digests={s: self.file_digests[s] for s in wanted},
            source=self.source,
            dataset=self.dataset,
            channels=self.channels,
            n_trials=n_trials,
            kinds=self.kinds,
            peripheral=None if self.peripheral is None else self.peripheral[idx, :t],
            signal=None if self.signal is None else tuple(self.signal[i] for i in idx),
            signal_band=self.signal_band,
            n_windows=None if self.n_windows is None else self.n_windows[idx, :t],
            sessions=None if self.sessions is None else self.sessions[idx, :t],
            signal_samples=None if self.signal_samples is None else self.signal_samples[idx, :t],
        )


def assemble(feats: list, ratings: list, digests: dict[int, str], config: FeatureConfig, synthetic: bool,
              where: object, source: str = "", dataset: str = DEFAULT_DATASET, extras: list | None = None,
              contents: Contents | None = None) -> FeatureSet:  # fmt: skip
    """Stack per-subject entries (in ``digests`` order) into one FeatureSet read from ``source``.

    Subjects with fewer trials (documented missing trials) are padded to the most any has (features 0,
    ratings NaN) and the set records each subject's count; any other difference is an error. ``extras``
    are the entries' other arrays (peripheral features are stacked like features; signals stay one
    memory-mapped array per subject)."""
    contents = contents or Contents()
    extras = extras or [{} for _ in feats]
    ragged = get_dataset(dataset).missing_trials
    tables = [e.get("trials") for e in extras]
    if any(t is not None for t in tables):  # trials of unequal length: windows padded to the longest
        if any(t is None for t in tables):
            raise DataError(f"{where}: some subjects' entries lack their trials' windows; cannot pool them")
        w = max(f.shape[1] for f in feats)
        feats = [_pad_windows(np.asarray(f), w) for f in feats]
    shapes = {f.shape[1:] if ragged else f.shape for f in feats}
    if len(shapes) != 1:
        raise DataError(f"{where}: subjects differ in trials/windows {sorted(shapes)}; cannot pool them")
    counts = np.array([len(f) for f in feats], dtype=np.int64)
    n_trials = None
    periph = [e["peripheral"] for e in extras] if contents.peripheral else None
    if len(set(counts.tolist())) > 1:
        t = int(counts.max())
        feats = [_pad(np.asarray(f), t, 0.0) for f in feats]
        ratings = [_pad(np.asarray(r), t, np.nan) for r in ratings]
        periph = None if periph is None else [_pad(np.asarray(p), t, 0.0) for p in periph]
        tables = [t_ if t_ is None else _pad(np.asarray(t_), t, 0.0) for t_ in tables]
        n_trials = counts
    n_windows = sessions = signal_samples = None
    if tables[0] is not None:
        stacked = np.stack([np.asarray(t_) for t_ in tables]).astype(np.int64)  # (S, T, 2 or 3)
        n_windows, sessions = stacked[..., 0], stacked[..., 1]
        if contents.signal_band is not None and stacked.shape[-1] > 2:  # the signal's samples per clip
            signal_samples = stacked[..., 2]
    return FeatureSet(
        features=np.stack(feats) if len(feats) > 1 else np.asarray(feats[0])[None],
        ratings=np.stack(ratings),
        subjects=np.array(list(digests), dtype=np.int64),
        config=config,
        synthetic=synthetic,
        file_digests=dict(digests),
        source=source,
        dataset=dataset,
        n_trials=n_trials,
        kinds=contents.kinds,
        peripheral=None if periph is None else np.stack(periph),
        signal=tuple(e["signal"] for e in extras) if contents.signal_band is not None else None,
        signal_band=contents.signal_band,
        n_windows=n_windows,
        sessions=sessions,
        signal_samples=signal_samples,
    )


def _pad_windows(features: np.ndarray, n: int) -> np.ndarray:
    """(T, W, ...) features with zero windows appended up to ``n`` windows per trial."""
    if features.shape[1] == n:
        return features
    out = np.zeros((features.shape[0], n, *features.shape[2:]), dtype=features.dtype)
    out[:, : features.shape[1]] = features
    return out


def _pad(a: np.ndarray, n: int, value: float) -> np.ndarray:
    """``a`` with rows of ``value`` appended up to ``n`` rows."""
    if len(a) == n:
        return np.asarray(a)
    out = np.full((n, *a.shape[1:]), value, dtype=a.dtype)
    out[: len(a)] = a
    return out
