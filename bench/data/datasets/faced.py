"""FACED registered: a subject's 28 film clips read as one recording, each labelled twice: with the
clip's emotion (nine categories) and with its valence (negative, neutral, positive).

The files, their layout and every check are :mod:`bench.data.categorical.faced`'s (see its docstring):
``Processed_data/sub000.pkl ... sub122.pkl``, one pickled array (28 clips, 32 channels, 7500 samples:
30 s at 250 Hz, microvolts) per subject; ``subNNN`` is subject ``NNN + 1``. The reader keeps all 32 rows
(the 30 scalp channels, then the mastoids A2, A1, in :data:`~bench.data.categorical.faced.CHANNELS`
order, a documented assumption as the files carry no names), and so does this dataset. This module turns
a subject's file into the harness's :class:`~bench.data.datasets.SubjectRecording`:

* trial order: clips 1-28 as the file holds them (FACED has one session: ``sessions`` all 1);
* the clips are all 30 s (``trial_samples`` says so; a twin's are shorter, all of one length too);
* two label columns, in this order: task ``emotion9``, the reader's ``emotion`` coding (class 0 anger,
  1 disgust, 2 fear, 3 sadness, 4 neutral, 5 amusement, 6 inspiration, 7 joy, 8 tenderness), and task
  ``valence3``, its ``valence`` coding (class 0 negative: clips 1-12, 1 neutral: 13-16, 2 positive:
  17-28);
* there is no baseline: the processed clips hold the film only.

Features default to the SEED family's recipe (:data:`~bench.data.datasets.seed.SEED_FEATURES`): five
bands (delta 1-4, theta 4-8, alpha 8-14, beta 14-31, gamma 31-50 Hz), non-overlapping 1 s windows, no
baseline removal, no per-window normalisation. Why the same: FACED's published features
(``EEG_Features/{DE,PSD}``, which the categorical reader reads) are five bands per 1 s window too, and
the public FACED pipelines set no other band edges: LibEER (``data_utils/load_data.py``,
``read_faced_feature``) trains on those published features as they are, and CBraMod
(``preprocessing/preprocessing_faced.py``) feeds the resampled signal (200 Hz, 10 s samples) to its
model without band features. The categorical twin's features use the same five bands.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from bench.core.errors import DataError
from bench.core.tasks import VALENCE_FROM_VALENCE3
from bench.data.categorical import faced
from bench.data.datasets import Dataset, SubjectRecording, files_by_subject, register_dataset
from bench.data.datasets.published import PublishedSource, PublishedSubject, check_labels, top_folder
from bench.data.datasets.seed import SEED_BANDS, SEED_FEATURES, record_twin_config, sessions_recording
from bench.data.synthetic import open_twin_folder

TASKS = ("emotion9", "valence3")
LABEL_SETS = ("emotion", "valence")
"""The reader's label set of each task, in the label columns' order."""
CLIP_S = faced.CLIP_SAMPLES / faced.SFREQ
"""Seconds per clip in the release (30 s; ``Dataset.trial_s``)."""
TWIN_SAMPLES = 2500
"""Samples per clip of the harness's twin: 10 s at 250 Hz, a third of the real clips', so that 4
subjects' features compute in seconds (the categorical twin allows 1 s and more)."""


def find(root: Path, subjects: Iterable[int] | None = None) -> dict[int, tuple[Path, ...]]:
    """``{subject: (subNNN.pkl,)}`` of a FACED copy (its top folder or ``Processed_data``); the labels are
    fixed per clip (no label file), so the one file is all a subject's data."""
    listing = ((subject, 1, path) for subject, path in faced.find_sessions(Path(root)).items())
    return files_by_subject(listing, subjects, root, "FACED files")


def read(files: tuple[Path, ...], subject: int) -> SubjectRecording:
    """A subject's file as one recording with two label columns (module docstring)."""
    if len(files) != 1:
        raise DataError(f"{files[0]}: subject {subject} has {len(files)} files, expected one subNNN.pkl")
    path = Path(files[0])
    rec = faced.read_session(path)
    if rec.subject != subject:
        raise DataError(f"{path}: the file name says subject {rec.subject}, asked for subject {subject}")
    out = sessions_recording([rec], path, LABEL_SETS[0], "FACED")
    labels = np.column_stack([rec.labels[name] for name in LABEL_SETS]).astype(np.float64)
    return dataclasses.replace(out, ratings=labels)


def find_published(root: Path, subjects: Iterable[int] | None = None) -> dict[int, tuple[Path, ...]]:
    """``{subject: (EEG_Features/DE/subNNN.pkl.pkl, EEG_Features/PSD/subNNN.pkl.pkl)}`` of a FACED copy
    (its top folder or ``Processed_data``)."""
    top = top_folder(root, faced.PROCESSED)
    wanted = sorted(faced.find_sessions(top)) if subjects is None else [int(s) for s in subjects]
    out = {s: tuple(faced.feature_path(top, kind, s) for kind in faced.FEATURE_KINDS) for s in wanted}
    missing = [str(p) for files in out.values() for p in files if not p.is_file()]
    if missing:
        raise DataError(f"{missing[0]}: file not found ({len(missing)} published feature file(s) missing)")
    return out


