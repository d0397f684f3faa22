"""The grid engine (bench.runs.reproduce): many runs on one executor queue give the numbers of one run at a
time, whatever the executor; a failed unit fails its own run only; Ctrl-C keeps finished units and the
same call resumes; the queue runs largest first; the ETA arithmetic."""

from __future__ import annotations

import re

import numpy as np
import pytest

import bench.runs.plan
import bench.runs.unit
from bench.config.run import RunConfig, TrainConfig
from bench.runs.executors import LocalExecutor, PoolExecutor
from bench.runs.jobs import Job
from bench.runs.progress import Eta, GridReporter
from bench.runs.reproduce import prepare_runs, run_grid
from bench.runs.runner import run_experiment
from bench.tracking.store import TAG, child_runs, client, experiment_id

THREADS = 1  # every process on one torch thread: local, pool and Dask numbers are then bit-identical


def _configs() -> list[RunConfig]:
    """A smoke grid: 2 models x 2 protocols (majority trains nothing; mtcnn 1 epoch)."""
    return [
        RunConfig(model=m, protocol=p, n_folds=2, num_threads=THREADS, train=TrainConfig(max_epochs=1))
        for m in ("mtcnn", "majority")
        for p in ("subject-specific", "whole-set")
    ]


def _plans(features):
    return [bench.runs.plan.prepare(c, features=features) for c in _configs()]


def _numbers(uri: str) -> dict:
    """Every FINISHED unit's metrics (less its wall time), by (run key, unit)."""
    cl = client(uri)
    exp = experiment_id(cl, "synthetic")
    out = {}
    for parent in cl.search_runs([exp], filter_string=f"tags.`{TAG}role` = 'parent'"):
        for c in child_runs(cl, exp, parent.info.run_id):
            if c.info.status == "FINISHED":
                key = (parent.data.tags[f"{TAG}run_key"], c.data.tags[f"{TAG}unit"])
                assert key not in out, f"unit {key} finished twice"
                out[key] = {k: v for k, v in c.data.metrics.items() if k != "fit_seconds"}
    return out


def _statuses(uri: str) -> dict[str, str]:
    cl = client(uri)
    exp = experiment_id(cl, "synthetic")
    return {
        p.data.tags[f"{TAG}model"] + "|" + p.data.tags[f"{TAG}protocol"]: p.info.status
        for p in cl.search_runs([exp], filter_string=f"tags.`{TAG}role` = 'parent'")
    }


class Recorder(GridReporter):
    def __init__(self, stop_after: int | None = None) -> None:
        super().__init__()
        self.started: list[Job] = []
        self.closed: list = []
        self.stop_after = stop_after

    def job_started(self, job, slot):
        super().job_started(job, slot)
        self.started.append(job)

    def job_finished(self, outcome):
        super().job_finished(outcome)
        if self.stop_after is not None and self.done >= self.stop_after:
            raise KeyboardInterrupt

    def run_closed(self, report):
        self.closed.append(report)


@pytest.fixture(scope="module")
def one_by_one(features, tmp_path_factory):
    """The reference: each run on its own, one after the other (bench run)."""
    uri = f"sqlite:///{tmp_path_factory.mktemp('ref') / 'mlflow.db'}"
    for p in _plans(features):
        run_experiment(p.config, prepared=p, tracking_uri=uri)
    return _numbers(uri)


