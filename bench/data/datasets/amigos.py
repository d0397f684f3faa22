"""AMIGOS (Miranda-Correa et al., IEEE TAC 2021): 40 participants, 16 short emotional videos each.

Layout read
-----------
The preprocessed release: one MATLAB v5 file ``Data_Preprocessed_PXX.mat`` per participant (``XX`` =
01..40; the subject number is taken from the file name, and a number outside 1-40 is refused: such a
file is not one of the release's). The files are found recursively under the
folder given, so all the shapes downloads come in are read: the files side by side, one sub-folder per
participant (``Data_Preprocessed_P01/Data_Preprocessed_P01.mat``), or the dataset's top folder
(``Physiological Recordings/Matlab Preprocessed Data/``); a single file may be given too. Two files for
one participant asked for are refused (naming both) rather than one picked silently.

Each file holds four variables, each a 1 x 20 cell, one cell per video, in video-number order:

* ``joined_data{i}``: samples x 17 doubles at 128 Hz; columns 0-13 are the EEG (:data:`EEG_CHANNELS`,
  the Emotiv order AF3 ... AF4), then ``ECG_Right``, ``ECG_Left``, ``GSR`` (not read). ``(0, 0)`` when
  nothing was recorded for that video.
* ``labels_selfassessment{i}``: 1 x 12 - arousal, valence, dominance, liking, familiarity (1-9,
  continuous), then 7 binary basic emotions (neutral, disgust, happiness, surprise, anger, fear,
  sadness; not read). ``(1, 0)`` when missing.
* ``labels_ext_annotation{i}`` (20-s segments x 3: segment, valence, arousal from external annotators)
  and ``VideoIDs{i}`` (the video's id): not read.

This is the layout TorchEEG's and EEGain's AMIGOS readers index, and the one the dataset's own readme
(as quoted by public readers) describes; the column order of the ratings (arousal first) is the one
both readers use.

What the reader returns
-----------------------
Only the 16 short-video trials (cells 0-15) are used, as TorchEEG and EEGain do: the 4 long videos
(cells 16-19) were not watched by every participant. A trial whose data or ratings cell is empty is a
documented missing trial: it is skipped, and ``trial_ids`` says which cells the rows are. The
preprocessed release has no separate pre-stimulus recording, so the baseline is the first 5 s of the
trial, that is of the clip itself (TorchEEG takes it so), and the stimulus part is the trial's LAST
45 s (the shortest short video lasts about 51 s, so every trial yields the same length, and the end of
the clip is what the participant saw just before rating it). A row is therefore ``samples[0:640]``
followed by the last 5760 samples; a trial shorter than 50 s is refused. Ratings are reordered to
valence, arousal, dominance, liking, familiarity.

Which seconds of that baseline the features subtract is the feature option ``baseline_s``: the last
``baseline_s`` seconds of it, so by default (3 s) seconds 2-5 of the clip, unlike the other datasets'
pre-stimulus baselines. ``-F baseline_s=5`` takes seconds 0-5 (TorchEEG's baseline) and
``-F baseline=none`` subtracts none. Either way the consequence is that baseline removal subtracts the
first seconds of the response to the clip itself, not a resting state: effects present from the clip's
start are weakened, those that build up over the clip are kept (:meth:`Dataset.baseline_segment`).

The data are already preprocessed by the dataset's authors with DEAP's steps (128 Hz, common average
reference, 4-45 Hz band-pass), so this reader does not filter or resample. Values are taken to be
microvolts. A non-finite EEG value in the samples a row is cut from is refused, naming trial, channel
and sample in the file's own numbering: TorchEEG leaves P09, P12, P21-P24 and P33 out by default for
invalid data in the preprocessed release, and other public readers guard against NaNs; such a
participant is left out with ``--subjects``. Values in the unused middle of a trial, the ECG/GSR
columns and the 7 emotions are not read and so not checked.

The files are read with ``scipy.io.loadmat`` (which runs no code); every value is checked, and every
problem is a one-line :class:`~bench.core.errors.DataError` starting with the file's path.

The synthetic twin
------------------
:func:`write_synthetic` writes the same four 1 x 20 cells with the real shapes. Each short video has a
fixed length for every participant (drawn once from a fixed seed, 51-150 s). EEG and the four shared
ratings come from the shared signal model (:func:`bench.data.synthetic.planted_signals`: its baseline
is the first 5 s, its stimulus the rest of the trial, drawn at the longest length and cropped). Drawn
after it and carrying no planted effect: familiarity (uniform 1-9), the 7 binary emotions, ECG_Right /
ECG_Left (a heartbeat at 60-90 per minute, arbitrary units) and GSR (a positive, slowly wandering
level), and external annotations (one row per whole 20 s: segment number, valence, arousal on 1-9).
``VideoIDs`` holds the short videos' numbers, then N1, P1, B1, U1 for the long ones. The long-video
cells are written empty - data (0, 0), ratings (1, 0), annotations (0, 0) - as for the participants
who did not watch them, and so are the short-video cells beyond ``config.n_trials``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from bench.core.errors import DataError
from bench.data.datasets import Dataset, SubjectRecording, register_dataset
from bench.data.datasets.matfile import save_mat
from bench.data.safeload import check_ratings, describe_mat_value, first_non_finite, load_mat
from bench.data.synthetic import SIGNAL_DECIMALS, open_twin_folder, planted_signals, subject_rng, write_marker

NAME = "amigos"
SFREQ = 128.0
"""Sampling rate of every column of the preprocessed files, Hz."""

EEG_CHANNELS: tuple[str, ...] = (
    "AF3", "F7", "F3", "FC5", "T7", "P7", "O1", "O2", "P8", "T8", "FC6", "F4", "F8", "AF4",
)  # fmt: skip
"""The 14 EEG channels (Emotiv EPOC), in the order of ``joined_data``'s columns 0-13."""
OTHER_CHANNELS: tuple[str, ...] = ("ECG_Right", "ECG_Left", "GSR")
"""Columns 14-16 of ``joined_data`` (never used as features)."""
ALL_CHANNELS: tuple[str, ...] = EEG_CHANNELS + OTHER_CHANNELS

