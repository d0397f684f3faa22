"""Executors: a process pool and a real Dask LocalCluster give the local executor's numbers, track the
same runs, resume, survive a killed worker; a real `mlflow server` receives a distributed run."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch

import bench.runs.runner as runner
import bench.runs.unit
from bench.cli import main
from bench.config.run import RunConfig, TrainConfig
from bench.core.errors import ConfigError
from bench.runs.dask_executor import DaskExecutor
from bench.runs.executors import PoolExecutor, make_executor
from bench.runs.jobs import UnitsFailed
from bench.runs.unit_worker import run_task
from bench.tracking.store import TAG, child_runs, client, experiment_id

distributed = pytest.importorskip("distributed")

# CPU results depend on torch's thread count (float reductions are split differently): every process
# of these tests uses one thread, so local, pool and Dask runs can be compared exactly.
THREADS = 1


def _cfg(model: str = "mtcnn", **kw) -> RunConfig:
    return RunConfig(
        model=model, protocol="subject-specific", n_folds=2, seed=0, num_threads=THREADS,
        train=TrainConfig(max_epochs=1), **kw,
    )  # fmt: skip


def _run(cfg, features, uri, cache_dir, **kw):
    p = runner.prepare(cfg, features=features)
    return runner.run_experiment(cfg, tracking_uri=uri, prepared=p, cache_dir=cache_dir, **kw)


def _numbers(res) -> dict:
    """Everything a unit computed, except its wall time."""
    return {u.unit.key: {k: v for k, v in u.metrics.items() if k != "fit_seconds"} for u in res.units}


def _same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        # a unit reused from MLflow lacks its undefined metrics (MLflow keeps no NaN): missing == NaN
        for m in a[k].keys() | b[k].keys():
            np.testing.assert_equal(a[k].get(m, np.nan), b[k].get(m, np.nan), err_msg=f"{k} {m}")


def _tracked(uri: str, parent_id: str):
    cl = client(uri)
    exp = experiment_id(cl, "synthetic")
    return cl, cl.get_run(parent_id), child_runs(cl, exp, parent_id)


def _reference(model, features, cache_dir, folder) -> runner.ExperimentResult:
    n = torch.get_num_threads()
    try:
        return _run(_cfg(model), features, f"sqlite:///{folder / 'mlflow.db'}", cache_dir)
    finally:
        torch.set_num_threads(n)


@pytest.fixture(scope="module")
def local_reference(features, cache_dir, tmp_path_factory):
    """The local executor's numbers for the mtcnn grid (2 subjects x 2 folds), computed once."""
    return _reference("mtcnn", features, cache_dir, tmp_path_factory.mktemp("ref"))


@pytest.fixture(scope="module")
def majority_reference(features, cache_dir, tmp_path_factory):
    """The same for the trivial majority model (tests where training is not the point)."""
    return _reference("majority", features, cache_dir, tmp_path_factory.mktemp("ref_majority"))


@pytest.fixture(scope="module")
def cluster():
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
        ) as lc,
        Client(lc) as dask_client,
    ):
        yield dask_client


