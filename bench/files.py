"""Writing files so that a reader never sees half of one: the cache's index, synthetic twins, the report."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


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
