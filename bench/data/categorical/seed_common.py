"""What SEED and SEED-IV share: the 62-channel order, the 200 Hz rate, the five bands of the published
features, the file and variable naming, the checks of one trial's array, and the twins' signal and
feature generator.

Sources
-------
The layout is the one the public readers index: TorchEEG (``torcheeg/datasets/module/
emotion_recognition/seed.py``, ``seed_iv.py``), LibEER (``data_utils/load_data.py``) and the SEED web
pages (BCMI lab, SJTU). Both datasets ship MATLAB v5 files (``scipy.io.loadmat`` reads them) holding
float64 microvolts at 200 Hz, one file per subject and session named ``{subject}_{yyyymmdd}.mat``.

Channel order
-------------
:data:`CHANNELS`, the rows of every EEG array and of every published feature array: the 62 channels of
the ESI NeuroScan cap in the datasets' channel-order file (FP1 ... CB2; CB1 and CB2 are cerebellar
sites with no 10-20 name).

EEG variables
-------------
A subject's file holds one variable per trial, ``{prefix}_eeg{N}`` (``N`` from 1, no leading zero), a
62 x samples array. The prefix is the subject's initials and differs per subject; public readers list
them, but they are not all confirmed, so the readers here never rely on them: they take the variables
whose names end in ``_eeg<N>``, require exactly one prefix in the file and ``N`` = 1..n_trials, and sort
by the number (MATLAB's ``save`` writes variables in name order, ``eeg1, eeg10, eeg11, ..., eeg2``, and
that is the order loadmat returns them in). Other variables, should a file hold any, are not read.

Published features
------------------
Per trial, variables ``{kind}_{smoothing}{N}`` of shape (62, W, 5): W windows (SEED: 1 s, SEED-IV: 4 s),
the five :data:`BANDS`; ``kind`` is ``de`` (differential entropy) or ``psd``, ``smoothing`` is
``movingAve`` or ``LDS`` (a linear dynamical system smoother). The readers return them as (W, 62, 5)
float32 arrays in a :class:`PublishedFeatures` (shared by both datasets' feature readers).

Checks
------
An EEG variable must be a real float array (the files hold float64) of 62 rows and at least
:data:`MIN_SECONDS` of samples, every value finite and within float32's range (the readers return
float32); a feature variable a (62, W >= 1, 5) float array, likewise finite. Each failure is one
:class:`~bench.core.errors.DataError` naming the file, the variable and the first bad value's place.

Synthetic twins
---------------
Both twins draw their signals from :func:`twin_signals` (1/f Gaussian noise with an alpha peak, ~15 uV
RMS, random per-session and per-trial log-amplitude gains per channel and band, sd 0.2 each) and plant
one class effect: a trial of class index ``c`` has the alpha (8-14 Hz) amplitude of the 14 frontal
channels :data:`EFFECT_CHANNELS` multiplied by ``exp(EFFECT_LOG_AMPLITUDE * effect * c)``, i.e. its
alpha power by ``exp(effect * c)``; ``subject_shift`` (0 by default: none) adds the subject's own
log-amplitude shift per channel and band to every trial (:func:`bench.data.synthetic.shift_stimulus`).
Their feature files are computed from those signals by
:func:`band_features` (DE of the FFT-band-passed trial per window, PSD the log mean periodogram per
window), then :func:`moving_average` (centred, 5 windows) or :func:`lds_smooth` (random-walk Kalman +
RTS smoother, Q/R = 0.1). Variables are written in MATLAB's name order, with the fixed header text of
:func:`~bench.data.datasets.matfile.save_mat`, so the same arguments give the same bytes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import numpy as np

from bench.core.errors import DataError
from bench.data.safeload import describe_mat_value, first_non_finite
from bench.data.synthetic import MARKER, PARTIAL_MARKER, SIGNAL_DECIMALS, shift_stimulus

CHANNELS: tuple[str, ...] = (
    "FP1", "FPZ", "FP2", "AF3", "AF4", "F7", "F5", "F3", "F1", "FZ", "F2", "F4", "F6", "F8", "FT7", "FC5",
    "FC3", "FC1", "FCZ", "FC2", "FC4", "FC6", "FT8", "T7", "C5", "C3", "C1", "CZ", "C2", "C4", "C6", "T8",
    "TP7", "CP5", "CP3", "CP1", "CPZ", "CP2", "CP4", "CP6", "TP8", "P7", "P5", "P3", "P1", "PZ", "P2",
    "P4", "P6", "P8", "PO7", "PO5", "PO3", "POZ", "PO4", "PO6", "PO8", "CB1", "O1", "OZ", "O2", "CB2",
)  # fmt: skip
"""The 62 channels of SEED, SEED-IV (and SEED-V), in the rows' order."""
SFREQ = 200.0
"""Sampling rate of the preprocessed EEG, Hz (downsampled from 1000 Hz by the authors)."""
MIN_SECONDS = 1.0
"""A trial shorter than this is refused as truncated (real trials run minutes)."""

