"""DREAMER (Katsigiannis & Ramzan, IEEE J. Biomedical and Health Informatics 2018): 23 subjects x 18 film
clips, raw 14-channel Emotiv EPOC EEG, ratings 1-5.

Layout read
-----------
One MATLAB v5 file, ``DREAMER.mat``, as documented by TorchEEG's and EEGain's DREAMER readers, other
public readers (Python and MATLAB) and a published MATLAB dump of the file's top-level struct. It holds
one variable, ``DREAMER``, a 1x1 struct with the fields ``Data, EEG_SamplingRate, ECG_SamplingRate,
EEG_Electrodes, noOfSubjects, noOfVideoSequences, Disclaimer, Provider, Version, Acknowledgement``. The
reader uses (and checks):

* ``EEG_SamplingRate``: 128 (Hz); any other value is refused.
* ``EEG_Electrodes``: a 1x14 cell of strings, exactly :data:`EEG_CHANNELS` in that order
  (AF3, F7, F3, FC5, T7, P7, O1, O2, P8, T8, FC6, F4, F8, AF4); any other list is refused.
* ``Data``: a 1xN cell, one struct per subject; subject ``s`` (1-based, the harness's subject number) is
  ``Data{s}``. Each subject struct has ``Age`` and ``Gender`` (strings, not read), ``EEG`` and ``ECG``
  (structs with ``baseline`` and ``stimuli``; ECG, 2 channels at 256 Hz, is not read) and
  ``ScoreValence``, ``ScoreArousal``, ``ScoreDominance`` (18x1, integers 1-5).
* ``EEG.baseline`` and ``EEG.stimuli``: 18x1 cells, cell ``t`` a samples x 14 double array in microvolts
  (raw Emotiv values, with a DC offset near 4000 uV). Each baseline is 61 s (7808 samples) recorded
  before its clip; stimulus lengths are the clips' lengths (65-393 s).

The file is loaded with ``scipy.io.loadmat``'s default layout (every struct and cell level a 2-D array,
indexed ``[0, 0]`` / ``[t, 0]``, as TorchEEG indexes it), without scipy's check for overlong compressed
streams (as TorchEEG loads it: the check has false positives on files MATLAB wrote, and a damaged stream
still fails to decompress). Every level's type and shape is checked, and anything else (a cell where a
struct or numbers are expected, a string, a MATLAB object, a wrong shape) is a one-line
:class:`~bench.core.errors.DataError` naming the file, the subject, the trial and the MATLAB field. All
subjects are read from the one file, so :func:`find` loads it to learn how many subjects it holds and
keeps it (one file at a time) for the reads that follow.

What the reader returns
-----------------------
DREAMER's EEG is raw, so each recording gets DEAP's preprocessing before it is cut, making every
dataset's features comparable: common average reference over the 14 channels, then a 4-45 Hz band-pass
(``mne.filter.filter_data``: FIR, zero phase), applied to each baseline recording and each stimulus
recording separately. A trial's row is then the whole 61 s baseline (the last 61 s, should a baseline be
longer; a shorter one is refused) followed by the LAST 60 s of the clip (film clips build towards their
emotional peak, so the end is the part most likely to carry the rated emotion; every DREAMER clip is at
least 65 s, and a stimulus shorter than 60 s is refused): 121 s = 15488 samples at 128 Hz, channels in
:data:`EEG_CHANNELS` order. Ratings are the three scores as valence, arousal, dominance on 1-5 (high if
> 3; a score outside 1-5 is refused). Trial ids are the clips' 0-based positions in the file; a subject may
hold fewer than 18 clips (the synthetic twin's subjects do), never more.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bench.core.errors import DataError
from bench.data.datasets import Dataset, SubjectRecording, register_dataset
from bench.data.datasets.matfile import save_mat
from bench.data.preprocess import deap_like
from bench.data.safeload import check_ratings, describe_mat_value, first_non_finite, load_mat
from bench.data.synthetic import SIGNAL_DECIMALS, open_twin_folder, planted_signals, subject_rng, write_marker

if TYPE_CHECKING:
    from bench.data.synthetic import SyntheticConfig

FILE_NAME = "DREAMER.mat"
VARIABLE = "DREAMER"

SFREQ = 128.0
"""Sampling rate of DREAMER's EEG (``EEG_SamplingRate``), Hz."""
ECG_SFREQ = 256.0
"""Sampling rate of DREAMER's ECG (``ECG_SamplingRate``), Hz; the ECG is not read."""

