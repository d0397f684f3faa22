"""The SEED family's and FACED's protocols: splits by trial order, by session, by subject within a session
and by a fixed subject list, each with its stated validation part, never carved from the test part."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from bench.config.run import RunConfig
from bench.core.errors import ConfigError
from bench.data.datasets import DATASETS, get_dataset
from bench.runs.resolved import resolve_run
from protocols import make_folds
from protocols.sessions import holdout_counts, trial_positions

N_SUBJECTS, N_SESSIONS, N_TRIALS, N_WINDOWS = 3, 3, 15, 4


def _samples(n_subjects=N_SUBJECTS, n_sessions=N_SESSIONS, n_trials=N_TRIALS, seed=0):
    """Samples in the layout of a SEED-like recording: trials numbered session after session within a
    subject, N_WINDOWS windows each, one 3-class label per trial."""
    rng = np.random.default_rng(seed)
    s, k, t = np.meshgrid(np.arange(1, n_subjects + 1), np.arange(1, n_sessions + 1), np.arange(n_trials),
                          indexing="ij")  # fmt: skip
    trial = (k - 1) * n_trials + t
    labels = rng.integers(0, 3, trial.shape)
    rep = lambda a: np.repeat(a.reshape(-1), N_WINDOWS)  # noqa: E731
    return rep(s), rep(trial), rep(k), rep(labels)[:, None]


def _trials(idx, subject, trial):
    return {(int(a), int(b)) for a, b in zip(subject[idx], trial[idx], strict=True)}


def test_trial_positions_rank_the_trials_within_each_session():
    trial = np.array([0, 0, 1, 14, 15, 16, 29])
    session = np.array([1, 1, 1, 1, 2, 2, 2])
    assert trial_positions(trial, session).tolist() == [0, 0, 1, 2, 0, 1, 2]


def test_session_trials_is_seeds_first_nine_and_last_six_per_subject_and_session():
    subject, trial, session, labels = _samples()
    folds = make_folds("session-trials", subject, trial, labels, session=session, dataset="seed")
    assert [(f.subject, f.index) for f in folds] == [(s, k) for s in (1, 2, 3) for k in (1, 2, 3)]
    for f in folds:
        for part in (f.train, f.val, f.test):
            assert set(subject[part]) == {f.subject} and set(session[part]) == {f.index}
        position = trial[f.test] - (f.index - 1) * N_TRIALS
        assert sorted(set(position)) == list(range(9, 15))  # the last 6 clips of the session
        fit_and_val = np.concatenate([f.train, f.val])
        assert sorted(set(trial[fit_and_val] - (f.index - 1) * N_TRIALS)) == list(range(9))
        # SEED publishes no validation part: whole training trials are carved out, never test ones, at
        # least as many as the classes (a third of the 9 clips: 3, or 4 where the strata do not divide)
        assert _trials(f.val, subject, trial).isdisjoint(_trials(f.train, subject, trial))
        assert 3 <= len(_trials(f.val, subject, trial)) <= 4


def test_session_trials_takes_a_published_validation_part_as_it_is():
    """SEED-V's 5/5/5: trials 6-10 of each session validate, 11-15 test."""
    mine = replace(get_dataset("seed"), name="five-five-five", trial_split=(5, 5, 5))
    DATASETS.register(mine.name, mine)
    try:
        subject, trial, session, labels = _samples()
        folds = make_folds("session-trials", subject, trial, labels, session=session, dataset=mine.name)
        for f in folds:
            first = (f.index - 1) * N_TRIALS
            assert sorted(set(trial[f.train] - first)) == [0, 1, 2, 3, 4]
            assert sorted(set(trial[f.val] - first)) == [5, 6, 7, 8, 9]
            assert sorted(set(trial[f.test] - first)) == [10, 11, 12, 13, 14]
        bad = make_folds
        with pytest.raises(
            ConfigError, match="subject 1 session 1 holds 12 trials; the split 5/5/5 needs 15"
        ):
            s, t, k, y = _samples(n_trials=12)
            bad("session-trials", s, t, y, session=k, dataset=mine.name)
    finally:
        DATASETS.unregister(mine.name)


def test_cross_session_trains_on_the_first_sessions_and_tests_on_the_last():
    subject, trial, session, labels = _samples()
    folds = make_folds("cross-session", subject, trial, labels, session=session, dataset="seed")
    assert [(f.subject, f.index) for f in folds] == [(1, 1), (2, 1), (3, 1)]
    for f in folds:
        assert set(session[f.test]) == {3} and set(session[f.train]) | set(session[f.val]) == {1, 2}
        assert len(f.test) == N_TRIALS * N_WINDOWS
        assert _trials(f.val, subject, trial).isdisjoint(_trials(f.train, subject, trial))


def test_loso_session_leaves_one_subject_out_within_each_session():
    subject, trial, session, labels = _samples(n_subjects=4)
    folds = make_folds("loso-session", subject, trial, labels, session=session, dataset="seed")
    assert [f.index for f in folds] == list(range(1, 13))  # 3 sessions x 4 subjects
    for f in folds:
        (k,) = set(session[f.test])
        (held,) = set(subject[f.test])
        assert set(session[f.train]) == set(session[f.val]) == {k}
        assert held not in set(subject[f.train]) | set(subject[f.val])
        assert set(subject[f.train]).isdisjoint(subject[f.val])  # validation by whole subjects
        assert len(f.test) == N_TRIALS * N_WINDOWS


def test_subject_holdout_splits_the_subjects_in_number_order():
    assert holdout_counts((80, 20, 23), 123) == (80, 20, 23)
    assert holdout_counts((80, 20, 23), 4) == (2, 1, 1)
    assert holdout_counts((80, 20, 23), 10) == (6, 2, 2)
    with pytest.raises(ConfigError, match="3 or more subjects"):
        holdout_counts((80, 20, 23), 2)
    mine = replace(get_dataset("seed"), name="by-subjects", n_sessions=1, trial_split=None,
                   subject_split=(80, 20, 23))  # fmt: skip
    DATASETS.register(mine.name, mine)
    try:
        subject, trial, session, labels = _samples(n_subjects=10, n_sessions=1)
        (fold,) = make_folds("subject-holdout", subject, trial, labels, session=session, dataset=mine.name)
        assert sorted(set(subject[fold.train])) == [1, 2, 3, 4, 5, 6]
        assert sorted(set(subject[fold.val])) == [7, 8] and sorted(set(subject[fold.test])) == [9, 10]
    finally:
        DATASETS.unregister(mine.name)


@pytest.mark.parametrize(
    ("protocol", "dataset", "message"),
    [
        ("session-trials", "deap", "protocol 'session-trials' splits each session's trials as the dataset's "
                                   "papers do; DEAP has no such split"),
        ("cross-session", "dreamer", "protocol 'cross-session' needs several sessions per subject; DREAMER "
                                     "has one"),
        ("loso-session", "deap", "protocol 'loso-session' needs several sessions per subject; DEAP has one"),
        ("subject-holdout", "seed", "protocol 'subject-holdout' splits the subjects as the dataset's papers "
                                    "do; SEED has no such split"),
    ],
)  # fmt: skip
def test_a_protocol_refuses_a_dataset_without_what_it_splits_on_before_any_data(protocol, dataset, message):
    with pytest.raises(ConfigError) as err:
        resolve_run(RunConfig(dataset=dataset, protocol=protocol))
    assert str(err.value) == message
