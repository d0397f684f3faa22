"""SEED-V (Liu et al., IEEE TCDS 2022; BCMI lab, SJTU): 16 subjects x 3 sessions x 15 film clips, five
emotions, 62-channel EEG recorded with NeuroScan at 1000 Hz.

Layout read
-----------
As TorchEEG's ``SEEDVDataset``, LibEER's loader and CBraMod's ``preprocessing_SEEDV.py`` read the
release (``root`` may be the release's top folder or ``EEG_raw`` itself)::

    EEG_raw/{subject}_{session}_{yyyymmdd}.cnt          e.g. 10_1_20180507.cnt, one per subject+session
    EEG_DE_features/{subject}_123.npz                   published DE features, all three sessions

Each ``.cnt`` is a NeuroScan continuous file (:mod:`bench.data.categorical.cnt`) of 66 channels: the 62
EEG channels of :data:`EEG_CHANNELS` (found by name, case-insensitively, and returned in that order)
and ``M1``, ``M2`` (mastoids), ``VEO``, ``HEO`` (EOG), which the public readers drop and so does this
one. The 15 trials of a session are cut at the fixed seconds of :data:`TRIALS` (the released start and
end times; the recordings hold no reliable per-trial markers the readers use), from sample
``start * rate`` up to (not including) ``end * rate``; a file shorter than its session's last end is an
error. Labels are :data:`LABELS` (label set ``emotion``: 0 disgust, 1 fear, 2 sad, 3 neutral, 4 happy,
the release's own coding); sessions 2 and 3 play the clips in the same order.

What the reader returns
-----------------------
Each trial in microvolts (float32), resampled with MNE from the file's rate to 200 Hz (the rate the
public readers use) by ``mne.filter.resample(method="polyphase")``: scipy's polyphase filter with its
Kaiser-windowed low-pass, so the resampling is anti-aliased (TorchEEG's plain decimation is not). The
filter runs over the trial plus up to 1 s of recording either side, then that margin is cut off, so the
trial's edges see real signal rather than padding. ``sfreq=None`` keeps the file's rate.

Older MNE releases with numpy 2 failed on real-sized SEED-V files with an int32 ``OverflowError``
(torcheeg issue 145, fixed in mne-python PR 13548); every MNE failure, that one included, is a one-line
:class:`~bench.core.errors.DataError` naming the file, as is every other problem: a missing folder or
file, a name that does not parse, two files for one session, a subject without all three sessions, a
truncated file, a wrong channel count or a missing EEG channel, a non-finite value.

The published features (``{subject}_123.npz``) hold ``data`` and ``label``, each a pickled dict keyed
0-44 (trial ``k`` of session ``k // 15 + 1``): ``data[k]`` (windows, 310) differential entropy, 62
channels x 5 bands; ``label[k]`` (windows,). The release stores each pickle as bytes (read with
``pickle.loads(np.load(f)["data"])`` by the public readers); :func:`read_de_features` reads the npz
without allowing pickles and unpickles those bytes (or an object array's pickle) with the restricted
unpickler of :mod:`bench.data.safeload`, which builds only arrays and plain containers.

The synthetic twin (:func:`write_twin`) writes the same layout with a planted effect
(:data:`PLANTED_BAND`, :data:`PLANTED_CHANNELS`, :data:`PLANTED_RMS_UV`).
"""

from __future__ import annotations

import io
import json
import pickle
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np

from bench.core.errors import DataError
from bench.core.files import atomic_write
from bench.data.categorical.cnt import check_cnt_header, write_cnt
from bench.data.categorical.recording import SessionRecording
from bench.data.categorical.seed_common import CHANNELS as EEG_CHANNELS
from bench.data.safeload import exception_line, quiet_mne, safe_loads
from bench.data.synthetic import MARKER, shift_stimulus

