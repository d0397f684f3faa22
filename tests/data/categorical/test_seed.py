"""SEED: the twin's layout and round trip, the planted effect, numeric trial order, bad files."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy.io import loadmat, savemat

from bench.core.errors import DataError
from bench.data.categorical import seed as S
from bench.data.categorical import seed_common as C

SECONDS = (3.0, 6.0)
CLASSES = np.array(S.LABELS) + 1
FRONT = [C.CHANNELS.index(c) for c in C.EFFECT_CHANNELS]
BACK = [i for i in range(62) if i not in FRONT]


@pytest.fixture(scope="module")
def twin(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("seed") / "SEED"
    S.write_twin(root, n_subjects=2, seconds=SECONDS, seed=3)
    return root


@pytest.fixture(scope="module")
def flat(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("seed0") / "SEED"
    S.write_twin(root, n_subjects=1, seconds=SECONDS, seed=4, effect=0.0)
    return root


def _generated(seed: int, subject: int, effect: float = 1.0) -> list[list[np.ndarray]]:
    """The three sessions' trials the twin drew for a subject (float64, as written)."""
    lengths = C.twin_lengths(C.twin_rng(S._TWIN_TAG, seed, 0), 15, SECONDS)
    rng = C.twin_rng(S._TWIN_TAG, seed, subject)
    return [C.twin_signals(rng, CLASSES, lengths, effect) for _ in range(3)]


def _alpha_log_power(x: np.ndarray, rows: list[int]) -> float:
    spec = np.abs(np.fft.rfft(x[rows].astype(np.float64), axis=-1)) ** 2
    f = np.fft.rfftfreq(x.shape[1], 1 / 200)
    return float(np.log(spec[:, (f >= 8) & (f < 14)].mean(axis=-1)).mean())


def _class_means(values: list[float], classes: list[int], k: int) -> np.ndarray:
    v, c = np.array(values), np.array(classes)
    return np.array([v[c == i].mean() for i in range(k)])


