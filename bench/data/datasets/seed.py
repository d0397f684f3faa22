"""SEED registered: its three sessions per subject read as one recording of 45 film clips of their own
lengths, labelled with the clip's intended valence (negative, neutral, positive).

The files, their layout and every check are :mod:`bench.data.categorical.seed`'s; this module turns a
subject's three session files into the harness's :class:`~bench.data.datasets.SubjectRecording`:

* trials 0-14 are session 1's clips 1-15, trials 15-29 session 2's, 30-44 session 3's (the session of
  each trial in ``sessions``, the sessions in recording-date order);
* each clip keeps its own length (``trial_samples``; the EEG array is zero-padded to the longest, and
  no feature window is built from the padding);
* the label column is task ``valence3``: SEED's ``label.mat`` (1 positive, 0 neutral, -1 negative)
  plus 1, so class 0 negative, 1 neutral, 2 positive;
* there is no baseline: SEED's preprocessed clips start at the film.

Features default to SEED's own recipe (:data:`SEED_FEATURES`): five bands (delta 1-4, theta 4-8, alpha
8-14, beta 14-31, gamma 31-50 Hz), non-overlapping 1 s windows, no baseline removal, no per-window
normalisation (the trainer standardises each input element with its training part's statistics).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from bench.core.errors import DataError
from bench.core.tasks import VALENCE_FROM_VALENCE3
from bench.data.categorical import seed
from bench.data.categorical.recording import SessionRecording
from bench.data.categorical.seed_common import CHANNELS, SFREQ
from bench.data.datasets import Dataset, SubjectRecording, files_by_subject, register_dataset
from bench.data.datasets.published import (
    PublishedSource,
    PublishedSubject,
    seed_family_read,
    top_folder,
)
from bench.data.synthetic import MARKER, PARTIAL_MARKER

SEED_BANDS: tuple[tuple[str, float, float], ...] = (
    ("delta", 1.0, 4.0),
    ("theta", 4.0, 8.0),
    ("alpha", 8.0, 14.0),
    ("beta", 14.0, 31.0),
    ("gamma", 31.0, 50.0),
)
"""The SEED family's five bands (Hz), as the SEED-IV and SEED-V pages give them."""

SEED_FEATURES: dict = {
    "bands": [list(b) for b in SEED_BANDS],
    "window_s": 1.0,
    "baseline": "none",
    "baseline_s": 0.0,
    "normalise": "none",
}
"""Feature options of the SEED family's runs unless a run sets them (``Dataset.feature_defaults``)."""

TASK = "valence3"
LONGEST_CLIP_S = (max(seed.REAL_SAMPLES) - 1) / SFREQ
"""The longest clip of the real files, seconds (200 s + 1 samples each; ``Dataset.trial_s``: clips are not
cut)."""


def sessions_recording(
    sessions: list[SessionRecording], path: Path, label_set: str, dataset_title: str
) -> SubjectRecording:
    """One subject's sessions as one :class:`SubjectRecording`: trials in session order, each its own
    length (zero-padded to the longest), the label set ``label_set`` as the one label column."""
    if not sessions:
        raise DataError(f"{path}: no sessions")
    channels = sessions[0].channels
    for s in sessions:
        if s.channels != channels or s.sfreq != sessions[0].sfreq:
            raise DataError(f"{s.source}: channels or sampling rate differ from {sessions[0].source}")
        if label_set not in s.labels:
            raise DataError(f"{s.source}: no {label_set!r} labels ({dataset_title})")
    trials = [x for s in sessions for x in s.eeg]
    lengths = np.array([x.shape[1] for x in trials], dtype=np.int64)
    eeg = np.zeros((len(trials), len(channels), int(lengths.max())), dtype=np.float32)
    for i, x in enumerate(trials):
        eeg[i, :, : x.shape[1]] = x
    labels = np.concatenate([s.labels[label_set] for s in sessions]).astype(np.float64)
    return SubjectRecording(
        subject=sessions[0].subject,
        eeg=eeg,
        ratings=labels[:, None],
        path=Path(path),
        sfreq=float(sessions[0].sfreq),
        channel_names=tuple(channels),
        trial_samples=lengths,
        sessions=np.concatenate([np.full(s.n_trials, s.session) for s in sessions]).astype(np.int64),
    )


