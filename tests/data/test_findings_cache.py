"""The feature cache checks what it serves: entry identity, the digest memo, files that fail to read,
the permissions of what it writes, and a cache folder that cannot be written."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import stat
import sys
from pathlib import Path

import numpy as np
import pytest

import bench.data.cache as cache
import bench.data.fingerprints as fingerprints
from bench.cli import main
from bench.core.errors import DataError
from bench.data.contents import Contents
from bench.data.datasets import dreamer as D
from bench.data.features import FeatureConfig
from bench.data.paths import cache_root
from bench.data.source import open_dataset, open_deap, synthetic_source
from bench.data.synthetic import SyntheticConfig, write_marker
from tests.conftest import random_subject, write_deap_file

TWIN = SyntheticConfig(dataset="dreamer", n_subjects=3, n_trials=1, seed=3)
"""A DREAMER twin of 3 one-clip subjects (all in one DREAMER.mat): ~0.2 s per subject's features."""


def _entries(root: Path) -> list[Path]:
    folder = root / "features"
    return sorted(p for p in folder.iterdir() if not p.name.startswith(".")) if folder.is_dir() else []


def _meta(entry: Path) -> dict:
    return json.loads((entry / "meta.json").read_text())


def _set_meta(entry: Path, **changes) -> None:
    meta = _meta(entry)
    meta.update(changes)
    (entry / "meta.json").write_text(json.dumps(meta))


def _prepare(source, **kwargs):
    """prepare_features, with the hit flag of each subject."""
    hits: list[bool] = []
    fs = cache.prepare_features(source, progress=lambda d, t, hit: hits.append(hit), **kwargs)
    return fs, hits


def _dreamer(folder: Path, bad_subject: int | None = None) -> Path:
    """The twin's DREAMER.mat in ``folder``; ``bad_subject``'s first clip holds an infinite value."""
    struct = D.twin_struct(TWIN)
    if bad_subject is not None:
        cell = struct["Data"][0, bad_subject - 1]["EEG"]["stimuli"]
        clip = cell[0, 0].copy()
        clip[100, 3] = np.inf
        cell[0, 0] = clip
    folder.mkdir(parents=True, exist_ok=True)
    D.save_dreamer(folder / D.FILE_NAME, struct)
    write_marker(folder, TWIN)
    return folder


# ------------------------------------------------------------------------ 1. entry identity
def test_swapped_entry_folders_are_recomputed_not_served(tiny_deap, _isolated_cache, capsys):
    src = open_deap(tiny_deap)
    clean = np.array(cache.prepare_features(src).features)
    one, two = _entries(_isolated_cache)
    aside = one.with_name("aside")
    os.rename(one, aside)
    os.rename(two, one)
    os.rename(aside, two)
    capsys.readouterr()
    fs, hits = _prepare(src)
    err = capsys.readouterr().err.splitlines()
    assert hits == [False, False]
    assert len(err) == 2 and all(line.startswith("warning: feature cache entry") for line in err), err
    assert one.name in err[0] and two.name in err[1] and "source digest" in err[0]
    np.testing.assert_array_equal(fs.features, clean)  # subject 1's maps are subject 1's again
    assert _prepare(src)[1] == [True, True] and capsys.readouterr().err == ""  # replaced: clean hits


def test_swapped_entries_are_not_served_to_workers(tiny_deap, _isolated_cache, capsys):
    """A pool or cluster worker (``load_cached``) refuses a swapped entry rather than train on it."""
    fs = cache.prepare_features(open_deap(tiny_deap))
    one, two = _entries(_isolated_cache)
    os.rename(one, one.with_name("aside"))
    os.rename(two, one)
    os.rename(one.with_name("aside"), two)
    with pytest.raises(DataError, match="feature cache entry of subject 1 not found"):
        cache.load_cached(fs.config, fs.file_digests, synthetic=False)
    assert "warning: feature cache entry" in capsys.readouterr().err


def _other_digest(entry: Path, src) -> str:
    digests = {fingerprints.subject_digest(src, s, cache_root()) for s in src.subjects}
    return next(d for d in digests if d != _meta(entry)["sha256"])