# ------------------------------------------------------------------------------------ layout
def test_twin_has_the_real_layout(twin):
    eeg, feat = twin / "Preprocessed_EEG", twin / "ExtractedFeatures"
    names = ["1_20131001.mat", "1_20131008.mat", "1_20131016.mat"]
    names += ["2_20131031.mat", "2_20131107.mat", "2_20131115.mat"]
    assert sorted(p.name for p in eeg.iterdir()) == sorted([*names, "label.mat", "readme.txt"])
    assert sorted(p.name for p in feat.iterdir()) == sorted([*names, "label.mat"])
    for folder in (eeg, feat):
        lab = loadmat(folder / "label.mat")["label"]
        assert lab.shape == (1, 15) and lab.dtype == np.float64
        assert lab[0].tolist() == [1, 0, -1, -1, 0, 1, -1, 0, 1, 1, 0, -1, 0, 1, -1]
    info = json.loads((twin / "SYNTHETIC.json").read_text())
    assert info["dataset"] == "seed" and info["planted_effect"]["band_hz"] == [8.0, 14.0]
    assert not (twin / "SYNTHETIC.partial").exists()
    mat = loadmat(eeg / "2_20131107.mat")
    keys = C.mat_keys(mat)
    assert keys == sorted(f"jl_eeg{n}" for n in range(1, 16))  # MATLAB's name order: eeg10 before eeg2
    assert keys[:3] == ["jl_eeg1", "jl_eeg10", "jl_eeg11"]
    lengths = C.twin_lengths(C.twin_rng(S._TWIN_TAG, 3, 0), 15, SECONDS)
    assert len(set(lengths)) == 15 and all(600 <= n <= 1200 for n in lengths)
    assert [mat[f"jl_eeg{n}"].shape for n in range(1, 16)] == [(62, n) for n in lengths]
    assert all(mat[k].dtype == np.float64 for k in keys)
    fm = loadmat(feat / "2_20131107.mat")
    assert len(C.mat_keys(fm)) == 12 * 15
    channels = {"de": 62, "psd": 62, "dasm": 27, "rasm": 27, "asm": 54, "dcau": 23}
    for n, samples in zip((1, 9, 15), (lengths[0], lengths[8], lengths[14]), strict=True):
        for name, c in channels.items():
            for s in ("movingAve", "LDS"):
                assert fm[f"{name}_{s}{n}"].shape == (c, samples // 200, 5)
    d = fm["de_LDS4"]
    np.testing.assert_allclose(fm["asm_LDS4"], np.concatenate([fm["dasm_LDS4"], fm["rasm_LDS4"]]))
    np.testing.assert_allclose(fm["dasm_LDS4"][0], d[0] - d[2])  # FP1 - FP2
    np.testing.assert_allclose(fm["dcau_LDS4"][13], d[9] - d[45])  # FZ - PZ


def test_find_sessions_orders_by_date(twin):
    found = S.find_sessions(twin)
    assert [(s, k, p.name) for s, k, p in found] == [
        (1, 1, "1_20131001.mat"), (1, 2, "1_20131008.mat"), (1, 3, "1_20131016.mat"),
        (2, 1, "2_20131031.mat"), (2, 2, "2_20131107.mat"), (2, 3, "2_20131115.mat"),
    ]  # fmt: skip
    assert S.find_sessions(twin / "Preprocessed_EEG") == found
    assert [p.parent.name for *_, p in S.find_feature_sessions(twin)] == ["ExtractedFeatures"] * 6


# ------------------------------------------------------------------------------------ round trip
def test_eeg_round_trip(twin):
    generated = _generated(3, 2)
    for subject, session, path in S.find_sessions(twin)[3:]:
        rec = S.read_session(path, subject, session)
        assert (rec.dataset, rec.subject, rec.session, rec.sfreq) == ("seed", 2, session, 200.0)
        assert rec.channels == C.CHANNELS and rec.channels[:3] == ("FP1", "FPZ", "FP2")
        assert rec.trial_ids == tuple(range(1, 16)) and rec.source == str(path)
        assert rec.labels["emotion"].dtype == np.int64
        assert rec.labels["emotion"].tolist() == [2, 1, 0, 0, 1, 2, 0, 1, 2, 2, 1, 0, 1, 2, 0]
        for got, want in zip(rec.eeg, generated[session - 1], strict=True):
            assert got.dtype == np.float32 and got.shape == want.shape
            np.testing.assert_array_equal(got, want.astype(np.float32))  # trial order: eeg10 after eeg9


@pytest.mark.parametrize(("kind", "smoothing"), [("de", "LDS"), ("psd", "movingAve")])
def test_feature_round_trip(twin, kind, smoothing):
    trials = _generated(3, 1)[1]
    subject, session, path = S.find_feature_sessions(twin)[1]
    feats = S.read_features(path, subject, session, kind=kind, smoothing=smoothing)
    assert (feats.kind, feats.smoothing, feats.window_s, feats.n_trials) == (kind, smoothing, 1.0, 15)
    assert feats.labels["emotion"].tolist() == (np.array(S.LABELS) + 1).tolist()
    for got, x in zip(feats.features, trials, strict=True):
        raw = dict(zip(("de", "psd"), C.band_features(x, 1.0), strict=True))[kind]
        want = C.smoothed(raw, smoothing).transpose(1, 0, 2)
        assert got.dtype == np.float32 and got.shape == (x.shape[1] // 200, 62, 5)
        np.testing.assert_allclose(got, want, rtol=1e-6)
        # the file's features are those of the EEG the reader returns, within its float32 rounding
        again = C.smoothed(dict(zip(("de", "psd"), C.band_features(x.astype(np.float32).astype(float), 1.0),
                                    strict=True))[kind], smoothing)  # fmt: skip
        np.testing.assert_allclose(got, again.transpose(1, 0, 2), rtol=1e-4, atol=1e-4)


def test_smoothers_behave():
    f = np.random.default_rng(0).normal(size=(2, 40, 5))
    ma = C.moving_average(f)
    np.testing.assert_allclose(ma[:, 10], f[:, 8:13].mean(axis=1))
    np.testing.assert_allclose(ma[:, 0], f[:, :3].mean(axis=1))
    lds = C.lds_smooth(f)
    assert lds.shape == f.shape and lds.std() < 0.6 * f.std()  # smooths white noise
    np.testing.assert_allclose(C.lds_smooth(np.ones((1, 7, 5))), 1.0)  # keeps a constant


# ------------------------------------------------------------------------------------ effect
def test_planted_effect_in_eeg_and_features(twin, flat):
    for root, effect in ((twin, 1.0), (flat, 0.0)):
        front, back, de, classes = [], [], [], []
        for subject, session, path in S.find_sessions(root):
            rec = S.read_session(path, subject, session)
            feats = S.read_features(path.parents[1] / "ExtractedFeatures" / path.name, subject, session)
            for x, f, c in zip(rec.eeg, feats.features, rec.labels["emotion"], strict=True):
                front.append(_alpha_log_power(x, FRONT))
                back.append(_alpha_log_power(x, BACK))
                de.append(float(f[:, FRONT, 2].mean()))
                classes.append(int(c))
        power = _class_means(front, classes, 3)
        np.testing.assert_allclose(np.diff(power), effect, atol=0.2)  # ln power + effect per class
        np.testing.assert_allclose(np.diff(_class_means(back, classes, 3)), 0.0, atol=0.2)
        np.testing.assert_allclose(np.diff(_class_means(de, classes, 3)), 0.5 * effect, atol=0.12)
        if effect:
            assert power[0] < power[1] < power[2]  # negative < neutral < positive


def test_twin_bytes_are_deterministic(tmp_path):
    a, b, c = (S.write_twin(tmp_path / n, n_subjects=1, seconds=(1.0, 2.0), seed=s) for n, s in
               (("a", 7), ("b", 7), ("c", 8)))  # fmt: skip
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert len(files) == 3 + 2 + 3 + 1 + 1  # 3 sessions x 2 folders, 2 label.mat, readme, marker
    for rel in files:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel
    assert a[0].read_bytes() != c[0].read_bytes()
    assert [p.name for p in a] == [p.name for p in b]


def test_twin_refuses_bad_arguments_and_real_folders(tmp_path):
    with pytest.raises(DataError, match="n_subjects"):
        S.write_twin(tmp_path / "x", n_subjects=16)
    real = tmp_path / "real" / "Preprocessed_EEG"
    real.mkdir(parents=True)
    (real / "1_20131027.mat").write_bytes(b"real")
    with pytest.raises(DataError, match="not synthetic"):
        S.write_twin(tmp_path / "real", n_subjects=1, seconds=(1.0, 2.0))
    assert (real / "1_20131027.mat").read_bytes() == b"real"


# ------------------------------------------------------------------------------------ trial keys
def test_trial_keys_sort_numerically():
    keys = [f"jl_eeg{n}" for n in (1, 10, 11, 12, 13, 14, 15, 2, 3, 4, 5, 6, 7, 8, 9)]
    got = C.trial_keys(["__header__", "other", *keys], 15, "f.mat")
    assert got == [f"jl_eeg{n}" for n in range(1, 16)]
    assert got.index("jl_eeg10") == got.index("jl_eeg9") + 1


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        (["jl_eeg1", "jl_eeg2", "xx_eeg3"], "2 prefixes"),
        (["jl_eeg1", "jl_eeg3"], "no variable\\(s\\) jl_eeg2"),
        (["jl_eeg1", "jl_eeg2", "jl_eeg3", "jl_eeg4"], "jl_eeg4 beyond the 3 trials"),
        (["jl_eeg1", "jl_eeg02", "jl_eeg3"], "leading zero"),
        (["label", "data"], "no EEG variables"),
    ],
)
def test_trial_keys_refuse(keys, message):
    with pytest.raises(DataError, match=message):
        C.trial_keys(keys, 3, "f.mat")


