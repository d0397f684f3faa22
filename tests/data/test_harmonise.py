"""Label harmonisation across the families: SEED's and FACED's clip valence as the rating datasets' binary
valence (negative = low, positive = high, neutral clips left out), what a run may ask for, and the
refusals where no task is shared."""

from __future__ import annotations

import numpy as np
import pytest

from bench.config.run import RunConfig
from bench.core.errors import ConfigError
from bench.core.tasks import VALENCE_FROM_VALENCE3, DerivedTask
from bench.data.categorical.seed import LABELS
from bench.data.datasets import get_dataset
from bench.data.harmonise import inputs_for_tasks, restrict_tasks
from bench.data.inputs import InputSpec, ModelInputs
from bench.runs.identity import resolve_config
from bench.runs.plan import prepare


def _inputs(labels, label_tasks) -> ModelInputs:
    labels = np.asarray(labels, dtype=np.int64).reshape(len(labels), -1)
    n = len(labels)
    return ModelInputs(
        x=np.arange(n, dtype=np.float32)[:, None],
        labels=labels,
        ratings=labels.astype(np.float32),
        subject=np.ones(n, dtype=np.int64),
        trial=np.arange(n, dtype=np.int64),
        segment=np.zeros(n, dtype=np.int64),
        spec=InputSpec(),
        label_tasks=label_tasks,
        session=np.ones(n, dtype=np.int64),
    )


def test_valence_from_valence3_maps_negative_low_positive_high_and_leaves_neutral_out():
    d = VALENCE_FROM_VALENCE3
    assert d.describe() == "valence from valence3: negative = low, positive = high (neutral left out)"
    assert d.dropped == ("neutral",)
    np.testing.assert_array_equal(d.map([0, 1, 2, -1, 2]), [0, -1, 1, -1, 1])
    with pytest.raises(ValueError, match="one class of 'valence' .or None. per class of 'valence3'"):
        DerivedTask("valence", "valence3", (0, 1))
    with pytest.raises(ValueError, match="every class of 'valence' must come from a class of 'valence3'"):
        DerivedTask("valence", "valence3", (0, None, None))


def test_inputs_for_a_derived_task_keep_the_defined_samples_only():
    # SEED's 15 clips of one session, their valence3 indices (label.mat's -1/0/1 plus 1)
    classes = np.array(LABELS) + 1
    inp = _inputs(classes, ("valence3",))
    out = inputs_for_tasks(inp, ("valence",), "seed")
    kept = np.flatnonzero(classes != 1)
    assert out.label_tasks == ("valence",) and len(out) == 10
    np.testing.assert_array_equal(out.trial, kept)  # trial numbers as they were: protocols split on them
    np.testing.assert_array_equal(out.x[:, 0], kept)
    np.testing.assert_array_equal(out.labels[:, 0], (classes[kept] == 2).astype(int))
    np.testing.assert_array_equal(out.ratings, out.labels)
    # labels that hold the tasks are used as they are (same object: no existing run changes)
    assert inputs_for_tasks(inp, ("valence3",), "seed") is inp
    assert inputs_for_tasks(inp, None, "seed") is inp
    with pytest.raises(ValueError, match=r"SEED-IV's labels \['valence3'\] give no 'valence'"):
        inputs_for_tasks(inp, ("valence",), "seed-iv")


def test_restrict_tasks_keeps_the_columns_asked_for():
    inp = _inputs(np.array([[0, 1], [1, 1], [1, 0]]), ("valence", "arousal"))
    out = restrict_tasks(inp, ("arousal",))
    assert out.label_tasks == ("arousal",)
    np.testing.assert_array_equal(out.labels[:, 0], [1, 1, 0])
    np.testing.assert_array_equal(out.ratings[:, 0], [1, 1, 0])
    assert restrict_tasks(inp, ("valence", "arousal")) is inp


