"""Progress and time a user can trust: the plan's time model, a no-op rerun, counts after Ctrl-C and
between concurrent tuners, and no silent gap at start-up (the audit's findings on progress)."""

from __future__ import annotations

import os
import time

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


# --------------------------------------------------------- 3. counts after Ctrl-C, concurrent tuners
class _HoldFold2:
    """A pool's task function: unit fold2 waits (up to 60 s) until the main process was interrupted and
    then finishes, as a worker does that completes its unit while Ctrl-C stops the pool."""

    def __init__(self, marker) -> None:
        self.marker = str(marker)

    def __call__(self, task):
        from bench.executors import run_task

        if task.unit_key == "fold2":
            deadline = time.monotonic() + 60
            while not os.path.exists(self.marker) and time.monotonic() < deadline:
                time.sleep(0.02)
        return run_task(task)


def test_ctrl_c_with_a_pool_counts_the_units_its_workers_kept(features, cache_dir, uri, tmp_path):
    from bench.cli.run_progress import RunReporter
    from bench.executors import PoolExecutor

    marker = tmp_path / "interrupted"

    class CtrlCAfterFirst(RunReporter):
        def unit_end(self, result) -> None:
            super().unit_end(result)
            if not result.reused:  # Ctrl-C as the first unit comes back; fold2 is still on a worker
                marker.touch()
                raise KeyboardInterrupt

    reporter = CtrlCAfterFirst()
    cfg = _cfg(n_folds=3)
    with pytest.raises(KeyboardInterrupt):
        _run(cfg, features, uri, reporter=reporter, executor=PoolExecutor(2, task_fn=_HoldFold2(marker)),
             cache_dir=cache_dir)  # fmt: skip
    cl, exp, parent = _parent(uri)
    kept = sorted(c.data.tags[f"{TAG}unit"] for c in child_runs(cl, exp, parent.info.run_id)
                  if c.info.status == "FINISHED")  # fmt: skip
    assert kept == ["fold1", "fold2"] and parent.info.status == "KILLED"
    assert reporter.interrupted() == (
        "interrupted: 2 of 3 units finished and kept in MLflow; run the same command again to resume"
    )


class _FinishesOneMoreOnStop:
    """An executor like a pool whose second unit finishes on its worker while Ctrl-C stops it: the first
    result is yielded, the second unit's child run becomes FINISHED as the executor is closed."""

    name = "fake-pool"

    def check(self, prepared, cache_dir=None) -> None: ...

    def slots(self) -> int:
        return 2

    def run(self, jobs, started=lambda job, slot: None):
        from bench.executors import Outcome

        try:
            started(jobs[0], 0)
            started(jobs[1], 1)
            yield Outcome(jobs[0], result=jobs[0].ctx.track(jobs[0].unit, jobs[0].fold))
        finally:
            jobs[1].ctx.track(jobs[1].unit, jobs[1].fold)


def test_ctrl_c_in_a_grid_counts_the_units_kept_in_mlflow(features, uri):
    from bench.progress import GridReporter
    from bench.reproduce import run_grid

    class CtrlCAfterFirst(GridReporter):
        def job_finished(self, outcome) -> None:
            super().job_finished(outcome)
            raise KeyboardInterrupt

    plans = [runner.prepare(_cfg(n_folds=3), features=features)]
    with pytest.raises(KeyboardInterrupt) as exc:
        run_grid(plans, tracking_uri=uri, executor=_FinishesOneMoreOnStop(), reporter=CtrlCAfterFirst())
    assert str(exc.value).startswith("interrupted: 2 of 3 units of 1 runs finished and kept in MLflow")
    cl, exp, parent = _parent(uri)
    statuses = sorted(c.info.status for c in child_runs(cl, exp, parent.info.run_id))
    assert statuses == ["FINISHED", "FINISHED"] and parent.info.status == "KILLED"


def test_a_tuner_counts_only_its_own_trials_beside_another_tuner(features, tmp_path, monkeypatch):
    """Two `bench tune` commands on one study: each says how many trials it added, not the other's."""
    import optuna

    import bench.tuning
    from bench.tuning import run_study

    storage, uri = f"sqlite:///{tmp_path / 'optuna.db'}", f"sqlite:///{tmp_path / 'mlflow.db'}"
    calls: list = []
    seen: list = []

    def score(p, unit, fold, device, objective, on_epoch=None):
        calls.append(p.config.train.loss_weights)
        if len(calls) == 1:  # meanwhile the other command finishes a trial of the same study
            other = optuna.load_study(study_name="both", storage=storage)
            other.add_trial(optuna.trial.create_trial(
                params={"log2_ratio": 1.0}, value=2.0, user_attrs={"bench_command": "another command"},
                distributions={"log2_ratio": optuna.distributions.FloatDistribution(-3.0, 3.0)},
            ))  # fmt: skip
        return 1.0 + abs(float(p.config.train.loss_weights[0]) - 1.0), []

    class Seen(bench.tuning.TuneReporter):
        def trial(self, trial, best) -> None:
            seen.append(trial.number)

    monkeypatch.setattr(bench.tuning, "score_fold", score)
    cfg = RunConfig(model="mtcnn", n_folds=2, seed=0, train=TrainConfig(max_epochs=1))
    res = run_study(cfg, n_trials=2, study_name="both", storage=storage, features=features,
                    tracking_uri=uri, reporter=Seen())  # fmt: skip
    assert len(calls) == 2 and len(seen) == 2
    assert res.n_new == 2 and res.n_complete == 3  # 2 trials of this command; the study holds 3
