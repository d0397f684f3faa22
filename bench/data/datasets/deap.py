"""DEAP (Koelstra et al., IEEE TAC 2012): the dataset the paper uses, and the harness's default.

Layout read
-----------
``data_preprocessed_python/sXX.dat`` (Python 2 pickles of a dict with ``data`` (trials, 40 channels,
8064 samples) and ``labels`` (trials, 4)) or ``data_preprocessed_matlab/sXX.mat`` (the same arrays); the
folder holding them or DEAP's top folder may be given. 32 subjects x 40 one-minute music-video trials;
channels 0-31 are EEG (``EEG_CHANNELS`` of :mod:`~bench.data.datasets.deap_format`, the Geneva order),
32-39 peripheral. Preprocessed: 128 Hz,
EOG removed, 4-45 Hz band-pass, common average reference; each trial is a 3 s pre-trial baseline then
60 s of the video. Ratings 1-9: valence, arousal, dominance, liking.

Pickles are read with the restricted unpickler of :mod:`bench.data.safeload`; everything is validated,
and every problem is a one-line :class:`~bench.core.errors.DataError` naming the file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from bench.core.errors import DataError
from bench.data.datasets import Dataset, SubjectRecording, register_dataset
from bench.data.datasets.deap_format import (
    ALL_CHANNELS,
    BASELINE_SAMPLES,
    EEG_CHANNELS,
    N_SAMPLES,
    PERIPHERAL_CHANNELS,
    RATING_NAMES,
    SCALE,
    SFREQ,
)
from bench.data.safeload import check_eeg, check_ratings, describe_mat_value, load_mat, safe_load_pickle
from bench.data.synthetic import write_synthetic_deap

SUBJECT_RE = re.compile(r"^s(\d{2})\.(dat|mat)$")


def subject_number(path: Path) -> int:
    """Subject number from a DEAP file name (``s07.dat`` -> 7)."""
    m = SUBJECT_RE.match(path.name)
    if m is None:
        raise DataError(f"{path}: not a DEAP subject file name (expected sXX.dat or sXX.mat)")
    return int(m.group(1))


def validate_ratings(labels: np.ndarray, where: object) -> np.ndarray:
    """Ratings as float64 (trials, 4), all numbers within 1-9, or a one-line DataError naming ``where``."""
    return check_ratings(labels, where, RATING_NAMES, SCALE)


def _what(value: object, path: Path) -> str:
    """What a value is, in words: MATLAB's for a ``.mat`` (``a 1x1 cell``, ``a 1x1 struct``, ``a string``),
    else numpy's (``an array of dtype object, shape (1, 1)``) or the Python type's."""
    if path.suffix == ".mat":
        return describe_mat_value(value)
    if isinstance(value, np.ndarray):
        dtype = "structured" if value.dtype.names is not None else value.dtype
        return f"an array of dtype {dtype}, shape {value.shape}"
    return f"a {type(value).__name__}"


def validate_arrays(data: object, labels: object, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Check a DEAP subject's arrays; return (data, labels) as float arrays or raise DataError."""
    for name, value in (("data", data), ("labels", labels)):
        numbers = isinstance(value, np.ndarray) and value.dtype.names is None and value.dtype.kind in "iuf"
        if not numbers:
            raise DataError(f"{path}: '{name}' must be an array of numbers, got {_what(value, path)}")
    if data.ndim != 3 or data.shape[1] != len(ALL_CHANNELS) or data.shape[2] != N_SAMPLES or not len(data):
        raise DataError(
            f"{path}: 'data' has shape {data.shape}, expected (trials, {len(ALL_CHANNELS)}, {N_SAMPLES})"
        )
    if labels.shape != (data.shape[0], len(RATING_NAMES)):
        raise DataError(f"{path}: 'labels' has shape {labels.shape}, expected ({data.shape[0]}, 4)")
    if not np.issubdtype(data.dtype, np.floating):
        raise DataError(f"{path}: 'data' must be floating point, got {data.dtype}")
    eeg = check_eeg(data[:, : len(EEG_CHANNELS)], path, EEG_CHANNELS)
    labels = validate_ratings(labels, path)
    return eeg, labels


