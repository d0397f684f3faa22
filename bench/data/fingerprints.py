"""Content keys: the sha256 of each input file, each subject's key, and a data set's fingerprint.

A cache entry is found by its subject's content key (:func:`subject_digest`), so a changed file is a
miss, never stale data; a run records its data set's fingerprint (:func:`data_fingerprint`: the feature
config and every subject's key), so two runs on the same bytes under the same recipe share it, whichever
folder the files were read from. File hashes are memoised under the cache root
(:mod:`bench.data.digests`), so a cache hit never re-reads gigabytes of data.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

from bench.data.datasets import get_dataset
from bench.data.digests import memo_lookup
from bench.data.entries import checksum
from bench.data.features import FeatureConfig
from bench.data.paths import cache_root, warn_stderr
from bench.data.source import DataSource

_sha256_file = checksum
"""The same hash for input (subject) files; a separate name so tests can tell the two uses apart."""


def file_digest(path: Path, root: Path, warn: Callable[[str], None] | None = None) -> str:
    """sha256 of a file's bytes, memoised by its stamp (size, mtime, ctime, inode) in ``root/digests.json``
    (:mod:`bench.data.digests`; a damaged memo is dropped with one line to ``warn``).

    A file that cannot be opened for reading (permissions, a folder) is a one-line DataError naming it,
    before any hashing.
    """
    return memo_lookup(path, root, lambda p: _sha256_file(p), warn or warn_stderr)


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
    only the files' content hashes, memoised in the cache as :func:`bench.data.cache.prepare_features`
    memoises them."""
    root = cache_root(cache_dir)
    digests = {s: subject_digest(source, s, root) for s in source.subjects}
    return data_fingerprint(config or FeatureConfig(), digests)
