"""What a protocol is and what it decides: the :class:`Protocol` base class (a pooled protocol).

A protocol owns its behaviour, so that callers ask it instead of testing its name: its folds (which
samples form a scope, :meth:`Protocol.folds`), the datasets it reads (:meth:`Protocol.datasets`), its
config checks (:meth:`Protocol.resolve_split`, :meth:`Protocol.resolve_data`, :meth:`Protocol.check_stack`),
the experiment kind its runs are tracked under (:attr:`Protocol.experiment_kind`) and the unit of its
statistics (:attr:`Protocol.over_subjects`). The base class is a pooled protocol: every subject in one
scope, one dataset. A protocol that differs is one module with a subclass (:mod:`protocols.subject_specific`,
:mod:`protocols.cross_dataset`) registered in :mod:`protocols.registry`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from bench.config.run import RunConfig, TrainConfig
from bench.core.checks import check_number, check_option
from bench.core.errors import ConfigError
from bench.data.datasets import get_dataset
from protocols.splits import Fold, scoped_folds, strata_of, unit_groups

POPULATIONS = ("per-subject", "pooled", "cross-dataset")
SPLIT_UNITS = ("segment", "trial", "subject", "dataset")
LEAKY_SPLITS = ("segment",)
MECHANISMS: dict[str, str] = {
    "segment-leak": "segment leak",
    "selection-on-test": "selection on test",
    "one-test-subject": "one test subject",
    "window-validation": "window-level validation",
}
"""How a published protocol can make a score look better than it is (the audit table's mechanism
column, :mod:`protocols.peers`), name -> words."""
LEAKY_MECHANISMS = ("segment-leak", "selection-on-test")
"""The mechanisms that let the test part's data or labels shape the model: a run under a protocol with
one is leaky (tagged, kept off every table but the audit and leakage ones)."""


@dataclass(frozen=True)
class Protocol:
    """How data is pooled and split, and what that asks of a run (the base class: a pooled protocol).

    Attributes
    ----------
    name : str
        Registry name used on the command line.
    population : {"per-subject", "pooled", "cross-dataset"}
        Who is pooled, in words (the tables' and the docs'); it must be the class's :attr:`POPULATION`,
        so that what a protocol says and what it does agree.
    splits : tuple of {"segment", "trial", "subject", "dataset"}
        Allowed split units; ``default_split`` is used when none is given.
    finetune : bool
        Pretrain on the pooled training part, then fine-tune one copy per subject on that subject's
        training part (the MT-CNN authors' second stage).
    """

    name: str
    population: str
    splits: tuple[str, ...]
    default_split: str
    description: str
    finetune: bool = False

    POPULATION: ClassVar[str] = "pooled"
    """The population this class's behaviour implements."""
    folds_from_subjects: ClassVar[bool] = False
    """Its folds are subjects (as many as the data allows), so another protocol's fold count does not
    carry over to it (the command that fills a missing table cell leaves ``--folds`` out)."""
    two_datasets: ClassVar[bool] = False
    """It trains on one dataset and tests on another (``--test NAME``)."""
    mechanisms: ClassVar[tuple[str, ...]] = ()
    """What in the protocol itself can inflate or blur its score (keys of :data:`MECHANISMS`): none for
    the harness's own protocols, whose leaks are a ``--split segment`` or an ``--audit`` away."""
    audit_only: ClassVar[bool] = False
    """Its runs appear in the protocol audit table only (``bench table protocols-audit``): the peer
    benchmarks' protocols and the honest counterparts made for them (:mod:`protocols.peers`)."""

    def __post_init__(self) -> None:
        if self.population not in POPULATIONS:
            raise ValueError(f"population={self.population!r}; allowed: {POPULATIONS}")
        if self.population != self.POPULATION:
            raise ValueError(
                f"population={self.population!r}: a {type(self).__name__} pools {self.POPULATION!r} "
                "(subclass Protocol for another population)"
            )
        if not self.splits or any(s not in SPLIT_UNITS for s in self.splits):
            raise ValueError(f"splits={self.splits!r} must be a non-empty subset of {SPLIT_UNITS}")
        if self.default_split not in self.splits:
            raise ValueError(f"default_split={self.default_split!r} is not in splits {self.splits}")

    @property
    def over_subjects(self) -> bool:
        """Statistics run over subjects, not over folds (pooled protocols: over folds)."""
        return False

    @property
    def leaky(self) -> bool:
        """Every run under it is leaky, whatever its split (a mechanism of :data:`LEAKY_MECHANISMS`)."""
        return any(m in LEAKY_MECHANISMS for m in self.mechanisms)

    @property
    def stackable(self) -> bool:
        """Its units can be trained together as a stacked ensemble (``train.stack``): not when each
        fold's pooled model is fine-tuned per subject afterwards."""
        return not self.finetune

    @property
    def experiment_kind(self) -> str | None:
        """The data kind its runs are tracked and tabled under, None for the dataset's own."""
        return None

    # ---- config checks ------------------------------------------------------------------------------

    def refusal(self, ds) -> str | None:
        """Why the protocol cannot run on the dataset ``ds``, completing "protocol NAME ..." (None: it can;
        every protocol here runs on every dataset, the session protocols need what they split on)."""
        return None

    def resolve_split(self, split: str | None) -> str:
        """The split unit a run uses: ``split``, else the default; one it does not offer is a ConfigError."""
        unit = split or self.default_split
        check_option(f"split (protocol {self.name})", unit, self.splits)
        return unit

    def resolve_data(self, cfg: RunConfig) -> dict:
        """The dataset fields of ``cfg``, checked: no test dataset, a dataset the protocol can run on
        (:meth:`refusal`), and the threshold (None: the dataset's own, within its scale). RunConfig has
        checked the subjects."""
        if cfg.test_dataset is not None:
            raise ConfigError(
                f"test_dataset={cfg.test_dataset!r} applies to the cross-dataset protocol only, "
                f"not {self.name!r}"
            )
        ds = get_dataset(cfg.dataset)
        why = self.refusal(ds)  # before any data is read
        if why is not None:
            raise ConfigError(f"protocol {self.name!r} {why}")
        if ds.categorical:
            if cfg.threshold is not None:
                raise ConfigError(
                    f"threshold={cfg.threshold}: {ds.title}'s labels are classes, not ratings; leave it unset"
                )
            return {"threshold": None}
        threshold = ds.threshold if cfg.threshold is None else float(cfg.threshold)
        check_number("threshold", threshold, low=ds.scale[0], high=ds.scale[1])
        return {"threshold": threshold}

    def resolve_train(self, train: TrainConfig) -> TrainConfig:
        """The training settings a run uses: ``train`` as it is (a protocol with its own model-selection
        rule, a peer benchmark's, sets the fields that rule decides)."""
        return train

    def check_stack(self, stack: int) -> None:
        """Refuse ``train.stack`` where the protocol is not :attr:`stackable` (one line)."""
        if stack and not self.stackable:
            raise ConfigError(
                f"train.stack={stack}: protocol {self.name!r} fine-tunes one pooled model per "
                "fold; stacking applies to protocols with many units (subject-specific)"
            )

    # ---- data ---------------------------------------------------------------------------------------

    def datasets(self, cfg: RunConfig) -> tuple[str, ...]:
        """The datasets a run of ``cfg`` reads, the training one first."""
        return (cfg.dataset,)

    def data_name(self, cfg: RunConfig) -> str:
        """The name of the data a run of ``cfg`` reads, as its feature set spells it."""
        return ">".join(self.datasets(cfg))

    # ---- folds --------------------------------------------------------------------------------------

    def make_folds(
        self,
        subject: np.ndarray,
        trial: np.ndarray,
        labels: np.ndarray,
        *,
        split: str | None = None,
        n_folds: int = 5,
        val_fraction: float = 0.2,
        seed: int = 0,
        select_on_test: bool = False,
        domain: np.ndarray | None = None,
        session: np.ndarray | None = None,
        dataset: str | None = None,
    ) -> list[Fold]:
        """Outer folds with inner validation parts (:func:`protocols.registry.make_folds` describes the
        arguments); the checks every protocol shares, then :meth:`folds`."""
        unit = self.resolve_split(split)
        if int(n_folds) < 2:
            raise ConfigError(f"n_folds={n_folds!r} must be >= 2")
        if not 0 < val_fraction < 1:
            raise ConfigError(f"val_fraction={val_fraction!r} must be in (0, 1)")
        subject, trial = np.asarray(subject), np.asarray(trial)
        return self.folds(
            subject,
            unit,
            strata_of(labels),
            unit_groups(unit, subject, trial),
            n_folds=int(n_folds),
            val_fraction=val_fraction,
            seed=seed,
            select_on_test=select_on_test,
            domain=domain,
            trial=trial,
            session=None if session is None else np.asarray(session),
            dataset=dataset,
        )

    def scopes(self, subject: np.ndarray) -> list[tuple[int | None, np.ndarray]]:
        """The parts folds are made within, as (subject or None, sample indices): the whole pool."""
        return [(None, np.arange(len(subject)))]

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
        """The protocol's folds from checked arguments: ``n_folds`` within each of its :meth:`scopes`
        (``trial``, ``session`` and ``dataset`` are there for protocols that split by them)."""
        return scoped_folds(
            self.scopes(subject),
            unit,
            strata,
            groups,
            n_folds=n_folds,
            val_fraction=val_fraction,
            seed=seed,
            select_on_test=select_on_test,
        )