EEG_CHANNELS: tuple[str, ...] = (
    "AF3", "F7", "F3", "FC5", "T7", "P7", "O1", "O2", "P8", "T8", "FC6", "F4", "F8", "AF4",
)  # fmt: skip
"""The 14 Emotiv EPOC channels, in the order of ``EEG_Electrodes`` and the EEG arrays' columns."""

BASELINE_S = 61.0
"""Seconds of baseline per trial: the whole 61 s baseline recording."""
TRIAL_S = 60.0
"""Seconds of stimulus per trial: the last 60 s of the clip."""
N_BASELINE = round(BASELINE_S * SFREQ)  # 7808
N_STIMULUS = round(TRIAL_S * SFREQ)  # 7680
N_TRIALS = 18
N_SUBJECTS = 23
RATING_NAMES: tuple[str, ...] = ("valence", "arousal", "dominance")
SCORE_FIELDS: tuple[str, ...] = ("ScoreValence", "ScoreArousal", "ScoreDominance")
"""The subject fields holding :data:`RATING_NAMES`, in that order."""
SCALE = (1.0, 5.0)
THRESHOLD = 3.0
"""The band-pass applied to every recording (DEAP's preprocessing), Hz."""

_TOP_FIELDS = ("Data", "EEG_SamplingRate", "EEG_Electrodes")
_SUBJECT_FIELDS = ("EEG", *SCORE_FIELDS)
_EEG_PARTS = ("baseline", "stimuli")


# ------------------------------------------------------------------------------------------ file checks
def _is_struct(value: object) -> bool:
    return type(value) is np.ndarray and value.dtype.names is not None and value.shape == (1, 1)


def _struct(value: object, where: str, field: str, required: Iterable[str]) -> np.void:
    """The record of a 1x1 struct holding the ``required`` fields, or a DataError."""
    if not _is_struct(value):
        raise DataError(f"{where}: {field} is {describe_mat_value(value)}, expected a 1x1 struct")
    missing = [f for f in required if f not in value.dtype.names]
    if missing:
        raise DataError(
            f"{where}: {field} has no field(s) {', '.join(missing)} (found {', '.join(value.dtype.names)})"
        )
    return value[0, 0]


def _cell(value: object, where: str, field: str) -> np.ndarray:
    """A cell (object array) as loaded, or a DataError."""
    if type(value) is not np.ndarray or value.dtype.kind != "O" or value.ndim != 2:
        raise DataError(f"{where}: {field} is {describe_mat_value(value)}, expected a cell")
    return value


def _numbers(value: object, where: str, field: str) -> np.ndarray:
    """A real numeric array, or a DataError (strings, cells, structs, objects, complex numbers)."""
    if type(value) is not np.ndarray or value.dtype.kind not in "iuf":
        raise DataError(f"{where}: {field} is {describe_mat_value(value)}, expected numbers")
    return value


def _scalar(value: object, where: str, field: str) -> float:
    arr = _numbers(value, where, field)
    if arr.size != 1:
        raise DataError(f"{where}: {field} is {describe_mat_value(value)}, expected one number")
    return float(arr.reshape(-1)[0])


