"""Training recipes: registry metadata, --recipe paper, restore_best, and how `bench models` shows them."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch
from torch import nn

import bench.runs.runner as runner
from bench.api.settings import build_config
from bench.cli import main
from bench.cli.common import console
from bench.config.run import RunConfig, TrainConfig
from bench.core.errors import ConfigError
from bench.data.cache import prepare_features
from bench.data.contents import Contents
from bench.data.inputs import InputSpec
from bench.data.source import open_deap
from bench.models.recipes import apply_recipe, recipe_train, with_model_defaults
from bench.models.registry import (
    TRAIN_DEFAULTS,
    get_model_info,
    list_models,
    register_model,
    unregister_model,
)
from bench.runs.identity import resolve_config
from bench.training.trainer import fit

META = dict(full_name="x", citation="x", input_spec=InputSpec(), reported={}, fidelity="exact")


class _Tiny(nn.Module):
    """A linear valence classifier on 2 features (registrable: tasks, input_spec, one option)."""

    def __init__(self, tasks=("valence",), input_spec=None, *, width: int = 2) -> None:
        super().__init__()
        self.head = nn.Linear(width, 2)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"valence": self.head(x)}


@pytest.fixture(scope="module")
def features(deap_dir, tmp_path_factory):
    return prepare_features(open_deap(deap_dir), cache_dir=tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def signal_features(deap_dir, tmp_path_factory):
    """The same data with the band-limited signal the time-domain models read."""
    signal = Contents.for_spec(InputSpec(layout="signal"))
    return prepare_features(open_deap(deap_dir), cache_dir=tmp_path_factory.mktemp("cache"), contents=signal)


# ----------------------------------------------------------------------------- registry metadata
@pytest.mark.parametrize(
    "extra, message",
    [
        ({"paper_recipe": {"early_stopping_patience": 0}}, "early_stopping_patience are not TrainConfig"),
        ({"paper_recipe": {"lr": -1.0}}, "paper_recipe: train.lr=-1.0: expected a number > 0"),
        ({"defaults": {"lr_schedule": None}}, "defaults lr_schedule are neither model options"),
    ],
)
def test_registration_rejects_bad_recipe_metadata(extra, message):
    try:
        with pytest.raises(ValueError, match=message) as err:
            register_model("tmp-recipe", **META, **extra)(_Tiny)
        assert "\n" not in str(err.value)
    finally:
        unregister_model("tmp-recipe")


def test_registration_accepts_train_fields_and_applied_defaults():
    try:
        register_model(
            "tmp-recipe", **META, defaults={"width": 2, "max_epochs": 3},
            paper_recipe={"lr": 0.01, "restore_best": False}, paper_recipe_note="why",
        )(_Tiny)  # fmt: skip
        info = get_model_info("tmp-recipe")
        assert info.paper_recipe == {"lr": 0.01, "restore_best": False}
        assert info.paper_recipe_note == "why"
    finally:
        unregister_model("tmp-recipe")


def test_builtin_defaults_are_applied_only_and_recipes_are_documented():
    documentation_only = {"optimizer", "lr_schedule", "early_stopping_patience", "class_weights"}
    for info in list_models():
        assert not set(info.defaults) & documentation_only, info.name
        assert set(info.defaults) <= set(info.model_params) | set(TRAIN_DEFAULTS), info.name
        if info.trainable:
            assert info.paper_recipe_note, info.name
        else:
            assert info.paper_recipe == {}
    assert get_model_info("mtcnn").paper_recipe == {}
    assert "select-on-test" in get_model_info("mtcnn").paper_recipe_note
    for name in ("fbccnn", "mccnn", "saelstm"):
        info = get_model_info(name)
        assert info.paper_recipe == {} and info.paper_recipe_note.startswith("Not stated in the paper")


# ------------------------------------------------------------------------------------ apply_recipe
def test_recipe_must_be_known():
    with pytest.raises(ConfigError, match=r"^recipe='bogus' is not allowed; allowed: harness, paper$"):
        RunConfig(recipe="bogus")


def test_paper_recipe_of_4dcrnn_applies_the_authors_setup():
    info = get_model_info("4dcrnn")
    cfg = apply_recipe(RunConfig(model="4dcrnn", recipe="paper"), info)
    t = cfg.train
    assert cfg.recipe == "paper"
    assert (t.lr_decay, t.early_stopping, t.balance, t.restore_best, t.max_epochs) == (
        False,
        0,
        False,
        False,
        100,
    )
    assert apply_recipe(cfg, info) == cfg  # idempotent: a worker re-preparing the config gets the same run
    capped = apply_recipe(RunConfig(model="4dcrnn", recipe="paper", train=TrainConfig(max_epochs=2)), info)
    assert capped.train.max_epochs == 2 and capped.train.early_stopping == 0
    harness = RunConfig(model="4dcrnn")
    assert apply_recipe(harness, info) is harness
    assert cfg.fingerprint() != harness.fingerprint()


def test_paper_recipe_without_overrides_is_the_harness_run(features):
    default = runner.prepare(RunConfig(model="mtcnn", n_folds=2), features=features)
    paper = runner.prepare(RunConfig(model="mtcnn", n_folds=2, recipe="paper"), features=features)
    assert paper.config.recipe == "harness"
    assert paper.config.fingerprint() == default.config.fingerprint()
    assert paper.run_key == default.run_key
    crnn = runner.prepare(RunConfig(model="4dcrnn", n_folds=2, recipe="paper"), features=features)
    assert crnn.max_epochs == 100 and crnn.config.train.restore_best is False


def test_new_fields_keep_existing_run_keys():
    # fingerprint of the default config before `recipe` and `restore_best` existed; `precision="auto"`
    # resolves before the key, to fp32 (every run before auto) or bf16 (a new run: other numbers)
    assert RunConfig().with_train(precision="fp32").fingerprint() == "0ddf7bc9bf09382d"
    assert RunConfig().with_train(precision="fp32", restore_best=False).fingerprint() != "0ddf7bc9bf09382d"
    assert resolve_config(RunConfig(model="fbccnn")).train.precision == "fp32"


def test_view_settings_match_what_prepare_resolves(features, signal_features):
    for info in list_models():
        if not info.trainable:
            continue
        data = signal_features if info.input_spec.layout == "signal" else features
        for recipe in ("harness", "paper"):
            p = runner.prepare(RunConfig(model=info.name, n_folds=2, recipe=recipe), features=data)
            shown = recipe_train(info, recipe)  # precision "auto": decided per machine when a run starts
            assert shown.precision == "auto" and p.config.train.precision == "fp32"  # tests: no native bf16
            assert replace(shown, precision="fp32") == p.config.train, (info.name, recipe)
    assert with_model_defaults(TrainConfig(max_epochs=3), get_model_info("mtcnn")).max_epochs == 3


def test_config_file_recipe_key():
    d = build_config({"recipe": "paper"}, train={}, feature_config={}, model_options={}, model="4dcrnn")
    assert RunConfig.from_dict(d).recipe == "paper"
    d = build_config({"recipe": "paper"}, train={}, feature_config={}, model_options={}, recipe="harness")
    assert RunConfig.from_dict(d).recipe == "harness"  # the command line wins over the file


# ------------------------------------------------------------------------------------ restore_best
def _fit_and_snapshots(restore_best: bool):
    """Train on one labelling, validate on the opposite one: validation loss is best early, then rises."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 2, generator=g)
    y_train = (x[:, 0] > 0).long()
    y = torch.stack([y_train, y_train], 1)
    y_val = 1 - y
    torch.manual_seed(0)
    model = _Tiny()
    states: dict[int, dict] = {}

    def snapshot(row: dict) -> None:
        states[row["epoch"]] = {k: v.clone() for k, v in model.state_dict().items()}

    cfg = TrainConfig(lr=0.05, batch_size=16, early_stopping=0, lr_decay=False, restore_best=restore_best)
    res = fit(
        model, x, y, x, y_val, tasks=("valence",), config=cfg, max_epochs=6, seed=0,
        device=torch.device("cpu"),
        on_epoch=snapshot,
    )  # fmt: skip
    return model, res, states


