"""Writing files so that a reader never sees half of one: the cache's index, synthetic twins, the report.

What is written follows the user's umask (never a temporary file's private 0600 or a temporary folder's
0700), so a group can share a cache or a report; a folder that cannot be written is one line saying
which and what to do (:func:`writable`), not an ``OSError`` traceback.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from bench.core.errors import BenchError


class WriteError(BenchError):
    """A folder the harness must write into cannot be written (permissions, read-only, a file in the
    way, a full disk): the message names the path and what to do."""


_NOT_WRITABLE = {errno.EACCES, errno.EPERM, errno.EROFS}
_IN_THE_WAY = {errno.ENOTDIR, errno.EEXIST}
_FULL = {errno.ENOSPC, errno.EDQUOT}


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_file(path: Path, write: Callable[[Path], object]) -> None:
    """Call ``write(tmp)`` on a temporary file next to ``path``, then move it in place: readers see the
    old or the new file, never a part, and a failed write leaves nothing. The file gets the permissions
    of any file the user writes (umask), not the private 0600 of a temporary file, so a shared cache, a
    synthetic twin or a report can be read by others."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write(path: Path, data: bytes | str) -> None:
    """Write ``data`` to ``path`` with :func:`atomic_file`."""
    atomic_file(Path(path), lambda tmp: tmp.write_bytes(data.encode() if isinstance(data, str) else data))


def temp_folder(parent: Path, prefix: str, suffix: str = ".tmp") -> Path:
    """A new empty folder in ``parent`` (``tempfile.mkdtemp``) with the permissions of any folder the user
    makes (umask), not mkdtemp's private 0700: a folder written whole and then renamed into place (a
    cache entry) keeps them, and a group sharing the cache could not read a 0700 entry."""
    tmp = Path(tempfile.mkdtemp(dir=parent, prefix=prefix, suffix=suffix))
    os.chmod(tmp, 0o777 & ~_umask())
    return tmp


def _nearest_existing(path: Path) -> Path:
    """``path`` or the nearest folder above it that exists (what a user can act on): the folder where a
    new file could not be made, or the regular file standing where a folder is needed."""
    for p in (path, *path.parents):
        if p.is_symlink() or p.exists():
            return p
    return path


@contextlib.contextmanager
def writable(folder: Path, what: str, elsewhere: str) -> Iterator[None]:
    """Turn an OSError saying that ``folder`` (or a path in it) cannot be written into a one-line
    :class:`WriteError` naming the path to act on, the reason and what to do; other OSErrors pass
    unchanged.

    ``what`` says what was being written (``the feature cache``); ``elsewhere`` is the other way out
    (``set $DEAP_BENCH_CACHE to a folder you can write``); ``folder`` is named where the error names no
    path (a full disk). Without this, a cache folder that is
    read-only, owned by another user or under a regular file is a 50-line traceback from deep inside
    the writer.
    """
    try:
        yield
    except OSError as exc:
        code = exc.errno
        if code in _NOT_WRITABLE:
            todo = f"make it writable for you, or {elsewhere}"
        elif code in _IN_THE_WAY:
            todo = f"it is not a folder: move it, or {elsewhere}"
        elif code in _FULL:
            todo = f"free some space there, or {elsewhere}"
        else:
            raise
        path = _nearest_existing(Path(exc.filename if exc.filename is not None else folder))
        raise WriteError(f"{path}: cannot write {what} ({exc.strerror or exc}); {todo}") from None
