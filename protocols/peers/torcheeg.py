"""TorchEEG's k-fold of its tutorials (github.com/torcheeg/torcheeg): every trial's windows cut into folds."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from sklearn.model_selection import KFold

from protocols.base import Protocol
from protocols.peers.base import PeerProtocol, PeerSource, need
from protocols.sessions import trial_positions
from protocols.splits import Fold

TORCHEEG = "github.com/torcheeg/torcheeg"
TORCHEEG_COMMIT = "b6039b13e701edd860eb054242e64c3ec5a43fdc"


class TorchEEGKFold(PeerProtocol, Protocol):
    """TorchEEG's ``KFoldGroupbyTrial``, as its README and emotion tutorials run it: every trial's windows
    are cut into k folds (sklearn ``KFold`` on each trial's windows), fold i testing block i of *every*
    trial of every subject, so the rest of each tested trial trains.

    Shuffled with ``random_state=42`` on DEAP (the README's quick tour), unshuffled on SEED, DREAMER and
    AMIGOS (their tutorials pass no ``shuffle``). On SEED a trial is a clip's ``.mat`` key
    (``<initials>_eeg<N>``), which a subject's three session files share, so the group cut into folds is
    the clip's windows of all three sessions, in session order (the record order is the file listing's;
    ascending sessions here). The loader the tutorials call ``val_loader`` is the test
    fold, with validation switched off (``limit_val_batches=0.0``) and the last epoch tested: no
    selection. ``--folds`` sets k (the README uses 10, the other tutorials 5).

    Source (TorchEEG @ b6039b1, v1.1.3, read 2026-12-07):
    ``torcheeg/model_selection/k_fold_groupby_trial.py:77-111`` (the split; docstring ``:21``),
    ``README.md:152-218`` (the quick tour: ``n_splits=10, shuffle=True, random_state=42``,
    ``limit_val_batches=0.0``, ``trainer.test(val_loader)``), ``examples/examples_seed_ccnn.py:26-92``,
    ``torcheeg/datasets/module/emotion_recognition/seed.py:208-230`` (SEED's trial ids),
    ``torcheeg/trainers/classifier.py:142-152`` (the in-memory last-epoch weights are tested).
    """

    mechanisms: ClassVar[tuple[str, ...]] = ("segment-leak",)
    source = PeerSource("TorchEEG", TORCHEEG, TORCHEEG_COMMIT, (
        "torcheeg/model_selection/k_fold_groupby_trial.py:21,77-111", "README.md:152-218",
        "examples/examples_seed_ccnn.py:26-92",
        "torcheeg/datasets/module/emotion_recognition/seed.py:208-230",
        "torcheeg/trainers/classifier.py:142-152",
    ))  # fmt: skip
    used_on = ("deap", "seed", "dreamer", "amigos")
    counterpart = "whole-set"
    select_by = None
    SHUFFLED: ClassVar[tuple[str, ...]] = ("deap",)
    SESSIONS_POOLED: ClassVar[tuple[str, ...]] = ("seed",)
    RANDOM_STATE: ClassVar[int] = 42

    def folds(self, subject, unit, strata, groups, *, n_folds, val_fraction, seed, select_on_test, domain,
              trial=None, session=None, dataset=None) -> list[Fold]:  # fmt: skip
        shuffle = dataset in self.SHUFFLED
        splitter = KFold(n_folds, shuffle=shuffle, random_state=self.RANDOM_STATE if shuffle else None)
        tests: list[list[np.ndarray]] = [[] for _ in range(n_folds)]
        pool = dataset in self.SESSIONS_POOLED and session is not None
        for s in np.unique(subject):
            in_subject = np.flatnonzero(subject == s)
            # TorchEEG's trial id on SEED is the clip's .mat key, the same in a subject's three session
            # files: clip N's group holds its windows of every session, in session order
            key = trial_positions(trial[in_subject], session[in_subject]) if pool else trial[in_subject]
            for t in np.unique(key):
                windows = in_subject[key == t]
                if pool:
                    windows = windows[np.argsort(session[windows], kind="stable")]
                need(self.name, len(windows), n_folds, f"windows per trial (subject {s}, trial {t})")
                for k, (_, test) in enumerate(splitter.split(windows)):
                    tests[k].append(windows[test])
        every = np.arange(len(subject))
        out = []
        for k, parts in enumerate(tests, start=1):
            test = np.sort(np.concatenate(parts))
            out.append(Fold(k, None, np.setdiff1d(every, test, assume_unique=True), test, test))
        return out


TORCHEEG_KFOLD = TorchEEGKFold(
    "torcheeg-kfold", "pooled", ("segment",), "segment",
    "TorchEEG's KFoldGroupbyTrial: every trial's windows cut into k folds, pooled; the last epoch "
    "(segment leak)",
)  # fmt: skip