def _same(a: dict, b: dict) -> bool:
    return all(torch.equal(a[k], b[k]) for k in a)


def test_restore_best_false_keeps_the_last_epoch():
    model, res, states = _fit_and_snapshots(restore_best=False)
    assert res.epochs_run == 6 and res.best_epoch < 6
    assert _same(model.state_dict(), states[6]) and not _same(model.state_dict(), states[res.best_epoch])
    model, res, states = _fit_and_snapshots(restore_best=True)
    assert res.best_epoch < 6 and _same(model.state_dict(), states[res.best_epoch])


# ------------------------------------------------------------------------------------------- CLI
def test_bench_models_shows_both_recipes(capsys, monkeypatch):
    monkeypatch.setattr(console, "_width", 200)  # rows must not wrap for the cell checks
    assert main(["models", "4dcrnn"]) == 0
    out = capsys.readouterr().out
    assert "harness (applied)" in out and "paper (--recipe paper)" in out

    def cells(label: str) -> list[str]:
        line = next(li for li in out.splitlines() if li.strip("│┃ ").startswith(label))
        return [c.strip() for c in line.split("│") if c.strip()]

    assert cells("max epochs") == ["max epochs", "100", "100"]
    assert cells("early stopping") == ["early stopping", "patience 16", "none"]
    assert cells("restore best epoch") == ["restore best epoch", "yes", "no (last epoch)"]
    assert cells("class weights") == ["class weights", "balanced", "none"]
    assert "the last epoch's model is evaluated" in out


def test_bench_run_bad_recipe_is_a_one_line_error(capsys, tmp_path):
    code = main(["run", "--tracking-uri", f"sqlite:///{tmp_path}/m.db", "--recipe", "bogus"])
    err = capsys.readouterr().err
    errors = [li for li in err.splitlines() if li.startswith("error:")]
    assert code == 2 and "Traceback" not in err
    assert errors == ["error: recipe='bogus' is not allowed; allowed: harness, paper"]


def test_paper_recipe_run_logs_the_resolved_config(deap_dir, tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    cfg = RunConfig(model="4dcrnn", n_folds=2, subjects=(1,), tasks=("valence",), recipe="paper",
                    train=TrainConfig(max_epochs=1))  # fmt: skip
    res = runner.run_experiment(cfg, deap=deap_dir, tracking_uri=uri)  # prepares itself
    from bench.tracking.store import client

    params = client(uri).get_run(res.parent_run_id).data.params
    assert params["recipe"] == "paper" and json.loads(params["train.restore_best"]) is False
    assert json.loads(params["train.early_stopping"]) == 0 and json.loads(params["train.lr_decay"]) is False
    assert res.config.recipe == "paper" and res.config.train.max_epochs == 1 and res.config.split == "trial"
