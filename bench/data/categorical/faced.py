"""FACED (Chen et al., Scientific Data 2023; Tsinghua): 123 subjects x 28 film clips, nine emotions,
32-channel EEG; the release's preprocessed data.

Layout read
-----------
As TorchEEG's ``FACEDDataset``/``FACEDFeatureDataset`` and CBraMod's ``preprocessing_faced.py`` read the
release (``root`` may be the release's top folder or ``Processed_data`` itself)::

    Processed_data/sub000.pkl ... sub122.pkl       one pickled numpy array per subject
    EEG_Features/DE/sub000.pkl.pkl ...             published features, same subjects
    EEG_Features/PSD/sub000.pkl.pkl ...

Each ``subNNN.pkl`` is a pickle (loaded with ``encoding="latin1"``, as the public readers load it with
iso-8859-1) of one float array (28 clips, 32 channels, 7500 samples): 30 s per clip at 250 Hz, in
microvolts. The clip length is taken from the file (the twin writes shorter clips). ``subNNN`` is
subject ``NNN + 1`` (:class:`~bench.data.categorical.recording.SessionRecording` numbers from 1); FACED
has one session.

Channels (:data:`CHANNELS`): FP1 FP2 FZ F3 F4 F7 F8 FC1 FC2 FC5 FC6 CZ C3 C4 T7 T8 CP1 CP2 CP5 CP6 PZ P3 P4
P7 P8 PO3 PO4 OZ O1 O2, then the mastoids A2, A1. Sources disagree on where A1/A2 sit: TorchEEG says the
first batch of recordings had A1, A2 after T7/T8 (with T3/T4/T5/T6 names) and the second batch, whose
order the processed files follow, has them last as A2, A1; other readers list A1, A2 after T7, T8 for
the processed files too. The files carry no names, so the order is this documented assumption. All 32
rows are returned by default; ``drop_mastoids=True`` returns the 30 scalp channels.

Labels by clip (:data:`EMOTION`, :data:`VALENCE`): label set ``emotion``, 9 classes, clips 1-3 anger
(0), 4-6 disgust (1), 7-9 fear (2), 10-12 sadness (3), 13-16 neutral (4), 17-19 amusement (5), 20-22
inspiration (6), 23-25 joy (7), 26-28 tenderness (8); label set ``valence``, clips 1-12 negative (0),
13-16 neutral (1), 17-28 positive (2).

The published features (``EEG_Features/{DE,PSD}/subNNN.pkl.pkl``) are pickled arrays (28 clips, 32
channels, 30 one-second windows, 5 bands); :func:`read_features` takes the window count from the file.

Pickles are read with the restricted unpickler of :mod:`bench.data.safeload` (a pickle that would build
anything other than arrays and plain containers is refused); every problem - a missing folder or file,
a name that does not parse, a duplicate, a wrong shape, a non-number or non-finite value - is a one-line
:class:`~bench.core.errors.DataError` naming the file.

The synthetic twin (:func:`write_twin`) writes the same layout with a planted effect
(:data:`PLANTED_BAND`, :data:`PLANTED_CHANNELS`, :data:`PLANTED_GAIN`).
"""

from __future__ import annotations

import json
import pickle
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.core.errors import DataError
from bench.core.files import atomic_write
from bench.data.categorical.recording import SessionRecording
from bench.data.safeload import check_eeg, safe_load_pickle
from bench.data.synthetic import MARKER, shift_stimulus