N_SUBJECTS = 40
"""Participants of the release, numbered 1-40."""
N_CELLS = 20
"""Cells per variable: 16 short videos, then 4 long ones."""
N_SHORT = 16
"""The short-video trials, cells 0-15: the only ones read."""
FILE_RATINGS: tuple[str, ...] = ("arousal", "valence", "dominance", "liking", "familiarity")
"""The first five columns of ``labels_selfassessment`` in file order; 7 binary emotions follow."""
EMOTIONS: tuple[str, ...] = ("neutral", "disgust", "happiness", "surprise", "anger", "fear", "sadness")
RATING_NAMES: tuple[str, ...] = ("valence", "arousal", "dominance", "liking", "familiarity")
_FILE_ORDER = [FILE_RATINGS.index(n) for n in RATING_NAMES]
SCALE = (1.0, 9.0)
THRESHOLD = 5.0
"""A rating is high if it is above 5, as for DEAP."""
BASELINE_S = 5.0
TRIAL_S = 45.0
N_BASELINE = round(BASELINE_S * SFREQ)
"""The first 5 s of each trial (640 samples) stand in for the pre-stimulus baseline."""
N_STIMULUS = round(TRIAL_S * SFREQ)
"""The last 45 s of each trial (5760 samples)."""
FILE_RE = re.compile(r"^Data_Preprocessed_P(\d+)\.mat$")
FILE_GLOB = "Data_Preprocessed_P*.mat"
VARIABLES = ("VideoIDs", "joined_data", "labels_ext_annotation", "labels_selfassessment")
SHORT_VIDEO_IDS: tuple[str, ...] = (
    "4", "5", "9", "10", "13", "18", "19", "20", "23", "30", "31", "34", "36", "58", "80", "138",
)  # fmt: skip
LONG_VIDEO_IDS: tuple[str, ...] = ("N1", "P1", "B1", "U1")
"""The ids the twin writes into ``VideoIDs`` (the reader never reads them)."""
_HINT = "leave this participant out with --subjects"


def file_name(subject: int) -> str:
    return f"Data_Preprocessed_P{subject:02d}.mat"


