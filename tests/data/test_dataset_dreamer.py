"""DREAMER: the twin's file round trip, the preprocessing, the planted effect, the file memo, bad input."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from scipy.io import loadmat
from scipy.io.matlab import MatlabObject
from scipy.signal import welch

from bench.core.errors import DataError
from bench.data.datasets import dreamer as D
from bench.data.datasets import get_dataset
from bench.data.synthetic import MARKER, SyntheticConfig, planted_signals, subject_rng

SMALL = SyntheticConfig(dataset="dreamer", n_subjects=2, n_trials=4, seed=5)
TINY = SyntheticConfig(dataset="dreamer", n_subjects=1, n_trials=1, seed=1)
LEFT, RIGHT = ("AF3", "F3", "F7", "FC5"), ("AF4", "F4", "F8", "FC6")


@pytest.fixture(scope="module")
def twin(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("dreamer") / "copy"
    assert D.write_synthetic(folder, SMALL) == [folder / "DREAMER.mat"]
    return folder


def _planted(config: SyntheticConfig, subject: int):
    """What the twin's generator drew for a subject (ratings, baseline, stimulus)."""
    return planted_signals(
        subject_rng(config, subject), config, channels=D.EEG_CHANNELS, sfreq=128.0,
        n_trials=config.n_trials, n_baseline=7808, n_stimulus=max(D.TWIN_CLIP_SAMPLES[: config.n_trials]),
        scale=(1.0, 5.0), threshold=3.0, integer_ratings=True,
    )  # fmt: skip


def _car(x: np.ndarray) -> np.ndarray:
    return x - x.mean(axis=-2, keepdims=True)


# ------------------------------------------------------------------------------------ round trip
def test_registered_entry():
    ds = get_dataset("dreamer")
    assert ds is D.DREAMER and ds.channels == D.EEG_CHANNELS and len(ds.channels) == 14
    assert (ds.sfreq, ds.baseline_s, ds.trial_s) == (128.0, 61.0, 60.0)
    assert (ds.n_baseline, ds.n_samples) == (7808, 15488)
    assert (ds.n_subjects, ds.n_trials, ds.scale, ds.threshold) == (23, 18, (1.0, 5.0), 3.0)
    assert ds.rating_names == ("valence", "arousal", "dominance") and ds.env == "DREAMER_DIR"
    assert ds.shared_file and ds.digest_salt == "dreamer/reader-v1/61s+last60s"


def test_twin_file_has_dreamers_nesting(twin):
    assert (twin / MARKER).is_file()
    top = loadmat(twin / "DREAMER.mat")["DREAMER"]
    assert top.shape == (1, 1)
    assert top.dtype.names == (
        "Data", "EEG_SamplingRate", "ECG_SamplingRate", "EEG_Electrodes", "noOfSubjects",
        "noOfVideoSequences", "Disclaimer", "Provider", "Version", "Acknowledgement",
    )  # fmt: skip
    top = top[0, 0]
    assert top["EEG_SamplingRate"][0, 0] == 128 and top["ECG_SamplingRate"][0, 0] == 256
    assert (top["noOfSubjects"][0, 0], top["noOfVideoSequences"][0, 0]) == (2, 4)
    assert tuple(e[0] for e in top["EEG_Electrodes"][0]) == D.EEG_CHANNELS
    assert top["Data"].shape == (1, 2) and top["Data"].dtype == object
    lengths = D.TWIN_CLIP_SAMPLES[:4]
    assert all(65 * 128 <= n <= 120 * 128 for n in D.TWIN_CLIP_SAMPLES) and len(D.TWIN_CLIP_SAMPLES) == 18
    for s in range(2):
        subj = top["Data"][0, s]
        assert subj.shape == (1, 1)
        subj = subj[0, 0]
        assert subj.dtype.names == ("Age", "Gender", "EEG", "ECG", *D.SCORE_FIELDS)
        assert subj["Gender"][0] in ("male", "female") and subj["Age"][0].isdigit()
        eeg, ecg = subj["EEG"][0, 0], subj["ECG"][0, 0]
        assert eeg["baseline"].shape == eeg["stimuli"].shape == ecg["stimuli"].shape == (4, 1)
        assert [eeg["baseline"][t, 0].shape for t in range(4)] == [(7808, 14)] * 4
        assert [eeg["stimuli"][t, 0].shape for t in range(4)] == [(n, 14) for n in lengths]  # same clips
        assert [ecg["stimuli"][t, 0].shape for t in range(4)] == [(2 * n, 2) for n in lengths]
        assert ecg["baseline"][0, 0].shape == (61 * 256, 2)
        dc = eeg["stimuli"][0, 0].mean(axis=0)  # a raw headset's offset per channel
        assert dc.min() > 3950 and dc.max() < 4450 and dc.std() > 20
        ratings, _, _ = _planted(SMALL, s + 1)
        for k, name in enumerate(("ScoreValence", "ScoreArousal", "ScoreDominance")):
            assert subj[name].shape == (4, 1) and subj[name].dtype == np.uint8
            np.testing.assert_array_equal(subj[name][:, 0], ratings[:, k])