def record_twin_config(folder: Path, dataset: str, title: str, config, planted_effect: dict) -> None:
    """Rewrite a categorical twin's ``SYNTHETIC.json`` (written by its own writer, which records its own
    arguments) as the harness's twins hold it: ``config`` (the twin's
    :class:`~bench.data.synthetic.SyntheticConfig`, which the cache compares to know the twin is whole), the
    writer's arguments beside it, the planted effect; written atomically, the "being written" marker
    removed last."""
    marker = Path(folder) / MARKER
    arguments = {k: v for k, v in json.loads(marker.read_text()).items() if k != "dataset"}
    info = {
        "dataset": dataset,
        "config": config.to_dict(),
        "twin_arguments": arguments,
        "planted_effect": planted_effect,
        "note": f"Synthetic data from deap-bench; not {title}. Results computed from it are synthetic.",
    }
    tmp = marker.with_suffix(".tmp")
    tmp.write_text(json.dumps(info, indent=1))
    os.replace(tmp, marker)
    (Path(folder) / PARTIAL_MARKER).unlink(missing_ok=True)


def find(root: Path, subjects: Iterable[int] | None = None) -> dict[int, tuple[Path, ...]]:
    """``{subject: (session 1, 2, 3 files, label.mat)}`` of a SEED copy (its top folder or
    ``Preprocessed_EEG``); ``label.mat`` is among a subject's files so that its content is in the
    subject's cache key."""
    found = files_by_subject(seed.find_sessions(Path(root)), subjects, root, "SEED files")
    return {s: (*files, files[0].parent / seed.LABEL_FILE) for s, files in found.items()}


def read(files: tuple[Path, ...], subject: int) -> SubjectRecording:
    """A subject's three session files (and ``label.mat``) as one recording (module docstring)."""
    sessions = [p for p in files if p.name != seed.LABEL_FILE]
    if len(sessions) != seed.N_SESSIONS:
        raise DataError(f"{files[0]}: subject {subject} has {len(sessions)} session files, expected 3")
    recs = [seed.read_session(p, subject, k) for k, p in enumerate(sorted(sessions), start=1)]
    return sessions_recording(recs, sessions[0], seed.LABEL_SET, "SEED")


def find_published(root: Path, subjects: Iterable[int] | None = None) -> dict[int, tuple[Path, ...]]:
    """``{subject: (ExtractedFeatures session 1, 2, 3 files, ExtractedFeatures/label.mat,
    Preprocessed_EEG/label.mat)}``: the feature files and both label files (the EEG's labels are the
    run's, and the features' must equal them), so that all are in the subject's cache key."""
    top = top_folder(root, seed.EEG_FOLDER)
    found = files_by_subject(
        seed.find_feature_sessions(top), subjects, top / seed.FEATURE_FOLDER, "SEED feature files"
    )
    labels = (top / seed.FEATURE_FOLDER / seed.LABEL_FILE, top / seed.EEG_FOLDER / seed.LABEL_FILE)
    return {s: (*files, *labels) for s, files in found.items()}


def _published_reader(smoothing: str):
    def read_published(files: tuple[Path, ...], subject: int) -> PublishedSubject:
        paths = [p for p in files if p.name != seed.LABEL_FILE]
        eeg_labels = seed.read_labels(files[-1].parent)
        if len(paths) != seed.N_SESSIONS:
            raise DataError(f"{files[0]}: subject {subject} has {len(paths)} feature files, expected 3")
        return seed_family_read(
            seed.read_features, list(enumerate(sorted(paths), start=1)), subject, smoothing, ("de", "psd"),
            seed.LABEL_SET, lambda _session: eeg_labels,
        )  # fmt: skip

    return read_published


