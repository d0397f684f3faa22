"""The cross-subject protocol: folds by subject, so test subjects are never seen in training."""

from __future__ import annotations

from typing import ClassVar

from protocols.base import Protocol


class CrossSubjectProtocol(Protocol):
    """A pooled protocol whose folds are subjects: its fold count follows the data's subjects
    (``--folds`` = #subjects is leave-one-subject-out), never another protocol's."""

    folds_from_subjects: ClassVar[bool] = True


CROSS_SUBJECT = CrossSubjectProtocol(
    "cross-subject",
    "pooled",
    ("subject",),
    "subject",
    "folds by subject: test subjects are never seen in training (--folds = #subjects: LOSO)",
)