BANDS: tuple[tuple[str, float, float], ...] = (
    ("delta", 1.0, 4.0),
    ("theta", 4.0, 8.0),
    ("alpha", 8.0, 14.0),
    ("beta", 14.0, 31.0),
    ("gamma", 31.0, 50.0),
)
"""The five bands of the published features (last axis), Hz, lower edge included."""
KINDS: tuple[str, ...] = ("de", "psd")
SMOOTHINGS: tuple[str, ...] = ("movingAve", "LDS")

EFFECT_CHANNELS: tuple[str, ...] = CHANNELS[:14]
"""The frontal group the twins plant their class effect on: FP1 ... F8 (the first 14 rows)."""
EFFECT_BAND = "alpha"
EFFECT_LOG_AMPLITUDE = 0.5
"""A twin's trial of class index ``c`` has its :data:`EFFECT_BAND` amplitude at :data:`EFFECT_CHANNELS`
multiplied by ``exp(EFFECT_LOG_AMPLITUDE * effect * c)``: its alpha power by ``exp(effect * c)``, its
alpha DE raised by ``0.5 * effect * c``. ``effect=0``: the classes differ in nothing."""
MOVING_AVERAGE_WINDOWS = 5
"""The twins' ``movingAve``: a centred mean over 5 windows (fewer at a trial's ends)."""
LDS_Q_OVER_R = 0.1
"""The twins' ``LDS``: a random-walk Kalman filter and Rauch-Tung-Striebel smoother along the windows
with process / observation noise variance ratio 0.1 (the smoothing depends only on the ratio)."""

_FILE_RE = re.compile(r"^(\d+)_(\d{8})\.mat$")
_EEG_KEY_RE = re.compile(r"^([A-Za-z]\w*)_eeg(\d+)$")


# ------------------------------------------------------------------------------------ file names
def parse_file_name(path: Path) -> tuple[int, date]:
    """``{subject}_{yyyymmdd}.mat`` as (subject, date), or a one-line DataError."""
    m = _FILE_RE.match(path.name)
    if m is None:
        raise DataError(f"{path}: file name does not parse as {{subject}}_{{yyyymmdd}}.mat")
    try:
        day = datetime.strptime(m.group(2), "%Y%m%d").date()
    except ValueError:
        raise DataError(f"{path}: file name holds no valid date ({m.group(2)} is not yyyymmdd)") from None
    return int(m.group(1)), day


def scan_folder(
    folder: Path, n_subjects: int, skip: Iterable[str] = ()
) -> dict[int, list[tuple[date, Path]]]:
    """Every ``.mat`` file of ``folder`` (but ``skip``) as ``{subject: [(date, path), ...]}``; a name that
    does not parse or a subject outside 1..n_subjects is a DataError. Other files are not looked at."""
    if not folder.is_dir():
        raise DataError(f"{folder}: folder not found")
    skip = set(skip)
    found: dict[int, list[tuple[date, Path]]] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() != ".mat" or path.name in skip:
            continue
        subject, day = parse_file_name(path)
        if not 1 <= subject <= n_subjects:
            raise DataError(f"{path}: subject {subject} outside 1-{n_subjects}")
        found.setdefault(subject, []).append((day, path))
    if not found:
        raise DataError(f"{folder}: no {{subject}}_{{yyyymmdd}}.mat files")
    return found