def _participant(path: Path) -> int:
    """The participant number of a file's name; a DataError outside the release's 1-40."""
    m = FILE_RE.match(path.name)
    if m is None:
        raise DataError(f"{path}: not an AMIGOS participant file name (expected Data_Preprocessed_PXX.mat)")
    number = int(m.group(1))
    if not 1 <= number <= N_SUBJECTS:
        raise DataError(
            f"{path}: participant {number} is outside AMIGOS' participants 1-{N_SUBJECTS}; not a file of the "
            "release (rename or remove it)"
        )
    return number


def find(root: Path, subjects: Iterable[int] | None) -> dict[int, tuple[Path, ...]]:
    """Participant files under ``root`` (searched recursively; ``root`` may also be one file)."""
    root = Path(root).expanduser()
    if root.is_file() and FILE_RE.match(root.name):
        paths = [root]
    elif root.is_dir():
        paths = sorted(p for p in root.rglob(FILE_GLOB) if FILE_RE.match(p.name) and p.is_file())
    else:
        raise DataError(f"{root}: AMIGOS folder not found")
    if not paths:
        raise DataError(f"{root}: no AMIGOS participant files (Data_Preprocessed_PXX.mat) found under it")
    wanted = None if subjects is None else sorted(set(subjects))
    for s in wanted or ():
        if not 1 <= s <= N_SUBJECTS:
            raise DataError(f"{root}: subject {s} is outside AMIGOS' participants 1-{N_SUBJECTS}")
    found: dict[int, list[Path]] = {}
    for p in paths:
        number = int(FILE_RE.match(p.name).group(1))
        if wanted is None or number in wanted:  # a stray file of a participant not asked for is not read
            found.setdefault(_participant(p), []).append(p)
    wanted = sorted(found) if wanted is None else wanted
    missing = [s for s in wanted if s not in found]
    if missing:
        names = ", ".join(file_name(s) for s in missing)
        raise DataError(f"{root}: no {names} under it (subject(s) {', '.join(map(str, missing))})")
    for s in wanted:
        if len(found[s]) > 1:
            raise DataError(
                f"{found[s][0]}: participant {s} has more than one file ({', '.join(map(str, found[s]))}); "
                "keep one"
            )
    return {s: (found[s][0],) for s in wanted}


def _cells(obj: dict, name: str, path: Path) -> np.ndarray:
    """The variable ``name`` as its cells (a 1 x n cell with n >= 16), or a one-line DataError."""
    value = obj[name]
    if not isinstance(value, np.ndarray) or value.dtype != object or value.dtype.names is not None:
        raise DataError(f"{path}: '{name}' must be a 1x{N_CELLS} cell, got {describe_mat_value(value)}")
    if value.ndim != 2 or value.shape[0] != 1 or value.shape[1] < N_SHORT:
        raise DataError(f"{path}: '{name}' is a {'x'.join(map(str, value.shape))} cell, expected 1x{N_CELLS}")
    return value[0]


def _numbers(value: object, name: str, trial: int, path: Path) -> np.ndarray | None:
    """A cell's numeric array; None for an empty cell (a missing trial); a DataError for anything else."""
    if isinstance(value, np.ndarray) and value.size == 0:
        return None
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "iuf":
        raise DataError(f"{path}: '{name}' trial {trial} must be numbers, got {describe_mat_value(value)}")
    return value