IDENTITY = {  # meta.json field: (edit of the entry's record, words in the warning)
    "sha256": (lambda entry, src: {"sha256": _other_digest(entry, src)}, "source digest"),
    "dataset": (lambda entry, src: {"dataset": "mahnob-hci"}, "dataset 'mahnob-hci'"),
    "config": (
        lambda entry, src: {"config_fingerprint": FeatureConfig(zero_phase=True).fingerprint()},
        "feature config",
    ),
    "contents": (lambda entry, src: {"contents": Contents(peripheral=True).to_dict()}, "contents"),
}


@pytest.mark.parametrize("field", list(IDENTITY))
def test_entry_recorded_for_other_input_is_a_miss(field, tiny_deap, _isolated_cache, capsys):
    """Each identity field alone: MAHNOB-HCI has DEAP's four ratings on 1-9, so only the recorded
    dataset tells such an entry apart; the other edits leave every array and checksum intact too."""
    src = open_deap(tiny_deap)
    clean = np.array(cache.prepare_features(src).features)
    entry = _entries(_isolated_cache)[0]
    subject = _meta(entry)["subject"]
    edit, words = IDENTITY[field]
    _set_meta(entry, **edit(entry, src))
    capsys.readouterr()
    fs, hits = _prepare(src)
    err = capsys.readouterr().err.splitlines()
    assert hits == [subject != 1, subject == 1]
    assert len(err) == 1 and entry.name in err[0] and words in err[0], err
    np.testing.assert_array_equal(fs.features, clean)
    assert _meta(entry)["sha256"] == fs.file_digests[subject] and "dataset" not in _meta(entry)


def test_dreamer_entry_of_another_subject_is_a_miss(tmp_path, _isolated_cache, capsys):
    """Subjects of one DREAMER.mat share its file: the recorded subject is checked too."""
    src = open_dataset("dreamer", _dreamer(tmp_path / "d"))
    clean, _ = _prepare(src, workers=1)
    clean = np.array(clean.features)
    entry = next(e for e in _entries(_isolated_cache) if _meta(e)["subject"] == 2)
    _set_meta(entry, subject=3)
    capsys.readouterr()
    fs, hits = _prepare(src, workers=1)
    err = capsys.readouterr().err.splitlines()
    assert hits == [True, False, True]
    assert len(err) == 1 and entry.name in err[0] and "subject 3, expected 2" in err[0], err
    np.testing.assert_array_equal(fs.features, clean)


# ------------------------------------------------------------------------------ 2. the digest memo
def test_file_rewritten_in_place_with_its_old_mtime_is_rehashed(tmp_path, _isolated_cache):
    """Same size, same inode, the mtime set back (``cp -p``, ``rsync -t``, ``touch -r``; DEAP's files all
    have one size): the status-change time in the memo's stamp still tells."""
    for s in (1, 2):  # pickle protocol 4 stores the arrays' bytes as they are: both files one size
        write_deap_file(tmp_path / "d" / f"s{s:02d}.dat", *random_subject(2, seed=s), protocol=4)
    src = open_deap(tmp_path / "d")
    before = cache.prepare_features(src)
    path = src.files[1]
    st = path.stat()
    other = src.files[2].read_bytes()
    assert len(other) == st.st_size
    with path.open("r+b") as f:  # in place: the inode stays
        f.write(other)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert (path.stat().st_size, path.stat().st_mtime_ns, path.stat().st_ino) == (
        st.st_size, st.st_mtime_ns, st.st_ino,
    )  # fmt: skip
    after = cache.prepare_features(src)
    assert after.file_digests[1] == before.file_digests[2] != before.file_digests[1]
    np.testing.assert_array_equal(after.features[0], before.features[1])


