"""SEED-IV registered: a subject's three sessions read as one recording of 72 film clips of their own
lengths, labelled with the clip's emotion (neutral, sad, fear, happy).

The files, their layout and every check are :mod:`bench.data.categorical.seed_iv`'s (see its docstring):
``eeg_raw_data/{1,2,3}/{subject}_{yyyymmdd}.mat``, one folder per session, each file 24 variables
``{prefix}_eeg1..24`` (62 x samples, microvolts at 200 Hz). This module turns a subject's three session
files into the harness's :class:`~bench.data.datasets.SubjectRecording`:

* session-major trial order: trials 0-23 are session 1's clips 1-24, trials 24-47 session 2's, 48-71
  session 3's (the session of each trial in ``sessions``; a session is the folder its file is in);
* each clip keeps its own length (``trial_samples``; the EEG array is zero-padded to the longest, and
  no feature window is built from the padding);
* the label column is task ``emotion4``: the session's fixed clip labels
  (:data:`bench.data.categorical.seed_iv.SESSION_LABELS`, the dataset's own coding, already 0-based):
  class 0 neutral, 1 sad, 2 fear, 3 happy;
* there is no baseline: the clips start at the film.

Features default to the SEED family's recipe (:data:`~bench.data.datasets.seed.SEED_FEATURES`): five
bands (delta 1-4, theta 4-8, alpha 8-14, beta 14-31, gamma 31-50 Hz), non-overlapping 1 s windows, no
baseline removal, no per-window normalisation. (SEED-IV's published features use the same five bands
over 4 s windows; the harness computes its own from the EEG.)

``trial_s`` is 256 s: the reader's module does not hold the real clip lengths, but public SEED-IV
loaders list the published features' 4-s windows per clip (session 1: 42, 23, 49, ... with 64 at clip
15; session 3: 64 at clip 7; no clip more), so the longest clip holds 64 x 4 = 256 s (and less than
260 s).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from bench.core.errors import DataError
from bench.data.categorical import seed_iv
from bench.data.categorical.seed_common import CHANNELS, SFREQ, finish_twin
from bench.data.datasets import Dataset, SubjectRecording, files_by_subject, register_dataset
from bench.data.datasets.published import PublishedSubject, seed_family_read, top_folder
from bench.data.datasets.seed import SEED_FEATURES, published_sources, sessions_recording

TASK = "emotion4"
LONGEST_CLIP_S = 64 * seed_iv.WINDOW_S
"""The longest clip of the real files, seconds: 64 windows of 4 s in the published features (module
docstring; ``Dataset.trial_s``: clips are not cut)."""
TWIN_SECONDS = (8.0, 16.0)
"""The harness's twin's clip lengths (s): short, so that 4 subjects x 72 clips compute in seconds (the
categorical twin allows 4 s and more, one window of its published features)."""


def find(root: Path, subjects: Iterable[int] | None = None) -> dict[int, tuple[Path, ...]]:
    """``{subject: (session 1, 2, 3 files)}`` of a SEED-IV copy (its top folder or ``eeg_raw_data``).
    The labels are fixed per session (no label file), so the three EEG files are all a subject's data."""
    return files_by_subject(seed_iv.find_sessions(Path(root)), subjects, root, "SEED-IV files")


def read(files: tuple[Path, ...], subject: int) -> SubjectRecording:
    """A subject's three session files as one recording (module docstring)."""
    by_session = {Path(p).parent.name: Path(p) for p in files}
    expected = [str(k) for k in range(1, seed_iv.N_SESSIONS + 1)]
    if len(files) != seed_iv.N_SESSIONS or sorted(by_session) != expected:
        folders = ", ".join(sorted({Path(p).parent.name for p in files}))
        raise DataError(
            f"{files[0]}: subject {subject} has {len(files)} session file(s) in folder(s) {folders}, "
            "expected one in each of 1/, 2/, 3/"
        )
    recs = [seed_iv.read_session(by_session[k], subject, int(k)) for k in expected]
    return sessions_recording(recs, by_session["1"], seed_iv.LABEL_SET, "SEED-IV")


def find_published(root: Path, subjects: Iterable[int] | None = None) -> dict[int, tuple[Path, ...]]:
    """``{subject: (eeg_feature_smooth/1, 2, 3 files)}`` of a SEED-IV copy (its top folder or
    ``eeg_raw_data``); the labels are fixed per session, as for the EEG."""
    top = top_folder(root, seed_iv.EEG_FOLDER)
    return files_by_subject(
        seed_iv.find_feature_sessions(top), subjects, top / seed_iv.FEATURE_FOLDER, "SEED-IV feature files"
    )