def test_what_each_dataset_offers_and_what_a_run_gets():
    assert get_dataset("seed").offered_tasks == ("valence3", "valence")
    assert get_dataset("faced").offered_tasks == ("emotion9", "valence3", "valence")
    assert get_dataset("seed-iv").offered_tasks == ("emotion4",)
    assert get_dataset("seed-v").offered_tasks == ("emotion5",)
    assert (
        get_dataset("faced").labels_words()
        == "emotion9: 9 classes; valence3: 3 classes; valence (from valence3)"
    )
    # own tasks by default; the derived one when asked for, alone
    assert RunConfig(dataset="seed").tasks == ("valence3",)
    assert RunConfig(dataset="seed", tasks=["valence"]).tasks == ("valence",)
    cross = dict(protocol="cross-dataset")
    assert RunConfig(dataset="deap", test_dataset="seed", **cross).tasks == ("valence",)
    assert RunConfig(dataset="faced", test_dataset="deap", **cross).tasks == ("valence",)
    assert RunConfig(dataset="seed", test_dataset="faced", **cross).tasks == ("valence3",)
    assert RunConfig(dataset="seed", test_dataset="faced", tasks=["valence"], **cross).tasks == ("valence",)
    assert RunConfig(dataset="deap", test_dataset="dreamer", **cross).tasks == ("valence", "arousal")
    with pytest.raises(ConfigError) as err:
        RunConfig(dataset="faced", tasks=["valence", "emotion9"])
    assert str(err.value) == (
        "tasks=['valence', 'emotion9']: FACED's valence is read from valence3 with its neutral trials left "
        "out; run it alone (tasks=['valence'])"
    )
    with pytest.raises(ConfigError, match=r"^tasks='arousal' is not allowed; allowed: valence$"):
        RunConfig(dataset="deap", test_dataset="seed", tasks=["valence", "arousal"], **cross)
    with pytest.raises(ConfigError) as err:
        RunConfig(dataset="seed-v", test_dataset="faced", **cross)
    assert str(err.value) == (
        "test_dataset='faced': SEED-V's labels (emotion5) and FACED's (emotion9, valence3, valence "
        "(derived)) share no task, and none is derived from the other's; a cross-dataset run needs one"
    )


def test_a_cross_dataset_run_onto_a_set_without_baseline_subtracts_none():
    cross = dict(protocol="cross-dataset", model="mtcnn")
    cfg = resolve_config(RunConfig(dataset="deap", test_dataset="seed", **cross))
    assert cfg.feature_config == {"baseline": "none", "baseline_s": 0.0}
    assert resolve_config(cfg) == cfg  # idempotent
    # the other way round: SEED's own recipe (no baseline) on both sides
    assert (
        resolve_config(RunConfig(dataset="seed", test_dataset="deap", **cross)).feature_config["baseline"]
        == "none"
    )
    # the rating datasets' cross runs are as before
    assert resolve_config(RunConfig(dataset="deap", test_dataset="dreamer", **cross)).feature_config == {}
    with pytest.raises(ConfigError, match=r"^features.baseline_s=3: SEED recordings hold 0 s of baseline"):
        resolve_config(
            RunConfig(dataset="deap", test_dataset="seed", feature_config={"baseline": "subtract"}, **cross)
        )
    with pytest.raises(ConfigError, match=r"^features.baseline_s=2: SEED recordings hold 0 s of baseline"):
        resolve_config(RunConfig(dataset="seed", model="mtcnn", feature_config={"baseline_s": 2.0}))


def test_deap_to_seed_tests_on_the_positive_and_negative_clips_only(tmp_path, deap_dir):
    from bench.data.synthetic import SyntheticConfig, write_synthetic

    seed_dir = tmp_path / "seed"
    write_synthetic(seed_dir, SyntheticConfig(n_subjects=2, n_trials=45, seed=3, dataset="seed"))
    cfg = RunConfig(model="majority", protocol="cross-dataset", dataset="deap", test_dataset="seed")
    p = prepare(cfg, deap=deap_dir, test_data=seed_dir)
    inp, fold = p.inputs, p.folds[0]
    assert inp.label_tasks == ("valence",) and p.features.dataset == "deap>seed"
    test = fold.test
    assert (inp.domain[test] == 1).all() and (inp.domain[fold.train] == 0).all()
    # every DEAP window (2 x 6 trials) and SEED's positive and negative clips: 2 subjects x 3 sessions x 10
    assert len(np.unique(inp.trial[inp.domain == 0] + 100 * inp.subject[inp.domain == 0])) == 12
    seed_trials = np.unique(np.c_[inp.subject[test], inp.trial[test]], axis=0)
    assert len(seed_trials) == 2 * 3 * 10
    classes = np.tile(np.array(LABELS) + 1, 3)  # valence3 of trials 0-44, session by session
    t = inp.trial[test]
    assert (classes[t] != 1).all()
    np.testing.assert_array_equal(inp.labels[test, 0], (classes[t] == 2).astype(int))
