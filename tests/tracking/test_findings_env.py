"""Faults of the environment end in one line with nothing half-written; runs of another user's checkout
record the commit; ``bench ui`` starts one quiet worker on the runs page; the package has its LICENSE.

Read-only stores are tested two ways: with the file system's own answer where the test may make files
immutable (``chattr +i``, root on ext4 and the like; root ignores file modes, so chmod would prove
nothing), and everywhere with Python's writes under the store's folder failing as on a read-only mount.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import tomllib
import urllib.request
from pathlib import Path

import pytest

import bench.runs.runner as runner
from bench.cli import main
from bench.config.run import RunConfig
from bench.core.checks import check_name
from bench.core.errors import ConfigError
from bench.core.faults import fault_line
from bench.runs.grid import load_grid
from bench.tracking import store as tracking
from bench.tracking.store import EXPERIMENTS, TAG, client, experiment_id

ROOT = Path(__file__).resolve().parents[2]


def _runs(uri: str) -> list:
    cl = client(uri, write=False)
    exps = [e.experiment_id for e in cl.search_experiments()]
    return list(cl.search_runs(exps, max_results=1000)) if exps else []


def _one_line(err: str) -> str:
    """The one line of an error; MLflow's INFO log lines (on only in a process that imported MLflow
    before ``main`` set its level, as this test process) are no part of it."""
    lines = [
        ln for ln in err.strip().splitlines() if not re.match(r"\d{4}/\d\d/\d\d [\d:]{8} INFO mlflow", ln)
    ]
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0]


@pytest.fixture(scope="module")
def store(deap_dir, tmp_path_factory):
    """A folder holding a SQLite store with one finished majority run, its artifacts beside it."""
    folder = tmp_path_factory.mktemp("store")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    cwd = Path.cwd()
    os.chdir(folder)  # the default artifact root is ./mlruns: keep it inside the folder
    try:
        cfg = RunConfig(model="majority", n_folds=2)
        runner.run_experiment(cfg, tracking_uri=uri, prepared=runner.prepare(cfg, deap=deap_dir))
    finally:
        os.chdir(cwd)
    tracking._READY.discard(uri)  # as a new process: the store was never opened
    return folder, uri


def _writes_fail_under(monkeypatch, folder: Path) -> None:
    """Python's writes under ``folder`` fail with EROFS, and ``access(W_OK)`` says no, as on a read-only
    mount (SQLite's own C-level reads go on; this process writes nothing through it when reading)."""
    folder = str(folder)
    real_open, real_access, real_mkdir = os.open, os.access, os.mkdir
    writing = os.O_WRONLY | os.O_RDWR | os.O_CREAT

    def inside(path) -> bool:
        return os.path.abspath(os.fspath(path)).startswith(folder)

    def fake_open(path, flags, *a, **k):
        if flags & writing and inside(path):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), os.fspath(path))
        return real_open(path, flags, *a, **k)

    def fake_access(path, mode, *a, **k):
        return False if mode & os.W_OK and inside(path) else real_access(path, mode, *a, **k)

    def fake_mkdir(path, *a, **k):
        if inside(path) and not os.path.isdir(path):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), os.fspath(path))
        return real_mkdir(path, *a, **k)

    monkeypatch.setattr(os, "open", fake_open)
    monkeypatch.setattr(os, "access", fake_access)
    monkeypatch.setattr(os, "mkdir", fake_mkdir)


def _reads_and_refuses(uri: str, capsys, n_runs: int) -> str:
    """``bench runs`` and ``bench table comparison`` read the store; ``bench run`` is refused in one
    line before it creates anything. Returns that line."""
    assert main(["runs", "--tracking-uri", uri]) == 0
    out = capsys.readouterr().out
    assert "majority" in out and "whole-set/trial" in out
    assert main(["table", "comparison", "--tracking-uri", uri]) == 0
    assert "majority" in capsys.readouterr().out
    args = ["run", "--model", "majority", "--folds", "3", "--synthetic", "--tracking-uri", uri]
    assert main(args) == 2
    line = _one_line(capsys.readouterr().err)
    assert len(_runs(uri)) == n_runs
    return line


@pytest.mark.usefixtures("wide_console")
def test_read_only_store_reads_and_refuses_writes(store, monkeypatch, capsys):
    folder, uri = store
    n = len(_runs(uri))
    _writes_fail_under(monkeypatch, folder)
    line = _reads_and_refuses(uri, capsys, n)
    assert line == (
        f"error: {uri}: the MLflow store cannot be written here ({folder / 'mlflow.db'} is not writable by "
        "you); make it writable, or point --tracking-uri (tracking_uri=) at a store of your own"
    )
    assert not list(folder.glob(".*.tmp")) and not list(folder.glob("*-journal"))


