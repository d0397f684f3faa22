"""FACED: the twin round-trips through the reader; the planted effect is there (and not with effect=0);
bad files are refused with one line."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import welch

from bench.core.errors import DataError
from bench.data.categorical import faced as fd


@pytest.fixture(scope="module")
def twin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("faced")
    fd.write_twin(root, n_subjects=2)
    return root


def _alpha(rec, rows: list[int]) -> np.ndarray:
    out = []
    for trial in rec.eeg:
        f, p = welch(trial[rows], fs=rec.sfreq, nperseg=250)
        out.append(np.log(p[:, (f >= 8) & (f < 13)].sum(-1)).mean())
    return np.array(out)


def _refused(path: Path, match: str, **kwargs) -> None:
    with pytest.raises(DataError, match=match) as err:
        fd.read_session(path, **kwargs)
    msg = str(err.value)
    assert str(path) in msg and "\n" not in msg


def test_find_sessions(twin: Path, tmp_path: Path) -> None:
    found = fd.find_sessions(twin)
    assert {s: p.name for s, p in found.items()} == {1: "sub000.pkl", 2: "sub001.pkl"}
    assert fd.find_sessions(twin / "Processed_data") == found
    with pytest.raises(DataError, match="FACED folder not found"):
        fd.find_sessions(tmp_path / "nowhere")
    folder = tmp_path / "Processed_data"
    folder.mkdir()
    with pytest.raises(DataError, match="no FACED subject files"):
        fd.find_sessions(tmp_path)
    (folder / "sub1.pkl").touch()
    with pytest.raises(DataError, match="not a FACED file name"):
        fd.find_sessions(tmp_path)
    (folder / "sub1.pkl").unlink()
    (folder / "sub123.pkl").touch()
    with pytest.raises(DataError, match="outside sub000-sub122"):
        fd.find_sessions(tmp_path)
    (folder / "sub123.pkl").unlink()
    (folder / "sub004.pkl").touch()
    (folder / "SUB004.pkl").touch()
    with pytest.raises(DataError, match="second file for subject 5"):
        fd.find_sessions(tmp_path)


def test_round_trip(twin: Path) -> None:
    for subject, path in fd.find_sessions(twin).items():
        rec = fd.read_session(path)
        assert (rec.dataset, rec.subject, rec.session, rec.sfreq) == ("faced", subject, 1, 250.0)
        assert rec.channels == fd.CHANNELS and rec.channels[-2:] == ("A2", "A1") and len(rec.channels) == 32
        assert rec.trial_ids == tuple(range(1, 29))
        np.testing.assert_array_equal(rec.labels["emotion"], fd.EMOTION)
        np.testing.assert_array_equal(np.bincount(rec.labels["emotion"]), [3, 3, 3, 3, 4, 3, 3, 3, 3])
        np.testing.assert_array_equal(rec.labels["valence"], [0] * 12 + [1] * 4 + [2] * 12)
        x = fd.twin_signal(subject)
        assert all(t.dtype == np.float32 and t.shape == (32, 1000) for t in rec.eeg)
        np.testing.assert_array_equal(np.stack(rec.eeg), x.astype(np.float32))
        scalp = fd.read_session(path, drop_mastoids=True)
        assert scalp.channels == fd.SCALP_CHANNELS and scalp.eeg[5].shape == (30, 1000)
        np.testing.assert_array_equal(scalp.eeg[5], rec.eeg[5][:30])


def test_real_clip_length(tmp_path: Path) -> None:
    fd.write_twin(tmp_path, n_subjects=1, n_samples=fd.CLIP_SAMPLES, features=False)
    rec = fd.read_session(tmp_path / "Processed_data" / "sub000.pkl")
    assert rec.eeg[27].shape == (32, 7500)


def test_planted_effect(twin: Path, tmp_path: Path) -> None:
    rows = [fd.CHANNELS.index(c) for c in fd.PLANTED_CHANNELS]
    others = [fd.CHANNELS.index(c) for c in ("PZ", "OZ", "O1", "O2", "P3", "P4")]
    labels = np.array(fd.EMOTION)
    fd.write_twin(tmp_path, n_subjects=2, effect=0.0, features=False)
    for subject in (1, 2):
        rec = fd.read_session(twin / "Processed_data" / f"sub{subject - 1:03d}.pkl")
        means = [_alpha(rec, rows)[labels == c].mean() for c in range(9)]
        assert means[8] - means[0] > 1.5  # 2 x 0.15 x 8 = 2.4 in log power, planted
        assert np.corrcoef(np.arange(9), means)[0, 1] > 0.95
        elsewhere = [_alpha(rec, others)[labels == c].mean() for c in range(9)]
        assert abs(np.corrcoef(np.arange(9), elsewhere)[0, 1]) < 0.8 and np.ptp(elsewhere) < 0.6
        flat = fd.read_session(tmp_path / "Processed_data" / f"sub{subject - 1:03d}.pkl")
        without = [_alpha(flat, rows)[labels == c].mean() for c in range(9)]
        assert np.ptp(without) < 0.6


def test_twin_is_deterministic(twin: Path, tmp_path: Path) -> None:
    fd.write_twin(tmp_path, n_subjects=2)
    for rel in (
        "Processed_data/sub001.pkl",
        "EEG_Features/DE/sub000.pkl.pkl",
        "EEG_Features/PSD/sub001.pkl.pkl",
    ):
        assert (tmp_path / rel).read_bytes() == (twin / rel).read_bytes(), rel


def test_features(twin: Path) -> None:
    for kind in fd.FEATURE_KINDS:
        feats = fd.read_features(fd.feature_path(twin, kind, 2))
        assert (feats.subject, feats.kind, feats.values.shape) == (2, kind, (28, 32, 4, 5))
        np.testing.assert_allclose(feats.values, fd.twin_features(fd.twin_signal(2), kind))
        np.testing.assert_array_equal(feats.labels["valence"], fd.VALENCE)
    with pytest.raises(DataError, match="feature kind 'ASM'"):
        fd.feature_path(twin, "ASM", 1)


def _write(path: Path, obj: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(obj, protocol=4))
    return path


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_bad_files_are_one_line(tmp_path: Path) -> None:
    good = fd.twin_signal(1, n_samples=300)
    folder = tmp_path / "Processed_data"
    _refused(folder / "sub000.pkl", "file not found")
    _refused(_write(folder / "sub001.pkl", _Evil()), "unsafe pickle, refused to load 'posix.system'")
    _refused(
        _write(folder / "sub002.pkl", good[:, :30]), r"shape \(28, 30, 300\), expected \(28, 32, samples\)"
    )
    _refused(_write(folder / "sub003.pkl", good[:27]), r"shape \(27, 32, 300\)")
    nan = good.copy()
    nan[4, 31, 17] = np.nan
    _refused(_write(folder / "sub004.pkl", nan), "non-finite EEG value at trial 4, channel A1, sample 17")
    _refused(_write(folder / "sub005.pkl", {"data": good}), "expected an array of numbers.*got a dict")
    _refused(_write(folder / "sub006.pkl", good.astype(str)), "got an array of dtype <U")
    cut = folder / "sub007.pkl"
    cut.write_bytes(pickle.dumps(good, protocol=4)[:5000])
    _refused(cut, "truncated|not a valid pickle")
    _refused(folder / "subject7.pkl", "not a FACED file name")
    feature = _write(tmp_path / "EEG_Features" / "DE" / "sub000.pkl.pkl", np.zeros((28, 32, 30, 4)))
    with pytest.raises(DataError, match=r"shape \(28, 32, 30, 4\), expected \(28, 32, windows, 5\)"):
        fd.read_features(feature)
    bad = np.zeros((28, 32, 30, 5))
    bad[2, 0, 3, 1] = np.inf
    _write(feature, bad)
    with pytest.raises(DataError, match="non-finite DE value at clip 3, channel FP1"):
        fd.read_features(feature)
    elsewhere = _write(tmp_path / "EEG_Features" / "ASM" / "sub000.pkl.pkl", bad)
    with pytest.raises(DataError, match="not under EEG_Features/DE"):
        fd.read_features(elsewhere)