NAME = "faced"
SCALP_CHANNELS: tuple[str, ...] = (
    "FP1", "FP2", "FZ", "F3", "F4", "F7", "F8", "FC1", "FC2", "FC5", "FC6", "CZ", "C3", "C4", "T7", "T8",
    "CP1", "CP2", "CP5", "CP6", "PZ", "P3", "P4", "P7", "P8", "PO3", "PO4", "OZ", "O1", "O2",
)  # fmt: skip
MASTOIDS: tuple[str, ...] = ("A2", "A1")
CHANNELS = SCALP_CHANNELS + MASTOIDS
"""The 32 rows of a processed file, in order (see the module's docstring on A1/A2)."""
SFREQ = 250.0
CLIP_SAMPLES = 7500
"""Samples per clip in the release (30 s); the reader takes the length from the file."""
N_SUBJECTS = 123
N_CLIPS = 28
EMOTION_NAMES = (
    "anger", "disgust", "fear", "sadness", "neutral", "amusement", "inspiration", "joy", "tenderness",
)  # fmt: skip
EMOTION = (0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 6, 6, 6, 7, 7, 7, 8, 8, 8)
VALENCE_NAMES = ("negative", "neutral", "positive")
VALENCE = (0,) * 12 + (1,) * 4 + (2,) * 12
PROCESSED = "Processed_data"
FEATURES = "EEG_Features"
FEATURE_KINDS = ("DE", "PSD")
N_BANDS = 5
_NAME_RE = re.compile(r"^sub(\d{3})\.pkl$", re.IGNORECASE)
_FEATURE_RE = re.compile(r"^sub(\d{3})\.pkl\.pkl$")


def _subject(path: Path, pattern: re.Pattern[str], expected: str) -> int:
    m = pattern.match(path.name)
    if m is None:
        raise DataError(f"{path}: not a FACED file name (expected {expected})")
    number = int(m.group(1))
    if number >= N_SUBJECTS:
        raise DataError(f"{path}: subject {number} outside sub000-sub{N_SUBJECTS - 1:03d}")
    return number + 1


def find_sessions(root: str | Path) -> dict[int, Path]:
    """Every ``subNNN.pkl`` under ``root`` (or ``root/Processed_data``), keyed by subject (``NNN + 1``).

    A ``.pkl`` whose name does not parse is an error (the folder holds nothing else), as is a subject
    found twice (``sub001.pkl`` and ``SUB001.pkl``); the subjects found need not be contiguous.
    """
    root = Path(root).expanduser()
    folder = root / PROCESSED if (root / PROCESSED).is_dir() else root
    if not folder.is_dir():
        raise DataError(f"{root}: FACED folder not found (expected {PROCESSED}/ with subNNN.pkl)")
    found: dict[int, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() != ".pkl":
            continue
        subject = _subject(path, _NAME_RE, "subNNN.pkl, NNN from 000")
        if subject in found:
            raise DataError(f"{path}: a second file for subject {subject} (also {found[subject].name})")
        found[subject] = path
    if not found:
        raise DataError(f"{folder}: no FACED subject files (subNNN.pkl) found")
    return dict(sorted(found.items()))


def _array(path: Path, shape_text: str) -> np.ndarray:
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    obj = safe_load_pickle(path)
    if not isinstance(obj, np.ndarray) or obj.dtype.names is not None or obj.dtype.kind not in "iuf":
        got = f"an array of dtype {obj.dtype}" if isinstance(obj, np.ndarray) else f"a {type(obj).__name__}"
        raise DataError(f"{path}: expected an array of numbers {shape_text}, got {got}")
    return obj


def read_session(path: str | Path, *, drop_mastoids: bool = False) -> SessionRecording:
    """Read one subject's ``subNNN.pkl``: 28 trials (clips), session 1, float32 microvolts at 250 Hz."""
    path = Path(path)
    subject = _subject(path, _NAME_RE, "subNNN.pkl")
    data = _array(path, f"({N_CLIPS}, {len(CHANNELS)}, samples)")
    if data.ndim != 3 or data.shape[:2] != (N_CLIPS, len(CHANNELS)) or data.shape[2] < 1:
        raise DataError(
            f"{path}: array of shape {data.shape}, expected ({N_CLIPS}, {len(CHANNELS)}, samples)"
        )
    check_eeg(data, path, CHANNELS)
    channels = SCALP_CHANNELS if drop_mastoids else CHANNELS
    eeg = data[:, : len(channels)].astype(np.float32)
    return SessionRecording(
        dataset=NAME, subject=subject, session=1, eeg=tuple(eeg), sfreq=SFREQ, channels=channels,
        labels={"emotion": np.array(EMOTION, dtype=np.int64), "valence": np.array(VALENCE, dtype=np.int64)},
        trial_ids=tuple(range(1, N_CLIPS + 1)), source=str(path),
    )  # fmt: skip


@dataclass(frozen=True)
class Features:
    """One subject's published features: ``values`` (28 clips, 32 channels, windows, 5 bands) float64,
    channels in :data:`CHANNELS` order, with the clips' ``emotion`` and ``valence`` labels."""

    subject: int
    kind: str
    values: np.ndarray
    labels: dict[str, np.ndarray]
    source: str


def feature_path(root: str | Path, kind: str, subject: int) -> Path:
    """``root/EEG_Features/{kind}/sub{subject - 1:03d}.pkl.pkl``."""
    if kind not in FEATURE_KINDS:
        raise DataError(f"FACED feature kind {kind!r}: expected one of {', '.join(FEATURE_KINDS)}")
    return Path(root).expanduser() / FEATURES / kind / f"sub{subject - 1:03d}.pkl.pkl"


def read_features(path: str | Path) -> Features:
    """Read and check one ``EEG_Features/{DE,PSD}/subNNN.pkl.pkl`` (the kind is its folder's name)."""
    path = Path(path)
    subject = _subject(path, _FEATURE_RE, "subNNN.pkl.pkl")
    kind = path.parent.name.upper()
    if kind not in FEATURE_KINDS:
        raise DataError(f"{path}: not under EEG_Features/DE or EEG_Features/PSD")
    values = _array(path, f"({N_CLIPS}, {len(CHANNELS)}, windows, {N_BANDS})")
    expected = f"({N_CLIPS}, {len(CHANNELS)}, windows, {N_BANDS})"
    if values.ndim != 4 or values.shape[:2] != (N_CLIPS, len(CHANNELS)) or values.shape[3] != N_BANDS:
        raise DataError(f"{path}: array of shape {values.shape}, expected {expected}")
    if not np.isfinite(values).all():
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(values))[0])
        raise DataError(f"{path}: non-finite {kind} value at clip {bad[0] + 1}, channel {CHANNELS[bad[1]]}")
    labels = {"emotion": np.array(EMOTION, dtype=np.int64), "valence": np.array(VALENCE, dtype=np.int64)}
    return Features(subject, kind, values.astype(np.float64), labels, str(path))