def _chattr(flag: str, *paths: Path) -> bool:
    if shutil.which("chattr") is None:
        return False
    return subprocess.run(["chattr", flag, *map(str, paths)], capture_output=True).returncode == 0


@pytest.mark.usefixtures("wide_console")
def test_immutable_store_reads_and_refuses_writes(store, capsys):
    """The same with the kernel's answer: the database, its lock file and their folder immutable."""
    folder, uri = store
    n = len(_runs(uri))
    files = [folder / "mlflow.db", folder / "mlflow.db.lock", folder]
    if not _chattr("+i", *files):
        pytest.skip("chattr +i is not possible here (needs root and a file system that has it)")
    try:
        assert not os.access(folder / "mlflow.db", os.W_OK)  # root included
        line = _reads_and_refuses(uri, capsys, n)
    finally:
        _chattr("-i", *files)
    assert "is not writable by you); make it writable" in line


def test_unwritable_artifact_folder_is_refused_before_a_run(store, tmp_path, monkeypatch):
    """A writable database whose experiment keeps its artifacts where this user cannot write: refused
    when the experiment is opened, not after the first unit trained."""
    cl = client(store[1])
    art = tmp_path / "art"
    art.mkdir()
    exp = cl.create_experiment(EXPERIMENTS["dreamer-synthetic"], artifact_location=art.as_uri())
    _writes_fail_under(monkeypatch, art)
    with pytest.raises(ConfigError) as info:
        experiment_id(cl, "dreamer-synthetic")
    assert str(info.value) == (
        f"experiment 'deap-bench-dreamer-synthetic' keeps its artifacts in {art}, and {art} is not "
        "writable by you; make it writable, or point --tracking-uri (tracking_uri=) at a store of your own"
    )
    assert cl.search_runs([exp]) == []


