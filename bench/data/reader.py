"""Reading DEAP's preprocessed files safely.

DEAP ships ``data_preprocessed_python/sXX.dat`` (Python 2 pickles of a dict with ``data`` (trials, 40
channels, 8064 samples) and ``labels`` (trials, 4)) and ``data_preprocessed_matlab/sXX.mat`` (the same
arrays). A pickle can run arbitrary code when loaded, so pickles are read with a restricted unpickler
that only builds what a DEAP file contains: numpy arrays, dtypes and scalars, dicts, lists, strings and
numbers. Everything is validated, and every problem is a one-line :class:`~bench.errors.DataError`
naming the file.
"""

from __future__ import annotations

import io
import pickle
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.data.channels import ALL_CHANNELS, EEG_CHANNELS, SFREQ
from bench.errors import DataError

N_SAMPLES = 8064
"""Samples per trial in DEAP's preprocessed data: 63 s at 128 Hz (3 s baseline + 60 s)."""
BASELINE_SAMPLES = 384
"""The first 3 s of each trial are the pre-trial baseline."""
RATING_NAMES: tuple[str, ...] = ("valence", "arousal", "dominance", "liking")
SUBJECT_RE = re.compile(r"^s(\d{2})\.(dat|mat)$")


# The only globals a DEAP pickle needs (numpy moved `core` to `_core` in 2.0; Python 2 pickles name
# `copy_reg`, Python 3 pickles of bytes name `_codecs.encode`).
def _safe_globals() -> dict[tuple[str, str], object]:
    import codecs
    import copyreg

    from numpy._core import multiarray as ma  # numpy >= 2
    from numpy._core import numeric

    table: dict[tuple[str, str], object] = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): codecs.encode,
        ("copy_reg", "_reconstructor"): copyreg._reconstructor,
        ("copyreg", "_reconstructor"): copyreg._reconstructor,
    }
    for mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
        table[(mod, "_reconstruct")] = ma._reconstruct
        table[(mod, "scalar")] = ma.scalar
    for mod in ("numpy.core.numeric", "numpy._core.numeric"):  # pickle protocol 5 buffers
        table[(mod, "_frombuffer")] = numeric._frombuffer
    for mod in ("__builtin__", "builtins"):
        for name, obj in (("object", object), ("dict", dict), ("list", list), ("tuple", tuple)):
            table[(mod, name)] = obj
    return table


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that refuses every global outside a DEAP file's vocabulary."""

    _allowed = _safe_globals()

    def find_class(self, module: str, name: str) -> object:
        obj = self._allowed.get((module, name))
        if obj is None:
            raise pickle.UnpicklingError(f"refused to load '{module}.{name}' (not part of a DEAP file)")
        return obj