def read(files: tuple[Path, ...], subject: int) -> SubjectRecording:
    """One participant's 16 short-video trials: first 5 s + last 45 s of EEG, and the 5 ratings."""
    if len(files) != 1:
        raise DataError(
            f"{files[0] if files else '?'}: AMIGOS reads one file per participant, got {len(files)}"
        )
    path = Path(files[0])
    number = _participant(path)
    if number != subject:
        raise DataError(f"{path}: subject number mismatch ({number} != {subject})")
    obj = load_mat(path)
    missing = [k for k in ("joined_data", "labels_selfassessment") if k not in obj]
    if missing:
        found = sorted(k for k in obj if not k.startswith("__"))
        raise DataError(f"{path}: missing variable(s) {', '.join(map(repr, missing))} (found {found})")
    data_cells = _cells(obj, "joined_data", path)
    label_cells = _cells(obj, "labels_selfassessment", path)
    rows, ratings, trial_ids = [], [], []
    for i in range(N_SHORT):
        data = _numbers(data_cells[i], "joined_data", i, path)
        labels = _numbers(label_cells[i], "labels_selfassessment", i, path)
        if data is None or labels is None:
            continue  # a documented missing trial
        if data.ndim != 2 or data.shape[1] != len(ALL_CHANNELS):
            raise DataError(
                f"{path}: 'joined_data' trial {i} has shape {data.shape}, "
                f"expected (samples, {len(ALL_CHANNELS)})"
            )
        if data.shape[0] < N_BASELINE + N_STIMULUS:
            raise DataError(
                f"{path}: trial {i} lasts {data.shape[0] / SFREQ:g} s ({data.shape[0]} samples), "
                f"shorter than the {BASELINE_S:g} s + {TRIAL_S:g} s a row needs"
            )
        if labels.shape != (1, len(FILE_RATINGS) + len(EMOTIONS)):
            raise DataError(
                f"{path}: 'labels_selfassessment' trial {i} has shape {labels.shape}, "
                f"expected (1, {len(FILE_RATINGS) + len(EMOTIONS)})"
            )
        starts = (0, data.shape[0] - N_STIMULUS)  # file sample where each part of the row begins
        parts = (data[:N_BASELINE, : len(EEG_CHANNELS)], data[starts[1] :, : len(EEG_CHANNELS)])
        for start, part in zip(starts, parts, strict=True):
            bad = first_non_finite(part)
            if bad is not None:
                raise DataError(
                    f"{path}: non-finite EEG value in trial {i}, channel {EEG_CHANNELS[bad[1]]}, "
                    f"sample {start + bad[0]}; {_HINT}"
                )
        rows.append(np.concatenate(parts, axis=0).T.astype(np.float64))
        ratings.append(labels[0, _FILE_ORDER].astype(np.float64))
        trial_ids.append(i)
    if not rows:
        raise DataError(f"{path}: no short-video trial has both data and ratings")
    table = np.stack(ratings)
    lo, hi = SCALE
    bad = ~np.isfinite(table) | (table < lo) | (table > hi)
    if bad.any():  # name the file's own trial number (rows skip missing trials)
        r, c = np.argwhere(bad)[0]
        raise DataError(
            f"{path}: rating {RATING_NAMES[c]} of trial {trial_ids[r]} is {table[r, c]}, "
            f"outside {lo:g}-{hi:g}"
        )
    table = check_ratings(table, path, RATING_NAMES, SCALE)
    return SubjectRecording(
        subject=subject, eeg=np.stack(rows), ratings=table, path=path, sfreq=SFREQ,
        channel_names=EEG_CHANNELS, trial_ids=tuple(trial_ids),
    )  # fmt: skip


# ---- the synthetic twin ------------------------------------------------------------------------------

TWIN_LENGTH_SEED = 2021
"""Seed of the short videos' lengths in the twin (the same for every participant and every config)."""


def twin_lengths() -> np.ndarray:
    """Samples in each of the 16 short-video trials of the twin: fixed, 51-150 s."""
    rng = np.random.default_rng(TWIN_LENGTH_SEED)
    return rng.integers(round(51 * SFREQ), round(150 * SFREQ) + 1, N_SHORT)


def _cell(values: list) -> np.ndarray:
    out = np.empty((1, len(values)), dtype=object)
    for i, v in enumerate(values):
        out[0, i] = v
    return out


def _other_channels(rng: np.random.Generator, n_trials: int, n: int) -> np.ndarray:
    """(trials, n, 3): ECG_Right, ECG_Left, GSR - plausible, label-free (arbitrary units)."""
    t = np.arange(n) / SFREQ
    heart = rng.uniform(1.0, 1.5, (n_trials, 1))  # 60-90 beats per minute
    beat = np.sin(np.pi * heart * t) ** 16  # narrow peaks once per beat
    ecg_r = 800.0 * beat + rng.normal(0.0, 20.0, (n_trials, n))
    ecg_l = -600.0 * beat + rng.normal(0.0, 20.0, (n_trials, n))
    gsr = rng.uniform(1000.0, 4000.0, (n_trials, 1)) + np.cumsum(rng.normal(0.0, 1.0, (n_trials, n)), axis=-1)
    # rounded like every twin signal (see SIGNAL_DECIMALS): files the same on every CPU
    return np.round(np.stack([ecg_r, ecg_l, gsr], axis=-1), SIGNAL_DECIMALS)


