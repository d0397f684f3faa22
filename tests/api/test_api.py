"""The Python API against the CLI it shells: same runs, same run keys, same tables, same refusals."""

from __future__ import annotations

import math
import re
import sys

import pandas as pd
import pytest

import bench
from bench.cli import main
from bench.core.errors import ConfigError
from bench.data.datasets import dataset_names
from bench.models.registry import list_models as registered_models
from bench.results import list_tables, load_store

QUIET = {"echo": lambda m: None, "warn": lambda m: None}


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """One feature cache for the module: the embedded synthetic twin is generated and its features
    computed once, not once per test (the suite's default cache is per test)."""
    folder = tmp_path_factory.mktemp("api-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DEAP_BENCH_CACHE", str(folder))
        yield folder


@pytest.fixture(autouse=True)
def _shared_cache(cache, monkeypatch):
    monkeypatch.setenv("DEAP_BENCH_CACHE", str(cache))


@pytest.fixture(scope="module")
def store(cache, tmp_path_factory):
    """A store of untrained baselines on the embedded synthetic DEAP, made through the CLI: the majority
    and prior baselines on the same 2 folds (so the comparison has p values and a chance reference)."""
    uri = f"sqlite:///{tmp_path_factory.mktemp('api')}/m.db"
    for model in ("majority", "prior"):
        assert main(["run", "--model", model, "--folds", "2", "-q", "--tracking-uri", uri]) == 0
    return uri


def test_exports_are_lazy_and_listed():
    import subprocess

    code = "import sys, bench.core; print('bench.api' in sys.modules, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
    assert bench.__all__ == bench.api.__all__
    assert set(bench.__all__) <= set(dir(bench))
    assert bench.run is bench.api.run and bench.table is bench.api.table
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        bench.nope  # noqa: B018


def test_run_resumes_the_cli_run(store, capsys):
    capsys.readouterr()
    assert main(["run", "--model", "majority", "--folds", "2", "--tracking-uri", store]) == 0
    cli_id = re.search(r"MLflow parent run ([0-9a-f]{32})", capsys.readouterr().out).group(1)
    res = bench.run("majority", folds=2, tracking_uri=store, **QUIET)
    assert res.parent_run_id == cli_id
    assert res.config.model == "majority" and res.config.n_folds == 2
    assert res.config.train.max_epochs == 1  # the embedded default's quick cap, as the CLI applies it
    assert res.metrics["reused"].all()  # finished in MLflow: nothing trained again
    again = bench.run("majority", folds=2, tracking_uri=store, **QUIET)
    assert again.run_key == res.run_key and again.parent_run_id == res.parent_run_id


def test_metrics_and_summary(store):
    res = bench.run("majority", folds=2, tracking_uri=store, **QUIET)
    m = res.metrics
    assert len(m) == 4  # 2 folds x 2 tasks
    assert sorted(m["fold"].unique()) == [1, 2] and set(m["task"]) == {"valence", "arousal"}
    assert {"acc", "trial_acc", "balanced_acc", "f1_macro", "auc"} <= set(m.columns)
    assert (m["balanced_acc"] == 0.5).all()  # a constant prediction: balanced accuracy is chance
    s = res.summary().set_index(["task", "metric"])
    for task, g in m.groupby("task"):
        assert s.loc[(task, "acc"), "mean"] == pytest.approx(g["acc"].mean())
        assert s.loc[(task, "acc"), "std"] == pytest.approx(g["acc"].std(ddof=1))
        assert s.loc[(task, "acc"), "n"] == 2


def test_quick_epochs_message(tmp_path):
    said: list[str] = []
    plan = bench.plan_run("majority", folds=2, tracking_uri=f"sqlite:///{tmp_path}/m.db")
    assert plan.quick and plan.config.train.max_epochs == 1
    plan.prepare(echo=said.append, warn=said.append)
    assert any(line.startswith("Embedded synthetic default: at most 1 epoch") for line in said)


@pytest.mark.parametrize(
    ("options", "flag", "message"),
    [
        ({"model": "nope"}, "--model", "unknown model 'nope'; known: "),
        ({"protocol": "nope"}, "--protocol", "unknown protocol 'nope'; known: "),
        ({"folds": 1}, "--folds", "n_folds=1: expected an integer >= 2"),
        (
            {"model": "majority", "split": "nope"},
            "--split",
            "split (protocol whole-set)='nope' is not allowed",
        ),
        ({"tasks": "valence,nope"}, "--tasks", "--tasks"),
    ],
)
def test_bad_values_raise_the_cli_message(options, flag, message, tmp_path, capsys):
    uri = f"sqlite:///{tmp_path}/m.db"
    with pytest.raises(ConfigError) as info:
        bench.run(tracking_uri=uri, **options, **QUIET)
    assert message in str(info.value)
    value = str(next(iter(options.values()))) if flag != "--split" else "nope"
    args = ["run", flag, value, "--tracking-uri", uri] + (
        ["--model", "majority"] if flag == "--split" else []
    )
    assert main(args) == 2
    assert capsys.readouterr().err.strip() == f"error: {info.value}"
    assert not (tmp_path / "m.db").exists()  # refused before any run was created


