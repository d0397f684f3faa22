"""SEED (Zheng & Lu, IEEE TAMD 2015; Duan et al., NER 2013): 15 subjects x 3 sessions x 15 film clips,
62-channel EEG at 200 Hz, three emotions.

Layout read
-----------
As TorchEEG's and LibEER's SEED readers index it and the SEED web pages describe it (see
:mod:`bench.data.categorical.seed_common` for what SEED-IV shares):

* ``Preprocessed_EEG/`` holds 45 MATLAB v5 files ``{subject}_{yyyymmdd}.mat`` (subjects 1-15, three
  recording dates each; a subject's sessions 1-3 are its files in date order) plus ``label.mat`` and
  ``readme.txt``. Each subject file holds 15 variables ``{prefix}_eeg1`` .. ``{prefix}_eeg15``, one per
  film clip, 62 x T float64 microvolts at 200 Hz (downsampled, 0-75 Hz filtered by the authors), rows in
  :data:`~bench.data.categorical.seed_common.CHANNELS` order. T in the real files is
  :data:`REAL_SAMPLES` (200 s + 1 sample a minute or so, clip by clip). The prefix is the subject's
  initials (public readers list :data:`PREFIXES`; only ``jl``, subject 2, is confirmed), so the reader
  finds the variables by their ``_eeg<N>`` suffix, requires one prefix and N = 1..15, and sorts by N.
* ``label.mat``: variable ``label``, 1 x 15, the clips' emotions in trial order, :data:`LABELS` =
  1 positive, 0 neutral, -1 negative. The reader maps them to class indices ``label + 1``: **0 negative,
  1 neutral, 2 positive** (:data:`CLASSES`), label set ``emotion``.
* ``ExtractedFeatures/`` holds the same 45 file names plus ``label.mat``; per trial N, 12 variables
  ``{name}_movingAve{N}`` and ``{name}_LDS{N}`` for name in de, psd (62 channels), dasm, rasm (27
  left-right pairs), asm (54: dasm then rasm), dcau (23 frontal-posterior pairs), each (C, W, 5): W
  one-second windows (:data:`REAL_WINDOWS` in the real files), the five bands delta, theta, alpha, beta,
  gamma. :func:`read_features` reads ``de`` or ``psd``, either smoothing.

Every file is read with ``scipy.io.loadmat`` (which runs no code), every value is checked (type, shape,
62 channels, finite, 15 trials, labels in -1/0/1) and every problem is a one-line
:class:`~bench.core.errors.DataError` naming the file; nothing is returned from a bad file. Trials come
back float32 (the files' float64 rounded), in trial order, ``trial_ids`` 1..15.

The synthetic twin
------------------
:func:`write_twin` writes both folders with the real names: file names with dates, the per-subject
prefixes of :data:`PREFIXES`, variables in MATLAB's name order, ``label.mat`` (the real :data:`LABELS`)
in both folders, a ``readme.txt`` saying it is synthetic, and ``SYNTHETIC.json`` at the root. Trials are
short (``seconds``, drawn once per clip position so every subject and session shares them, like the
films). The signals and the planted class effect come from
:func:`~bench.data.categorical.seed_common.twin_signals`: alpha power at the 14 frontal channels is
multiplied by ``exp(effect * class index)``, so negative < neutral < positive. The feature files are
computed from the twin's own signals (:func:`~bench.data.categorical.seed_common.band_features` over
1-s windows, then each smoothing); dasm/rasm/asm/dcau are computed from the smoothed DE over
:data:`DASM_PAIRS` and :data:`DCAU_PAIRS`, pairs the twin chose itself, as the real pair lists are not
documented publicly.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from bench.core.errors import DataError
from bench.data.categorical.recording import SessionRecording
from bench.data.categorical.seed_common import (
    CHANNELS,
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
from bench.data.safeload import describe_mat_value, load_mat
from bench.data.synthetic import open_twin_folder

__all__ = ["PublishedFeatures", "find_feature_sessions", "find_sessions", "read_features", "read_labels",
           "read_session", "write_twin"]  # fmt: skip

DATASET = "seed"
N_SUBJECTS = 15
N_SESSIONS = 3
N_TRIALS = 15
EEG_FOLDER = "Preprocessed_EEG"
FEATURE_FOLDER = "ExtractedFeatures"
LABEL_FILE = "label.mat"
LABEL_VARIABLE = "label"
LABEL_SET = "emotion"
CLASSES: tuple[str, ...] = ("negative", "neutral", "positive")
"""Class index -> emotion (index = SEED's label + 1)."""
LABELS: tuple[int, ...] = (1, 0, -1, -1, 0, 1, -1, 0, 1, 1, 0, -1, 0, 1, -1)
"""``label.mat`` of the release: each clip's emotion in SEED's coding (1 positive, 0 neutral, -1 negative)."""
WINDOW_S = 1.0
"""Seconds per window of the published features."""
PREFIXES: tuple[str, ...] = (
    "djc", "jl", "jj", "lqj", "ly", "mhw", "phl", "sxy", "wk", "ww", "wsf", "wyw", "xyl", "ys", "zjy",
)  # fmt: skip
"""Variable prefixes of subjects 1-15 as public readers list them (only ``jl`` confirmed); the twin uses
them, the reader does not rely on them."""
REAL_SAMPLES: tuple[int, ...] = (
    47001, 46601, 41201, 47601, 37001, 39001, 47401, 43201, 53001, 47401, 47001, 46601, 47001, 47601, 41201,
)  # fmt: skip
"""Samples per clip in the real files (not checked: the twin's are shorter)."""
REAL_WINDOWS: tuple[int, ...] = (235, 233, 206, 238, 185, 195, 237, 216, 265, 237, 235, 233, 235, 238, 206)
"""One-second windows per clip in the real feature files."""

_LR = (
    ("FP1", "FP2"), ("AF3", "AF4"), ("F7", "F8"), ("F5", "F6"), ("F3", "F4"), ("F1", "F2"), ("FT7", "FT8"),
    ("FC5", "FC6"), ("FC3", "FC4"), ("FC1", "FC2"), ("T7", "T8"), ("C5", "C6"), ("C3", "C4"), ("C1", "C2"),
    ("TP7", "TP8"), ("CP5", "CP6"), ("CP3", "CP4"), ("CP1", "CP2"), ("P7", "P8"), ("P5", "P6"), ("P3", "P4"),
    ("P1", "P2"), ("PO7", "PO8"), ("PO5", "PO6"), ("PO3", "PO4"), ("CB1", "CB2"), ("O1", "O2"),
)  # fmt: skip
_FP = (
    ("FT7", "TP7"), ("FC5", "CP5"), ("FC3", "CP3"), ("FC1", "CP1"), ("FCZ", "CPZ"), ("FC2", "CP2"),
    ("FC4", "CP4"), ("FC6", "CP6"), ("FT8", "TP8"), ("F7", "P7"), ("F5", "P5"), ("F3", "P3"), ("F1", "P1"),
    ("FZ", "PZ"), ("F2", "P2"), ("F4", "P4"), ("F6", "P6"), ("F8", "P8"), ("FP1", "O1"), ("FPZ", "OZ"),
    ("FP2", "O2"), ("AF3", "CB1"), ("AF4", "CB2"),
)  # fmt: skip
DASM_PAIRS: tuple[tuple[str, str], ...] = _LR
"""The twin's 27 (left, right) pairs of dasm / rasm."""
DCAU_PAIRS: tuple[tuple[str, str], ...] = _FP
"""The twin's 23 (frontal, posterior) pairs of dcau."""

_TWIN_TAG = 2015  # the twin's generators are keyed (tag, seed, subject): no other twin shares draws
TWIN_SECONDS = (20.0, 40.0)
TWIN_FIRST_DATE = date(2013, 10, 1)


# ------------------------------------------------------------------------------------------ find
def _folder(root: Path, name: str) -> Path:
    """``root/name``, or ``root`` itself when it is that folder."""
    root = Path(root).expanduser()
    if (root / name).is_dir():
        return root / name
    if root.name == name and root.is_dir():
        return root
    raise DataError(f"{root}: no {name} folder (expected the SEED folder holding {name}/)")


def _sessions(folder: Path) -> list[tuple[int, int, Path]]:
    found = scan_folder(folder, N_SUBJECTS, skip=(LABEL_FILE,))
    out = []
    for subject, files in sorted(found.items()):
        files.sort()
        for a, b in zip(files, files[1:], strict=False):
            if a[0] == b[0]:
                raise DataError(f"{b[1]}: a second file of subject {subject} dated {b[0]} (also {a[1].name})")
        if len(files) != N_SESSIONS:
            raise DataError(
                f"{folder}: subject {subject} has {len(files)} session file(s) "
                f"({', '.join(p.name for _, p in files)}), expected {N_SESSIONS}"
            )
        out.extend((subject, k + 1, path) for k, (_, path) in enumerate(files))
    return out


def find_sessions(root: Path) -> list[tuple[int, int, Path]]:
    """``[(subject, session, file), ...]`` of ``Preprocessed_EEG/``, by subject then session (date order).

    ``root`` is the SEED folder (or ``Preprocessed_EEG`` itself). A file name that does not parse, a
    subject outside 1-15, a subject without exactly three dates, two files of one date: DataError."""
    return _sessions(_folder(root, EEG_FOLDER))


def find_feature_sessions(root: Path) -> list[tuple[int, int, Path]]:
    """As :func:`find_sessions`, for ``ExtractedFeatures/``."""
    return _sessions(_folder(root, FEATURE_FOLDER))


# ------------------------------------------------------------------------------------------ read
def read_labels(folder: Path) -> np.ndarray:
    """``folder/label.mat`` as class indices (15,), int64: 0 negative, 1 neutral, 2 positive."""
    path = Path(folder) / LABEL_FILE
    mat = load_mat(path)
    if LABEL_VARIABLE not in mat:
        raise DataError(
            f"{path}: no variable {LABEL_VARIABLE!r} (found {', '.join(mat_keys(mat)) or 'none'})"
        )
    value = mat[LABEL_VARIABLE]
    if type(value) is not np.ndarray or value.dtype.kind not in "iuf":
        raise DataError(
            f"{path}: {LABEL_VARIABLE} is {describe_mat_value(value)}, expected 1x{N_TRIALS} numbers"
        )
    if value.shape != (1, N_TRIALS):
        raise DataError(f"{path}: {LABEL_VARIABLE} has shape {value.shape}, expected (1, {N_TRIALS})")
    row = value[0]
    bad = ~np.isin(row, (-1, 0, 1))
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(f"{path}: label of trial {i + 1} is {row[i]}, expected -1, 0 or 1")
    return row.astype(np.int64) + 1


def _check_subject(path: Path, subject: int) -> None:
    named, _ = parse_file_name(path)
    if named != subject:
        raise DataError(f"{path}: the file name says subject {named}, asked for subject {subject}")


def read_session(path: Path, subject: int, session: int) -> SessionRecording:
    """One subject file of ``Preprocessed_EEG/``: 15 trials (62, T_i) float32 uV at 200 Hz, labels from
    the folder's ``label.mat`` (module docstring)."""
    path = Path(path)
    _check_subject(path, subject)
    labels = read_labels(path.parent)
    mat = load_mat(path)
    keys = trial_keys(mat_keys(mat), N_TRIALS, path)
    eeg = tuple(check_trial(mat[k], path, k) for k in keys)
    return SessionRecording(
        dataset=DATASET, subject=subject, session=session, eeg=eeg, sfreq=SFREQ, channels=CHANNELS,
        labels={LABEL_SET: labels}, trial_ids=tuple(range(1, N_TRIALS + 1)), source=str(path),
    )  # fmt: skip


def read_features(
    path: Path, subject: int, session: int, *, kind: str = "de", smoothing: str = "LDS"
) -> PublishedFeatures:
    """One subject file of ``ExtractedFeatures/``: ``{kind}_{smoothing}1..15`` as (W_i, 62, 5) float32,
    with the folder's ``label.mat``."""
    path = Path(path)
    keys = feature_keys(kind, smoothing, N_TRIALS)
    _check_subject(path, subject)
    labels = read_labels(path.parent)
    mat = load_mat(path, keys)
    missing = [k for k in keys if k not in mat]
    if missing:
        raise DataError(f"{path}: no variable(s) {', '.join(missing)}")
    feats = tuple(check_features(mat[k], path, k) for k in keys)
    return PublishedFeatures(
        dataset=DATASET, subject=subject, session=session, kind=kind, smoothing=smoothing, features=feats,
        window_s=WINDOW_S, labels={LABEL_SET: labels}, trial_ids=tuple(range(1, N_TRIALS + 1)),
        source=str(path),
    )  # fmt: skip


# ------------------------------------------------------------------------------------------ twin
def _index(pairs: Sequence[tuple[str, str]]) -> tuple[list[int], list[int]]:
    return [CHANNELS.index(a) for a, _ in pairs], [CHANNELS.index(b) for _, b in pairs]


def feature_variables(trials: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
    """The 12 published-feature variables per trial of the twin, computed from its signals."""
    left, right = _index(DASM_PAIRS)
    front, back = _index(DCAU_PAIRS)
    out: dict[str, np.ndarray] = {}
    for n, x in enumerate(trials, start=1):
        de, psd = band_features(x, WINDOW_S)
        for s in SMOOTHINGS:
            d = smoothed(de, s)
            dasm, rasm = d[left] - d[right], d[left] / d[right]
            out[f"de_{s}{n}"], out[f"psd_{s}{n}"] = d, smoothed(psd, s)
            out[f"dasm_{s}{n}"], out[f"rasm_{s}{n}"] = dasm, rasm
            out[f"asm_{s}{n}"] = np.concatenate([dasm, rasm])
            out[f"dcau_{s}{n}"] = d[front] - d[back]
    return matlab_order(out)


def twin_dates(subject: int) -> tuple[date, ...]:
    """The twin's three recording dates of a subject: a week or so apart, subjects a month apart."""
    first = TWIN_FIRST_DATE + timedelta(days=30 * (subject - 1))
    return tuple(first + timedelta(days=d) for d in (0, 7, 15))


def write_twin(
    root: Path,
    *,
    n_subjects: int = 3,
    seconds: tuple[float, float] = TWIN_SECONDS,
    seed: int = 0,
    effect: float = 1.0,
    subject_shift: float = 0.0,
    recorded: dict[str, object] | None = None,
) -> list[Path]:
    """Write a synthetic SEED into ``root`` (module docstring); returns the EEG files written.

    Deterministic: the same arguments give the same bytes. ``seconds`` bounds the clips' lengths;
    ``effect`` scales the planted class effect (0: none); ``subject_shift`` is the sd of each subject's
    shift of its clips' band amplitudes (:func:`bench.data.synthetic.shift_stimulus`; 0: none, and the
    files of before it existed); ``recorded`` is the harness's config of the twin, recorded in
    ``SYNTHETIC.json`` (:func:`~bench.data.categorical.seed_common.finish_twin`)."""
    if not 1 <= int(n_subjects) <= N_SUBJECTS:
        raise DataError(f"n_subjects={n_subjects!r}: expected 1-{N_SUBJECTS}")
    root = open_twin_folder(Path(root), f"{EEG_FOLDER}/*.mat")
    eeg_dir, feat_dir = root / EEG_FOLDER, root / FEATURE_FOLDER
    eeg_dir.mkdir(exist_ok=True)
    feat_dir.mkdir(exist_ok=True)
    lengths = twin_lengths(twin_rng(_TWIN_TAG, seed, 0), N_TRIALS, seconds)
    classes = [lab + 1 for lab in LABELS]
    label = {LABEL_VARIABLE: np.array([LABELS], dtype=np.float64)}
    save_mat(eeg_dir / LABEL_FILE, label, format="5")
    save_mat(feat_dir / LABEL_FILE, label, format="5")
    (eeg_dir / "readme.txt").write_text(
        "Synthetic twin of SEED's Preprocessed_EEG written by deap-bench: not SEED. Files "
        "{subject}_{yyyymmdd}.mat hold {prefix}_eeg1..15 (62 x samples, 200 Hz, uV); label.mat: 1 positive, "
        "0 neutral, -1 negative.\n"
    )
    written = []
    for subject in range(1, int(n_subjects) + 1):
        rng = twin_rng(_TWIN_TAG, seed, subject)
        for day in twin_dates(subject):
            trials = twin_signals(
                rng, classes, lengths, effect, subject_shift=subject_shift, seed=seed, subject=subject
            )
            name = f"{subject}_{day:%Y%m%d}.mat"
            prefix = PREFIXES[subject - 1]
            save_mat(eeg_dir / name, matlab_order({f"{prefix}_eeg{n}": x for n, x in enumerate(trials, 1)}),
                     format="5")  # fmt: skip
            save_mat(feat_dir / name, feature_variables(trials), format="5")
            written.append(eeg_dir / name)
    config = {
        "n_subjects": int(n_subjects),
        "seconds": list(seconds),
        "seed": int(seed),
        "effect": float(effect),
        **({"subject_shift": float(subject_shift)} if subject_shift else {}),  # 0: the marker of before
    }
    finish_twin(root, DATASET, "SEED", config, CLASSES, recorded)
    return written