def _electrodes(value: object, where: str) -> tuple[str, ...]:
    """``EEG_Electrodes`` as names: a 1xN cell of strings."""
    cell = _cell(value, where, f"{VARIABLE}.EEG_Electrodes")
    names = []
    for i, el in enumerate(cell.reshape(-1)):
        if type(el) is not np.ndarray or el.dtype.kind != "U" or el.size != 1:
            raise DataError(
                f"{where}: {VARIABLE}.EEG_Electrodes{{{i + 1}}} is {describe_mat_value(el)}, "
                "expected a string"
            )
        names.append(str(el.reshape(-1)[0]))
    return tuple(names)


# ---------------------------------------------------------------------------------------- the file memo
_MEMO: tuple[tuple[str, int, int], list[dict[str, object]]] | None = None
"""The last file loaded: (resolved path, size, mtime_ns) -> per subject, the fields the reader uses."""
_MEMO_LOCK = threading.Lock()


def _file_key(path: Path) -> tuple[str, int, int]:
    try:
        st = path.stat()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return str(path.resolve()), st.st_size, st.st_mtime_ns


def _load(path: Path) -> list[dict[str, object]]:
    """Load ``DREAMER.mat`` and check its top level: per subject, a dict of the fields the reader uses.

    Only the last file loaded is kept (keyed by its resolved path, size and modification time), so
    ``find`` and the reads of every subject load the file once; ECG and the other unused fields are let
    go."""
    global _MEMO
    key = _file_key(path)
    with _MEMO_LOCK:
        if _MEMO is not None and _MEMO[0] == key:
            return _MEMO[1]
        _MEMO = None  # let go of the previous file before loading the next
        mat = load_mat(path, (VARIABLE,), verify_compressed_data_integrity=False)
        if VARIABLE not in mat:
            raise DataError(f"{path}: no variable {VARIABLE!r}; not DREAMER.mat?")
        top = _struct(mat[VARIABLE], str(path), VARIABLE, _TOP_FIELDS)
        rate = _scalar(top["EEG_SamplingRate"], str(path), f"{VARIABLE}.EEG_SamplingRate")
        if rate != SFREQ:
            raise DataError(f"{path}: {VARIABLE}.EEG_SamplingRate is {rate:g}, expected {SFREQ:g} (Hz)")
        names = _electrodes(top["EEG_Electrodes"], str(path))
        if names != EEG_CHANNELS:
            got, want = ", ".join(names), ", ".join(EEG_CHANNELS)
            raise DataError(f"{path}: {VARIABLE}.EEG_Electrodes is {got}; expected {want}")
        data = _cell(top["Data"], str(path), f"{VARIABLE}.Data")
        if data.shape[0] != 1 or data.shape[1] == 0:
            raise DataError(
                f"{path}: {VARIABLE}.Data is {describe_mat_value(data)}, expected a 1xN cell of subjects"
            )
        subjects = []
        for i in range(data.shape[1]):
            field = f"{VARIABLE}.Data{{{i + 1}}} (subject {i + 1})"
            rec = _struct(data[0, i], str(path), field, _SUBJECT_FIELDS)
            subjects.append({name: rec[name] for name in _SUBJECT_FIELDS})
        _MEMO = (key, subjects)
        return subjects


def clear_memo() -> None:
    """Forget the loaded file (tests; a long-lived process done with DREAMER)."""
    global _MEMO
    with _MEMO_LOCK:
        _MEMO = None


# ------------------------------------------------------------------------------------------------ find
def _locate(root: Path) -> Path:
    """The DREAMER.mat a root names: the file itself, one in the folder, or one in a folder below."""
    if root.is_file():
        return root
    if not root.is_dir():
        raise DataError(f"{root}: DREAMER folder or file not found")
    if (root / FILE_NAME).is_file():
        return root / FILE_NAME
    below = sorted(p for p in root.glob(f"*/{FILE_NAME}") if p.is_file())
    if len(below) > 1:
        raise DataError(f"{root}: several {FILE_NAME} files ({', '.join(map(str, below))}); name one")
    if not below:
        raise DataError(f"{root}: no {FILE_NAME} in this folder or the folders in it")
    return below[0]


