"""Feature cache: brain-map features computed once per (input file content, feature config).

Layout under the cache root (``$DEAP_BENCH_CACHE`` or ``~/.cache/deap-bench``)::

    digests.json                      path -> sha256 memo, checksummed (so a hit never re-reads 3 GB)
    features/<cfg16>-<file16>/        one entry per subject file and feature config
        features.npy                  (trials, windows, 2, bands, 32) float32, loaded memory-mapped
        ratings.npy                   (trials, 4) float64
        meta.json                     written last: what it was computed from, synthetic flag, checksums

Missing subjects are computed in parallel by forked worker processes (one per usable core), which only
read and compute; the calling process writes every entry. An entry is written into a temporary folder
and renamed into place in one step, so a crash or Ctrl-C never leaves an entry that looks complete.
The key holds the sha256 of the file's bytes, so a changed file or a changed config is a miss, never
stale data; the memo of those hashes is checked too (:mod:`bench.data.digests`). Subjects read from one
shared file (DREAMER) are installed only once every one of them asked for has been read: nothing is
cached from a file that fails to read.

Entries are verified on every load (:mod:`bench.data.entries`), because a cache on disk can rot or be
edited behind our back and a wrong entry must never become a run's numbers: what meta.json records must
match the request (source digest, dataset, subject, feature config, contents), each ``.npy`` file its
sha256, and the arrays are checked as the reader checks a subject file. An entry that fails (or
predates the checksums) is a miss: it is recomputed and replaced, with one warning line naming it.
A cache folder that cannot be written is one line naming it (:func:`bench.core.files.writable`); one
prepared before and shared read-only still serves its entries.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.core.checks import check_number
from bench.core.errors import ConfigError, DataError
from bench.core.files import writable
from bench.data.contents import Contents
from bench.data.datasets import Dataset, SubjectRecording, get_dataset
from bench.data.digests import memo_lookup
from bench.data.entries import (  # noqa: F401  (ARRAYS, STALE_TMP_SECONDS: this module's names before)
    ARRAYS,
    STALE_TMP_SECONDS,
    EntryId,
    Loaded,
    checksum,
    install_entry,
    load_entry,
    remove_stale_tmp,
    stage_entry,
    verify_entry,
)
from bench.data.features import FeatureConfig, extract_features
from bench.data.inputs import BASE_KINDS, InputSpec, ModelInputs, build_inputs
from bench.data.source import SYNTHETIC_MARKER, DataSource, data_kind

_verified = verify_entry
"""The entry check under its name before :mod:`bench.data.entries` (tests call it)."""

CACHE_ENV = "DEAP_BENCH_CACHE"
_ELSEWHERE = f"set ${CACHE_ENV} to a folder you can write"


def cache_root(cache_dir: str | Path | None = None) -> Path:
    """The cache folder: the argument, else ``$DEAP_BENCH_CACHE``, else ``~/.cache/deap-bench``."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "deap-bench"


_sha256_file = checksum
"""The same hash for input (subject) files; a separate name so tests can tell the two uses apart."""


def file_digest(path: Path, root: Path, warn: Callable[[str], None] | None = None) -> str:
    """sha256 of a file's bytes, memoised by its stamp (size, mtime, ctime, inode) in ``root/digests.json``
    (:mod:`bench.data.digests`; a damaged memo is dropped with one line to ``warn``).

    A file that cannot be opened for reading (permissions, a folder) is a one-line DataError naming it,
    before any hashing.
    """
    return memo_lookup(path, root, lambda p: _sha256_file(p), warn or _warn)


