"""Protocols and folds: units stay together, validation is grouped like the test split, seeds hold."""

from __future__ import annotations

import numpy as np
import pytest

from bench.core.errors import ConfigError
from protocols import fold_assignment, get_protocol, list_protocols, make_folds


def _design(n_subjects=4, n_trials=10, n_windows=6, seed=0):
    rng = np.random.default_rng(seed)
    subject = np.repeat(np.arange(1, n_subjects + 1), n_trials * n_windows)
    trial = np.tile(np.repeat(np.arange(n_trials), n_windows), n_subjects)
    segment = np.tile(np.arange(n_windows), n_subjects * n_trials)
    trial_labels = rng.integers(0, 2, size=(n_subjects, n_trials, 2))
    labels = np.repeat(trial_labels.reshape(-1, 2), n_windows, axis=0)
    return subject, trial, segment, labels


def _groups(subject, trial):
    return set(zip(subject.tolist(), trial.tolist(), strict=True))


def test_registry_lists_the_builtin_protocols():
    names = [p.name for p in list_protocols()]
    assert names == [
        "subject-specific", "whole-set", "cross-subject", "whole-set-finetune", "cross-dataset",
        "session-trials", "cross-session", "loso-session", "subject-holdout",
        "libeer-front-back", "libeer-deap-kfold", "libeer-deap-random", "torcheeg-kfold",
        "eegfm-one-subject", "adabrain-random-valid", "adabrain-subject-valid", "eegain-loto",
    ]  # fmt: skip
    assert get_protocol("whole-set-finetune").finetune
    with pytest.raises(ConfigError, match="unknown protocol 'nope'"):
        get_protocol("nope")


@pytest.mark.parametrize("protocol", ["whole-set", "subject-specific", "whole-set-finetune"])
def test_trial_split_keeps_trials_together_in_test_and_validation(protocol):
    subject, trial, _, labels = _design()
    folds = make_folds(protocol, subject, trial, labels, split="trial", n_folds=5, seed=1)
    n_scopes = 4 if protocol == "subject-specific" else 1
    assert len(folds) == 5 * n_scopes
    for f in folds:
        parts = {k: getattr(f, k) for k in ("train", "val", "test")}
        assert all(len(v) for v in parts.values())
        assert not np.intersect1d(f.train, f.test).size and not np.intersect1d(f.train, f.val).size
        assert not np.intersect1d(f.val, f.test).size
        g = {k: _groups(subject[v], trial[v]) for k, v in parts.items()}
        assert not g["train"] & g["test"] and not g["train"] & g["val"] and not g["val"] & g["test"]
        if f.subject is not None:
            assert set(subject[np.concatenate(list(parts.values()))]) == {f.subject}
    # the test parts of a scope partition it
    for s in range(n_scopes):
        tests = np.concatenate([f.test for f in folds[5 * s : 5 * s + 5]])
        assert len(tests) == len(np.unique(tests)) == len(subject) // n_scopes


def test_segment_split_leaks_trials_across_train_and_test():
    subject, trial, _, labels = _design()
    f = make_folds("whole-set", subject, trial, labels, split="segment", seed=0)[0]
    assert _groups(subject[f.train], trial[f.train]) & _groups(subject[f.test], trial[f.test])


def test_cross_subject_is_leave_one_subject_out_with_as_many_folds():
    subject, trial, _, labels = _design(n_subjects=4)
    folds = make_folds("cross-subject", subject, trial, labels, n_folds=4)
    assert sorted(int(np.unique(subject[f.test])[0]) for f in folds) == [1, 2, 3, 4]
    for f in folds:
        assert len(np.unique(subject[f.test])) == 1
        assert not set(subject[f.val]) & set(subject[f.train]) and not set(subject[f.val]) & set(
            subject[f.test]
        )


def test_folds_are_reproducible_and_seeded():
    subject, trial, _, labels = _design()
    a = make_folds("whole-set", subject, trial, labels, seed=3)
    b = make_folds("whole-set", subject, trial, labels, seed=3)
    c = make_folds("whole-set", subject, trial, labels, seed=4)
    assert all(
        np.array_equal(x.test, y.test) and np.array_equal(x.val, y.val) for x, y in zip(a, b, strict=True)
    )
    assert any(not np.array_equal(x.test, y.test) for x, y in zip(a, c, strict=True))


def test_folds_are_stratified():
    subject, trial, _, labels = _design(n_subjects=8, n_trials=20)
    for f in make_folds("whole-set", subject, trial, labels, n_folds=5, seed=0):
        assert abs(labels[f.test, 0].mean() - labels[:, 0].mean()) < 0.12


def test_select_on_test_audit_uses_the_test_part_as_validation():
    subject, trial, segment, labels = _design()
    folds = make_folds("whole-set", subject, trial, labels, split="segment", select_on_test=True)
    assert all(np.array_equal(f.val, f.test) for f in folds)
    table = fold_assignment(folds, subject, trial, segment)
    assert set(table["fold1"]) == {"train", "test+val"}


def test_fold_assignment_records_every_role():
    subject, trial, segment, labels = _design()
    folds = make_folds("subject-specific", subject, trial, labels, n_folds=5)
    table = fold_assignment(folds, subject, trial, segment)
    assert list(table.columns) == ["subject", "trial", "segment", *[f"fold{k}" for k in range(1, 6)]]
    assert set(table["fold3"]) == {"train", "val", "test"}
    assert (table[[f"fold{k}" for k in range(1, 6)]] == "test").sum(axis=1).eq(1).all()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"split": "subject"}, "='subject' is not allowed; allowed: trial, segment"),
        ({"n_folds": 1}, "must be >= 2"),
        ({"n_folds": 50}, "cannot make 50 folds from 40 trial"),
        ({"val_fraction": 1.5}, "val_fraction"),
    ],
)
def test_bad_values_are_one_line_errors(kwargs, message):
    subject, trial, _, labels = _design()
    with pytest.raises(ConfigError, match=message):
        make_folds("whole-set", subject, trial, labels, **kwargs)
