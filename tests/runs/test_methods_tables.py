"""How the result layer shows a method run: its own cell, ``model + DANN`` with a dagger and the
transductive footnote; plain runs keep their label."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd

from bench.results.runs import parent_row
from bench.results.store import CELL_KEY, find_parent
from bench.results.table import TRANSDUCTIVE_NOTE, cell_label, method_notes, model_label


def _row(method: str = "none", label: str = "", transductive: bool = False, run_id: str = "a") -> dict:
    return dict(run_id=run_id, model="fbccnn", protocol="cross-subject", split="subject", audit="none",
                variant="full", method=method, method_label=label, transductive=transductive)  # fmt: skip


def test_method_is_the_last_cell_key():
    assert CELL_KEY[-1] == "method"


def test_find_parent_never_gives_a_method_run_for_a_plain_cell():
    store = SimpleNamespace(parents=pd.DataFrame([_row("dann", "DANN", True, "d"), _row(run_id="p")]))
    assert find_parent(store, "fbccnn", "cross-subject", "subject")["run_id"] == "p"
    assert find_parent(store, "fbccnn", "cross-subject", "subject", method="dann")["run_id"] == "d"
    only_dann = SimpleNamespace(parents=pd.DataFrame([_row("dann", "DANN", True, "d")]))
    assert find_parent(only_dann, "fbccnn", "cross-subject", "subject") is None


def test_labels_and_footnote():
    plain, dann = pd.Series(_row()), pd.Series(_row("dann", "DANN", True))
    inductive = pd.Series(_row("other", "Other", False))
    assert model_label(plain) == "fbccnn"
    assert model_label(dann) == "fbccnn + DANN \N{PILCROW SIGN}"
    assert model_label(inductive) == "fbccnn + Other"
    assert cell_label(plain) == "fbccnn cross-subject/subject"
    assert cell_label(dann) == "fbccnn + DANN \N{PILCROW SIGN} cross-subject/subject"
    assert method_notes([plain]) == [] and method_notes([plain, inductive]) == []
    assert method_notes([plain, dann]) == [TRANSDUCTIVE_NOTE]
    assert TRANSDUCTIVE_NOTE == (
        "\N{PILCROW SIGN} transductive: sees the test subjects' unlabelled inputs (never their labels)."
    )


def test_parent_row_reads_the_method_tags():
    def run(tags):
        info = SimpleNamespace(run_id="r", start_time=0, end_time=0)
        return SimpleNamespace(info=info, data=SimpleNamespace(tags=tags, params={}), inputs=None)

    plain = parent_row(run({"bench.model": "fbccnn", "bench.protocol": "cross-subject"}))
    assert (plain["method"], plain["method_label"], plain["transductive"]) == ("none", "", False)
    tagged = parent_row(run({"bench.model": "fbccnn", "bench.protocol": "cross-subject",
                             "bench.method": "dann", "bench.method_label": "DANN",
                             "bench.transductive": "true"}))  # fmt: skip
    assert (tagged["method"], tagged["method_label"], tagged["transductive"]) == ("dann", "DANN", True)