def test_find_and_read_round_trip(twin):
    path = twin / "DREAMER.mat"
    assert D.find(twin, None) == {1: (path,), 2: (path,)}
    assert D.find(twin.parent, [2]) == {2: (path,)}  # the folder above
    assert D.find(path, [2, 1]) == {1: (path,), 2: (path,)}  # the file itself
    for s in (1, 2):
        rec = D.read((path,), s)
        assert rec.subject == s and rec.path == path and rec.sfreq == 128.0
        assert rec.channel_names == D.EEG_CHANNELS and rec.trial_ids == (0, 1, 2, 3)
        assert rec.eeg.shape == (4, 14, 15488) and rec.eeg.dtype == np.float64
        ratings, base, stim = _planted(SMALL, s)
        np.testing.assert_array_equal(rec.ratings, ratings[:, :3])
        assert rec.ratings.dtype == np.float64 and set(np.unique(rec.ratings)) <= {1, 2, 3, 4, 5}
        # the generator's signal, referenced to the average: the baseline, and the LAST 60 s of each clip
        last60 = np.stack([stim[t, :, n - 7680 : n] for t, n in enumerate(D.TWIN_CLIP_SAMPLES[:4])])
        want = np.concatenate([_car(base), _car(last60)], axis=-1)
        assert np.abs(rec.eeg.mean(axis=-1)).max() < 1.0  # the ~4000 uV DC offset is gone
        rel = np.sqrt(np.mean((rec.eeg - want) ** 2) / np.mean(want**2))
        assert rel < 0.06  # only what lay outside 4-45 Hz differs
        for part in (slice(0, 7808), slice(7808, None)):  # baseline, stimulus
            f, p_got = welch(rec.eeg[..., part], fs=128.0, nperseg=256)
            _, p_want = welch(want[..., part], fs=128.0, nperseg=256)

            def ratio(lo, hi, f=f, p_got=p_got, p_want=p_want):
                band = (f >= lo) & (f <= hi)
                return p_got[..., band].mean() / p_want[..., band].mean()

            assert 0.99 < ratio(10.0, 10.0) < 1.01  # 10 Hz power kept
            assert 0.99 < ratio(4.0, 45.0) < 1.01  # the band kept
            assert ratio(1.5, 2.5) < 0.05 and ratio(50.0, 64.0) < 0.1  # below and above it: removed


