"""The subject-specific protocol: one model per subject, folds within that subject's data (the paper's
'64 separate models'); its statistics run over subjects."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from protocols.base import Protocol


class PerSubjectProtocol(Protocol):
    """A protocol whose folds are made within each subject's samples (one scope per subject)."""

    POPULATION: ClassVar[str] = "per-subject"

    @property
    def over_subjects(self) -> bool:
        """Statistics run over subjects: each subject's folds make one model's estimate."""
        return True

    def scopes(self, subject: np.ndarray) -> list[tuple[int | None, np.ndarray]]:
        """One scope per subject, in subject order."""
        return [(int(s), np.flatnonzero(subject == s)) for s in np.unique(subject)]


SUBJECT_SPECIFIC = PerSubjectProtocol(
    "subject-specific",
    "per-subject",
    ("trial", "segment"),
    "trial",
    "one model per subject, folds within the subject (the paper's '64 separate models')",
)
