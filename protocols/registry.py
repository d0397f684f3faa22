"""The one protocol registry: the built-in protocols (one module each) and any another module adds.

The built-ins are registered at the end of this module (a :class:`bench.core.registry.Registry` with no
modules to load); another module may :func:`register_protocol` its own :class:`protocols.base.Protocol`.
:func:`make_folds` turns a protocol name into that protocol's folds.
"""

from __future__ import annotations

import numpy as np

from bench.core.registry import Registry
from protocols.base import Protocol
from protocols.cross_dataset import CROSS_DATASET
from protocols.cross_subject import CROSS_SUBJECT
from protocols.peers import PEER_PROTOCOLS
from protocols.sessions import CROSS_SESSION, LOSO_SESSION, SESSION_TRIALS, SUBJECT_HOLDOUT
from protocols.splits import Fold
from protocols.subject_specific import SUBJECT_SPECIFIC
from protocols.whole_set import WHOLE_SET
from protocols.whole_set_finetune import WHOLE_SET_FINETUNE

LEAKAGE_NOTE = (
    "split 'segment' assigns 0.5 s windows to folds at random, so windows of one one-minute trial "
    "(near-duplicates) land in both train and test and accuracy is inflated; use --split trial for a "
    "leakage-free estimate."
)

PROTOCOLS: Registry[Protocol] = Registry("protocol")
"""Every protocol, in registration order (the built-ins below first)."""


def register_protocol(protocol: Protocol) -> Protocol:
    """Add a protocol; a name taken by another protocol is a programmer error (the registry's check)."""
    return PROTOCOLS.register(protocol.name, protocol)


def unregister_protocol(name: str) -> None:
    """Remove a registration (tests that register throw-away protocols)."""
    PROTOCOLS.unregister(name)


def get_protocol(name: str) -> Protocol:
    """A registered protocol; an unknown name is a one-line :class:`ConfigError`."""
    return PROTOCOLS.get(name)


def list_protocols() -> list[Protocol]:
    return PROTOCOLS.values()


def protocol_for_test_dataset() -> Protocol:
    """The protocol ``--test NAME`` implies: the first registered one that reads a test dataset."""
    return next(p for p in list_protocols() if p.two_datasets)


def experiment_kinds() -> tuple[str, ...]:
    """The experiment kinds of protocols tracked apart from their dataset's runs (cross-dataset's)."""
    return tuple(dict.fromkeys(p.experiment_kind for p in list_protocols() if p.experiment_kind))


def make_folds(
    protocol: str,
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
    """Outer folds with inner validation parts for a registered protocol (its :meth:`Protocol.make_folds`).

    Parameters
    ----------
    protocol : str
        Registered protocol name.
    subject, trial : arrays, shape (N,)
        Group ids per sample (DEAP subject number, trial index within the subject).
    labels : array, shape (N, tasks)
        Class labels per task (DEAP: binary valence, arousal); folds are stratified on the combination
        of the tasks' classes where the unit allows (:func:`protocols.splits.strata_of`).
    split : {"segment", "trial", "subject"}, optional
        Split unit; default: the protocol's.
    n_folds : int
        Outer folds (per subject for per-subject protocols). For ``subject`` splits, ``n_folds`` equal
        to the number of subjects is leave-one-subject-out.
    val_fraction : float
        Share of the training part held out for validation (rounded to ``1 / k`` of a k-fold split).
    seed : int
        Seeds every shuffle: the same inputs and seed give the same folds.
    select_on_test : bool
        Audit only: the validation part *is* the test part (the MT-CNN authors' code). Leaky.
    domain : array, shape (N,), optional
        Cross-dataset protocols only: 0 for samples of the training dataset, 1 for the test dataset. One
        fold: train on all of domain 0 (less a validation part drawn by subject), test on all of domain 1.
    session : array, shape (N,), optional
        Each sample's recording session (datasets with several): the session protocols split by it.
    dataset : str, optional
        The dataset the samples come from: the session protocols read its own split from it.
    """
    return get_protocol(protocol).make_folds(
        subject,
        trial,
        labels,
        split=split,
        n_folds=n_folds,
        val_fraction=val_fraction,
        seed=seed,
        select_on_test=select_on_test,
        domain=domain,
        session=session,
        dataset=dataset,
    )


for _builtin in (
    SUBJECT_SPECIFIC, WHOLE_SET, CROSS_SUBJECT, WHOLE_SET_FINETUNE, CROSS_DATASET,
    SESSION_TRIALS, CROSS_SESSION, LOSO_SESSION, SUBJECT_HOLDOUT, *PEER_PROTOCOLS,
):  # fmt: skip
    register_protocol(_builtin)
