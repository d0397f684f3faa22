"""One subject's recording, read through its dataset's reader and cut to what a feature config uses.

Both the EEG feature extraction (:mod:`bench.data.compute`) and the peripheral features
(:mod:`bench.data.peripheral`) cut the recording here, so the two see the same baseline seconds and the
same stimulus.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.core.errors import ConfigError, DataError
from bench.data.datasets import DEFAULT_DATASET, Dataset, SubjectRecording, get_dataset
from bench.data.features import FeatureConfig


def read_subject(files: tuple[Path, ...], subject: int, dataset: str = DEFAULT_DATASET) -> SubjectRecording:
    """One subject's recording, through its dataset's reader."""
    rec = get_dataset(dataset).read(tuple(files), subject)
    if rec.subject != subject:
        raise DataError(f"{files[0]}: subject number mismatch ({rec.subject} != {subject})")
    return rec


def recording_for(rec: SubjectRecording, ds: Dataset, config: FeatureConfig) -> np.ndarray:
    """The part of a recording the feature config uses: its channels (``config.channels``) and the last
    ``config.baseline_s`` seconds of the dataset's baseline before the stimulus."""
    eeg = rec.eeg
    if config.channels is not None:
        index = {c.upper(): i for i, c in enumerate(rec.channel_names)}
        missing = [c for c in config.channels if c.upper() not in index]
        if missing:
            raise ConfigError(
                f"features.channels: {', '.join(missing)} not among {ds.title}'s channels "
                f"({', '.join(rec.channel_names)})"
            )
        eeg = eeg[:, [index[c.upper()] for c in config.channels]]
    check_baseline_seconds(config, ds)
    drop = round((ds.baseline_s - config.baseline_s) * rec.sfreq)
    return eeg[..., drop:] if drop else eeg


def check_baseline_seconds(config: FeatureConfig, ds: Dataset) -> None:
    """A feature config may keep at most the baseline seconds the dataset's recordings hold (the SEED
    family holds none): a one-line :class:`ConfigError` otherwise, raised before any data is read by
    :func:`bench.runs.identity.resolve_config`."""
    if config.baseline_s > ds.baseline_s:
        raise ConfigError(
            f"features.baseline_s={config.baseline_s:g}: {ds.title} recordings hold {ds.baseline_s:g} s of "
            "baseline before each stimulus"
        )
