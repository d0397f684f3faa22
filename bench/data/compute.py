"""One subject's cache entry computed: its files read, and the arrays its entry holds.

This is all a feature pool worker runs (:mod:`bench.data.workers`): it reads and computes, and writes
nothing, so a worker that fails or is killed leaves no trace in the cache (the calling process writes
every entry, :mod:`bench.data.cache`).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from bench.data.contents import Contents
from bench.data.datasets import DEFAULT_DATASET, SubjectRecording, get_dataset
from bench.data.features import FeatureConfig, extract_features
from bench.data.inputs import BASE_KINDS
from bench.data.peripheral import peripheral_features
from bench.data.published import published_arrays
from bench.data.recordings import read_subject, recording_for
from bench.data.signal import band_limited, clip_signal


def compute_arrays(
    path: Path,
    subject: int,
    config: FeatureConfig,
    dataset: str = DEFAULT_DATASET,
    files: tuple[Path, ...] | None = None,
    contents: Contents | None = None,
) -> tuple[dict[str, np.ndarray], float]:
    """Read one subject's files and compute its entry's arrays: ({name: array}, seconds of feature work)
    with ``features`` and ``ratings``, plus ``peripheral`` and ``signal`` where ``contents`` asks.

    This is all a pool worker does; it writes nothing, so a worker that fails or is killed leaves no
    trace in the cache (the calling process writes every entry)."""
    contents = contents or Contents()
    if config.published is not None:  # the dataset's own feature files, not computed
        return published_arrays(files or (path,), subject, config, dataset, contents)
    rec = read_subject(files or (path,), subject, dataset)
    ds = get_dataset(dataset)
    t0 = time.perf_counter()
    eeg = recording_for(rec, ds, config)
    chans = config.channels or rec.channel_names
    if contents.signal_band is not None:  # a time-domain model's entry: the signal, no maps (0 windows)
        n_bands = len(config.bands)
        feats = np.empty((len(eeg), 0, len(contents.kinds), n_bands, eeg.shape[1]), dtype=np.float32)
    elif rec.trial_samples is not None:  # trials of unequal length: each its own windows
        drop = rec.eeg.shape[-1] - eeg.shape[-1]  # recording_for cut this much of the baseline
        feats = ragged_features(eeg, np.asarray(rec.trial_samples) - drop, config, rec.sfreq, contents.kinds,
                                tuple(chans))  # fmt: skip
    elif contents.kinds == BASE_KINDS:  # the call every entry made before other kinds existed
        feats = extract_features(eeg, config, sfreq=rec.sfreq)
    else:
        feats = extract_features(eeg, config, sfreq=rec.sfreq, kinds=contents.kinds, channels=tuple(chans))
    arrays = {"features": feats, "ratings": rec.ratings}
    if rec.trial_samples is not None or rec.sessions is not None:
        arrays["trials"] = trial_table(rec, config, drop=rec.eeg.shape[-1] - eeg.shape[-1])
    if contents.peripheral:
        arrays["peripheral"] = peripheral_features(rec, ds, config)
    if contents.signal_band is not None:
        n_base = round(config.baseline_s * rec.sfreq)
        if rec.trial_samples is None:  # the rating datasets: trials of one length at 128 Hz
            arrays["signal"] = band_limited(eeg[..., n_base:], rec.sfreq, contents.signal_band)
        else:  # clips of their own lengths: each clip's real samples at 128 Hz, their count in the table
            drop = rec.eeg.shape[-1] - eeg.shape[-1]
            lengths = np.asarray(rec.trial_samples) - drop - n_base
            arrays["signal"], real = clip_signal(eeg[..., n_base:], lengths, rec.sfreq, contents.signal_band)
            arrays["trials"] = np.column_stack([arrays["trials"], real]).astype(np.float32)
    return arrays, time.perf_counter() - t0


def trial_windows(rec: SubjectRecording, config: FeatureConfig, drop: int = 0) -> np.ndarray:
    """(n_trials,) feature windows of each trial of ``rec`` under ``config``: of its real samples after
    the baseline (``drop``: samples of the recording's baseline that ``recording_for`` cut)."""
    n_base = round(config.baseline_s * rec.sfreq)
    lengths = rec.trial_samples if rec.trial_samples is not None else np.full(rec.n_trials, rec.eeg.shape[-1])
    return np.array([config.n_windows(int(n) - drop - n_base, rec.sfreq) for n in lengths], dtype=np.int64)


def trial_table(rec: SubjectRecording, config: FeatureConfig, drop: int = 0) -> np.ndarray:
    """The entry's ``trials`` array, float32 (n_trials, 2): each trial's feature windows and its session
    (1 where the dataset has one). Stored beside the features of datasets whose trials differ in length
    or that hold several sessions; float32 like every extra array of an entry (exact for these counts).
    A signal entry of such a dataset adds a third column: each trial's real samples of the 128 Hz signal
    (:func:`bench.data.signal.clip_signal`)."""
    sessions = np.ones(rec.n_trials) if rec.sessions is None else np.asarray(rec.sessions)
    return np.column_stack([trial_windows(rec, config, drop), sessions]).astype(np.float32)


def ragged_features(
    eeg: np.ndarray,
    lengths: np.ndarray,
    config: FeatureConfig,
    sfreq: float,
    kinds: tuple[str, ...] = BASE_KINDS,
    channels: tuple[str, ...] | None = None,
) -> np.ndarray:
    """:func:`extract_features` of trials of unequal length (``lengths`` samples each, ``eeg`` padded
    beyond): each trial is filtered and windowed at its own length, so the padding never enters a
    window, and trials of one length are computed together. The windows are padded with zeros to the
    longest trial's count; :func:`trial_windows` says how many are real."""
    lengths = np.asarray(lengths, dtype=np.int64)
    parts = {}
    for n in np.unique(lengths):
        idx = np.flatnonzero(lengths == n)
        extra = {} if kinds == BASE_KINDS else {"kinds": kinds, "channels": channels}
        parts[int(n)] = (idx, extract_features(eeg[idx, :, : int(n)], config, sfreq=sfreq, **extra))
    n_windows = max(f.shape[1] for _, f in parts.values())
    first = next(iter(parts.values()))[1]
    out = np.zeros((len(eeg), n_windows, *first.shape[2:]), dtype=np.float32)
    for idx, f in parts.values():
        out[idx, : f.shape[1]] = f
    return out


def dataset_args(dataset: str, files: tuple[Path, ...] | None, contents: Contents | None = None) -> dict:
    """Extra arguments of :func:`compute_arrays`: the dataset's (none for DEAP) and non-default contents."""
    extra = {} if contents is None or contents.is_default else {"contents": contents}
    return extra if dataset == "deap" else {"dataset": dataset, "files": files, **extra}