def twin_subject(config, subject: int) -> dict[str, np.ndarray]:
    """One participant's four variables (1 x 20 cells), deterministic for (config, subject)."""
    n_t = int(config.n_trials)
    lengths = twin_lengths()[:n_t]
    rng = subject_rng(config, subject)
    shared, base, stim = planted_signals(
        rng, config, channels=EEG_CHANNELS, sfreq=SFREQ, n_trials=n_t, n_baseline=N_BASELINE,
        n_stimulus=int(lengths.max()) - N_BASELINE, scale=SCALE, threshold=THRESHOLD, subject=subject,
    )  # fmt: skip
    familiarity = np.round(rng.uniform(1.0, 9.0, (n_t, 1)), 2)
    emotions = (rng.random((n_t, len(EMOTIONS))) < 0.25).astype(np.float64)
    file_ratings = np.column_stack(
        [shared[:, 1], shared[:, 0], shared[:, 2], shared[:, 3], familiarity, emotions]
    )
    other = _other_channels(rng, n_t, int(lengths.max()))
    empty_data, empty_labels = np.zeros((0, 0)), np.zeros((1, 0))
    data, labels, ext = [], [], []
    for i in range(N_CELLS):
        if i >= n_t:  # long videos, and short ones beyond config.n_trials: not recorded
            data.append(empty_data)
            labels.append(empty_labels)
            ext.append(empty_data)
            continue
        n = int(lengths[i])
        eeg = np.concatenate([base[i], stim[i, :, : n - N_BASELINE]], axis=-1)  # (channels, n)
        data.append(np.concatenate([eeg.T, other[i, :n]], axis=1))
        labels.append(file_ratings[i : i + 1])
        n_seg = n // round(20 * SFREQ)
        segments = np.arange(1, n_seg + 1, dtype=np.float64)
        ext.append(np.column_stack([segments, np.round(rng.uniform(1.0, 9.0, (n_seg, 2)), 2)]))
    return {
        "VideoIDs": _cell(list(SHORT_VIDEO_IDS + LONG_VIDEO_IDS)),
        "joined_data": _cell(data),
        "labels_ext_annotation": _cell(ext),
        "labels_selfassessment": _cell(labels),
    }


def write_synthetic(folder: Path, config) -> list[Path]:
    """Write ``Data_Preprocessed_P01.mat`` ... and ``SYNTHETIC.json`` into ``folder``; returns the files."""
    folder = open_twin_folder(folder, "Data_Preprocessed_P[0-9][0-9].mat")
    for stale in folder.glob("Data_Preprocessed_P[0-9][0-9].mat"):  # an earlier twin had more subjects
        if int(stale.name[-6:-4]) > int(config.n_subjects):
            stale.unlink()
    files = []
    for s in range(1, int(config.n_subjects) + 1):
        path = folder / file_name(s)
        variables = twin_subject(config, s)
        save_mat(path, variables, appendmat=False)
        files.append(path)
    write_marker(folder, config)
    return files


DATASET = register_dataset(
    Dataset(
        name=NAME,
        title="AMIGOS",
        citation="Miranda-Correa et al., AMIGOS: a dataset for affect, personality and mood research on "
        "individuals and groups, IEEE Trans. Affective Computing 12(2), 2021",
        channels=EEG_CHANNELS,
        sfreq=SFREQ,
        baseline_s=BASELINE_S,
        trial_s=TRIAL_S,
        rating_names=RATING_NAMES,
        scale=SCALE,
        threshold=THRESHOLD,
        n_subjects=N_SUBJECTS,
        n_trials=N_SHORT,
        env="AMIGOS_DIR",
        layout="Data_Preprocessed_PXX.mat, one per participant, anywhere under the folder (side by side, "
        "one sub-folder each, or Physiological Recordings/Matlab Preprocessed Data); the 16 short videos: "
        "first 5 s as baseline + last 45 s",
        find=find,
        read=read,
        write_synthetic=write_synthetic,
        digest_salt="amigos/reader-v1/first5s+last45s",
        shared_file=False,
        missing_trials=True,
        baseline_where="(no pre-stimulus recording in the release)",
        baseline_in_stimulus=True,
    )
)
