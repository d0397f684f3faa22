"""The subject-independent methods table (``bench table methods``) against hand-computed numbers.

The fast tests build a store from MLflow-like run objects read by the store's own readers
(:func:`bench.results.runs.parent_row`, :func:`bench.results.runs.unit_rows`): three cross-subject folds
of two test subjects each, per-subject accuracies planted per run, so every mean, sd, Wilcoxon p and Holm
correction below is computed by hand (scipy for the Wilcoxon p on the same numbers). The slow test makes
real tiny runs (4 subjects, 1 epoch) and checks the table reads them.
"""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy import stats as st

from bench.core.errors import ConfigError
from bench.results import build, list_tables
from bench.results.cells import OTHER_FOLDS
from bench.results.methods import METHOD_ORDER, has_methods, method_key
from bench.results.runs import UNIT_COLS, parent_row, unit_rows
from bench.results.store import CELL_KEY, Store
from bench.results.table import TRANSDUCTIVE_NOTE, UNTESTABLE

SUBJECTS = (1, 2, 3, 4, 5, 6)
FOLDS = ((1, 2), (3, 4), (5, 6))
"""Three cross-subject folds, two test subjects each."""
PLAIN_ACC = {1: 0.50, 2: 0.55, 3: 0.52, 4: 0.60, 5: 0.48, 6: 0.58}
DANN_ACC = {1: 0.60, 2: 0.58, 3: 0.61, 4: 0.70, 5: 0.50, 6: 0.66}  # above plain for every subject
NORM_ACC = {1: 0.52, 2: 0.54, 3: 0.57, 4: 0.58, 5: 0.55, 6: 0.63}  # mixed signs
MAJ_ACC = {s: 0.5 for s in SUBJECTS}
PRIOR_ACC = {1: 0.45, 2: 0.55, 3: 0.5, 4: 0.5, 5: 0.6, 6: 0.4}
AROUSAL_SHIFT = -0.05
"""Arousal accuracies are valence's minus 0.05 for every run (the same differences, other means)."""


def _parent(run_id: str, model: str, method: str = "none", label: str = "", folds_fp: str = "F1",
            start: int = 0) -> SimpleNamespace:  # fmt: skip
    tags = {
        "bench.model": model, "bench.protocol": "cross-subject", "bench.split": "subject",
        "bench.audit": "none", "bench.variant": "full", "bench.leaky": "false", "bench.role": "parent",
        "bench.data_kind": "synthetic", "bench.data_fingerprint": "fp" * 8,
        "bench.folds_fingerprint": folds_fp,
        "bench.scale": json.dumps({"n_folds": 3, "seed": 0, "subjects": None}),
        "bench.settings": json.dumps({"n_folds": 3}), "bench.n_subjects": "6", "bench.n_trials": "8",
    }  # fmt: skip
    if method != "none":
        tags.update({"bench.method": method, "bench.method_label": label, "bench.transductive": "true"})
    info = SimpleNamespace(run_id=run_id, start_time=start, end_time=start + 1, run_name=run_id)
    return SimpleNamespace(info=info, data=SimpleNamespace(tags=tags, params={}), inputs=None)


def _units(run_id: str, acc: dict[int, float], folds: tuple = FOLDS) -> list[SimpleNamespace]:
    """One unit per fold: the fold's accuracy (its two subjects' mean) and each test subject's."""
    out = []
    for k, fold in enumerate(folds, start=1):
        m = {"n_train": 40.0, "n_test": 16.0, "n_test_trials": 16.0, "n_test_subjects": 2.0}
        for task, shift in (("valence", 0.0), ("arousal", AROUSAL_SHIFT)):
            m[f"test_acc_{task}"] = float(np.mean([acc[s] for s in fold])) + shift
            m.update({f"test_acc_{task}_s{s:02d}": acc[s] + shift for s in fold})
        tags = {"mlflow.parentRunId": run_id, "bench.unit": f"fold{k}", "bench.fold": str(k),
                "bench.role": "unit", "bench.tasks": "valence,arousal"}  # fmt: skip
        info = SimpleNamespace(run_id=f"{run_id}-u{k}", start_time=0, end_time=1000, run_name=f"fold{k}")
        out.append(SimpleNamespace(info=info, data=SimpleNamespace(tags=tags, metrics=m, params={})))
    return out


def _store(runs: list[tuple[SimpleNamespace, dict[int, float]]], folds: tuple = FOLDS) -> Store:
    """A store of these runs, read as the store reads MLflow's (parents newest first, one per cell)."""
    parents = pd.DataFrame([parent_row(r) for r, _ in runs])
    parents = parents.sort_values(["start_time", "run_id"], ascending=False).reset_index(drop=True)
    rows = [row for r, acc in runs for u in _units(r.info.run_id, acc, folds) for row in unit_rows(u)]
    units = pd.DataFrame(rows, columns=UNIT_COLS)
    return Store("synthetic", "fp" * 8, None, parents, parents.drop_duplicates(list(CELL_KEY)), units)


