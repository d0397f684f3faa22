"""Progress and time a user can trust: the plan's time model, a no-op rerun, counts after Ctrl-C and
between concurrent tuners, and no silent gap at start-up (the audit's findings on progress)."""

from __future__ import annotations

import math
import os
import time
from types import SimpleNamespace

import pytest

import bench.runs.runner as runner
from bench.config.run import RunConfig, TrainConfig
from bench.tracking.store import TAG, child_runs, client, experiment_id


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
        from bench.runs.unit_worker import run_task

        if task.unit_key == "fold2":
            deadline = time.monotonic() + 60
            while not os.path.exists(self.marker) and time.monotonic() < deadline:
                time.sleep(0.02)
        return run_task(task)


@pytest.mark.slow  # several processes: 6-10 s quiet, far more on a loaded box
def test_ctrl_c_with_a_pool_counts_the_units_its_workers_kept(features, cache_dir, uri, tmp_path):
    from bench.cli.run_progress import RunReporter
    from bench.runs.executors import PoolExecutor

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
        from bench.runs.jobs import Outcome

        try:
            started(jobs[0], 0)
            started(jobs[1], 1)
            yield Outcome(jobs[0], result=jobs[0].ctx.track(jobs[0].unit, jobs[0].fold))
        finally:
            jobs[1].ctx.track(jobs[1].unit, jobs[1].fold)


def test_ctrl_c_in_a_grid_counts_the_units_kept_in_mlflow(features, uri):
    from bench.runs.progress import GridReporter
    from bench.runs.reproduce import run_grid

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

    import bench.runs.tuning_trials
    from bench.runs.tuning import run_study

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

    class Seen(bench.runs.tuning_trials.TuneReporter):
        def trial(self, trial, best) -> None:
            seen.append(trial.number)

    monkeypatch.setattr(bench.runs.tuning_trials, "score_fold", score)
    cfg = RunConfig(model="mtcnn", n_folds=2, seed=0, train=TrainConfig(max_epochs=1))
    res = run_study(cfg, n_trials=2, study_name="both", storage=storage, features=features,
                    tracking_uri=uri, reporter=Seen())  # fmt: skip
    assert len(calls) == 2 and len(seen) == 2
    assert res.n_new == 2 and res.n_complete == 3  # 2 trials of this command; the study holds 3