@pytest.mark.parametrize("name", ["comparison", "leakage", "protocols", "leaderboard"])
def test_render_table_is_the_cli_text(name, store, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")
    capsys.readouterr()
    assert main(["table", name, "--tracking-uri", store]) == 0
    assert bench.render_table(name, tracking_uri=store) == capsys.readouterr().out
    assert main(["table", name, "--tracking-uri", store, "--format", "csv"]) == 0
    assert bench.render_table(name, "csv", tracking_uri=store) == capsys.readouterr().out


def _pct(x: float) -> str:
    return "—" if not math.isfinite(x) else f"{100 * x:.1f}"


def test_comparison_frame_matches_the_text(store, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")
    df = bench.table("comparison", tracking_uri=store)
    text = bench.render_table("comparison", tracking_uri=store)
    ok = df[df["status"] == "ok"]
    assert set(ok["model"]) == {"majority", "prior"}
    for _, r in ok.iterrows():
        assert f"{_pct(r['mean'])} ± {_pct(r['std'])}" in text and f"n={r['n']}" in text
        assert r["chance"]  # both are trivial baselines
    prior = ok[ok["model"] == "prior"]
    assert prior["p"].isna().all()  # no MT-CNN run: no paired test against it
    missing = df[df["missing"]]
    assert not missing.empty and (missing["status"] != "ok").all() and missing["mean"].isna().all()
    assert {"table", "protocol", "split", "task", "ci_low", "ci_high", "reported_percent"} <= set(df.columns)


def test_every_table_has_a_frame(store):
    shown = list_tables(store=load_store(store))
    assert "methods" in [s.name for s in list_tables()] and "methods" not in [s.name for s in shown]
    for spec in shown:
        df = bench.table(spec.name, tracking_uri=store)
        assert isinstance(df, pd.DataFrame) and not df.empty, spec.name
        assert {"table", "p", "missing"} <= set(df.columns)
    # a store without a training method's runs has no methods table (and no report section for one)
    with pytest.raises(ConfigError, match="no runs of a training method"):
        bench.table("methods", tracking_uri=store)


def test_bad_table_values(store):
    with pytest.raises(ConfigError, match="unknown table 'nope'"):
        bench.table("nope", tracking_uri=store)
    with pytest.raises(ConfigError, match="metric"):
        bench.table("comparison", tracking_uri=store, metric="nope")


def test_list_runs_is_the_cli_listing(store, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")
    runs = bench.list_runs(store)
    assert sorted(runs["model"]) == ["majority", "prior"] and runs["shown"].all()
    capsys.readouterr()
    assert main(["runs", "--tracking-uri", store]) == 0
    out = capsys.readouterr().out
    for _, r in runs.iterrows():
        assert f"{r['run_id'][:8]} *" in out and r["scale"] in out
    sets = bench.list_data_sets(store)
    assert len(sets) == 1 and sets["default"].all() and sets.loc[0, "n_runs"] == 2


def test_registries_list_every_entry():
    models = bench.list_models()
    assert list(models["name"]) == [m.name for m in registered_models()]
    assert pd.isna(models.set_index("name").loc["majority", "max_epochs"])
    assert models.set_index("name").loc["mtcnn", "max_epochs"] == 200
    assert (models["n_parameters"] >= 0).all()
    datasets = bench.list_datasets()
    assert list(datasets["name"]) == list(dataset_names())
    assert datasets.set_index("name").loc["deap", "n_subjects"] == 32
    info = bench.model_info("mtcnn")
    assert info["name"] == "mtcnn" and info["n_parameters"] > 0 and not info["layers"].empty
    assert info["layers"]["parameters"].sum() == info["n_parameters"]
    with pytest.raises(ConfigError, match="unknown model 'nope'"):
        bench.model_info("nope")


@pytest.mark.slow  # prepares every run of the smoke grid (~30 s)
def test_reproduce_plan_only(tmp_path):
    out = bench.reproduce(scale="smoke", plan_only=True, tracking_uri=f"sqlite:///{tmp_path}/m.db")
    assert out.result is None and out.report is None
    assert len(out.plans) == len(out.grid.entries) > 0
    assert not (tmp_path / "m.db").exists()


def test_report_writes_html(store, tmp_path):
    path = bench.report(tmp_path / "rep", tracking_uri=store)
    assert path.name == "report.html" and path.exists() and "majority" in path.read_text()
