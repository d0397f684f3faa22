"""Feature-cache entries on disk: written whole or not at all, and checked before they are served.

An entry is a folder ``features/<cfg16>-<file16>[-<contents>]`` holding ``features.npy``,
``ratings.npy``, any other arrays its contents ask for (:mod:`bench.data.contents`) and ``meta.json``,
written last, which records what the entry was computed from (the source digest, dataset, subject,
feature config and contents) and the sha256 of each array.

A cache on disk can rot, be edited, or have its folders renamed behind our back, and an entry served for
the wrong request becomes a run's numbers (two swapped entry folders would train on the wrong subject).
So every load checks, before any array is used:

1. identity: what ``meta.json`` records matches the request (:class:`EntryId`), compared as metadata,
   so it costs nothing next to the checksums;
2. the sha256 of each array file against ``meta.json``;
3. the values, as the reader checks a subject file: finite features, ratings on the dataset's scale,
   the shapes ``meta.json`` records.

An entry that fails any of them is treated as absent by the caller, which recomputes and replaces it
with one warning line naming it. Entries are written into a temporary folder (with the user's umask:
a group can share the cache) and renamed into place in one step; temporary folders left by a killed
writer are removed once they are older than :data:`STALE_TMP_SECONDS`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.core.errors import ConfigError, DataError
from bench.core.files import temp_folder
from bench.data.contents import Contents
from bench.data.datasets import Dataset, get_dataset
from bench.data.features import FEATURE_CODE_VERSION, FeatureConfig
from bench.data.safeload import check_ratings, first_non_finite

STALE_TMP_SECONDS = 6 * 3600
"""Age after which a ``.<name>.*.tmp`` left by a killed writer is removed (no live writer takes hours
for one subject)."""
ARRAYS = ("features.npy", "ratings.npy")
"""The files every entry has; meta.json records the sha256 of these and of its other arrays
(:meth:`Contents.arrays`)."""

Loaded = tuple[np.ndarray, np.ndarray, dict]
"""A verified entry: features (memory-mapped), ratings, and meta.json with its other arrays in
``meta["arrays"]``."""


def checksum(path: Path) -> str:
    """sha256 of a file's bytes: cached arrays (recorded in, and checked against, meta.json)."""
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


@dataclass(frozen=True)
class EntryId:
    """What an entry must have been computed from to be served for a request.

    The entry's folder name holds only prefixes of the config and digest hashes, and a folder can be
    renamed; ``meta.json`` records the full values, so they are compared on every load.
    """

    digest: str
    """The subject's content key (:func:`bench.data.fingerprints.subject_digest`)."""
    subject: int
    dataset: str
    config: FeatureConfig
    contents: Contents = field(default_factory=Contents)

    @property
    def subject_in_key(self) -> bool:
        """Whether the digest names the subject. DEAP's is its subject file's hash alone, so two subject
        files with the same bytes share one entry (same features); its recorded subject is then
        whichever wrote it, and comparing it would make them replace each other on every run."""
        return get_dataset(self.dataset).digest_salt is not None

    def mismatch(self, meta: dict) -> str | None:
        """What in ``meta`` differs from this request, in words; None if nothing does."""
        recorded = meta.get("dataset", "deap")  # entries of DEAP name none (as before the registry)
        if recorded != self.dataset:
            return f"its meta.json records dataset {recorded!r}, expected {self.dataset!r}"
        recorded = meta.get("sha256")
        if recorded != self.digest:
            return f"its meta.json records source digest {str(recorded)[:16]}, expected {self.digest[:16]}"
        recorded = meta.get("subject")
        if self.subject_in_key and recorded != self.subject:
            return f"its meta.json records subject {recorded}, expected {self.subject}"
        recorded, want = meta.get("config_fingerprint"), self.config.fingerprint()
        if recorded != want:
            return (
                f"its meta.json records another feature config (fingerprint {str(recorded)[:16]}, "
                f"expected {want[:16]})"
            )
        recorded, want = meta.get("contents"), None if self.contents.is_default else self.contents.to_dict()
        if recorded != want:
            return f"its meta.json records contents {recorded}, expected {want}"
        return None


def meta_dataset(meta: dict) -> Dataset:
    """The dataset an entry was computed from (entries written before the registry are DEAP's)."""
    try:
        return get_dataset(meta.get("dataset", "deap"))
    except ConfigError:
        raise DataError(f"meta.json names an unknown dataset {meta.get('dataset')!r}") from None