# ------------------------------------------------------------------------- 1. a plan a user can trust
class _FakeClock:
    """A clock that moves only when told to: ``advance(s)``; callable like ``time.perf_counter``."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def test_probe_rate_is_not_one_disturbed_call(monkeypatch):
    """A probe step that another process slowed down (2.0 s instead of 0.2 s) must not be the measure.
    It was: the budget (0.5 s) stopped timing after that one call, and the median of one call is it."""
    import bench.runs.estimate as est

    clock = _FakeClock()
    monkeypatch.setattr(est, "time", SimpleNamespace(perf_counter=clock))
    train = iter([0.2, 0.2, 2.0, 0.25, 0.2, 0.2, 0.2, 0.2])  # 2 warm-up steps, then a disturbed one
    predict = iter([0.4, 0.4, 3.0, 0.4, 0.4, 0.4])  # the untimed batch (new code), then timed ones
    monkeypatch.setattr(est, "training_step", lambda *a, **k: lambda: clock.advance(next(train)))
    monkeypatch.setattr(est, "prediction_step", lambda *a, **k: lambda: clock.advance(next(predict)))
    cfg = RunConfig(model="mtcnn", train=TrainConfig(batch_size=64))
    tp = est.probe(cfg, (8, 9, 9), tasks=("valence", "arousal"), hparams={}, device="cpu", batch_size=64)
    assert tp.train_samples_per_s == pytest.approx(64 / 0.2, rel=1e-9)  # the undisturbed step
    assert tp.predict_samples_per_s == pytest.approx(256 / 0.4, rel=1e-9)


def _fake_run(keys: list[str]):
    """A Prepared-like run whose units have keys: 100/20/30 windows each (train/val/test)."""
    import numpy as np

    fold = SimpleNamespace(train=np.arange(100), val=np.arange(20), test=np.arange(30))
    return SimpleNamespace(units=[(SimpleNamespace(key=k), fold) for k in keys], max_epochs=2)


def test_estimate_counts_only_the_units_left_and_follows_the_pace():
    from bench.runs.estimate import (
        RUN_OVERHEAD_S,
        UNIT_OVERHEAD_S,
        Throughput,
        estimate_run,
        plan_text,
    )
    from bench.runs.overhead import REFERENCE_WORK_S, RUN, SYNC_S, TRAINED_UNIT

    tp = Throughput(train_samples_per_s=100.0, predict_samples_per_s=200.0)
    unit = 2 * (100 / 100 + 20 / 200) + 30 / 200  # 2 epochs of train + valid, the test part once: 2.35 s
    run = _fake_run(["fold1", "fold2", "fold3"])
    full = estimate_run(run, tp)
    assert (full.units, full.reused) == (3, 0)
    assert full.seconds_cap == pytest.approx(3 * (unit + UNIT_OVERHEAD_S) + RUN_OVERHEAD_S, rel=1e-12)
    left = estimate_run(run, tp, done={"fold1", "fold3"})  # finished in MLflow: reused at no cost
    assert (left.units, left.reused) == (1, 2)
    assert left.seconds_cap == pytest.approx(unit + UNIT_OVERHEAD_S + RUN_OVERHEAD_S, rel=1e-12)
    nothing = estimate_run(run, tp, done={"fold1", "fold2", "fold3"})
    assert (nothing.units, nothing.seconds_cap, nothing.seconds_typical) == (0, 0.0, 0.0)
    row = plan_text([(SimpleNamespace(label="m|whole-set|trial|full", model="m"), left)]).splitlines()[1]
    assert "1 (+2 done)" in row
    # a machine twice as slow (or as busy) for the tracking work: twice its work, the same syncs and compute
    slow = estimate_run(run, tp, pace_s=2 * REFERENCE_WORK_S)
    extra = (3 * TRAINED_UNIT.work + RUN.work) * REFERENCE_WORK_S  # the work part once more
    assert slow.overhead_s - full.overhead_s == pytest.approx(extra, rel=1e-9)
    assert slow.seconds_cap - slow.overhead_s == pytest.approx(full.seconds_cap - full.overhead_s, rel=1e-9)
    assert full.overhead_s == pytest.approx(
        3 * (TRAINED_UNIT.work * REFERENCE_WORK_S + TRAINED_UNIT.syncs * SYNC_S)
        + RUN.work * REFERENCE_WORK_S + RUN.syncs * SYNC_S, rel=1e-9
    )  # fmt: skip


def test_pace_is_the_fastest_reference_work(monkeypatch):
    import bench.runs.overhead as oh

    clock = _FakeClock()
    durations = iter([0.5, 0.007, 0.006])  # one call slowed down by another process
    monkeypatch.setattr(oh, "reference_work", lambda: clock.advance(next(durations)))
    assert oh.pace(3, clock=clock) == pytest.approx(0.006, abs=1e-12)
    assert oh.Overhead(work=10, syncs=5).seconds(0.007) == pytest.approx(10 * 0.007 + 5 * oh.SYNC_S)


def test_finished_units_are_read_from_the_store_without_creating_it(features, uri, tmp_path):
    from bench.runs.finished import finished_in_store

    p = runner.prepare(_cfg(n_folds=3), features=features)
    missing = f"sqlite:///{tmp_path / 'none.db'}"
    assert finished_in_store([p], missing) == {id(p): frozenset()}
    assert not (tmp_path / "none.db").exists()  # --plan creates no store
    runner.run_experiment(p.config, prepared=p, tracking_uri=uri)
    assert finished_in_store([p], uri) == {id(p): frozenset({"fold1", "fold2", "fold3"})}


@pytest.fixture
def tiny_grid(deap_dir, tmp_path):
    """A grid of two runs (majority and prior, whole-set, 2 folds, 1 epoch) on the module's DEAP folder."""
    path = tmp_path / "tiny.toml"
    path.write_text(
        f'name = "tiny"\n[scale]\nn_folds = 2\nmax_epochs = 1\nseeds = [0]\n[data]\ndeap = "{deap_dir}"\n'
        '[[runs]]\nmodels = ["majority", "prior"]\nprotocols = ["whole-set"]\n'
    )
    return path


