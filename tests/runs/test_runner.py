"""The runner against a real local MLflow store: contents, resume, determinism, leakage rules."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import bench.runs.runner as runner
import bench.runs.unit
from bench.config.run import RunConfig, TrainConfig
from bench.core.metrics import predicted_class, trial_metrics
from bench.data.cache import prepare_features
from bench.data.source import open_deap
from bench.data.synthetic import SyntheticConfig, write_synthetic_deap
from bench.tracking.store import TAG, child_runs, client, experiment_id
from bench.training.trainer import Standardiser


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("syn") / "data"
    write_synthetic_deap(folder, SyntheticConfig(n_subjects=3, n_trials=8, seed=0))
    return folder


@pytest.fixture(scope="module")
def features(data_dir, tmp_path_factory):
    return prepare_features(open_deap(data_dir), cache_dir=tmp_path_factory.mktemp("cache"))


@pytest.fixture
def uri(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'mlflow.db'}"


def _cfg(**kw) -> RunConfig:
    train = kw.pop("train", {})
    base = {"model": "mtcnn", "protocol": "whole-set", "n_folds": 2, "seed": 0}
    return RunConfig(**{**base, **kw}, train=TrainConfig(**{"max_epochs": 1, **train}))


def _run(cfg, features, uri, **kw):
    return runner.run_experiment(cfg, tracking_uri=uri, prepared=runner.prepare(cfg, features=features), **kw)


def _parents(uri):
    cl = client(uri)
    exp = experiment_id(cl, "synthetic")
    return cl, exp, cl.search_runs([exp], filter_string=f"tags.`{TAG}role` = 'parent'")


def test_tracking_contents(features, uri, tmp_path):
    res = _run(_cfg(), features, uri)
    cl, exp, parents = _parents(uri)
    assert len(parents) == 1
    parent = parents[0]
    tags, params, metrics = parent.data.tags, parent.data.params, parent.data.metrics
    assert parent.info.status == "FINISHED" and parent.info.run_id == res.parent_run_id
    assert tags[f"{TAG}data_kind"] == "synthetic" and tags[f"{TAG}synthetic"] == "true"
    assert tags[f"{TAG}leaky"] == "false" and tags[f"{TAG}split"] == "trial"
    assert tags[f"{TAG}data_fingerprint"] == features.fingerprint
    assert tags[f"{TAG}code_version"] and tags[f"{TAG}package_version"]
    assert params["train.lr"] == "0.001" and params["train.loss_weights"] == "[1.0, 1.0]"
    assert params["model"] == "mtcnn" and params["split_resolved"] == "trial"
    mean = np.mean([u.metrics["test_acc_valence"] for u in res.units])
    assert metrics["acc_valence_mean"] == pytest.approx(mean)
    children = child_runs(cl, exp, parent.info.run_id)
    assert sorted(c.data.tags[f"{TAG}unit"] for c in children) == ["fold1", "fold2"]
    child = children[0]
    assert child.info.status == "FINISHED"
    for m in ("test_acc_valence", "test_auc_arousal", "test_f1_macro_valence", "test_balanced_acc_arousal"):
        assert 0 <= child.data.metrics[m] <= 1
    assert child.data.metrics["epochs_run"] == 1
    assert [m.step for m in cl.get_metric_history(child.info.run_id, "valid_loss")] == [1]
    names = {a.path for a in cl.list_artifacts(child.info.run_id)}
    assert {"predictions.csv", "history.csv", "learning_curve.png", "confusion.png"} <= names
    assert {"config.json", "feature_config.json", "folds.csv.gz"} <= {
        a.path for a in cl.list_artifacts(parent.info.run_id)
    }
    pred = pd.read_csv(cl.download_artifacts(child.info.run_id, "predictions.csv", str(tmp_path)))
    fold = int(child.data.tags[f"{TAG}fold"])
    assert len(pred) == len(res.units[fold - 1].predictions) == child.data.metrics["n_test"]
    acc = (predicted_class(pred["p_valence"].to_numpy()) == pred["y_valence"]).mean()
    assert acc == pytest.approx(child.data.metrics["test_acc_valence"])


def test_units_log_trial_level_metrics(features, uri, tmp_path):
    """Every unit logs the soft-vote trial metrics and its numbers of independent test units; the
    parent logs their mean and std."""
    res = _run(_cfg(split="segment"), features, uri)  # segment: a trial's windows spread over folds
    cl, exp, parents = _parents(uri)
    parent = parents[0]
    folds = pd.read_csv(cl.download_artifacts(parent.info.run_id, "folds.csv.gz", str(tmp_path)))
    children = child_runs(cl, exp, parent.info.run_id)
    assert len(children) == 2
    for child in children:
        m, fold = child.data.metrics, int(child.data.tags[f"{TAG}fold"])
        tested = folds[folds[f"fold{fold}"].str.startswith("test")]
        assert m["n_test_trials"] == len(tested[["subject", "trial"]].drop_duplicates())
        assert m["n_test_subjects"] == tested["subject"].nunique() == 3
        pred = pd.read_csv(
            cl.download_artifacts(child.info.run_id, "predictions.csv", str(tmp_path / str(fold)))
        )
        for t in ("valence", "arousal"):
            want = trial_metrics(pred["subject"], pred["trial"], pred[f"y_{t}"], pred[f"p_{t}"])
            assert m[f"test_trial_acc_{t}"] == pytest.approx(want["trial_acc"])
            assert m[f"test_trial_balanced_acc_{t}"] == pytest.approx(want["trial_balanced_acc"])
    for t in ("valence", "arousal"):
        mean = np.mean([u.metrics[f"test_trial_acc_{t}"] for u in res.units])
        assert parent.data.metrics[f"trial_acc_{t}_mean"] == pytest.approx(mean)
        assert f"trial_balanced_acc_{t}_std" in parent.data.metrics


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # nanmean / nanstd of missing values
def test_summary_tolerates_units_without_trial_metrics():
    """Units reused from runs older than the trial-level metrics lack them: NaN, skipped in the mean."""
    old = {"test_acc_valence": 0.6, "test_balanced_acc_valence": 0.5}
    new = {"test_acc_valence": 0.8, "test_balanced_acc_valence": 0.7, "test_trial_acc_valence": 0.9,
           "test_trial_balanced_acc_valence": 0.75}  # fmt: skip
    units = [
        runner.UnitResult(runner.Unit(f"fold{i}", i, None, ("valence",)), m) for i, m in ((1, old), (2, new))
    ]
    s = runner.summarise(units, ("valence",), per_subject=False)
    assert s["acc_valence_mean"] == pytest.approx(0.7) and s["trial_acc_valence_mean"] == pytest.approx(0.9)
    s = runner.summarise(units[:1], ("valence",), per_subject=False)  # all missing: NaN, not logged
    assert np.isnan(s["trial_acc_valence_mean"]) and s["acc_valence_mean"] == pytest.approx(0.6)


def test_resume_after_interrupt_reuses_finished_units(features, uri, monkeypatch):
    cfg = _cfg(model="majority")
    real = bench.runs.unit.run_unit
    calls = []

    def flaky(p, unit, fold, device, reporter=None):
        calls.append(unit.key)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(p, unit, fold, device, reporter)

    monkeypatch.setattr(bench.runs.unit, "run_unit", flaky)  # track_unit calls it
    with pytest.raises(KeyboardInterrupt):
        _run(cfg, features, uri)
    cl, exp, parents = _parents(uri)
    assert [p.info.status for p in parents] == ["KILLED"]
    statuses = sorted(c.info.status for c in child_runs(cl, exp, parents[0].info.run_id))
    assert statuses == ["FINISHED", "KILLED"]

    res = _run(cfg, features, uri)  # same command again: resumes
    assert [u.reused for u in res.units] == [True, False]
    assert calls == ["fold1", "fold2", "fold2"]
    cl, exp, parents = _parents(uri)
    assert [p.info.status for p in parents] == ["FINISHED"]
    again = _run(cfg, features, uri)
    assert all(u.reused for u in again.units) and len(calls) == 3
    assert again.summary == pytest.approx(res.summary)
    forced = _run(cfg, features, uri, force=True)
    assert not any(u.reused for u in forced.units)
    assert len(_parents(uri)[2]) == 2


@pytest.mark.slow  # ~40 s; the pool and grid tests also compare equal-seed runs number for number
def test_same_seed_same_numbers(features, uri):
    a = _run(_cfg(), features, uri)
    b = _run(_cfg(), features, uri, force=True)
    assert [u.metrics["test_acc_valence"] for u in a.units] == [
        u.metrics["test_acc_valence"] for u in b.units
    ]
    np.testing.assert_array_equal(a.units[0].predictions["p_arousal"], b.units[0].predictions["p_arousal"])
    c = _run(_cfg(seed=1), features, uri)
    assert not np.array_equal(a.units[0].predictions["p_arousal"], c.units[0].predictions["p_arousal"])


def test_test_fold_is_touched_once_and_normalisation_uses_train_only(features, monkeypatch):
    """fit() sees train/val rows only; the standardiser is fitted on the training rows; the test rows
    are predicted exactly once, by the final model."""
    cfg = _cfg(train={"max_epochs": 2})
    p = runner.prepare(cfg, features=features)
    x = torch.from_numpy(p.inputs.x)
    seen = {"fit": [], "std": [], "predict": []}
    real_fit, real_std, real_predict = (
        bench.runs.unit.fit,
        Standardiser.fit.__func__,
        bench.runs.unit.predict_proba,
    )

    def spy_fit(model, xt, yt, xv, yv, **kw):
        seen["fit"].append((xt.shape[0], xv.shape[0]))
        return real_fit(model, xt, yt, xv, yv, **kw)

    def spy_std(cls, xs):
        seen["std"].append(xs)
        return real_std(cls, xs)

    def spy_predict(model, xs, **kw):
        seen["predict"].append(xs.shape[0])
        return real_predict(model, xs, **kw)

    monkeypatch.setattr(bench.runs.unit, "fit", spy_fit)
    monkeypatch.setattr(Standardiser, "fit", classmethod(spy_std))
    monkeypatch.setattr(bench.runs.unit, "predict_proba", spy_predict)
    for unit, fold in p.units:
        assert not np.intersect1d(fold.val, fold.test).size
        seen["std"].clear()
        runner.run_unit(p, unit, fold, torch.device("cpu"))
        assert seen["fit"][-1] == (len(fold.train), len(fold.val))
        assert len(seen["std"]) == 1 and torch.equal(seen["std"][0], x[torch.from_numpy(fold.train)])
    assert seen["predict"] == [len(f.test) for _, f in p.units]


def test_select_on_test_audit_is_tagged_leaky(features, uri):
    res = _run(_cfg(model="majority", split="segment", audit=("select-on-test",)), features, uri)
    assert res.leaky
    _, _, parents = _parents(uri)
    tags = parents[0].data.tags
    assert tags[f"{TAG}leaky"] == "true" and tags[f"{TAG}audit"] == "select-on-test"


def test_majority_baseline_scores_the_majority_rate(features, uri):
    res = _run(_cfg(model="majority", protocol="subject-specific"), features, uri)
    assert len(res.units) == 3 * 2 and res.per_subject
    p = runner.prepare(_cfg(model="majority", protocol="subject-specific"), features=features)
    for (_, fold), u in zip(p.units, res.units, strict=True):
        y = p.inputs.labels
        for t, col in (("valence", 0), ("arousal", 1)):
            majority = int(y[fold.train, col].mean() > 0.5)  # a 50/50 tie predicts low
            assert u.metrics[f"test_acc_{t}"] == pytest.approx((y[fold.test, col] == majority).mean())


@pytest.mark.parametrize(
    "kw, n_units",
    [
        ({"protocol": "cross-subject", "n_folds": 3}, 3),  # leave-one-subject-out
        pytest.param({"protocol": "whole-set-finetune"}, 2, marks=pytest.mark.slow),  # 24 s
        pytest.param({"model": "fbccnn"}, 4, marks=pytest.mark.slow),  # single-task: a unit per fold and task
        pytest.param({"single_task": True}, 4, marks=pytest.mark.slow),
        ({"features": ("de",), "train": {"dropout": 0.0, "batch_norm": False}}, 2),
    ],
)
def test_protocol_and_ablation_variants_run(features, uri, kw, n_units):
    res = _run(_cfg(**kw), features, uri)
    assert len(res.units) == n_units
    assert all(
        0 <= res.summary[f"{m}_{t}_mean"] <= 1 for t in ("valence", "arousal") for m in ("acc", "trial_acc")
    )
    for u in res.units:  # whole-set-finetune rebuilds the test part per subject: counted from the final one
        pairs = u.predictions[["subject", "trial"]].drop_duplicates()
        assert u.metrics["n_test_trials"] == len(pairs) and u.metrics["n_test"] == len(u.predictions)
