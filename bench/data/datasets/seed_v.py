"""SEED-V registered: a subject's three sessions read as one recording of 45 film clips of their own
lengths, labelled with the clip's emotion (disgust, fear, sad, neutral, happy).

The files, their layout and every check are :mod:`bench.data.categorical.seed_v`'s (see its docstring):
``EEG_raw/{subject}_{session}_{yyyymmdd}.cnt``, one NeuroScan recording per subject and session at
1000 Hz, 66 channels; the reader keeps the 62 EEG channels (in
:data:`~bench.data.categorical.seed_common.CHANNELS` order; ``M1``, ``M2``, ``VEO``, ``HEO`` dropped), cuts
the 15 clips at the release's fixed start and end seconds (:data:`~bench.data.categorical.seed_v.TRIALS`)
and resamples them, anti-aliased, to 200 Hz. This module turns a subject's three session files into the
harness's :class:`~bench.data.datasets.SubjectRecording`:

* session-major trial order: trials 0-14 are session 1's clips 1-15, trials 15-29 session 2's, 30-44
  session 3's (the session of each trial in ``sessions``, from the file name);
* each clip keeps its own length (``trial_samples``; the EEG array is zero-padded to the longest, and
  no feature window is built from the padding);
* the label column is task ``emotion5``: :data:`~bench.data.categorical.seed_v.LABELS`, the release's
  own coding: class 0 disgust, 1 fear, 2 sad, 3 neutral, 4 happy;
* there is no baseline: the clips are cut at the film's start.

A synthetic twin's sessions are shorter than the real ones: the reader cuts a twin's clips at the table
its ``SYNTHETIC.json`` records (the categorical twin's ``trials``), a real copy's at
:data:`~bench.data.categorical.seed_v.TRIALS`. (The table is not part of the cache key: a twin's files
are a function of it, so their content hashes change with it.)

Features default to the SEED family's recipe (:data:`~bench.data.datasets.seed.SEED_FEATURES`): five
bands (delta 1-4, theta 4-8, alpha 8-14, beta 14-31, gamma 31-50 Hz), non-overlapping 1 s windows, no
baseline removal, no per-window normalisation. ``trial_s`` is the longest clip of
:data:`~bench.data.categorical.seed_v.TRIALS`: 297 s (session 1, clip 7).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from bench.core.errors import DataError
from bench.data.categorical import seed_v
from bench.data.datasets import Dataset, SubjectRecording, files_by_subject, register_dataset
from bench.data.datasets.seed import SEED_FEATURES, record_twin_config, sessions_recording
from bench.data.synthetic import MARKER, open_twin_folder

TASK = "emotion5"
LABEL_SET = "emotion"
N_TRIALS = 15
LONGEST_CLIP_S = float(max(b - a for table in seed_v.TRIALS.values() for a, b in table))
"""The longest clip of the real recordings, seconds (``Dataset.trial_s``: clips are not cut)."""


def find(root: Path, subjects: Iterable[int] | None = None) -> dict[int, tuple[Path, ...]]:
    """``{subject: (session 1, 2, 3 files)}`` of a SEED-V copy (its top folder or ``EEG_raw``). The labels
    and trial boundaries are fixed per session (no label file), so the three recordings are all a
    subject's data."""
    listing = (
        (subject, session, path) for (subject, session), path in seed_v.find_sessions(Path(root)).items()
    )
    return files_by_subject(listing, subjects, root, "SEED-V files")


def _twin_table(path: Path) -> seed_v.Table | None:
    """The trial table a SEED-V twin's ``SYNTHETIC.json`` records (beside the file's folder or one above
    it), or None for a copy without one (the real table applies)."""
    for folder in (path.parent, path.parent.parent):
        marker = folder / MARKER
        if not marker.is_file():
            continue
        try:
            info = json.loads(marker.read_text())
            if info.get("dataset") != seed_v.NAME:
                return None
            trials = info.get("twin_arguments", info)["trials"]
            return {int(k): tuple((float(a), float(b)) for a, b in trials[str(k)]) for k in seed_v.SESSIONS}
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            raise DataError(f"{marker}: not a SEED-V twin's marker with its trial table") from None
    return None