def read_published(files: tuple[Path, ...], subject: int) -> PublishedSubject:
    """A subject's DE and PSD files as (28 clips, windows, 2, 5 bands, 32 channels), the labels as
    :func:`read` gives them (the files' labels must equal them)."""
    got = [faced.read_features(p) for p in files]
    if [f.kind for f in got] != list(faced.FEATURE_KINDS) or {f.subject for f in got} != {subject}:
        raise DataError(f"{files[0]}: expected subject {subject}'s DE then PSD file")
    if got[0].values.shape != got[1].values.shape:
        raise DataError(f"{files[1]}: shape {got[1].values.shape}, its DE file's {got[0].values.shape}")
    expected = {"emotion": faced.EMOTION, "valence": faced.VALENCE}
    for f in got:
        for name in LABEL_SETS:
            check_labels(f.source, f.labels[name], np.array(expected[name]), name)
    feats = np.stack([f.values.transpose(0, 2, 3, 1) for f in got], axis=2).astype(np.float32)
    ratings = np.column_stack([got[0].labels[name] for name in LABEL_SETS]).astype(np.float64)
    n = len(feats)
    return PublishedSubject(
        feats, ratings, np.full(n, feats.shape[1], dtype=np.int64), np.ones(n, dtype=np.int64)
    )


PUBLISHED = {
    "de-psd": PublishedSource(
        name="de-psd",
        title="FACED EEG_Features DE/PSD",
        kinds=("de", "psd"),
        window_s=1.0,
        smoothing="not documented in the sources the reader follows (TorchEEG, LibEER, CBraMod)",
        layout="EEG_Features/{DE,PSD}/subNNN.pkl.pkl: pickled (28 clips, 32 channels, 30 windows of 1 s, "
        "5 bands)",
        bands=SEED_BANDS,
        find=find_published,
        read=read_published,
    )
}
"""FACED's published features (LibEER trains on them as they are)."""


def _record_config(folder: Path, config) -> None:
    """The twin's ``SYNTHETIC.json`` with the harness's config
    (:func:`~bench.data.datasets.seed.record_twin_config`)."""
    planted = {
        "band_hz": list(faced.PLANTED_BAND),
        "channels": list(faced.PLANTED_CHANNELS),
        "log_amplitude_per_class_index": faced.PLANTED_GAIN,
        "reference_class_index": 4,
        "classes": list(faced.EMOTION_NAMES),
    }
    record_twin_config(folder, faced.NAME, "FACED", config, planted)


def write_synthetic(folder: Path, config) -> list[Path]:
    """The twin (:func:`bench.data.categorical.faced.write_twin`): ``config.n_subjects`` subjects x 28
    clips of :data:`TWIN_SAMPLES`, the emotion effect scaled by ``config.effect_size`` (``config.n_trials``
    is not used: every twin has all 28 clips); returns the subjects' files. A folder holding a real copy
    is refused."""
    folder = open_twin_folder(Path(folder), f"{faced.PROCESSED}/*.pkl")
    written = faced.write_twin(folder, n_subjects=config.n_subjects, seed=config.seed,
                               effect=config.effect_size, n_samples=TWIN_SAMPLES,
                               subject_shift=config.subject_shift)  # fmt: skip
    _record_config(folder, config)
    return written


FACED = register_dataset(
    Dataset(
        name="faced",
        title="FACED",
        citation="Chen, Wang, Huang, Hu, Shen & Zhang, A large finer-grained affective computing EEG "
        "dataset, Scientific Data 10, 740, 2023",
        channels=faced.CHANNELS,
        sfreq=faced.SFREQ,
        baseline_s=0.0,
        trial_s=CLIP_S,
        rating_names=TASKS,
        scale=(0.0, float(len(faced.EMOTION_NAMES) - 1)),
        threshold=None,
        n_subjects=faced.N_SUBJECTS,
        n_trials=faced.N_CLIPS,
        env="FACED_DIR",
        layout="Processed_data/sub000.pkl ... sub122.pkl (subNNN is subject NNN + 1): a pickled array of 28 "
        "clips x 32 channels (30 scalp + A2, A1) x 7500 samples, 30 s at 250 Hz; labels fixed per clip "
        "(9 emotions; valence: clips 1-12 negative, 13-16 neutral, 17-28 positive)",
        find=find,
        read=read,
        write_synthetic=write_synthetic,
        digest_salt="faced/reader-v1/32-channels",
        missing_trials=False,
        notes=(
            "Every clip is 30 s; the 28 clips of a subject are one session, 3 per emotion (4 neutral).",
            "Two label sets per clip: emotion9 (9 categories) and valence3 (negative, neutral, positive).",
            "The last two channels are the mastoids (A2, A1), kept as the reader returns them; their order "
            "is a documented assumption (the files carry no channel names).",
        ),
        baseline_where="(FACED's clips hold no baseline)",
        tasks=TASKS,
        derived_tasks=(VALENCE_FROM_VALENCE3,),
        categorical=True,
        feature_defaults=SEED_FEATURES,
        n_sessions=1,
        subject_split=(80, 20, 23),
        published_features=PUBLISHED,
    )
)