def safe_load_pickle(path: Path) -> object:
    """Load a pickle allowing only numpy arrays and plain containers; never runs foreign code."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        return _RestrictedUnpickler(io.BytesIO(raw), encoding="latin1").load()
    except pickle.UnpicklingError as exc:
        msg = str(exc)
        if msg.startswith("refused"):
            raise DataError(f"{path}: unsafe pickle, {msg}") from None
        raise DataError(f"{path}: not a valid pickle ({msg})") from None
    except (EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError, MemoryError) as exc:
        raise DataError(f"{path}: truncated or not a DEAP pickle ({type(exc).__name__}: {exc})") from None


def _load_mat(path: Path) -> dict:
    from scipy.io import loadmat

    try:
        return loadmat(path, variable_names=("data", "labels"))
    except Exception as exc:  # scipy raises many types for corrupt files
        raise DataError(f"{path}: not a readable MATLAB file ({type(exc).__name__}: {exc})") from None


@dataclass(frozen=True)
class SubjectRecording:
    """One DEAP subject's EEG and ratings.

    Attributes
    ----------
    subject : int
        DEAP subject number (1-32).
    eeg : array, shape (n_trials, 32, 8064)
        EEG in microvolts, channels in :data:`EEG_CHANNELS` order, 3 s baseline then 60 s trial.
    ratings : array, shape (n_trials, 4)
        Self-ratings 1-9: valence, arousal, dominance, liking.
    """

    subject: int
    eeg: np.ndarray
    ratings: np.ndarray
    path: Path
    sfreq: float = SFREQ
    channel_names: tuple[str, ...] = EEG_CHANNELS

    @property
    def n_trials(self) -> int:
        return int(self.eeg.shape[0])


def subject_number(path: Path) -> int:
    """Subject number from a DEAP file name (``s07.dat`` -> 7)."""
    m = SUBJECT_RE.match(path.name)
    if m is None:
        raise DataError(f"{path}: not a DEAP subject file name (expected sXX.dat or sXX.mat)")
    return int(m.group(1))


def first_non_finite(values: np.ndarray) -> tuple[int, ...] | None:
    """Index of the first NaN/inf in ``values``, or None (a cheap all-finite check first)."""
    if np.isfinite(values).all():
        return None
    return tuple(int(i) for i in np.argwhere(~np.isfinite(values))[0])


def validate_ratings(labels: np.ndarray, where: object) -> np.ndarray:
    """Ratings as float64 (trials, 4), all numbers within 1-9, or a one-line DataError naming ``where``.

    Used on read and again when the feature cache hands ratings back, so both refuse the same values.
    """
    if not isinstance(labels, np.ndarray) or labels.dtype.kind not in "iuf":  # ints, unsigned, floats
        got = labels.dtype if isinstance(labels, np.ndarray) else type(labels).__name__
        raise DataError(f"{where}: ratings ('labels') must be numbers, got {got}")
    if labels.ndim != 2 or labels.shape[1] != len(RATING_NAMES):
        raise DataError(f"{where}: ratings have shape {labels.shape}, expected (trials, {len(RATING_NAMES)})")
    labels = labels.astype(np.float64)
    if not np.isfinite(labels).all() or labels.min() < 1 or labels.max() > 9:
        bad = np.argwhere(~np.isfinite(labels) | (labels < 1) | (labels > 9))[0]
        raise DataError(
            f"{where}: rating {RATING_NAMES[bad[1]]} of trial {bad[0]} is {labels[tuple(bad)]}, outside 1-9"
        )
    return labels


def validate_arrays(data: object, labels: object, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Check a DEAP subject's arrays; return (data, labels) as float arrays or raise DataError."""
    if not isinstance(data, np.ndarray) or not isinstance(labels, np.ndarray):
        raise DataError(f"{path}: 'data' and 'labels' must be numpy arrays")
    if data.ndim != 3 or data.shape[1] != len(ALL_CHANNELS) or data.shape[2] != N_SAMPLES or not len(data):
        raise DataError(
            f"{path}: 'data' has shape {data.shape}, expected (trials, {len(ALL_CHANNELS)}, {N_SAMPLES})"
        )
    if labels.shape != (data.shape[0], len(RATING_NAMES)):
        raise DataError(f"{path}: 'labels' has shape {labels.shape}, expected ({data.shape[0]}, 4)")
    if not np.issubdtype(data.dtype, np.floating):
        raise DataError(f"{path}: 'data' must be floating point, got {data.dtype}")
    eeg = data[:, : len(EEG_CHANNELS)]
    bad = first_non_finite(eeg)
    if bad is not None:
        raise DataError(
            f"{path}: non-finite EEG value at trial {bad[0]}, channel {EEG_CHANNELS[bad[1]]}, sample {bad[2]}"
        )
    labels = validate_ratings(labels, path)
    return eeg, labels


def read_subject(path: str | Path) -> SubjectRecording:
    """Read and validate one ``sXX.dat`` (pickle) or ``sXX.mat`` (MATLAB) file."""
    path = Path(path)
    subject = subject_number(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    obj = _load_mat(path) if path.suffix == ".mat" else safe_load_pickle(path)
    if not isinstance(obj, dict):
        raise DataError(f"{path}: expected a dict with keys 'data' and 'labels', got {type(obj).__name__}")
    missing = [k for k in ("data", "labels") if k not in obj]
    if missing:
        raise DataError(f"{path}: missing key(s) {', '.join(map(repr, missing))} (found {sorted(obj)})")
    eeg, ratings = validate_arrays(obj["data"], obj["labels"], path)
    return SubjectRecording(subject=subject, eeg=eeg, ratings=ratings, path=path)


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
