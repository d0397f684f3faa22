"""MAHNOB-HCI's synthetic twin: real BDF files and ``session.xml`` files in the release's layout.

:func:`write_twin` (the dataset's ``write_synthetic``) writes real BDF files
(:func:`bench.data.datasets.bdf.write_bdf`: MNE reads BDF but cannot write it) with the 47 channels
at 256 Hz: 30 s of baseline, a stimulus of 35-60 s (fixed per trial index) and 30 s after it (the
baseline reversed in time: label-free), per-channel DC offsets of up to 30 mV, label-free peripheral
signals, and a Status channel as the recordings have it: a trigger pulse of :data:`TWIN_PULSE` samples
at the stimulus onset and another at its end (with Biosemi-like system bits set throughout);
``session.xml`` files with the ratings; and, per subject, an implicit-tagging session (no felt*
attributes) and an emotion session whose ``.bdf`` is missing, which the reader
(:mod:`bench.data.datasets.mahnob`) leaves out and counts.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from bench.core.files import atomic_file
from bench.data.datasets.bdf import DIGITAL as _DIGITAL
from bench.data.datasets.bdf import write_bdf
from bench.data.datasets.mahnob_layout import (
    BASELINE_S,
    BDF_CHANNELS,
    EEG_CHANNELS,
    FILE_SFREQ,
    PERIPHERAL_CHANNELS,
    SCALE,
    SESSION_XML,
    SESSIONS,
    STATUS,
    THRESHOLD,
)
from bench.data.synthetic import (
    MARKER,
    PARTIAL_MARKER,
    open_twin_folder,
    planted_signals,
    subject_rng,
    write_marker,
)

_TWIN_STIMULUS = tuple(round(35 * FILE_SFREQ) + (t * 1697) % round(25 * FILE_SFREQ + 1) for t in range(20))
"""Stimulus samples of trial index 0-19 in the twin (35-60 s at 256 Hz, odd and even lengths)."""
_TWIN_CLIPS = (69, 55, 58, 107, 30, 138, 53, 80, 52, 79, 73, 90, 111, 146, 10, 147, 11, 13, 18, 19)
"""The twin's ``mediaFile`` per trial index (``<n>.avi``; plausible clip names)."""
_FELT_EMO = (0, 1, 2, 3, 4, 5, 6, 11, 12)
"""``feltEmo`` codes the twin draws (an emotion keyword; label-free in the twin)."""
_PHYSICAL = {"eeg": (-262144.0, 262143.0), "GSR": (0.0, 4194304.0), "Status": _DIGITAL}
"""Physical ranges: Biosemi's +-262 mV for electrode channels, ohms for GSR, the raw Status word."""
TWIN_PULSE = 6
"""Samples of each of the twin's two trigger pulses (23 ms at 256 Hz), at the stimulus onset and end."""
_STATUS_SYSTEM_BITS = (1 << 16) | (1 << 17) | (1 << 20)
"""Status bits above the trigger bits the twin sets throughout (Biosemi's epoch/speed/CMS bits)."""
_ID_STRIDE = 130
"""Session ids per subject in the twin: subject s's trial t is session (s - 1) * 130 + 2 t + 2."""


def _session_id(subject: int, slot: int) -> int:
    return (subject - 1) * _ID_STRIDE + slot


def _peripheral(rng: np.random.Generator, n: int) -> np.ndarray:
    """(14, n) label-free EXG1-8 (ECG on 1-3), GSR1-2 (ohms), Erg1-2, Resp, Temp at the file's rate."""
    t = np.arange(n) / FILE_SFREQ
    out = np.empty((len(PERIPHERAL_CHANNELS), n))
    heart = rng.uniform(1.0, 1.5)
    beat = np.sin(np.pi * heart * t) ** 40  # one narrow peak per beat
    out[:3] = rng.uniform(500.0, 1500.0, (3, 1)) * beat + rng.normal(0.0, 20.0, (3, n))  # ECG, uV
    out[3:8] = rng.normal(0.0, 30.0, (5, n))
    out[:8] += rng.uniform(-30000.0, 30000.0, (8, 1))  # electrode offsets
    walk = np.cumsum(rng.normal(0.0, 50.0, (2, n)), axis=-1)
    out[8:10] = rng.uniform(2e5, 1e6, (2, 1)) + walk - walk.mean(axis=-1, keepdims=True)  # GSR, ohms
    out[10:12] = rng.uniform(1000.0, 5000.0, (2, 1)) * beat  # plethysmograph
    out[12] = 3000.0 * np.sin(2 * np.pi * rng.uniform(0.2, 0.35) * t)  # respiration
    out[13] = rng.uniform(28.0, 34.0) * 1000.0 + 0.1 * t  # temperature
    return out


