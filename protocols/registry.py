"""The one protocol registry: populations x split units, as plain values.

The built-in protocols are registered at the end of this module (a :class:`bench.core.registry.Registry`
with no modules to load); another module may :func:`register_protocol` its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.core.registry import Registry

POPULATIONS = ("per-subject", "pooled", "cross-dataset")
SPLIT_UNITS = ("segment", "trial", "subject", "dataset")
LEAKY_SPLITS = ("segment",)

LEAKAGE_NOTE = (
    "split 'segment' assigns 0.5 s windows to folds at random, so windows of one one-minute trial "
    "(near-duplicates) land in both train and test and accuracy is inflated; use --split trial for a "
    "leakage-free estimate."
)


@dataclass(frozen=True)
class Protocol:
    """How data is pooled and split.

    Attributes
    ----------
    name : str
        Registry name used on the command line.
    population : {"per-subject", "pooled", "cross-dataset"}
        ``per-subject``: one model per subject, folds inside that subject's data; ``pooled``: all
        subjects in one data set, folds over the pool; ``cross-dataset``: train on every subject of one
        dataset, test on every subject of another (one fold).
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

    @property
    def over_subjects(self) -> bool:
        """Statistics run over subjects (per-subject protocols; cross-dataset: one fold, many test
        subjects), not over folds."""
        return self.population in ("per-subject", "cross-dataset")

    def __post_init__(self) -> None:
        if self.population not in POPULATIONS:
            raise ValueError(f"population={self.population!r}; allowed: {POPULATIONS}")
        if not self.splits or any(s not in SPLIT_UNITS for s in self.splits):
            raise ValueError(f"splits={self.splits!r} must be a non-empty subset of {SPLIT_UNITS}")
        if self.default_split not in self.splits:
            raise ValueError(f"default_split={self.default_split!r} is not in splits {self.splits}")


PROTOCOLS: Registry[Protocol] = Registry("protocol")
"""Every protocol, in registration order (the built-ins below first)."""


def register_protocol(protocol: Protocol) -> Protocol:
    """Add a protocol; a duplicate name is a programmer error."""
    if protocol.name in PROTOCOLS:
        raise ValueError(f"protocol {protocol.name!r} is already registered")
    return PROTOCOLS.register(protocol.name, protocol)


def unregister_protocol(name: str) -> None:
    """Remove a registration (tests that register throw-away protocols)."""
    PROTOCOLS.unregister(name)


def get_protocol(name: str) -> Protocol:
    """A registered protocol; an unknown name is a one-line :class:`ConfigError`."""
    return PROTOCOLS.get(name)


def list_protocols() -> list[Protocol]:
    return PROTOCOLS.values()


register_protocol(
    Protocol(
        "subject-specific",
        "per-subject",
        ("trial", "segment"),
        "trial",
        "one model per subject, folds within the subject (the paper's '64 separate models')",
    )
)
register_protocol(
    Protocol(
        "whole-set",
        "pooled",
        ("trial", "segment"),
        "trial",
        "all subjects pooled, folds over the pool (the paper's '2 models')",
    )
)
register_protocol(
    Protocol(
        "cross-subject",
        "pooled",
        ("subject",),
        "subject",
        "folds by subject: test subjects are never seen in training (--folds = #subjects: LOSO)",
    )
)
register_protocol(
    Protocol(
        "whole-set-finetune",
        "pooled",
        ("trial", "segment"),
        "trial",
        "pretrain on the pooled training part, then fine-tune per subject (the MT-CNN authors' code)",
        finetune=True,
    )
)
register_protocol(
    Protocol(
        "cross-dataset",
        "cross-dataset",
        ("dataset",),
        "dataset",
        "train on all subjects of one dataset (--dataset/--train), test on all subjects of another (--test), "
        "on the channels both share; validation by subject from the training dataset",
    )
)
