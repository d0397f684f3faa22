"""The digest memo: each input file's sha256, so that a cache hit never re-reads gigabytes of data.

``digests.json`` under the cache root maps a file's resolved path to its sha256 and the *stamp* the file
had when it was hashed: size, modification time, status-change time and inode. A file whose stamp
differs is hashed again. The status-change time (ctime) is there because the others can all stay the
same while the bytes change: a file rewritten in place keeps its inode, every DEAP subject file has the
same size, and ``cp -p``, ``rsync -t`` or ``touch -r`` set the modification time back; nothing but the
kernel sets the ctime, and it moves on every write. (It also moves on ``chmod``: one needless re-hash.)

The memo is the cache's key to every entry, so a wrong digest in it would serve another file's entry, a
valid one, for this file. It therefore holds the sha256 of its own records: a memo that does not match
it (edited, damaged on disk) or that is not a memo at all is dropped whole with one warning line, and
the files are hashed again. A memo of an older version (no checksum) is dropped without a warning.
Writing it is best effort: a read-only cache still works, it only hashes again next time.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections.abc import Callable
from pathlib import Path

from bench.core.errors import DataError
from bench.core.files import atomic_write

MEMO_NAME = "digests.json"
MEMO_VERSION = 2
"""Version 1 (no checksum, stamps of size, mtime and inode) is dropped unread."""
_SHA256 = re.compile(r"[0-9a-f]{64}")
_parsed: dict[str, tuple[tuple[int, ...], dict[str, dict]]] = {}
"""Per memo path, the (inode, size, mtime_ns, ctime_ns) of the memo file last read or written here and its
records: a run hashing many files reads and checks the memo once, not once per file (another process's
write replaces the file, a new inode)."""
_warned: set[tuple[str, str]] = set()
"""(memo path, its text's hash) already reported as damaged: a read-only cache keeps a damaged memo,
and it is said once per process, not once per file."""


def file_stamp(path: Path) -> list[int]:
    """What identifies a version of ``path`` without reading it: [size, mtime_ns, ctime_ns, inode].

    A file that cannot be opened for reading (permissions, a folder) is a one-line DataError naming it,
    before any hashing.
    """
    try:
        st = path.stat()
        with path.open("rb"):
            pass
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def _records_sum(records: dict) -> str:
    return hashlib.sha256(json.dumps(records, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _valid_record(record: object) -> bool:
    if not isinstance(record, dict) or not isinstance(record.get("sha256"), str):
        return False
    stamp = record.get("stamp")
    return (
        _SHA256.fullmatch(record["sha256"]) is not None
        and isinstance(stamp, list)
        and len(stamp) == 4
        and all(type(v) is int for v in stamp)
    )


def _damage(text: str) -> tuple[dict[str, dict], str | None]:
    """The memo's records, and what is wrong with it (None: nothing, or a memo of an older version)."""
    try:
        memo = json.loads(text)
    except ValueError as exc:
        return {}, f"not JSON: {exc}"
    if not isinstance(memo, dict):
        return {}, f"a JSON {type(memo).__name__}, not an object"
    if "version" not in memo:
        return {}, None  # version 1: no checksum to check it by
    records = memo.get("files")
    if memo.get("version") != MEMO_VERSION or not isinstance(records, dict):
        return {}, f"version {memo.get('version')!r} with records {type(records).__name__}"
    if memo.get("checksum") != _records_sum(records):
        return {}, "its records do not match its checksum"
    bad = next((p for p, r in records.items() if not _valid_record(r)), None)
    if bad is not None:
        return {}, f"the record of {bad} is malformed"
    return records, None


def read_memo(root: Path, warn: Callable[[str], None]) -> dict[str, dict]:
    """The memo's records ``{resolved path: {"stamp": [...], "sha256": ...}}``; empty if there is none
    or it is damaged (then ``warn`` gets one line naming it, once per process)."""
    path = root / MEMO_NAME
    try:
        stamp = _memo_stamp(path)
        known = _parsed.get(str(path))
        if known is not None and known[0] == stamp:
            return dict(known[1])
        text = path.read_text(errors="replace")
    except OSError:  # none yet, or unreadable: hash again
        return {}
    records, problem = _damage(text)
    if problem is None:
        _parsed[str(path)] = (stamp, dict(records))
        return records
    seen = (str(path), hashlib.sha256(text.encode()).hexdigest())
    if seen not in _warned:
        _warned.add(seen)
        warn(f"warning: digest memo {path} is damaged ({problem}); hashing the data files again")
    return records


def write_memo(root: Path, records: dict[str, dict]) -> None:
    """Replace the memo (atomically) by ``records`` and their checksum; a read-only cache is left as it
    is (the files are hashed again next time)."""
    path = root / MEMO_NAME
    memo = {"version": MEMO_VERSION, "checksum": _records_sum(records), "files": records}
    with contextlib.suppress(OSError):
        atomic_write(path, json.dumps(memo, indent=0, sort_keys=True))
        _parsed[str(path)] = (_memo_stamp(path), dict(records))


def _memo_stamp(path: Path) -> tuple[int, ...]:
    st = path.stat()
    return st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


def memo_lookup(path: Path, root: Path, hash_file: Callable[[Path], str], warn: Callable[[str], None]) -> str:
    """sha256 of ``path``'s bytes: from the memo if its stamp is unchanged, else ``hash_file(path)``
    (then recorded)."""
    path = path.resolve()
    stamp = file_stamp(path)
    records = read_memo(root, warn)
    hit = records.get(str(path))
    if hit is not None and hit["stamp"] == stamp:
        return hit["sha256"]
    digest = hash_file(path)
    records[str(path)] = {"stamp": stamp, "sha256": digest}
    write_memo(root, records)
    return digest
