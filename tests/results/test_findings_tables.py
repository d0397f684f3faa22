"""Findings of a new user's audit of the tables: every recorded run can be tabulated (``--where`` on any
setting shows its runs, and the fill-in commands carry the settings, the data folder and the tracking
URI as given); a grid's report lists as not run only what the grid asked for; the cross-dataset star
tests against the stronger constant; errors from Python name the Python argument.

The store: fast trivial-baseline runs (2 subjects x 6 trials, 2 folds) on a synthetic DEAP folder.
"""

from __future__ import annotations

import io
import math
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench import results as R
from bench.cli import main
from bench.core.errors import ConfigError
from bench.data.cache import prepare_features
from bench.data.features import FeatureConfig
from bench.data.source import open_deap
from bench.results.table import DASH, NOT_RUN
from tests.results.test_tables import _run

LR = 1e-4


@pytest.fixture(scope="module")
def env(tmp_path_factory, deap_dir, features):
    """Default runs of majority and prior, majority with a learning rate of 1e-4 (alone and with LR decay
    off), with a label threshold of 7, and on a second data set made by ``-F filter_order=4``."""
    root = tmp_path_factory.mktemp("findings")
    uri = f"sqlite:///{root}/mlflow.db"
    res = {
        "majority": _run(features, uri, "majority", "whole-set"),
        "prior": _run(features, uri, "prior", "whole-set"),
        "lr": _run(features, uri, "majority", "whole-set", lr=LR),
        "lr_nodecay": _run(features, uri, "majority", "whole-set", lr=LR, lr_decay=False),
        "t7": _run(features, uri, "majority", "whole-set", threshold=7.0),
    }
    fc = FeatureConfig(filter_order=4)
    other = prepare_features(open_deap(deap_dir), fc, cache_dir=root / "cache")
    res["f4"] = _run(other, uri, "majority", "whole-set", feature_config=fc.to_dict())
    return {"uri": uri, "root": root, "res": res, "folder": deap_dir, "fp": features.fingerprint}


def _table(args: list[str], capsys) -> tuple[pd.DataFrame, str]:
    """``bench table ... -f csv`` (the tidy numbers) and ``-f md`` (notes and fill-in commands)."""
    capsys.readouterr()
    assert main([*args, "-f", "csv"]) == 0
    data = pd.read_csv(io.StringIO(capsys.readouterr().out), keep_default_na=False)
    assert main([*args, "-f", "md"]) == 0
    return data, capsys.readouterr().out


def _commands(md: str) -> list[str]:
    return [line for line in md.splitlines() if line.startswith("bench run ")]


def _cell(data: pd.DataFrame, model: str, **where) -> pd.DataFrame:
    d = data[(data["model"] == model) & (data["task"] == "valence")]
    for k, v in where.items():
        d = d[d[k] == v]
    return d


def _id(env, name: str) -> str:
    return env["res"][name].parent_run_id


# ---------------------------------------------------------------------------------- 1. --where
def test_where_on_any_setting_shows_its_runs_in_every_table(env, capsys):
    base = ["table", "comparison", "--tracking-uri", env["uri"]]
    data, md = _table([*base, "--where", f"train.lr={LR}"], capsys)
    shown = _cell(data, "majority", protocol="whole-set")
    assert shown["status"].tolist() == ["ok"] and shown["run_id"].tolist() == [_id(env, "lr")]
    # the note says which settings picked the runs and which variant of theirs the cell shows
    variant = R.load_store(env["uri"]).runs.set_index("run_id").loc[_id(env, "lr"), "variant"]
    assert variant.startswith("cfg-")
    assert f"runs picked with --where train.lr={LR}: every cell shows runs with these settings" in md
    assert (
        f"variants as `bench runs` lists them: {variant} as full; no-lr-decay+{variant} as no-lr-decay)" in md
    )
    # without --where the default run is shown, never the other learning rate
    data, _ = _table(base, capsys)
    assert _cell(data, "majority", protocol="whole-set")["run_id"].tolist() == [_id(env, "majority")]
    # the label threshold: a setting without a flag, the same way
    data, _ = _table([*base, "--where", "threshold=7"], capsys)
    assert _cell(data, "majority", protocol="whole-set")["run_id"].tolist() == [_id(env, "t7")]
    # the leaderboard and the protocols table show the picked runs too
    data, _ = _table(["table", "protocols", "--tracking-uri", env["uri"], "--where", "threshold=7"], capsys)
    assert set(data.loc[data["status"] == "ok", "run_id"]) == {_id(env, "t7")}
    data, _ = _table(["table", "leaderboard", "--tracking-uri", env["uri"], "--where", "threshold=7"], capsys)
    assert data["run_id"].tolist() == [_id(env, "t7")] and data["variant"].tolist() == ["full"]


