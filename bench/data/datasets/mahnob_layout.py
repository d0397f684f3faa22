"""MAHNOB-HCI's layout and channels: the names, rates and scales its reader and its twin share.

The reader (:mod:`bench.data.datasets.mahnob`) reads files of this layout and the twin writer
(:mod:`bench.data.datasets.mahnob_twin`) writes them; both take these constants from here, so that
neither imports the other (the reader registers the dataset with the twin writer as its
``write_synthetic``).
"""

from __future__ import annotations

import re

from bench.data.datasets.deap import EEG_CHANNELS

NAME = "mahnob-hci"
SFREQ = 128.0
"""Sampling rate of the recordings the reader returns, Hz."""
FILE_SFREQ = 256.0
"""Sampling rate of the released BDF files (and the twin's); the reader takes each file's own."""
BASELINE_S = 30.0
TRIAL_S = 30.0

EXG_CHANNELS: tuple[str, ...] = tuple(f"EXG{i}" for i in range(1, 9))
PERIPHERAL_CHANNELS: tuple[str, ...] = EXG_CHANNELS + ("GSR1", "GSR2", "Erg1", "Erg2", "Resp", "Temp")
STATUS = "Status"
BDF_CHANNELS: tuple[str, ...] = EEG_CHANNELS + PERIPHERAL_CHANNELS + (STATUS,)
"""The 47 channels of a session's BDF (the twin writes them in this order; the reader finds them by
name)."""
TRIGGER_MASK = 0xFFFF
"""Biosemi's trigger bits of the Status channel (bits 16-23 are system status: CMS, battery, ...)."""

RATING_ATTRIBUTES: tuple[str, ...] = ("feltVlnc", "feltArsl", "feltCtrl", "feltPred")
RATING_NAMES: tuple[str, ...] = ("valence", "arousal", "control", "predictability")
SCALE = (1.0, 9.0)
THRESHOLD = 5.0
SESSIONS = "Sessions"
SESSION_XML = "session.xml"
EMOTION_BDF = re.compile(r"^Part_(\d+)_.*_emotion\.bdf$", re.IGNORECASE)
"""An emotion session's recording, ``Part_<subject>_<N|S>_Trial<k>_emotion.bdf``."""
SKIP_UNRATED_ENV = "MAHNOB_SKIP_UNRATED"
"""``1``: the CLI skips emotion sessions without their rating (and counts them) rather than refusing them."""
