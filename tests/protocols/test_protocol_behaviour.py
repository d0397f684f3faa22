"""Each protocol owns its behaviour: callers ask it (folds, datasets, checks, stacking, experiment kind,
statistics unit) instead of testing its name, so a new protocol is one subclass plus a registration."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest

from bench.config.run import RunConfig
from bench.core.errors import ConfigError
from protocols import (
    Protocol,
    experiment_kinds,
    get_protocol,
    list_protocols,
    make_folds,
    protocol_for_test_dataset,
    register_protocol,
    unregister_protocol,
)
from protocols.subject_specific import PerSubjectProtocol


def test_each_builtin_answers_for_itself():
    by_name = {p.name: p for p in list_protocols()}
    assert {n for n, p in by_name.items() if p.over_subjects} == {
        "subject-specific", "cross-dataset", "session-trials", "cross-session",
        "libeer-front-back", "libeer-deap-kfold", "libeer-deap-random", "eegain-loto",
    }  # fmt: skip
    assert {n for n, p in by_name.items() if not p.stackable} == {"whole-set-finetune"}
    assert {n for n, p in by_name.items() if p.folds_from_subjects} == {
        "cross-subject", "session-trials", "cross-session", "loso-session", "subject-holdout",
        "libeer-front-back", "libeer-deap-kfold", "libeer-deap-random", "eegfm-one-subject",
        "adabrain-random-valid", "adabrain-subject-valid", "eegain-loto",
    }  # fmt: skip
    assert protocol_for_test_dataset().name == "cross-dataset"
    assert experiment_kinds() == ("cross-dataset",)
    cfg = RunConfig(dataset="deap", test_dataset="dreamer", protocol="cross-dataset")
    assert by_name["cross-dataset"].datasets(cfg) == ("deap", "dreamer")
    assert by_name["cross-dataset"].data_name(cfg) == "deap>dreamer"
    assert by_name["whole-set"].data_name(RunConfig()) == "deap"


def test_config_checks_live_on_the_protocol():
    with pytest.raises(ConfigError, match="applies to the cross-dataset protocol only"):
        get_protocol("whole-set").resolve_data(RunConfig(test_dataset="dreamer"))
    with pytest.raises(ConfigError, match="needs a test dataset"):
        get_protocol("cross-dataset").resolve_data(RunConfig(protocol="cross-dataset"))
    with pytest.raises(ConfigError, match="fine-tunes one pooled model per fold"):
        get_protocol("whole-set-finetune").check_stack(4)
    get_protocol("subject-specific").check_stack(4)
    with pytest.raises(ConfigError, match="split"):
        get_protocol("cross-subject").resolve_split("trial")


def test_population_must_match_the_class():
    with pytest.raises(ValueError, match="pools 'pooled'"):
        Protocol("toy", "per-subject", ("trial",), "trial", "says per-subject, behaves pooled")


def test_a_new_protocol_is_one_subclass_and_a_registration():
    class OddSubjects(PerSubjectProtocol):
        """Per-subject folds on odd-numbered subjects only."""

        POPULATION: ClassVar[str] = "per-subject"

        def scopes(self, subject):
            return [s for s in super().scopes(subject) if s[0] % 2]

    register_protocol(OddSubjects("toy-odd", "per-subject", ("trial",), "trial", "odd subjects"))
    try:
        subject = np.repeat(np.arange(1, 5), 40)
        trial = np.tile(np.repeat(np.arange(10), 4), 4)
        labels = np.random.default_rng(0).integers(0, 2, size=(len(subject), 2))
        folds = make_folds("toy-odd", subject, trial, labels, n_folds=2)
        assert sorted({f.subject for f in folds}) == [1, 3] and get_protocol("toy-odd").over_subjects
    finally:
        unregister_protocol("toy-odd")
