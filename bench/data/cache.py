"""Feature cache: brain-map features computed once per (input file content, feature config).

Layout under the cache root (``$DEAP_BENCH_CACHE`` or ``~/.cache/deap-bench``)::

    digests.json                      path -> sha256 memo, checksummed (so a hit never re-reads 3 GB)
    features/<cfg16>-<file16>/        one entry per subject file and feature config
        features.npy                  (trials, windows, 2, bands, 32) float32, loaded memory-mapped
        ratings.npy                   (trials, 4) float64
        meta.json                     written last: what it was computed from, synthetic flag, checksums

Missing subjects are computed in parallel by forked worker processes (one per usable core,
:mod:`bench.data.workers`), which only read and compute (:mod:`bench.data.compute`); the calling process
writes every entry. An entry is written into a temporary folder
and renamed into place in one step, so a crash or Ctrl-C never leaves an entry that looks complete.
The key holds the sha256 of the file's bytes (:mod:`bench.data.fingerprints`), so a changed file or a
changed config is a miss, never stale data; the memo of those hashes is checked too
(:mod:`bench.data.digests`). Subjects read from one
shared file (DREAMER) are installed only once every one of them asked for has been read: nothing is
cached from a file that fails to read.

Entries are verified on every load (:mod:`bench.data.entries`), because a cache on disk can rot or be
edited behind our back and a wrong entry must never become a run's numbers: what meta.json records must
match the request (source digest, dataset, subject, feature config, contents), each ``.npy`` file its
sha256, and the arrays are checked as the reader checks a subject file. An entry that fails (or
predates the checksums) is a miss: it is recomputed and replaced, with one warning line naming it.
A cache folder that cannot be written is one line naming it (:func:`bench.core.files.writable`); one
prepared before and shared read-only still serves its entries.

This module owns the entries' names and their lifecycle (look up, stage, install, recompute, load,
list). The cache root is :mod:`bench.data.paths`'s; what it hands out is a
:class:`~bench.data.featureset.FeatureSet`.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path

import numpy as np

from bench.core.checks import check_number
from bench.core.errors import ConfigError, DataError
from bench.core.files import writable
from bench.core.host import usable_cores
from bench.core.pool import stop_pool
from bench.data.compute import compute_arrays, dataset_args
from bench.data.contents import Contents
from bench.data.datasets import DEFAULT_DATASET
from bench.data.entries import (
    EntryId,
    Loaded,
    install_entry,
    load_entry,
    remove_stale_tmp,
    stage_entry,
)
from bench.data.features import FeatureConfig
from bench.data.featureset import FeatureSet, assemble
from bench.data.fingerprints import subject_digest
from bench.data.paths import CACHE_ENV, WRITE_ELSEWHERE, cache_root, warn_stderr
from bench.data.published import published_source
from bench.data.source import SYNTHETIC_MARKER, DataSource
from bench.data.workers import feature_pool, submit, worker_result


def _entry_name(config: FeatureConfig, digest: str, contents: Contents | None = None) -> str:
    extra = (contents or Contents()).key()
    return f"{config.fingerprint()[:16]}-{digest[:16]}" + (f"-{extra}" if extra else "")


def prepare_features(
    source: DataSource,
    config: FeatureConfig | None = None,
    *,
    cache_dir: str | Path | None = None,
    force: bool = False,
    progress: Callable[[int, int, bool], None] | None = None,
    warn: Callable[[str], None] | None = None,
    workers: int | None = None,
    contents: Contents | None = None,
) -> FeatureSet:
    """Features of every subject in ``source``: loaded from the cache, computed once on a miss.

    ``contents`` asks for more than the DE/PSD maps (other kinds, peripheral features, the signal): an
    entry of its own, computed from the same files under the same config (the data fingerprint is the same).

    Missing subjects are computed by a pool of ``workers`` processes (default: the usable cores, at most
    one per missing subject), each reading and computing one subject at a time; this process writes
    every entry (atomically, as a serial run does), so a failing or interrupted worker leaves nothing
    in the cache. ``workers=1``, a single missing subject, or a process where forking is unsafe (see
    :func:`bench.data.workers.feature_pool`) computes them here, one at a time (memory: one subject's
    recording).
    ``progress(done, total, hit)`` is called after each subject, in subject order. An invalid entry is
    recomputed and ``warn`` (default: print on stderr) gets one line naming it. A bad subject file is
    the same one-line DataError naming it in either mode (the first in subject order; a file that cannot
    even be opened is named before any is read). Subjects read from one shared file (DREAMER) are put in
    the cache together once every one of them asked for has been read: a shared file that fails for
    one subject leaves none of them cached (:func:`_file_groups`). A cache folder that cannot be
    written is a one-line :class:`bench.core.files.WriteError` naming it.
    """
    config = config or FeatureConfig()
    contents = contents or Contents()
    if config.published is not None:  # the dataset's published feature files are the subject files
        source = published_source(source, config)
    check_number("workers", workers, integer=True, low=1, none_ok=True)
    warn = warn or warn_stderr
    root = cache_root(cache_dir)
    remove_stale_tmp(root)
    subjects = sorted(source.files.items())
    ids: dict[int, EntryId] = {}
    loaded: dict[int, Loaded] = {}
    todo: dict[int, Future | None] = {}  # misses: a worker's result to come, or None (computed here)
    staged: dict[int, Path] = {}  # misses written into temporary folders, not yet installed
    pool = None
    try:
        for k, (subject, _path) in enumerate(subjects):
            digest = subject_digest(source, subject, root, warn)
            ids[subject] = EntryId(digest, subject, source.dataset, config, contents)
            got = None if force else load_entry(_entry_of(ids[subject], root), warn, ids[subject])
            if got is not None:
                loaded[subject] = got
                continue  # else absent, forced, invalid, or left incomplete by an older writer: replaced
            todo[subject] = None
            if pool is None and len(todo) == 2:  # a second miss: a pool pays off (a worker per miss at most)
                pool = feature_pool(min(workers or usable_cores(), len(subjects) - k + 1))
            for s in [s for s, fut in todo.items() if fut is None and pool is not None]:
                todo[s] = submit(pool, source, s, config, contents)  # workers start now
        readers = _file_groups(source, list(todo))
        for i, (subject, path) in enumerate(subjects, start=1):
            hit = subject in loaded
            if not hit:
                computed = worker_result(todo.pop(subject), path)  # the future lets go of it
                entry = _entry_of(ids[subject], root)
                staged[subject] = _stage(ids[subject], entry, source.subject_files(subject), source.synthetic,
                                         computed)  # fmt: skip
                if readers[subject] <= staged.keys():  # all read from its file(s): install them
                    for s in sorted(readers[subject]):
                        loaded[s] = _install_staged(staged.pop(s), ids[s], _entry_of(ids[s], root), warn)
            if progress is not None:
                progress(i, len(subjects), hit)
    except BaseException:
        for tmp in staged.values():  # read from a file that failed (or interrupted): cache none of it
            shutil.rmtree(tmp, ignore_errors=True)
        if pool is not None:
            # no timeout: a worker killed while sending its result would leave the pool's reader blocked
            # on half a message; workers ignore Ctrl-C and write nothing, so waiting is all a stop needs
            stop_pool(pool)
        raise
    if pool is not None:
        pool.shutdown(wait=True)
    got = [loaded.pop(s) for s, _ in subjects]
    digests = {s: ids[s].digest for s, _ in subjects}
    return assemble([g[0] for g in got], [g[1] for g in got], digests, config, source.synthetic, source.root,
                     source=str(source.root), dataset=source.dataset, extras=[g[2]["arrays"] for g in got],
                     contents=contents)  # fmt: skip


def _file_groups(source: DataSource, subjects: list[int]) -> dict[int, frozenset[int]]:
    """Each of ``subjects`` with those it shares a file with (directly or through others): DREAMER's
    subjects are all read from one file, every other dataset's from files of their own.

    A subject's entry is installed only once its whole group has been read and computed, so a shared file
    that fails to read for one subject leaves none of its subjects in the cache: the file is suspect (a
    copy cut short, a damaged struct), and a later run should read it whole again rather than mix entries
    from it with an error."""
    group: dict[int, set[int]] = {s: {s} for s in subjects}
    first_reader: dict[Path, int] = {}
    for s in subjects:
        for f in source.subject_files(s):
            other = first_reader.setdefault(Path(f).resolve(), s)
            if group[other] is not group[s]:
                merged = group[other] | group[s]
                for m in merged:
                    group[m] = merged
    return {s: frozenset(g) for s, g in group.items()}


def _entry_of(expect: EntryId, root: Path) -> Path:
    return entry_path(expect.config, expect.digest, root, expect.contents)


def _cache_writes(entry: Path):
    """Writing ``entry`` (under ``<root>/features``): a folder we may not write is one line saying so."""
    return writable(entry.parent.parent, "the feature cache", WRITE_ELSEWHERE)


def _stage(expect: EntryId, entry: Path, files: tuple[Path, ...], synthetic: bool,
           computed: tuple[dict[str, np.ndarray], float] | None = None) -> Path:  # fmt: skip
    """Compute a subject's arrays here unless ``computed`` (a pool worker's result) is given, and write
    them into a temporary folder beside ``entry`` (:func:`bench.data.entries.stage_entry`)."""
    extra = dataset_args(expect.dataset, files, expect.contents)
    computed = computed or compute_arrays(files[0], expect.subject, expect.config, **extra)
    with _cache_writes(entry):
        return stage_entry(entry, computed, expect, files, synthetic)


def _install_staged(tmp: Path, expect: EntryId, entry: Path, warn: Callable[[str], None]) -> Loaded:
    """Rename a staged entry into place (replacing what is there) and hand back the verified result."""
    with _cache_writes(entry):
        install_entry(tmp, entry)
    loaded = load_entry(entry, warn, expect)
    if loaded is None:
        raise DataError(f"{entry}: cache entry invalid right after writing it")
    return loaded


def _recompute(path: Path, subject: int, config: FeatureConfig, digest: str, entry: Path, synthetic: bool,
               warn: Callable[[str], None] | None,
               computed: tuple[dict[str, np.ndarray], float] | None = None, dataset: str = DEFAULT_DATASET,
               files: tuple[Path, ...] | None = None,
               contents: Contents | None = None) -> Loaded:  # fmt: skip
    """Write an entry (replacing what is there) and hand back the verified result; computed here unless
    ``computed`` (a pool worker's result) is given."""
    expect = EntryId(digest, subject, dataset, config, contents or Contents())
    tmp = _stage(expect, entry, files or (path,), synthetic, computed)
    return _install_staged(tmp, expect, entry, warn or warn_stderr)


def entry_path(
    config: FeatureConfig, digest: str, cache_dir: str | Path | None = None, contents: Contents | None = None
) -> Path:
    """The cache entry of one subject file (by content hash) under one feature config (and contents)."""
    return cache_root(cache_dir) / "features" / _entry_name(config, digest, contents)


def load_cached(
    config: FeatureConfig,
    file_digests: dict[int, str],
    *,
    synthetic: bool,
    cache_dir: str | Path | None = None,
    warn: Callable[[str], None] | None = None,
    dataset: str = DEFAULT_DATASET,
    contents: Contents | None = None,
) -> FeatureSet:
    """Features already in the cache, found by each input file's content hash.

    Needs no input files: this is how process-pool and cluster workers get the features the main
    process prepared (the cache on a shared path). A missing entry is a one-line DataError. An invalid
    entry is recomputed from the source file its meta.json names when that file is still there with the
    same content; otherwise it is a one-line DataError too.
    """
    root = cache_root(cache_dir)
    remove_stale_tmp(root)
    feats, ratings, extras = [], [], []
    for subject, digest in file_digests.items():
        entry = entry_path(config, digest, root, contents)
        loaded = load_entry(
            entry, warn or warn_stderr, EntryId(digest, subject, dataset, config, contents or Contents())
        )
        files = _source_files(entry, digest, subject, root) if loaded is None and entry.is_dir() else None
        if files is not None:
            loaded = _recompute(files[0], subject, config, digest, entry, synthetic, warn, None, dataset,
                                files, contents)  # fmt: skip
        if loaded is None:
            raise DataError(
                f"{entry}: feature cache entry of subject {subject} not found; on a cluster put the cache "
                f"(${CACHE_ENV}) on a path every machine shares"
            )
        feats.append(loaded[0])
        ratings.append(loaded[1])
        extras.append(loaded[2]["arrays"])
    return assemble(feats, ratings, dict(file_digests), config, synthetic, cache_root(cache_dir),
                     dataset=dataset, extras=extras, contents=contents)  # fmt: skip


def _source_files(entry: Path, digest: str, subject: int, root: Path) -> tuple[Path, ...] | None:
    """The files an entry was computed from, if they still exist with the same content."""
    try:
        meta = json.loads((entry / "meta.json").read_text())
        files = tuple(Path(p) for p in meta.get("source_files") or [meta["source_file"]])
        dataset = meta.get("dataset", "deap")
        source = DataSource(root=files[0].parent, files={subject: files[0]}, synthetic=False, description="",
                            dataset=dataset, members={subject: files} if len(files) > 1 else {})  # fmt: skip
        return files if subject_digest(source, subject, root) == digest else None
    except (OSError, ValueError, KeyError, TypeError, IndexError, DataError, ConfigError):
        return None


EMBEDDED_SOURCE = "embedded synthetic"
UNKNOWN_SOURCE = "unknown"


def entry_source(meta: dict, cache_dir: str | Path | None = None) -> tuple[str, bool | None]:
    """Where a cache entry's features were computed from, in words, and whether that folder still exists.

    The data folder of the entry's subject file (``source_file`` in meta.json); ``embedded synthetic``
    (with its size and seed) for the synthetic DEAP the harness generates under this cache; ``unknown``
    (exists: None) for an entry whose meta.json names no file. A cache can be shared by several data
    folders and users, so ``bench data info`` shows this beside every entry.
    """
    src = meta.get("source_file")
    if not isinstance(src, str) or not src:
        return UNKNOWN_SOURCE, None
    folder = Path(src).parent
    exists = folder.is_dir()
    synthetic = cache_root(cache_dir) / "synthetic"
    # a twin's files may lie in sub-folders of it (MAHNOB-HCI's Sessions/<id>/)
    twin = next((f for f in (folder, *folder.parents) if f.parent == synthetic), None)
    if twin is not None:
        try:
            cfg = json.loads((twin / SYNTHETIC_MARKER).read_text())["config"]
            size = f" ({cfg['n_subjects']} subjects x {cfg['n_trials']} trials, seed {cfg['seed']})"
        except (OSError, ValueError, KeyError, TypeError):
            size = ""
        return EMBEDDED_SOURCE + size, twin.is_dir()
    return str(folder), exists


def list_cached(cache_dir: str | Path | None = None) -> list[dict]:
    """Metadata of every complete cache entry (plus its size on disk in bytes)."""
    root = cache_root(cache_dir) / "features"
    out = []
    if not root.is_dir():
        return out
    for entry in sorted(root.iterdir()):
        if entry.name.startswith(".") or not (entry / "meta.json").is_file():
            continue
        try:
            meta = json.loads((entry / "meta.json").read_text())
        except (OSError, ValueError):
            continue
        meta["entry"] = entry.name
        meta["bytes"] = sum(p.stat().st_size for p in entry.iterdir())
        out.append(meta)
    return out
