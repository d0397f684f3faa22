"""MATLAB v5 files for the synthetic twins, byte for byte the same wherever and whenever they are written.

``scipy.io.savemat`` writes the time and the operating system into the file's 116-byte description
("Created on: Sun Dec  6 05:40:12 2026"), so a twin written today and one written tomorrow would differ,
and with them the data fingerprint and the run keys of every run on the twin: a run made on one machine
would not be found again (resumed, compared, paired) on another. The description is text no reader
interprets; the twins write a fixed one.
"""

from __future__ import annotations

from pathlib import Path

from scipy.io import savemat

from bench.core.files import atomic_file

DESCRIPTION = b"MATLAB 5.0 MAT-file, written by deap-bench (synthetic twin)"
"""The description every twin's MATLAB file carries, padded with spaces to the format's 116 bytes."""
DESCRIPTION_BYTES = 116


def save_mat(path: Path, variables: dict[str, object], **options) -> None:
    """Write ``variables`` as a MATLAB v5 file at ``path``, atomically, with :data:`DESCRIPTION` as its
    header text (``options`` go to :func:`scipy.io.savemat`)."""

    def write(tmp: Path) -> None:
        savemat(tmp, variables, **options)
        with open(tmp, "r+b") as f:
            f.write(DESCRIPTION.ljust(DESCRIPTION_BYTES))

    atomic_file(path, write)
