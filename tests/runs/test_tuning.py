"""`bench tune`: Optuna search of the multi-task loss weights on validation folds only.

Real trainings use a tiny synthetic DEAP (2 subjects x 8 trials, 3 s windows: 320 samples, folds of
120 train / 40 val / 160 test) and 1 epoch; the pruning and Ctrl-C paths use a deterministic stub.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import optuna
import pytest
import torch

import bench.runs.tuning_space
import bench.runs.tuning_trials
import bench.runs.unit
from bench.cli import main
from bench.config.run import RunConfig
from bench.core.errors import ConfigError
from bench.data.cache import prepare_features
from bench.data.features import FeatureConfig
from bench.data.source import open_deap
from bench.data.synthetic import SyntheticConfig, write_synthetic_deap
from bench.runs.runner import prepare
from bench.runs.tuning import run_study
from bench.runs.tuning_space import ratio_to_weights, tune_folds_of
from bench.runs.tuning_study import best_weights
from bench.tracking.store import EXPERIMENTS, TAG

FEATURES = {"window_s": 3.0}
CFG = RunConfig(n_folds=2, feature_config=FEATURES, seed=0).with_train(max_epochs=1)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("tune-data")
    folder = root / "deap"
    write_synthetic_deap(folder, SyntheticConfig(n_subjects=2, n_trials=8, seed=0))
    fs = prepare_features(open_deap(folder), FeatureConfig.from_dict(FEATURES), cache_dir=root / "cache")
    return folder, fs


@pytest.fixture
def stores(tmp_path):
    return f"sqlite:///{tmp_path / 'optuna.db'}", f"sqlite:///{tmp_path / 'mlflow.db'}"


def _mlflow(uri: str):
    from mlflow.tracking import MlflowClient

    cl = MlflowClient(tracking_uri=uri)
    exp = cl.get_experiment_by_name(EXPERIMENTS["synthetic"]).experiment_id
    return cl, exp


def _runs(cl, exp, role: str, **tags):
    flt = f"tags.`{TAG}role` = '{role}'" + "".join(f" and tags.`{k}` = '{v}'" for k, v in tags.items())
    return cl.search_runs([exp], filter_string=flt, max_results=1000)


def _stub(calls: list, interrupt_at: int | None = None):
    """A deterministic score_fold: value 1 + |log2 r| at every epoch (r = 1 is the unique optimum)."""

    def fake(p, unit, fold, device, objective, on_epoch=None):
        calls.append(p.config.train.loss_weights)
        if interrupt_at is not None and len(calls) == interrupt_at:
            raise KeyboardInterrupt
        wv, wa = p.config.train.loss_weights
        v = 1.0 + abs(math.log2(wv / wa))
        for epoch in (1, 2):
            on_epoch({"epoch": epoch, "valid_loss": v, "valid_ref_loss": v, "objective": v})
        return v, []

    return fake


# ------------------------------------------------------------------------------------ parametrisation
def test_ratio_parametrisation_keeps_sum_and_paper_point():
    assert ratio_to_weights(1.0) == (1.0, 1.0)
    for r in (0.125, 0.5, 3.0, 8.0):
        wv, wa = ratio_to_weights(r)
        assert wv + wa == pytest.approx(2.0, abs=1e-6)
        assert wv / wa == pytest.approx(r, rel=1e-4)
    with pytest.raises(ConfigError):
        ratio_to_weights(0.0)


# ------------------------------------------------------------------------------ real study end to end
def test_study_completes_tracks_resumes_and_feeds_bench_run(data, stores, capsys):
    folder, fs = data
    storage, uri = stores
    res = run_study(CFG, n_trials=3, study_name="s1", storage=storage, features=fs, tracking_uri=uri)
    assert (res.n_new, res.n_complete, res.n_pruned, res.n_fail) == (3, 3, 0, 0)
    assert res.trials[0].params == {"log2_ratio": 0.0}  # the paper's (1, 1) is always trial 0
    assert res.best is not None and sum(res.best.weights) == pytest.approx(2.0, abs=1e-5)
    assert any("importances skipped" in n for n in res.notes)  # one parameter only

    cl, exp = _mlflow(uri)
    (parent,) = _runs(cl, exp, "study", **{f"{TAG}study": "s1"})
    assert parent.info.run_id == res.parent_run_id and parent.info.status == "FINISHED"
    assert parent.data.metrics["best_w_valence"] == pytest.approx(res.best.weights[0])
    assert parent.data.tags[f"{TAG}best_trial"] == str(res.best.trial)
    arts = {a.path for a in cl.list_artifacts(parent.info.run_id)}
    assert {"optimization_history.png", "trials.csv", "notes.txt"} <= arts
    trials = _runs(cl, exp, "trial", **{f"{TAG}study": "s1"})
    assert len(trials) == 3
    for run in trials:
        assert run.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert run.data.tags[f"{TAG}trial_state"] == "COMPLETE" and run.info.status == "FINISHED"
        assert {"log2_ratio", "w_valence", "w_arousal"} <= set(run.data.params)
        assert math.isfinite(run.data.metrics["objective"])
        assert "valid_loss" in run.data.metrics and "valid_objective" in run.data.metrics
    # at the paper's weights the reference loss L_v + L_a is the trainer's own validation loss
    (t0,) = [r for r in trials if r.data.tags[f"{TAG}trial_number"] == "0"]
    assert t0.data.metrics["valid_ref_loss"] == pytest.approx(t0.data.metrics["valid_loss"], abs=1e-4)

    # re-running resumes the same study and the same MLflow parent
    res2 = run_study(CFG, n_trials=1, study_name="s1", storage=storage, features=fs, tracking_uri=uri)
    assert res2.n_new == 1 and len(res2.trials) == 4 and res2.parent_run_id == res.parent_run_id
    assert len(_runs(cl, exp, "trial", **{f"{TAG}study": "s1"})) == 4
    # ... but not with another config
    with pytest.raises(ConfigError, match="different config_fingerprint"):
        run_study(CFG.with_train(lr=5e-4), n_trials=1, study_name="s1", storage=storage, features=fs,
                  tracking_uri=uri)  # fmt: skip

    tuned = best_weights("s1", storage)
    assert tuned.weights == res2.best.weights and tuned.trial == res2.best.trial

    # the tuned weights feed one evaluation run on the test folds
    rc = main(["run", "--deap", str(folder), "--folds", "2", "--epochs", "1", "-F", "window_s=3.0",
               "--loss-weights", "tuned:s1", "--storage", storage, "--tracking-uri", uri])  # fmt: skip
    assert rc == 0, capsys.readouterr().err
    (run,) = _runs(cl, exp, "parent")
    assert json.loads(run.data.params["train.loss_weights"]) == list(tuned.weights)
    assert run.data.tags[f"{TAG}tuned_from"] == "s1"
    assert run.data.tags[f"{TAG}tuned_trial"] == str(tuned.trial)


def test_no_test_fold_is_used(data, stores, monkeypatch):
    """Test rows are poisoned with NaN and every tensor handed to training/scoring is counted."""
    _, fs = data
    storage, uri = stores
    p = prepare(CFG, features=fs)
    ((unit, fold),) = tune_folds_of(p, 1)
    x = np.array(p.inputs.x, copy=True)
    x[fold.test] = np.nan
    p = replace(p, inputs=replace(p.inputs, x=x))
    seen = {"fit": [], "predict": []}
    real_fit, real_predict = bench.runs.unit.fit, bench.runs.tuning_space.predict_proba

    def spy_fit(model, x_train, y_train, x_val, y_val, **kw):
        assert torch.isfinite(x_train).all() and torch.isfinite(x_val).all()
        seen["fit"].append((x_train.shape[0], x_val.shape[0]))
        return real_fit(model, x_train, y_train, x_val, y_val, **kw)

    def spy_predict(model, xs, **kw):
        assert torch.isfinite(xs).all()
        seen["predict"].append(xs.shape[0])
        return real_predict(model, xs, **kw)

    monkeypatch.setattr(bench.runs.unit, "fit", spy_fit)
    monkeypatch.setattr(bench.runs.unit, "predict_proba", spy_predict)
    monkeypatch.setattr(bench.runs.tuning_space, "predict_proba", spy_predict)
    res = run_study(CFG, n_trials=1, study_name="leak", storage=storage, prepared=p, tracking_uri=uri)
    assert res.n_complete == 1 and math.isfinite(res.best.value)
    assert seen["fit"] == [(len(fold.train), len(fold.val))]
    assert seen["predict"] and set(seen["predict"]) == {len(fold.val)}
    assert len(fold.test) not in {len(fold.train), len(fold.val)}


def test_pruning_real_training(data, stores):
    _, fs = data
    storage, uri = stores
    cfg = CFG.with_train(max_epochs=2)
    res = run_study(cfg, n_trials=1, study_name="pr", storage=storage, features=fs, tracking_uri=uri,
                    pruner=optuna.pruners.ThresholdPruner(upper=0.0))  # fmt: skip
    assert (res.n_complete, res.n_pruned) == (0, 1) and res.best is None
    cl, exp = _mlflow(uri)
    (run,) = _runs(cl, exp, "trial", **{f"{TAG}study": "pr"})
    assert run.data.tags[f"{TAG}trial_state"] == "PRUNED"
    assert len(cl.get_metric_history(run.info.run_id, "valid_loss")) == 1  # stopped after epoch 1
    with pytest.raises(ConfigError, match="no completed trial"):
        best_weights("pr", storage)
    with pytest.raises(ConfigError, match="not found"):
        best_weights("nope", storage)


def test_median_pruner_prunes_worse_trials(data, stores, monkeypatch):
    _, fs = data
    storage, uri = stores
    calls: list = []
    monkeypatch.setattr(bench.runs.tuning_trials, "score_fold", _stub(calls))
    res = run_study(CFG, n_trials=4, study_name="med", storage=storage, features=fs, tracking_uri=uri,
                    pruner=optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=0))  # fmt: skip
    assert [t.state.name for t in res.trials] == ["COMPLETE", "PRUNED", "PRUNED", "PRUNED"]
    assert res.best.weights == (1.0, 1.0) and res.best.value == 1.0
    cl, exp = _mlflow(uri)
    states = sorted(r.data.tags[f"{TAG}trial_state"] for r in _runs(cl, exp, "trial"))
    assert states == ["COMPLETE", "PRUNED", "PRUNED", "PRUNED"]


def test_ctrl_c_stops_cleanly_and_keeps_finished_trials(data, stores, monkeypatch):
    _, fs = data
    storage, uri = stores
    calls: list = []
    monkeypatch.setattr(bench.runs.tuning_trials, "score_fold", _stub(calls, interrupt_at=2))
    res = run_study(CFG, n_trials=5, study_name="kb", storage=storage, features=fs, tracking_uri=uri)
    assert res.interrupted and len(calls) == 2
    assert [t.state.name for t in res.trials] == ["COMPLETE", "FAIL"]
    cl, exp = _mlflow(uri)
    assert cl.get_run(res.parent_run_id).info.status == "KILLED"
    assert best_weights("kb", storage).weights == (1.0, 1.0)


@pytest.mark.slow  # several processes: 6-10 s quiet, far more on a loaded box
def test_two_processes_share_one_sqlite_storage(data, stores):
    _, fs = data
    storage, uri = stores
    res = run_study(
        CFG, n_trials=2, n_jobs=2, study_name="mp", storage=storage, features=fs, tracking_uri=uri
    )
    assert res.n_new == 2 and res.n_complete == 2 and not res.interrupted
    study = optuna.load_study(study_name="mp", storage=storage)
    assert len(study.trials) == 2 and {t.number for t in study.trials} == {0, 1}
    cl, exp = _mlflow(uri)
    runs = _runs(cl, exp, "trial", **{f"{TAG}study": "mp"})
    assert len(runs) == 2 and {r.data.tags["mlflow.parentRunId"] for r in runs} == {res.parent_run_id}


# ---------------------------------------------------------------------------------------- user errors
@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["tune", "--space", "bogus"], "--space='bogus' is not allowed"),
        (["tune", "--trials", "0"], "--trials 0"),
        (["tune", "--model", "nope"], "unknown model 'nope'"),
        (["tune", "--model", "majority"], "multi-task"),
        (["tune", "--objective", "test-acc"], "--objective"),
    ],
)
def test_cli_user_errors_are_one_line(argv, needle, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1, err


def test_run_tuned_weights_errors(tmp_path, capsys):
    missing = f"sqlite:///{tmp_path / 'none.db'}"
    assert main(["run", "--loss-weights", "tuned:x", "--storage", missing]) == 2
    assert "no Optuna storage" in capsys.readouterr().err
    assert not Path(tmp_path / "none.db").exists()
    assert main(["run", "--loss-weights", "1,1", "--storage", missing]) == 2
    assert "--storage only applies" in capsys.readouterr().err


def test_tuning_refuses_a_training_method(tmp_path, capsys):
    """Tuning's folds train the bare model: a method given in a config file is refused, not dropped."""
    cfg = tmp_path / "run.toml"
    cfg.write_text('method = "dann"\n')
    assert main(["tune", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err.strip()
    assert "tuning does not apply training methods yet; drop method='dann'" in err, err
    assert len(err.splitlines()) == 1