def find(root: Path, subjects: Iterable[int] | None = None) -> dict[int, tuple[Path, ...]]:
    """``{subject: (DREAMER.mat,)}`` for the requested subjects (all in the file if None).

    ``root`` is the folder holding ``DREAMER.mat`` (or a folder one level above it) or the file itself.
    The file is loaded to learn its number of subjects (1..N in the order of ``Data``)."""
    path = _locate(Path(root).expanduser())
    n = len(_load(path))
    wanted = range(1, n + 1) if subjects is None else sorted(set(subjects))
    missing = [s for s in wanted if not 1 <= s <= n]
    if missing:
        raise DataError(
            f"{path}: no subject(s) {', '.join(map(str, missing))} (the file holds subjects 1-{n})"
        )
    return {s: (path,) for s in wanted}


# ------------------------------------------------------------------------------------------------ read
def _preprocess(x: np.ndarray) -> np.ndarray:
    """DEAP's preprocessing (:func:`bench.data.preprocess.deap_like`) of one (channels, samples) recording."""
    return deap_like(x, SFREQ)


def _recording(value: object, where: str, field: str, min_samples: int, what: str) -> np.ndarray:
    """One samples x 14 EEG recording, checked, as a float64 (14, samples) array."""
    arr = _numbers(value, where, field)
    if arr.ndim != 2 or arr.shape[1] != len(EEG_CHANNELS):
        raise DataError(
            f"{where}: {field} is {describe_mat_value(arr)}, expected samples x {len(EEG_CHANNELS)}"
        )
    if arr.shape[0] < min_samples:
        raise DataError(
            f"{where}: {field} has {arr.shape[0]} samples ({arr.shape[0] / SFREQ:.2f} s), shorter than "
            f"the {min_samples / SFREQ:g} s of {what} a trial needs"
        )
    bad = first_non_finite(arr)
    if bad is not None:
        raise DataError(
            f"{where}: non-finite EEG value in {field} at channel {EEG_CHANNELS[bad[1]]}, sample {bad[0]}"
        )
    return np.asarray(arr, dtype=np.float64).T


def read(files: tuple[Path, ...], subject: int) -> SubjectRecording:
    """One subject's trials: the 61 s baseline then the last 60 s of each clip, preprocessed (module
    docstring), with its valence, arousal and dominance scores."""
    path = Path(files[0])
    subjects = _load(path)
    if not 1 <= subject <= len(subjects):
        raise DataError(f"{path}: no subject {subject} (the file holds subjects 1-{len(subjects)})")
    rec = subjects[subject - 1]
    where = f"{path}: subject {subject}"
    field = f"{VARIABLE}.Data{{{subject}}}"
    eeg = _struct(rec["EEG"], where, f"{field}.EEG", _EEG_PARTS)
    cells = {part: _cell(eeg[part], where, f"{field}.EEG.{part}") for part in _EEG_PARTS}
    scores = {name: _numbers(rec[name], where, f"{field}.{name}") for name in SCORE_FIELDS}
    n = cells["stimuli"].shape[0]
    if not 1 <= n <= N_TRIALS:
        raise DataError(f"{where}: {field}.EEG.stimuli has {n} clips, expected 1-{N_TRIALS}")
    for name, value in {**{f"EEG.{p}": c for p, c in cells.items()}, **scores}.items():
        if value.shape != (n, 1):
            raise DataError(
                f"{where}: {field}.{name} is {describe_mat_value(value)}, "
                f"expected {n}x1 like {field}.EEG.stimuli"
            )
    ratings = check_ratings(np.column_stack([scores[f] for f in SCORE_FIELDS]), where, RATING_NAMES, SCALE)
    out = np.empty((n, len(EEG_CHANNELS), N_BASELINE + N_STIMULUS))
    for t in range(n):
        parts = []
        for part, need, what in (("baseline", N_BASELINE, "baseline"), ("stimuli", N_STIMULUS, "stimulus")):
            name = f"{field}.EEG.{part}{{{t + 1}}}"
            x = _recording(cells[part][t, 0], f"{where} trial {t}", name, need, what)
            parts.append(_preprocess(x)[:, -need:])
        out[t] = np.concatenate(parts, axis=-1)
    return SubjectRecording(
        subject=subject, eeg=out, ratings=ratings, path=path, sfreq=SFREQ, channel_names=EEG_CHANNELS,
        trial_ids=tuple(range(n)),
    )  # fmt: skip


