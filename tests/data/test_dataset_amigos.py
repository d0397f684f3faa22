"""AMIGOS: the reader on its twin (exact values, the planted effect) and on every kind of bad file."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy.io import loadmat, savemat
from scipy.signal import welch

from bench.core.errors import DataError
from bench.data.datasets import get_dataset
from bench.data.datasets.amigos import (
    EEG_CHANNELS,
    N_BASELINE,
    N_STIMULUS,
    find,
    read,
    twin_lengths,
)
from bench.data.synthetic import SyntheticConfig, planted_signals, subject_rng

CONFIG = SyntheticConfig(dataset="amigos", n_subjects=2, n_trials=4, seed=3, effect_size=4.0)


@pytest.fixture(scope="module")
def twin(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("amigos") / "data"
    files = get_dataset("amigos").write_synthetic(folder, CONFIG)
    assert [f.name for f in files] == ["Data_Preprocessed_P01.mat", "Data_Preprocessed_P02.mat"]
    return folder


def _expected(subject: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What the twin's generator drew for ``subject``: ratings (4 shared), baseline, stimulus."""
    lengths = twin_lengths()[: CONFIG.n_trials]
    return planted_signals(
        subject_rng(CONFIG, subject), CONFIG, channels=EEG_CHANNELS, sfreq=128.0, n_trials=4,
        n_baseline=640, n_stimulus=int(lengths.max()) - 640,
    )  # fmt: skip


def test_round_trip(twin):
    ds = get_dataset("amigos")
    found = ds.find(twin, None)
    assert found == {s: (twin / f"Data_Preprocessed_P0{s}.mat",) for s in (1, 2)}
    lengths = twin_lengths()
    assert lengths.min() >= 51 * 128 and lengths.max() <= 150 * 128
    for s in (1, 2):
        rec = ds.read(found[s], s)
        ratings, base, stim = _expected(s)
        assert rec.eeg.shape == (4, 14, 6400) == (4, len(ds.channels), ds.n_samples)
        assert rec.eeg.dtype == np.float64 and rec.ratings.dtype == np.float64
        assert rec.channel_names == ds.channels == EEG_CHANNELS and rec.sfreq == 128.0
        assert rec.trial_ids == (0, 1, 2, 3) and rec.subject == s and rec.path == found[s][0]
        np.testing.assert_array_equal(rec.ratings[:, :4], ratings)  # valence, arousal, dominance, liking
        for i in range(4):
            n = int(lengths[i])  # the trial's last 45 s are stimulus samples n-640-5760 .. n-640
            row = np.concatenate([base[i], stim[i, :, n - 640 - 5760 : n - 640]], axis=-1)
            np.testing.assert_array_equal(rec.eeg[i], row)
        # the file stores arousal first; familiarity is its 5th column
        raw = np.concatenate(loadmat(found[s][0])["labels_selfassessment"][0, :4])
        np.testing.assert_array_equal(raw[:, [1, 0, 2, 3, 4]], rec.ratings)
        assert set(np.unique(raw[:, 5:])) <= {0.0, 1.0}