def read(files: tuple[Path, ...], subject: int) -> SubjectRecording:
    """A subject's three session recordings as one recording (module docstring)."""
    by_session: dict[int, Path] = {}
    for p in map(Path, files):
        named, session, _ = seed_v.parse_name(p)
        if named != subject:
            raise DataError(f"{p}: the file name says subject {named}, asked for subject {subject}")
        by_session[session] = p
    if len(files) != len(seed_v.SESSIONS) or sorted(by_session) != list(seed_v.SESSIONS):
        got = ", ".join(map(str, sorted(by_session)))
        raise DataError(f"{files[0]}: subject {subject} has session file(s) {got}, expected 1, 2, 3")
    table = _twin_table(by_session[1])
    recs = [seed_v.read_session(by_session[k], trials=table) for k in seed_v.SESSIONS]
    return sessions_recording(recs, by_session[1], LABEL_SET, "SEED-V")


def _record_config(folder: Path, config) -> None:
    """The twin's ``SYNTHETIC.json`` with the harness's config
    (:func:`~bench.data.datasets.seed.record_twin_config`)."""
    planted = {
        "band_hz": list(seed_v.PLANTED_BAND),
        "channels": list(seed_v.PLANTED_CHANNELS),
        "rms_uv_per_class_index": seed_v.PLANTED_RMS_UV,
        "classes": list(seed_v.LABEL_NAMES),
    }
    record_twin_config(folder, seed_v.NAME, "SEED-V", config, planted)


def write_synthetic(folder: Path, config) -> list[Path]:
    """The twin (:func:`bench.data.categorical.seed_v.write_twin`): ``config.n_subjects`` subjects x 3
    sessions x 15 clips of 3-4 s (its :data:`~bench.data.categorical.seed_v.TWIN_TRIALS`), the class
    effect scaled by ``config.effect_size`` (``config.n_trials`` is not used: every twin has all 45
    clips); returns each subject's first session file. A folder holding a real copy is refused."""
    folder = open_twin_folder(Path(folder), f"{seed_v.RAW}/*.cnt")
    written = seed_v.write_twin(folder, n_subjects=config.n_subjects, seed=config.seed,
                                effect=config.effect_size, subject_shift=config.subject_shift)  # fmt: skip
    _record_config(folder, config)
    return written[:: len(seed_v.SESSIONS)]


SEED_V = register_dataset(
    Dataset(
        name="seed-v",
        title="SEED-V",
        citation="Liu, Qiu, Zheng & Lu, Comparing recognition performance and robustness of multimodal deep "
        "learning models for multimodal emotion recognition, IEEE Trans. Cognitive and Developmental "
        "Systems 14(2), 2022",
        channels=seed_v.EEG_CHANNELS,
        sfreq=seed_v.SFREQ,
        baseline_s=0.0,
        trial_s=LONGEST_CLIP_S,
        rating_names=(TASK,),
        scale=(0.0, 4.0),
        threshold=None,
        n_subjects=seed_v.N_SUBJECTS,
        n_trials=len(seed_v.SESSIONS) * N_TRIALS,
        env="SEED_V_DIR",
        layout="EEG_raw/{subject}_{session}_{yyyymmdd}.cnt (NeuroScan, 62 EEG + M1, M2, VEO, HEO at 1000 Hz; "
        "one per subject and session), 15 clips cut at fixed seconds and resampled to 200 Hz; labels fixed "
        "per session (0 disgust, 1 fear, 2 sad, 3 neutral, 4 happy)",
        find=find,
        read=read,
        write_synthetic=write_synthetic,
        digest_salt="seed-v/reader-v1/3-sessions/200Hz-polyphase",
        missing_trials=False,
        notes=(
            "Trials are whole film clips of unequal length (about 50-300 s); each keeps its own windows.",
            "The 45 trials of a subject are its 3 sessions x 15 clips, recorded on 3 days; sessions 2 and 3 "
            "play the clips in the same order, session 1 in another.",
            "The recordings are resampled from 1000 Hz to 200 Hz by the reader (anti-aliased polyphase).",
        ),
        baseline_where="(SEED-V's clips hold no baseline)",
        tasks=(TASK,),
        categorical=True,
        feature_defaults=SEED_FEATURES,
        n_sessions=len(seed_v.SESSIONS),
        trial_split=(5, 5, 5),
    )
)