NAME = "seed-v"
OTHER_CHANNELS: tuple[str, ...] = ("M1", "M2", "VEO", "HEO")
"""The files' other channels (mastoids, EOG): dropped."""
N_FILE_CHANNELS = len(EEG_CHANNELS) + len(OTHER_CHANNELS)
FILE_SFREQ = 1000.0
SFREQ = 200.0
"""The rate :func:`read_session` returns."""
N_SUBJECTS = 16
SESSIONS = (1, 2, 3)
LABEL_NAMES = ("disgust", "fear", "sad", "neutral", "happy")
_L1 = (4, 1, 3, 2, 0, 4, 1, 3, 2, 0, 4, 1, 3, 2, 0)
_L2 = (2, 1, 3, 0, 4, 4, 0, 3, 2, 1, 3, 4, 1, 2, 0)
LABELS: dict[int, tuple[int, ...]] = {1: _L1, 2: _L2, 3: _L2}
"""Per session, each trial's emotion (0 disgust, 1 fear, 2 sad, 3 neutral, 4 happy)."""
Table = dict[int, tuple[tuple[float, float], ...]]
TRIALS: Table = {
    1: ((30, 102), (132, 228), (287, 524), (555, 742), (773, 920), (982, 1240), (1271, 1568), (1628, 1697),
        (1730, 1994), (2025, 2166), (2227, 2401), (2435, 2607), (2667, 2901), (2932, 3172), (3204, 3359)),
    2: ((30, 267), (299, 488), (548, 614), (646, 773), (836, 967), (1000, 1059), (1091, 1331), (1392, 1622),
        (1657, 1777), (1809, 1908), (1966, 2153), (2186, 2302), (2333, 2428), (2490, 2709), (2741, 2817)),
    3: ((30, 321), (353, 418), (478, 643), (674, 764), (825, 877), (908, 1147), (1200, 1284), (1346, 1418),
        (1451, 1679), (1711, 1996), (2055, 2275), (2307, 2425), (2457, 2664), (2726, 2857), (2888, 3066)),
}  # fmt: skip
"""Per session, each trial's (start, end) in seconds from the recording's start."""
RAW = "EEG_raw"
FEATURES = "EEG_DE_features"
_CNT_RE = re.compile(r"^(\d+)_(\d+)_(\d{8})\.cnt$", re.IGNORECASE)
_MARGIN_S = 1.0
"""Recording either side of a trial that the resampling filter sees, then cut off."""


def parse_name(path: Path) -> tuple[int, int, date]:
    """(subject, session, recording date) from ``{subject}_{session}_{yyyymmdd}.cnt``."""
    m = _CNT_RE.match(path.name)
    if m is None:
        raise DataError(f"{path}: not a SEED-V recording name (expected subject_session_yyyymmdd.cnt)")
    subject, session = int(m.group(1)), int(m.group(2))
    try:
        day = datetime.strptime(m.group(3), "%Y%m%d").date()
    except ValueError:
        raise DataError(f"{path}: {m.group(3)!r} in the name is not a date (yyyymmdd)") from None
    if not 1 <= subject <= N_SUBJECTS or session not in SESSIONS:
        raise DataError(f"{path}: subject {subject} / session {session} outside 1-{N_SUBJECTS} / 1-3")
    return subject, session, day


def find_sessions(root: str | Path) -> dict[tuple[int, int], Path]:
    """Every ``{subject}_{session}_{date}.cnt`` under ``root`` (or ``root/EEG_raw``), keyed by (subject,
    session) in order; every subject found must have all three sessions, each in one file."""
    root = Path(root).expanduser()
    folder = root / RAW if (root / RAW).is_dir() else root
    if not folder.is_dir():
        raise DataError(f"{root}: SEED-V folder not found (expected {RAW}/ with subject_session_date.cnt)")
    found: dict[tuple[int, int], Path] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() != ".cnt":
            continue
        subject, session, _ = parse_name(path)
        if (subject, session) in found:
            raise DataError(f"{path}: a second file for subject {subject} session {session} "
                            f"(also {found[subject, session].name})")  # fmt: skip
        found[subject, session] = path
    if not found:
        raise DataError(f"{folder}: no SEED-V recordings (subject_session_yyyymmdd.cnt) found")
    for subject in sorted({s for s, _ in found}):
        missing = [k for k in SESSIONS if (subject, k) not in found]
        if missing:
            sessions = ", ".join(map(str, missing))
            raise DataError(f"{folder}: subject {subject} has no file for session(s) {sessions}")
    return dict(sorted(found.items()))


