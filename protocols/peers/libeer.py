"""LibEER's protocols (github.com/XJTU-EEG/LibEER): its SEED front/back setting, its DEAP 10-fold and
random train/val/test settings."""

from __future__ import annotations

import random
from typing import ClassVar

import numpy as np
from sklearn.model_selection import KFold

from bench.core.errors import ConfigError
from protocols.peers.base import PeerProtocol, PeerSource, subjects_with_trials
from protocols.sessions import SessionProtocol, trial_positions
from protocols.splits import Fold
from protocols.subject_specific import PerSubjectProtocol

LIBEER = "github.com/XJTU-EEG/LibEER"
LIBEER_COMMIT = "dddff9776dbdae21195fe320dff0a5ba61628a18"


class LibEERFrontBack(PeerProtocol, SessionProtocol, PerSubjectProtocol):
    """LibEER's ``seed_sub_dependent_front_back_setting``, as its SEED replication commands run it.

    Per subject and session 1 and 2 (``-sessions 1 2``): the first 9 trials train, the others test
    (``front=9``), in the session's trial order. The setting has no validation part, so the training
    scripts use the test trials as validation, keep the epoch of the best test accuracy and report that
    test accuracy: the test part selects the model.

    Source (LibEER @ dddff97, read 2026-12-07): ``LibEER/config/setting.py:95-106`` (the preset, front 9),
    ``LibEER/data_utils/split.py:57-64`` (trials ``0..front-1`` train, the rest test) and ``:127-128`` (no
    validation part), ``LibEER/DGCNN_train.py:111-113`` (``val_data = test_data``) and ``:18`` (the
    command, ``-sessions 1 2 -epochs 80``), ``LibEER/Trainer/training.py:28,55-62`` (the best epoch by
    ``acc`` on the validation loader, strict ``>``, then tested).
    """

    folds_from_subjects: ClassVar[bool] = True  # one fold per session; --folds does not apply
    mechanisms: ClassVar[tuple[str, ...]] = ("selection-on-test",)
    source = PeerSource("LibEER", LIBEER, LIBEER_COMMIT, (
        "LibEER/config/setting.py:95-106", "LibEER/data_utils/split.py:57-64,127-128",
        "LibEER/DGCNN_train.py:18,111-113", "LibEER/Trainer/training.py:28,55-62",
    ))  # fmt: skip
    used_on = ("seed", "seed-iv")
    counterpart = "session-trials"
    FRONT: ClassVar[int] = 9
    aligned_folds: ClassVar[bool] = True
    """Its fold k is session k's, as the counterpart's: the audit pairs the folds both tested."""
    SESSIONS: ClassVar[tuple[int, ...]] = (1, 2)

    def folds(self, subject, unit, strata, groups, *, n_folds, val_fraction, seed, select_on_test, domain,
              trial=None, session=None, dataset=None) -> list[Fold]:  # fmt: skip
        session = self.sessions(session)
        out = []
        for s in np.unique(subject):
            idx = np.flatnonzero(subject == s)
            pos = trial_positions(trial[idx], session[idx])
            for k in self.SESSIONS:
                here = session[idx] == k
                if not here.any():
                    continue
                n = int(pos[here].max()) + 1
                if n <= self.FRONT:
                    raise ConfigError(
                        f"protocol {self.name!r}: subject {s} session {k} holds {n} trials; the first "
                        f"{self.FRONT} train, so at least {self.FRONT + 1} are needed"
                    )
                at, p = idx[here], pos[here]
                train, test = at[p < self.FRONT], at[p >= self.FRONT]
                out.append(Fold(int(k), int(s), np.sort(train), np.sort(test), np.sort(test)))
        if not out:
            raise ConfigError(f"protocol {self.name!r}: no trials in sessions {self.SESSIONS}")
        return out


class LibEERDeapKFold(PeerProtocol, PerSubjectProtocol):
    """LibEER's ``deap_sub_dependent_10fold_setting``: per subject, 10 folds of its trials.

    The preset leaves ``fold_shuffle`` at its boolean default, which ``get_split_index`` does not read as
    shuffling (it compares with the strings ``'true'``/``'True'``), so the folds are contiguous: fold k
    tests trials ``4(k-1)..4k-1`` of DEAP's 40. No validation part, so the test fold is the validation
    loader and its best epoch is reported (the CDCN replication, README 92.30, ran this with
    ``-epochs 300``).

    Source (LibEER @ dddff97, read 2026-12-07): ``LibEER/config/setting.py:359-369`` (the preset),
    ``LibEER/data_utils/split.py:48-52`` (``KFold``, shuffle only for the strings) and ``:127-128``,
    ``LibEER/CDCN_train.py:17,101-103`` (the command; ``val_data = test_data``),
    ``LibEER/Trainer/training.py:55-62`` (the best epoch by ``acc``, then tested).
    """

    folds_from_subjects: ClassVar[bool] = True  # ten folds, as the preset; --folds does not apply
    mechanisms: ClassVar[tuple[str, ...]] = ("selection-on-test",)
    source = PeerSource("LibEER", LIBEER, LIBEER_COMMIT, (
        "LibEER/config/setting.py:359-369", "LibEER/data_utils/split.py:48-52,127-128",
        "LibEER/CDCN_train.py:17,101-103", "LibEER/Trainer/training.py:55-62",
    ))  # fmt: skip
    used_on = ("deap",)
    counterpart = "subject-specific"
    N_FOLDS: ClassVar[int] = 10

    def folds(self, subject, unit, strata, groups, *, n_folds, val_fraction, seed, select_on_test, domain,
              trial=None, session=None, dataset=None) -> list[Fold]:  # fmt: skip
        out = []
        for s, idx, trials in subjects_with_trials(self.name, subject, trial, self.N_FOLDS):
            for k, (_, test_t) in enumerate(KFold(self.N_FOLDS, shuffle=False).split(trials), start=1):
                test = idx[np.isin(trial[idx], trials[test_t])]
                train = np.setdiff1d(idx, test, assume_unique=True)
                out.append(Fold(k, s, train, test, test))
        return out


