"""SEED-V: the twin round-trips through the reader; the planted effect is there (and not with effect=0);
bad files are refused with one line."""

from __future__ import annotations

import os
import pickle
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import welch

from bench.core.errors import DataError
from bench.data.categorical import seed_v as sv
from bench.data.categorical.cnt import ELECTRODE_BYTES, SETUP_BYTES, write_cnt


@pytest.fixture(scope="module")
def twin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("seedv")
    sv.write_twin(root, n_subjects=1)
    return root


def _one_line(err: pytest.ExceptionInfo, path: Path) -> str:
    msg = str(err.value)
    assert str(path) in msg and "\n" not in msg
    return msg


def _beta(rec, rows: list[int]) -> np.ndarray:
    out = []
    for trial in rec.eeg:
        f, p = welch(trial[rows], fs=rec.sfreq, nperseg=200)
        out.append(np.log(p[:, (f >= 14) & (f < 30)].sum(-1)).mean())
    return np.array(out)


def test_find_sessions(twin: Path) -> None:
    found = sv.find_sessions(twin)
    assert list(found) == [(1, 1), (1, 2), (1, 3)]
    assert [p.name for p in found.values()] == ["1_1_20180402.cnt", "1_2_20180416.cnt", "1_3_20180430.cnt"]
    assert sv.find_sessions(twin / "EEG_raw") == found


@pytest.mark.parametrize(
    ("names", "match"),
    [
        (["1_1_2018.cnt"], "not a SEED-V recording name"),
        (["1_1_20181345.cnt"], "not a date"),
        (["1_1_20180402.cnt", "1_1_20180403.cnt", "1_2_20180404.cnt", "1_3_20180405.cnt"], "second file"),
        (["1_1_20180402.cnt", "1_3_20180405.cnt"], r"subject 1 has no file for session\(s\) 2"),
        (["17_1_20180402.cnt"], "outside"),
        (["notes.txt"], "no SEED-V recordings"),
    ],
)
def test_find_sessions_refuses(tmp_path: Path, names: list[str], match: str) -> None:
    (tmp_path / "EEG_raw").mkdir()
    for name in names:
        (tmp_path / "EEG_raw" / name).touch()
    with pytest.raises(DataError, match=match) as err:
        sv.find_sessions(tmp_path)
    assert "\n" not in str(err.value)


def test_find_sessions_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="SEED-V folder not found"):
        sv.find_sessions(tmp_path / "nowhere")


def test_round_trip(twin: Path) -> None:
    for (subject, session), path in sv.find_sessions(twin).items():
        rec = sv.read_session(path, trials=sv.TWIN_TRIALS)
        assert (rec.dataset, rec.subject, rec.session, rec.sfreq) == ("seed-v", subject, session, 200.0)
        assert rec.channels == sv.EEG_CHANNELS and len(rec.channels) == 62
        assert rec.trial_ids == tuple(range(1, 16))
        np.testing.assert_array_equal(rec.labels["emotion"], sv.LABELS[session])
        assert [t.shape for t in rec.eeg] == [(62, round((b - a) * 200)) for a, b in sv.TWIN_TRIALS[session]]
        assert all(t.dtype == np.float32 for t in rec.eeg)
    # at the file's rate the values are the written ones within the int32 step (0.01 uV)
    rec = sv.read_session(twin / "EEG_raw" / "1_2_20180416.cnt", trials=sv.TWIN_TRIALS, sfreq=None)
    assert rec.sfreq == 1000.0
    x = sv.twin_signal(1, 2)[[sv.TWIN_FILE_CHANNELS.index(c) for c in sv.EEG_CHANNELS]]
    for trial, (a, b) in zip(rec.eeg, sv.TWIN_TRIALS[2], strict=True):
        assert np.abs(trial - x[:, round(a * 1000) : round(b * 1000)]).max() < 0.0051
    # resampled: the same signal, band-limited (a 1-s margin keeps the edges honest)
    rec200 = sv.read_session(twin / "EEG_raw" / "1_2_20180416.cnt", trials=sv.TWIN_TRIALS)
    mean_full = np.array([t.mean(axis=1) for t in rec.eeg])
    mean_200 = np.array([t.mean(axis=1) for t in rec200.eeg])
    np.testing.assert_allclose(mean_200, mean_full, atol=1.5)  # the DC offsets (up to 100 uV) survive