def mat_keys(mat: dict) -> list[str]:
    """The variables of a loaded file (loadmat's ``__header__`` and the like left out)."""
    return [k for k in mat if not k.startswith("__")]


def trial_keys(keys: Iterable[str], n_trials: int, where: object) -> list[str]:
    """The ``{prefix}_eeg{N}`` variables among ``keys``, sorted by N (never by the file's order).

    Exactly one prefix and N = 1..n_trials (each once, no leading zero) are required."""
    by_number: dict[int, str] = {}
    prefixes: set[str] = set()
    for key in keys:
        m = _EEG_KEY_RE.match(key)
        if m is None:
            continue
        prefix, number = m.groups()
        if number != str(int(number)):
            raise DataError(f"{where}: variable {key!r} has a trial number with a leading zero")
        prefixes.add(prefix)
        by_number[int(number)] = key
    if not prefixes:
        raise DataError(f"{where}: no EEG variables named <prefix>_eeg<N>")
    if len(prefixes) > 1:
        raise DataError(
            f"{where}: EEG variables with {len(prefixes)} prefixes ({', '.join(sorted(prefixes))}); "
            "expected one subject's"
        )
    return _numbered(by_number, n_trials, where, f"{prefixes.pop()}_eeg")


def _numbered(by_number: dict[int, str], n_trials: int, where: object, stem: str) -> list[str]:
    missing = [n for n in range(1, n_trials + 1) if n not in by_number]
    extra = sorted(n for n in by_number if not 1 <= n <= n_trials)
    if missing:
        raise DataError(f"{where}: no variable(s) {', '.join(f'{stem}{n}' for n in missing)}")
    if extra:
        raise DataError(
            f"{where}: variable(s) {', '.join(f'{stem}{n}' for n in extra)} beyond the {n_trials} trials"
        )
    return [by_number[n] for n in range(1, n_trials + 1)]


def feature_keys(kind: str, smoothing: str, n_trials: int) -> list[str]:
    """``{kind}_{smoothing}1 .. N``, the published-feature variables of one kind, in trial order."""
    if kind not in KINDS:
        raise DataError(f"feature kind {kind!r}: expected one of {', '.join(KINDS)}")
    if smoothing not in SMOOTHINGS:
        raise DataError(f"smoothing {smoothing!r}: expected one of {', '.join(SMOOTHINGS)}")
    return [f"{kind}_{smoothing}{n}" for n in range(1, n_trials + 1)]


# ------------------------------------------------------------------------------------- value checks
def check_trial(value: object, where: object, key: str) -> np.ndarray:
    """One trial's 62 x samples float array as float32, or a one-line DataError naming the variable."""
    if type(value) is not np.ndarray or value.dtype.kind != "f":
        raise DataError(f"{where}: {key} is {describe_mat_value(value)}, expected 62 x samples floats")
    if value.ndim != 2 or value.shape[0] != len(CHANNELS):
        raise DataError(f"{where}: {key} has shape {value.shape}, expected ({len(CHANNELS)}, samples)")
    if value.shape[1] < MIN_SECONDS * SFREQ:
        raise DataError(f"{where}: {key} has {value.shape[1]} samples, shorter than {MIN_SECONDS:g} s")
    for what, values in (("non-finite value", value), ("value beyond float32's range", _float32(value))):
        bad = first_non_finite(values)
        if bad is not None:
            raise DataError(f"{where}: {what} in {key} at channel {CHANNELS[bad[0]]}, sample {bad[1]}")
    return _float32(value)


