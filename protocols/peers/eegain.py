"""EEGain's leave-one-trial-out (github.com/EmotionLab/EEGain)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from protocols.peers.base import PeerProtocol, PeerSource, subjects_with_trials, window_validation
from protocols.splits import Fold
from protocols.subject_specific import PerSubjectProtocol

EEGAIN = "github.com/EmotionLab/EEGain"
EEGAIN_COMMIT = "43dcbf6d636ef3b7a4f62312d3bfccfbe84e10ec"


class EEGainLOTO(PeerProtocol, PerSubjectProtocol):
    """EEGain's leave-one-trial-out: per subject, each trial tests once (in trial order), its other trials
    train; the validation part is a class-stratified random 80/20 of the training *windows* (classes in
    sorted order, ``np.random.shuffle`` on the numpy generator seeded once per run with the run's seed,
    EEGain's ``--random_seed``), and the epoch of the best validation accuracy is tested. The test trial
    is never seen, so no leak: a reference row (its validation windows share trials with training, which
    blurs the selection but not the test).

    Source (EEGain @ 43dcbf6, read 2026-12-07): ``eegain/data/loader.py:23-59`` (the folds),
    ``:229-289`` (``split_train_val``), ``eegain/helpers.py:330-404`` (``main_loto``, ``n_fold = len``),
    ``:164-167,194-201`` (best validation accuracy, then one test), ``:24-30`` (``setup_seed``, once).
    """

    folds_from_subjects: ClassVar[bool] = True  # one fold per trial; --folds does not apply
    mechanisms: ClassVar[tuple[str, ...]] = ("window-validation",)
    source = PeerSource("EEGain", EEGAIN, EEGAIN_COMMIT, (
        "eegain/data/loader.py:23-59,229-289", "eegain/helpers.py:24-30,164-167,194-201,330-404",
    ))  # fmt: skip
    used_on = ("deap", "mahnob-hci", "amigos", "dreamer")
    counterpart = "subject-specific"
    reference = True

    def folds(self, subject, unit, strata, groups, *, n_folds, val_fraction, seed, select_on_test, domain,
              trial=None, session=None, dataset=None) -> list[Fold]:  # fmt: skip
        rng = np.random.RandomState(seed)
        out = []
        for s, idx, trials in subjects_with_trials(self.name, subject, trial, 2):
            for k, t in enumerate(trials, start=1):
                test = idx[trial[idx] == t]
                train = idx[trial[idx] != t]
                if select_on_test:
                    out.append(Fold(k, s, train, test.copy(), test))
                    continue
                fit, val = window_validation(train, strata, rng.shuffle, 0.2, "sorted")
                out.append(Fold(k, s, fit, val, test))
        return out


EEGAIN_LOTO = EEGainLOTO(
    "eegain-loto", "per-subject", ("trial",), "trial",
    "EEGain's leave-one-trial-out: per subject each trial tests once, a random 80/20 of the training "
    "windows validates (reference)",
)  # fmt: skip
