"""The protocol audit table (``bench table protocols-audit``) against hand-computed numbers, and the rule that
no other table shows a peer protocol's run.

The store is built from MLflow-like run objects read by the store's own readers (as in the methods table's
tests): per-subject runs (subject-specific, LibEER's 10-fold, EEGain's LOTO) with one accuracy planted per
subject, pooled runs (whole-set, TorchEEG's k-fold) whose units log each test subject's accuracy, and an
EEG-FM-Bench run that tests one subject beside a leave-one-subject-out counterpart. Every mean, difference
and Wilcoxon p below is computed by hand (scipy for the p on the same numbers).
"""

from __future__ import annotations

import json
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy import stats as st

from bench.core.errors import ConfigError
from bench.results import build, list_tables
from bench.results.protocols_audit import has_peer_runs
from bench.results.runs import UNIT_COLS, parent_row, unit_rows
from bench.results.store import CELL_KEY, Store
from protocols import get_protocol

SUBJECTS = (1, 2, 3, 4, 5, 6)
HONEST = {1: 0.55, 2: 0.60, 3: 0.52, 4: 0.58, 5: 0.50, 6: 0.62}
INFLATED = {1: 0.70, 2: 0.72, 3: 0.66, 4: 0.75, 5: 0.61, 6: 0.80}  # above honest for every subject
MIXED = {1: 0.57, 2: 0.58, 3: 0.55, 4: 0.56, 5: 0.52, 6: 0.60}  # signs mixed: +2 −2 +3 −2 +2 −2
LOSO = {1: 0.40, 2: 0.45, 3: 0.50, 4: 0.55, 5: 0.60, 6: 0.65}
ONE_SUBJECT = {5: 0.70}
AROUSAL_SHIFT = -0.05
SPLITS = {"subject-specific": "trial", "libeer-deap-kfold": "trial", "eegain-loto": "trial",
          "whole-set": "trial", "torcheeg-kfold": "segment", "cross-subject": "subject",
          "eegfm-one-subject": "subject"}  # fmt: skip


def _parent(run_id: str, model: str, protocol: str, start: int = 0) -> SimpleNamespace:
    leaky = get_protocol(protocol).leaky or SPLITS[protocol] == "segment"
    tags = {
        "bench.model": model, "bench.protocol": protocol, "bench.split": SPLITS[protocol],
        "bench.audit": "none", "bench.variant": "full", "bench.leaky": str(leaky).lower(),
        "bench.role": "parent", "bench.data_kind": "synthetic", "bench.data_fingerprint": "fp" * 8,
        "bench.folds_fingerprint": f"F-{protocol}",
        "bench.scale": json.dumps({"n_folds": 2, "seed": 0, "subjects": None}),
        "bench.settings": json.dumps({"n_folds": 2}), "bench.n_subjects": "6", "bench.n_trials": "8",
    }  # fmt: skip
    info = SimpleNamespace(run_id=run_id, start_time=start, end_time=start + 1, run_name=run_id)
    return SimpleNamespace(info=info, data=SimpleNamespace(tags=tags, params={}), inputs=None)


def _unit(run_id: str, key: str, fold: int, metrics: dict, subject: int | None = None) -> SimpleNamespace:
    tags = {"mlflow.parentRunId": run_id, "bench.unit": key, "bench.fold": str(fold), "bench.role": "unit",
            "bench.tasks": "valence,arousal"}  # fmt: skip
    if subject is not None:
        tags["bench.subject"] = str(subject)
    info = SimpleNamespace(run_id=f"{run_id}-{key}", start_time=0, end_time=1000, run_name=key)
    return SimpleNamespace(info=info, data=SimpleNamespace(tags=tags, metrics=metrics, params={}))