@dataclass(frozen=True)
class FeatureSet:
    """Features of several subjects under one config, as arrays the dataset layer slices.

    Attributes
    ----------
    features : array, shape (S, T, W, 2, B, C), float32
        Subjects x trials x windows x (DE, PSD) x bands x EEG channels (``channels``).
    ratings : array, shape (S, T, R)
        The dataset's ratings per trial (valence, arousal first; DEAP: + dominance, liking).
    subjects : array, shape (S,)
        Subject numbers in the dataset's numbering.
    n_trials : array, shape (S,), optional
        Trials each subject has, where subjects differ (AMIGOS, MAHNOB-HCI): the first ``n_trials[i]``
        rows of subject i are real, the rest padding (features 0, ratings NaN) that no input is built from.
        None: every subject has all T trials.
    """

    features: np.ndarray
    ratings: np.ndarray
    subjects: np.ndarray
    config: FeatureConfig
    synthetic: bool
    file_digests: dict[int, str] = field(default_factory=dict)
    source: str = ""
    """The folder the subject files were read from ("" when loaded from the cache alone, as workers do):
    shown as the data set's source in MLflow."""
    dataset: str = "deap"
    channels: tuple[str, ...] = ()
    """The EEG channels on the last axis (default: the dataset's, or ``config.channels``)."""
    n_trials: np.ndarray | None = None
    kinds: tuple[str, ...] = BASE_KINDS
    """Feature kinds on axis 3 of ``features`` (DE and PSD, then any a model asked for)."""
    peripheral: np.ndarray | None = None
    """(S, T, W, P) peripheral features per window (DEAP), where a model asked for them."""
    signal: tuple[np.ndarray | Path, ...] | None = None
    """Per subject, (T_s, C, L) band-limited stimulus EEG (float32; the verified cache file's path, read
    where inputs are built), where a model asked for it."""
    signal_band: tuple[float, float] | None = None
    _memo: dict = field(default_factory=dict, init=False, repr=False, compare=False)
    """Inputs already built, by (spec, threshold, high_if): the runs of a grid share them (read-only)."""

    def __post_init__(self) -> None:
        if not self.channels:
            chans = self.config.channels or get_dataset(self.dataset).channels
            object.__setattr__(self, "channels", tuple(chans))

    @property
    def trials_per_subject(self) -> np.ndarray:
        """(S,) trials of each subject (padding rows not counted)."""
        if self.n_trials is None:
            return np.full(len(self.subjects), self.features.shape[1], dtype=np.int64)
        return np.asarray(self.n_trials, dtype=np.int64)

    @property
    def trial_mask(self) -> np.ndarray:
        """(S, T) True for real trials, False for padding."""
        return np.arange(self.features.shape[1])[None, :] < self.trials_per_subject[:, None]

    @property
    def fingerprint(self) -> str:
        """Data fingerprint: hash of the feature config and every input file's content hash."""
        return data_fingerprint(self.config, self.file_digests)

    @property
    def kind(self) -> str:
        return data_kind(self.dataset, self.synthetic)

    @property
    def contents(self) -> Contents:
        """What this set's cache entries hold beyond DE/PSD maps (see :mod:`bench.data.contents`)."""
        has_peripheral = self.peripheral is not None
        return Contents(kinds=self.kinds, peripheral=has_peripheral, signal_band=self.signal_band)

    def inputs(self, spec: InputSpec, *, threshold: float = 5.0, high_if: str = "gt") -> ModelInputs:
        """Model inputs per ``spec`` (see :func:`bench.data.inputs.build_inputs`), built once per set.

        The arrays are shared by every run that asks for the same input (a grid of runs on one data set
        holds each distinct input once); nothing downstream writes into them.
        """
        key = (spec, float(threshold), high_if)
        if key not in self._memo:
            if spec.layout == "signal":
                from bench.data.signal import build_signal_inputs

                if self.signal is None or self.signal_band != spec.band:
                    raise DataError(f"this data set holds no {spec.band} Hz signal (load it with that band)")
                self._memo[key] = build_signal_inputs(
                    self.signal, self.ratings, self.subjects, spec, threshold=threshold, high_if=high_if,
                    n_trials=self.n_trials,
                )  # fmt: skip
            else:
                if spec.peripheral and self.peripheral is None:
                    raise DataError("this data set holds no peripheral features (prepare it with them)")
                self._memo[key] = build_inputs(
                    self.features, self.ratings, self.subjects, spec, threshold=threshold, high_if=high_if,
                    channels=self.channels, n_trials=self.n_trials, kinds=self.kinds,
                    peripheral=self.peripheral if spec.peripheral else None,
                )  # fmt: skip
        return self._memo[key]

    def select(self, subjects: Iterable[int]) -> FeatureSet:
        """The same set restricted to some subjects (in the given order)."""
        wanted = list(subjects)
        pos = {int(s): i for i, s in enumerate(self.subjects)}
        missing = [s for s in wanted if s not in pos]
        if missing:
            raise DataError(f"subject(s) {', '.join(map(str, missing))} not in this data set")
        idx = [pos[s] for s in wanted]
        n_trials = None if self.n_trials is None else self.trials_per_subject[idx]
        t = self.features.shape[1] if n_trials is None else int(n_trials.max())  # drop all-padding rows
        if n_trials is not None and (n_trials == t).all():
            n_trials = None
        return FeatureSet(
            features=self.features[idx, :t],
            ratings=self.ratings[idx, :t],
            subjects=self.subjects[idx],
            config=self.config,
            synthetic=self.synthetic,
            file_digests={s: self.file_digests[s] for s in wanted},
            source=self.source,
            dataset=self.dataset,
            channels=self.channels,
            n_trials=n_trials,
            kinds=self.kinds,
            peripheral=None if self.peripheral is None else self.peripheral[idx, :t],
            signal=None if self.signal is None else tuple(self.signal[i] for i in idx),
            signal_band=self.signal_band,
        )