def check_features(value: object, where: object, key: str) -> np.ndarray:
    """One trial's (62, W, 5) published features as a (W, 62, 5) float32 array, or a DataError."""
    want = f"({len(CHANNELS)}, windows, {len(BANDS)})"
    if type(value) is not np.ndarray or value.dtype.kind != "f":
        raise DataError(f"{where}: {key} is {describe_mat_value(value)}, expected {want} floats")
    if (
        value.ndim != 3
        or value.shape[0] != len(CHANNELS)
        or value.shape[2] != len(BANDS)
        or not value.shape[1]
    ):
        raise DataError(f"{where}: {key} has shape {value.shape}, expected {want}")
    out = np.ascontiguousarray(_float32(value).transpose(1, 0, 2))
    for what, values in (
        ("non-finite value", value.transpose(1, 0, 2)),
        ("value beyond float32's range", out),
    ):
        bad = first_non_finite(values)
        if bad is not None:
            raise DataError(
                f"{where}: {what} in {key} at window {bad[0]}, channel {CHANNELS[bad[1]]}, "
                f"band {BANDS[bad[2]][0]}"
            )
    return out


def _float32(value: np.ndarray) -> np.ndarray:
    """``value`` as float32; a value beyond float32's range becomes inf (the callers refuse it)."""
    with np.errstate(over="ignore"):
        return value.astype(np.float32)


@dataclass(frozen=True)
class PublishedFeatures:
    """One subject's published features of one session, of one kind and smoothing.

    Attributes
    ----------
    dataset : str
        ``seed`` or ``seed-iv``.
    subject, session : int
        As in :class:`~bench.data.categorical.recording.SessionRecording`.
    kind : str
        ``de`` or ``psd``.
    smoothing : str
        ``movingAve`` or ``LDS``.
    features : tuple of array, each shape (W_i, 62, 5), float32
        Per trial, windows x :data:`CHANNELS` x :data:`BANDS`.
    window_s : float
        Seconds per window (SEED 1, SEED-IV 4).
    labels : dict of str to array, each shape (n_trials,), int64
        As the EEG reader of the dataset returns them.
    trial_ids : tuple of int
        Trial numbers from 1.
    source : str
        The file read.
    """

    dataset: str
    subject: int
    session: int
    kind: str
    smoothing: str
    features: tuple[np.ndarray, ...]
    window_s: float
    labels: dict[str, np.ndarray]
    trial_ids: tuple[int, ...]
    source: str
    channels: tuple[str, ...] = CHANNELS
    bands: tuple[tuple[str, float, float], ...] = BANDS

    def __post_init__(self) -> None:
        if self.kind not in KINDS or self.smoothing not in SMOOTHINGS:
            raise DataError(f"{self.source}: unknown features {self.kind}_{self.smoothing}")
        n = len(self.features)
        if len(self.trial_ids) != n:
            raise DataError(f"{self.source}: {n} trials but {len(self.trial_ids)} trial ids")
        for name, lab in self.labels.items():
            if lab.shape != (n,):
                raise DataError(f"{self.source}: label set {name!r} has shape {lab.shape}, expected ({n},)")
        shape = (len(self.channels), len(self.bands))
        for i, f in enumerate(self.features):
            if f.ndim != 3 or f.shape[1:] != shape:
                raise DataError(f"{self.source}: trial {self.trial_ids[i]} has features of shape {f.shape}")

    @property
    def n_trials(self) -> int:
        return len(self.features)


# ------------------------------------------------------------------------------------- twins
def twin_rng(*key: int) -> np.random.Generator:
    """A generator for one part of a twin (dataset tag, seed, subject ...): parts never share draws."""
    return np.random.default_rng(np.random.SeedSequence([int(k) for k in key]))


def twin_lengths(rng: np.random.Generator, n_trials: int, seconds: tuple[float, float]) -> tuple[int, ...]:
    """Samples per trial, drawn uniformly in ``seconds`` (low, high) at 200 Hz: unequal lengths."""
    lo, hi = float(seconds[0]), float(seconds[1])
    if not MIN_SECONDS <= lo <= hi:
        raise DataError(f"twin trial seconds {seconds!r}: expected {MIN_SECONDS:g} <= low <= high")
    return tuple(int(n) for n in rng.integers(round(lo * SFREQ), round(hi * SFREQ) + 1, n_trials))