def _units(run_id: str, protocol: str, acc: dict[int, float]) -> list[SimpleNamespace]:
    """Per-subject protocols: two folds per subject, each at the subject's accuracy. Pooled: two folds
    testing every subject (each unit logs every test subject's accuracy); LOSO and EEG-FM: one fold per
    test subject."""
    out = []
    base = {"n_train": 40.0, "n_test": 8.0, "n_test_trials": 4.0, "n_test_subjects": 1.0}
    if get_protocol(protocol).over_subjects:
        for s, a in acc.items():
            for k in (1, 2):
                m = {**base, "test_acc_valence": a, "test_acc_arousal": a + AROUSAL_SHIFT}
                out.append(_unit(run_id, f"s{s:02d}-fold{k}", k, m, subject=s))
        return out
    folds = [tuple(acc)] * 2 if SPLITS[protocol] != "subject" else [(s,) for s in acc]
    for k, fold in enumerate(folds, start=1):
        m = {**base, "n_test_subjects": float(len(fold))}
        for task, shift in (("valence", 0.0), ("arousal", AROUSAL_SHIFT)):
            m[f"test_acc_{task}"] = float(np.mean([acc[s] for s in fold])) + shift
            m.update({f"test_acc_{task}_s{s:02d}": acc[s] + shift for s in fold})
        out.append(_unit(run_id, f"fold{k}", k, m))
    return out


def _store(runs: list[tuple[str, str, str, dict[int, float]]]) -> Store:
    parents = pd.DataFrame([parent_row(_parent(i, m, p)) for i, m, p, _ in runs])
    rows = [row for i, _, p, acc in runs for u in _units(i, p, acc) for row in unit_rows(u)]
    units = pd.DataFrame(rows, columns=UNIT_COLS)
    return Store("synthetic", "fp" * 8, None, parents, parents.drop_duplicates(list(CELL_KEY)), units)


RUNS = [
    ("ss", "dgcnn", "subject-specific", HONEST),
    ("lk", "dgcnn", "libeer-deap-kfold", INFLATED),
    ("lo", "dgcnn", "eegain-loto", MIXED),
    ("ws", "dgcnn", "whole-set", HONEST),
    ("tk", "dgcnn", "torcheeg-kfold", INFLATED),
    ("cs", "dgcnn", "cross-subject", LOSO),
    ("ef", "dgcnn", "eegfm-one-subject", ONE_SUBJECT),
]


@pytest.fixture(scope="module")
def store() -> Store:
    return _store(RUNS)


def _row(t, protocol: str, task: str = "valence") -> pd.Series:
    d = t.data
    return d[(d["protocol"] == protocol) & (d["task"] == task)].iloc[0]


def test_inflated_peer_rows_by_hand(store):
    [t] = build("protocols-audit", store)
    for protocol, counterpart in (("libeer-deap-kfold", "subject-specific"), ("torcheeg-kfold", "whole-set")):
        row = _row(t, protocol)
        assert row["counterpart"] == counterpart
        assert row["peer_mean"] == pytest.approx(np.mean(list(INFLATED.values())), abs=1e-12)
        assert row["counterpart_mean"] == pytest.approx(np.mean(list(HONEST.values())), abs=1e-12)
        diffs = [INFLATED[s] - HONEST[s] for s in SUBJECTS]
        assert row["diff"] == pytest.approx(np.mean(diffs), abs=1e-12)
        assert row["p"] == pytest.approx(st.wilcoxon(diffs).pvalue, rel=1e-9)  # 6 positive: 2/64
        assert row["p"] == pytest.approx(2 / 64, rel=1e-9)
        assert (row["test"], row["n_pairs"], row["verdict"]) == ("W", 6, "above")
        assert row["leaky"]
    assert _row(t, "libeer-deap-kfold")["mechanisms"] == "selection-on-test"
    assert _row(t, "torcheeg-kfold")["mechanisms"] == "segment-leak"
    # the same differences on arousal (every score shifted alike)
    assert _row(t, "torcheeg-kfold", "arousal")["diff"] == pytest.approx(_row(t, "torcheeg-kfold")["diff"])