def _published_reader(smoothing: str):
    def read_published(files: tuple[Path, ...], subject: int) -> PublishedSubject:
        sessions = [(int(Path(p).parent.name), Path(p)) for p in files]
        if sorted(k for k, _ in sessions) != list(range(1, seed_iv.N_SESSIONS + 1)):
            raise DataError(f"{files[0]}: subject {subject}: not one feature file per folder 1/, 2/, 3/")
        return seed_family_read(
            seed_iv.read_features, sorted(sessions), subject, smoothing, ("de", "psd"), seed_iv.LABEL_SET,
            lambda session: seed_iv.SESSION_LABELS[session],
        )  # fmt: skip

    return read_published


def write_synthetic(folder: Path, config) -> list[Path]:
    """The twin (:func:`bench.data.categorical.seed_iv.write_twin`): ``config.n_subjects`` subjects x 3
    sessions x 24 clips of :data:`TWIN_SECONDS`, the class effect scaled by ``config.effect_size``
    (``config.n_trials`` is not used: every twin has all 72 clips); returns each subject's first session
    file. ``SYNTHETIC.json`` records ``config`` (what the harness's cache compares) beside the twin's own
    arguments."""
    folder = Path(folder)
    written = seed_iv.write_twin(
        folder, n_subjects=config.n_subjects, seconds=TWIN_SECONDS, seed=config.seed,
        effect=config.effect_size, subject_shift=config.subject_shift,
    )  # fmt: skip
    # seed_iv.write_twin records only its own arguments; record the harness's config as SEED's twin does
    arguments = {
        "n_subjects": int(config.n_subjects),
        "seconds": list(TWIN_SECONDS),
        "seed": int(config.seed),
        "effect": float(config.effect_size),
        **({"subject_shift": float(config.subject_shift)} if config.subject_shift else {}),
    }
    finish_twin(folder, seed_iv.DATASET, "SEED-IV", arguments, seed_iv.CLASSES, config.to_dict())
    return written[:: seed_iv.N_SESSIONS]


SEED_IV = register_dataset(
    Dataset(
        name="seed-iv",
        title="SEED-IV",
        citation="Zheng, Liu, Lu, Lu & Cichocki, EmotionMeter: a multimodal framework for recognizing human "
        "emotions, IEEE Trans. Cybernetics 49(3), 2019",
        channels=CHANNELS,
        sfreq=SFREQ,
        baseline_s=0.0,
        trial_s=LONGEST_CLIP_S,
        rating_names=(TASK,),
        scale=(0.0, 3.0),
        threshold=None,
        n_subjects=seed_iv.N_SUBJECTS,
        n_trials=seed_iv.N_SESSIONS * seed_iv.N_TRIALS,
        env="SEED_IV_DIR",
        layout="eeg_raw_data/{1,2,3}/{subject}_{yyyymmdd}.mat (MATLAB v5; one folder per session), each "
        "{initials}_eeg1..24: 62 x samples at 200 Hz; labels fixed per session (0 neutral, 1 sad, 2 fear, "
        "3 happy)",
        find=find,
        read=read,
        write_synthetic=write_synthetic,
        digest_salt="seed-iv/reader-v1/3-sessions",
        missing_trials=False,
        notes=(
            "Trials are whole film clips of unequal length (about 40-260 s in the real files, by the "
            "published features' window counts); each keeps its own windows.",
            "The 72 trials of a subject are its 3 sessions x 24 clips, recorded on 3 days; each session "
            "plays its own 24 clips (6 per emotion) in its own order.",
        ),
        baseline_where="(SEED-IV's clips hold no baseline)",
        tasks=(TASK,),
        categorical=True,
        feature_defaults=SEED_FEATURES,
        n_sessions=seed_iv.N_SESSIONS,
        trial_split=(16, 0, 8),
        published_features=published_sources(
            "SEED-IV",
            seed_iv.FEATURE_FOLDER,
            seed_iv.WINDOW_S,
            find_published,
            _published_reader,
            "eeg_feature_smooth/{1,2,3}/{subject}_{yyyymmdd}.mat, per clip N de_LDS{N}, de_movingAve{N}, "
            "psd_LDS{N}, psd_movingAve{N}: 62 channels x 4 s windows x 5 bands",
        ),  # fmt: skip
    )
)
