"""The cross-dataset protocol: train on every subject of one dataset, test on every subject of another,
on the channels both share (one fold; validation by subject from the training dataset).

Its runs read two datasets (``--dataset``/``--train`` and ``--test``), are tracked under their own
experiment kind (:data:`bench.data.cross.CROSS_KIND`) and are summarised over the test subjects.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from bench.config.run import RunConfig
from bench.core.errors import ConfigError
from bench.data.cross import CROSS_KIND
from protocols.base import Protocol
from protocols.splits import Fold, inner_val


class CrossDatasetProtocol(Protocol):
    """A protocol with a training and a test dataset: one fold, domain 0 trains, domain 1 tests."""

    POPULATION: ClassVar[str] = "cross-dataset"
    two_datasets: ClassVar[bool] = True

    @property
    def over_subjects(self) -> bool:
        """Statistics run over the test dataset's subjects (there is one fold)."""
        return True

    @property
    def experiment_kind(self) -> str | None:
        """Cross-dataset runs are tracked apart from either dataset's own runs."""
        return CROSS_KIND

    def resolve_data(self, cfg: RunConfig) -> dict:
        """A test dataset is required; each dataset is binarised at its own threshold and every subject
        of both is used."""
        if cfg.test_dataset is None:
            raise ConfigError(f"protocol {self.name!r} needs a test dataset (--test NAME)")
        if cfg.threshold is not None:
            raise ConfigError(
                f"threshold={cfg.threshold}: protocol {self.name!r} binarises each dataset at its own "
                "threshold (the scales differ); leave threshold unset"
            )
        if cfg.subjects is not None:
            raise ConfigError(f"protocol {self.name!r} trains and tests on every subject; drop --subjects")
        return {"threshold": None}

    def datasets(self, cfg: RunConfig) -> tuple[str, ...]:
        """The training dataset, then the test dataset."""
        return (cfg.dataset, cfg.test_dataset)

    def folds(
        self,
        subject: np.ndarray,
        unit: str,
        strata: np.ndarray,
        groups: np.ndarray | None,
        *,
        n_folds: int,
        val_fraction: float,
        seed: int,
        select_on_test: bool,
        domain: np.ndarray | None,
        trial: np.ndarray | None = None,
        session: np.ndarray | None = None,
        dataset: str | None = None,
    ) -> list[Fold]:
        """One fold: train on all of domain 0 less a validation part drawn by subject, test on all of
        domain 1 (``n_folds`` does not apply)."""
        if domain is None:
            raise ConfigError(f"protocol {self.name!r} needs the inputs of two datasets")
        domain = np.asarray(domain)
        train, test = np.flatnonzero(domain == 0), np.flatnonzero(domain == 1)
        if not len(train) or not len(test):
            raise ConfigError(f"protocol {self.name!r}: the training or the test dataset has no samples")
        if select_on_test:
            return [Fold(1, None, train, test.copy(), test)]
        train, val = inner_val(train, "subject", strata, groups, val_fraction, seed + 7919)
        return [Fold(1, None, train, val, test)]


CROSS_DATASET = CrossDatasetProtocol(
    "cross-dataset",
    "cross-dataset",
    ("dataset",),
    "dataset",
    "train on all subjects of one dataset (--dataset/--train), test on all subjects of another (--test), "
    "on the channels both share; validation by subject from the training dataset",
)