def test_reference_row_is_not_significant(store):
    [t] = build("protocols-audit", store)
    row = _row(t, "eegain-loto")
    diffs = [MIXED[s] - HONEST[s] for s in SUBJECTS]
    assert row["diff"] == pytest.approx(np.mean(diffs), abs=1e-12)
    assert row["p"] == pytest.approx(st.wilcoxon(diffs).pvalue, rel=1e-9)
    assert row["p"] > 0.5 and row["verdict"] == "not significant"
    assert row["reference"] and not row["leaky"]
    assert "(reference)" in t.frame.set_index("protocol").loc["eegain-loto", "mechanism"].iloc[0]


def test_one_test_subject_has_no_test_but_its_place(store):
    [t] = build("protocols-audit", store)
    row = _row(t, "eegfm-one-subject")
    assert row["counterpart"] == "cross-subject"
    assert row["diff"] == pytest.approx(0.70 - np.mean(list(LOSO.values())), abs=1e-12)
    assert np.isnan(row["p"]) and row["verdict"] == "no test (one test subject)"
    # subject 5 scores 0.60 under LOSO: second of six (only subject 6's 0.65 above it)
    assert row["note"] == "tests s05; counterpart's subjects 40.0–65.0 %; rank 2 of 6 there"


def test_frame_and_notes(store):
    [t] = build("protocols-audit", store)
    assert list(t.frame.columns) == [
        "model", "protocol", "mechanism", "task", "peer", "counterpart", "honest", "Δ", "test", "reading",
    ]  # fmt: skip
    row = t.frame[(t.frame["protocol"] == "libeer-deap-kfold") & (t.frame["task"] == "valence")].iloc[0]
    assert row["Δ"] == "+14.5" and row["test"] == "W n=6 p=0.031" and row["reading"] == "above"
    assert row["peer"].startswith("70.7 ± ") and row["honest"].startswith("56.2 ± ")
    text = " ".join(t.notes)
    assert "LibEER (github.com/XJTU-EEG/LibEER @ dddff97" in text and "TorchEEG" in text
    assert "SYNTHETIC" in text


def test_no_other_table_shows_a_peer_run(store):
    """The peer protocols' runs (and the leaky ones among them) appear in the audit table only."""
    peers = {p for _, _, p, _ in RUNS if get_protocol(p).audit_only}
    assert peers == {"libeer-deap-kfold", "eegain-loto", "torcheeg-kfold", "eegfm-one-subject"}
    shown = 0
    for spec in list_tables():
        if spec.name == "protocols-audit":
            continue
        try:
            tables = build(spec.name, store)
        except ConfigError:
            continue
        for t in tables:
            shown += 1
            assert not (set(t.data.get("protocol", pd.Series(dtype=str))) & peers), spec.name
            assert not any(p in t.frame.to_string() for p in peers), spec.name
    assert shown >= 2  # the comparison and leaderboard tables were built, without the peers


def test_report_section_only_with_peer_runs(store):
    assert has_peer_runs(store)
    plain = _store([r for r in RUNS if not get_protocol(r[2]).audit_only])
    assert not has_peer_runs(plain)
    with pytest.raises(ConfigError, match="no runs under a peer benchmark's protocol"):
        build("protocols-audit", plain)
    asking = plain.asking([("dgcnn", "torcheeg-kfold", "segment", "none", "full")])
    assert has_peer_runs(asking)


def test_missing_counterpart_gets_its_command():
    only_peer = _store([("lk", "dgcnn", "libeer-deap-kfold", INFLATED)])
    [t] = build("protocols-audit", only_peer)
    row = _row(t, "libeer-deap-kfold")
    assert row["counterpart_status"] == "not run" and np.isnan(row["diff"])
    assert any("--protocol subject-specific" in c and "--model dgcnn" in c for c in t.commands)


def test_a_task_the_peer_did_not_test_has_no_row(store):
    valence_only = replace(store, units=store.units[store.units["task"] == "valence"])
    [t] = build("protocols-audit", valence_only)
    assert set(t.data["task"]) == {"valence"} and set(t.frame["task"]) == {"valence"}
