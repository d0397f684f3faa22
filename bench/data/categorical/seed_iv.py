"""SEED-IV (Zheng et al., IEEE Trans. Cybernetics 2019): 15 subjects x 3 sessions x 24 film clips,
62-channel EEG at 200 Hz, four emotions.

Layout read
-----------
As TorchEEG's and LibEER's SEED-IV readers index it and the SEED web pages describe it (see
:mod:`bench.data.categorical.seed_common` for the channel order and variable naming shared with SEED):

* ``eeg_raw_data/{1,2,3}/{subject}_{yyyymmdd}.mat``: one folder per session, one MATLAB v5 file per
  subject (subjects 1-15) in each. Each file holds 24 variables ``{prefix}_eeg1`` .. ``{prefix}_eeg24``
  (62 x T float64 microvolts at 200 Hz, rows in :data:`~bench.data.categorical.seed_common.CHANNELS`
  order); the prefix is the subject's initials and is not relied on (the variables are found by their
  ``_eeg<N>`` suffix, one prefix and N = 1..24 required, sorted by N).
* Labels are fixed per session (the same clips in the same order for every subject), not stored in the
  EEG files: :data:`SESSION_LABELS`, coded **0 neutral, 1 sad, 2 fear, 3 happy** (:data:`CLASSES`; the
  dataset's own coding, already 0-based), label set ``emotion``.
* ``eeg_feature_smooth/{1,2,3}/`` holds the same file names with the published features: per trial N,
  ``de_movingAve{N}``, ``de_LDS{N}``, ``psd_movingAve{N}``, ``psd_LDS{N}``, each (62, W, 5), W 4-s windows,
  bands delta, theta, alpha, beta, gamma. :func:`read_features` reads one kind and smoothing. (The
  release's eye-movement folders are not read.)

Every file is read with ``scipy.io.loadmat`` (which runs no code), every value is checked (type, shape,
62 channels, finite, 24 trials; the file's subject and session folder against the ones asked for) and
every problem is a one-line :class:`~bench.core.errors.DataError` naming the file; nothing is returned
from a bad file. Trials come back float32, in trial order, ``trial_ids`` 1..24.

The synthetic twin
------------------
:func:`write_twin` writes both folder trees with the real names (session folders, file names with
dates, one variable prefix per subject from :data:`TWIN_PREFIXES`, the twin's own: the real ones are
not documented publicly), variables in MATLAB's name order, and ``SYNTHETIC.json`` at the root. Trials
are short (``seconds``, drawn once per session and clip position, so every subject shares them). The
signals and the planted class effect are :func:`~bench.data.categorical.seed_common.twin_signals`'
(alpha power at the 14 frontal channels multiplied by ``exp(effect * class)``); the feature files are
computed from them over 4-s windows (:func:`~bench.data.categorical.seed_common.band_features`, then
each smoothing).
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np

from bench.core.errors import DataError
from bench.data.categorical.recording import SessionRecording
from bench.data.categorical.seed_common import (
    CHANNELS,
    KINDS,
    SFREQ,
    SMOOTHINGS,
    PublishedFeatures,
    band_features,
    check_features,
    check_trial,
    feature_keys,
    finish_twin,
    mat_keys,
    matlab_order,
    parse_file_name,
    scan_folder,
    smoothed,
    trial_keys,
    twin_lengths,
    twin_rng,
    twin_signals,
)
from bench.data.datasets.matfile import save_mat
from bench.data.safeload import load_mat
from bench.data.synthetic import open_twin_folder

__all__ = ["PublishedFeatures", "find_feature_sessions", "find_sessions", "read_features", "read_session",
           "write_twin"]  # fmt: skip

DATASET = "seed-iv"
N_SUBJECTS = 15
N_SESSIONS = 3
N_TRIALS = 24
EEG_FOLDER = "eeg_raw_data"
FEATURE_FOLDER = "eeg_feature_smooth"
LABEL_SET = "emotion"
CLASSES: tuple[str, ...] = ("neutral", "sad", "fear", "happy")
"""Class index -> emotion (SEED-IV's own coding)."""
SESSION_LABELS: dict[int, tuple[int, ...]] = {
    1: (1, 2, 3, 0, 2, 0, 0, 1, 0, 1, 2, 1, 1, 1, 2, 3, 2, 2, 3, 3, 0, 3, 0, 3),
    2: (2, 1, 3, 0, 0, 2, 0, 2, 3, 3, 2, 3, 2, 0, 1, 1, 2, 1, 0, 3, 0, 1, 3, 1),
    3: (1, 2, 2, 1, 3, 3, 3, 1, 1, 2, 1, 0, 2, 3, 3, 0, 2, 3, 0, 0, 2, 0, 1, 0),
}
"""Each session's 24 clip labels in trial order (the dataset's ReadMe, as public readers copy it)."""
WINDOW_S = 4.0
"""Seconds per window of the published features."""
TWIN_PREFIXES: tuple[str, ...] = (
    "ab", "cd", "ef", "gh", "ij", "kl", "mn", "op", "qr", "st", "uv", "wx", "yz", "ac", "bd",
)  # fmt: skip
"""The twin's variable prefix of subjects 1-15 (invented; the reader does not rely on prefixes)."""

_TWIN_TAG = 2019  # the twin's generators are keyed (tag, seed, subject[, session])
TWIN_SECONDS = (20.0, 40.0)
TWIN_FIRST_DATE = date(2015, 8, 1)


# ------------------------------------------------------------------------------------------ find
def _folder(root: Path, name: str) -> Path:
    """``root/name``, or ``root`` itself when it is that folder."""
    root = Path(root).expanduser()
    if (root / name).is_dir():
        return root / name
    if root.name == name and root.is_dir():
        return root
    raise DataError(f"{root}: no {name} folder (expected the SEED-IV folder holding {name}/)")


def _sessions(folder: Path) -> list[tuple[int, int, Path]]:
    per_session: dict[int, dict[int, Path]] = {}
    for session in range(1, N_SESSIONS + 1):
        found = scan_folder(folder / str(session), N_SUBJECTS)
        for subject, files in found.items():
            if len(files) > 1:
                names = ", ".join(sorted(p.name for _, p in files))
                raise DataError(f"{folder / str(session)}: {len(files)} files of subject {subject} ({names})")
        per_session[session] = {s: files[0][1] for s, files in found.items()}
    subjects = sorted(set().union(*per_session.values()))
    for subject in subjects:
        missing = [k for k in per_session if subject not in per_session[k]]
        if missing:
            raise DataError(
                f"{folder}: subject {subject} has no file in session folder(s) {', '.join(map(str, missing))}"
            )
    return [(s, k, per_session[k][s]) for s in subjects for k in range(1, N_SESSIONS + 1)]


def find_sessions(root: Path) -> list[tuple[int, int, Path]]:
    """``[(subject, session, file), ...]`` of ``eeg_raw_data/{1,2,3}/``, by subject then session.

    ``root`` is the SEED-IV folder (or ``eeg_raw_data`` itself). A missing session folder, a file name
    that does not parse, a subject outside 1-15, two files of one subject in a session, a subject
    missing from a session: DataError."""
    return _sessions(_folder(root, EEG_FOLDER))


def find_feature_sessions(root: Path) -> list[tuple[int, int, Path]]:
    """As :func:`find_sessions`, for ``eeg_feature_smooth/{1,2,3}/``."""
    return _sessions(_folder(root, FEATURE_FOLDER))


# ------------------------------------------------------------------------------------------ read
def _check_place(path: Path, subject: int, session: int) -> dict[str, np.ndarray]:
    """The labels of ``session``, after checking the file's name and folder against subject and session."""
    named, _ = parse_file_name(path)
    if named != subject:
        raise DataError(f"{path}: the file name says subject {named}, asked for subject {subject}")
    if session not in SESSION_LABELS:
        raise DataError(f"{path}: session {session} outside 1-{N_SESSIONS}")
    if path.parent.name != str(session):
        raise DataError(f"{path}: not in session folder {session}/")
    return {LABEL_SET: np.array(SESSION_LABELS[session], dtype=np.int64)}


def read_session(path: Path, subject: int, session: int) -> SessionRecording:
    """One file of ``eeg_raw_data/{session}/``: 24 trials (62, T_i) float32 uV at 200 Hz with the
    session's labels (module docstring)."""
    path = Path(path)
    labels = _check_place(path, subject, session)
    mat = load_mat(path)
    keys = trial_keys(mat_keys(mat), N_TRIALS, path)
    eeg = tuple(check_trial(mat[k], path, k) for k in keys)
    return SessionRecording(
        dataset=DATASET, subject=subject, session=session, eeg=eeg, sfreq=SFREQ, channels=CHANNELS,
        labels=labels, trial_ids=tuple(range(1, N_TRIALS + 1)), source=str(path),
    )  # fmt: skip


def read_features(
    path: Path, subject: int, session: int, *, kind: str = "de", smoothing: str = "LDS"
) -> PublishedFeatures:
    """One file of ``eeg_feature_smooth/{session}/``: ``{kind}_{smoothing}1..24`` as (W_i, 62, 5)
    float32, with the session's labels."""
    path = Path(path)
    keys = feature_keys(kind, smoothing, N_TRIALS)
    labels = _check_place(path, subject, session)
    mat = load_mat(path, keys)
    missing = [k for k in keys if k not in mat]
    if missing:
        raise DataError(f"{path}: no variable(s) {', '.join(missing)}")
    feats = tuple(check_features(mat[k], path, k) for k in keys)
    return PublishedFeatures(
        dataset=DATASET, subject=subject, session=session, kind=kind, smoothing=smoothing, features=feats,
        window_s=WINDOW_S, labels=labels, trial_ids=tuple(range(1, N_TRIALS + 1)), source=str(path),
    )  # fmt: skip


# ------------------------------------------------------------------------------------------ twin
def feature_variables(trials: list[np.ndarray]) -> dict[str, np.ndarray]:
    """The four published-feature variables per trial of the twin, computed from its signals."""
    out: dict[str, np.ndarray] = {}
    for n, x in enumerate(trials, start=1):
        raw = dict(zip(KINDS, band_features(x, WINDOW_S), strict=True))
        for kind in KINDS:
            for s in SMOOTHINGS:
                out[f"{kind}_{s}{n}"] = smoothed(raw[kind], s)
    return matlab_order(out)


def twin_lengths_of(seed: int, session: int, seconds: tuple[float, float]) -> tuple[int, ...]:
    """Samples per clip of a twin session (every subject's the same)."""
    return twin_lengths(twin_rng(_TWIN_TAG, seed, 0, session), N_TRIALS, seconds)


def twin_date(subject: int, session: int) -> date:
    """The twin's recording date of a subject's session: ten days apart, subjects a month apart."""
    return TWIN_FIRST_DATE + timedelta(days=30 * (subject - 1) + 10 * (session - 1))


def write_twin(
    root: Path,
    *,
    n_subjects: int = 3,
    seconds: tuple[float, float] = TWIN_SECONDS,
    seed: int = 0,
    effect: float = 1.0,
    subject_shift: float = 0.0,
) -> list[Path]:
    """Write a synthetic SEED-IV into ``root`` (module docstring); returns the EEG files written.

    Deterministic: the same arguments give the same bytes. ``seconds`` bounds the clips' lengths
    (at least 4 s, one feature window); ``effect`` scales the planted class effect (0: none);
    ``subject_shift`` is the sd of each subject's shift of its clips' band amplitudes
    (:func:`bench.data.synthetic.shift_stimulus`; 0: none, and the files of before it existed)."""
    if not 1 <= int(n_subjects) <= N_SUBJECTS:
        raise DataError(f"n_subjects={n_subjects!r}: expected 1-{N_SUBJECTS}")
    if float(seconds[0]) < WINDOW_S:
        raise DataError(f"twin trial seconds {seconds!r}: expected at least {WINDOW_S:g} s (one window)")
    root = open_twin_folder(Path(root), f"{EEG_FOLDER}/*/*.mat")
    lengths = {k: twin_lengths_of(seed, k, seconds) for k in SESSION_LABELS}
    written = []
    for subject in range(1, int(n_subjects) + 1):
        rng = twin_rng(_TWIN_TAG, seed, subject)
        prefix = TWIN_PREFIXES[subject - 1]
        for session, classes in SESSION_LABELS.items():
            trials = twin_signals(
                rng,
                classes,
                lengths[session],
                effect,
                subject_shift=subject_shift,
                seed=seed,
                subject=subject,
            )
            name = f"{subject}_{twin_date(subject, session):%Y%m%d}.mat"
            eeg_path = root / EEG_FOLDER / str(session) / name
            feat_path = root / FEATURE_FOLDER / str(session) / name
            eeg_path.parent.mkdir(parents=True, exist_ok=True)
            feat_path.parent.mkdir(parents=True, exist_ok=True)
            save_mat(
                eeg_path, matlab_order({f"{prefix}_eeg{n}": x for n, x in enumerate(trials, 1)}), format="5"
            )
            save_mat(feat_path, feature_variables(trials), format="5")
            written.append(eeg_path)
    config = {
        "n_subjects": int(n_subjects),
        "seconds": list(seconds),
        "seed": int(seed),
        "effect": float(effect),
        **({"subject_shift": float(subject_shift)} if subject_shift else {}),  # 0: the marker of before
    }
    finish_twin(root, DATASET, "SEED-IV", config, CLASSES)
    return written