def test_where_never_combines_runs_of_other_settings(env, capsys):
    """With the learning rate fixed, LR decay off is still its own cell: the ablation's no-lr-decay row,
    not a second run of the full cell."""
    args = ["table", "ablation", "--tracking-uri", env["uri"], "--model", "majority"]
    data, _ = _table([*args, "--where", f"train.lr={LR}"], capsys)
    ok = data[(data["status"] == "ok") & (data["task"] == "valence")].set_index("variant")["run_id"]
    assert ok.to_dict() == {"full": _id(env, "lr"), "no-lr-decay": _id(env, "lr_nodecay")}
    store = R.load_store(env["uri"], where=[f"train.lr={LR}"])
    assert sorted(store.runs["variant"]) == ["full", "no-lr-decay"]  # one run each: nothing combined
    own = store.runs.set_index("run_id")["run_variant"]
    assert own[_id(env, "lr")].startswith("cfg-") and own[_id(env, "lr_nodecay")].startswith(
        "no-lr-decay+cfg-"
    )
    # a variant that would change a fixed setting cannot exist under it: a dash, no command
    store = R.load_store(env["uri"], where=[f"train.lr={LR}", "train.lr_decay=false"])
    [tab] = R.build("ablation", store, model="majority")
    fr = tab.frame.set_index(["variant", "task"])
    assert fr.loc[("no-lr-decay", "valence"), "accuracy"] == DASH
    assert not any("--split trial --no-lr-decay --folds" in c for c in tab.commands)
    assert fr.loc[("full", "valence"), "accuracy"] != NOT_RUN  # the run with both settings
    assert fr.loc[("only-de", "valence"), "accuracy"] == NOT_RUN
    only_de = next(c for c in tab.commands if "--features de " in c)
    assert f"--lr {LR} --no-lr-decay" in only_de  # it carries the fixed settings


def test_variant_where_shows_that_variants_runs(env):
    variant = R.load_store(env["uri"]).runs.set_index("run_id").loc[_id(env, "t7"), "variant"]
    store = R.load_store(env["uri"], where=[f"variant={variant}"])
    [tab] = R.build("comparison", store)
    ok = tab.data[(tab.data["status"] == "ok") & (tab.data["task"] == "valence")]
    assert ok["run_id"].tolist() == [_id(env, "t7")]
    prior = next(c for c in tab.commands if "--model prior " in c)
    assert "threshold = 7.0" in prior  # the command makes that variant's settings


def test_feature_setting_where_picks_its_data_set(env, capsys):
    """-F makes a data set of its own: --where on it picks that data set, and the command carries -F."""
    data, md = _table(
        ["table", "comparison", "--tracking-uri", env["uri"], "--where", "feature_config.filter_order=4"],
        capsys,
    )
    assert _cell(data, "majority", protocol="whole-set")["run_id"].tolist() == [_id(env, "f4")]
    prior = next(c for c in _commands(md) if "--model prior " in c)
    assert "-F filter_order=4" in prior
    assert R.load_store(env["uri"]).fingerprint == env["fp"]  # without --where: the main data set


# ---------------------------------------------------------------------------- fill-in commands
def _copy_store(env, tmp_path) -> str:
    shutil.copy(env["root"] / "mlflow.db", tmp_path / "mlflow.db")
    return f"sqlite:///{tmp_path / 'mlflow.db'}"


def test_fill_in_command_carries_the_settings_and_lands_in_its_cell(env, tmp_path, capsys):
    uri = _copy_store(env, tmp_path)
    store = R.load_store(uri, where=[f"train.lr={LR}"])
    [tab] = R.build("comparison", store)
    [cmd] = [c for c in tab.commands if "--model prior " in c]
    assert cmd == (
        f"bench run --model prior --protocol whole-set --split trial --folds 2 --epochs 1 --lr {LR} "
        f"--deap {env['folder']} --tracking-uri {uri}"
    )
    # pasted, it fills exactly that cell of the same table
    assert main(shlex.split(cmd)[1:] + ["--quiet"]) == 0
    [tab] = R.build("comparison", R.load_store(uri, where=[f"train.lr={LR}"]))
    prior = tab.data[(tab.data["model"] == "prior") & (tab.data["status"] == "ok")]
    assert len(prior) == 2 and not any("--model prior " in c for c in tab.commands)


