"""Evaluation protocols: who is pooled (population) and what is kept together in a fold (split unit).

A protocol only turns group ids and labels into index folds; it knows nothing about models, training
or tracking. See :mod:`protocols.registry` for the built-in protocols and :mod:`protocols.splits` for
how folds and validation parts are drawn.
"""

from protocols.registry import (
    LEAKAGE_NOTE,
    Protocol,
    get_protocol,
    list_protocols,
    register_protocol,
    unregister_protocol,
)
from protocols.splits import Fold, fold_assignment, make_folds

__all__ = [
    "LEAKAGE_NOTE",
    "Fold",
    "Protocol",
    "fold_assignment",
    "get_protocol",
    "list_protocols",
    "make_folds",
    "register_protocol",
    "unregister_protocol",
]