def data_fingerprint(config: FeatureConfig, digests: dict[int, str]) -> str:
    """The fingerprint of a data set: the feature config and the content hash of each subject file."""
    payload = json.dumps(
        {"config": config.fingerprint(), "files": {str(k): v for k, v in digests.items()}}, sort_keys=True
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def subject_digest(
    source: DataSource, subject: int, root: Path, warn: Callable[[str], None] | None = None
) -> str:
    """The content key of one subject's recording: its files' sha256 (memoised), and for every dataset
    but DEAP the reader's version (``Dataset.digest_salt``) and the subject, so a changed reader or cut,
    or two subjects read from one shared file (DREAMER), never share an entry. DEAP's key is its subject
    file's hash alone, as it was before datasets were registered."""
    ds = get_dataset(source.dataset)
    digests = [file_digest(p, root, warn) for p in source.subject_files(subject)]
    if ds.digest_salt is None and len(digests) == 1:
        return digests[0]
    payload = json.dumps({"dataset": ds.digest_salt or ds.name, "subject": int(subject), "files": digests})
    return hashlib.sha256(payload.encode()).hexdigest()


def source_fingerprint(
    source: DataSource, config: FeatureConfig | None = None, *, cache_dir: str | Path | None = None
) -> str:
    """The data fingerprint runs on ``source`` get (default features), without computing any feature:
    only the files' content hashes, memoised in the cache like :func:`prepare_features` does."""
    root = cache_root(cache_dir)
    digests = {s: subject_digest(source, s, root) for s in source.subjects}
    return data_fingerprint(config or FeatureConfig(), digests)


def _entry_name(config: FeatureConfig, digest: str, contents: Contents | None = None) -> str:
    extra = (contents or Contents()).key()
    return f"{config.fingerprint()[:16]}-{digest[:16]}" + (f"-{extra}" if extra else "")


def _warn(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def read_subject(files: tuple[Path, ...], subject: int, dataset: str = "deap") -> SubjectRecording:
    """One subject's recording, through its dataset's reader."""
    rec = get_dataset(dataset).read(tuple(files), subject)
    if rec.subject != subject:
        raise DataError(f"{files[0]}: subject number mismatch ({rec.subject} != {subject})")
    return rec


def recording_for(rec: SubjectRecording, ds: Dataset, config: FeatureConfig) -> np.ndarray:
    """The part of a recording the feature config uses: its channels (``config.channels``) and the last
    ``config.baseline_s`` seconds of the dataset's baseline before the stimulus."""
    eeg = rec.eeg
    if config.channels is not None:
        index = {c.upper(): i for i, c in enumerate(rec.channel_names)}
        missing = [c for c in config.channels if c.upper() not in index]
        if missing:
            raise ConfigError(
                f"features.channels: {', '.join(missing)} not among {ds.title}'s channels "
                f"({', '.join(rec.channel_names)})"
            )
        eeg = eeg[:, [index[c.upper()] for c in config.channels]]
    drop = round((ds.baseline_s - config.baseline_s) * rec.sfreq)
    if drop < 0:
        raise ConfigError(
            f"features.baseline_s={config.baseline_s:g}: {ds.title} recordings hold {ds.baseline_s:g} s of "
            "baseline before each stimulus"
        )
    return eeg[..., drop:] if drop else eeg


def _compute_arrays(
    path: Path,
    subject: int,
    config: FeatureConfig,
    dataset: str = "deap",
    files: tuple[Path, ...] | None = None,
    contents: Contents | None = None,
) -> tuple[dict[str, np.ndarray], float]:
    """Read one subject's files and compute its entry's arrays: ({name: array}, seconds of feature work)
    with ``features`` and ``ratings``, plus ``peripheral`` and ``signal`` where ``contents`` asks.

    This is all a pool worker does; it writes nothing, so a worker that fails or is killed leaves no
    trace in the cache (the calling process writes every entry)."""
    contents = contents or Contents()
    rec = read_subject(files or (path,), subject, dataset)
    ds = get_dataset(dataset)
    t0 = time.perf_counter()
    eeg = recording_for(rec, ds, config)
    chans = config.channels or rec.channel_names
    if contents.signal_band is not None:  # a time-domain model's entry: the signal, no maps (0 windows)
        n_bands = len(config.bands)
        feats = np.empty((len(eeg), 0, len(contents.kinds), n_bands, eeg.shape[1]), dtype=np.float32)
    elif contents.kinds == BASE_KINDS:  # the call every entry made before other kinds existed
        feats = extract_features(eeg, config, sfreq=rec.sfreq)
    else:
        feats = extract_features(eeg, config, sfreq=rec.sfreq, kinds=contents.kinds, channels=tuple(chans))
    arrays = {"features": feats, "ratings": rec.ratings}
    if contents.peripheral:
        from bench.data.peripheral import peripheral_features

        arrays["peripheral"] = peripheral_features(rec, ds, config)
    if contents.signal_band is not None:
        from bench.data.signal import band_limited

        n_base = round(config.baseline_s * rec.sfreq)
        arrays["signal"] = band_limited(eeg[..., n_base:], rec.sfreq, contents.signal_band)
    return arrays, time.perf_counter() - t0


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask: a container's or ``taskset``'s limit)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _feature_pool(n: int) -> ProcessPoolExecutor | None:
    """A pool of ``n`` forked worker processes, or None where that is no gain or unsafe (then features
    are computed in this process).

    Forked workers start at once (a spawned one re-imports numpy and scipy, ~2 s on a small machine).
    Forking is only safe on Linux, from a process running no other Python thread (a lock that thread
    holds at the fork stays held forever in the child) and not itself a daemonic pool worker (those may
    not have children). The pool forks all its workers on the first submit, before its own threads
    start."""
    import multiprocessing
    import threading

    if n < 2 or not sys.platform.startswith("linux") or threading.active_count() > 1:
        return None
    if multiprocessing.current_process().daemon:
        return None
    return ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("fork"), initializer=_init_worker)