# --- the synthetic twin ------------------------------------------------------------------------------

PLANTED_BAND = (8.0, 13.0)
"""Band (Hz) whose power the twin's emotions shift (alpha)."""
PLANTED_CHANNELS = ("FP1", "FP2", "FZ", "F3", "F4", "F7", "F8")
"""Frontal channels, where alpha power and its asymmetry are classically linked to emotion."""
PLANTED_GAIN = 0.15
"""Emotion ``c`` (0-8) scales the alpha-band amplitude of :data:`PLANTED_CHANNELS` by
``exp(effect * PLANTED_GAIN * (c - 4))``: anger the least alpha, tenderness the most; alpha power per
class is thus ordered by the class index, and ``effect=0`` leaves every class alike."""
BANDS = ((1.0, 4.0), (4.0, 8.0), (8.0, 14.0), (14.0, 31.0), (31.0, 50.0))
"""The twin's feature bands (delta, theta, alpha, beta, gamma; Hz)."""


def twin_signal(
    subject: int, *, seed: int = 0, effect: float = 1.0, n_samples: int = 1000, subject_shift: float = 0.0
) -> np.ndarray:
    """The twin's (28, 32, n_samples) microvolts for ``subject`` (from 1): EEG-like noise (1/f power with
    a 10 Hz peak; 10-20 uV RMS per channel, times a label-free log-normal gain per clip and channel, sd
    0.2), the planted alpha gain, where ``subject_shift`` is not 0 the subject's shift of :data:`BANDS`
    (:func:`bench.data.synthetic.shift_stimulus`: the same in every clip; it draws nothing from this
    function's generator), rounded to 1e-3 uV (so the bytes do not hang on the last bit of the FFT)."""
    rng = np.random.default_rng([seed, subject])
    freqs = np.fft.rfftfreq(n_samples, 1 / SFREQ)
    amp = 1 / np.sqrt(np.maximum(freqs, 1.0)) + 0.6 * np.exp(-0.5 * ((freqs - 10) / 1.5) ** 2)
    amp[0] = 0.0
    shape = (N_CLIPS, len(CHANNELS), freqs.size)
    spec = amp * (rng.standard_normal(shape) + 1j * rng.standard_normal(shape))
    alpha = np.flatnonzero((freqs >= PLANTED_BAND[0]) & (freqs < PLANTED_BAND[1]))
    rows = [CHANNELS.index(c) for c in PLANTED_CHANNELS]
    gain = np.exp(effect * PLANTED_GAIN * (np.array(EMOTION, dtype=np.float64) - 4.0))
    spec[np.ix_(range(N_CLIPS), rows, alpha)] *= gain[:, None, None]
    x = np.fft.irfft(spec, n=n_samples, axis=-1) / (2 * np.sqrt((amp**2).sum()) / n_samples)  # unit RMS
    x = shift_stimulus(x, sd=subject_shift, seed=seed, subject=subject, sfreq=SFREQ, bands=BANDS)
    level = rng.uniform(10.0, 20.0, (1, len(CHANNELS), 1))  # per channel
    state = np.exp(rng.normal(0.0, 0.2, (N_CLIPS, len(CHANNELS), 1)))  # per clip, label-free
    x *= level * state
    return np.round(x, 3)