def libeer_stratified_split(trial_keys: list, seed: int, test_size: float = 0.2, val_size: float = 0.2):
    """LibEER's subject-dependent train/val/test split of one part's trials (``split.py:65-103``), with
    its arithmetic and Python's ``random`` in its call order: trials grouped by label in the order the
    labels first appear, each group shuffled and cut ``int(0.2 n)`` test, ``int(0.2 n)`` validation,
    ``int((1 - 0.2 - 0.2) n)`` train; the left-over trials shuffled together and topping test and
    validation up to ``int(0.2 N)`` each. ``random.seed(seed)`` precedes each part, as LibEER reseeds
    before every round. Returns (train, val, test) lists of positions into ``trial_keys``."""
    rng = random.Random(seed)
    groups: dict = {}
    for i, key in enumerate(trial_keys):
        groups.setdefault(key, []).append(i)
    test, val, train, others = [], [], [], []
    for indexes in groups.values():
        rng.shuffle(indexes)
        n = len(indexes)
        n_test, n_val = int(test_size * n), int(val_size * n)
        n_train = int((1 - test_size - val_size) * n)
        test += indexes[:n_test]
        val += indexes[n_test : n_test + n_val]
        train += indexes[n_test + n_val : n_test + n_val + n_train]
        others += indexes[n_test + n_val + n_train :]
    if others:
        rng.shuffle(others)
        n_test = int(len(trial_keys) * test_size) - len(test)
        n_val = int(len(trial_keys) * val_size) - len(val)
        test += others[:n_test]
        val += others[n_test : n_test + n_val]
        train += others[n_test + n_val :]
    return train, val, test


class LibEERDeapRandom(PeerProtocol, PerSubjectProtocol):
    """LibEER's ``deap_sub_dependent_train_val_test_setting``: per subject, one random 24/8/8 trial split.

    The trials are grouped by the label of their first window and split 60/20/20 within each group
    (:func:`libeer_stratified_split`), with Python's ``random`` seeded by the run's seed before each subject
    (LibEER calls ``setup_seed(args.seed)`` before every round; its DEAP commands pass ``-seed 2024``, so
    ``--seed 2024`` draws its published splits). The 8 validation trials pick the epoch by macro-F1
    (``-metric_choose 'macro-f1'``), which is then tested once: no leak, one split per subject (a
    reference row). With two tasks the trials are grouped by the pair of labels.

    Source (LibEER @ dddff97, read 2026-12-07): ``LibEER/config/setting.py:319-330`` (the preset),
    ``LibEER/data_utils/split.py:65-103`` (the split), ``LibEER/utils/utils.py:73-81`` (``setup_seed``),
    ``LibEER/DGCNN_train.py:34,84-86`` (the command and the reseeding),
    ``LibEER/Trainer/training.py:55-62`` (selection by the chosen metric).
    """

    folds_from_subjects: ClassVar[bool] = True  # one split per subject; --folds does not apply
    source = PeerSource("LibEER", LIBEER, LIBEER_COMMIT, (
        "LibEER/config/setting.py:319-330", "LibEER/data_utils/split.py:65-103",
        "LibEER/utils/utils.py:73-81", "LibEER/DGCNN_train.py:34,84-86", "LibEER/Trainer/training.py:55-62",
    ))  # fmt: skip
    used_on = ("deap", "mahnob-hci")
    counterpart = "subject-specific"
    reference = True
    select_by = "f1"

    def folds(self, subject, unit, strata, groups, *, n_folds, val_fraction, seed, select_on_test, domain,
              trial=None, session=None, dataset=None) -> list[Fold]:  # fmt: skip
        out = []
        for s, idx, trials in subjects_with_trials(self.name, subject, trial, 5):
            first = [int(strata[idx[trial[idx] == t][0]]) for t in trials]
            parts = libeer_stratified_split(first, seed)
            train, val, test = (idx[np.isin(trial[idx], trials[p])] for p in parts)
            out.append(Fold(1, s, train, test.copy() if select_on_test else val, test))
        return out


LIBEER_FRONT_BACK = LibEERFrontBack(
    "libeer-front-back", "per-subject", ("trial",), "trial",
    "LibEER's SEED setting: per subject and session (1-2), trials 1-9 train, the rest test and pick the "
    "best epoch (selection on test)",
)  # fmt: skip

LIBEER_DEAP_KFOLD = LibEERDeapKFold(
    "libeer-deap-kfold", "per-subject", ("trial",), "trial",
    "LibEER's DEAP 10-fold setting: per subject, 10 contiguous folds of trials, the test fold picks the "
    "best epoch (selection on test)",
)  # fmt: skip

LIBEER_DEAP_RANDOM = LibEERDeapRandom(
    "libeer-deap-random", "per-subject", ("trial",), "trial",
    "LibEER's DEAP train/val/test setting: per subject one stratified random trial split 60/20/20, the "
    "epoch by validation macro-F1 (reference)",
)  # fmt: skip
