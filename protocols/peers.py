"""The peer benchmarks' protocols, reproduced from their public code so their numbers can be audited.

Each protocol here follows one benchmark's published split and model-selection rule, as read in its
code (the class docstring cites the files and lines, and the date read); :attr:`PeerProtocol.counterpart`
names the harness's honest protocol on the same data, and :attr:`~protocols.base.Protocol.mechanisms` what
in the published protocol can make its score look better than it is. Their runs appear in one table only,
``bench table protocols-audit``, beside the counterpart's (:attr:`~protocols.base.Protocol.audit_only`),
and the leaky ones (a segment leak, selection on the test part) are tagged leaky like any leaky run.

What is reproduced is the protocol: which samples train, validate and test, and which epoch's weights are
tested. The features (the harness's windows), the models and their optimisers stay the harness's, so the
audit compares protocols on one model, not the benchmarks' models.

* ``libeer-front-back``: LibEER's SEED "front 9 / back 6" setting: per subject and session (sessions 1 and
  2), trials 1-9 train, the rest test, *the test trials as validation*, the best epoch by their accuracy.
* ``libeer-deap-kfold``: LibEER's DEAP 10-fold setting: per subject, 10 unshuffled folds of trials, no
  validation part, so again the test fold picks the epoch.
* ``libeer-deap-random``: LibEER's DEAP train/val/test setting: per subject one stratified random split of
  the trials 60/20/20 (24/8/8), the epoch by validation macro-F1 (a reference row).
* ``torcheeg-kfold``: TorchEEG's ``KFoldGroupbyTrial`` of its tutorials: the windows of *every trial* cut
  into k folds, pooled over subjects; validation off and the last epoch tested.
* ``eegfm-one-subject``: EEG-FM-Bench's SEED family split: one test and one validation subject (two each
  on SEED-V) drawn once with seed 42 whatever the training seed; the last epoch.
* ``adabrain-random-valid``: AdaBrain-Bench's cross-subject SEED split: the last two subject folders
  test, a random 20 % of every training subject's windows validate; the epoch by validation accuracy.
* ``adabrain-subject-valid``: the same test subjects and selection with whole training subjects as the
  validation part: the honest counterpart that isolates AdaBrain's window-level validation.
* ``eegain-loto``: EEGain's leave-one-trial-out: per subject each trial tests once; a class-stratified
  random 80/20 of the training windows validates; the epoch by validation accuracy (a reference row).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np
from sklearn.model_selection import KFold

from bench.config.run import RunConfig, TrainConfig
from bench.core.errors import ConfigError
from bench.data.datasets import Dataset, get_dataset
from protocols.base import Protocol
from protocols.cross_subject import CrossSubjectProtocol
from protocols.sessions import trial_positions
from protocols.splits import Fold, inner_val
from protocols.subject_specific import PerSubjectProtocol

READ_ON = "2026-12-07"
"""The date the peers' code was read for these protocols."""


@dataclass(frozen=True)
class PeerSource:
    """Where a peer protocol comes from: the benchmark, its repository and commit, the files and lines
    that hold the split and the selection rule, and the date they were read."""

    benchmark: str
    repository: str
    commit: str
    lines: tuple[str, ...]
    read: str = READ_ON

    def cite(self) -> str:
        """One line: ``LibEER (github.com/XJTU-EEG/LibEER @ dddff97, read 2026-12-07)``."""
        return f"{self.benchmark} ({self.repository} @ {self.commit[:7]}, read {self.read})"


LIBEER = "github.com/XJTU-EEG/LibEER"
LIBEER_COMMIT = "dddff9776dbdae21195fe320dff0a5ba61628a18"
TORCHEEG = "github.com/torcheeg/torcheeg"
TORCHEEG_COMMIT = "b6039b13e701edd860eb054242e64c3ec5a43fdc"
EEGFM = "github.com/xw1216/EEG-FM-Bench"
EEGFM_COMMIT = "325398d7d057ecc1216fb3510d70c16eb60337cc"
ADABRAIN = "github.com/Jamine-W/AdaBrain-Bench"
ADABRAIN_COMMIT = "c29be9291b927b037325640137bf0871acc04f57"
EEGAIN = "github.com/EmotionLab/EEGain"
EEGAIN_COMMIT = "43dcbf6d636ef3b7a4f62312d3bfccfbe84e10ec"