def test_planted_valence_effect_survives_the_reader(tmp_path):
    """Frontal alpha asymmetry: left-frontal alpha falls, right-frontal alpha rises with valence."""
    config = SyntheticConfig(dataset="dreamer", n_subjects=2, n_trials=9, seed=2, effect_size=3.0)
    (path,) = D.write_synthetic(tmp_path, config)
    z, left, right = [], [], []
    for s in (1, 2):
        rec = D.read((path,), s)
        f, p = welch(rec.eeg[:, :, 7808:], fs=128.0, nperseg=256)
        alpha = np.log(p[..., (f >= 8) & (f < 14)].mean(axis=-1))  # (trials, channels)
        ch = {c: i for i, c in enumerate(rec.channel_names)}
        for out, names in ((left, LEFT), (right, RIGHT)):
            a = alpha[:, [ch[c] for c in names]].mean(axis=1)
            out.extend(a - a.mean())
        v = (rec.ratings[:, 0] - 3.0) / 2.0
        z.extend(v - v.mean())
    assert np.corrcoef(z, left)[0, 1] < -0.5
    assert np.corrcoef(z, right)[0, 1] > 0.5


def test_longer_baseline_uses_its_last_61_s(tmp_path):
    struct = D.twin_struct(TINY)
    D.save_dreamer(tmp_path / "a.mat", struct)
    base = struct["Data"][0, 0]["EEG"]["baseline"]
    extra = 4000.0 + 300.0 * np.sin(2 * np.pi * 20.0 * np.arange(640) / 128.0)[:, None] * np.ones(14)
    base[0, 0] = np.concatenate([extra, base[0, 0]])  # 5 s of something else before the last 61 s
    D.save_dreamer(tmp_path / "b.mat", struct)
    a, b = D.read((tmp_path / "a.mat",), 1).eeg, D.read((tmp_path / "b.mat",), 1).eeg
    assert a.shape == b.shape == (1, 14, 15488)
    np.testing.assert_allclose(b[..., 128:], a[..., 128:], atol=1e-6)  # past the filter's edge: the same


# ------------------------------------------------------------------------------------------ the memo
def test_the_file_is_loaded_once_for_find_and_every_read(twin, monkeypatch):
    calls = []
    real = D.load_mat
    monkeypatch.setattr(D, "load_mat", lambda *a, **k: calls.append(a[0]) or real(*a, **k))
    D.clear_memo()
    files = D.find(twin, None)
    for s, f in files.items():
        D.read(f, s)
    assert calls == [twin / "DREAMER.mat"]
    st = (twin / "DREAMER.mat").stat()
    os.utime(twin / "DREAMER.mat", ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # changed file
    D.read(files[1], 1)
    assert len(calls) == 2


def test_twin_refuses_to_overwrite_a_real_copy(tmp_path):
    (tmp_path / "DREAMER.mat").write_bytes(b"real data")
    with pytest.raises(DataError, match="not synthetic"):
        D.write_synthetic(tmp_path, TINY)
    assert (tmp_path / "DREAMER.mat").read_bytes() == b"real data"


# ------------------------------------------------------------------------------------------ bad input
def _fails(fn, expected: str) -> None:
    with pytest.raises(DataError) as info:
        fn()
    msg = str(info.value)
    assert "\n" not in msg
    assert msg == expected


def test_find_errors(tmp_path, twin):
    _fails(lambda: D.find(tmp_path / "nope", None), f"{tmp_path / 'nope'}: DREAMER folder or file not found")
    _fails(lambda: D.find(tmp_path, None), f"{tmp_path}: no DREAMER.mat in this folder or the folders in it")
    path = twin / "DREAMER.mat"
    _fails(lambda: D.find(twin, [2, 3, 24]), f"{path}: no subject(s) 3, 24 (the file holds subjects 1-2)")
    _fails(lambda: D.read((path,), 3), f"{path}: no subject 3 (the file holds subjects 1-2)")
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "DREAMER.mat").write_bytes(b"")
    _fails(
        lambda: D.find(tmp_path, None),
        f"{tmp_path}: several DREAMER.mat files ({tmp_path / 'a' / 'DREAMER.mat'}, "
        f"{tmp_path / 'b' / 'DREAMER.mat'}); name one",
    )