def test_settings_without_a_flag_go_to_an_inline_config(env):
    store = R.load_store(env["uri"], where=["threshold=7", "train.lr_decay=true"])
    [tab] = R.build("comparison", store)
    cmd = next(c for c in tab.commands if "--model prior " in c)
    inline = re.search(r"--config <\(printf '%s\\n' (.*?)\)", cmd)
    assert inline is not None, cmd
    lines = shlex.split(inline.group(1))
    assert tomllib.loads("\n".join(lines)) == {"threshold": 7.0, "train": {"lr_decay": True}}


@pytest.mark.slow
def test_inline_config_command_pasted_into_bash_lands_in_its_cell(env, tmp_path):
    """The same, through a real shell (process substitution): ~20 s of process start-up on 2 cores."""
    uri = _copy_store(env, tmp_path)
    [tab] = R.build("comparison", R.load_store(uri, where=["threshold=7"]))
    cmd = next(c for c in tab.commands if "--model prior " in c)
    bench = Path(sys.executable).with_name("bench")
    run = subprocess.run(["bash", "-c", cmd.replace("bench run", f"{bench} run", 1) + " -q"],
                         capture_output=True, text=True, env=os.environ.copy(), timeout=300)  # fmt: skip
    assert run.returncode == 0, run.stderr
    [tab] = R.build("comparison", R.load_store(uri, where=["threshold=7"]))
    assert (tab.data.loc[tab.data["model"] == "prior", "status"] == "ok").all()


def test_tracking_uri_as_given_and_the_folder_the_runs_read(env, tmp_path, monkeypatch, capsys):
    _copy_store(env, tmp_path)
    monkeypatch.chdir(tmp_path)  # the default store ./mlflow.db
    _, md = _table(["table", "comparison"], capsys)
    cmds = _commands(md)
    assert cmds and not any("--tracking-uri" in c for c in cmds)  # none given: none in the command
    # a synthetic folder, not the embedded twin: the folder, never --synthetic
    assert all(c.endswith(f" --deap {env['folder']}") and "--synthetic" not in c for c in cmds)
    _, md = _table(["table", "comparison", "--tracking-uri", "sqlite:///mlflow.db"], capsys)
    assert all(c.endswith(" --tracking-uri sqlite:///mlflow.db") for c in _commands(md))
    monkeypatch.setenv("DEAP_DIR", str(env["folder"]))
    _, md = _table(["table", "comparison"], capsys)
    assert all(c.endswith(' --deap "$DEAP_DIR"') for c in _commands(md))


def test_bench_runs_footer_names_a_where_that_works(env, capsys, wide_console):
    assert main(["runs", "--tracking-uri", env["uri"]]) == 0
    out = capsys.readouterr().out
    example = re.search(r"\(e\.g\. --where (\S+)\)", out.replace("\n", " "))
    assert example is not None, out
    store = R.load_store(env["uri"], where=[example.group(1)])
    [tab] = R.build("leaderboard", store)
    assert "full" in set(tab.data["variant"])  # the runs it picks are tabulated


# ------------------------------------------------------------------------- the grid's report
def test_grid_report_lists_as_not_run_only_what_the_grid_asked_for(env, tmp_path, capsys):
    grid = tmp_path / "mini.toml"
    grid.write_text(
        'name = "mini"\n[scale]\nsubjects = "all"\nn_folds = 2\nmax_epochs = 1\nseeds = [0]\n'
        '[[runs]]\nmodels = ["majority", "prior"]\nprotocols = ["whole-set", "subject-specific"]\n'
    )
    out = tmp_path / "report"
    args = ["report", "--grid", str(grid), "--deap", str(env["folder"]), "--tracking-uri", env["uri"]]
    assert main([*args, "--out", str(out)]) == 0
    comparison = pd.read_csv(out / "tables" / "comparison.csv", keep_default_na=False)
    assert set(comparison["model"]) == {"majority", "prior"}  # not every registered model as "not run"
    assert set(comparison["status"]) == {"ok"}
    protocols = pd.read_csv(out / "tables" / "protocols.csv", keep_default_na=False)
    asked = {"whole-set", "subject-specific"}
    assert set(protocols.loc[protocols["status"] == "not run", "protocol"]) <= asked
    assert set(protocols.loc[~protocols["protocol"].isin(asked), "status"]) == {"not asked"}
    md = (out / "report.md").read_text()
    runs = _commands(md)
    assert runs and all("--protocol subject-specific" in c for c in runs)
    assert {re.search(r"--model (\S+)", c).group(1) for c in runs} == {"majority", "prior"}