def _check_table(trials: Sequence[tuple[float, float]], path: Path) -> None:
    if len(trials) != 15 or any(not 0 <= a < b for a, b in trials):
        raise DataError(f"{path}: a trial table needs 15 (start, end) pairs with 0 <= start < end")


def read_session(
    path: str | Path, *, trials: Table | None = None, sfreq: float | None = SFREQ
) -> SessionRecording:
    """Read one session's 15 trials from its ``.cnt`` (see the module's docstring).

    ``trials`` replaces :data:`TRIALS` (a twin with shorter sessions passes its own table); ``sfreq``
    is the rate returned (None: the file's).
    """
    import mne  # heavy optional dependency

    path = Path(path)
    subject, session, _ = parse_name(path)
    table = (trials or TRIALS)[session]
    _check_table(table, path)
    header = check_cnt_header(path)
    if len(header.channels) != N_FILE_CHANNELS:
        raise DataError(f"{path}: {len(header.channels)} channels, expected {N_FILE_CHANNELS} "
                        f"(62 EEG + {', '.join(OTHER_CHANNELS)})")  # fmt: skip
    index = {c.upper(): i for i, c in enumerate(header.channels)}
    missing = [c for c in EEG_CHANNELS if c not in index]
    if missing:
        raise DataError(f"{path}: EEG channel(s) {', '.join(missing)} missing")
    rate = header.sfreq
    if sfreq is not None and rate < sfreq:
        raise DataError(f"{path}: sampling rate {rate:g} Hz, below the {sfreq:g} Hz returned")
    if header.seconds < table[-1][1]:
        raise DataError(f"{path}: {header.seconds:g} s recorded, the session's last trial ends at "
                        f"{table[-1][1]:g} s")  # fmt: skip
    picks = [index[c] for c in EEG_CHANNELS]
    eeg = []
    with quiet_mne():
        try:
            raw = mne.io.read_raw_cnt(path, data_format=f"int{8 * header.n_bytes}", preload=False)
            for t, (a, b) in enumerate(table):
                start, stop = round(a * rate), round(b * rate)
                lo = max(0, start - round(_MARGIN_S * rate))
                hi = min(header.n_samples, stop + round(_MARGIN_S * rate))
                x = raw.get_data(picks=picks, start=lo, stop=hi) * 1e6  # volts -> microvolts
                if not np.isfinite(x).all():
                    raise DataError(f"{path}: trial {t + 1} holds NaN or infinite values")
                if sfreq is not None and sfreq != rate:
                    x = mne.filter.resample(x, up=sfreq, down=rate, method="polyphase")
                    scale = sfreq / rate
                    start, stop, lo = round(start * scale), round(stop * scale), round(lo * scale)
                eeg.append(np.ascontiguousarray(x[:, start - lo : stop - lo], dtype=np.float32))
        except DataError:
            raise
        except Exception as exc:  # MNE raises many types for a corrupt file
            raise DataError(f"{path}: not a readable NeuroScan CNT file ({exception_line(exc)})") from None
    return SessionRecording(
        dataset=NAME, subject=subject, session=session, eeg=tuple(eeg),
        sfreq=float(sfreq if sfreq is not None else rate), channels=EEG_CHANNELS,
        labels={"emotion": np.array(LABELS[session], dtype=np.int64)}, trial_ids=tuple(range(1, 16)),
        source=str(path),
    )  # fmt: skip


@dataclass(frozen=True)
class DEFeatures:
    """One subject's published DE features (``{subject}_123.npz``).

    ``data[k]`` (windows, 310) float64 and ``labels[k]`` (windows,) int64 for trial ``k`` 0-44: session
    ``k // 15 + 1``, trial ``k % 15 + 1`` (each window labelled with its trial's emotion).
    """

    subject: int
    data: tuple[np.ndarray, ...]
    labels: tuple[np.ndarray, ...]
    source: str


def _unpickle(raw: bytes, where: str) -> object:
    return safe_loads(raw, where)


