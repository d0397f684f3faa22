"""Progress and time a user can trust: the plan's time model, a no-op rerun, counts after Ctrl-C and
between concurrent tuners, and no silent gap at start-up (the audit's findings on progress)."""

from __future__ import annotations

import pytest

import bench.runner as runner
from bench.config import RunConfig, TrainConfig
from bench.data.cache import prepare_features
from bench.data.source import open_deap
from bench.data.synthetic import SyntheticConfig, write_synthetic_deap
from bench.tracking import TAG, child_runs, client, experiment_id


@pytest.fixture(scope="module")
def features(tmp_path_factory):
    folder = tmp_path_factory.mktemp("syn") / "data"
    write_synthetic_deap(folder, SyntheticConfig(n_subjects=2, n_trials=6, seed=0))
    return prepare_features(open_deap(folder), cache_dir=tmp_path_factory.mktemp("cache"))


@pytest.fixture
def uri(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'mlflow.db'}"


def _cfg(**kw) -> RunConfig:
    base = {"model": "majority", "protocol": "whole-set", "n_folds": 2, "seed": 0}
    return RunConfig(**{**base, **kw}, train=TrainConfig(max_epochs=1))


def _run(cfg, features, uri, **kw):
    return runner.run_experiment(cfg, tracking_uri=uri, prepared=runner.prepare(cfg, features=features), **kw)


def _parent(uri):
    cl = client(uri)
    exp = experiment_id(cl, "synthetic")
    (parent,) = cl.search_runs([exp], filter_string=f"tags.`{TAG}role` = 'parent'")
    return cl, exp, parent


def _snapshot(uri) -> dict:
    """Everything a rerun could change on the parent run: info, metrics (with their history), tags,
    params, inputs, and the child runs."""
    cl, exp, parent = _parent(uri)
    pid = parent.info.run_id
    return {
        "status": parent.info.status,
        "start_time": parent.info.start_time,
        "end_time": parent.info.end_time,
        "name": parent.info.run_name,
        "metrics": dict(parent.data.metrics),
        "history": {
            k: [(m.value, m.timestamp, m.step) for m in cl.get_metric_history(pid, k)]
            for k in parent.data.metrics
        },  # fmt: skip
        "tags": dict(parent.data.tags),
        "params": dict(parent.data.params),
        "inputs": len(parent.inputs.dataset_inputs),
        "children": sorted((c.info.run_id, c.info.status, c.info.end_time) for c in child_runs(cl, exp, pid)),
    }


# ------------------------------------------------------------------------- 2. a no-op rerun changes nothing
def test_noop_rerun_leaves_the_finished_parent_unchanged(features, uri):
    first = _run(_cfg(), features, uri)
    before = _snapshot(uri)
    assert before["status"] == "FINISHED" and before["metrics"]
    again = _run(_cfg(), features, uri)  # every unit reused: nothing to do
    assert all(u.reused for u in again.units)
    assert again.summary == pytest.approx(first.summary, nan_ok=True)
    assert again.parent_run_id == first.parent_run_id
    assert _snapshot(uri) == before


def test_resume_of_an_unfinished_run_still_closes_it(features, uri, monkeypatch):
    """The no-op rule is for a parent FINISHED with every unit; a KILLED one is resumed and closed."""
    real = runner.close_run
    monkeypatch.setattr(runner, "close_run", lambda run, status: real(run, "KILLED"))
    _run(_cfg(), features, uri)
    assert _parent(uri)[2].info.status == "KILLED"
    monkeypatch.setattr(runner, "close_run", real)
    _run(_cfg(), features, uri)  # every unit reused, but the parent was not FINISHED
    parent = _parent(uri)[2]
    assert parent.info.status == "FINISHED" and "acc_valence_mean" in parent.data.metrics