# ------------------------------------------------------------------------------------ bad files
def _trials(n: int = 15, samples: int = 300) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    return {f"djc_eeg{i}": rng.normal(size=(62, samples + i)) for i in range(1, n + 1)}


def _session(folder: Path, variables: dict[str, object], label: object = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    savemat(folder / "label.mat", {"label": np.array([S.LABELS]) if label is None else label})
    path = folder / "1_20131027.mat"
    savemat(path, variables)
    return path


def _one_line(exc: pytest.ExceptionInfo, path: Path) -> str:
    msg = str(exc.value)
    assert "\n" not in msg and str(path) in msg, msg
    return msg


def test_good_hand_written_file_reads(tmp_path):
    path = _session(tmp_path / "Preprocessed_EEG", _trials())
    rec = S.read_session(path, 1, 2)
    assert [x.shape[1] for x in rec.eeg] == [300 + i for i in range(1, 16)]
    np.testing.assert_array_equal(rec.eeg[9], _trials()["djc_eeg10"].astype(np.float32))


def _nan() -> dict[str, np.ndarray]:
    t = _trials()
    t["djc_eeg4"][7, 11] = np.nan
    return t


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({k: v for k, v in _trials().items() if k != "djc_eeg12"}, "no variable\\(s\\) djc_eeg12"),
        ({**_trials(), "djc_eeg3": np.zeros((61, 400))}, "djc_eeg3 has shape \\(61, 400\\)"),
        ({**_trials(), "djc_eeg3": np.zeros((62, 100))}, "100 samples, shorter than 1 s"),
        ({**_trials(), "djc_eeg3": np.zeros((62, 400, 2))}, "djc_eeg3 has shape"),
        ({**_trials(), "djc_eeg3": np.zeros((62, 400), dtype=np.int16)}, "expected 62 x samples floats"),
        ({**_trials(), "djc_eeg3": "text"}, "djc_eeg3 is a string"),
        (_nan(), "non-finite value in djc_eeg4 at channel F3, sample 11"),
        ({**_trials(), "jl_eeg1": np.zeros((62, 400))}, "2 prefixes \\(djc, jl\\)"),
        ({**_trials(), "djc_eeg16": np.zeros((62, 400))}, "djc_eeg16 beyond the 15 trials"),
    ],
)
def test_bad_eeg_file_is_one_line(tmp_path, variables, message):
    path = _session(tmp_path / "Preprocessed_EEG", variables)
    with pytest.raises(DataError, match=message) as exc:
        S.read_session(path, 1, 1)
    _one_line(exc, path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2014 HDF5 schema 1.00 .",
         "v7.3"),
        (pickle.dumps({"djc_eeg1": np.zeros((62, 400))}), "not a readable MATLAB file"),
        (b"subject 1, session 1: see the readme\n" * 10, "not a readable MATLAB file"),
        (b"", "not a readable MATLAB file"),
    ],
)  # fmt: skip
def test_file_that_is_not_a_v5_mat_is_one_line(tmp_path, content, message):
    path = _session(tmp_path / "Preprocessed_EEG", _trials(1))
    path.write_bytes(content)
    with pytest.raises(DataError, match=message) as exc:
        S.read_session(path, 1, 1)
    _one_line(exc, path)


