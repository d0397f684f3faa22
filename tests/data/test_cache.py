"""Feature cache: hit, miss, invalidation, crash safety, and the data fingerprint."""

from __future__ import annotations

import json
import os
import re
import sys
import time

import numpy as np
import pytest

import bench.data.cache as cache
import bench.data.compute as compute
import bench.data.fingerprints as fingerprints
import bench.data.workers as workers
from bench.core.errors import ConfigError, DataError
from bench.data.entries import ARRAYS
from bench.data.features import FeatureConfig, extract_features
from bench.data.reader import read_subject
from bench.data.source import open_deap
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
    monkeypatch.setattr(fingerprints, "_sha256_file", lambda p: pytest.fail("re-hashed an unchanged file"))
    monkeypatch.setattr(compute, "read_subject", lambda p: pytest.fail("re-read an unchanged file"))
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

    monkeypatch.setattr(np, "save", failing_save)
    with pytest.raises(type(exc)):
        cache.prepare_features(src)
    assert _entries(_isolated_cache) == []  # the temporary folder is gone too
    monkeypatch.setattr(np, "save", real_save)
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


forks = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the feature pool forks on Linux only"
)


def _die(path, subject, config):
    """A pool worker killed mid-subject (as by the out-of-memory killer)."""
    os._exit(3)


def _folder(tmp_path, bad: int | None = None, n: int = 4):
    """A DEAP folder of ``n`` two-trial subjects; subject ``bad`` has a rating of 18 (outside 1-9)."""
    for s in range(1, n + 1):
        data, labels = random_subject(2, seed=s)
        write_deap_file(tmp_path / "d" / f"s{s:02d}.dat", data, labels * (2 if s == bad else 1))
    return open_deap(tmp_path / "d")


def _tmp_left(root):
    return [
        p for d in (root, root / "features") if d.is_dir() for p in d.iterdir() if p.name.endswith(".tmp")
    ]


@pytest.fixture
def pools(monkeypatch):
    """Records the size of every pool prepare_features asks for, and whether it got one."""
    made, real = [], workers.feature_pool

    def spy(n):
        pool = real(n)
        made.append((n, pool is not None))
        return pool

    monkeypatch.setattr(cache, "feature_pool", spy)
    return made


@forks
def test_pool_and_serial_write_identical_entries(tmp_path, pools):
    import multiprocessing

    src = _folder(tmp_path)
    par = cache.prepare_features(src, cache_dir=tmp_path / "par", workers=2)
    assert pools == [(2, True)]  # forked workers did compute (4 misses, 2 workers asked)
    assert multiprocessing.active_children() == []  # and are gone
    ser = cache.prepare_features(src, cache_dir=tmp_path / "ser", workers=1)
    assert pools == [(2, True), (1, False)]
    assert par.fingerprint == ser.fingerprint
    np.testing.assert_array_equal(par.features, ser.features)
    assert _entries(tmp_path / "par") == _entries(tmp_path / "ser") and len(_entries(tmp_path / "par")) == 4
    for name in _entries(tmp_path / "par"):
        a, b = tmp_path / "par" / "features" / name, tmp_path / "ser" / "features" / name
        for f in ARRAYS:
            assert (a / f).read_bytes() == (b / f).read_bytes(), (name, f)
        meta_a, meta_b = (json.loads((d / "meta.json").read_text()) for d in (a, b))
        for volatile in ("seconds", "created"):
            del meta_a[volatile], meta_b[volatile]
        assert meta_a == meta_b


@forks
def test_bad_file_in_pool_mode_is_one_line_and_cached_nothing(tmp_path, pools):
    import multiprocessing

    src = _folder(tmp_path, bad=2)
    with pytest.raises(DataError) as err:
        cache.prepare_features(src, cache_dir=tmp_path / "c", workers=2)
    assert pools == [(2, True)]
    assert re.fullmatch(
        rf"{re.escape(str(src.files[2]))}: rating \w+ of trial \d is [\d.]+, outside 1-9", str(err.value)
    )
    metas = [
        json.loads((tmp_path / "c" / "features" / e / "meta.json").read_text())
        for e in _entries(tmp_path / "c")
    ]
    assert [m["subject"] for m in metas] == [1]  # written before the bad file; nothing after it
    assert _tmp_left(tmp_path / "c") == [] and multiprocessing.active_children() == []


@forks
def test_dead_worker_is_a_data_error_naming_the_file(tmp_path, monkeypatch, pools):
    src = _folder(tmp_path, n=3)
    monkeypatch.setattr(workers, "compute_arrays", _die)
    with pytest.raises(DataError, match=rf"^{src.files[1]}: a feature process died before finishing it"):
        cache.prepare_features(src, cache_dir=tmp_path / "c", workers=2)
    assert _entries(tmp_path / "c") == [] and _tmp_left(tmp_path / "c") == []


@forks
def test_interrupt_in_pool_mode_leaves_no_entry_being_written(tmp_path, monkeypatch, pools):
    import multiprocessing

    src = _folder(tmp_path, n=3)
    real_save, saved = np.save, []

    def interrupted_save(path, arr, *a, **k):
        saved.append(path)
        if len(saved) == 4:  # subject 1 complete, subject 2's features written: Ctrl-C
            raise KeyboardInterrupt
        return real_save(path, arr, *a, **k)

    monkeypatch.setattr(np, "save", interrupted_save)
    with pytest.raises(KeyboardInterrupt):
        cache.prepare_features(src, cache_dir=tmp_path / "c", workers=2)
    assert pools == [(2, True)] and multiprocessing.active_children() == []
    assert len(_entries(tmp_path / "c")) == 1 and _tmp_left(tmp_path / "c") == []


def test_pool_only_where_it_pays_and_forking_is_safe(tmp_path, pools):
    import threading

    assert workers.feature_pool(1) is None  # one worker: this process
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert workers.feature_pool(2) is None  # another thread may hold a lock at the fork
    finally:
        stop.set()
        other.join()
    pools.clear()
    src = _folder(tmp_path, n=2)
    cache.prepare_features(open_deap(tmp_path / "d", subjects=[1]), cache_dir=tmp_path / "c", workers=2)
    assert pools == []  # a single miss is computed here
    cache.prepare_features(src, cache_dir=tmp_path / "c", workers=2)
    assert pools == []  # one hit, one miss: still no pool
    with pytest.raises(ConfigError, match=r"^workers=0: expected an integer >= 1 or none$"):
        cache.prepare_features(src, cache_dir=tmp_path / "c", workers=0)
