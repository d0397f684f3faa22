"""What the MLflow UI shows of a run: the experiment's kind, run names, the data set, unit params, the
description and the unit models of ``--log-model``."""

from __future__ import annotations

import json
import socket
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

import bench.runs.runner as runner
from bench.cli import main
from bench.config.run import RunConfig, TrainConfig
from bench.models.registry import create_model
from bench.runs.plan import Unit
from bench.runs.unit_model import load_unit_model
from bench.runs.unit_tracking import unit_name
from bench.tracking.store import EXPERIMENTS, TAG, child_runs, client, experiment_id
from bench.training.trainer import predict_proba
from protocols.splits import Fold

KIND = ("mlflow.experimentKind", "custom_model_development")


def _cfg(**kw) -> RunConfig:
    train = kw.pop("train", {})
    base = {"model": "mtcnn", "protocol": "whole-set", "n_folds": 2, "seed": 0}
    return RunConfig(**{**base, **kw}, train=TrainConfig(**{"max_epochs": 1, **train}))


def _parent(cl, exp: str):
    (parent,) = cl.search_runs([exp], filter_string=f"tags.`{TAG}role` = 'parent'")
    return parent


@pytest.fixture(scope="module")
def tracked(features, tmp_path_factory):
    """One tracked MT-CNN run (2 subjects x 6 trials, 2 folds, 1 epoch) with ``log_model``."""
    uri = f"sqlite:///{tmp_path_factory.mktemp('store') / 'mlflow.db'}"
    cfg = _cfg(log_model=True)
    p = runner.prepare(cfg, features=features)
    res = runner.run_experiment(cfg, tracking_uri=uri, prepared=p)
    return uri, p, res


def test_experiments_open_on_training_runs(tmp_path):
    """New experiments carry the kind; an old one gets it when opened; a kind set by hand stays."""
    cl = client(f"sqlite:///{tmp_path / 'mlflow.db'}")
    exp = experiment_id(cl, "synthetic")
    assert cl.get_experiment(exp).tags[KIND[0]] == KIND[1]
    old = cl.create_experiment(EXPERIMENTS["deap"])  # as the harness created it before the tag
    assert KIND[0] not in cl.get_experiment(old).tags
    assert experiment_id(cl, "deap") == old
    assert cl.get_experiment(old).tags[KIND[0]] == KIND[1]
    cl.set_experiment_tag(old, KIND[0], "genai_development")
    experiment_id(cl, "deap")
    assert cl.get_experiment(old).tags[KIND[0]] == "genai_development"


def test_parent_and_units_show_the_dataset(tracked, features, deap_dir):
    uri, p, _ = tracked
    cl = client(uri)
    exp = experiment_id(cl, "synthetic")
    parent = _parent(cl, exp)
    runs = [parent, *child_runs(cl, exp, parent.info.run_id)]
    assert len(runs) == 3
    for run in runs:
        (item,) = run.inputs.dataset_inputs
        ds = item.dataset
        assert (ds.name, ds.digest, ds.source_type) == ("deap-synthetic", features.fingerprint, "local")
        assert json.loads(ds.source) == {"uri": str(deap_dir)}
        assert [(t.key, t.value) for t in item.tags] == [("mlflow.data.context", "train/valid/test")]
    profile = json.loads(ds.profile)
    assert profile["subjects"] == [1, 2] and profile["trials_per_subject"] == 6
    assert profile["windows_per_trial"] == 120 and profile["windows"] == 2 * 6 * 120
    assert profile["window_features"] == "2x4x32 (DE/PSD x bands x channels)"
    spec = json.loads(json.loads(ds.schema)["mlflow_tensorspec"]["features"])[0]["tensor-spec"]
    assert spec == {"dtype": "float32", "shape": [2, 6, 120, 2, 4, 32]}


def test_units_carry_their_params_and_names(tracked):
    uri, p, _ = tracked
    cl = client(uri)
    exp = experiment_id(cl, "synthetic")
    parent = _parent(cl, exp)
    children = sorted(child_runs(cl, exp, parent.info.run_id), key=lambda r: r.data.tags[f"{TAG}unit"])
    assert [c.info.run_name for c in children] == ["fold 1/2", "fold 2/2"]
    for child, (unit, fold) in zip(children, p.units, strict=True):
        params = child.data.params
        assert params["unit"] == unit.key and params["unit.fold"] == str(fold.index)
        assert params["unit.n_folds"] == "2" and params["unit.subject"] == ""
        assert params["unit.train_subjects"] == params["unit.test_subjects"] == "1,2"
        assert params["unit.seed"] == str(unit.seed(0)) and params["unit.tasks"] == "valence,arousal"
        assert (params["unit.n_train"], params["unit.n_valid"], params["unit.n_test"]) == (
            str(len(fold.train)), str(len(fold.val)), str(len(fold.test)),
        )  # fmt: skip
        assert len(fold.train) + len(fold.val) + len(fold.test) == 2 * 6 * 120
        # the run's own params too, the same as the parent's
        for key in ("model", "train.lr", "n_folds", "split_resolved", "max_epochs_resolved", "log_model"):
            assert params[key] == parent.data.params[key]
    assert parent.data.params["log_model"] == "true" and parent.data.params["max_epochs_resolved"] == "1"


