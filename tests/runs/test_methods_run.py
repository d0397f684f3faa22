"""``--method`` in a run: refused where it cannot apply, its own cell and run key, test labels never
read (bit-identical training with the test rows' labels replaced by noise), input methods computed once,
the leaderboard's label and footnote."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from bench.config.run import RunConfig, TrainConfig
from bench.core.errors import ConfigError
from bench.runs.identity import identity_tags, resolve_config
from bench.runs.plan import prepare
from bench.runs.progress import Reporter
from bench.runs.unit import fit_predict, labels_tensor, train_standardiser, unit_input
from bench.training.methods.dann import DomainAdversarial
from bench.training.methods.subject_norm import subject_norm


@pytest.fixture(scope="module")
def deap_dir(tmp_path_factory):
    """A synthetic DEAP folder of 3 subjects x 4 trials: cross-subject needs two training subjects."""
    from bench.data.synthetic import SyntheticConfig, write_synthetic_deap

    folder = tmp_path_factory.mktemp("syn3") / "data"
    write_synthetic_deap(folder, SyntheticConfig(n_subjects=3, n_trials=4, seed=0))
    return folder


def _cfg(method: str = "none", model: str = "fbccnn", **kw) -> RunConfig:
    return RunConfig(model=model, protocol="cross-subject", n_folds=3, seed=0, method=method,
                     train=TrainConfig(max_epochs=1), **kw)  # fmt: skip


@pytest.mark.parametrize(
    ("cfg", "message"),
    [
        (
            dict(method="dan"),
            r"^method='dan' is not allowed; allowed: none, dann, subject-norm, ea, ms-mda; did",
        ),
        (dict(method="dann", model="mccnn"), "needs a model with one feature trunk"),
        (dict(method="dann", model="majority"), "needs a model with one feature trunk"),
        (dict(method="ea"), "applies to signal inputs; model 'fbccnn' reads grid inputs"),
        (dict(method="dann", train=TrainConfig(stack=2)), "cannot train stacked"),
        (dict(method="dann", protocol="whole-set-finetune"), "does not apply to protocol"),
        (dict(method="ms-mda", model="mccnn"), "needs a model with one feature trunk"),
        (dict(method="ms-mda", log_model=True), "^method='ms-mda' cannot --log-model"),
    ],
)
def test_a_method_that_cannot_apply_is_one_line(cfg, message):
    base = dict(model="fbccnn", protocol="cross-subject")
    with pytest.raises(ConfigError, match=message) as err:
        resolve_config(RunConfig(**{**base, **cfg}))
    assert "\n" not in str(err.value)


def test_method_type_is_checked_in_the_config():
    with pytest.raises(ConfigError, match="method=3: expected a name"):
        RunConfig(method=3)


def test_method_is_a_cell_key_and_tag_not_a_variant():
    plain, dann = resolve_config(_cfg()), resolve_config(_cfg("dann"))
    unset = RunConfig(model="fbccnn", protocol="cross-subject", n_folds=3, train=TrainConfig(max_epochs=1))
    assert plain.fingerprint() == resolve_config(unset).fingerprint()
    assert "method" not in plain.key_dict() and "method" not in plain.to_dict()
    assert dann.key_dict()["method"] == "dann" and dann.fingerprint() != plain.fingerprint()
    tags, plain_tags = identity_tags(dann, "fp"), identity_tags(plain, "fp")
    assert tags["bench.method"] == "dann" and tags["bench.transductive"] == "true"
    assert tags["bench.method_label"] == "DANN"
    assert tags["bench.variant"] == plain_tags["bench.variant"] == "full"
    assert not any("method" in k or "transductive" in k for k in plain_tags)


THIN = 6
"""Every 6th row of each part: the same arithmetic on a sixth of the rows (each test stays ~5 s)."""


def _fit(p, fold, labels=None):
    """fit_predict of the run's first unit on every :data:`THIN`-th row of each part, with the labels
    given (the run's own by default)."""
    unit = p.units[0][0]
    if labels is not None:
        p = replace(p, inputs=replace(p.inputs, labels=labels))
    x = unit_input(p)
    y = labels_tensor(p.inputs, unit.tasks)
    train, val, test = fold.train[::THIN], fold.val[::THIN], fold.test[::THIN]
    std = train_standardiser(p, x, train)
    return fit_predict(p, unit, x, y, train, val, test, torch.device("cpu"), Reporter(), standardiser=std,
                       seed=unit.seed(p.config.seed))  # fmt: skip


@pytest.mark.slow  # ~15 s on a loaded 2-core machine
@pytest.mark.parametrize("method", ["dann", "subject-norm", "ms-mda"])
def test_test_labels_are_never_read(features, method):
    """Noise in place of the test rows' labels: bit-identical trained weights and predictions."""
    p = prepare(_cfg(method), features=features)
    fold = p.units[0][1]
    model, probs, _ = _fit(p, fold)
    noisy = p.inputs.labels.copy()
    noisy[fold.test] = np.random.default_rng(1).integers(0, 2, size=noisy[fold.test].shape)
    assert (noisy[fold.test] != p.inputs.labels[fold.test]).any()
    model2, probs2, _ = _fit(p, fold, noisy)
    for (k, a), (_, b) in zip(model.state_dict().items(), model2.state_dict().items(), strict=True):
        assert torch.equal(a, b), k
    for t in probs:
        assert np.array_equal(probs[t], probs2[t])


@pytest.mark.slow  # ~15 s on a loaded 2-core machine
def test_dann_trains_its_own_numbers_and_returns_the_inner_model(features):
    p, q = prepare(_cfg("dann"), features=features), prepare(_cfg(), features=features)
    fold = p.units[0][1]
    model, probs, history = _fit(p, fold)
    plain, plain_probs, _ = _fit(q, fold)
    assert not isinstance(model, DomainAdversarial) and type(model) is type(plain)
    assert model.state_dict().keys() == plain.state_dict().keys()  # a logged model loads as a plain one
    assert not np.array_equal(probs["valence"], plain_probs["valence"])
    assert len(history) == 1


def test_input_method_is_computed_once_per_prepared_run(features):
    p = prepare(_cfg("subject-norm"), features=features)
    x = unit_input(p)
    assert unit_input(p).data_ptr() == x.data_ptr()  # cached on the prepared run
    np.testing.assert_array_equal(x.numpy(), subject_norm(p.inputs.x, p.inputs.subject))
    plain = prepare(_cfg(), features=features)
    assert np.shares_memory(unit_input(plain).numpy(), plain.inputs.x)  # no method: no copy


@pytest.mark.slow  # three tracked runs of 6 units (the pool and a Dask cluster: 2 processes each)
def test_pool_and_dask_give_the_inline_numbers_of_a_dann_run(features, cache_dir, tmp_path):
    """The wrapper's target batches come from its own seeded generator: a pool worker and a Dask worker
    train the same DANN unit as the inline executor, bit for bit (one torch thread in every process)."""
    from distributed import Client, LocalCluster

    import bench.runs.runner as runner
    from bench.runs.dask_executor import DaskExecutor
    from bench.runs.executors import PoolExecutor

    cfg = replace(_cfg("dann", subjects=None), num_threads=1)

    def numbers(res):
        return {u.unit.key: {k: v for k, v in u.metrics.items() if k != "fit_seconds"} for u in res.units}

    out = {}
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                     dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):  # fmt: skip
        for name, executor in (("local", None), ("pool", PoolExecutor(2)), ("dask", DaskExecutor(client))):
            p = runner.prepare(cfg, features=features)
            kw = {} if executor is None else {"executor": executor}
            res = runner.run_experiment(cfg, tracking_uri=f"sqlite:///{tmp_path / name}.db", prepared=p,
                                        cache_dir=cache_dir, **kw)  # fmt: skip
            out[name] = numbers(res)
    assert len(out["local"]) == 6  # 3 folds x 2 single-task models
    for name in ("pool", "dask"):
        assert out[name].keys() == out["local"].keys(), name
        for k in out["local"]:
            np.testing.assert_equal(out[name][k], out["local"][k], err_msg=f"{name}: {k}")
