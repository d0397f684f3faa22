"""Evaluation protocols: who is pooled (population), what is kept together in a fold (split unit), and
what that asks of a run.

A protocol turns group ids and labels into index folds and says which datasets a run reads, which
config it accepts, whether its units can be stacked, the experiment kind its runs are tracked under and
the unit of its statistics; it knows nothing about models, training or tracking. See
:mod:`protocols.base` for the :class:`Protocol` class, one module per built-in protocol
(:mod:`protocols.subject_specific`, :mod:`protocols.whole_set`, :mod:`protocols.cross_subject`,
:mod:`protocols.whole_set_finetune`, :mod:`protocols.cross_dataset`, the SEED family's
:mod:`protocols.sessions`, the peer benchmarks' :mod:`protocols.peers`), :mod:`protocols.registry` for
their registration and :mod:`protocols.splits` for the fold helpers they share.
"""

from protocols.base import Protocol
from protocols.registry import (
    LEAKAGE_NOTE,
    experiment_kinds,
    get_protocol,
    list_protocols,
    make_folds,
    protocol_for_test_dataset,
    register_protocol,
    unregister_protocol,
)
from protocols.splits import Fold, fold_assignment

__all__ = [
    "LEAKAGE_NOTE",
    "Fold",
    "Protocol",
    "experiment_kinds",
    "fold_assignment",
    "get_protocol",
    "list_protocols",
    "make_folds",
    "register_protocol",
    "protocol_for_test_dataset",
    "unregister_protocol",
]