def test_store_asking_keeps_every_cell_it_names(env):
    store = R.load_store(env["uri"]).asking([("majority", "whole-set", "trial", "none", "full")])
    [tab] = R.build("comparison", store)
    assert tab.frame["model"].tolist() == ["majority", "prior"]  # prior has runs: shown, never hidden
    assert tab.commands == []


# -------------------------------------------------------------------------------- 2. cross-dataset
def _parent(run_id: str, model: str, pair: tuple[str, str]) -> dict:
    return {
        "run_id": run_id, "model": model, "protocol": "cross-dataset", "split": "dataset", "audit": "none",
        "variant": "full", "run_variant": "full", "leaky": False, "fingerprint": "f" * 16,
        "data_kind": "cross-dataset-synthetic", "code_version": "x", "folds_fp": "same", "settings": {},
        "scale": {}, "scale_sig": "{}", "tuned": "", "n_subjects": 6, "n_trials": 4, "n_folds": 5, "seed": 0,
        "subjects": None, "epochs": 1, "start_time": 1, "end_time": 2, "per_subject": True, "config": {},
        "tags": {"dataset": ">".join(pair)}, "source": "", "pair": pair,
    }  # fmt: skip


def _units(run_id: str, acc: list[float], f1: list[float]) -> list[dict]:
    return [
        {"parent_id": run_id, "unit": "u", "base": f"u-s{s:02d}", "fold": 1, "subject": s, "task": task,
         "acc": a, "balanced_acc": 0.5, "f1_macro": f, "auc": 0.5, "trial_acc": a, "trial_balanced_acc": 0.5,
         "n_train": 100.0, "n_test": 40.0, "n_test_trials": 4.0, "n_test_subjects": 1.0, "fit_seconds": 1.0,
         "wall_seconds": 1.0}
        for s, (a, f) in enumerate(zip(acc, f1, strict=True), start=1)
        for task in ("valence", "arousal")
    ]  # fmt: skip


@pytest.fixture
def minority_pair(monkeypatch):
    """One pair whose training majority class is every test subject's minority (majority accuracy 0.3 to
    0.4): a model answering the other constant beats the majority baseline on each of 6 subjects, a real
    model beats the other constant too."""
    from bench.results import crossdataset as X
    from bench.results.store import Store

    maj = np.array([0.30, 0.35, 0.40, 0.32, 0.38, 0.36])
    const_f1 = list(maj / (1 + maj))  # the macro-F1 of always answering a class of share p: p / (1 + p)
    other = 1 - maj
    pair = ("deap", "dreamer")
    parents = pd.DataFrame(
        [_parent("maj", "majority", pair), _parent("flip", "flipper", pair), _parent("good", "good", pair)]
    )
    units = pd.DataFrame(
        _units("maj", list(maj), const_f1)
        + _units("flip", list(other), list(other / (1 + other)))
        + _units("good", list(other + 0.05), list(other / (1 + other) + 0.05))
    )
    store = Store("cross-dataset-synthetic", "*", None, parents, parents, units)
    monkeypatch.setattr(X, "cross_store", lambda s: store)
    return {"store": store, "maj": maj, "other": other}


def _cross(minority_pair, model: str, metric: str = "acc") -> tuple[R.Table, pd.Series, str]:
    """The table of one model, its valence row of numbers and its printed valence cell."""
    [tab] = R.build("cross-dataset", minority_pair["store"], metric=metric, model=model)
    text = tab.frame[tab.frame["task"] == "valence"].iloc[0][tab.frame.columns[-1]]
    return tab, tab.data[tab.data["task"] == "valence"].iloc[0], text


def test_cross_dataset_star_tests_against_the_stronger_constant(minority_pair):
    _, flip, text = _cross(minority_pair, "flipper")
    assert flip["p_vs_majority"] == pytest.approx(1 / 64)  # it beats the majority run on all 6 subjects ...
    assert flip["reference"] == "oracle constant" and flip["p_vs_reference"] == 1.0  # ... being that constant
    assert "*" not in text.split("|")[0]
    assert flip["best_constant"] == pytest.approx(float(np.mean(minority_pair["other"])), abs=1e-12)
    tab, good, text = _cross(minority_pair, "good")
    assert good["p_vs_reference"] == pytest.approx(1 / 64)  # above the stronger constant on every subject
    assert text.split("|")[0].rstrip().endswith("*")
    # labelled as what it is: computed from the test labels, a reference, not a model
    assert f"oracle const {100 * np.mean(minority_pair['other']):.1f}" in text
    assert any("chosen with the TEST labels: an oracle reference, not a model" in n for n in tab.notes)