def test_planted_effect(twin: Path, tmp_path: Path) -> None:
    rows = [sv.EEG_CHANNELS.index(c) for c in sv.PLANTED_CHANNELS]
    others = [sv.EEG_CHANNELS.index(c) for c in ("FP1", "OZ", "PZ", "F3")]
    sv.write_twin(tmp_path, n_subjects=1, effect=0.0, features=False)
    for session in (1, 2):
        name = f"1_{session}_{sv.twin_date(1, session):%Y%m%d}.cnt"
        labels = np.array(sv.LABELS[session])
        with_effect = _beta(sv.read_session(twin / "EEG_raw" / name, trials=sv.TWIN_TRIALS), rows)
        means = [with_effect[labels == c].mean() for c in range(5)]
        assert all(np.diff(means) > 0), means  # disgust < fear < sad < neutral < happy
        assert means[4] - means[0] > 0.6
        rec = sv.read_session(twin / "EEG_raw" / name, trials=sv.TWIN_TRIALS)
        elsewhere = _beta(rec, others)
        assert np.ptp([elsewhere[labels == c].mean() for c in range(5)]) < 0.3  # not outside the group
        without = _beta(sv.read_session(tmp_path / "EEG_raw" / name, trials=sv.TWIN_TRIALS), rows)
        assert np.ptp([without[labels == c].mean() for c in range(5)]) < 0.3


def test_twin_is_deterministic(twin: Path, tmp_path: Path) -> None:
    sv.write_twin(tmp_path, n_subjects=1)
    for rel in ("EEG_raw/1_3_20180430.cnt", "EEG_DE_features/1_123.npz", "SYNTHETIC.json"):
        assert (tmp_path / rel).read_bytes() == (twin / rel).read_bytes(), rel


def test_de_features(twin: Path) -> None:
    feats = sv.read_de_features(twin / "EEG_DE_features" / "1_123.npz")
    assert feats.subject == 1 and len(feats.data) == len(feats.labels) == 45
    for k in range(45):
        session, t = k // 15 + 1, k % 15
        a, b = sv.TWIN_TRIALS[session][t]
        assert feats.data[k].shape == (int(b - a), 310)
        np.testing.assert_array_equal(feats.labels[k], sv.LABELS[session][t])
    x = sv.twin_signal(1, 1)[[sv.TWIN_FILE_CHANNELS.index(c) for c in sv.EEG_CHANNELS]]
    np.testing.assert_allclose(feats.data[0], sv.twin_features(x[:, 2000:6000], 1000.0))


def _npz(path: Path, **members: object) -> None:
    np.savez(path, **members)


def test_de_features_object_arrays_and_unsafe_pickles(twin: Path, tmp_path: Path) -> None:
    good = sv.read_de_features(twin / "EEG_DE_features" / "1_123.npz")
    data = dict(enumerate(good.data))
    label = dict(enumerate(good.labels))
    as_objects = tmp_path / "2_123.npz"
    box = np.empty((), dtype=object)
    box[()] = data
    lbox = np.empty((), dtype=object)
    lbox[()] = label
    _npz(as_objects, data=box, label=lbox)
    back = sv.read_de_features(as_objects)
    np.testing.assert_array_equal(back.data[7], good.data[7])

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    unsafe = tmp_path / "3_123.npz"
    _npz(unsafe, data=pickle.dumps({0: Evil()}), label=pickle.dumps(label))
    with pytest.raises(DataError, match="unsafe pickle") as err:
        sv.read_de_features(unsafe)
    _one_line(err, unsafe)
    wrong = tmp_path / "4_123.npz"
    _npz(wrong, data=pickle.dumps({0: np.zeros((3, 300))}), label=pickle.dumps(label))
    with pytest.raises(DataError, match="keyed 0-44"):
        sv.read_de_features(wrong)
    bad_shape = dict(data)
    bad_shape[3] = np.zeros((4, 300))
    _npz(wrong, data=pickle.dumps(bad_shape), label=pickle.dumps(label))
    with pytest.raises(DataError, match=r"trial 3: data \(4, 300\)"):
        sv.read_de_features(wrong)
    nan = dict(data)
    nan[0] = data[0].copy()
    nan[0][1, 2] = np.nan
    _npz(wrong, data=pickle.dumps(nan), label=pickle.dumps(label))
    with pytest.raises(DataError, match="non-finite"):
        sv.read_de_features(wrong)
    not_zip = tmp_path / "5_123.npz"
    not_zip.write_bytes(b"PK\x03\x04 nothing")
    with pytest.raises(DataError, match="not a readable npz"):
        sv.read_de_features(not_zip)


