"""Fault battery for processes sharing a store: started together on a fresh folder, identical commands,
stale claims, concurrent tuners, broken stores. Process tests start every command, wait until all have
imported the package, then release them at once through a file (a barrier)."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import bench.runs.runner as runner
import bench.tracking.claims as claims
import bench.tracking.store as tracking
from bench.cli import main
from bench.config.run import RunConfig, TrainConfig
from bench.core.errors import ConfigError
from bench.data.cache import prepare_features
from bench.data.source import open_deap
from bench.data.synthetic import SyntheticConfig, write_synthetic_deap
from bench.tracking.store import TAG, child_runs, client, experiment_id

ROOT = Path(__file__).resolve().parents[2]
LAUNCH = (
    "import sys, time\n"
    "from pathlib import Path\n"
    "from bench.cli import main\n"
    "Path(sys.argv[1] + '.ready').touch()\n"
    "go = Path(sys.argv[2])\n"
    "while not go.exists():\n"
    "    time.sleep(0.01)\n"
    "sys.exit(main(sys.argv[3:]))\n"
)
"""Import everything, say ready, wait for the go file, then run ``bench ARGS``."""


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("conc") / "data"
    write_synthetic_deap(folder, SyntheticConfig(n_subjects=2, n_trials=8, seed=0))
    return folder


@pytest.fixture(scope="module")
def cache_dir(data_dir, tmp_path_factory) -> Path:
    """A warm feature cache: the processes race on the stores, not on computing features."""
    folder = tmp_path_factory.mktemp("conc-cache")
    prepare_features(open_deap(data_dir), cache_dir=folder)
    return folder


def _together(cmds: list[list[str]], cwd: Path, cache: Path, timeout: float = 480) -> list[tuple[int, str]]:
    """Run ``bench`` commands released at the same moment; returns (exit code, stderr) of each."""
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "BENCH_OPTUNA_STORAGE")}
    env.update(PYTHONPATH=str(ROOT), DEAP_BENCH_CACHE=str(cache), OMP_NUM_THREADS="1")
    go = cwd / "go"
    procs, logs = [], []
    try:
        for i, args in enumerate(cmds):
            log = (cwd / f"p{i}.err").open("w+")
            logs.append(log)
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-c", LAUNCH, str(cwd / f"p{i}"), str(go), *args],
                    cwd=cwd,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=log,
                )  # fmt: skip
            )
        deadline = time.monotonic() + 180
        while not all((cwd / f"p{i}.ready").exists() for i in range(len(cmds))):
            assert all(p.poll() is None for p in procs), "a process ended before the barrier"
            assert time.monotonic() < deadline, "processes did not get ready"
            time.sleep(0.05)
        go.touch()
        out = []
        for p, log in zip(procs, logs, strict=True):
            code = p.wait(timeout=timeout)
            log.seek(0)
            out.append((code, log.read()))
        return out
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        for log in logs:
            log.close()


def _run_args(data_dir: Path, *extra: str) -> list[str]:
    return ["run", "--model", "majority", "--protocol", "whole-set", "--folds", "2", "--deap", str(data_dir),
            "--threads", "1", *extra]  # fmt: skip


def _parents(uri: str):
    cl = client(uri)
    exp = experiment_id(cl, "synthetic")
    return cl, exp, cl.search_runs([exp], filter_string=f"tags.`{TAG}role` = 'parent'")


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


# ---------------------------------------------------------------------------------- process faults
OPEN_STORES = (
    "import sys, time\n"
    "from pathlib import Path\n"
    "import mlflow, optuna\n"
    "from bench.tracking.store import client, experiment_id, init_once\n"
    "Path(sys.argv[1] + '.ready').touch()\n"
    "while not Path(sys.argv[2]).exists():\n"
    "    time.sleep(0.01)\n"
    "experiment_id(client(sys.argv[3]), 'synthetic')\n"
    "init_once(sys.argv[4], 'Optuna storage', lambda: optuna.storages.RDBStorage(sys.argv[4]))\n"
)


@pytest.mark.slow  # several processes: 6-10 s quiet, far more on a loaded box
@pytest.mark.timeout(300)
def test_three_processes_create_the_stores_at_once(tmp_path):
    """The store set-up alone (no torch import): MLflow tables and experiment, Optuna tables."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    mlflow_uri, optuna_url = f"sqlite:///{tmp_path / 'mlflow.db'}", f"sqlite:///{tmp_path / 'optuna.db'}"
    procs = []
    try:
        for i in range(3):
            args = [str(tmp_path / f"p{i}"), str(tmp_path / "go"), mlflow_uri, optuna_url]
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-c", OPEN_STORES, *args], env=env, stderr=subprocess.PIPE, text=True
                )
            )
        deadline = time.monotonic() + 120
        while not all((tmp_path / f"p{i}.ready").exists() for i in range(3)):
            assert all(p.poll() is None for p in procs) and time.monotonic() < deadline
            time.sleep(0.05)
        (tmp_path / "go").touch()
        for p in procs:
            _, err = p.communicate(timeout=120)
            assert p.returncode == 0, err[-3000:]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    cl = client(mlflow_uri)
    assert [e.name for e in cl.search_experiments() if e.name.startswith("deap-bench")] == [
        "deap-bench-synthetic"
    ]


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_three_commands_started_together_on_a_fresh_folder(data_dir, cache_dir, tmp_path):
    cmds = [_run_args(data_dir, "--seed", str(s)) for s in range(3)]
    results = _together(cmds, tmp_path, cache_dir)
    for code, err in results:
        assert code == 0, err[-3000:]
    cl, exp, parents = _parents(f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert sorted(p.info.status for p in parents) == ["FINISHED"] * 3
    for parent in parents:
        children = child_runs(cl, exp, parent.info.run_id)
        assert sorted(c.info.status for c in children) == ["FINISHED", "FINISHED"]


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_identical_commands_share_one_parent_and_train_each_unit_once(data_dir, cache_dir, tmp_path):
    args = ["run", "--model", "mtcnn", "--protocol", "subject-specific", "--folds", "2", "--epochs", "1",
            "--deap", str(data_dir), "--threads", "1", "--seed", "0"]  # fmt: skip
    results = _together([args, args], tmp_path, cache_dir)
    for code, err in results:
        assert code == 0, err[-3000:]
    cl, exp, parents = _parents(f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert [p.info.status for p in parents] == ["FINISHED"]
    children = child_runs(cl, exp, parents[0].info.run_id)
    per_unit: dict[str, list[str]] = {}
    for c in children:
        per_unit.setdefault(c.data.tags[f"{TAG}unit"], []).append(c.info.status)
    assert per_unit == {u: ["FINISHED"] for u in ("s01-fold1", "s01-fold2", "s02-fold1", "s02-fold2")}
    assert {"acc_valence_mean", "acc_arousal_mean"} <= parents[0].data.metrics.keys()


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_two_tuners_on_a_fresh_storage_never_repeat_parameters(data_dir, cache_dir, tmp_path):
    import optuna

    args = ["tune", "--trials", "2", "--folds", "2", "--epochs", "1", "--deap", str(data_dir), "--seed", "0"]
    results = _together([args, args], tmp_path, cache_dir)
    for code, err in results:
        assert code == 0, err[-3000:]
    study = optuna.load_study(
        study_name="mtcnn-whole-set-weights", storage=f"sqlite:///{tmp_path / 'optuna.db'}"
    )
    done = [t for t in study.trials if t.state.is_finished()]
    assert len(done) == 4 and all(t.state == optuna.trial.TrialState.COMPLETE for t in done)
    ratios = [t.params["log2_ratio"] for t in done]
    assert len(set(ratios)) == 4, ratios


# ------------------------------------------------------------------------------------ unit claims
@pytest.fixture
def features(data_dir, cache_dir):
    return prepare_features(open_deap(data_dir), cache_dir=cache_dir)


def _cfg() -> RunConfig:
    return RunConfig(
        model="majority", protocol="whole-set", n_folds=2, seed=0, train=TrainConfig(max_epochs=1)
    )


def _run(features, uri: str):
    return runner.run_experiment(_cfg(), tracking_uri=uri, prepared=runner.prepare(_cfg(), features=features))


def _fake_claim(cl, exp: str, parent, unit: str, **claim: str) -> str:
    """A RUNNING child of ``unit`` as another process's claim would leave it."""
    tags = {k: v for k, v in parent.data.tags.items() if k.startswith(TAG)}
    tags.update({f"{TAG}role": "unit", f"{TAG}unit": unit, "mlflow.parentRunId": parent.info.run_id})
    tags.update(claim)
    return cl.create_run(exp, run_name=unit, tags=tags).info.run_id


def _reopen_unit(cl, exp: str, parent, unit: str) -> None:
    """Drop the unit's finished child, so that only the claim made next is left for it."""
    for c in child_runs(cl, exp, parent.info.run_id):
        if c.data.tags[f"{TAG}unit"] == unit:
            cl.delete_run(c.info.run_id)


def test_a_dead_processes_claim_is_taken_over(features, tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    _run(features, uri)
    cl, exp, (parent,) = _parents(uri)
    _reopen_unit(cl, exp, parent, "fold1")
    stale = _fake_claim(cl, exp, parent, "fold1", **{**claims.claim_tags(), claims.PID_TAG: str(_dead_pid())})
    res = _run(features, uri)
    assert {u.unit.key: u.reused for u in res.units} == {"fold1": False, "fold2": True}
    assert cl.get_run(stale).info.status == "FAILED"
    assert cl.get_run(res.parent_run_id).info.status == "FINISHED"


def test_a_claim_without_heartbeat_goes_stale(features, tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    _run(features, uri)
    cl, exp, (parent,) = _parents(uri)
    _reopen_unit(cl, exp, parent, "fold2")
    other = {claims.PID_TAG: "1", claims.HOST_TAG: "elsewhere", claims.BEAT_TAG: f"{time.time():.3f}"}
    stale = _fake_claim(cl, exp, parent, "fold2", **other)
    monkeypatch.setenv("BENCH_CLAIM_TIMEOUT_S", "2")
    monkeypatch.setenv("BENCH_CLAIM_POLL_S", "0.2")
    t0 = time.monotonic()
    res = _run(features, uri)
    assert time.monotonic() - t0 >= 1.5  # waited for the live claim until its heartbeat was too old
    assert not res.units[1].reused and cl.get_run(stale).info.status == "FAILED"


def test_a_live_claim_is_waited_for_and_its_result_reused(features, tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    _run(features, uri)
    cl, exp, (parent,) = _parents(uri)
    metrics = next(c for c in child_runs(cl, exp, parent.info.run_id) if c.data.tags[f"{TAG}unit"] == "fold1")
    _reopen_unit(cl, exp, parent, "fold1")
    live = _fake_claim(cl, exp, parent, "fold1", **{**claims.claim_tags(), claims.HOST_TAG: "elsewhere"})
    monkeypatch.setenv("BENCH_CLAIM_POLL_S", "0.2")
    assert claims.claim_unit(cl, exp, parent.info.run_id, "fold1", lambda tags: "x", wait=False) is None

    def finish() -> None:
        time.sleep(1.0)
        for k, v in metrics.data.metrics.items():
            cl.log_metric(live, k, v)
        cl.set_terminated(live, status="FINISHED")

    th = threading.Thread(target=finish)
    th.start()
    try:
        res = _run(features, uri)
    finally:
        th.join()
    fold1 = res.units[0]
    assert fold1.reused and fold1.run_id == live
    assert fold1.metrics["test_acc_valence"] == metrics.data.metrics["test_acc_valence"]
    assert [c.info.status for c in child_runs(cl, exp, parent.info.run_id)] == ["FINISHED", "FINISHED"]


class _Remote:
    """A client that looks remote (no file lock): the oldest-wins rule has to settle races."""

    tracking_uri = "http://remote.invalid"

    def __init__(self, cl) -> None:
        self._cl = cl

    def __getattr__(self, name: str):
        return getattr(self._cl, name)


def test_remote_parent_race_keeps_the_oldest(tmp_path, monkeypatch):
    monkeypatch.setattr(claims, "SETTLE_S", 0.0)
    cl = client(f"sqlite:///{tmp_path / 'mlflow.db'}")
    exp = experiment_id(cl, "synthetic")
    tags = {f"{TAG}run_key": "k1", f"{TAG}role": "parent"}
    made: list[str] = []

    def create() -> str:  # another process created its parent a moment earlier
        if not made:
            made.append(cl.create_run(exp, tags=tags).info.run_id)
            time.sleep(0.01)
        made.append(cl.create_run(exp, tags=tags).info.run_id)
        return made[-1]

    winner, mine = claims.find_or_create_run(_Remote(cl), exp, tags, create)
    assert mine is None and winner.info.run_id == made[0]
    assert cl.get_run(made[1]).info.lifecycle_stage == "deleted"


def test_remote_unit_race_keeps_the_oldest_claim(tmp_path, monkeypatch):
    monkeypatch.setattr(claims, "SETTLE_S", 0.0)
    cl = client(f"sqlite:///{tmp_path / 'mlflow.db'}")
    exp = experiment_id(cl, "synthetic")
    parent = cl.create_run(exp).info.run_id
    made: list[str] = []

    def create(claim: dict[str, str]) -> str:
        tags = {f"{TAG}unit": "fold1", "mlflow.parentRunId": parent, **claim}
        if not made:  # a live claim from another host, made a moment earlier
            made.append(cl.create_run(exp, tags={**tags, claims.HOST_TAG: "elsewhere"}).info.run_id)
            time.sleep(0.01)
        made.append(cl.create_run(exp, tags=tags).info.run_id)
        return made[-1]

    assert claims.claim_unit(_Remote(cl), exp, parent, "fold1", create, wait=False) is None
    assert cl.get_run(made[1]).info.lifecycle_stage == "deleted"
    assert cl.get_run(made[0]).info.status == "RUNNING"


# ---------------------------------------------------------------------------------- broken stores
def _one_line(argv: list[str], capsys) -> str:
    code = main(argv)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_a_file_that_is_not_sqlite_is_one_line(data_dir, cache_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DEAP_BENCH_CACHE", str(cache_dir))
    db = tmp_path / "mlflow.db"
    db.write_text("not a database\n")
    line = _one_line([*_run_args(data_dir), "--tracking-uri", f"sqlite:///{db}"], capsys)
    assert str(db) in line and "not a SQLite database" in line and "move it aside" in line


def test_a_half_migrated_store_is_one_line(data_dir, cache_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DEAP_BENCH_CACHE", str(cache_dir))
    db = tmp_path / "mlflow.db"
    client(f"sqlite:///{db}")
    with contextlib.closing(sqlite3.connect(db)) as con:
        con.execute("CREATE TABLE _alembic_tmp_tags (x INTEGER)")
        con.commit()
    monkeypatch.setattr(tracking, "_READY", set())  # as a new process would see it
    line = _one_line([*_run_args(data_dir), "--tracking-uri", f"sqlite:///{db}"], capsys)
    assert str(db) in line and "_alembic_tmp_tags" in line and "move it aside" in line


def test_a_broken_optuna_storage_is_one_line(tmp_path):
    from bench.runs.tuning_study import open_storage

    db = tmp_path / "optuna.db"
    db.write_bytes(b"\x00" * 64)
    with pytest.raises(ConfigError, match=r"optuna.db: not a SQLite database, so no Optuna storage"):
        open_storage(f"sqlite:///{db}")