def published_sources(
    title: str, folder: str, window_s: float, find_files, reader_of, layout: str
) -> dict[str, PublishedSource]:
    """The SEED family's two published sets of ``title`` (``lds`` and ``moving-average``, de and psd)."""
    words = {
        "LDS": "linear dynamical system smoother over each trial (de_LDS, psd_LDS; parameters not published)",
        "movingAve": "moving average over each trial (de_movingAve, psd_movingAve; length not published)",
    }
    return {
        name: PublishedSource(
            name=name,
            title=f"{title} {folder} de/psd {smoothing}",
            kinds=("de", "psd"),
            window_s=window_s,
            smoothing=words[smoothing],
            layout=layout,
            bands=SEED_BANDS,
            find=find_files,
            read=reader_of(smoothing),
        )  # fmt: skip
        for name, smoothing in (("lds", "LDS"), ("moving-average", "movingAve"))
    }


def write_synthetic(folder: Path, config) -> list[Path]:
    """The twin (:func:`bench.data.categorical.seed.write_twin`): ``config.n_subjects`` subjects x 3
    sessions x 15 clips of 20-40 s, the class effect scaled by ``config.effect_size``; returns each
    subject's first session file."""
    written = seed.write_twin(
        Path(folder), n_subjects=config.n_subjects, seed=config.seed, effect=config.effect_size,
        subject_shift=config.subject_shift, recorded=config.to_dict(),
    )  # fmt: skip
    return written[:: seed.N_SESSIONS]


SEED = register_dataset(
    Dataset(
        name="seed",
        title="SEED",
        citation="Zheng & Lu, Investigating critical frequency bands and channels for EEG-based emotion "
        "recognition with deep neural networks, IEEE Trans. Autonomous Mental Development 7(3), 2015; "
        "Duan, Zhu & Lu, Differential entropy feature for EEG-based emotion classification, IEEE NER 2013",
        channels=CHANNELS,
        sfreq=SFREQ,
        baseline_s=0.0,
        trial_s=LONGEST_CLIP_S,
        rating_names=(TASK,),
        scale=(0.0, 2.0),
        threshold=None,
        n_subjects=seed.N_SUBJECTS,
        n_trials=seed.N_SESSIONS * seed.N_TRIALS,
        env="SEED_DIR",
        layout="Preprocessed_EEG/{subject}_{yyyymmdd}.mat (MATLAB v5; 3 dates per subject = sessions 1-3), "
        "each {initials}_eeg1..15: 62 x samples at 200 Hz; label.mat: label 1x15 (1 positive, 0 neutral, "
        "-1 negative)",
        find=find,
        read=read,
        write_synthetic=write_synthetic,
        digest_salt="seed/reader-v1/3-sessions",
        missing_trials=False,
        notes=(
            "Trials are whole film clips of unequal length (185-265 s in the real files); each keeps its "
            "own windows.",
            "The 45 trials of a subject are its 3 sessions x 15 clips, recorded on 3 days; the same 15 "
            "films in the same order each session.",
        ),
        baseline_where="(SEED's clips hold no baseline)",
        tasks=(TASK,),
        derived_tasks=(VALENCE_FROM_VALENCE3,),
        categorical=True,
        feature_defaults=SEED_FEATURES,
        n_sessions=seed.N_SESSIONS,
        trial_split=(9, 0, 6),
        published_features=published_sources(
            "SEED",
            seed.FEATURE_FOLDER,
            seed.WINDOW_S,
            find_published,
            _published_reader,
            "ExtractedFeatures/{subject}_{yyyymmdd}.mat, per clip N de_LDS{N}, de_movingAve{N}, psd_LDS{N}, "
            "psd_movingAve{N}: 62 channels x 1 s windows x 5 bands; ExtractedFeatures/label.mat",
        ),  # fmt: skip
    )
)