def _npz_member(path: Path, name: str) -> object:
    """Member ``name`` of an npz, unpickled with the restricted unpickler: a 0-d bytes array (the
    release's form) holds the pickle; an object array's .npy body is one. Never ``allow_pickle=True``."""
    where = f"{path}: '{name}'"
    try:
        with np.load(path, allow_pickle=False) as npz:
            if name not in npz.files:
                raise DataError(f"{path}: no '{name}' array in the npz (found {', '.join(npz.files)})")
            try:
                value = npz[name]
            except ValueError:  # an object array: its body is a pickle
                with zipfile.ZipFile(path) as zf, zf.open(f"{name}.npy") as f:
                    major, _ = np.lib.format.read_magic(f)
                    read_header = (
                        np.lib.format.read_array_header_1_0
                        if major == 1
                        else np.lib.format.read_array_header_2_0
                    )
                    read_header(f)
                    value = _unpickle(f.read(), where)
    except DataError:
        raise
    except Exception as exc:  # numpy and zipfile raise many types for a corrupt file
        raise DataError(f"{path}: not a readable npz file ({exception_line(exc)})") from None
    if isinstance(value, np.ndarray) and value.shape == () and value.dtype.kind in "SO":
        value = value.item()
    if isinstance(value, bytes):
        return _unpickle(value, where)
    if isinstance(value, dict):
        return value
    got = (
        f"an array of {value.dtype} {value.shape}" if isinstance(value, np.ndarray) else type(value).__name__
    )
    raise DataError(f"{where} is {got}, expected a pickled dict")


def read_de_features(path: str | Path) -> DEFeatures:
    """Read and check ``{subject}_123.npz`` (45 trials, 310 features per window, labels 0-4)."""
    path = Path(path)
    m = re.match(r"^(\d+)_123\.npz$", path.name)
    if m is None:
        raise DataError(f"{path}: not a SEED-V feature file name (expected <subject>_123.npz)")
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    data, labels = _npz_member(path, "data"), _npz_member(path, "label")
    out: dict[str, list[np.ndarray]] = {"data": [], "label": []}
    for name, value in (("data", data), ("label", labels)):
        if not isinstance(value, dict) or sorted(value) != list(range(45)):
            got = sorted(value)[:5] if isinstance(value, dict) else type(value).__name__
            raise DataError(f"{path}: '{name}' must be a dict keyed 0-44, got {got}")
        for k in range(45):
            v = value[k]
            if not isinstance(v, np.ndarray) or v.dtype.kind not in "iuf":
                raise DataError(f"{path}: '{name}'[{k}] is not an array of numbers")
            out[name].append(v)
    for k, (x, y) in enumerate(zip(out["data"], out["label"], strict=True)):
        if x.ndim != 2 or x.shape[1] != 310 or y.shape != (x.shape[0],):
            raise DataError(f"{path}: trial {k}: data {x.shape} and label {y.shape}, expected (n, 310), (n,)")
        if not np.isfinite(x).all():
            raise DataError(f"{path}: trial {k}: non-finite feature values")
        if y.size and (y.min() < 0 or y.max() > 4 or (y != np.round(y)).any()):
            raise DataError(f"{path}: trial {k}: labels outside 0-4")
    return DEFeatures(
        subject=int(m.group(1)), data=tuple(x.astype(np.float64) for x in out["data"]),
        labels=tuple(y.astype(np.int64) for y in out["label"]), source=str(path),
    )  # fmt: skip


# --- the synthetic twin ------------------------------------------------------------------------------

TWIN_TRIALS: Table = {
    k: tuple((2.0 + 5 * t, 2.0 + 5 * t + 3 + (t + k) % 2) for t in range(15)) for k in SESSIONS
}
"""The twin's short sessions: trial ``t`` (0-14) from ``2 + 5 t`` s, 3 or 4 s long (pass it to
:func:`read_session` as ``trials``)."""
PLANTED_BAND = (14.0, 30.0)
"""Band (Hz) whose power the twin's classes shift (beta)."""
PLANTED_CHANNELS = ("FT7", "FT8", "T7", "T8", "TP7", "TP8", "C5", "C6")
"""Lateral temporal channels, where SEED's papers find the emotion-discriminative high-frequency power."""
PLANTED_RMS_UV = 2.0
"""Class ``c`` adds ``effect * PLANTED_RMS_UV * c`` uV RMS of band-limited noise in :data:`PLANTED_BAND`
to each :data:`PLANTED_CHANNELS` channel during its trials: disgust none, happy the most."""
TWIN_FILE_CHANNELS = EEG_CHANNELS[:57] + ("M1",) + EEG_CHANNELS[57:] + ("M2", "VEO", "HEO")
"""The twin's file order (the reader picks channels by name)."""