def test_parent_name_and_description(tracked, features):
    uri, p, res = tracked
    cl = client(uri)
    parent = _parent(cl, experiment_id(cl, "synthetic"))
    assert parent.info.run_name == "mtcnn|whole-set|trial|2s x 2f x 1ep"
    note = parent.data.tags["mlflow.note.content"]
    paras = note.split("\n\n")
    assert paras[0] == "**mtcnn**, protocol whole-set, split trial, variant full"
    assert paras[1] == (
        f"Data: synthetic `{features.fingerprint}`, 2 subjects x 6 trials x 120 windows; "
        "2s x 2f x 1ep (2 units)"
    )
    parts = []
    for t in ("valence", "arousal"):
        acc = [u.metrics[f"test_acc_{t}"] for u in res.units]
        vote = [u.metrics[f"test_trial_acc_{t}"] for u in res.units]
        pct = lambda v: f"{100 * np.mean(v):.1f} ± {100 * np.std(v, ddof=1):.1f} %"  # noqa: E731
        parts.append(f"{t} {pct(acc)} (trial vote {pct(vote)})")
    assert paras[2] == "Test accuracy, mean ± sd over 2 units: " + "; ".join(parts)
    assert paras[3].startswith("Time: ") and paras[3].endswith(" s of unit fitting, summed")
    fit = sum(u.metrics["fit_seconds"] for u in res.units)
    assert f"; {fit:.0f} s of unit fitting" in paras[3]


def test_run_names_tell_configurations_apart(features):
    def name(**kw) -> str:
        return runner.run_name(runner.prepare(_cfg(**kw), features=features))

    assert name() == "mtcnn|whole-set|trial|2s x 2f x 1ep"
    assert name(n_folds=3) == "mtcnn|whole-set|trial|2s x 3f x 1ep"
    assert name(subjects=(2,)) == "mtcnn|whole-set|trial|1s x 2f x 1ep"
    assert name(train={"max_epochs": 3}) == "mtcnn|whole-set|trial|2s x 2f x 3ep"
    assert name(seed=1, train={"precision": "bf16"}) == "mtcnn|whole-set|trial|2s x 2f x 1ep seed 1 bf16"
    assert name(train={"dropout": 0.0}) == "mtcnn|whole-set|trial|no-dropout|2s x 2f x 1ep"
    assert name(split="segment", audit=("select-on-test",)) == (
        "mtcnn|whole-set|segment|select-on-test|2s x 2f x 1ep"
    )
    # the label of progress lines and reports is unchanged
    assert runner.run_label(runner.prepare(_cfg(), features=features)) == "mtcnn|whole-set|trial|full"


def test_unit_names_name_the_unit(features):
    p = runner.prepare(_cfg(protocol="subject-specific", single_task=True), features=features)
    names = [unit_name(p, u, f) for u, f in p.units]
    assert names[:4] == [
        "subject 1 fold 1/2 valence", "subject 1 fold 1/2 arousal",
        "subject 1 fold 2/2 valence", "subject 1 fold 2/2 arousal",
    ]  # fmt: skip
    # folds by subject (cross-subject needs 3+ subjects): the name says which subjects are tested
    subject = np.repeat([1, 2, 3], 4)
    folds = [Fold(1, None, np.arange(4, 12), np.arange(0), np.arange(4)),
             Fold(2, None, np.arange(4), np.arange(0), np.arange(4, 12))]  # fmt: skip
    p = SimpleNamespace(folds=folds, split="subject", inputs=SimpleNamespace(subject=subject))
    units = [Unit("fold1", 1, None, ("valence", "arousal")), Unit("fold2", 2, None, ("valence", "arousal"))]
    assert [unit_name(p, u, f) for u, f in zip(units, folds, strict=True)] == [
        "fold 1/2 test s01", "fold 2/2 test s02,s03",
    ]  # fmt: skip


