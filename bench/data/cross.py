"""Two datasets as one run's data: train on every subject of one, test on every subject of the other.

Both are read on the channels they share (DEAP's 32 hold all 14 of the Emotiv headset DREAMER and
AMIGOS used), with one feature config, so both are filtered, windowed, baseline-corrected and
normalised the same way at the same 128 Hz; each is binarised at its own threshold (its rating scale's
midpoint). :class:`CrossFeatures` offers what the planner and the tracker read from a FeatureSet (kind,
fingerprint, subjects, inputs), so a cross-dataset run goes through the same runner, units, tracking and
tables as any other.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace

import numpy as np

from bench.core.errors import ConfigError
from bench.data.datasets import get_dataset
from bench.data.features import FeatureConfig
from bench.data.featureset import FeatureSet
from bench.data.harmonise import restrict_tasks
from bench.data.inputs import InputSpec, ModelInputs
from bench.data.source import data_kind

CROSS_KIND = "cross-dataset"
"""The data kind of cross-dataset runs (with ``-synthetic`` when both datasets are synthetic twins)."""


def shared_channels(train: str, test: str) -> tuple[str, ...]:
    """The EEG channels two datasets both record, in the training dataset's order (names compared
    without regard to case: MAHNOB-HCI's files write ``FP1`` where DEAP writes ``Fp1``)."""
    a, b = get_dataset(train), get_dataset(test)
    theirs = {c.upper() for c in b.channels}
    shared = tuple(c for c in a.channels if c.upper() in theirs)
    if not shared:
        raise ConfigError(f"datasets {a.title} and {b.title} share no EEG channel")
    return shared


def cross_feature_config(config: FeatureConfig, train: str, test: str) -> FeatureConfig:
    """``config`` restricted to the channels both datasets share (an explicit channel list must be
    among them)."""
    shared = shared_channels(train, test)
    if config.channels is None:
        return replace(config, channels=shared)
    upper = {c.upper() for c in shared}
    missing = [c for c in config.channels if c.upper() not in upper]
    if missing:
        raise ConfigError(
            f"features.channels: {', '.join(missing)} not recorded by both {train} and {test} "
            f"(shared: {', '.join(shared)})"
        )
    return config


def check_same_kind(train: str, train_synthetic: bool, test: str, test_synthetic: bool) -> None:
    """Refuse a real dataset paired with a synthetic twin (checked by :func:`bench.runs.plan.load_data` before
    a twin is generated or any feature computed, and by :class:`CrossFeatures`)."""
    if train_synthetic != test_synthetic:
        real, twin = (train, test) if test_synthetic else (test, train)
        raise ConfigError(
            f"cross-dataset: {get_dataset(real).title} is real data but {get_dataset(twin).title} would be "
            "its synthetic twin; real and synthetic data never mix (give both folders, or --synthetic for "
            "both twins)"
        )


@dataclass(frozen=True)
class CrossFeatures:
    """The features of a training and a test dataset, for the cross-dataset protocol."""

    train: FeatureSet
    test: FeatureSet
    _memo: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_same_kind(self.train.dataset, self.train.synthetic, self.test.dataset, self.test.synthetic)
        if tuple(self.train.channels) != tuple(self.test.channels):
            raise ConfigError("cross-dataset: the two feature sets differ in channels")

    @property
    def synthetic(self) -> bool:
        return self.train.synthetic

    @property
    def dataset(self) -> str:
        return f"{self.train.dataset}>{self.test.dataset}"

    @property
    def kind(self) -> str:
        return data_kind(CROSS_KIND, self.synthetic)

    @property
    def fingerprint(self) -> str:
        """Both data fingerprints, in order (train, test): the run key of a cross-dataset run."""
        payload = f"cross:{self.train.fingerprint}:{self.test.fingerprint}"
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    # what the runner and tracker read from a FeatureSet: the test side (whose subjects are scored)
    @property
    def subjects(self) -> np.ndarray:
        return self.test.subjects

    @property
    def features(self) -> np.ndarray:
        return self.test.features

    @property
    def ratings(self) -> np.ndarray:
        return self.test.ratings

    @property
    def config(self) -> FeatureConfig:
        return self.train.config

    @property
    def channels(self) -> tuple[str, ...]:
        return self.train.channels

    @property
    def source(self) -> str:
        return f"{self.train.source or self.train.dataset} -> {self.test.source or self.test.dataset}"

    @property
    def contents(self):
        """What both data sets' cache entries hold beyond DE/PSD maps (the same for both)."""
        return self.train.contents

    @property
    def file_digests(self) -> dict[int, str]:
        return self.test.file_digests

    def inputs(
        self,
        spec: InputSpec,
        *,
        threshold: float | None = None,
        high_if: str = "gt",
        tasks: tuple[str, ...] | None = None,
    ) -> ModelInputs:
        """Training-dataset samples (domain 0) then test-dataset samples (domain 1), each binarised at its
        dataset's threshold (``threshold`` must be None: the scales differ). With ``tasks`` (the run's),
        each side's labels are those tasks, derived where a dataset derives them (SEED's valence from its
        clip valence, :mod:`bench.data.harmonise`), and where the two sides' labels differ, each keeps the
        columns of ``tasks`` only."""
        if threshold is not None:
            raise ConfigError("cross-dataset: each dataset is binarised at its own threshold")
        key = (spec, high_if, None if tasks is None else tuple(tasks))
        if key not in self._memo:
            parts = [
                fs.inputs(spec, threshold=get_dataset(fs.dataset).threshold, high_if=high_if, tasks=tasks)
                for fs in (self.train, self.test)
            ]
            if tasks is not None and len({p.label_tasks for p in parts}) > 1:
                parts = [restrict_tasks(p, tuple(tasks)) for p in parts]
            self._memo[key] = join_inputs(parts)
        return self._memo[key]


def join_inputs(parts: list[ModelInputs]) -> ModelInputs:
    """Samples of several datasets one after the other; ``domain`` numbers the parts 0, 1, ..."""
    if len({p.x.shape[1:] for p in parts}) != 1:
        raise ConfigError(f"cross-dataset: sample shapes differ {[p.x.shape[1:] for p in parts]}")
    if len({p.label_tasks for p in parts}) != 1:
        raise ConfigError(
            f"cross-dataset: the datasets' labels differ {[list(p.label_tasks) for p in parts]}"
        )
    cat = lambda name: np.concatenate([getattr(p, name) for p in parts])  # noqa: E731
    return ModelInputs(
        x=cat("x"),
        labels=cat("labels"),
        ratings=cat("ratings"),
        subject=cat("subject"),
        trial=cat("trial"),
        segment=cat("segment"),
        spec=parts[0].spec,
        domain=np.concatenate([np.full(len(p), i, dtype=np.int64) for i, p in enumerate(parts)]),
        label_tasks=parts[0].label_tasks,
        session=None if any(p.session is None for p in parts) else cat("session"),
    )