def test_twin_file_holds_the_real_variables(twin):
    mat = loadmat(twin / "Data_Preprocessed_P01.mat")
    assert sorted(k for k in mat if not k.startswith("__")) == [
        "VideoIDs", "joined_data", "labels_ext_annotation", "labels_selfassessment",
    ]  # fmt: skip
    for name in ("VideoIDs", "joined_data", "labels_ext_annotation", "labels_selfassessment"):
        assert mat[name].shape == (1, 20) and mat[name].dtype == object
    data = mat["joined_data"][0]
    assert [c.shape for c in data[:4]] == [(int(n), 17) for n in twin_lengths()[:4]]
    assert all(c.shape == (0, 0) for c in data[4:])  # short videos beyond n_trials, and the 4 long ones
    assert all(c.shape == (1, 0) for c in mat["labels_selfassessment"][0, 4:])
    ext = mat["labels_ext_annotation"][0, 0]
    assert ext.shape == (int(twin_lengths()[0]) // 2560, 3)
    assert mat["VideoIDs"][0, 0].shape == (1,) and str(mat["VideoIDs"][0, 16][0]) == "N1"
    assert (data[0][:, 16] > 0).all()  # GSR is a positive level


def test_planted_effect_survives_the_reader(twin):
    """Left-frontal alpha falls with valence, right-frontal alpha rises (within-subject correlation)."""
    left = [EEG_CHANNELS.index(c) for c in ("AF3", "F3", "F7", "FC5")]
    right = [EEG_CHANNELS.index(c) for c in ("AF4", "F4", "F8", "FC6")]
    xs, ls, rs = [], [], []
    for s in (1, 2):
        rec = read((twin / f"Data_Preprocessed_P0{s}.mat",), s)
        f, p = welch(rec.eeg[..., N_BASELINE:], fs=128.0, nperseg=256)
        alpha = np.log(p[..., (f >= 8) & (f < 14)].mean(-1))  # (trials, channels)
        xs.append(rec.ratings[:, 0] - rec.ratings[:, 0].mean())
        ls.append(alpha[:, left].mean(1) - alpha[:, left].mean())
        rs.append(alpha[:, right].mean(1) - alpha[:, right].mean())
    x, left_alpha, right_alpha = map(np.concatenate, (xs, ls, rs))
    assert np.corrcoef(x, left_alpha)[0, 1] < -0.5
    assert np.corrcoef(x, right_alpha)[0, 1] > 0.5


def test_registry_entry(twin):
    ds = get_dataset("amigos")
    assert ds.name == "amigos" and ds.title == "AMIGOS" and ds.env == "AMIGOS_DIR"
    assert ds.rating_names == ("valence", "arousal", "dominance", "liking", "familiarity")
    assert (ds.baseline_s, ds.trial_s, ds.sfreq, ds.scale, ds.threshold) == (5.0, 45.0, 128.0, (1, 9), 5.0)
    assert (ds.n_subjects, ds.n_trials, ds.shared_file) == (40, 16, False)
    assert ds.n_samples == round((ds.baseline_s + ds.trial_s) * ds.sfreq) == 6400 == N_BASELINE + N_STIMULUS
    assert ds.digest_salt == "amigos/reader-v1/first5s+last45s"
    assert read((twin / "Data_Preprocessed_P01.mat",), 1).eeg.shape[-1] == ds.n_samples


# ---- find: layouts downloads come in -----------------------------------------------------------------


def test_find_nested_layouts_and_single_file(twin, tmp_path):
    eegain = tmp_path / "AMIGOS" / "Physiological Recordings" / "Matlab Preprocessed Data"
    nested = tmp_path / "nested"
    for s in (1, 2):
        name = f"Data_Preprocessed_P0{s}.mat"
        (nested / name[:-4]).mkdir(parents=True)
        shutil.copy(twin / name, nested / name[:-4] / name)
    eegain.mkdir(parents=True)
    shutil.copy(twin / "Data_Preprocessed_P02.mat", eegain)
    (eegain.parent / "Matlab Original Data").mkdir()
    (eegain.parent / "Matlab Original Data" / "Data_Original_P02.mat").write_bytes(b"x")
    assert find(nested, [2]) == {2: (nested / "Data_Preprocessed_P02" / "Data_Preprocessed_P02.mat",)}
    assert find(tmp_path / "AMIGOS", None) == {2: (eegain / "Data_Preprocessed_P02.mat",)}
    one = nested / "Data_Preprocessed_P01" / "Data_Preprocessed_P01.mat"
    assert find(one, None) == {1: (one,)}
    assert read(find(nested, [1])[1], 1).trial_ids == (0, 1, 2, 3)


# ---- bad input: each a one-line DataError starting with the file's path --------------------------------


def _raises(message: str, fn, *args) -> None:
    with pytest.raises(DataError, match="^" + re.escape(message) + "$") as info:
        fn(*args)
    assert "\n" not in str(info.value)


def test_find_errors(twin, tmp_path):
    _raises(f"{tmp_path / 'nope'}: AMIGOS folder not found", find, tmp_path / "nope", None)
    _raises(
        f"{tmp_path}: no AMIGOS participant files (Data_Preprocessed_PXX.mat) found under it",
        find,
        tmp_path,
        None,
    )
    _raises(f"{twin}: no Data_Preprocessed_P07.mat under it (subject(s) 7)", find, twin, [1, 7])
    both = tmp_path / "both"
    (both / "Data_Preprocessed_P01").mkdir(parents=True)
    first, second = (
        both / "Data_Preprocessed_P01.mat",
        both / "Data_Preprocessed_P01" / "Data_Preprocessed_P01.mat",
    )
    shutil.copy(twin / "Data_Preprocessed_P01.mat", first)
    shutil.copy(twin / "Data_Preprocessed_P01.mat", second)
    shutil.copy(twin / "Data_Preprocessed_P02.mat", both)
    # paths sort by their parts: the sub-folder Data_Preprocessed_P01 comes before Data_Preprocessed_P01.mat
    _raises(f"{second}: participant 1 has more than one file ({second}, {first}); keep one", find, both, None)
    assert find(both, [2]) == {2: (both / "Data_Preprocessed_P02.mat",)}  # only the ones asked for matter


def _cell(values) -> np.ndarray:
    out = np.empty((1, len(values)), dtype=object)
    for i, v in enumerate(values):
        out[0, i] = v
    return out


def _variables(n_used: int = 2, seconds: float = 51.0) -> dict[str, np.ndarray]:
    """A small valid participant file: ``n_used`` short trials of ``seconds``, the rest empty."""
    rng = np.random.default_rng(0)
    n = round(seconds * 128)
    data = [rng.normal(0.0, 10.0, (n, 17)) if i < n_used else np.zeros((0, 0)) for i in range(20)]
    labels = [
        np.array([[6.0, 3.5, 5, 5, 2, 1, 0, 0, 0, 0, 0, 0]]) if i < n_used else np.zeros((1, 0))
        for i in range(20)
    ]
    return {
        "VideoIDs": _cell([str(i + 1) for i in range(20)]),
        "joined_data": _cell(data),
        "labels_ext_annotation": _cell([np.zeros((0, 0))] * 20),
        "labels_selfassessment": _cell(labels),
    }


def _write(tmp_path: Path, variables: dict) -> Path:
    path = tmp_path / "Data_Preprocessed_P05.mat"
    savemat(path, variables)
    return path


def _set(variables: dict, name: str, trial: int, value) -> dict:
    variables[name][0, trial] = value
    return variables


def test_valid_small_file_and_missing_trials(tmp_path):
    v = _variables(n_used=4)
    _set(v, "joined_data", 1, np.zeros((0, 0)))  # no data recorded: skipped
    _set(v, "labels_selfassessment", 2, np.zeros((1, 0)))  # no ratings: skipped
    path = _write(tmp_path, v)
    rec = read((path,), 5)
    assert rec.trial_ids == (0, 3) and rec.eeg.shape == (2, 14, 6400)
    np.testing.assert_array_equal(rec.ratings, [[3.5, 6.0, 5, 5, 2]] * 2)  # valence first
    trial = v["joined_data"][0, 3]
    np.testing.assert_array_equal(rec.eeg[1, :, :640], trial[:640, :14].T)  # the first 5 s
    np.testing.assert_array_equal(rec.eeg[1, :, 640:], trial[-5760:, :14].T)  # the last 45 s
    # a participant file with only long-video data has nothing to read
    v = _variables(n_used=0)
    _set(v, "joined_data", 17, np.ones((6528, 17)))
    _set(v, "labels_selfassessment", 17, np.ones((1, 12)))
    path = _write(tmp_path, v)
    _raises(f"{path}: no short-video trial has both data and ratings", read, (path,), 5)


def test_read_file_errors(tmp_path):
    path = tmp_path / "Data_Preprocessed_P05.mat"
    _raises(f"{path}: file not found", read, (path,), 5)
    path.write_bytes(b"not a MATLAB file" * 10)
    with pytest.raises(DataError, match=f"^{re.escape(str(path))}: not a readable MATLAB file") as info:
        read((path,), 5)
    assert "\n" not in str(info.value)
    _raises(f"{path}: subject number mismatch (5 != 6)", read, (path,), 6)
    other = tmp_path / "P05.mat"
    _raises(
        f"{other}: not an AMIGOS participant file name (expected Data_Preprocessed_PXX.mat)",
        read,
        (other,),
        5,
    )


BAD = [
    # (mutation, message after "<path>: ")
    (
        lambda v: v.pop("joined_data"),
        "missing variable(s) 'joined_data' "
        "(found ['VideoIDs', 'labels_ext_annotation', 'labels_selfassessment'])",
    ),
    (
        lambda v: v.update(joined_data=np.zeros((100, 17))),
        "'joined_data' must be a 1x20 cell, got a 100x17 float64 array",
    ),
    (
        lambda v: v.update(labels_selfassessment={"a": np.ones((1, 12))}),
        "'labels_selfassessment' must be a 1x20 cell, got a 1x1 struct",
    ),
    (lambda v: v.update(joined_data=v["joined_data"][:, :10]), "'joined_data' is a 1x10 cell, expected 1x20"),
    (
        lambda v: _set(v, "joined_data", 1, np.ones((6528, 16))),
        "'joined_data' trial 1 has shape (6528, 16), expected (samples, 17)",
    ),
    (
        lambda v: _set(v, "joined_data", 0, _cell([np.ones((6528, 17))])),
        "'joined_data' trial 0 must be numbers, got a 1x1 cell",
    ),
    (
        lambda v: _set(v, "labels_selfassessment", 1, "high"),
        "'labels_selfassessment' trial 1 must be numbers, got a string",
    ),
    (
        lambda v: _set(v, "labels_selfassessment", 0, {"valence": 5.0}),
        "'labels_selfassessment' trial 0 must be numbers, got a 1x1 struct",
    ),
    (
        lambda v: _set(v, "labels_selfassessment", 1, np.ones((1, 5))),
        "'labels_selfassessment' trial 1 has shape (1, 5), expected (1, 12)",
    ),
    (
        lambda v: _set(v, "joined_data", 1, np.ones((40 * 128, 17))),
        "trial 1 lasts 40 s (5120 samples), shorter than the 5 s + 45 s a row needs",
    ),
    (
        lambda v: v["joined_data"][0, 1].__setitem__((6000, 3), np.nan),
        "non-finite EEG value in trial 1, channel FC5, sample 6000; "
        "leave this participant out with --subjects",
    ),
    (
        lambda v: v["joined_data"][0, 0].__setitem__((10, 13), np.inf),
        "non-finite EEG value in trial 0, channel AF4, sample 10; leave this participant out with --subjects",
    ),
    (
        lambda v: v["labels_selfassessment"][0, 1].__setitem__((0, 1), 9.5),
        "rating valence of trial 1 is 9.5, outside 1-9",
    ),
    (
        lambda v: v["labels_selfassessment"][0, 0].__setitem__((0, 4), 0.0),
        "rating familiarity of trial 0 is 0.0, outside 1-9",
    ),
]


@pytest.mark.parametrize(("mutate", "message"), BAD, ids=range(len(BAD)))
def test_bad_files(tmp_path, mutate, message):
    v = _variables()
    mutate(v)
    path = _write(tmp_path, v)
    _raises(f"{path}: {message}", read, (path,), 5)


def test_unused_parts_are_not_checked(tmp_path):
    """NaNs in the unused middle of a trial or in ECG/GSR, and the 7 emotions, are never read."""
    v = _variables(seconds=60.0)
    v["joined_data"][0, 0][1000, 2] = np.nan  # between the first 5 s and the last 45 s
    v["joined_data"][0, 1][:, 14:] = np.nan  # ECG_Right, ECG_Left, GSR
    v["labels_selfassessment"][0, 0][0, 6] = 7.0
    path = _write(tmp_path, v)
    assert np.isfinite(read((path,), 5).eeg).all()
