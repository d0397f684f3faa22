"""EEG-FM-Bench's SEED-family split (github.com/xw1216/EEG-FM-Bench): one validation and one test subject."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from protocols.cross_subject import CrossSubjectProtocol
from protocols.peers.base import PeerProtocol, PeerSource, need
from protocols.splits import Fold

EEGFM = "github.com/xw1216/EEG-FM-Bench"
EEGFM_COMMIT = "325398d7d057ecc1216fb3510d70c16eb60337cc"


class EEGFMOneSubject(PeerProtocol, CrossSubjectProtocol):
    """EEG-FM-Bench's cross-subject split of the SEED family: ``int(n * ratio)`` validation and test
    subjects drawn once by ``np.random.seed(42); np.random.choice(subjects, n_val + n_test, replace=False)``
    (validation first), whatever the training seed; every other subject trains. SEED and SEED-IV: ratio
    0.067, one validation and one test subject of 15; SEED-V: 0.125, two of each of 16 (at least one each
    on fewer subjects). The subjects are drawn from their sorted ids (the benchmark lists them in file
    order). The code logs validation and test every epoch and selects nothing; the last epoch is tested.
    Its spread is over training seeds on the one test subject, not over subjects.

    Source (EEG-FM-Bench @ 325398d, read 2026-12-07): ``data/processor/builder.py:811-823`` (the draw),
    ``:40,288`` (seed 42), ``data/dataset/seeds/seed.py:64-65``, ``seed_iv.py:73-74``,
    ``seed_v.py:66-67`` (the ratios), ``baseline/abstract/trainer.py:1462-1471`` (both logged, the last
    checkpoint kept).
    """

    mechanisms: ClassVar[tuple[str, ...]] = ("one-test-subject",)
    source = PeerSource("EEG-FM-Bench", EEGFM, EEGFM_COMMIT, (
        "data/processor/builder.py:40,288,811-823", "data/dataset/seeds/seed.py:64-65",
        "data/dataset/seeds/seed_iv.py:73-74", "data/dataset/seeds/seed_v.py:66-67",
        "baseline/abstract/trainer.py:1462-1471",
    ))  # fmt: skip
    used_on = ("seed", "seed-iv", "seed-v")
    counterpart = "cross-subject"
    select_by = None
    RATIOS: ClassVar[dict[str, float]] = {"seed": 0.067, "seed-iv": 0.067, "seed-v": 0.125}
    SPLIT_SEED: ClassVar[int] = 42

    def held_out(self, subjects: np.ndarray, dataset: str | None) -> tuple[np.ndarray, np.ndarray]:
        """(validation, test) subject ids of the draw."""
        ratio = self.RATIOS.get(dataset or "", 0.067)
        n_val = n_test = max(1, int(len(subjects) * ratio))
        need(self.name, len(subjects), n_val + n_test + 1, "subjects")
        drawn = np.random.RandomState(self.SPLIT_SEED).choice(subjects, n_val + n_test, replace=False)
        return drawn[:n_val], drawn[n_val:]

    def folds(self, subject, unit, strata, groups, *, n_folds, val_fraction, seed, select_on_test, domain,
              trial=None, session=None, dataset=None) -> list[Fold]:  # fmt: skip
        val_s, test_s = self.held_out(np.unique(subject), dataset)
        test = np.flatnonzero(np.isin(subject, test_s))
        val = test.copy() if select_on_test else np.flatnonzero(np.isin(subject, val_s))
        train = np.flatnonzero(~np.isin(subject, np.concatenate([val_s, test_s])))
        return [Fold(1, None, train, val, test)]


EEGFM_ONE_SUBJECT = EEGFMOneSubject(
    "eegfm-one-subject", "pooled", ("subject",), "subject",
    "EEG-FM-Bench's SEED-family split: one validation and one test subject drawn with seed 42; the last "
    "epoch (one test subject)",
)  # fmt: skip