def _init_worker() -> None:
    """Pool worker initialiser: Ctrl-C is the parent's to handle (it stops the workers), and freed
    memory is kept for the next subject (:func:`_reuse_freed_memory`)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _reuse_freed_memory()


def _reuse_freed_memory() -> None:
    """Let glibc's malloc serve large arrays from the heap and keep them when freed, in this process.

    By default every array over 32 MB is a fresh ``mmap`` that the kernel faults in and zeroes page by
    page, then unmaps: reading and filtering one subject does that with ~0.5 GB, ~0.4 s of system time
    per subject (a third of the work) spent on the same memory again and again. Only for pool workers:
    they live for one extraction and hold one subject's memory at a time. No-op without glibc.
    """
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 1 << 30)  # M_MMAP_THRESHOLD: arrays up to 1 GiB come from the heap
        libc.mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD: keep up to 1 GiB of freed heap for reuse


def _stop_pool(pool: ProcessPoolExecutor) -> None:
    """Cancel queued subjects and wait for those in flight (at most one per worker, ~1 s each).

    Workers are not killed: one killed while sending its result leaves the pool's reader blocked on a
    half message for ever. They ignore Ctrl-C (:func:`_init_worker`) and write nothing, so waiting for
    them is all a stop needs; their results are dropped.
    """
    pool.shutdown(wait=True, cancel_futures=True)


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
    :func:`_feature_pool`) computes them here, one at a time (memory: one subject's recording).
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
    check_number("workers", workers, integer=True, low=1, none_ok=True)
    warn = warn or _warn
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
                pool = _feature_pool(min(workers or usable_cores(), len(subjects) - k + 1))
            for s in [s for s, fut in todo.items() if fut is None and pool is not None]:
                todo[s] = _submit(pool, source, s, config, contents)  # workers start now
        readers = _file_groups(source, list(todo))
        for i, (subject, path) in enumerate(subjects, start=1):
            hit = subject in loaded
            if not hit:
                computed = _worker_result(todo.pop(subject), path)  # the future lets go of it
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
            _stop_pool(pool)
        raise
    if pool is not None:
        pool.shutdown(wait=True)
    got = [loaded.pop(s) for s, _ in subjects]
    digests = {s: ids[s].digest for s, _ in subjects}
    return _assemble([g[0] for g in got], [g[1] for g in got], digests, config, source.synthetic, source.root,
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
    return writable(entry.parent.parent, "the feature cache", _ELSEWHERE)


def _stage(expect: EntryId, entry: Path, files: tuple[Path, ...], synthetic: bool,
           computed: tuple[dict[str, np.ndarray], float] | None = None) -> Path:  # fmt: skip
    """Compute a subject's arrays here unless ``computed`` (a pool worker's result) is given, and write
    them into a temporary folder beside ``entry`` (:func:`bench.data.entries.stage_entry`)."""
    extra = _dataset_args(expect.dataset, files, expect.contents)
    computed = computed or _compute_arrays(files[0], expect.subject, expect.config, **extra)
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


def _submit(pool: ProcessPoolExecutor, source: DataSource, subject: int, config: FeatureConfig,
            contents: Contents) -> Future:  # fmt: skip
    """Queue one subject; a pool already broken by a dead worker gives a future holding that error."""
    extra = _dataset_args(source.dataset, source.subject_files(subject), contents)
    try:
        return pool.submit(_compute_arrays, source.files[subject], subject, config, **extra)
    except BrokenProcessPool as exc:
        failed: Future = Future()
        failed.set_exception(exc)
        return failed


def _worker_result(future: Future | None, path: Path) -> tuple[dict[str, np.ndarray], float] | None:
    """A pool worker's ({name: array}, seconds) for ``path``; None if no worker computed it."""
    if future is None:
        return None
    try:
        return future.result()
    except BrokenProcessPool:
        raise DataError(f"{path}: a feature process died before finishing it (out of memory?)") from None


