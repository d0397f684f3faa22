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
from bench.data.datasets import DEFAULT_DATASET, get_dataset
from bench.data.features import FeatureConfig, extract_features
from bench.data.inputs import BASE_KINDS
from bench.data.peripheral import peripheral_features
from bench.data.recordings import read_subject, recording_for
from bench.data.signal import band_limited


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
    rec = read_subject(files or (path,), subject, dataset)
    ds = get_dataset(dataset)
    t0 = time.perf_counter()
    eeg = recording_for(rec, ds, config)
    chans = config.channels or rec.channel_names
    if contents.signal_band is not None:  # a time-domain model's entry: the signal, no maps (0 windows)
        n_bands = len(config.bands)
        feats = np.empty((len(eeg), 0, len(contents.kinds), n_bands, eeg.shape[1]), dtype=np.float32)
    elif contents.kinds == BASE_KINDS:  # the call every entry made before other kinds existed
        feats = extract_features(eeg, config, sfreq=rec.sfreq)
    else:
        feats = extract_features(eeg, config, sfreq=rec.sfreq, kinds=contents.kinds, channels=tuple(chans))
    arrays = {"features": feats, "ratings": rec.ratings}
    if contents.peripheral:
        arrays["peripheral"] = peripheral_features(rec, ds, config)
    if contents.signal_band is not None:
        n_base = round(config.baseline_s * rec.sfreq)
        arrays["signal"] = band_limited(eeg[..., n_base:], rec.sfreq, contents.signal_band)
    return arrays, time.perf_counter() - t0


def dataset_args(dataset: str, files: tuple[Path, ...] | None, contents: Contents | None = None) -> dict:
    """Extra arguments of :func:`compute_arrays`: the dataset's (none for DEAP) and non-default contents."""
    extra = {} if contents is None or contents.is_default else {"contents": contents}
    return extra if dataset == "deap" else {"dataset": dataset, "files": files, **extra}