def twin_features(x: np.ndarray, kind: str) -> np.ndarray:
    """(28, 32, windows, 5) per 1-s window: band power (uV^2, ``PSD``) or ``0.5 log(2 pi e power)``
    (``DE``), from each window's spectrum."""
    n = round(SFREQ)
    w = x.shape[-1] // n
    win = x[..., : w * n].reshape(*x.shape[:2], w, n)
    spec = np.abs(np.fft.rfft(win - win.mean(axis=-1, keepdims=True), axis=-1)) ** 2
    freqs = np.fft.rfftfreq(n, 1 / SFREQ)
    power = np.stack([spec[..., (freqs >= lo) & (freqs < hi)].sum(-1) * 2 / n**2 for lo, hi in BANDS], -1)
    return power if kind == "PSD" else 0.5 * np.log(2 * np.pi * np.e * power)


def write_twin(
    root: str | Path, *, n_subjects: int = 3, seed: int = 0, effect: float = 1.0, n_samples: int = 1000,
    features: bool = True, subject_shift: float = 0.0,
) -> list[Path]:  # fmt: skip
    """Write a FACED twin under ``root``: ``Processed_data/sub000.pkl ...`` (float64 arrays of the real
    (28, 32, samples) shape with ``n_samples`` per clip, default 4 s; the release's 7500 is allowed),
    with ``features`` ``EEG_Features/{DE,PSD}/subNNN.pkl.pkl`` of the twin's own signals
    (:func:`twin_features`, 1-s windows), and a ``SYNTHETIC.json`` marker. Returns the processed files
    in subject order. Same arguments, same bytes (pickle protocol 4). ``subject_shift``: :func:`twin_signal`'s
    (0: none, and the files of before it existed)."""
    if not 1 <= n_subjects <= N_SUBJECTS or effect < 0 or n_samples < round(SFREQ) or subject_shift < 0:
        raise ValueError(
            f"n_subjects 1-{N_SUBJECTS}, effect >= 0, n_samples >= 250, subject_shift >= 0 ({n_subjects}, "
            f"{effect}, {n_samples}, {subject_shift})"
        )
    root = Path(root)
    (root / PROCESSED).mkdir(parents=True, exist_ok=True)
    written = []
    for s in range(1, n_subjects + 1):
        x = twin_signal(s, seed=seed, effect=effect, n_samples=n_samples, subject_shift=subject_shift)
        path = root / PROCESSED / f"sub{s - 1:03d}.pkl"
        atomic_write(path, pickle.dumps(x, protocol=4))
        written.append(path)
        if features:
            for kind in FEATURE_KINDS:
                out = feature_path(root, kind, s)
                out.parent.mkdir(parents=True, exist_ok=True)
                atomic_write(out, pickle.dumps(twin_features(x, kind), protocol=4))
    marker = {
        "dataset": NAME,
        "n_subjects": n_subjects,
        "seed": seed,
        "effect": effect,
        "n_samples": n_samples,
        **({"subject_shift": float(subject_shift)} if subject_shift else {}),  # 0: the marker of before
    }
    atomic_write(root / MARKER, json.dumps(marker, indent=1, sort_keys=True) + "\n")
    return written
