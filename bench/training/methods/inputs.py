"""What the input methods share: the subjects of a run's rows, and a chunked per-subject transform.

An input method transforms the whole input once per prepared run, each subject's rows with statistics of
that subject's own rows (every one of them, unlabelled), before the training part's standardiser. For the
test subject that means its unlabelled inputs are seen: input methods are transductive.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

CHUNK = 512
"""Rows per chunk: full DEAP as signals is 1.26 GB, so statistics and outputs are computed chunk by chunk
(float64 sums, float32 rows)."""


def subject_groups(subject: np.ndarray, domain: np.ndarray | None) -> np.ndarray:
    """One group id per row: the subject, and in a cross-dataset run (``domain``: 0 train, 1 test dataset,
    whose subjects are both numbered from 1) the dataset too, so subject 1 of each dataset stays apart."""
    subject = np.asarray(subject, dtype=np.int64)
    if domain is None:
        return subject
    return np.asarray(domain, dtype=np.int64) * (int(subject.max(initial=0)) + 1) + subject


def per_group(
    x: np.ndarray,
    groups: np.ndarray,
    fit: Callable[[np.ndarray, np.ndarray], object],
    apply: Callable[[np.ndarray, object], np.ndarray],
) -> np.ndarray:
    """``x`` transformed group by group: ``stats = fit(x, rows)`` of a group's rows, then ``apply(chunk,
    stats)`` on each chunk of them; a new float32 array (``x`` is left as it is)."""
    out = np.empty(x.shape, dtype=np.float32)
    for g in np.unique(groups):
        rows = np.flatnonzero(groups == g)
        stats = fit(x, rows)
        for start in range(0, len(rows), CHUNK):
            part = rows[start : start + CHUNK]
            out[part] = apply(x[part], stats)
    return out