@pytest.fixture(scope="module")
def store() -> Store:
    return _store(
        [
            (_parent("fp", "fbccnn"), PLAIN_ACC),
            (_parent("fd", "fbccnn", "dann", "DANN"), DANN_ACC),
            (_parent("fn", "fbccnn", "subject-norm", "SubjNorm"), NORM_ACC),
            (_parent("mp", "mtcnn"), PLAIN_ACC),
            (_parent("md", "mtcnn", "dann", "DANN", folds_fp="F2"), DANN_ACC),  # other folds: no test
            (_parent("maj", "majority"), MAJ_ACC),
            (_parent("pri", "prior"), PRIOR_ACC),
        ]
    )


def _row(t, model: str, method: str, task: str = "valence") -> pd.Series:
    d = t.data
    return d[(d["model"] == model) & (d["method"] == method) & (d["task"] == task)].iloc[0]


def test_cells_are_over_test_subjects(store):
    (t,) = build("methods", store)
    cases = [("fbccnn", "none", PLAIN_ACC), ("fbccnn", "dann", DANN_ACC),
             ("fbccnn", "subject-norm", NORM_ACC), ("majority", "none", MAJ_ACC)]  # fmt: skip
    for model, method, acc in cases:
        values = np.array([acc[s] for s in SUBJECTS])
        for task, shift in (("valence", 0.0), ("arousal", AROUSAL_SHIFT)):
            r = _row(t, model, method, task)
            assert r["over"] == "subjects" and r["n"] == 6
            assert r["mean"] == pytest.approx(values.mean() + shift, abs=1e-12)
            assert r["std"] == pytest.approx(values.std(ddof=1), abs=1e-12)
    dann = _row(t, "fbccnn", "dann")
    gain = np.mean(list(DANN_ACC.values())) - np.mean(list(PLAIN_ACC.values()))
    assert dann["diff_vs_plain"] == pytest.approx(gain, abs=1e-12)
    # the printed cells: 'mean ± sd (n=6)' in percent
    frame = t.frame.set_index("model")
    plain_mean = 100 * np.mean(list(PLAIN_ACC.values()))
    assert (
        frame.loc["fbccnn", "valence"]
        == f"{plain_mean:.1f} ± {100 * np.std(list(PLAIN_ACC.values()), ddof=1):.1f} (n=6)"
    )
    assert frame.loc["fbccnn", "Δ valence"] == "—"
    diff = 100 * (np.mean(list(DANN_ACC.values())) - plain_mean / 100)
    assert frame.loc["fbccnn + DANN \N{PILCROW SIGN}", "Δ valence"] == f"+{diff:.1f}"


def test_wilcoxon_and_holm_by_hand(store):
    (t,) = build("methods", store)
    plain = np.array([PLAIN_ACC[s] for s in SUBJECTS])
    p_dann = st.wilcoxon([DANN_ACC[s] for s in SUBJECTS], plain, alternative="greater").pvalue
    p_norm = st.wilcoxon([NORM_ACC[s] for s in SUBJECTS], plain, alternative="greater").pvalue
    assert p_dann == pytest.approx(1 / 64)  # every subject better: the smallest p of 6 pairs
    for task in ("valence", "arousal"):  # the same differences on both tasks
        assert _row(t, "fbccnn", "dann", task)["p_vs_plain"] == pytest.approx(p_dann, rel=1e-12)
        assert _row(t, "fbccnn", "subject-norm", task)["p_vs_plain"] == pytest.approx(p_norm, rel=1e-12)
        assert _row(t, "fbccnn", "dann", task)["test"] == "W"
    # the family: 4 comparisons (fbccnn dann and subject-norm, 2 tasks); mtcnn's dann has other folds
    ps = sorted([p_dann, p_dann, p_norm, p_norm])
    holm = [min(1.0, (4 - i) * p) for i, p in enumerate(ps)]
    holm = np.maximum.accumulate(holm)
    assert _row(t, "fbccnn", "dann")["p_vs_plain_holm"] == pytest.approx(holm[1], rel=1e-12)  # = 4/64
    assert _row(t, "fbccnn", "subject-norm")["p_vs_plain_holm"] == pytest.approx(holm[3], rel=1e-12)
    assert holm[1] == pytest.approx(4 / 64)
    frame = t.frame.set_index("model")
    assert frame.loc["fbccnn + DANN \N{PILCROW SIGN}", "p valence"] == f"p={4 / 64:.3f} (W)"
    assert any("family of this table's 4 method-vs-plain comparisons" in n for n in t.notes)


