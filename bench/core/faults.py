"""Faults of the machine rather than of the user's values: a full disk, a read-only file system, a file
the user may not write. They are no bug of the harness, so the CLI ends them as one line that names
the path and what to do (:func:`fault_line`), and the stores are checked up front
(:func:`unwritable`), before any run is created, so that nothing is left half-written.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

FAULT_ERRNOS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "no permission",
    errno.EPERM: "not permitted",
}
"""OS errors that describe the machine, not the code, with the words the one-line message uses."""
SQLITE_FAULTS = {
    "database or disk is full": "the disk is full",
    "attempt to write a readonly database": "the MLflow store is read-only here",
    "unable to open database file": "the database file cannot be opened for writing",
}
"""SQLite's messages for the same faults (they reach the CLI wrapped in SQLAlchemy and MLflow errors)."""
FIX = {
    "the disk is full": "free some space and run the same command again (finished units are kept)",
    "the disk quota is used up": "free some space and run the same command again (finished units are kept)",
}


def _chain(exc: BaseException):
    """``exc`` and the exceptions it was raised from or during, outermost first (cycles cut)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def fault_line(exc: BaseException) -> str | None:
    """One line for an exception caused by the machine (disk full, read-only, no permission), naming
    the path where it is known and the fix; None for anything else (a bug keeps its traceback)."""
    for e in _chain(exc):
        if isinstance(e, OSError) and e.errno in FAULT_ERRNOS:
            what = FAULT_ERRNOS[e.errno]
            where = f"{e.filename}: " if e.filename else ""
            fix = FIX.get(what, "make it writable, or write elsewhere (--tracking-uri, $DEAP_BENCH_CACHE)")
            return f"{where}{what} ({e.strerror or e}); {fix}"
        if isinstance(e, sqlite3.Error):
            text = str(e).lower()
            for needle, what in SQLITE_FAULTS.items():
                if needle in text:
                    fix = FIX.get(what, "make the store and its folder writable, or pass --tracking-uri")
                    return f"MLflow store: {what} ({e}); {fix}"
    return None


def unwritable(path: Path) -> str | None:
    """Why this user cannot write ``path`` (a file, or the file to be created there), None if they can.

    A SQLite store also needs its folder writable (the journal is created next to the database). The
    answer is the kernel's (``access(2)``), so it is right for a read-only mount, an immutable file, a
    file of another user and root alike (root may write a file whose mode says read-only).
    """
    path = Path(path).expanduser().absolute()
    folder = path.parent
    while not folder.exists() and folder != folder.parent:  # created on first use: its first existing parent
        folder = folder.parent
    for p in ([path] if path.exists() else []) + [folder]:
        if not os.access(p, os.W_OK):
            return f"{p} is {'on a read-only file system' if _read_only_fs(p) else 'not writable by you'}"
    return None


def _read_only_fs(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False