def test_tampered_digest_memo_is_detected(tiny_deap, _isolated_cache, capsys):
    """A memo naming subject 2's digest for subject 1's file would serve subject 2's (valid) entry for
    subject 1: its checksum catches the edit, and the files are hashed again."""
    src = open_deap(tiny_deap)
    clean = cache.prepare_features(src)
    memo_path = _isolated_cache / "digests.json"
    text = memo_path.read_text()
    one, two = clean.file_digests[1], clean.file_digests[2]
    memo_path.write_text(text.replace(one, two))
    capsys.readouterr()
    fs = cache.prepare_features(src)
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(f"warning: digest memo {memo_path} is damaged"), err
    assert fs.file_digests == clean.file_digests
    np.testing.assert_array_equal(fs.features, clean.features)
    cache.prepare_features(src)  # rewritten whole: no warning now
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    "text", ['{"version": 2, "files": {"a": 5}}', "[1, 2]", '{"version": 2, "files": {', "\x00" * 40]
)
def test_malformed_digest_memo_is_rehashed_with_one_warning(text, tiny_deap, _isolated_cache, capsys):
    src = open_deap(tiny_deap)
    clean = cache.prepare_features(src)
    (_isolated_cache / "digests.json").write_text(text)
    capsys.readouterr()
    fs = cache.prepare_features(src)
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "warning: digest memo" in err[0] and "is damaged" in err[0], err
    assert fs.file_digests == clean.file_digests


def test_memo_replaced_by_another_process_is_read_again(tmp_path):
    """The memo is parsed and checked once per process while its file stays the same; another
    process's write (an atomic replace: a new inode) is read again."""
    from bench.data.digests import MEMO_NAME, file_stamp

    data = tmp_path / "s01.dat"
    data.write_bytes(b"eeg")
    real = fingerprints.file_digest(data, tmp_path)
    other = "ab" * 32
    records = {str(data.resolve()): {"stamp": file_stamp(data.resolve()), "sha256": other}}
    body = {"version": 2, "checksum": _records_sum(records), "files": records}
    (tmp_path / "new.json").write_text(json.dumps(body))
    os.replace(tmp_path / "new.json", tmp_path / MEMO_NAME)
    assert fingerprints.file_digest(data, tmp_path) == other != real