def _write_session(folder: Path, attrib: dict[str, str], subject: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    element = ET.Element("session", attrib)
    ET.SubElement(element, "subject", id=str(subject))
    xml = folder / SESSION_XML
    atomic_file(xml, lambda tmp: ET.ElementTree(element).write(tmp, encoding="utf-8", xml_declaration=True))
    return xml


def _write_twin_bdf(path: Path, eeg: np.ndarray, peripheral: np.ndarray, status: np.ndarray) -> None:
    data = np.concatenate([eeg, peripheral, status[None]], axis=0)
    ranges = [_PHYSICAL["GSR" if c.startswith("GSR") else c if c == STATUS else "eeg"] for c in BDF_CHANNELS]
    units = ["Ohm" if c.startswith("GSR") else "Boolean" if c == STATUS else "uV" for c in BDF_CHANNELS]
    transducers = ["Triggers and Status" if c == STATUS else "Active Electrode" for c in BDF_CHANNELS]
    atomic_file(path, lambda tmp: write_bdf(
        tmp, BDF_CHANNELS, FILE_SFREQ, data, units, [r[0] for r in ranges], [r[1] for r in ranges],
        transducers=transducers,
    ))  # fmt: skip


def write_twin(folder: str | Path, config) -> list[Path]:
    """Write a MAHNOB-HCI twin (``Sessions/<id>/`` BDF + ``session.xml``) and ``SYNTHETIC.json``.

    Returns the emotion sessions' (bdf, xml) files, subject by subject in session order (what
    :func:`find_sessions` returns). Per subject: ``rng = subject_rng(config, s)``, ``planted_signals``
    at 256 Hz (30 s baseline, the longest stimulus), then from the same rng the DC offsets, feltEmo
    codes and peripheral signals; 30 s after each stimulus is the trial's baseline reversed in time.
    """
    folder = Path(folder)
    was_twin = (folder / MARKER).is_file() or (folder / PARTIAL_MARKER).is_file()
    folder = open_twin_folder(folder, f"{SESSIONS}/*/*.bdf")
    sessions = folder / SESSIONS
    n_base, sr = round(BASELINE_S * FILE_SFREQ), round(FILE_SFREQ)
    written: list[Path] = []
    other: list[Path] = []
    for s in range(1, int(config.n_subjects) + 1):
        rng = subject_rng(config, s)
        ratings, base, stim = planted_signals(
            rng, config, channels=EEG_CHANNELS, sfreq=FILE_SFREQ, n_trials=int(config.n_trials),
            n_baseline=n_base, n_stimulus=max(_TWIN_STIMULUS), scale=SCALE, threshold=THRESHOLD,
            integer_ratings=True, subject=s,
        )  # fmt: skip
        offsets = rng.uniform(-30000.0, 30000.0, (len(ratings), len(EEG_CHANNELS), 1))  # uV
        emotions = rng.choice(_FELT_EMO, len(ratings))
        code = "NS"[(s + 1) % 2]
        for t, row in enumerate(ratings):
            n_stim = _TWIN_STIMULUS[t]
            pad = (-(2 * n_base + n_stim)) % sr  # whole 1-s records
            post = np.concatenate([base[t, :, ::-1], base[t, :, :pad]], axis=1)  # >= 30 s, label-free
            eeg = np.concatenate([base[t], stim[t, :, :n_stim], post], axis=1)
            status = np.full(eeg.shape[1], _STATUS_SYSTEM_BITS, dtype=np.float64)
            for at in (n_base, n_base + n_stim):  # a pulse at the stimulus onset, one where it ends
                status[at : at + TWIN_PULSE] += 1 + t % 15
            sid = _session_id(s, 2 * t + 2)
            bdf = sessions / str(sid) / f"Part_{s}_{code}_Trial{t + 1}_emotion.bdf"
            bdf.parent.mkdir(parents=True, exist_ok=True)
            _write_twin_bdf(bdf, eeg + offsets[t], _peripheral(rng, eeg.shape[1]), status)
            attrib = {
                "cutLenSec": f"{n_stim / FILE_SFREQ:g}", "feltArsl": str(int(row[1])),
                "feltCtrl": str(int(row[2])), "feltEmo": str(int(emotions[t])), "feltPred": str(int(row[3])),
                "feltVlnc": str(int(row[0])), "isStim": "1", "mediaFile": f"{_TWIN_CLIPS[t]}.avi",
                "sessionId": str(sid),
            }  # fmt: skip
            written += [bdf, _write_session(bdf.parent, attrib, s)]
        # an emotion session whose recording is missing, and an implicit-tagging session: both skipped
        lost = _session_id(s, 3)
        other.append(_write_session(sessions / str(lost), {
            "cutLenSec": "60", "feltArsl": "5", "feltCtrl": "5", "feltEmo": "0", "feltPred": "5",
            "feltVlnc": "5", "isStim": "1", "mediaFile": "90.avi", "sessionId": str(lost),
        }, s))  # fmt: skip
        tag = _session_id(s, 61)
        other.append(_write_session(sessions / str(tag), {
            "isStim": "1", "mediaFile": "1_f.jpg", "cutNr": "1", "sessionId": str(tag)}, s))  # fmt: skip
        tag_bdf = sessions / str(tag) / f"Part_{s}_{code}_Trial1_tagging.bdf"
        n = 2 * sr
        _write_twin_bdf(
            tag_bdf, rng.normal(0.0, 15.0, (len(EEG_CHANNELS), n)), _peripheral(rng, n),
            np.full(n, float(_STATUS_SYSTEM_BITS)),
        )  # fmt: skip
        other.append(tag_bdf)
    if was_twin:  # an earlier twin's sessions this config does not write
        keep = set(written + other)
        for stale in [*sessions.glob("*/*.bdf"), *sessions.glob(f"*/{SESSION_XML}")]:
            if stale not in keep:
                stale.unlink()
        for empty in sessions.iterdir():
            if empty.is_dir() and not any(empty.iterdir()):
                empty.rmdir()
    write_marker(folder, config)
    return written
