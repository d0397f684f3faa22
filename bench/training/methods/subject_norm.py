"""``subject-norm``: per-subject standardisation of the inputs (each subject by its own statistics).

Between-subject differences in EEG amplitude and feature offsets are a large part of the cross-subject
gap; standardising each subject's rows with the mean and sd of that subject's own rows (all of them,
unlabelled) removes the first two moments of that difference. Brain maps and per-channel features: per
element (every grid cell / feature its own mean and sd); signals: per EEG channel over rows and time. The
test subject is standardised with its own inputs' statistics, so the method is transductive (its labels
are never read).

It assumes each subject's rows are balanced between the classes: a subject whose trials lean one way is
centred on its majority class's features, which moves its decision boundary (a synthetic subject with 23
of 24 trials above the valence threshold lost accuracy to it).
"""

from __future__ import annotations

import numpy as np

from bench.training.methods import MethodInfo, register_method
from bench.training.methods.inputs import CHUNK, per_group, subject_groups

EPS = 1e-8
"""An sd at or below this (an empty grid cell, a flat channel) is taken as 1: the element stays centred."""


def moments(x: np.ndarray, rows: np.ndarray, signal: bool) -> tuple[np.ndarray, np.ndarray]:
    """Mean and sd (ddof 1) of ``x[rows]`` per element (per channel for a signal), float64 chunked sums."""
    axes = (0, 2) if signal else (0,)
    shape = (x.shape[1], 1) if signal else x.shape[1:]
    total = np.zeros(shape, dtype=np.float64)
    squares = np.zeros(shape, dtype=np.float64)
    for start in range(0, len(rows), CHUNK):
        part = x[rows[start : start + CHUNK]].astype(np.float64)
        total += part.sum(axis=axes).reshape(shape)
        squares += np.square(part).sum(axis=axes).reshape(shape)
    n = len(rows) * (x.shape[2] if signal else 1)
    mean = total / max(n, 1)
    var = np.clip(squares - n * np.square(mean), 0, None) / max(n - 1, 1)
    sd = np.sqrt(var)
    return mean, np.where(sd > EPS, sd, 1.0)


def subject_norm(x: np.ndarray, subject: np.ndarray, domain: np.ndarray | None = None,
                 signal: bool = False) -> np.ndarray:  # fmt: skip
    """Each subject's rows of ``x`` standardised by that subject's own mean and sd (float32 copy): per
    element, or with ``signal`` ((N, C, S) EEG) per channel over rows and time."""

    def fit(arr: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return moments(arr, rows, signal)

    def apply(part: np.ndarray, stats: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        mean, sd = stats
        return ((part - mean) / sd).astype(np.float32)

    return per_group(x, subject_groups(subject, domain), fit, apply)


def transform(inputs) -> np.ndarray:
    """The method's input transform of a run's :class:`~bench.data.inputs.ModelInputs`."""
    return subject_norm(inputs.x, inputs.subject, inputs.domain, inputs.spec.layout == "signal")


register_method(
    MethodInfo(
        name="subject-norm",
        full_name="Per-subject standardisation of the inputs",
        label="subject norm",
        citation="common practice in cross-subject EEG emotion recognition (e.g. Zheng & Lu, IEEE TAMD "
        "7(3):162, 2015, normalise each subject's features)",
        doi=None,
        kind="input",
        transductive=True,
        layouts=("grid", "channels", "signal"),
        needs_trunk=False,
        apply=transform,
        notes=(
            "Statistics of each subject's own rows (all of them, unlabelled; a cross-dataset run keeps the "
            "two datasets' subjects apart); then the usual training-part standardiser.",
            "Brain maps and per-channel features: per element; signals: per EEG channel over rows and time.",
        ),
    )
)