def test_plan_after_a_finished_grid_counts_no_unit(tiny_grid, uri, capsys):
    """`--plan` of a grid whose units are all finished in MLflow: nothing to run, nothing estimated."""
    from bench.cli import main
    from bench.cli.reproduce import run_grid_command
    from bench.runs.executors import LocalExecutor
    from bench.runs.grid import load_grid

    g = load_grid(path=tiny_grid)
    run_grid_command(g, LocalExecutor(), device=None, threads=None, uri=uri)
    capsys.readouterr()
    assert main(["reproduce", "--grid", str(tiny_grid), "--tracking-uri", uri, "--plan"]) == 0
    err = capsys.readouterr().err
    rows = [line for line in err.splitlines() if line.startswith(("majority|", "prior|"))]
    assert len(rows) == 2 and all(row.split()[1:3] == ["0", "(+2"] for row in rows)
    assert "Estimated: about 0 s for the 0 units to run on 1 worker(s) at typical epochs (4 units" in err
    assert "Assumes: this machine to itself" in err and "at the fastest rate its probe measured" in err


# ------------------------------------------------------------------- 4. no silent gap at start-up
@pytest.mark.pulse
def test_no_silent_gap_while_preparing_probing_and_opening_runs(tiny_grid, uri, monkeypatch):
    """Each slow step of a reproduce's start-up (preparing a run, probing a model, creating the store,
    opening a run in MLflow) is made to take 2 s of a fake clock; a line must come at least every 5 s
    (PULSE_S + one step). Lines are recorded with the fake time they were printed at."""
    import bench.cli.reproduce as cli
    import bench.runs.estimate
    import bench.runs.progress
    import bench.runs.reproduce
    from bench.runs.estimate import Throughput
    from bench.runs.executors import LocalExecutor
    from bench.runs.grid import load_grid
    from bench.runs.progress import PULSE_S

    clock = _FakeClock()
    monkeypatch.setattr(bench.runs.progress, "time", SimpleNamespace(monotonic=clock))
    lines: list[tuple[float, str]] = []
    console = SimpleNamespace(print=lambda m, **kw: lines.append((clock(), str(m))), is_terminal=False)
    monkeypatch.setattr(cli, "err_console", console)

    def slow(fn):
        def wrapper(*args, **kwargs):
            clock.advance(2.0)
            return fn(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(bench.runs.reproduce, "prepare", slow(bench.runs.reproduce.prepare))
    monkeypatch.setattr(bench.runs.reproduce, "client", slow(bench.runs.reproduce.client))
    monkeypatch.setattr(bench.runs.reproduce, "open_run", slow(bench.runs.reproduce.open_run))
    monkeypatch.setattr(cli, "probe_prepared", slow(lambda p, device: Throughput(math.inf, 1e5)))
    g = load_grid(path=tiny_grid)
    _, res = cli.run_grid_command(g, LocalExecutor(), device=None, threads=None, uri=uri)
    assert res.summary().startswith("2 of 2 runs finished")
    times = [0.0] + [t for t, _ in lines]
    gaps = [(b - a, text) for a, b, (_, text) in zip(times[:-1], times[1:], lines, strict=True)]
    assert clock() >= 7 * 2.0  # 2 runs prepared, 2 probed, the store, 2 runs opened
    assert PULSE_S + 2.0 <= 5.0 and max(g for g, _ in gaps) <= PULSE_S + 2.0, gaps


def test_a_long_single_step_still_says_something():
    """Creating a new MLflow store is one call of ~7 s (1,088 disk syncs): a line comes while it runs."""
    from bench.runs.progress import Pulse

    lines: list[str] = []
    pulse = Pulse(lines.append, every=0.1)
    with pulse.during("... opening the store"):
        time.sleep(1.0)
    assert len(lines) >= 2 and all(line.startswith("... opening the store (") for line in lines)
    n = len(lines)
    time.sleep(0.3)
    assert len(lines) == n  # the watcher stops with the block
