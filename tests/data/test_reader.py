"""DEAP reader: round trip, MATLAB variant, and every bad-input case, incl. a malicious pickle."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
from scipy.io import savemat

from bench.core.errors import DataError
from bench.data.channels import EEG_CHANNELS
from bench.data.reader import find_subject_files, read_subject
from tests.conftest import random_subject, write_deap_file


def test_round_trip_pickle(tmp_path):
    data, labels = random_subject(4)
    path = write_deap_file(tmp_path / "s07.dat", data, labels)
    rec = read_subject(path)
    assert rec.subject == 7
    assert rec.eeg.shape == (4, 32, 8064)
    np.testing.assert_array_equal(rec.eeg, data[:, :32])
    np.testing.assert_array_equal(rec.ratings, labels)
    assert rec.sfreq == 128.0
    assert rec.channel_names == EEG_CHANNELS
    assert rec.channel_names[0] == "Fp1" and rec.channel_names[31] == "O2"


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_every_pickle_protocol_reads(tmp_path, protocol):
    data, labels = random_subject(1)
    rec = read_subject(write_deap_file(tmp_path / "s01.dat", data, labels, protocol=protocol))
    np.testing.assert_array_equal(rec.eeg, data[:, :32])


def test_python2_style_pickle_reads(tmp_path):
    """DEAP's files are Python 2 pickles: numpy.core names, copy_reg, latin-1 strings."""
    data, labels = random_subject(1)
    raw = pickle.dumps({"data": data, "labels": labels}, protocol=2)
    raw = raw.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    (tmp_path / "s02.dat").write_bytes(raw)
    rec = read_subject(tmp_path / "s02.dat")
    np.testing.assert_array_equal(rec.ratings, labels)


def test_matlab_variant(tmp_path):
    data, labels = random_subject(2)
    savemat(tmp_path / "s03.mat", {"data": data, "labels": labels})
    rec = read_subject(tmp_path / "s03.mat")
    assert rec.subject == 3
    np.testing.assert_allclose(rec.eeg, data[:, :32])


class _Evil:
    """Its pickle would run a shell command on load with a plain unpickler."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickle_is_refused_without_running(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "s01.dat"
    data, labels = random_subject(1)
    path.write_bytes(pickle.dumps({"data": data, "labels": labels, "x": _Evil(marker)}, protocol=2))
    with pytest.raises(DataError, match=r"s01\.dat: unsafe pickle.*(posix|os|nt)\.system"):
        read_subject(path)
    assert not marker.exists()
    # the same bytes through a plain unpickler really would run the command: the test is not vacuous
    pickle.loads(path.read_bytes())
    assert marker.exists()


def test_malicious_builtin_eval_refused(tmp_path):
    path = tmp_path / "s01.dat"
    path.write_bytes(b"cbuiltins\neval\n(S'1+1'\ntR.")
    with pytest.raises(DataError, match="unsafe pickle.*builtins.eval"):
        read_subject(path)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d, lab: ({"data": d}, None), r"missing key\(s\) 'labels'"),
        (lambda d, lab: ({"data": d[:, :32], "labels": lab}, None), r"'data' has shape \(2, 32, 8064\)"),
        (lambda d, lab: ({"data": d[..., :8000], "labels": lab}, None), r"expected \(trials, 40, 8064\)"),
        (lambda d, lab: ({"data": d, "labels": lab[:, :2]}, None), r"'labels' has shape \(2, 2\)"),
        (lambda d, lab: ([d, lab], None), "expected a dict"),
        (lambda d, lab: ({"data": d.astype(np.int32), "labels": lab}, None), "must be floating point"),
    ],
)
def test_bad_structure(tmp_path, mutate, message):
    data, labels = random_subject(2)
    obj, _ = mutate(data, labels)
    path = tmp_path / "s05.dat"
    path.write_bytes(pickle.dumps(obj, protocol=2))
    with pytest.raises(DataError, match=message) as exc:
        read_subject(path)
    assert str(path) in str(exc.value) and "\n" not in str(exc.value)


def test_nan_and_ratings_out_of_range(tmp_path):
    data, labels = random_subject(2)
    data[1, 5, 100] = np.nan
    with pytest.raises(DataError, match=r"non-finite EEG value at trial 1, channel FC1, sample 100"):
        read_subject(write_deap_file(tmp_path / "s01.dat", data, labels))
    data, labels = random_subject(2)
    labels[0, 1] = 9.5
    with pytest.raises(DataError, match=r"rating arousal of trial 0 is 9.5, outside 1-9"):
        read_subject(write_deap_file(tmp_path / "s01.dat", data, labels))
    # the peripheral channels are read too (bench.data.peripheral), and checked as the EEG is
    data, labels = random_subject(1)
    data[0, 36, 9] = np.nan
    with pytest.raises(DataError, match=r"non-finite peripheral value at trial 0, channel GSR, sample 9$"):
        read_subject(write_deap_file(tmp_path / "s01.dat", data, labels))


def test_truncated_and_non_pickle_files(tmp_path):
    data, labels = random_subject(1)
    raw = pickle.dumps({"data": data, "labels": labels}, protocol=2)
    (tmp_path / "s01.dat").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DataError, match=r"s01\.dat: (truncated|not a valid pickle)"):
        read_subject(tmp_path / "s01.dat")
    (tmp_path / "s02.dat").write_text("hello, I am not a pickle")
    with pytest.raises(DataError, match=r"s02\.dat: (truncated|not a valid pickle)"):
        read_subject(tmp_path / "s02.dat")
    (tmp_path / "s03.mat").write_text("not matlab")
    with pytest.raises(DataError, match=r"s03\.mat: not a readable MATLAB file"):
        read_subject(tmp_path / "s03.mat")


def test_missing_files_and_folders(tmp_path, tiny_deap):
    with pytest.raises(DataError, match="file not found"):
        read_subject(tmp_path / "s09.dat")
    with pytest.raises(DataError, match="not a DEAP subject file name"):
        read_subject(tmp_path / "subject9.dat")
    with pytest.raises(DataError, match="DEAP folder not found"):
        find_subject_files(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no DEAP subject files"):
        find_subject_files(tmp_path / "empty")
    with pytest.raises(
        DataError, match=r"missing subject file\(s\) .*s03\.dat, .*s04\.dat \(subject\(s\) 3, 4\)"
    ):
        find_subject_files(tiny_deap, [1, 3, 4])
    files = find_subject_files(tiny_deap)
    assert list(files) == [1, 2]
    assert files[1].parent.name == "data_preprocessed_python"