def read_subject(path: str | Path) -> SubjectRecording:
    """Read and validate one ``sXX.dat`` (pickle) or ``sXX.mat`` (MATLAB) file."""
    path = Path(path)
    subject = subject_number(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    obj = load_mat(path, ("data", "labels")) if path.suffix == ".mat" else safe_load_pickle(path)
    if not isinstance(obj, dict):
        raise DataError(f"{path}: expected a dict with keys 'data' and 'labels', got {type(obj).__name__}")
    missing = [k for k in ("data", "labels") if k not in obj]
    if missing:
        raise DataError(f"{path}: missing key(s) {', '.join(map(repr, missing))} (found {sorted(obj)})")
    eeg, ratings = validate_arrays(obj["data"], obj["labels"], path)
    # a view of the file's array, as the EEG is: no copy, and checked finite like the EEG
    peripheral = check_eeg(obj["data"][:, len(EEG_CHANNELS) :], path, PERIPHERAL_CHANNELS, what="peripheral")
    return SubjectRecording(
        subject=subject, eeg=eeg, ratings=ratings, path=path, sfreq=SFREQ, channel_names=EEG_CHANNELS,
        peripheral=peripheral, peripheral_names=PERIPHERAL_CHANNELS,
    )  # fmt: skip


def find_subject_files(root: str | Path, subjects: Iterable[int] | None = None) -> dict[int, Path]:
    """Locate DEAP subject files under ``root``.

    ``root`` may be the folder holding ``sXX.dat``/``sXX.mat`` files or DEAP's top folder holding
    ``data_preprocessed_python/`` (preferred) or ``data_preprocessed_matlab/``.

    Returns ``{subject number: path}`` for the requested subjects (all found ones if ``None``).
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataError(f"{root}: DEAP folder not found")
    candidates = [root, root / "data_preprocessed_python", root / "data_preprocessed_matlab"]
    found: dict[int, Path] = {}
    for folder in candidates:
        if not folder.is_dir():
            continue
        for p in sorted(folder.iterdir()):
            m = SUBJECT_RE.match(p.name)
            if m and p.is_file():
                found.setdefault(int(m.group(1)), p)
        if found:
            break
    if not found:
        raise DataError(f"{root}: no DEAP subject files (sXX.dat or sXX.mat) found")
    if subjects is None:
        return dict(sorted(found.items()))
    wanted = sorted(set(subjects))
    missing = [s for s in wanted if s not in found]
    if missing:
        first = next(iter(found.values()))  # name the files where the others are, as the others are named
        names = ", ".join(str(first.with_name(f"s{s:02d}{first.suffix}")) for s in missing)
        raise DataError(f"missing subject file(s) {names} (subject(s) {', '.join(map(str, missing))})")
    return {s: found[s] for s in wanted}


def _find(root: Path, subjects: Iterable[int] | None) -> dict[int, tuple[Path, ...]]:
    return {s: (p,) for s, p in find_subject_files(root, subjects).items()}


def _read(files: tuple[Path, ...], subject: int) -> SubjectRecording:
    """The registry's reader: one ``sXX.dat``/``sXX.mat`` (the cache checks the subject number)."""
    return read_subject(files[0])


DEAP = register_dataset(
    Dataset(
        name="deap",
        title="DEAP",
        citation="Koelstra et al., DEAP: a database for emotion analysis using physiological signals, "
        "IEEE Trans. Affective Computing 3(1), 2012",
        channels=EEG_CHANNELS,
        sfreq=SFREQ,
        baseline_s=BASELINE_SAMPLES / SFREQ,
        trial_s=(N_SAMPLES - BASELINE_SAMPLES) / SFREQ,
        rating_names=RATING_NAMES,
        scale=SCALE,
        threshold=5.0,
        n_subjects=32,
        n_trials=40,
        env="DEAP_DIR",
        layout="sXX.dat (data_preprocessed_python) or sXX.mat (data_preprocessed_matlab), one per subject",
        find=_find,
        read=_read,
        write_synthetic=write_synthetic_deap,
        peripheral=PERIPHERAL_CHANNELS,
        baseline_where="before the video (DEAP's pre-trial baseline)",
    )
)