def test_missing_file_and_subject_mismatch(tmp_path):
    path = _session(tmp_path / "Preprocessed_EEG", _trials())
    with pytest.raises(DataError, match="file not found") as exc:
        S.read_session(path.with_name("1_20131028.mat"), 1, 1)
    _one_line(exc, path.with_name("1_20131028.mat"))
    with pytest.raises(DataError, match="says subject 1, asked for subject 2") as exc:
        S.read_session(path, 2, 1)
    _one_line(exc, path)
    path.rename(path.with_name("djc_20131027.mat"))
    with pytest.raises(DataError, match="does not parse") as exc:
        S.read_session(path.with_name("djc_20131027.mat"), 1, 1)


@pytest.mark.parametrize(
    ("label", "message"),
    [
        (np.array([S.LABELS[:14]]), "shape \\(1, 14\\), expected \\(1, 15\\)"),
        (np.array(S.LABELS).reshape(15, 1), "shape \\(15, 1\\)"),
        (np.array([[*S.LABELS[:5], 2, *S.LABELS[6:]]]), "label of trial 6 is 2"),
        ("positive", "label is a string"),
    ],
)
def test_bad_label_mat_is_one_line(tmp_path, label, message):
    path = _session(tmp_path / "Preprocessed_EEG", _trials(), label=label)
    with pytest.raises(DataError, match=message) as exc:
        S.read_session(path, 1, 1)
    _one_line(exc, path.parent / "label.mat")


def test_label_mat_missing_or_without_label(tmp_path):
    path = _session(tmp_path / "Preprocessed_EEG", _trials())
    savemat(path.parent / "label.mat", {"labels": np.array([S.LABELS])})
    with pytest.raises(DataError, match="no variable 'label' \\(found labels\\)"):
        S.read_session(path, 1, 1)
    (path.parent / "label.mat").unlink()
    with pytest.raises(DataError, match="label.mat: file not found"):
        S.read_session(path, 1, 1)