def test_unreadable_files(tmp_path):
    path = tmp_path / "DREAMER.mat"
    _fails(lambda: D.read((path,), 1), f"{path}: file not found")
    path.write_bytes(b"MATLAB 5.0 MAT-file" + bytes(200))
    with pytest.raises(DataError, match=r"^.*DREAMER\.mat: not a readable MATLAB file \(") as info:
        D.find(path, None)
    assert "\n" not in str(info.value)
    path.write_bytes(b"MATLAB 7.3 MAT-file, Platform: GLNXA64" + bytes(200))
    v73 = f"{path}: a MATLAB v7.3 (HDF5) file; expected the dataset's v5 .mat file"
    _fails(lambda: D.find(path, None), v73)


def _electrodes(names) -> np.ndarray:
    cell = np.empty((1, len(names)), dtype=object)
    cell[0, :] = names
    return cell


def _subject(s: dict) -> dict:
    return s["Data"][0, 0]


def _set(keys, value):
    """A mutation setting a nested entry of the twin's struct (dict keys and (cell, index) steps)."""

    def mutate(s):
        obj = s
        for k in keys[:-1]:
            obj = obj[k]
        obj[keys[-1]] = value

    return mutate


def _stimulus(fn):
    def mutate(s):
        cell = _subject(s)["EEG"]["stimuli"]
        cell[0, 0] = fn(cell[0, 0])

    return mutate


def _non_finite(x):
    x = x.copy()
    x[100, 3] = np.inf
    return x


SWAPPED = ("F7", "AF3", *D.EEG_CHANNELS[2:])
OBJECT = MatlabObject(np.zeros((1, 1), dtype=[("baseline", object)]), classname="timeseries")
SUBJ_FIELDS = "Age, Gender, EEG, ECG, ScoreValence, ScoreDominance"
TOP_FIELDS = (
    "EEG_SamplingRate, ECG_SamplingRate, EEG_Electrodes, noOfSubjects, noOfVideoSequences, Disclaimer, "
    "Provider, Version, Acknowledgement"
)
S1 = "subject 1: DREAMER.Data{1}"
T0 = "subject 1 trial 0: DREAMER.Data{1}.EEG"

