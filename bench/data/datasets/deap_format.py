"""DEAP's preprocessed-file format as numbers and names: channels, rate, samples per trial, ratings.

Its own module because three others need it and must not import each other for it: the DEAP reader
(:mod:`bench.data.datasets.deap`), the synthetic twin that writes files in this format
(:mod:`bench.data.synthetic`, whose planted effects name DEAP's channels), and the dataset registry
(:class:`~bench.data.datasets.SubjectRecording`'s default channel names).
"""

from __future__ import annotations

SFREQ = 128.0
"""Sampling rate of DEAP's preprocessed data, Hz."""

EEG_CHANNELS: tuple[str, ...] = (
    "Fp1", "AF3", "F3", "F7", "FC5", "FC1", "C3", "T7", "CP5", "CP1", "P3", "P7", "PO3", "O1", "Oz", "Pz",
    "Fp2", "AF4", "Fz", "F4", "F8", "FC6", "FC2", "Cz", "C4", "T8", "CP6", "CP2", "P4", "P8", "PO4", "O2",
)  # fmt: skip
"""The 32 EEG channels, in the order of DEAP's ``data`` array (indices 0-31)."""

PERIPHERAL_CHANNELS: tuple[str, ...] = (
    "hEOG", "vEOG", "zEMG", "tEMG", "GSR", "Respiration", "Plethysmograph", "Temperature",
)  # fmt: skip
"""Channels 32-39 of DEAP's ``data`` array: returned as :attr:`SubjectRecording.peripheral`, used only by
models whose input asks for them (:mod:`bench.data.peripheral`)."""

ALL_CHANNELS: tuple[str, ...] = EEG_CHANNELS + PERIPHERAL_CHANNELS

N_SAMPLES = 8064
"""Samples per trial in DEAP's preprocessed data: 63 s at 128 Hz (3 s baseline + 60 s)."""
BASELINE_SAMPLES = 384
"""The first 3 s of each trial are the pre-trial baseline."""
RATING_NAMES: tuple[str, ...] = ("valence", "arousal", "dominance", "liking")
SCALE = (1.0, 9.0)