def _recompute(path: Path, subject: int, config: FeatureConfig, digest: str, entry: Path, synthetic: bool,
               warn: Callable[[str], None] | None,
               computed: tuple[dict[str, np.ndarray], float] | None = None, dataset: str = "deap",
               files: tuple[Path, ...] | None = None,
               contents: Contents | None = None) -> Loaded:  # fmt: skip
    """Write an entry (replacing what is there) and hand back the verified result; computed here unless
    ``computed`` (a pool worker's result) is given."""
    expect = EntryId(digest, subject, dataset, config, contents or Contents())
    tmp = _stage(expect, entry, files or (path,), synthetic, computed)
    return _install_staged(tmp, expect, entry, warn or _warn)


def _dataset_args(dataset: str, files: tuple[Path, ...] | None, contents: Contents | None = None) -> dict:
    """Extra arguments of :func:`_compute_arrays`: the dataset's (none for DEAP) and non-default contents."""
    extra = {} if contents is None or contents.is_default else {"contents": contents}
    return extra if dataset == "deap" else {"dataset": dataset, "files": files, **extra}


def _assemble(feats: list, ratings: list, digests: dict[int, str], config: FeatureConfig, synthetic: bool,
              where: object, source: str = "", dataset: str = "deap", extras: list | None = None,
              contents: Contents | None = None) -> FeatureSet:  # fmt: skip
    """Stack per-subject entries (in ``digests`` order) into one FeatureSet read from ``source``.

    Subjects with fewer trials (documented missing trials) are padded to the most any has (features 0,
    ratings NaN) and the set records each subject's count; any other difference is an error. ``extras``
    are the entries' other arrays (peripheral features are stacked like features; signals stay one
    memory-mapped array per subject)."""
    contents = contents or Contents()
    extras = extras or [{} for _ in feats]
    ragged = get_dataset(dataset).missing_trials
    shapes = {f.shape[1:] if ragged else f.shape for f in feats}
    if len(shapes) != 1:
        raise DataError(f"{where}: subjects differ in trials/windows {sorted(shapes)}; cannot pool them")
    counts = np.array([len(f) for f in feats], dtype=np.int64)
    n_trials = None
    periph = [e["peripheral"] for e in extras] if contents.peripheral else None
    if len(set(counts.tolist())) > 1:
        t = int(counts.max())
        feats = [_pad(np.asarray(f), t, 0.0) for f in feats]
        ratings = [_pad(np.asarray(r), t, np.nan) for r in ratings]
        periph = None if periph is None else [_pad(np.asarray(p), t, 0.0) for p in periph]
        n_trials = counts
    return FeatureSet(
        features=np.stack(feats) if len(feats) > 1 else np.asarray(feats[0])[None],
        ratings=np.stack(ratings),
        subjects=np.array(list(digests), dtype=np.int64),
        config=config,
        synthetic=synthetic,
        file_digests=dict(digests),
        source=source,
        dataset=dataset,
        n_trials=n_trials,
        kinds=contents.kinds,
        peripheral=None if periph is None else np.stack(periph),
        signal=tuple(e["signal"] for e in extras) if contents.signal_band is not None else None,
        signal_band=contents.signal_band,
    )


def _pad(a: np.ndarray, n: int, value: float) -> np.ndarray:
    """``a`` with rows of ``value`` appended up to ``n`` rows."""
    if len(a) == n:
        return np.asarray(a)
    out = np.full((n, *a.shape[1:]), value, dtype=a.dtype)
    out[: len(a)] = a
    return out


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
    dataset: str = "deap",
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
            entry, warn or _warn, EntryId(digest, subject, dataset, config, contents or Contents())
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
    return _assemble(feats, ratings, dict(file_digests), config, synthetic, cache_root(cache_dir),
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