def _noise(
    rng: np.random.Generator, n_ch: int, n: int, sfreq: float, band: tuple[float, float] | None = None
) -> np.ndarray:
    """(n_ch, n) Gaussian noise of unit RMS: EEG-like (1/f power with a 10 Hz alpha peak), or flat within
    ``band`` and zero outside it."""
    freqs = np.fft.rfftfreq(n, 1 / sfreq)
    if band is None:
        amp = 1 / np.sqrt(np.maximum(freqs, 1.0)) + 0.6 * np.exp(-0.5 * ((freqs - 10) / 1.5) ** 2)
        amp[freqs > 70] *= 0.1
    else:
        amp = ((freqs >= band[0]) & (freqs < band[1])).astype(np.float64)
    amp[0] = 0.0
    spec = amp * (rng.standard_normal((n_ch, freqs.size)) + 1j * rng.standard_normal((n_ch, freqs.size)))
    x = np.fft.irfft(spec, n=n, axis=-1)
    return x / x.std(axis=-1, keepdims=True)


def twin_signal(subject: int, session: int, *, seed: int = 0, effect: float = 1.0,
                trials: Table = TWIN_TRIALS, sfreq: float = FILE_SFREQ,
                subject_shift: float = 0.0) -> np.ndarray:  # fmt: skip
    """The twin's session in microvolts, (66 channels in :data:`TWIN_FILE_CHANNELS` order, samples),
    before the file's quantisation: EEG-like noise (15-25 uV RMS per channel, DC offsets up to 100 uV;
    the EOG channels 50 uV), plus the planted class effect within each trial. Where ``subject_shift`` is
    not 0, each trial (the stimulus, not the recording between clips) then gets the subject's shift of
    :data:`DE_BANDS` on all 66 channels (:func:`bench.data.synthetic.shift_stimulus`: the same in every
    trial and session; it draws nothing from this function's generator)."""
    rng = np.random.default_rng([seed, subject, session])
    table = trials[session]
    n = round((table[-1][1] + 1.0) * sfreq)
    n_ch = len(TWIN_FILE_CHANNELS)
    x = _noise(rng, n_ch, n, sfreq) * rng.uniform(15.0, 25.0, (n_ch, 1))
    x[-2:] *= 2.5  # VEO, HEO
    x += rng.uniform(-100.0, 100.0, (n_ch, 1))
    rows = [TWIN_FILE_CHANNELS.index(c) for c in PLANTED_CHANNELS]
    for (a, b), label in zip(table, LABELS[session], strict=True):
        start, stop = round(a * sfreq), round(b * sfreq)
        band = _noise(rng, len(rows), stop - start, sfreq, PLANTED_BAND)
        x[rows, start:stop] += effect * PLANTED_RMS_UV * label * band
    if subject_shift:
        for a, b in table:
            start, stop = round(a * sfreq), round(b * sfreq)
            x[:, start:stop] = shift_stimulus(
                x[:, start:stop], sd=subject_shift, seed=seed, subject=subject, sfreq=sfreq, bands=DE_BANDS
            )
    return x


def twin_date(subject: int, session: int) -> date:
    """The recording date in the twin's file names and headers."""
    return date(2018, 4, 2) + timedelta(days=3 * (subject - 1) + 14 * (session - 1))


