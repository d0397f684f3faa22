"""AdaBrain-Bench's cross-subject SEED split (github.com/Jamine-W/AdaBrain-Bench), and its honest
counterpart."""

from __future__ import annotations

import random
from typing import ClassVar

import numpy as np

from protocols.cross_subject import CrossSubjectProtocol
from protocols.peers.base import PeerProtocol, PeerSource, need, window_validation
from protocols.splits import Fold, inner_val

ADABRAIN = "github.com/Jamine-W/AdaBrain-Bench"
ADABRAIN_COMMIT = "c29be9291b927b037325640137bf0871acc04f57"


class AdaBrainTestSubjects:
    """AdaBrain-Bench's cross-subject test subjects: the last two subject folders.

    Its SEED folders number the recordings in the order ``sorted`` gives their file names
    (``N_YYYYMMDD.mat``: 10, 11, ..., 15, 1, ..., 9), so folders 14 and 15 are SEED subjects 8 and 9; its
    SEED-IV folders are the subjects' own numbers (14 and 15)."""

    N_TEST: ClassVar[int] = 2
    NAME_ORDER: ClassVar[tuple[str, ...]] = ("seed",)

    def folder_order(self, subjects: np.ndarray, dataset: str | None) -> list[int]:
        """The subjects in folder order."""
        ids = [int(s) for s in subjects]
        # "10_20131130.mat" sorts before "1_20131027.mat": '0' < '_'
        return sorted(ids, key=lambda s: f"{s}_") if dataset in self.NAME_ORDER else sorted(ids)

    def test_subjects(self, subjects: np.ndarray, dataset: str | None) -> tuple[list[int], list[int]]:
        """(training subjects, test subjects), each in folder order."""
        order = self.folder_order(subjects, dataset)
        need(self.name, len(order), self.N_TEST + 2, "subjects")  # type: ignore[attr-defined]
        return order[: -self.N_TEST], order[-self.N_TEST :]


class AdaBrainRandomValid(PeerProtocol, AdaBrainTestSubjects, CrossSubjectProtocol):
    """AdaBrain-Bench's cross-subject SEED and SEED-IV split: the last two subject folders test (13 train,
    2 test of 15); the validation part is a random 20 % of every training subject's windows, per label
    (Python ``random.seed(42)``, each subject's windows of every session and trial pooled per label,
    shuffled, the last 20 % validating), so each trial's windows sit in training and in validation. The
    epoch of the best validation accuracy is tested (strict ``<`` update: the first maximum).

    Source (AdaBrain-Bench, Jamine-W @ c29be92, read 2026-12-07):
    ``preprocessing/SEED/cross_json_process.py:30,55-66`` (the seed and the per-label 80/20 cut, the
    training subjects in folder order on one stream) and ``:115-116`` (the subject cut: this copy tests
    folders above 12, three subjects; the newer copy zicren/AdaBrain-Bench @ 41a87a4 tests folders above
    13, two subjects, the cut followed here), ``preprocessing/SEED/data_process.py:23,50`` (folder numbers
    from sorted file names),
    ``run_finetuning.py:768-821`` (the best validation accuracy's test accuracy).
    """

    mechanisms: ClassVar[tuple[str, ...]] = ("window-validation",)
    source = PeerSource("AdaBrain-Bench", ADABRAIN, ADABRAIN_COMMIT, (
        "preprocessing/SEED/cross_json_process.py:30,55-66,115-116",
        "preprocessing/SEED/data_process.py:23,50", "run_finetuning.py:768-821",
    ))  # fmt: skip
    used_on = ("seed", "seed-iv")
    counterpart = "adabrain-subject-valid"
    VAL_SEED: ClassVar[int] = 42

    def folds(self, subject, unit, strata, groups, *, n_folds, val_fraction, seed, select_on_test, domain,
              trial=None, session=None, dataset=None) -> list[Fold]:  # fmt: skip
        train_s, test_s = self.test_subjects(np.unique(subject), dataset)
        test = np.flatnonzero(np.isin(subject, test_s))
        rng = random.Random(self.VAL_SEED)
        fit, val = [], []
        for s in train_s:
            f, v = window_validation(np.flatnonzero(subject == s), strata, rng.shuffle, 0.2, "first")
            fit.append(f)
            val.append(v)
        train, val = np.sort(np.concatenate(fit)), np.sort(np.concatenate(val))
        return [Fold(1, None, train, test.copy() if select_on_test else val, test)]


class AdaBrainSubjectValid(PeerProtocol, AdaBrainTestSubjects, CrossSubjectProtocol):
    """The honest counterpart of ``adabrain-random-valid``: the same two test subjects and the same
    selection rule (best validation accuracy), with whole training subjects as the validation part (a
    fifth of them, at least one, drawn with the run's seed), so the only difference is AdaBrain's
    window-level validation."""

    source = AdaBrainRandomValid.source
    used_on = AdaBrainRandomValid.used_on

    def folds(self, subject, unit, strata, groups, *, n_folds, val_fraction, seed, select_on_test, domain,
              trial=None, session=None, dataset=None) -> list[Fold]:  # fmt: skip
        train_s, test_s = self.test_subjects(np.unique(subject), dataset)
        test = np.flatnonzero(np.isin(subject, test_s))
        train = np.flatnonzero(np.isin(subject, train_s))
        if select_on_test:
            return [Fold(1, None, train, test.copy(), test)]
        train, val = inner_val(train, "subject", strata, groups, val_fraction, seed)
        return [Fold(1, None, train, val, test)]


ADABRAIN_RANDOM_VALID = AdaBrainRandomValid(
    "adabrain-random-valid", "pooled", ("subject",), "subject",
    "AdaBrain-Bench's cross-subject split: the last two subjects test, a random 20 % of the training "
    "windows validates (window-level validation)",
)  # fmt: skip

ADABRAIN_SUBJECT_VALID = AdaBrainSubjectValid(
    "adabrain-subject-valid", "pooled", ("subject",), "subject",
    "adabrain-random-valid's honest counterpart: the same test subjects, whole training subjects validate",
)  # fmt: skip