def test_local_grid_matches_runs_one_by_one_and_runs_largest_first(features, one_by_one, tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    rec = Recorder()
    res = run_grid(_plans(features), tracking_uri=uri, reporter=rec)
    assert [r.status for r in res.runs] == ["FINISHED"] * 4 and not res.failed
    assert res.n_units == 2 * 2 + 2 + 2 * 2 + 2  # subject-specific: 2 subjects x 2 folds; whole-set: 2 folds
    got = _numbers(uri)
    assert got.keys() == one_by_one.keys()
    for k in got:
        np.testing.assert_equal(got[k], one_by_one[k], err_msg=str(k))
    costs = [j.cost for j in rec.started]
    assert costs == sorted(costs, reverse=True) and costs[0] > costs[-1]  # largest first, across runs
    assert rec.started[0].ctx.prepared.config.protocol == "whole-set"  # the pooled folds are the largest
    assert {r.label for r in rec.closed} == {r.label for r in res.runs}
    assert set(_statuses(uri).values()) == {"FINISHED"}

    again = run_grid(_plans(features), tracking_uri=uri, reporter=Recorder())  # resumes: nothing to train
    assert [r.n_reused for r in again.runs] == [r.n_units for r in again.runs]
    assert _numbers(uri).keys() == got.keys()


@pytest.mark.slow  # 10-15 s: keeps the default test run near 10 min
def test_pool_grid_matches_runs_one_by_one(features, cache_dir, one_by_one, tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    rec = Recorder()
    res = run_grid(
        _plans(features), tracking_uri=uri, executor=PoolExecutor(2), reporter=rec, cache_dir=cache_dir
    )
    assert not res.failed
    got = _numbers(uri)
    assert got.keys() == one_by_one.keys()
    for k in got:
        np.testing.assert_equal(got[k], one_by_one[k], err_msg=str(k))
    assert {len(rec.running)} == {0}  # every slot released at the end


@pytest.mark.slow  # a LocalCluster start; the single-run Dask tests (test_executors.py) are in the fast suite
def test_dask_local_cluster_grid_matches_runs_one_by_one(features, cache_dir, one_by_one, tmp_path):
    distributed = pytest.importorskip("distributed")
    from bench.runs.dask_executor import DaskExecutor

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
        ) as lc,
        distributed.Client(lc) as dc,
    ):
        res = run_grid(_plans(features), tracking_uri=uri, executor=DaskExecutor(dc), cache_dir=cache_dir)
    assert not res.failed
    got = _numbers(uri)
    assert got.keys() == one_by_one.keys()
    for k in got:
        np.testing.assert_equal(got[k], one_by_one[k], err_msg=str(k))


@pytest.mark.slow  # 10-15 s: keeps the default test run near 10 min
def test_a_failed_unit_fails_its_run_only_then_the_same_call_completes(
    features, one_by_one, tmp_path, monkeypatch
):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    real = bench.runs.unit.run_unit

    def flaky(p, unit, fold, device, reporter=None):
        if p.config.model == "mtcnn" and p.config.protocol == "whole-set" and unit.fold == 2:
            raise RuntimeError("disk full")
        return real(p, unit, fold, device, reporter)

    monkeypatch.setattr(bench.runs.unit, "run_unit", flaky)
    res = run_grid(_plans(features), tracking_uri=uri, reporter=Recorder())
    failed = {r.label: r for r in res.failed}
    assert list(failed) == ["mtcnn|whole-set|trial|full"]
    assert failed["mtcnn|whole-set|trial|full"].errors == (("fold2", "RuntimeError: disk full"),)
    assert "3 of 4 runs finished" in res.summary() and "run the same command again" in res.summary()
    want = {"mtcnn|whole-set": "FAILED", "mtcnn|subject-specific": "FINISHED",
            "majority|whole-set": "FINISHED", "majority|subject-specific": "FINISHED"}  # fmt: skip
    assert _statuses(uri) == want

    monkeypatch.setattr(bench.runs.unit, "run_unit", real)
    again = run_grid(_plans(features), tracking_uri=uri, reporter=Recorder())
    assert not again.failed
    assert sum(r.n_units - r.n_reused for r in again.runs) == 1  # only the failed unit trains again
    got = _numbers(uri)
    assert got.keys() == one_by_one.keys()
    for k in got:
        np.testing.assert_equal(got[k], one_by_one[k], err_msg=str(k))