# --------------------------------------------------------------------------------------- the twin
TWIN_CLIP_SEED = 2018
TWIN_CLIP_SAMPLES: tuple[int, ...] = tuple(
    int(n) for n in np.random.default_rng(TWIN_CLIP_SEED).integers(65 * 128, 120 * 128 + 1, N_TRIALS)
)
"""Stimulus samples of the twin's 18 clips (the same for every subject), drawn once from a fixed seed in
65-120 s. DREAMER's real clips run 65-393 s; the twin keeps them short to stay small."""


def _ecg(rng: np.random.Generator, n: int, heart_hz: float) -> np.ndarray:
    """(n, 2) label-free ECG at 256 Hz: R-peak pulses on an electrode offset, plus noise."""
    t = np.arange(n) / ECG_SFREQ
    phase = (t * heart_hz + rng.uniform()) % 1.0
    beat = 1500.0 * np.exp(-0.5 * ((phase - 0.5) / 0.012) ** 2) - 200.0 * np.exp(
        -0.5 * ((phase - 0.8) / 0.05) ** 2
    )
    gains = rng.uniform(0.6, 1.0, 2)
    offsets = rng.uniform(1800.0, 2200.0, 2)
    ecg = offsets + beat[:, None] * gains + rng.normal(0.0, 10.0, (n, 2))
    return np.round(ecg, SIGNAL_DECIMALS)  # rounded like every twin signal (see SIGNAL_DECIMALS)


def _cell_of(arrays: Iterable[np.ndarray]) -> np.ndarray:
    """An n x 1 MATLAB cell of the arrays (an object array filled one by one, never broadcast)."""
    arrays = list(arrays)
    cell = np.empty((len(arrays), 1), dtype=object)
    for i, a in enumerate(arrays):
        cell[i, 0] = a
    return cell


def twin_subject(config: SyntheticConfig, subject: int) -> dict[str, object]:
    """One subject's struct for the twin, as ``savemat`` writes it (see :func:`write_synthetic`)."""
    n = int(config.n_trials)
    lengths = TWIN_CLIP_SAMPLES[:n]
    rng = subject_rng(config, subject)
    ratings, base, stim = planted_signals(
        rng, config, channels=EEG_CHANNELS, sfreq=SFREQ, n_trials=n, n_baseline=N_BASELINE,
        n_stimulus=max(lengths), scale=SCALE, threshold=THRESHOLD, integer_ratings=True, subject=subject,
    )  # fmt: skip
    # what a raw headset adds, label-free and drawn after the planted signals: a DC offset per channel
    # (Emotiv's ~4000-4400 uV), shifting a little between recordings
    dc = rng.uniform(4000.0, 4400.0, len(EEG_CHANNELS))
    shift = rng.normal(0.0, 5.0, (n, 2, len(EEG_CHANNELS)))
    eeg_base = [base[t].T + dc + shift[t, 0] for t in range(n)]
    eeg_stim = [stim[t, :, : lengths[t]].T + dc + shift[t, 1] for t in range(n)]
    heart_hz = rng.uniform(1.0, 1.5)
    ecg_base = [_ecg(rng, round(BASELINE_S * ECG_SFREQ), heart_hz) for _ in range(n)]
    ecg_stim = [_ecg(rng, 2 * lengths[t], heart_hz) for t in range(n)]
    age, gender = str(int(rng.integers(22, 34))), str(rng.choice(["male", "female"]))
    scores = {f: ratings[:, k].astype(np.uint8).reshape(n, 1) for k, f in enumerate(SCORE_FIELDS)}
    return {
        "Age": age,
        "Gender": gender,
        "EEG": {"baseline": _cell_of(eeg_base), "stimuli": _cell_of(eeg_stim)},
        "ECG": {"baseline": _cell_of(ecg_base), "stimuli": _cell_of(ecg_stim)},
        **scores,
    }