def verify_entry(entry: Path, expect: EntryId | None = None) -> Loaded:
    """Load an entry and check it (identity, checksums, shapes, values); any problem is a DataError
    saying which.

    ``expect`` is the request (None: any entry, as for a listing). Arrays beyond features and ratings
    (peripheral features, the signal) are checked too and handed back, memory-mapped, in
    ``meta["arrays"]``."""
    try:
        meta = json.loads((entry / "meta.json").read_text())
    except (OSError, ValueError) as exc:
        raise DataError(f"meta.json unreadable ({exc})") from None
    if not isinstance(meta, dict):
        raise DataError(f"meta.json holds a JSON {type(meta).__name__}, not an object")
    wrong = None if expect is None else expect.mismatch(meta)
    if wrong is not None:
        raise DataError(wrong)
    sums = meta.get("checksums")
    if not isinstance(sums, dict):
        raise DataError("no checksums (written by an older version)")
    names = tuple(ARRAYS) + tuple(n for n in sums if n not in ARRAYS)
    for name in names:
        try:
            if checksum(entry / name) != sums.get(name):
                raise DataError(f"{name} does not match its checksum")
        except OSError as exc:
            raise DataError(f"{name} unreadable ({exc.strerror or exc})") from None
    try:
        feats = np.load(entry / "features.npy", mmap_mode="r")
        ratings = np.load(entry / "ratings.npy")
    except (OSError, ValueError) as exc:
        raise DataError(f"arrays unreadable ({exc})") from None
    if feats.dtype != np.float32 or feats.ndim != 5 or list(feats.shape) != meta.get("shape"):
        raise DataError(f"features.npy is {feats.dtype} {feats.shape}, expected float32 {meta.get('shape')}")
    bad = first_non_finite(feats)
    if bad is not None:
        raise DataError(f"features.npy holds a non-finite value at {bad}")
    ds = meta_dataset(meta)
    ratings = check_ratings(ratings, "ratings.npy", ds.rating_names, ds.scale)
    if ratings.shape[0] != feats.shape[0]:
        raise DataError(f"ratings.npy has {ratings.shape[0]} trials, features.npy {feats.shape[0]}")
    meta["arrays"] = {}
    for name in names[len(ARRAYS) :]:
        try:  # read, not mapped: a mapped signal's pages would stay in this process's memory
            arr = np.load(entry / name)
        except (OSError, ValueError) as exc:
            raise DataError(f"{name} unreadable ({exc})") from None
        if arr.dtype != np.float32 or len(arr) != len(feats):
            raise DataError(f"{name} is {arr.dtype} {arr.shape}, expected float32 with {len(feats)} trials")
        bad = first_non_finite(arr)
        if bad is not None:
            raise DataError(f"{name} holds a non-finite value at {bad}")
        # the signal (1.26 GB for DEAP) is read again where inputs are built from it, one subject at a time
        meta["arrays"][name.removesuffix(".npy")] = entry / name if name == "signal.npy" else arr
        del arr
    return feats, ratings, meta


def load_entry(entry: Path, warn: Callable[[str], None], expect: EntryId | None = None) -> Loaded | None:
    """A verified entry (features memory-mapped), or None if absent or invalid (then ``warn`` gets one
    line naming it)."""
    if not entry.is_dir():
        return None
    try:
        return verify_entry(entry, expect)
    except DataError as exc:
        warn(f"warning: feature cache entry {entry} is invalid ({exc}); not using it")
        return None


def stage_entry(dest: Path, computed: tuple[dict[str, np.ndarray], float], expect: EntryId,
                files: tuple[Path, ...], synthetic: bool) -> Path:  # fmt: skip
    """Write computed arrays and meta.json into a new temporary folder beside ``dest`` and return it;
    :func:`install_entry` renames it into place. Nothing is left behind if writing fails."""
    arrays, seconds = computed
    contents = expect.contents
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_folder(dest.parent, prefix=f".{dest.name}.")
    # trials of unequal length or several sessions: their windows and sessions (bench.data.compute)
    names = contents.arrays() + (("trials.npy",) if "trials" in arrays else ())
    try:
        for name in names:
            np.save(tmp / name, arrays[name.removesuffix(".npy")])
        meta = {
            "checksums": {name: checksum(tmp / name) for name in names},
            "subject": expect.subject,
            "source_file": str(files[0].resolve()),
            **(
                {}
                if expect.dataset == "deap"
                else {"dataset": expect.dataset, "source_files": [str(p.resolve()) for p in files]}
            ),
            "sha256": expect.digest,
            "synthetic": synthetic,
            "config": expect.config.to_dict(),
            "config_fingerprint": expect.config.fingerprint(),
            **({} if contents.is_default else {"contents": contents.to_dict()}),
            "feature_code_version": FEATURE_CODE_VERSION,
            "shape": list(arrays["features"].shape),
            "seconds": round(seconds, 3),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return tmp


def install_entry(tmp: Path, dest: Path) -> None:
    """Rename a complete entry folder into place, replacing an invalid one with the shortest gap; ``tmp``
    is gone afterwards, whatever happens.

    POSIX cannot swap two folders in one step, so the old entry is first renamed aside (into a
    ``.tmp`` name that the stale sweep removes if we die here), then the new one is renamed in.
    """
    aside = None
    try:
        if dest.exists():
            aside = temp_folder(dest.parent, prefix=f".{dest.name}.")
            with contextlib.suppress(FileNotFoundError):  # removed concurrently
                os.rename(dest, aside / "old")
        try:
            os.rename(tmp, dest)
        except OSError:
            if not (dest / "meta.json").is_file():  # not a concurrent writer's complete entry
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if aside is not None:
            shutil.rmtree(aside, ignore_errors=True)


def remove_stale_tmp(root: Path, max_age_s: float = STALE_TMP_SECONDS) -> list[Path]:
    """Remove ``.<name>.*.tmp`` files and folders older than ``max_age_s`` left by killed writers.

    Younger ones may belong to a writer at work (another process) and are kept.
    """
    removed = []
    now = time.time()
    for folder in (root, root / "features"):
        try:
            items = list(folder.iterdir())
        except OSError:
            continue
        for p in items:
            if not (p.name.startswith(".") and p.name.endswith(".tmp")):
                continue
            try:
                if now - p.lstat().st_mtime < max_age_s:
                    continue
                if p.is_dir() and not p.is_symlink():
                    shutil.rmtree(p)
                else:
                    p.unlink()
            except OSError:  # removed concurrently, or not ours to remove: leave it
                continue
            removed.append(p)
    return removed
