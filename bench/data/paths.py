"""Where the feature cache lives, and how it speaks to the user.

The cache root is the folder every cached thing sits under (feature entries, the digest memo, the
generated synthetic twins): the argument a command was given, else ``$DEAP_BENCH_CACHE``, else
``~/.cache/deap-bench``. It is asked here, in one place, so the modules that read and write under it
(:mod:`bench.data.cache`, :mod:`bench.data.fingerprints`, :mod:`bench.data.source`) agree on it without
importing each other.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

CACHE_ENV = "DEAP_BENCH_CACHE"
"""The environment variable naming the cache root (a shared path on a cluster)."""
WRITE_ELSEWHERE = f"set ${CACHE_ENV} to a folder you can write"
"""What to do about a cache folder that cannot be written (the end of that one-line error)."""


def cache_root(cache_dir: str | Path | None = None) -> Path:
    """The cache folder: the argument, else ``$DEAP_BENCH_CACHE``, else ``~/.cache/deap-bench``."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "deap-bench"


def warn_stderr(message: str) -> None:
    """The cache's default ``warn``: one line on stderr (an entry recomputed, a damaged memo dropped), so
    that it never mixes with a command's own output on stdout."""
    print(message, file=sys.stderr, flush=True)