@pytest.mark.parametrize("command", [["run"], ["runs"]])
def test_file_store_uri_is_one_line(command, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    monkeypatch.setattr("bench.api.experiment.prepare", lambda *a, **k: pytest.fail("prepared data"))
    uri = (tmp_path / "mlruns").as_uri()
    assert main([*command, "--tracking-uri", uri]) == 2
    assert _one_line(capsys.readouterr().err) == (
        f"error: tracking URI '{uri}': a file store, which this MLflow refuses (maintenance mode); use a "
        f"SQLite store such as sqlite:///{tmp_path / 'mlflow.db'} (`mlflow migrate-filestore` moves runs "
        "already there), or set MLFLOW_ALLOW_FILE_STORE=true"
    )
    assert not (tmp_path / "mlruns").exists()


def test_sqlite_uri_naming_a_folder_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("bench.api.experiment.prepare", lambda *a, **k: pytest.fail("prepared data"))
    uri = f"sqlite:///{tmp_path}"
    assert main(["run", "--tracking-uri", uri]) == 2
    assert _one_line(capsys.readouterr().err) == (
        f"error: tracking URI '{uri}': {tmp_path} is a folder; name the database file in it: "
        f"sqlite:///{tmp_path / 'mlflow.db'}"
    )
    with pytest.raises(ConfigError, match="is a folder; name the database file in it"):
        client(uri)  # the Python API too
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no lock file, no database


def test_config_file_not_utf8_or_not_a_table(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("bench.api.experiment.prepare", lambda *a, **k: pytest.fail("prepared data"))
    bad = tmp_path / "run.toml"
    bad.write_bytes('model = "majorit\xe9"\n'.encode("cp1252"))  # an editor's Windows encoding
    assert main(["run", "--config", str(bad)]) == 2
    assert _one_line(capsys.readouterr().err) == (
        f"error: {bad}: not UTF-8 text (byte 0xe9 at offset 16); TOML config files are UTF-8: save it "
        "as UTF-8"
    )
    for text, kind in (("[1, 2]", "an array"), ('"mtcnn"', "a string"), ("null", "null")):
        js = tmp_path / "run.json"
        js.write_text(text)
        assert main(["run", "--config", str(js)]) == 2
        assert _one_line(capsys.readouterr().err) == (
            f'error: {js}: expected a JSON object of options ({{"model": "mtcnn", ...}}), not {kind}'
        )
    with pytest.raises(ConfigError) as info:
        RunConfig.from_dict([("model", "mtcnn")])
    assert str(info.value) == (
        "d=[('model', 'mtcnn')]: expected a dict of run options (a config file's top-level table)"
    )


def _artifact_files(folder: Path) -> list[Path]:
    return sorted(p for p in (folder / "mlruns").rglob("*") if p.is_file())


@pytest.mark.usefixtures("wide_console")
def test_full_disk_leaves_no_half_artifact_and_loses_nothing(store, deap_dir, capsys, monkeypatch):
    """The disk fills up while the second unit's predictions.csv is copied into the store: one line,
    no truncated file in the store, the first unit kept; the same command then finishes the run."""
    folder, uri = store
    args = [
        "run",
        "-m",
        "majority",
        "--deap",
        str(deap_dir),
        "--folds",
        "3",
        "--tracking-uri",
        uri,
        "--quiet",
    ]
    real_copyfile, seen = shutil.copyfile, []

    def full_disk(src, dst, *a, **k):
        if Path(src).name == "predictions.csv":
            seen.append(dst)
            if len(seen) == 2:  # half of it fits
                data = Path(src).read_bytes()
                Path(dst).write_bytes(data[: len(data) // 2])
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dst))
        return real_copyfile(src, dst, *a, **k)

    def units() -> list:  # this run's units (3 folds; the store's own run has 2)
        runs = [r for r in _runs(uri) if r.data.tags.get(f"{TAG}role") == "unit"]
        return [r for r in runs if r.data.params.get("unit.n_folds") == "3"]

    def predictions(run) -> list[Path]:
        return list((folder / "mlruns").rglob(f"{run.info.run_id}/artifacts/*predictions.csv*"))

    monkeypatch.setattr(shutil, "copyfile", full_disk)
    assert main(args) == 1
    line = _one_line(capsys.readouterr().err)
    assert line.startswith(f"error: {seen[1]}: the disk is full (No space left on device); free some space")
    assert line.endswith("run the same command again (finished units are kept)")
    assert sorted(r.info.status for r in units()) == ["FAILED", "FINISHED"]
    (failed,) = [r for r in units() if r.info.status == "FAILED"]
    assert predictions(failed) == []  # neither a half predictions.csv nor its temporary file
    assert not list((folder / "mlruns").rglob(".*.tmp"))

    monkeypatch.setattr(shutil, "copyfile", real_copyfile)
    assert main(args) == 0
    capsys.readouterr()
    assert sorted(r.info.status for r in units()) == ["FAILED", "FINISHED", "FINISHED", "FINISHED"]
    for run in units():  # the first unit reused, the other two trained now; each file whole
        if run.info.status == "FINISHED":
            (csv,) = predictions(run)
            assert len(csv.read_text().splitlines()) == 1 + int(run.data.params["unit.n_test"])


def test_sqlite_full_and_read_only_are_one_line():
    try:
        try:
            raise sqlite3.OperationalError("database or disk is full")
        except sqlite3.OperationalError as exc:
            raise RuntimeError(
                "(sqlite3.OperationalError) database or disk is full [SQL: INSERT ...]"
            ) from exc
    except RuntimeError as exc:
        wrapped = exc
    assert fault_line(wrapped) == (
        "MLflow store: the disk is full (database or disk is full); free some space and run the same "
        "command again (finished units are kept)"
    )
    assert fault_line(ValueError("a bug")) is None  # a bug keeps its traceback
    assert fault_line(OSError(errno.ENOENT, "No such file or directory", "x")) is None


CONTROL = ["tab\there", "new\nline", "esc\x1b[2Jclear", "del\x7f", "bidi\u202eevil", "c1\x9bx"]


@pytest.mark.parametrize("name", CONTROL)
def test_grid_names_with_control_characters_are_refused(name, tmp_path):
    grid = tmp_path / "g.toml"
    grid.write_text(
        f"name = {json.dumps(name)}\n" + '[[runs]]\nmodels = "majority"\nprotocols = "whole-set"\n'
    )
    assert tomllib.loads(grid.read_text())["name"] == name
    with pytest.raises(ConfigError) as info:
        load_grid(path=grid)
    bad = next(i for i, ch in enumerate(name) if not ch.isprintable())
    assert str(info.value) == (
        f"{grid}: name={name!r}: expected a name of printable characters ({name[bad]!r} at position {bad})"
    )
    assert "\n" not in str(info.value) and "\x1b" not in str(info.value)


def test_grid_named_by_its_file_and_study_names(tmp_path, capsys):
    grid = tmp_path / "bad\x1bname.toml"
    grid.write_text('[[runs]]\nmodels = "majority"\nprotocols = "whole-set"\n')
    with pytest.raises(ConfigError, match=r"name \(the file's; set name = \"...\" in it\)='bad\\x1bname'"):
        load_grid(path=grid)
    good = tmp_path / "ok grid – é.toml"  # spaces and any printable letter are fine
    good.write_text('[[runs]]\nmodels = "majority"\nprotocols = "whole-set"\n')
    assert load_grid(path=good).name == "ok grid – é"
    assert check_name("--study", "my study 1") == "my study 1"
    assert main(["tune", "--model", "mtcnn", "--study", "s\ntwo", "--synthetic"]) == 2
    assert _one_line(capsys.readouterr().err) == (
        "error: --study='s\\ntwo': expected a name of printable characters ('\\n' at position 1)"
    )


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_commit_of_a_checkout_owned_by_another_user(tmp_path, monkeypatch):
    """Git refuses a repository of another user ("dubious ownership"); the commit is read anyway."""
    if os.geteuid() != 0:
        pytest.skip("needs root to hand a repository to another user")
    repo = tmp_path / "checkout"
    (repo / "bench").mkdir(parents=True)
    (repo / "bench" / "tracking").mkdir(parents=True)
    (repo / "bench" / "x.py").write_text("x = 1\n")
    env = {**os.environ, "GIT_AUTHOR_NAME": "a", "GIT_AUTHOR_EMAIL": "a@b", "GIT_COMMITTER_NAME": "a",
           "GIT_COMMITTER_EMAIL": "a@b", "HOME": str(tmp_path)}  # fmt: skip
    for cmd in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "c"]):
        subprocess.run(["git", *cmd], cwd=repo, env=env, check=True)
    sha = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=repo, env=env, capture_output=True,
                         text=True, check=True).stdout.strip()  # fmt: skip
    subprocess.run(["chown", "-R", "54321:54321", str(repo)], check=True)
    plain = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, env=env, capture_output=True, text=True)
    assert plain.returncode != 0 and "dubious ownership" in plain.stderr  # what git says to this user
    monkeypatch.setenv("HOME", str(tmp_path))  # no safe.directory of this machine's user
    monkeypatch.setattr(tracking, "__file__", str(repo / "bench" / "tracking" / "store.py"))
    tracking.code_version.cache_clear()
    try:
        assert tracking.code_version() == sha
        (repo / "bench" / "x.py").write_text("x = 2\n")
        tracking.code_version.cache_clear()
        assert tracking.code_version() == f"{sha}-dirty"
    finally:
        tracking.code_version.cache_clear()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ui_command_line_and_the_page_it_opens(store, capsys, monkeypatch):
    """One worker, warnings only, no job runner; the runs page of the experiment run last is opened."""
    from bench.tracking import ui as mlflow_ui

    uri = store[1]
    cl = client(uri)
    synthetic, deap = experiment_id(cl, "synthetic"), experiment_id(cl, "deap")
    cl.create_run(deap, start_time=int(time.time() * 1000) + 60_000)  # the newest run: its page opens
    calls = []
    capsys.readouterr()
    monkeypatch.setattr(mlflow_ui, "serve", lambda *a: calls.append(a) or 0)
    monkeypatch.setattr(mlflow_ui, "can_open_browser", lambda: True)
    port = _free_port()
    assert main(["ui", "--tracking-uri", uri, "--port", str(port)]) == 0
    ((cmd, env, base, page, _),) = calls
    assert cmd == [
        sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri, "--registry-store-uri", uri,
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        "--uvicorn-opts", "--log-level warning --no-access-log",
    ]  # fmt: skip
    assert (env["PYTHONWARNINGS"], env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"]) == ("ignore", "false")
    assert base == f"http://127.0.0.1:{port}"
    assert page == f"{base}/#/experiments/{deap}/runs?workflowType=machine_learning"
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"MLflow UI on {base} for {uri} (Ctrl-C to stop)"
    assert err[1] == f"  deap-bench-deap: {page}" and err[-1] == f"Opening {page}"
    assert (
        f"  deap-bench-synthetic: {base}/#/experiments/{synthetic}/runs?workflowType=machine_learning" in err
    )
    monkeypatch.setattr(mlflow_ui, "can_open_browser", lambda: False)  # no display: the address only
    assert main(["ui", "--tracking-uri", uri, "--port", str(port)]) == 0
    assert calls[-1][3] is None and capsys.readouterr().err.splitlines()[-1] == f"Open {page}"
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
        s.listen()
        assert main(["ui", "--tracking-uri", uri, "--port", str(port)]) == 2
    assert _one_line(capsys.readouterr().err).startswith(f"error: --port {port}: 127.0.0.1:{port} is taken")


@pytest.mark.slow
def test_ui_real_start_is_one_quiet_worker(store):
    """A real ``bench ui`` (15-60 s on a busy machine): it serves the runs, runs as one uvicorn process
    with no job runner, prints no framework chatter, and Ctrl-C ends it cleanly."""
    _, uri = store
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    # Ctrl-C as a terminal delivers it: a pytest started in the background by a non-interactive shell
    # ignores SIGINT, and a child inherits that (then `bench ui` rightly ignores it too and never stops)
    proc = subprocess.Popen([sys.executable, "-m", "bench", "ui", "--tracking-uri", uri, "--port", str(port)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # fmt: skip
    try:
        end = time.monotonic() + 180
        while time.monotonic() < end:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                    break
            except OSError:
                time.sleep(0.5)
        cl = client(uri)
        exp_id = experiment_id(cl, "synthetic")
        # the store's runs, as the client reads them: the fixture's parent and its two units, and the
        # runs other tests of this module added to the shared store when they ran first
        held = {r.info.run_id for r in cl.search_runs([exp_id], max_results=1000)}
        assert len(held) >= 3
        body = json.dumps({"experiment_ids": [exp_id], "max_results": 1000}).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{port}/api/2.0/mlflow/runs/search", data=body,
                                     headers={"Content-Type": "application/json"})  # fmt: skip
        with urllib.request.urlopen(req, timeout=30) as r:
            assert {run["info"]["run_id"] for run in json.load(r)["runs"]} == held
        tree = subprocess.run(["ps", "-eo", "ppid,pid,args"], capture_output=True, text=True).stdout
        kids = {proc.pid}
        for _ in range(3):
            kids |= {int(ln.split()[1]) for ln in tree.splitlines()[1:] if int(ln.split()[0]) in kids}
        args = [ln for ln in tree.splitlines()[1:] if int(ln.split()[1]) in kids - {proc.pid}]
        assert sum("-m uvicorn" in a for a in args) == 1 and not any("job" in a for a in args), args
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.terminate()  # `bench ui` stops its server on SIGTERM too: no server outlives the test
            proc.communicate(timeout=60)
            raise
    assert proc.returncode == 0
    assert err.splitlines()[-1] == "MLflow UI stopped"
    assert not [ln for ln in err.splitlines() if ln and not ln.startswith(("MLflow UI", "  deap-", "Open"))]


def test_license_is_the_mit_text_pyproject_names():
    text = (ROOT / "LICENSE").read_text()
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert meta["license"] == {"text": "MIT"}
    assert text.splitlines()[:3] == ["MIT License", "", "Copyright (c) 2026 The deap-bench authors"]
    flat = " ".join(text.split())
    assert "Permission is hereby granted, free of charge, to any person obtaining a copy" in flat
    assert 'THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND' in flat


def test_a_sqlite_stores_artifacts_live_beside_it_not_in_the_working_directory(deap_dir, tmp_path):
    """A store used from another folder (a notebook, a second command): its runs' artifacts go to
    ``mlruns`` next to the database, and nothing is written into the working directory."""
    store_dir, elsewhere = tmp_path / "store", tmp_path / "elsewhere"
    store_dir.mkdir()
    elsewhere.mkdir()
    uri = f"sqlite:///{store_dir / 'mlflow.db'}"
    cwd = Path.cwd()
    os.chdir(elsewhere)
    try:
        cfg = RunConfig(model="majority", n_folds=2)
        runner.run_experiment(cfg, tracking_uri=uri, prepared=runner.prepare(cfg, deap=deap_dir))
    finally:
        os.chdir(cwd)
    assert list(elsewhere.iterdir()) == []
    exp = client(uri).get_experiment_by_name(EXPERIMENTS["synthetic"])
    assert exp.artifact_location == (store_dir / "mlruns").as_uri()
    assert list((store_dir / "mlruns").rglob("*predictions.csv"))  # the units' artifacts are there
    assert tracking.artifact_location("sqlite:///relative.db") == (cwd / "mlruns").as_uri()
    assert tracking.artifact_location("http://127.0.0.1:5000") is None  # a server chooses its own