def test_bad_recordings_are_one_line(twin: Path, tmp_path: Path) -> None:
    src = twin / "EEG_raw" / "1_1_20180402.cnt"
    raw = src.read_bytes()
    cut = tmp_path / "1_1_20180402.cnt"
    cut.write_bytes(raw[: len(raw) // 3])
    with pytest.raises(DataError, match="truncated") as err:
        sv.read_session(cut, trials=sv.TWIN_TRIALS)
    _one_line(err, cut)
    # the real table: the twin's 77 s session ends before the last trial's 3359 s
    with pytest.raises(DataError, match="last trial ends at 3359 s") as err:
        sv.read_session(src)
    _one_line(err, src)
    # 65 channels
    x = sv.twin_signal(1, 1)
    few = tmp_path / "1_2_20180402.cnt"
    write_cnt(few, sv.TWIN_FILE_CHANNELS[1:], 1000, x[1:])
    with pytest.raises(DataError, match="65 channels, expected 66") as err:
        sv.read_session(few, trials=sv.TWIN_TRIALS)
    _one_line(err, few)
    renamed = tmp_path / "1_3_20180402.cnt"
    write_cnt(renamed, ("XX",) + sv.TWIN_FILE_CHANNELS[1:], 1000, x)
    with pytest.raises(DataError, match="EEG channel.s. FP1 missing"):
        sv.read_session(renamed, trials=sv.TWIN_TRIALS)
    with pytest.raises(DataError, match="file not found"):
        sv.read_session(tmp_path / "2_1_20180402.cnt")
    with pytest.raises(DataError, match="not a SEED-V recording name"):
        sv.read_session(tmp_path / "one.cnt")
    # a header whose event table points inside the data: sizes MNE could not use
    odd = tmp_path / "3_1_20180402.cnt"
    shutil.copy(src, odd)
    with odd.open("r+b") as f:
        f.seek(886)
        f.write(struct.pack("<i", SETUP_BYTES + ELECTRODE_BYTES * 66 + 12345))
    with pytest.raises(DataError, match="not a readable NeuroScan CNT") as err:
        sv.read_session(odd, trials=sv.TWIN_TRIALS)
    _one_line(err, odd)


@pytest.mark.slow
def test_real_sized_session_opens(tmp_path: Path) -> None:
    """A session of the real length (3,400 s x 66 channels at 1000 Hz, int32: ~0.9 GB, written sparse)
    opens with the installed MNE and is cut at the real table; trial 15 carries a 1000 uV level on FP1."""
    n_ch, sfreq, n = 66, 1000, 3400 * 1000
    path = tmp_path / "10_1_20180507.cnt"
    write_cnt(path, sv.TWIN_FILE_CHANNELS, sfreq, np.zeros((n_ch, 1)))  # header of a 1-sample file
    head = bytearray(path.read_bytes()[: SETUP_BYTES + ELECTRODE_BYTES * n_ch])
    data_start = len(head)
    table = data_start + n * n_ch * 4
    head[864:868] = struct.pack("<i", n)
    head[886:890] = struct.pack("<i", table)
    a, b = sv.TRIALS[1][-1]
    block = np.zeros((round((b - a) * sfreq), n_ch), dtype="<i4")
    block[:, 0] = 100000  # 1000 uV at 0.01 uV per step
    with path.open("wb") as f:
        f.write(bytes(head))
        f.seek(data_start + round(a * sfreq) * n_ch * 4)
        f.write(block.tobytes())
        f.seek(table)
        f.write(struct.pack("<Bii", 2, 0, 0))
    rec = sv.read_session(path)
    assert [t.shape[1] for t in rec.eeg] == [(e - s) * 200 for s, e in sv.TRIALS[1]]
    last = rec.eeg[-1]
    assert np.abs(last[0, 400:-400] - 1000.0).max() < 0.5
    assert np.abs(last[1:]).max() < 1e-6 and np.abs(rec.eeg[0]).max() < 1e-6