_BAND_EDGES = tuple((lo, hi) for _, lo, hi in BANDS)


def _band_of(freqs: np.ndarray) -> np.ndarray:
    """Band index of each frequency (0..4), 5 outside every band."""
    idx = np.full(freqs.shape, len(BANDS), dtype=np.int64)
    for i, (_, lo, hi) in enumerate(BANDS):
        idx[(freqs >= lo) & (freqs < hi)] = i
    return idx


def twin_signals(
    rng: np.random.Generator,
    classes: Sequence[int],
    lengths: Sequence[int],
    effect: float,
    *,
    subject_shift: float = 0.0,
    seed: int = 0,
    subject: int = 0,
) -> list[np.ndarray]:
    """One session's trials, each (62, n) float64 microvolts rounded to SIGNAL_DECIMALS.

    Gaussian noise with a 1/f amplitude spectrum and an alpha peak, attenuated outside 1-50 Hz, ~15 uV
    RMS; each channel and band gets a log-amplitude gain: a subject-wide draw (sd 0.2, drawn per
    session), a per-trial draw (sd 0.2) and the planted class effect (:data:`EFFECT_LOG_AMPLITUDE`).
    Where ``subject_shift`` is not 0, every trial also gets the subject's shift of :data:`BANDS`
    (:func:`bench.data.synthetic.shift_stimulus`, keyed by the twin's ``seed`` and ``subject``: the same
    in all three sessions); it draws nothing from ``rng``."""
    base = rng.normal(0.0, 0.2, (len(CHANNELS), len(BANDS)))
    rows = [CHANNELS.index(c) for c in EFFECT_CHANNELS]
    band = [b[0] for b in BANDS].index(EFFECT_BAND)
    out = []
    for c, n in zip(classes, lengths, strict=True):
        gains = base + rng.normal(0.0, 0.2, base.shape)
        gains[rows, band] += EFFECT_LOG_AMPLITUDE * float(effect) * int(c)
        gains = np.concatenate([np.exp(gains), np.ones((len(CHANNELS), 1))], axis=1)
        freqs = np.fft.rfftfreq(n, d=1.0 / SFREQ)
        f = np.maximum(freqs, 1.0)
        amp = f**-0.5 * (1.0 + 1.5 * np.exp(-0.5 * ((freqs - 10.0) / 1.5) ** 2))
        amp *= np.where((freqs >= 1.0) & (freqs <= 50.0), 1.0, 0.05)
        spec = np.fft.rfft(rng.standard_normal((len(CHANNELS), n)), axis=-1) * amp * gains[:, _band_of(freqs)]
        x = np.fft.irfft(spec, n=n, axis=-1) * (15.0 / np.sqrt(np.mean(amp**2) * 2.0))
        x = shift_stimulus(x, sd=subject_shift, seed=seed, subject=subject, sfreq=SFREQ, bands=_BAND_EDGES)
        out.append(np.round(x, SIGNAL_DECIMALS))
    return out