def _records_sum(records: dict) -> str:
    """The memo's checksum as documented: sha256 of its records as compact, key-sorted JSON."""
    import hashlib

    return hashlib.sha256(json.dumps(records, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


# -------------------------------------------------------------- 3. nothing cached from a bad file
@pytest.mark.parametrize("workers", [1, 2])
def test_bad_subject_of_a_shared_file_caches_none_of_it(workers, tmp_path, _isolated_cache):
    if workers > 1 and not sys.platform.startswith("linux"):
        pytest.skip("the feature pool forks on Linux only")
    folder = _dreamer(tmp_path / "d", bad_subject=3)
    src = open_dataset("dreamer", folder)
    assert src.synthetic and src.subjects == [1, 2, 3]
    with pytest.raises(DataError, match=r"DREAMER\.mat: subject 3 trial 0: non-finite EEG value"):
        cache.prepare_features(src, workers=workers)
    assert _entries(_isolated_cache) == []  # subjects 1 and 2 were read from the same bad file
    feature_dir = _isolated_cache / "features"
    assert not feature_dir.is_dir() or not any(p.name.endswith(".tmp") for p in feature_dir.iterdir())
    src = open_dataset("dreamer", _dreamer(tmp_path / "d"))  # the file repaired: all three cached
    fs, hits = _prepare(src, workers=workers)
    assert hits == [False, False, False] and len(_entries(_isolated_cache)) == 3
    assert fs.features.shape[:2] == (3, 1)


def test_good_subject_files_before_a_bad_one_stay_cached(tmp_path, _isolated_cache):
    """One file per subject (DEAP): a bad file costs only its own subject."""
    for s in (1, 2):
        data, labels = random_subject(2, seed=s)
        write_deap_file(tmp_path / "d" / f"s{s:02d}.dat", data, labels * (2 if s == 2 else 1))
    with pytest.raises(DataError, match=r"s02\.dat: rating"):
        cache.prepare_features(open_deap(tmp_path / "d"), workers=1)
    assert [_meta(e)["subject"] for e in _entries(_isolated_cache)] == [1]


# ------------------------------------------------------------------------ 4. the user's umask
@contextlib.contextmanager
def _umask(mask: int):
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.parametrize("mask", [0o002, 0o022])
def test_entries_follow_the_umask(mask, tiny_deap, tmp_path):
    root = tmp_path / "shared-cache"
    with _umask(mask):
        cache.prepare_features(open_deap(tiny_deap), cache_dir=root, workers=1)
        twin = synthetic_source(SyntheticConfig(n_subjects=1, n_trials=1), cache_dir=root)
    folder_mode, file_mode = 0o777 & ~mask, 0o666 & ~mask
    entries = _entries(root)
    assert len(entries) == 2
    folders = [root / "features", *entries, twin.root]
    assert {p: oct(stat.S_IMODE(p.stat().st_mode)) for p in folders} == {p: oct(folder_mode) for p in folders}
    files = [root / "digests.json", *(p for e in entries for p in e.iterdir()), *twin.root.iterdir()]
    assert {p: oct(stat.S_IMODE(p.stat().st_mode)) for p in files} == {p: oct(file_mode) for p in files}


# ------------------------------------------------------------------ 5. a cache that cannot be written
ONE_LINE = re.compile(r"\s*error: [^\n]+\n")  # (after a blank line where a progress bar was)


def test_cache_under_a_regular_file_is_one_line(tiny_deap, tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    monkeypatch.setenv("DEAP_BENCH_CACHE", str(blocker / "cache"))
    rc = main(["data", "prepare", "--deap", str(tiny_deap)])
    err = capsys.readouterr().err
    assert rc == 2 and ONE_LINE.fullmatch(err), err
    assert err.strip() == (
        f"error: {blocker}: cannot write the feature cache (Not a directory); it is not a folder: move it, "
        "or set $DEAP_BENCH_CACHE to a folder you can write"
    )


def _deny_writes_under(monkeypatch, root: Path) -> None:
    """As a user without write permission on ``root`` sees it (tests run as root, where chmod does not
    stop writes): creating a folder or file under it fails with EACCES."""
    real_mkdir, real_open = os.mkdir, os.open

    def denied(path) -> None:
        if Path(path).resolve().is_relative_to(root.resolve()):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))

    def mkdir(path, *a, **k):
        denied(path)
        return real_mkdir(path, *a, **k)

    def open_(path, flags, *a, **k):
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            denied(path)
        return real_open(path, flags, *a, **k)

    monkeypatch.setattr(os, "mkdir", mkdir)
    monkeypatch.setattr(os, "open", open_)


def test_read_only_cache_is_one_line_naming_the_path(tiny_deap, tmp_path, monkeypatch, capsys):
    root = tmp_path / "ro-cache"
    root.mkdir()
    monkeypatch.setenv("DEAP_BENCH_CACHE", str(root))
    monkeypatch.chdir(tmp_path)  # the MLflow store of `bench run` (./mlflow.db) stays writable
    _deny_writes_under(monkeypatch, root)
    rc = main(["run", "--model", "majority", "--protocol", "whole-set", "--deap", str(tiny_deap)])
    err = capsys.readouterr().err
    assert rc == 2 and ONE_LINE.fullmatch(err), err
    assert err.strip() == (
        f"error: {root}: cannot write the feature cache (Permission denied); make it writable for you, "
        "or set $DEAP_BENCH_CACHE to a folder you can write"
    )
    rc = main(["data", "prepare"])  # the embedded twin is generated into the cache
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("Generating synthetic DEAP"), err
    err = err[err.index("\nerror: ") :]  # the line saying what is being generated, then the error
    assert ONE_LINE.fullmatch(err), err
    assert err == (
        f"\nerror: {root}: cannot write the synthetic DEAP (Permission denied); make it writable for you, "
        "or set $DEAP_BENCH_CACHE to a folder you can write, or give a data folder\n"
    )


def test_read_only_cache_still_serves_its_entries(tiny_deap, _isolated_cache, monkeypatch, capsys):
    """A cache prepared once and shared read-only: hits need no write (the memo and the stale-folder
    sweep are best effort)."""
    src = open_deap(tiny_deap)
    clean = np.array(cache.prepare_features(src).features)
    _deny_writes_under(monkeypatch, _isolated_cache)
    fs, hits = _prepare(src)
    assert hits == [True, True] and capsys.readouterr().err == ""
    np.testing.assert_array_equal(fs.features, clean)