def twin_struct(config: SyntheticConfig) -> dict[str, object]:
    """The twin's ``DREAMER`` struct (a dict ``savemat`` writes as DREAMER's nesting)."""
    data = np.empty((1, int(config.n_subjects)), dtype=object)
    for s in range(1, int(config.n_subjects) + 1):
        data[0, s - 1] = twin_subject(config, s)
    electrodes = np.empty((1, len(EEG_CHANNELS)), dtype=object)
    electrodes[0, :] = EEG_CHANNELS
    return {
        "Data": data,
        "EEG_SamplingRate": SFREQ,
        "ECG_SamplingRate": ECG_SFREQ,
        "EEG_Electrodes": electrodes,
        "noOfSubjects": float(config.n_subjects),
        "noOfVideoSequences": float(config.n_trials),
        "Disclaimer": "Synthetic data written by deap-bench; not DREAMER. Results computed from it are "
        "synthetic.",
        "Provider": "deap-bench synthetic twin",
        "Version": "synthetic-1",
        "Acknowledgement": "Layout after Katsigiannis & Ramzan, DREAMER, IEEE JBHI 22(1), 2018.",
    }


def save_dreamer(path: Path, struct: dict[str, object]) -> None:
    """Write ``{"DREAMER": struct}`` as a MATLAB v5 file, atomically."""
    save_mat(path, {VARIABLE: struct}, format="5", oned_as="column")


def write_synthetic(folder: Path, config: SyntheticConfig) -> list[Path]:
    """Write the twin's ``DREAMER.mat`` and ``SYNTHETIC.json`` into ``folder``; returns ``[DREAMER.mat]``.

    The file has DREAMER's nesting (loaded back, it has the structure the reader expects of the real
    file): ``config.n_subjects`` subjects, the first ``config.n_trials`` clips each, EEG at 128 Hz with a
    raw headset's DC offset per channel, 61 s baselines, stimuli of :data:`TWIN_CLIP_SAMPLES`, integer
    scores 1-5, 2-channel ECG at 256 Hz and the top-level fields. The shared signal model plants the
    rating effects (:func:`bench.data.synthetic.planted_signals`)."""
    folder = open_twin_folder(folder, FILE_NAME)
    path = folder / FILE_NAME
    save_dreamer(path, twin_struct(config))
    write_marker(folder, config)
    return [path]


DREAMER = register_dataset(
    Dataset(
        name="dreamer",
        title="DREAMER",
        citation="Katsigiannis & Ramzan, DREAMER: a database for emotion recognition through EEG and ECG "
        "signals from wireless low-cost off-the-shelf devices, IEEE J. Biomedical and Health Informatics "
        "22(1), 2018",
        channels=EEG_CHANNELS,
        sfreq=SFREQ,
        baseline_s=BASELINE_S,
        trial_s=TRIAL_S,
        rating_names=RATING_NAMES,
        scale=SCALE,
        threshold=THRESHOLD,
        n_subjects=N_SUBJECTS,
        n_trials=N_TRIALS,
        env="DREAMER_DIR",
        layout="DREAMER.mat (MATLAB v5), one file for all subjects: struct DREAMER, Data 1xN cell of subject "
        "structs, EEG.baseline / EEG.stimuli 18x1 cells of samples x 14 at 128 Hz, scores 18x1",
        find=find,
        read=read,
        write_synthetic=write_synthetic,
        digest_salt="dreamer/reader-v1/61s+last60s",
        shared_file=True,
        baseline_where="of the 61 s baseline recorded before the clip",
    )
)