def test_other_folds_get_no_test(store):
    (t,) = build("methods", store)
    r = _row(t, "mtcnn", "dann")
    assert math.isnan(r["p_vs_plain"]) and r["p_why"] == OTHER_FOLDS
    assert r["diff_vs_plain"] == pytest.approx(_row(t, "fbccnn", "dann")["diff_vs_plain"], abs=1e-12)
    assert t.frame.set_index("model").loc["mtcnn + DANN \N{PILCROW SIGN}", "p valence"] == OTHER_FOLDS


def test_rows_order_references_dagger_and_title(store):
    (t,) = build("methods", store)
    assert list(t.frame["model"]) == [
        "mtcnn", "mtcnn + DANN \N{PILCROW SIGN}",
        "fbccnn", "fbccnn + DANN \N{PILCROW SIGN}", "fbccnn + SubjNorm \N{PILCROW SIGN}",
        "majority (reference)", "prior (reference)", "chance (1/k)",
    ]  # fmt: skip
    assert list(t.frame.columns) == ["model", "valence", "Δ valence", "p valence", "arousal", "Δ arousal",
                                     "p arousal"]  # fmt: skip
    chance = t.frame.set_index("model").loc["chance (1/k)"]
    assert chance["valence"] == "50.0" and chance["arousal"] == "50.0"
    assert TRANSDUCTIVE_NOTE in t.notes  # the leaderboard's footnote, word for word
    assert t.title.startswith(
        "Subject-independent training methods | cross-subject | split subject | DEAP | "
    )
    assert "synthetic" in t.title
    assert not any("oracle const" in c for c in t.frame.to_numpy().ravel())
    assert t.commands == []  # nothing asked that is missing
    ref = _row(t, "prior", "none")
    assert ref["role"] == "reference" and ref["mean"] == pytest.approx(np.mean(list(PRIOR_ACC.values())))


def test_method_order_and_its_registry():
    from bench.training.methods import BUILTIN_MODULES, method_names

    registered = [m for m in method_names() if m != "none"]
    # the built-ins in the registry's order: the table's order of method rows
    assert [m for m in METHOD_ORDER if m in registered] == [m for m in registered if m in METHOD_ORDER]
    assert set(BUILTIN_MODULES) <= set(METHOD_ORDER), "a new built-in method: add it to METHOD_ORDER"
    assert sorted(["ea", "none", "zz", "dann", "subject-norm"], key=method_key) == [
        "none", "dann", "subject-norm", "ea", "zz"]  # fmt: skip


def test_missing_method_cell_gets_its_command(store):
    asked = store.asking([
        ("fbccnn", "cross-subject", "subject", "none", "full"),
        ("fbccnn", "cross-subject", "subject", "none", "full", "dann"),
        ("mtcnn", "cross-subject", "subject", "none", "full", "subject-norm"),  # not run
    ])  # fmt: skip
    (t,) = build("methods", asked)
    assert t.commands == [
        "bench run --model mtcnn --protocol cross-subject --split subject --method subject-norm --folds 3 "
        "--synthetic"
    ]
    frame = t.frame.set_index("model")
    assert frame.loc["mtcnn + subject-norm", "valence"] == "not run"
    assert frame.loc["mtcnn + subject-norm", "p valence"] == "—"
    # a run the grid did not ask for is still shown; a missing one it did not ask for is not listed
    assert "fbccnn + SubjNorm \N{PILCROW SIGN}" in frame.index


def test_untestable_with_few_subjects():
    few = {1: 0.5, 2: 0.6, 3: 0.55, 4: 0.5, 5: 0.5, 6: 0.5}
    runs = [(_parent("a", "fbccnn"), few), (_parent("b", "fbccnn", "dann", "DANN"), DANN_ACC)]
    s = _store(runs, folds=((1, 2), (3, 4)))  # 4 test subjects
    (t,) = build("methods", s)
    r = _row(t, "fbccnn", "dann")
    assert r["n_pairs"] == 4 and r["min_p"] == pytest.approx(1 / 16)
    assert (
        t.frame.set_index("model")
        .loc["fbccnn + DANN \N{PILCROW SIGN}", "p valence"]
        .endswith(f"(W) {UNTESTABLE}")
    )
    assert any(n.startswith(f"{UNTESTABLE}: with n=4 test subjects") for n in t.notes)


def test_no_method_runs_no_table_and_no_report_section():
    s = _store([(_parent("a", "fbccnn"), PLAIN_ACC), (_parent("m", "majority"), MAJ_ACC)])
    assert not has_methods(s)
    assert "methods" not in [spec.name for spec in list_tables(store=s)]
    with pytest.raises(ConfigError, match="no runs of a training method"):
        build("methods", s)
    asked = s.asking([("fbccnn", "cross-subject", "subject", "none", "full", "dann")])
    assert has_methods(asked) and "methods" in [spec.name for spec in list_tables(store=asked)]
    (t,) = build("methods", asked)
    assert t.commands == ["bench run --model fbccnn --protocol cross-subject --split subject --method dann "
                          "--folds 3 --synthetic"]  # fmt: skip
