"""Feature cache: hit, miss, invalidation, crash safety, and the data fingerprint."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

import bench.data.cache as cache
from bench.data.features import FeatureConfig, extract_features
from bench.data.reader import read_subject
from bench.data.source import open_deap
from bench.errors import DataError
from tests.conftest import random_subject, write_deap_file


def _entries(root):
    d = root / "features"
    return sorted(p.name for p in d.iterdir()) if d.is_dir() else []


def test_miss_then_hit(tiny_deap, _isolated_cache):
    src = open_deap(tiny_deap)
    assert not src.synthetic
    calls = []
    fs = cache.prepare_features(src, progress=lambda d, t, hit: calls.append(hit))
    assert calls == [False, False]
    assert fs.features.shape == (2, 3, 120, 2, 4, 32) and fs.features.dtype == np.float32
    assert fs.subjects.tolist() == [1, 2] and fs.kind == "deap"
    np.testing.assert_allclose(fs.features[1], extract_features(read_subject(src.files[2]).eeg))
    calls.clear()
    t0 = time.perf_counter()
    fs2 = cache.prepare_features(src, progress=lambda d, t, hit: calls.append(hit))
    assert time.perf_counter() - t0 < 1.0
    assert calls == [True, True]
    np.testing.assert_array_equal(fs.features, fs2.features)
    assert fs.fingerprint == fs2.fingerprint
    assert len(_entries(_isolated_cache)) == 2


def test_hit_does_not_reread_files(tiny_deap, monkeypatch):
    src = open_deap(tiny_deap)
    cache.prepare_features(src)
    monkeypatch.setattr(cache, "_sha256_file", lambda p: pytest.fail("re-hashed an unchanged file"))
    monkeypatch.setattr(cache, "read_subject", lambda p: pytest.fail("re-read an unchanged file"))
    cache.prepare_features(src)


def test_changed_content_or_config_is_a_miss(tiny_deap, _isolated_cache):
    src = open_deap(tiny_deap)
    fs = cache.prepare_features(src)
    data, labels = random_subject(3, seed=99)
    path = write_deap_file(src.files[1], data, labels)
    os.utime(path, ns=(1, 1))  # even a file with an old timestamp: size/mtime/inode stamp changes
    fs2 = cache.prepare_features(src)
    assert fs2.fingerprint != fs.fingerprint
    np.testing.assert_allclose(fs2.features[0], extract_features(data[:, :32]))
    np.testing.assert_array_equal(fs2.features[1], fs.features[1])
    fs3 = cache.prepare_features(src, FeatureConfig(zero_phase=True))
    assert fs3.fingerprint != fs2.fingerprint
    assert not np.allclose(fs3.features, fs2.features)
    assert len(_entries(_isolated_cache)) == 5


@pytest.mark.parametrize("exc", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_crash_leaves_no_valid_looking_entry(tiny_deap, _isolated_cache, monkeypatch, exc):
    src = open_deap(tiny_deap)
    real_save = np.save
    saved = []

    def failing_save(path, arr, *a, **k):
        saved.append(path)
        if len(saved) == 2:  # features of subject 1 written, then the crash
            raise exc
        return real_save(path, arr, *a, **k)

    monkeypatch.setattr(cache.np, "save", failing_save)
    with pytest.raises(type(exc)):
        cache.prepare_features(src)
    assert _entries(_isolated_cache) == []  # the temporary folder is gone too
    monkeypatch.setattr(cache.np, "save", real_save)
    fs = cache.prepare_features(src)
    assert np.isfinite(fs.features).all()


def test_leftover_partial_entry_is_ignored(tiny_deap, _isolated_cache):
    src = open_deap(tiny_deap)
    fs = cache.prepare_features(src)
    entry = _isolated_cache / "features" / _entries(_isolated_cache)[0]
    (entry / "meta.json").unlink()  # as if a crash happened in an older, non-atomic writer
    fs2 = cache.prepare_features(src, force=False)
    np.testing.assert_array_equal(fs.features, fs2.features)


def test_select_and_bad_source(tiny_deap, tmp_path):
    fs = cache.prepare_features(open_deap(tiny_deap))
    one = fs.select([2])
    assert one.subjects.tolist() == [2] and one.fingerprint != fs.fingerprint
    with pytest.raises(DataError, match=r"subject\(s\) 5 not in this data set"):
        fs.select([5])
    data, labels = random_subject(2)
    write_deap_file(tmp_path / "mixed" / "s01.dat", data, labels)
    write_deap_file(tmp_path / "mixed" / "s02.dat", *random_subject(3))
    with pytest.raises(DataError, match="subjects differ in trials/windows"):
        cache.prepare_features(open_deap(tmp_path / "mixed"))
    bad = tmp_path / "bad"
    write_deap_file(bad / "s01.dat", data, labels * 2)
    with pytest.raises(DataError, match=r"s01\.dat: rating .* outside 1-9"):
        cache.prepare_features(open_deap(bad))
    assert cache.list_cached()  # the good entries are listed
