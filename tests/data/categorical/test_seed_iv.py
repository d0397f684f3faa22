"""SEED-IV: the twin's layout and round trip, the planted effect, bad files and folders."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from scipy.io import loadmat, savemat

from bench.core.errors import DataError
from bench.data.categorical import seed_common as C
from bench.data.categorical import seed_iv as S

SECONDS = (4.0, 9.0)
FRONT = [C.CHANNELS.index(c) for c in C.EFFECT_CHANNELS]
BACK = [i for i in range(62) if i not in FRONT]


@pytest.fixture(scope="module")
def twin(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("seediv") / "SEED_IV"
    S.write_twin(root, n_subjects=2, seconds=SECONDS, seed=5)
    return root


@pytest.fixture(scope="module")
def flat(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("seediv0") / "SEED_IV"
    S.write_twin(root, n_subjects=1, seconds=SECONDS, seed=6, effect=0.0)
    return root


def _generated(seed: int, subject: int) -> dict[int, list[np.ndarray]]:
    rng = C.twin_rng(S._TWIN_TAG, seed, subject)
    return {
        k: C.twin_signals(rng, labels, S.twin_lengths_of(seed, k, SECONDS), 1.0)
        for k, labels in S.SESSION_LABELS.items()
    }


def _alpha_log_power(x: np.ndarray, rows: list[int]) -> float:
    spec = np.abs(np.fft.rfft(x[rows].astype(np.float64), axis=-1)) ** 2
    f = np.fft.rfftfreq(x.shape[1], 1 / 200)
    return float(np.log(spec[:, (f >= 8) & (f < 14)].mean(axis=-1)).mean())


def _class_means(values: list[float], classes: list[int]) -> np.ndarray:
    v, c = np.array(values), np.array(classes)
    return np.array([v[c == i].mean() for i in range(4)])


# ------------------------------------------------------------------------------------ layout
def test_twin_has_the_real_layout(twin):
    for top in ("eeg_raw_data", "eeg_feature_smooth"):
        assert sorted(p.name for p in (twin / top).iterdir()) == ["1", "2", "3"]
        assert sorted(p.name for p in (twin / top / "2").iterdir()) == ["1_20150811.mat", "2_20150910.mat"]
    assert json.loads((twin / "SYNTHETIC.json").read_text())["planted_effect"]["classes"] == [
        "neutral", "sad", "fear", "happy",
    ]  # fmt: skip
    mat = loadmat(twin / "eeg_raw_data" / "3" / "2_20150920.mat")
    keys = C.mat_keys(mat)
    assert keys == sorted(f"cd_eeg{n}" for n in range(1, 25)) and keys[1] == "cd_eeg10"
    lengths = S.twin_lengths_of(5, 3, SECONDS)
    assert lengths != S.twin_lengths_of(5, 1, SECONDS)  # each session its own clips
    assert len(set(lengths)) > 20 and all(800 <= n <= 1800 for n in lengths)
    assert [mat[f"cd_eeg{n}"].shape for n in range(1, 25)] == [(62, n) for n in lengths]
    fm = loadmat(twin / "eeg_feature_smooth" / "3" / "2_20150920.mat")
    assert sorted(C.mat_keys(fm)) == sorted(
        f"{k}_{s}{n}" for k in ("de", "psd") for s in ("movingAve", "LDS") for n in range(1, 25)
    )
    assert [fm[f"psd_LDS{n}"].shape for n in range(1, 25)] == [(62, n // 800, 5) for n in lengths]


def test_find_sessions(twin):
    found = S.find_sessions(twin)
    assert [(s, k, p.parent.name, p.name) for s, k, p in found] == [
        (1, 1, "1", "1_20150801.mat"), (1, 2, "2", "1_20150811.mat"), (1, 3, "3", "1_20150821.mat"),
        (2, 1, "1", "2_20150831.mat"), (2, 2, "2", "2_20150910.mat"), (2, 3, "3", "2_20150920.mat"),
    ]  # fmt: skip
    assert S.find_sessions(twin / "eeg_raw_data") == found
    assert {p.parents[1].name for *_, p in S.find_feature_sessions(twin)} == {"eeg_feature_smooth"}


# ------------------------------------------------------------------------------------ round trip
def test_eeg_round_trip(twin):
    generated = _generated(5, 1)
    for subject, session, path in S.find_sessions(twin)[:3]:
        rec = S.read_session(path, subject, session)
        assert (rec.dataset, rec.subject, rec.session, rec.n_trials) == ("seed-iv", 1, session, 24)
        assert rec.channels == C.CHANNELS and rec.trial_ids == tuple(range(1, 25))
        assert rec.labels["emotion"].dtype == np.int64
        assert rec.labels["emotion"].tolist() == list(S.SESSION_LABELS[session])
        assert (
            rec.labels["emotion"][:4].tolist() == {1: [1, 2, 3, 0], 2: [2, 1, 3, 0], 3: [1, 2, 2, 1]}[session]
        )
        for got, want in zip(rec.eeg, generated[session], strict=True):
            assert got.dtype == np.float32
            np.testing.assert_array_equal(got, want.astype(np.float32))


@pytest.mark.parametrize(("kind", "smoothing"), [("de", "movingAve"), ("psd", "LDS")])
def test_feature_round_trip(twin, kind, smoothing):
    trials = _generated(5, 1)[2]
    subject, session, path = S.find_feature_sessions(twin)[1]
    feats = S.read_features(path, subject, session, kind=kind, smoothing=smoothing)
    assert (feats.dataset, feats.window_s, feats.n_trials, session) == ("seed-iv", 4.0, 24, 2)
    assert feats.labels["emotion"].tolist() == list(S.SESSION_LABELS[2])
    for got, x in zip(feats.features, trials, strict=True):
        raw = dict(zip(("de", "psd"), C.band_features(x, 4.0), strict=True))[kind]
        assert got.shape == (x.shape[1] // 800, 62, 5)
        np.testing.assert_allclose(got, C.smoothed(raw, smoothing).transpose(1, 0, 2), rtol=1e-6)


def test_planted_effect(twin, flat):
    for root, effect in ((twin, 1.0), (flat, 0.0)):
        front, back, de, classes = [], [], [], []
        for subject, session, path in S.find_sessions(root):
            rec = S.read_session(path, subject, session)
            fpath = root / "eeg_feature_smooth" / str(session) / path.name
            feats = S.read_features(fpath, subject, session, kind="de", smoothing="movingAve")
            for x, f, c in zip(rec.eeg, feats.features, rec.labels["emotion"], strict=True):
                front.append(_alpha_log_power(x, FRONT))
                back.append(_alpha_log_power(x, BACK))
                de.append(float(f[:, FRONT, 2].mean()))
                classes.append(int(c))
        power = _class_means(front, classes)
        np.testing.assert_allclose(np.diff(power), effect, atol=0.2)
        np.testing.assert_allclose(np.diff(_class_means(back, classes)), 0.0, atol=0.2)
        np.testing.assert_allclose(np.diff(_class_means(de, classes)), 0.5 * effect, atol=0.12)
        if effect:
            assert power.argsort().tolist() == [0, 1, 2, 3]  # neutral < sad < fear < happy


def test_twin_bytes_are_deterministic(tmp_path):
    for name in ("a", "b"):
        S.write_twin(tmp_path / name, n_subjects=1, seconds=(4.0, 4.5), seed=2)
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert len(files) == 3 + 3 + 1
    for rel in files:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel
    with pytest.raises(DataError, match="at least 4 s"):
        S.write_twin(tmp_path / "c", seconds=(2.0, 6.0))


# ------------------------------------------------------------------------------------ bad files
def _trials(n: int = 24) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    return {f"ab_eeg{i}": rng.normal(size=(62, 250 + i)) for i in range(1, n + 1)}


def _write(tmp_path: Path, variables: dict[str, object], session: int = 2) -> Path:
    path = tmp_path / "eeg_raw_data" / str(session) / "4_20150811.mat"
    path.parent.mkdir(parents=True, exist_ok=True)
    savemat(path, variables)
    return path


def _one_line(exc: pytest.ExceptionInfo, path: Path) -> None:
    msg = str(exc.value)
    assert "\n" not in msg and str(path) in msg, msg


def test_hand_written_file_reads_in_number_order(tmp_path):
    path = _write(tmp_path, dict(reversed(list(_trials().items()))))
    rec = S.read_session(path, 4, 2)
    assert [x.shape[1] for x in rec.eeg] == [250 + i for i in range(1, 25)]


def _with_nan() -> dict[str, np.ndarray]:
    t = _trials()
    t["ab_eeg20"][61, 3] = np.nan
    return t


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({k: v for k, v in _trials().items() if k != "ab_eeg24"}, "no variable\\(s\\) ab_eeg24"),
        ({**_trials(), "ab_eeg7": np.zeros((400, 62))}, "ab_eeg7 has shape \\(400, 62\\)"),
        (_with_nan(), "non-finite value in ab_eeg20 at channel CB2, sample 3"),
        ({**_trials(), "cd_eeg5": np.zeros((62, 400))}, "2 prefixes \\(ab, cd\\)"),
        (
            {**_trials(), "ab_eeg7": np.full((62, 400), 1e300)},
            "beyond float32's range in ab_eeg7 at channel FP1",
        ),
    ],
)
def test_bad_eeg_file_is_one_line(tmp_path, variables, message):
    path = _write(tmp_path, variables)
    with pytest.raises(DataError, match=message) as exc:
        S.read_session(path, 4, 2)
    _one_line(exc, path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"MATLAB 7.3 MAT-file, Platform: GLNXA64, HDF5 schema 1.00 .".ljust(512, b" "), "v7.3"),
        (pickle.dumps(_trials(2)), "not a readable MATLAB file"),
        (b"de_LDS1 = [1 2 3];\n", "not a readable MATLAB file"),
    ],
)
def test_file_that_is_not_a_v5_mat_is_one_line(tmp_path, content, message):
    path = _write(tmp_path, {})
    path.write_bytes(content)
    for read in (S.read_session, S.read_features):
        with pytest.raises(DataError, match=message) as exc:
            read(path, 4, 2)
        _one_line(exc, path)


def test_place_checks(tmp_path):
    path = _write(tmp_path, _trials())
    for subject, session, message in ((5, 2, "says subject 4"), (4, 3, "not in session folder 3/"),
                                      (4, 4, "session 4 outside 1-3")):  # fmt: skip
        with pytest.raises(DataError, match=message) as exc:
            S.read_session(path, subject, session)
        _one_line(exc, path)
    with pytest.raises(DataError, match="file not found"):
        S.read_session(path.with_name("4_20150812.mat"), 4, 2)


def test_feature_reader_checks(tmp_path):
    rng = np.random.default_rng(4)
    good = {f"psd_movingAve{i}": rng.normal(size=(62, 3, 5)) for i in range(1, 25)}
    path = _write(tmp_path, good)
    feats = S.read_features(path, 4, 2, kind="psd", smoothing="movingAve")
    np.testing.assert_array_equal(
        feats.features[23], good["psd_movingAve24"].transpose(1, 0, 2).astype(np.float32)
    )
    with pytest.raises(DataError, match="no variable\\(s\\) de_LDS1, de_LDS2") as exc:
        S.read_features(path, 4, 2)
    _one_line(exc, path)
    savemat(path, {**good, "psd_movingAve9": np.zeros((62, 3, 4))})
    with pytest.raises(DataError, match="psd_movingAve9 has shape \\(62, 3, 4\\)") as exc:
        S.read_features(path, 4, 2, kind="psd", smoothing="movingAve")
    _one_line(exc, path)


# ------------------------------------------------------------------------------------ find errors
def _tree(tmp_path: Path, sessions: dict[int, list[str]]) -> Path:
    for k, names in sessions.items():
        folder = tmp_path / "eeg_raw_data" / str(k)
        folder.mkdir(parents=True)
        for name in names:
            (folder / name).write_bytes(b"")
    return tmp_path


GOOD = {1: ["1_20150801.mat", "2_20150803.mat"], 2: ["1_20150811.mat", "2_20150813.mat"],
        3: ["1_20150821.mat", "2_20150823.mat"]}  # fmt: skip


def test_find_reads_names_not_contents(tmp_path):
    got = S.find_sessions(_tree(tmp_path, GOOD))
    assert [(s, k, p.parent.name) for s, k, p in got] == [
        (1, 1, "1"), (1, 2, "2"), (1, 3, "3"), (2, 1, "1"), (2, 2, "2"), (2, 3, "3"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("sessions", "message"),
    [
        ({1: GOOD[1], 2: GOOD[2]}, "eeg_raw_data/3: folder not found"),
        ({**GOOD, 2: GOOD[2][:1]}, "subject 2 has no file in session folder\\(s\\) 2"),
        ({**GOOD, 3: [*GOOD[3], "2_20150830.mat"]}, "eeg_raw_data/3: 2 files of subject 2"),
        ({**GOOD, 1: [*GOOD[1], "ab_20150801.mat"]}, "ab_20150801.mat: file name does not parse"),
        ({**GOOD, 1: [*GOOD[1], "0_20150801.mat"]}, "subject 0 outside 1-15"),
        ({**GOOD, 2: []}, "eeg_raw_data/2: no \\{subject\\}_\\{yyyymmdd\\}.mat files"),
    ],
)
def test_find_refuses(tmp_path, sessions, message):
    _tree(tmp_path, sessions)
    with pytest.raises(DataError, match=message) as exc:
        S.find_sessions(tmp_path)
    assert "\n" not in str(exc.value)
    with pytest.raises(DataError, match="no eeg_feature_smooth folder"):
        S.find_feature_sessions(tmp_path)