# --------------------------------------------------------------------------------------- pool
@pytest.mark.slow  # several processes: 6-10 s quiet, far more on a loaded box
def test_pool_matches_local_tracks_the_same_runs_and_resumes(features, cache_dir, local_reference, tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    res = _run(_cfg(), features, uri, cache_dir, executor=PoolExecutor(2))
    _same(_numbers(res), _numbers(local_reference))
    for a, b in zip(res.units, local_reference.units, strict=True):
        np.testing.assert_array_equal(a.predictions["p_valence"], b.predictions["p_valence"])
    assert res.summary == pytest.approx(local_reference.summary, nan_ok=True)

    cl, parent, children = _tracked(uri, res.parent_run_id)
    assert parent.info.status == "FINISHED"
    assert parent.data.metrics["acc_valence_mean"] == pytest.approx(res.summary["acc_valence_mean"])
    assert sorted(c.data.tags[f"{TAG}unit"] for c in children) == sorted(u.unit.key for u in res.units)
    assert {c.info.status for c in children} == {"FINISHED"}
    child = next(c for c in children if c.info.run_id == res.units[0].run_id)
    assert child.data.tags[f"{TAG}run_key"] == parent.data.tags[f"{TAG}run_key"]
    assert (
        child.data.tags[f"{TAG}subject"] == "1"
        and child.data.tags["mlflow.parentRunId"] == parent.info.run_id
    )
    assert child.data.metrics["test_acc_valence"] == res.units[0].metrics["test_acc_valence"]
    assert [m.step for m in cl.get_metric_history(child.info.run_id, "valid_loss")] == [1]
    names = {a.path for a in cl.list_artifacts(child.info.run_id)}
    assert {"predictions.csv", "history.csv", "learning_curve.png", "confusion.png"} <= names

    again = _run(_cfg(), features, uri, cache_dir, executor=PoolExecutor(2))  # same command: resumes
    assert all(u.reused for u in again.units) and again.parent_run_id == res.parent_run_id
    assert again.summary == pytest.approx(res.summary, nan_ok=True)
    assert len(_tracked(uri, res.parent_run_id)[2]) == 4


def test_workers_need_the_features_in_the_cache(features, tmp_path):
    p = runner.prepare(_cfg("majority"), features=features)
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    with pytest.raises(ConfigError, match="not in the feature cache"):
        runner.run_experiment(
            p.config, prepared=p, tracking_uri=uri, executor=PoolExecutor(2), cache_dir=tmp_path / "empty"
        )
    assert not (tmp_path / "m.db").exists()  # refused before any run was created


class _DieOnce:
    """A task function that kills its worker process in the middle of the first unit to run anywhere
    (after the unit's child run is created); every other call is the normal task."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __call__(self, task):
        try:
            os.close(os.open(self.marker, os.O_CREAT | os.O_EXCL))  # atomic: one unit only
        except FileExistsError:
            return run_task(task)

        def die(*args, **kwargs):
            os._exit(1)

        bench.runs.unit.run_unit = (
            die  # only in this worker process, which is about to end (track_unit calls it)
        )
        return run_task(task)


@pytest.mark.slow  # 10-15 s: keeps the default test run near 10 min
def test_pool_retries_the_units_of_a_dead_worker(features, cache_dir, majority_reference, tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    killer = _DieOnce(tmp_path / "died")
    res = _run(_cfg("majority"), features, uri, cache_dir, executor=PoolExecutor(2, task_fn=killer))
    assert (tmp_path / "died").exists()
    _same(_numbers(res), _numbers(majority_reference))
    _, parent, children = _tracked(uri, res.parent_run_id)
    assert parent.info.status == "FINISHED"
    # the killed attempt left its child RUNNING; the retry took it over (stale claim) and marked it FAILED
    statuses = sorted(c.info.status for c in children)
    assert statuses.count("FINISHED") == 4 and set(statuses) <= {"FINISHED", "FAILED"}
    finished = [c.data.tags[f"{TAG}unit"] for c in children if c.info.status == "FINISHED"]
    assert sorted(finished) == sorted(u.unit.key for u in res.units)


@pytest.mark.slow  # 10-15 s: keeps the default test run near 10 min
def test_pool_reports_a_dead_worker_then_resume_completes(features, cache_dir, majority_reference, tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    killer = _DieOnce(tmp_path / "died")
    with pytest.raises(UnitsFailed, match="run the same command again to resume"):
        ex = PoolExecutor(2, task_fn=killer, retries=0)
        _run(_cfg("majority"), features, uri, cache_dir, executor=ex)
    cl = client(uri)
    exp = experiment_id(cl, "synthetic")
    parents = cl.search_runs([exp], filter_string=f"tags.`{TAG}role` = 'parent'")
    assert [p.info.status for p in parents] == ["FAILED"]
    statuses = [c.info.status for c in child_runs(cl, exp, parents[0].info.run_id)]
    assert "FAILED" in statuses and "RUNNING" not in statuses  # the dead worker's unit is not FINISHED

    res = _run(_cfg("majority"), features, uri, cache_dir, executor=PoolExecutor(2))
    assert res.parent_run_id == parents[0].info.run_id
    _same(_numbers(res), _numbers(majority_reference))
    assert cl.get_run(res.parent_run_id).info.status == "FINISHED"


# --------------------------------------------------------------------------------------- dask
@pytest.mark.slow  # ~15-20 s: keeps the default test run under 10 min
def test_dask_local_cluster_matches_local(features, cache_dir, local_reference, cluster, tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    res = _run(_cfg(), features, uri, cache_dir, executor=DaskExecutor(cluster))
    _same(_numbers(res), _numbers(local_reference))
    _, parent, children = _tracked(uri, res.parent_run_id)
    assert parent.info.status == "FINISHED" and len(children) == 4
    assert {c.info.status for c in children} == {"FINISHED"}


@pytest.mark.slow  # 10-15 s: keeps the default test run near 10 min
def test_dask_survives_a_killed_worker(features, cache_dir, majority_reference, cluster, tmp_path):
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers need not import this file
    try:
        uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
        killer = _DieOnce(tmp_path / "died")
        res = _run(_cfg("majority"), features, uri, cache_dir, executor=DaskExecutor(cluster, task_fn=killer))
    finally:
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    assert (tmp_path / "died").exists()
    _same(_numbers(res), _numbers(majority_reference))
    _, parent, children = _tracked(uri, res.parent_run_id)
    assert parent.info.status == "FINISHED"
    # the killed attempt left its child RUNNING; the runner marks it FAILED once the grid is done
    assert sorted(c.info.status for c in children) == ["FAILED"] + ["FINISHED"] * 4
    finished = [c.data.tags[f"{TAG}unit"] for c in children if c.info.status == "FINISHED"]
    assert sorted(finished) == sorted(u.unit.key for u in res.units)


def test_unreachable_scheduler_is_a_one_line_error_before_any_tracking(features, cache_dir, tmp_path):
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    ex = DaskExecutor(f"tcp://127.0.0.1:{_free_port()}", connect_timeout="1s")
    with pytest.raises(ConfigError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:"):
        _run(_cfg("majority"), features, uri, cache_dir, executor=ex)
    assert not (tmp_path / "m.db").exists()


# ------------------------------------------------------------------------------- mlflow server
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def mlflow_server(tmp_path):
    port = _free_port()
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    store = f"sqlite:///{tmp_path / 'srv.db'}"
    cmd = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", store, "--host", "127.0.0.1",
           "--port", str(port), "--workers", "1"]  # fmt: skip
    log = (tmp_path / "server.log").open("wb")
    proc = subprocess.Popen(
        cmd, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 40
        while True:
            with contextlib.suppress(OSError), urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                if r.read().decode().strip() == "OK":
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"mlflow server did not start: {(tmp_path / 'server.log').read_text()[-2000:]}")
            time.sleep(0.5)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


@pytest.mark.slow  # several processes: 6-10 s quiet, far more on a loaded box
def test_mlflow_server_receives_a_dask_run(features, cache_dir, majority_reference, cluster, mlflow_server):
    from mlflow.tracking import MlflowClient

    res = _run(_cfg("majority"), features, mlflow_server, cache_dir, executor=DaskExecutor(cluster))
    _same(_numbers(res), _numbers(majority_reference))
    cl = MlflowClient(tracking_uri=mlflow_server)
    exp = cl.get_experiment_by_name("deap-bench-synthetic")
    parent = cl.get_run(res.parent_run_id)
    assert parent.info.status == "FINISHED" and parent.data.tags[f"{TAG}role"] == "parent"
    assert parent.data.metrics["acc_valence_mean"] == pytest.approx(res.summary["acc_valence_mean"])
    children = child_runs(cl, exp.experiment_id, res.parent_run_id)
    assert sorted(c.data.tags[f"{TAG}unit"] for c in children) == sorted(u.unit.key for u in res.units)
    assert {c.info.status for c in children} == {"FINISHED"}
    assert "predictions.csv" in {a.path for a in cl.list_artifacts(children[0].info.run_id)}


# ------------------------------------------------------------------------------------------ CLI
@pytest.mark.parametrize(
    "args, message",
    [
        (["--executor", "spark"], "--executor='spark' is not allowed; allowed: local, pool, dask"),
        (["--executor", "dask"], "--executor dask needs --scheduler tcp://HOST:PORT"),
        (["--scheduler", "tcp://127.0.0.1:1", "--executor", "pool"], "--scheduler only applies with"),
        (["--workers", "0"], "--workers 0: must be >= 1"),
        (["--executor", "local", "--workers", "2"], "--workers > 1 needs --executor pool"),
        (["--executor", "dask", "--scheduler", "127.0.0.1"], "expected an address like tcp://HOST:8786"),
    ],
)
def test_bad_executor_values_are_one_line_errors(args, message, capsys, tmp_path):
    code = main(["run", "--tracking-uri", f"sqlite:///{tmp_path}/m.db", *args])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 2 and len(lines) == 1 and message in lines[0], err


def test_make_executor_infers_the_pool_and_says_how_to_install_dask(monkeypatch):
    assert isinstance(make_executor(workers=2), PoolExecutor) and make_executor(workers=2).workers == 2
    assert make_executor().name == "local" and make_executor(workers=1).name == "local"
    assert make_executor("dask", scheduler="tcp://127.0.0.1:8786").name == "dask"
    monkeypatch.setattr("bench.runs.executors.dask_available", lambda: False)
    with pytest.raises(ConfigError, match=r"install deap-bench\[dask\]"):
        make_executor("dask", scheduler="tcp://127.0.0.1:8786")


def test_cli_runs_on_a_dask_cluster(deap_dir, cluster, tmp_path, capsys):
    uri = f"sqlite:///{tmp_path}/m.db"
    args = ["run", "--model", "majority", "--protocol", "subject-specific", "--folds", "2", "--deap",
            str(deap_dir), "--tracking-uri", uri, "--executor", "dask",
            "--scheduler", cluster.scheduler.address]  # fmt: skip
    assert main(args) == 0, capsys.readouterr().err
    cl = client(uri)
    exp = experiment_id(cl, "synthetic")
    parents = cl.search_runs([exp], filter_string=f"tags.`{TAG}role` = 'parent'")
    assert [p.info.status for p in parents] == ["FINISHED"]
    assert len(child_runs(cl, exp, parents[0].info.run_id)) == 4


@pytest.mark.slow  # several processes: 6-10 s quiet, far more on a loaded box
def test_cli_runs_on_a_pool(deap_dir, tmp_path, capsys, monkeypatch):
    from bench.cli.common import console

    monkeypatch.setattr(console, "_width", 200)  # the table must not wrap unit names
    uri = f"sqlite:///{tmp_path}/m.db"
    args = ["run", "--model", "majority", "--protocol", "subject-specific", "--folds", "2", "--deap",
            str(deap_dir), "--tracking-uri", uri, "--workers", "2"]  # fmt: skip
    assert main(args) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "s01-fold1" in out and "mean ± std" in out
    cl = client(uri)
    parents = cl.search_runs([experiment_id(cl, "synthetic")], filter_string=f"tags.`{TAG}role` = 'parent'")
    assert [p.info.status for p in parents] == ["FINISHED"]