def write_twin(root: str | Path, *, n_subjects: int = 3, seed: int = 0, effect: float = 1.0,
               trials: Table = TWIN_TRIALS, sfreq: int = int(FILE_SFREQ), data_format: str = "int32",
               features: bool = True, subject_shift: float = 0.0) -> list[Path]:  # fmt: skip
    """Write a SEED-V twin under ``root``: ``EEG_raw/{s}_{k}_{date}.cnt`` for subjects 1..``n_subjects``
    and sessions 1-3 (:func:`twin_signal`, 66 channels, events at each trial's start (code 1) and end
    (code 2)), and with ``features`` ``EEG_DE_features/{s}_123.npz`` (:func:`twin_features`), plus a
    ``SYNTHETIC.json`` marker. Returns the ``.cnt`` files in (subject, session) order. Same arguments,
    same bytes. ``subject_shift``: :func:`twin_signal`'s (0: none, and the files of before it existed)."""
    if not 1 <= n_subjects <= N_SUBJECTS or effect < 0 or subject_shift < 0:
        raise ValueError(
            f"n_subjects must be 1-{N_SUBJECTS}, effect and subject_shift >= 0 ({n_subjects}, {effect}, "
            f"{subject_shift})"
        )
    root = Path(root)
    (root / RAW).mkdir(parents=True, exist_ok=True)
    written = []
    for s in range(1, n_subjects + 1):
        trial_features: dict[int, np.ndarray] = {}
        for k in SESSIONS:
            x = twin_signal(s, k, seed=seed, effect=effect, trials=trials, sfreq=sfreq,
                            subject_shift=subject_shift)  # fmt: skip
            day = twin_date(s, k)
            path = root / RAW / f"{s}_{k}_{day:%Y%m%d}.cnt"
            events = [
                (round(t * sfreq), code) for a, b in trials[k] for t, code in ((a, 1), (b - 1 / sfreq, 2))
            ]
            write_cnt(path, TWIN_FILE_CHANNELS, sfreq, x, data_format=data_format, events=events,
                      start=datetime.combine(day, datetime.min.time()).replace(hour=9), patient=f"S{s}",
                      label=f"session {k}")  # fmt: skip
            written.append(path)
            if features:
                eeg = x[[TWIN_FILE_CHANNELS.index(c) for c in EEG_CHANNELS]]
                for t, (a, b) in enumerate(trials[k]):
                    trial_features[15 * (k - 1) + t] = twin_features(
                        eeg[:, round(a * sfreq) : round(b * sfreq)], sfreq
                    )
        if features:
            labels = {
                i: np.full(len(v), LABELS[i // 15 + 1][i % 15], dtype=np.float64)
                for i, v in trial_features.items()
            }
            (root / FEATURES).mkdir(exist_ok=True)
            members = {
                "data": pickle.dumps(trial_features, protocol=4),
                "label": pickle.dumps(labels, protocol=4),
            }
            atomic_write(root / FEATURES / f"{s}_123.npz", _npz_bytes(members))
    marker = {"dataset": NAME, "n_subjects": n_subjects, "seed": seed, "effect": effect, "sfreq": sfreq,
              "data_format": data_format, "trials": {str(k): v for k, v in trials.items()},
              **({"subject_shift": float(subject_shift)} if subject_shift else {})}  # fmt: skip
    atomic_write(root / MARKER, json.dumps(marker, indent=1, sort_keys=True) + "\n")
    return written


def _npz_bytes(members: dict[str, bytes]) -> bytes:
    """An npz as ``np.savez`` writes one (each value a 0-d bytes array, stored uncompressed), with a fixed
    timestamp so the same members give the same bytes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for name, raw in members.items():
            npy = io.BytesIO()
            np.lib.format.write_array(npy, np.array(raw), allow_pickle=False)
            zf.writestr(zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0)), npy.getvalue())
    return buf.getvalue()


DE_BANDS = ((1.0, 4.0), (4.0, 8.0), (8.0, 14.0), (14.0, 31.0), (31.0, 50.0))
"""Delta, theta, alpha, beta, gamma (Hz), the SEED family's five DE bands."""


def twin_features(eeg: np.ndarray, sfreq: float) -> np.ndarray:
    """(windows, 310) DE per 1-s window, channel-major (62 x 5): ``0.5 log(2 pi e var)`` of each band's
    part of the window (from its spectrum), as the published features are for 4-s windows."""
    n = round(sfreq)
    w = eeg.shape[1] // n
    win = eeg[:, : w * n].reshape(eeg.shape[0], w, n)
    spec = np.abs(np.fft.rfft(win - win.mean(axis=-1, keepdims=True), axis=-1)) ** 2
    freqs = np.fft.rfftfreq(n, 1 / sfreq)
    var = np.stack([spec[..., (freqs >= lo) & (freqs < hi)].sum(-1) * 2 / n**2 for lo, hi in DE_BANDS], -1)
    return (0.5 * np.log(2 * np.pi * np.e * var)).transpose(1, 0, 2).reshape(w, -1)