def test_cross_dataset_best_constant_of_macro_f1(minority_pair):
    """For macro-F1 the other constant is not 1 - the majority's F1 but q / (1 + q), q = 1 - its share."""
    _, flip, _ = _cross(minority_pair, "flipper", metric="f1")
    other = minority_pair["other"]
    assert flip["best_constant"] == pytest.approx(float(np.mean(other / (1 + other))), abs=1e-12)
    assert flip["reference"] == "oracle constant" and flip["p_vs_reference"] == 1.0


# ------------------------------------------------------------------ 3. errors name the argument
def test_errors_from_python_name_the_argument_and_the_cli_the_flag(env, capsys):
    uri = env["uri"]
    with pytest.raises(ConfigError, match=r"^where='bogus\.key': no run has this setting"):
        R.load_store(uri, where=["bogus.key=1"])
    with pytest.raises(ConfigError, match=r"^where='seed': expected key=value, e\.g\. where=\['train"):
        R.load_store(uri, where=["seed"])
    with pytest.raises(ConfigError, match=r"^data='mars' is not allowed"):
        R.load_store(uri, data="mars")
    with pytest.raises(ConfigError, match=r"^fingerprint='0bad': no data set"):
        R.load_store(uri, fingerprint="0bad")
    with pytest.raises(ConfigError, match=r"^metric='kappa' is not allowed"):
        R.build("comparison", R.load_store(uri), metric="kappa")
    with pytest.raises(ConfigError, match=r"^where=\['seed=9'\]: no finished synthetic run"):
        R.load_store(uri, where=["seed=9"])
    for args, message in (
        (["--where", "bogus.key=1"], "--where bogus.key: no run has this setting"),
        (["--where", "seed"], "--where seed: expected key=value, e.g. --where train.max_epochs=200"),
        (["--fingerprint", "0bad"], "--fingerprint '0bad': no data set"),
        (["--where", "seed=9"], "--where seed=9: no finished synthetic run"),
    ):
        capsys.readouterr()
        assert main(["table", "comparison", "--tracking-uri", uri, *args]) == 2
        err = capsys.readouterr().err
        assert message in err and err.strip().count("\n") == 0, err


def test_cross_dataset_model_error_names_the_argument(minority_pair, capsys):
    with pytest.raises(ConfigError, match=r"^model='nope': no cross-dataset runs"):
        R.build("cross-dataset", minority_pair["store"], model="nope")


def test_where_values_of_json_types(env):
    """A where value reads as JSON (true, 7, 1e-4) and compares with the runs' own values."""
    assert len(R.load_store(env["uri"], where=["train.lr_decay=false"]).runs) == 1
    assert len(R.load_store(env["uri"], where="threshold=7").runs) == 1  # one condition as a string
    lrs = [r["train"]["lr"] for r in R.load_store(env["uri"], where=["train.lr=1e-4"]).runs["config"]]
    assert len(lrs) == 2 and all(math.isclose(x, LR) for x in lrs)


def test_cross_dataset_table_of_the_baseline_alone_says_so(monkeypatch):
    """A store with only the majority baseline's cross-dataset runs: one line saying why nothing is shown
    and how to fill it, instead of an empty output with exit 0; --model majority still shows it."""
    from bench.core.errors import ConfigError
    from bench.results import crossdataset as X
    from bench.results.store import Store

    parents = pd.DataFrame([_parent("maj", "majority", ("deap", "dreamer"))])
    units = pd.DataFrame(_units("maj", [0.4, 0.5, 0.6, 0.5, 0.4, 0.6], [0.3] * 6))
    store = Store("cross-dataset-synthetic", "*", None, parents, parents, units)
    monkeypatch.setattr(X, "cross_store", lambda s: store)
    with pytest.raises(
        ConfigError, match=r"^only the majority baseline has cross-dataset runs in .*--model majority"
    ):
        R.build("cross-dataset", store)
    [tab] = R.build("cross-dataset", store, model="majority")
    assert tab.data["mean"].notna().any()