SELECTIONS = {
    "acc": "the epoch of the highest validation accuracy",
    "f1": "the epoch of the highest validation macro-F1",
    None: "the last epoch (no selection)",
}


class PeerProtocol:
    """Mixin of the peer protocols (before :class:`~protocols.base.Protocol` in the bases): the
    benchmark's source, the datasets it ran the protocol on, its selection rule and the harness's honest
    counterpart."""

    audit_only: ClassVar[bool] = True
    source: ClassVar[PeerSource]
    used_on: ClassVar[tuple[str, ...]]
    """The datasets the benchmark ran this protocol on (a run elsewhere is refused)."""
    counterpart: ClassVar[str | None] = None
    """The harness's honest protocol on the same data and model (None: this protocol is one)."""
    reference: ClassVar[bool] = False
    """A reference row: a peer protocol with no leak, expected to score like its counterpart."""
    select_by: ClassVar[str | None] = "acc"
    """The selection rule, as ``train.select_by`` (None: no selection, the last epoch is tested)."""

    def refusal(self, ds: Dataset) -> str | None:
        """Why the protocol cannot run on ``ds``: a dataset the benchmark did not use it on."""
        if ds.name not in self.used_on:
            used = ", ".join(get_dataset(n).title for n in self.used_on)
            return f"reproduces {self.source.benchmark}'s protocol on {used}; not on {ds.title}"
        return None

    def resolve_data(self, cfg: RunConfig) -> dict:
        why = self.refusal(get_dataset(cfg.dataset))  # before any data is read
        if why is not None:
            raise ConfigError(f"protocol {self.name!r} {why}")  # type: ignore[attr-defined]
        return super().resolve_data(cfg)  # type: ignore[misc]

    def resolve_train(self, train: TrainConfig) -> TrainConfig:
        """The benchmark's selection rule replaces the harness's: no early stopping and no learning-rate
        plateau schedule (the benchmarks train a fixed number of epochs); the weights of the epoch its
        rule picks (:attr:`select_by`), or of the last epoch."""
        if self.select_by is None:
            return replace(train, early_stopping=0, lr_decay=False, restore_best=False, select_by="loss")
        return replace(train, early_stopping=0, lr_decay=False, restore_best=True, select_by=self.select_by)

    @property
    def selection(self) -> str:
        """The selection rule in words."""
        return SELECTIONS[self.select_by]