def band_features(x: np.ndarray, window_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Unsmoothed (DE, PSD) of one (62, n) trial, each (62, W, 5), W = n // window samples.

    DE: the trial band-passed by zeroing its FFT outside the band, cut into non-overlapping windows,
    ``0.5 * ln(2 pi e var)`` of each window. PSD: ``ln`` of the mean Hann-windowed periodogram
    (uV^2/Hz) over the band's frequencies of each window. The tail shorter than a window is dropped."""
    win = round(window_s * SFREQ)
    n_c, n = x.shape
    w = n // win
    spec = np.fft.rfft(x, axis=-1)
    freqs = np.fft.rfftfreq(n, d=1.0 / SFREQ)
    taper = np.hanning(win)
    seg = x[:, : w * win].reshape(n_c, w, win)
    pxx = np.abs(np.fft.rfft(seg * taper, axis=-1)) ** 2 / (SFREQ * np.sum(taper**2))
    wfreqs = np.fft.rfftfreq(win, d=1.0 / SFREQ)
    de = np.empty((n_c, w, len(BANDS)))
    psd = np.empty_like(de)
    for b, (_, lo, hi) in enumerate(BANDS):
        xb = np.fft.irfft(spec * ((freqs >= lo) & (freqs < hi)), n=n, axis=-1)
        de[..., b] = 0.5 * np.log(2 * np.pi * np.e * xb[:, : w * win].reshape(n_c, w, win).var(axis=-1))
        psd[..., b] = np.log(pxx[..., (wfreqs >= lo) & (wfreqs < hi)].mean(axis=-1))
    return de, psd


def moving_average(f: np.ndarray, windows: int = MOVING_AVERAGE_WINDOWS) -> np.ndarray:
    """Centred mean over ``windows`` windows along axis 1 (truncated at the ends)."""
    half = windows // 2
    c = np.cumsum(np.pad(f, ((0, 0), (1, 0), (0, 0))), axis=1)
    idx = np.arange(f.shape[1])
    lo, hi = np.maximum(idx - half, 0), np.minimum(idx + half + 1, f.shape[1])
    return (c[:, hi] - c[:, lo]) / (hi - lo)[None, :, None]


def lds_smooth(f: np.ndarray, q_over_r: float = LDS_Q_OVER_R) -> np.ndarray:
    """Random-walk Kalman filter then RTS smoother along axis 1 (state = observation at the start)."""
    n = f.shape[1]
    q, r = float(q_over_r), 1.0
    mean, var = np.empty_like(f), np.empty(n)
    mean[:, 0], var[0] = f[:, 0], r
    for t in range(1, n):
        prior = var[t - 1] + q
        gain = prior / (prior + r)
        mean[:, t] = mean[:, t - 1] + gain * (f[:, t] - mean[:, t - 1])
        var[t] = (1.0 - gain) * prior
    out = mean.copy()
    for t in range(n - 2, -1, -1):
        g = var[t] / (var[t] + q)
        out[:, t] = mean[:, t] + g * (out[:, t + 1] - mean[:, t])
    return out


def smoothed(f: np.ndarray, smoothing: str) -> np.ndarray:
    """``f`` (62, W, 5) smoothed the twins' way (:data:`SMOOTHINGS`)."""
    return moving_average(f) if smoothing == "movingAve" else lds_smooth(f)


def matlab_order(variables: dict[str, object]) -> dict[str, object]:
    """The variables in name order, as MATLAB's ``save`` writes a workspace (``eeg1, eeg10, ..., eeg2``)."""
    return {k: variables[k] for k in sorted(variables)}


def finish_twin(
    root: Path,
    dataset: str,
    title: str,
    config: dict[str, object],
    classes: Sequence[str],
    recorded: dict[str, object] | None = None,
) -> None:
    """Write the twin's ``SYNTHETIC.json`` (its arguments and planted effect) last: the twin is complete.

    ``recorded``: the config the harness generated the twin for (its ``SyntheticConfig``, which the cache
    compares to know the twin is whole), recorded as ``config`` with the twin's own arguments beside it."""
    info = {
        "dataset": dataset,
        "config": config if recorded is None else recorded,
        **({} if recorded is None else {"twin_arguments": config}),
        "planted_effect": {
            "band": EFFECT_BAND,
            "band_hz": next([lo, hi] for name, lo, hi in BANDS if name == EFFECT_BAND),
            "channels": list(EFFECT_CHANNELS),
            "log_amplitude_per_class_index": EFFECT_LOG_AMPLITUDE,
            "classes": list(classes),
        },
        "note": f"Synthetic data from deap-bench; not {title}. Results computed from it are synthetic.",
    }
    (root / MARKER).write_text(json.dumps(info, indent=1))
    (root / PARTIAL_MARKER).unlink(missing_ok=True)