def test_logged_model_predicts_the_logged_test_probabilities(tracked, tmp_path):
    """The artifact of ``log_model`` rebuilds the unit's model: same state_dict keys as a fresh model,
    and with its standardisation it predicts exactly the test probabilities the unit logged."""
    uri, p, res = tracked
    cl = client(uri)
    exp = experiment_id(cl, "synthetic")
    child = next(c for c in child_runs(cl, exp, res.parent_run_id) if c.data.tags[f"{TAG}unit"] == "fold1")
    folder = cl.download_artifacts(child.info.run_id, "model", str(tmp_path))
    info = json.loads((tmp_path / "model" / "model.json").read_text())
    assert info["model"] == "mtcnn" and info["input_shape"] == [8, 8, 9] and info["unit"] == "fold1"
    state = torch.load(tmp_path / "model" / "model.pt", weights_only=True)
    assert set(state) == set(create_model("mtcnn", **p.hparams).state_dict())
    assert info["n_parameters"] == 1_213_956
    model, std = load_unit_model(folder)
    fold = p.units[0][1]
    x = torch.from_numpy(np.ascontiguousarray(p.inputs.x))[torch.from_numpy(fold.test)]
    probs = predict_proba(model, std(x), batch_size=64, device=torch.device("cpu"))
    pred = pd.read_csv(cl.download_artifacts(child.info.run_id, "predictions.csv", str(tmp_path)))
    for t in ("valence", "arousal"):
        np.testing.assert_allclose(probs[t], pred[f"p_{t}"].to_numpy(), rtol=1e-5, atol=1e-6)
    assert res.units[0].models == {}  # logged, then dropped from the result


def test_log_model_keeps_the_run_key_and_resume_renames_old_parents(tracked, features):
    """``log_model`` is not in the run key: the same config without it resumes the same parent (nothing
    trains). A parent named the old way, in an experiment without the kind tag, is brought up to date."""
    uri, p, res = tracked
    assert RunConfig(log_model=True).fingerprint() == RunConfig().fingerprint()
    plain = runner.prepare(replace(p.config, log_model=False), features=features)
    assert plain.run_key == p.run_key
    cl = client(uri)
    exp = experiment_id(cl, "synthetic")
    cl.update_run(res.parent_run_id, name="mtcnn|whole-set|trial")  # as named before this change
    cl.delete_experiment_tag(exp, KIND[0])
    again = runner.run_experiment(plain.config, tracking_uri=uri, prepared=plain)
    assert again.parent_run_id == res.parent_run_id and all(u.reused for u in again.units)
    parent = cl.get_run(res.parent_run_id)
    assert parent.info.run_name == "mtcnn|whole-set|trial|2s x 2f x 1ep"
    assert parent.info.status == "FINISHED" and len(parent.inputs.dataset_inputs) == 1
    assert cl.get_experiment(exp).tags[KIND[0]] == KIND[1]


@pytest.mark.usefixtures("wide_console")
def test_cli_log_model_and_ui_urls(deap_dir, tmp_path, capsys, monkeypatch):
    """``bench run --log-model`` saves each unit's model (here the majority baseline: its class prior);
    ``bench ui`` prints the address of the runs page of each experiment."""
    uri = f"sqlite:///{tmp_path}/m.db"
    args = ["run", "--model", "majority", "--deap", str(deap_dir), "--folds", "2", "--tracking-uri", uri]
    assert main([*args, "--log-model"]) == 0
    cl = client(uri)
    exp = experiment_id(cl, "synthetic")
    parent = _parent(cl, exp)
    children = child_runs(cl, exp, parent.info.run_id)
    assert len(children) == 2
    p = runner.prepare(RunConfig(model="majority", n_folds=2), deap=deap_dir)
    assert parent.data.tags[f"{TAG}run_key"] == p.run_key
    folds = {u.key: f for u, f in p.units}
    for child in children:
        assert {a.path for a in cl.list_artifacts(child.info.run_id, "model")} == {
            "model/model.json", "model/model.pt", "model/standardiser.pt",
        }  # fmt: skip
        folder = cl.download_artifacts(child.info.run_id, "model", str(tmp_path / child.info.run_id))
        model, _ = load_unit_model(folder)
        high = p.inputs.labels[folds[child.data.tags[f"{TAG}unit"]].train].mean(axis=0)  # share of class 1
        np.testing.assert_allclose(model.prior.numpy(), np.stack([1 - high, high], axis=1), rtol=1e-6)
    capsys.readouterr()
    calls = []
    monkeypatch.setattr("bench.tracking.ui.serve", lambda *a: calls.append(a) or 0)
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert main(["ui", "--tracking-uri", uri, "--port", str(port)]) == 0
    err = capsys.readouterr().err
    want = f"deap-bench-synthetic: http://127.0.0.1:{port}/#/experiments/{exp}/runs?workflowType=machine_learning"
    assert want in err and "deap-bench-deap" not in err
    cmd = calls[0][0]
    assert cmd[cmd.index("--host") :][:4] == ["--host", "127.0.0.1", "--port", str(port)]