@pytest.mark.slow  # ~15-20 s: keeps the default test run under 10 min
def test_ctrl_c_keeps_finished_units_and_the_same_call_resumes(features, one_by_one, tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with pytest.raises(KeyboardInterrupt, match=r"interrupted: 3 of 12 units of 4 runs finished and kept"):
        run_grid(_plans(features), tracking_uri=uri, reporter=Recorder(stop_after=3))
    # a run whose units all finished before Ctrl-C is complete, so FINISHED; every other run is KILLED
    cl = client(uri)
    exp = experiment_id(cl, "synthetic")
    done = {run_key for run_key, _ in _numbers(uri)}
    for parent in cl.search_runs([exp], filter_string=f"tags.`{TAG}role` = 'parent'"):
        units = [c for c in child_runs(cl, exp, parent.info.run_id) if c.info.status == "FINISHED"]
        complete = parent.data.tags[f"{TAG}run_key"] in done and len(units) == 2  # the whole-set runs
        assert parent.info.status == ("FINISHED" if complete else "KILLED")
    assert len(_numbers(uri)) == 3

    rec = Recorder()
    res = run_grid(_plans(features), tracking_uri=uri, reporter=rec)
    assert not res.failed and len(rec.started) == 12 - 3
    assert sum(r.n_reused for r in res.runs) == 3
    assert _numbers(uri).keys() == one_by_one.keys()
    assert set(_statuses(uri).values()) == {"FINISHED"}


def test_prepare_runs_shares_features_and_model_inputs(deap_dir):
    plans = prepare_runs(_configs(), deap=deap_dir)
    assert len({id(p.features) for p in plans}) == 1
    mtcnn = [p for p in plans if p.config.model == "mtcnn"]
    assert mtcnn[0].inputs is mtcnn[1].inputs  # one array per distinct model input


def test_eta_scales_the_estimate_by_measured_speed():
    class J:
        def __init__(self, cost):
            self.cost = cost

    jobs = [J(10.0), J(10.0), J(20.0)]
    eta = Eta(sum(j.cost for j in jobs), slots=2)
    assert eta.seconds() == pytest.approx(40.0 / 2)
    eta.started(jobs[2])
    eta.begun[id(jobs[2])] -= 40.0  # it took 40 s where 20 were estimated: everything is 2x slower
    eta.finished(jobs[2])
    assert eta.ratio == pytest.approx(2.0, rel=1e-3)
    assert eta.seconds() == pytest.approx(20.0 * 2.0 / 2, rel=1e-3)


def test_local_executor_yields_a_failed_outcome_and_goes_on():
    class Ctx:  # what the local executor uses of a UnitContext
        label = "r"
        stack_size = 1  # no --stack: one unit at a time

        def track(self, unit, fold, wait=True):
            if unit == "bad":
                raise ValueError("nope")
            return unit

    ctx = Ctx()
    jobs = [Job(ctx, "bad", None), Job(ctx, "good", None)]
    outs = list(LocalExecutor().run(jobs))
    assert [type(o.error).__name__ if o.error else o.result for o in outs] == ["ValueError", "good"]


GRID = """
name = "tiny"
[scale]
subjects = "all"
n_folds = 2
max_epochs = 1
seeds = [0]
[data]
deap = "{deap}"
[[runs]]
models = ["majority", "prior"]
protocols = ["subject-specific", "whole-set"]
[[runs]]
models = ["majority"]
protocols = ["whole-set"]
variants = ["full", "no-dropout"]
"""


def test_cli_plan_counts_the_units_that_run_then_the_report(deap_dir, tmp_path, capsys):
    from bench.cli import main

    grid = tmp_path / "tiny.toml"
    grid.write_text(GRID.format(deap=deap_dir))
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    args = ["reproduce", "--grid", str(grid), "--tracking-uri", uri, "--out", str(tmp_path / "report")]
    assert main([*args, "--plan"]) == 0
    err = capsys.readouterr().err
    assert "skipped majority|whole-set|trial|no-dropout" in err  # a trivial baseline has no dropout
    total = next(line for line in err.splitlines() if line.startswith("total (4 runs)"))
    planned = int(total.split()[3])
    assert planned == 2 * (2 * 2 + 2)  # 2 models x (2 subjects x 2 folds + 2 pooled folds)
    assert not (tmp_path / "mlflow.db").exists()  # --plan tracks nothing

    assert main(args) == 0
    err = capsys.readouterr().err
    stamped = [ln[20:] for ln in err.splitlines() if re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ", ln)]
    done = [line for line in stamped if line.startswith("[") and " done " in line]
    assert len(done) == planned and done[-1].startswith(f"[{planned}/{planned}] done")
    assert "4 of 4 runs finished (12 units)" in err
    html = (tmp_path / "report" / "report.html").read_text()
    assert "Model comparison" in html and "grid" in html and "tiny" in html
    # `bench report` rebuilds the same report from the store alone: the same bytes
    rebuilt = tmp_path / "rebuilt"
    assert main(["report", "--grid", str(grid), "--tracking-uri", uri, "--out", str(rebuilt)]) == 0
    files = sorted(
        p.relative_to(tmp_path / "report") for p in (tmp_path / "report").rglob("*") if p.is_file()
    )
    assert len(files) >= 12 and files == sorted(
        p.relative_to(rebuilt) for p in rebuilt.rglob("*") if p.is_file()
    )
    for f in files:
        assert (tmp_path / "report" / f).read_bytes() == (rebuilt / f).read_bytes(), f

    assert main(args) == 0  # the same command again: everything reused, nothing trains
    err = capsys.readouterr().err
    assert "queue: 0 units of 4 runs" in err and "12 units already finished in MLflow are reused" in err

    assert main([*args, "--quiet"]) == 0  # quiet: the skipped run (a warning) and the summary, no progress
    err = capsys.readouterr().err
    assert "4 of 4 runs finished (12 units)" in err and "skipped majority|whole-set|trial|no-dropout" in err
    assert "queue:" not in err and "Plan:" not in err and "Tracking to" not in err and "probing" not in err


def test_cli_bad_grid_is_one_line_before_anything_runs(tmp_path, capsys):
    from bench.cli import main

    grid = tmp_path / "bad.toml"
    grid.write_text('[[runs]]\nmodels = ["mtcnn"]\nprotocols = ["whole-set"]\nsplits = ["diagonal"]\n')
    assert main(["reproduce", "--grid", str(grid), "--tracking-uri", f"sqlite:///{tmp_path}/m.db"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "diagonal" in err and str(grid) in err
    assert not (tmp_path / "m.db").exists()


def test_cli_ctrl_c_says_what_was_kept_then_the_same_command_resumes(deap_dir, tmp_path, capsys, monkeypatch):
    from bench.cli import main
    from bench.cli.reproduce import LineReporter

    grid = tmp_path / "tiny.toml"
    grid.write_text(GRID.format(deap=deap_dir))
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    args = ["reproduce", "--grid", str(grid), "--tracking-uri", uri, "--out", str(tmp_path / "report")]
    real = LineReporter.job_finished

    def ctrl_c_after_two(self, outcome):
        real(self, outcome)
        if self.done == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(LineReporter, "job_finished", ctrl_c_after_two)
    assert main(args) == 130
    err = capsys.readouterr().err.strip().splitlines()
    kept = "interrupted: 2 of 12 units of 4 runs finished and kept in MLflow"
    assert err[-1] == f"{kept}; run the same command again to resume", "\n".join(err[-8:])
    assert not (tmp_path / "report").exists()  # no report from a grid cut short

    monkeypatch.setattr(LineReporter, "job_finished", real)
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "2 units already finished in MLflow are reused" in err and "4 of 4 runs finished" in err


def test_cli_verbose_grid_lines_say_every_epoch_and_quiet_reports_nothing(capsys):
    from types import SimpleNamespace

    from bench.cli import main
    from bench.cli.reproduce import LineReporter, make_grid_reporter
    from bench.runs.progress import GridReporter

    lines: list[str] = []
    unit = SimpleNamespace(key="fold2")
    row = {"epoch": 3, "train_loss": 0.5, "valid_loss": 0.625, "valid_acc_valence": 0.75}
    LineReporter(lines.append, verbose=True).epoch("mtcnn|whole-set|trial", unit, row)
    LineReporter(lines.append).epoch("mtcnn|whole-set|trial", unit, row)  # normal: no epoch lines
    assert lines == [
        "mtcnn|whole-set|trial fold2 epoch 3 train loss 0.500 valid loss 0.625 valid acc valence 75.0 %"
    ]
    assert type(make_grid_reporter("quiet")) is GridReporter  # no output at all
    assert isinstance(make_grid_reporter("verbose"), LineReporter)  # not a terminal here
    assert main(["reproduce", "--quiet", "--verbose", "--plan"]) == 2
    assert capsys.readouterr().err.strip() == "error: --quiet and --verbose exclude each other"