def subject_trials(trial: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """The trials of one subject's samples ``idx``, in recording order (the peers' trial order)."""
    return np.unique(trial[idx])


def need(name: str, have: int, want: int, what: str) -> None:
    """A ConfigError when a split needs ``want`` of ``what`` and the data has ``have``."""
    if have < want:
        raise ConfigError(f"protocol {name!r} needs {want} or more {what}, got {have}")


# ---- LibEER -------------------------------------------------------------------------------------------


class LibEERFrontBack(PeerProtocol, PerSubjectProtocol):
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
        if session is None:
            raise ConfigError(f"protocol {self.name!r} needs the sessions of the trials")
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
        for s in np.unique(subject):
            idx = np.flatnonzero(subject == s)
            trials = subject_trials(trial, idx)
            need(self.name, len(trials), self.N_FOLDS, f"trials per subject (subject {s})")
            for k, (_, test_t) in enumerate(KFold(self.N_FOLDS, shuffle=False).split(trials), start=1):
                test = idx[np.isin(trial[idx], trials[test_t])]
                train = np.setdiff1d(idx, test, assume_unique=True)
                out.append(Fold(k, int(s), train, test, test))
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
        for s in np.unique(subject):
            idx = np.flatnonzero(subject == s)
            trials = subject_trials(trial, idx)
            need(self.name, len(trials), 5, f"trials per subject (subject {s})")
            first = [int(strata[idx[trial[idx] == t][0]]) for t in trials]
            parts = libeer_stratified_split(first, seed)
            train, val, test = (idx[np.isin(trial[idx], trials[p])] for p in parts)
            out.append(Fold(1, int(s), train, test.copy() if select_on_test else val, test))
        return out


# ---- TorchEEG -----------------------------------------------------------------------------------------


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


# ---- EEG-FM-Bench -------------------------------------------------------------------------------------


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


# ---- AdaBrain-Bench -----------------------------------------------------------------------------------


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


def window_validation(
    train: np.ndarray, strata: np.ndarray, shuffle, fraction: float = 0.2, class_order: str = "sorted"
) -> tuple[np.ndarray, np.ndarray]:
    """A peer's window-level validation part: within each class of ``train``'s windows, shuffle them
    (``shuffle(list)`` in place: the peer's own generator) and cut at ``int(n * (1 - fraction))``, the
    windows before it training, the rest validating. ``class_order``: ``sorted`` (EEGain's
    ``np.unique``) or ``first`` (AdaBrain's dict, the order the classes first appear). Windows of one
    trial land on both sides: that is the mechanism."""
    labels = strata[train]
    classes = np.unique(labels) if class_order == "sorted" else list(dict.fromkeys(labels.tolist()))
    fit, val = [], []
    for c in classes:
        members = train[labels == c].tolist()
        shuffle(members)
        cut = int(len(members) * (1 - fraction))
        fit += members[:cut]
        val += members[cut:]
    return np.sort(np.asarray(fit, dtype=np.int64)), np.sort(np.asarray(val, dtype=np.int64))


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
        train, val = inner_val(train, "subject", strata, subject.astype(np.int64), val_fraction, seed)
        return [Fold(1, None, train, val, test)]


# ---- EEGain -------------------------------------------------------------------------------------------


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
        for s in np.unique(subject):
            idx = np.flatnonzero(subject == s)
            trials = subject_trials(trial, idx)
            need(self.name, len(trials), 2, f"trials per subject (subject {s})")
            for k, t in enumerate(trials, start=1):
                test = idx[trial[idx] == t]
                train = idx[trial[idx] != t]
                if select_on_test:
                    out.append(Fold(k, int(s), train, test.copy(), test))
                    continue
                fit, val = window_validation(train, strata, rng.shuffle, 0.2, "sorted")
                out.append(Fold(k, int(s), fit, val, test))
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
TORCHEEG_KFOLD = TorchEEGKFold(
    "torcheeg-kfold", "pooled", ("segment",), "segment",
    "TorchEEG's KFoldGroupbyTrial: every trial's windows cut into k folds, pooled; the last epoch "
    "(segment leak)",
)  # fmt: skip
EEGFM_ONE_SUBJECT = EEGFMOneSubject(
    "eegfm-one-subject", "pooled", ("subject",), "subject",
    "EEG-FM-Bench's SEED-family split: one validation and one test subject drawn with seed 42; the last "
    "epoch (one test subject)",
)  # fmt: skip
ADABRAIN_RANDOM_VALID = AdaBrainRandomValid(
    "adabrain-random-valid", "pooled", ("subject",), "subject",
    "AdaBrain-Bench's cross-subject split: the last two subjects test, a random 20 % of the training "
    "windows validates (window-level validation)",
)  # fmt: skip
ADABRAIN_SUBJECT_VALID = AdaBrainSubjectValid(
    "adabrain-subject-valid", "pooled", ("subject",), "subject",
    "adabrain-random-valid's honest counterpart: the same test subjects, whole training subjects validate",
)  # fmt: skip
EEGAIN_LOTO = EEGainLOTO(
    "eegain-loto", "per-subject", ("trial",), "trial",
    "EEGain's leave-one-trial-out: per subject each trial tests once, a random 80/20 of the training "
    "windows validates (reference)",
)  # fmt: skip

PEER_PROTOCOLS: tuple[Protocol, ...] = (
    LIBEER_FRONT_BACK, LIBEER_DEAP_KFOLD, LIBEER_DEAP_RANDOM, TORCHEEG_KFOLD, EEGFM_ONE_SUBJECT,
    ADABRAIN_RANDOM_VALID, ADABRAIN_SUBJECT_VALID, EEGAIN_LOTO,
)  # fmt: skip
"""The peer protocols and their own counterparts, in the audit table's order."""