def _features(n: int = 15, windows: int = 4) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(2)
    return {f"de_LDS{i}": rng.normal(size=(62, windows + i, 5)) for i in range(1, n + 1)}


def test_feature_reader_checks(tmp_path):
    folder = tmp_path / "ExtractedFeatures"
    path = _session(folder, _features())
    feats = S.read_features(path, 1, 1)
    assert feats.features[2].shape == (7, 62, 5)
    np.testing.assert_array_equal(
        feats.features[2][:, 5, 1], _features()["de_LDS3"][5, :, 1].astype(np.float32)
    )
    bad = {
        "no variable\\(s\\) de_LDS15": {k: v for k, v in _features().items() if k != "de_LDS15"},
        "de_LDS2 has shape \\(62, 5, 4\\)": {**_features(), "de_LDS2": np.zeros((62, 5, 4))},
        "de_LDS2 has shape \\(62, 0, 5\\)": {**_features(), "de_LDS2": np.zeros((62, 0, 5))},
        "de_LDS2 is a 1x1 struct": {**_features(), "de_LDS2": {"a": 1.0}},
    }
    nan = _features()
    nan["de_LDS5"][3, 1, 4] = np.inf
    bad["non-finite value in de_LDS5 at window 1, channel AF3, band gamma"] = nan
    for message, variables in bad.items():
        savemat(path, variables)
        with pytest.raises(DataError, match=message) as exc:
            S.read_features(path, 1, 1)
        _one_line(exc, path)
    with pytest.raises(DataError, match="feature kind 'dasm'"):
        S.read_features(path, 1, 1, kind="dasm")
    with pytest.raises(DataError, match="smoothing 'lds'"):
        S.read_features(path, 1, 1, smoothing="lds")


# ------------------------------------------------------------------------------------ find errors
def _folder(tmp_path: Path, names: list[str]) -> Path:
    folder = tmp_path / "SEED" / "Preprocessed_EEG"
    folder.mkdir(parents=True)
    for name in [*names, "label.mat", "readme.txt"]:
        (folder / name).write_bytes(b"")
    return folder


GOOD = ["1_20131027.mat", "1_20131030.mat", "1_20131107.mat", "2_20140404.mat", "2_20140413.mat",
        "2_20140419.mat"]  # fmt: skip


def test_find_reads_names_not_contents(tmp_path):
    _folder(tmp_path, GOOD)
    got = S.find_sessions(tmp_path / "SEED")
    assert [(s, k) for s, k, _ in got] == [(1, 1), (1, 2), (1, 3), (2, 1), (2, 2), (2, 3)]


@pytest.mark.parametrize(
    ("names", "message"),
    [
        ([*GOOD, "jl_20140404.mat"], "jl_20140404.mat: file name does not parse"),
        ([*GOOD, "3_2014044.mat"], "3_2014044.mat: file name does not parse"),
        ([*GOOD, "3_20141304.mat"], "no valid date"),
        ([*GOOD, "16_20140404.mat"], "subject 16 outside 1-15"),
        (GOOD[:5], "subject 2 has 2 session file\\(s\\) \\(2_20140404.mat, 2_20140413.mat\\), expected 3"),
        ([*GOOD, "2_20140501.mat"], "subject 2 has 4 session file"),
        ([*GOOD, "01_20131030.mat"], "a second file of subject 1 dated 2013-10-30"),
        ([], "no \\{subject\\}_\\{yyyymmdd\\}.mat files"),
    ],
)
def test_find_refuses(tmp_path, names, message):
    _folder(tmp_path, names)
    with pytest.raises(DataError, match=message) as exc:
        S.find_sessions(tmp_path / "SEED")
    assert "\n" not in str(exc.value)


def test_find_without_the_folder(tmp_path):
    with pytest.raises(DataError, match="no Preprocessed_EEG folder"):
        S.find_sessions(tmp_path)
    (tmp_path / "Preprocessed_EEG").mkdir()
    with pytest.raises(DataError, match="no ExtractedFeatures folder"):
        S.find_feature_sessions(tmp_path)
    shutil.rmtree(tmp_path / "Preprocessed_EEG")
    with pytest.raises(DataError, match="no Preprocessed_EEG folder"):
        S.find_sessions(tmp_path / "nowhere")