CASES = [  # (id, mutation of the twin's DREAMER struct, the message after "<path>: ")
    ("rate", _set(["EEG_SamplingRate"], 256.0), "DREAMER.EEG_SamplingRate is 256, expected 128 (Hz)"),
    ("rate-string", _set(["EEG_SamplingRate"], "128"),
     "DREAMER.EEG_SamplingRate is a string, expected numbers"),
    ("electrodes", _set(["EEG_Electrodes"], _electrodes(SWAPPED)),
     f"DREAMER.EEG_Electrodes is {', '.join(SWAPPED)}; expected {', '.join(D.EEG_CHANNELS)}"),
    ("electrodes-13", _set(["EEG_Electrodes"], _electrodes(D.EEG_CHANNELS[:13])),
     f"DREAMER.EEG_Electrodes is {', '.join(D.EEG_CHANNELS[:13])}; expected {', '.join(D.EEG_CHANNELS)}"),
    ("electrodes-numbers", _set(["EEG_Electrodes"], np.zeros((1, 14))),
     "DREAMER.EEG_Electrodes is a 1x14 float64 array, expected a cell"),
    ("no-data", lambda s: s.pop("Data"), f"DREAMER has no field(s) Data (found {TOP_FIELDS})"),
    ("data-struct", _set(["Data"], {"x": 1.0}), "DREAMER.Data is a 1x1 struct, expected a cell"),
    ("subject-number", _set(["Data", (0, 0)], 5.0),
     "DREAMER.Data{1} (subject 1) is a 1x1 float64 array, expected a 1x1 struct"),
    ("subject-cell", _set(["Data", (0, 0)], _electrodes(["a", "b"])),
     "DREAMER.Data{1} (subject 1) is a 1x2 cell, expected a 1x1 struct"),
    ("subject-string", _set(["Data", (0, 0)], "subject"),
     "DREAMER.Data{1} (subject 1) is a string, expected a 1x1 struct"),
    ("no-score", lambda s: _subject(s).pop("ScoreArousal"),
     f"DREAMER.Data{{1}} (subject 1) has no field(s) ScoreArousal (found {SUBJ_FIELDS})"),
    ("eeg-object", _set(["Data", (0, 0), "EEG"], OBJECT),
     "subject 1: DREAMER.Data{1}.EEG is a MATLAB object of class 'timeseries', expected a 1x1 struct"),
    ("eeg-no-stimuli", _set(["Data", (0, 0), "EEG"], {"baseline": D._cell_of([np.zeros((7808, 14))])}),
     "subject 1: DREAMER.Data{1}.EEG has no field(s) stimuli (found baseline)"),
    ("stimuli-numbers", _set(["Data", (0, 0), "EEG", "stimuli"], np.zeros((7680, 14))),
     f"{S1}.EEG.stimuli is a 7680x14 float64 array, expected a cell"),
    ("stimuli-2", _set(["Data", (0, 0), "EEG", "stimuli"], D._cell_of([np.zeros((7680, 14))] * 2)),
     f"{S1}.EEG.baseline is a 1x1 cell, expected 2x1 like DREAMER.Data{{1}}.EEG.stimuli"),
    ("score-shape", _set(["Data", (0, 0), "ScoreValence"], np.array([[3, 4]], dtype=np.uint8)),
     f"{S1}.ScoreValence is a 1x2 uint8 array, expected 1x1 like DREAMER.Data{{1}}.EEG.stimuli"),
    ("score-string", _set(["Data", (0, 0), "ScoreValence"], "high"),
     f"{S1}.ScoreValence is a string, expected numbers"),
    ("score-0", _set(["Data", (0, 0), "ScoreValence"], np.array([[0]], dtype=np.uint8)),
     "subject 1: rating valence of trial 0 is 0.0, outside 1-5"),
    ("score-6", _set(["Data", (0, 0), "ScoreDominance"], np.array([[6.0]])),
     "subject 1: rating dominance of trial 0 is 6.0, outside 1-5"),
    ("short-stimulus", _stimulus(lambda x: x[:7000]),
     f"{T0}.stimuli{{1}} has 7000 samples (54.69 s), shorter than the 60 s of stimulus a trial needs"),
    ("short-baseline", _set(["Data", (0, 0), "EEG", "baseline", (0, 0)], np.zeros((7807, 14))),
     f"{T0}.baseline{{1}} has 7807 samples (60.99 s), shorter than the 61 s of baseline a trial needs"),
    ("13-channels", _stimulus(lambda x: x[:, :13]),
     f"{T0}.stimuli{{1}} is a {D.TWIN_CLIP_SAMPLES[0]}x13 float64 array, expected samples x 14"),
    ("stimulus-cell", _stimulus(lambda x: _electrodes(["a"])),
     f"{T0}.stimuli{{1}} is a 1x1 cell, expected numbers"),
    ("stimulus-string", _stimulus(lambda x: "eeg"), f"{T0}.stimuli{{1}} is a string, expected numbers"),
    ("stimulus-struct", _stimulus(lambda x: {"a": x}),
     f"{T0}.stimuli{{1}} is a 1x1 struct, expected numbers"),
    ("non-finite", _stimulus(_non_finite),
     "subject 1 trial 0: non-finite EEG value in DREAMER.Data{1}.EEG.stimuli{1} at channel FC5, sample 100"),
]  # fmt: skip


@pytest.mark.parametrize("mutate, message", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_file(tmp_path, mutate, message):
    struct = D.twin_struct(TINY)
    mutate(struct)
    path = tmp_path / "DREAMER.mat"
    D.save_dreamer(path, struct)
    _fails(lambda: D.read(D.find(tmp_path, None)[1], 1), f"{path}: {message}")


def test_wrong_variable(tmp_path):
    from scipy.io import savemat

    path = tmp_path / "DREAMER.mat"
    savemat(path, {"data": np.zeros((2, 2))})
    _fails(lambda: D.find(path, None), f"{path}: no variable 'DREAMER'; not DREAMER.mat?")
    savemat(path, {"DREAMER": _electrodes(["a"])})
    _fails(lambda: D.find(path, None), f"{path}: DREAMER is a 1x1 cell, expected a 1x1 struct")
