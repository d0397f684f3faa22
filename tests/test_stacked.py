"""Stacked training (``--stack``): the functional Adam, equality with one-at-a-time ``fit``, the run."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from bench import runner
from bench.config import RunConfig, TrainConfig
from bench.errors import ConfigError
from bench.registry import create_model, resolve_input_spec
from bench.stacked import _LoopLSTM, adam_step, fit_stacked
from bench.tracking import TAG, child_runs, client, experiment_id
from bench.trainer import fit

CPU = torch.device("cpu")


def test_adam_step_equals_torch_adam_per_model_with_masked_steps():
    """Two stacked models, own learning rates, the second masked on step 2: each equals torch.optim.Adam
    run over the steps it took (bitwise on CPU up to one float rounding: atol 1e-7)."""
    g = torch.Generator().manual_seed(0)
    p0 = [torch.randn(3, 4, generator=g), torch.randn(5, generator=g)]
    grads = [[torch.randn(2, *p.shape, generator=g) for p in p0] for _ in range(4)]
    stacked = {f"w{i}": torch.stack([p, p + 1]) for i, p in enumerate(p0)}
    state = {k: (torch.zeros_like(v), torch.zeros_like(v)) for k, v in stacked.items()}
    steps = torch.zeros(2, dtype=torch.long)
    lr = torch.tensor([1e-3, 3e-2], dtype=torch.float64)
    active = [torch.tensor([True, True]), torch.tensor([True, False]), torch.tensor([True, True])] * 2
    for s in range(4):
        g_s = {f"w{i}": grads[s][i] for i in range(2)}
        adam_step(stacked, g_s, state, steps, lr, active[s], eps=1e-7)
    assert steps.tolist() == [4, 3]
    for k, lr_k in enumerate((1e-3, 3e-2)):
        ref = [(p + k).clone().requires_grad_() for p in p0]
        opt = torch.optim.Adam(ref, lr=lr_k, eps=1e-7)
        for s in range(4):
            if not active[s][k]:
                continue
            for p, gr in zip(ref, grads[s], strict=True):
                p.grad = gr[k].clone()
            opt.step()
        for i, p in enumerate(ref):
            torch.testing.assert_close(stacked[f"w{i}"][k], p.detach(), atol=1e-7, rtol=0)


def test_loop_lstm_equals_torch_lstm():
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(5, 7, num_layers=2, batch_first=True)
    loop = copy.deepcopy(lstm)
    loop.__class__ = _LoopLSTM
    x = torch.randn(3, 4, 5)
    (out, (h, c)), (out2, (h2, c2)) = lstm(x), loop(x)
    for a, b in ((out, out2), (h, h2), (c, c2)):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=0)


def _problem(name: str, sizes, seed=0):
    """K models of ``name`` (dropout 0) with their seeds, and random data of different lengths."""
    tasks = ("valence", "arousal") if name == "mtcnn" else ("valence",)
    shape = resolve_input_spec(name, features=None, dropout=0.0).sample_shape()
    g = torch.Generator().manual_seed(seed)
    models, data, seeds = [], [], []
    for k, (n, nv) in enumerate(sizes):
        x = torch.randn(n + nv, *shape, generator=g)
        y = torch.randint(0, 2, (n + nv, 2), generator=g)
        data.append((x[:n], y[:n], x[n:], y[n:]))
        seeds.append(100 + k)
        torch.manual_seed(seeds[-1])
        models.append(create_model(name, tasks=tasks, features=None, dropout=0.0))
    return tasks, models, data, seeds


@pytest.mark.parametrize("name", ["mccnn", "saelstm"])
def test_fit_stacked_equals_fit_one_at_a_time(name):
    """K=3 models, training parts of 50, 33 and 49 samples (batches 16: a trailing batch of 1 skipped, of
    2 trained alone, of 17 - 1 in a group of its own), validation parts of 20, 20 and 13; early stopping
    (patience 3) and LR decay (patience 0) both fire. History within 1e-5, parameters within 1e-4 (Adam
    turns float noise in gradients near 0 into steps of up to lr, so a few elements drift further than the
    forward pass), and the restored models' outputs within 1e-5."""
    cfg = TrainConfig(batch_size=16, early_stopping=3, lr_patience=0, lr=1e-3)
    tasks, models, data, seeds = _problem(name, [(50, 20), (33, 20), (49, 13)])
    alone = [copy.deepcopy(m) for m in models]
    res = fit_stacked(models, data, tasks=tasks, config=cfg, max_epochs=8, seeds=seeds, device=CPU)
    ref = [
        fit(m, *d, tasks=tasks, config=cfg, max_epochs=8, seed=s, device=CPU)
        for m, d, s in zip(alone, data, seeds, strict=True)
    ]
    assert [r.epochs_run for r in res] == [r.epochs_run for r in ref]
    assert [r.best_epoch for r in res] == [r.best_epoch for r in ref]
    assert [r.stopped_early for r in res] == [r.stopped_early for r in ref]
    assert any(r.stopped_early for r in ref) and any(r.epochs_run < 8 for r in ref)
    assert any(row["lr"] < cfg.lr for r in ref for row in r.history)  # the LR decayed somewhere
    for a, b in zip(res, ref, strict=True):
        assert [r.keys() for r in a.history] == [r.keys() for r in b.history]
        for ra, rb in zip(a.history, b.history, strict=True):
            assert ra["lr"] == rb["lr"] and ra["epoch"] == rb["epoch"]
            np.testing.assert_allclose([ra[k] for k in ra], [rb[k] for k in ra], atol=1e-5, rtol=0)
    for m1, m2, (_, _, xv, _) in zip(models, alone, data, strict=True):
        s1, s2 = m1.state_dict(), m2.state_dict()
        for key in s2:
            torch.testing.assert_close(s1[key], s2[key], atol=1e-4, rtol=0)
        m1.eval(), m2.eval()
        with torch.no_grad():
            o1, o2 = m1(xv), m2(xv)
        for t in tasks:
            torch.testing.assert_close(o1[t], o2[t], atol=1e-5, rtol=0)


def test_fit_stacked_batch_norm_running_stats_are_per_model():
    """BatchNorm running statistics land in each model's own buffers, and match ``fit``'s."""
    cfg = TrainConfig(batch_size=8, early_stopping=0, lr_decay=False, restore_best=False)
    tasks, models, data, seeds = _problem("mccnn", [(16, 4), (24, 4)])
    alone = [copy.deepcopy(m) for m in models]
    fit_stacked(models, data, tasks=tasks, config=cfg, max_epochs=1, seeds=seeds, device=CPU)
    for m, a, n in zip(models, alone, (16, 24), strict=True):
        fit(a, *data[models.index(m)], tasks=tasks, config=cfg, max_epochs=1, seed=seeds[models.index(m)],
            device=CPU)  # fmt: skip
        bn, ref = m.columns[0].body.bn1, a.columns[0].body.bn1
        assert int(bn.num_batches_tracked) == n // 8  # 2 and 3 steps: each model counted its own
        torch.testing.assert_close(bn.running_mean, ref.running_mean, atol=1e-6, rtol=0)
        torch.testing.assert_close(bn.running_var, ref.running_var, atol=1e-6, rtol=0)


def test_run_key_unchanged_without_stack_and_own_with_it():
    base = RunConfig().with_train(precision="fp32")
    assert base.fingerprint() == "0ddf7bc9bf09382d"  # the key of runs tracked before the option
    assert base.with_train(stack=0).fingerprint() == "0ddf7bc9bf09382d"
    assert "stack" not in base.key_dict()["train"]
    four = base.with_train(stack=4)
    assert four.key_dict()["train"]["stack"] == 4
    assert len({four.fingerprint(), base.with_train(stack=16).fingerprint(), base.fingerprint()}) == 3


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: TrainConfig(stack=-1), "train.stack=-1: expected an integer >= 0"),
        (lambda: TrainConfig(stack=2.5), "train.stack=2.5: expected an integer >= 0"),
        (lambda: TrainConfig(stack="4"), "train.stack='4': expected an integer >= 0"),
    ],
)
def test_bad_stack_values_are_one_line_errors(make, message):
    with pytest.raises(ConfigError) as err:
        make()
    assert str(err.value) == message


def test_stack_refused_where_it_cannot_apply(features):
    from bench.executors import PoolExecutor, check_stack_executor
    from bench.plan import check_config

    msg = r"^train.stack=4: model 'majority' is not trained; nothing to stack$"
    with pytest.raises(ConfigError, match=msg):
        check_config(RunConfig(model="majority", train=TrainConfig(stack=4)))
    with pytest.raises(ConfigError, match=r"^train.stack=4: protocol 'whole-set-finetune' fine-tunes one"):
        check_config(RunConfig(protocol="whole-set-finetune", train=TrainConfig(stack=4)))
    msg = "--stack 4 trains units together in this process: it needs the local executor, not pool"
    with pytest.raises(ConfigError) as err:
        check_stack_executor(4, PoolExecutor(2))
    assert str(err.value) == msg
    check_stack_executor(0, PoolExecutor(2))  # off: any executor


def _subject_run(features, uri, stack: int):
    cfg = RunConfig(
        model="mccnn", protocol="subject-specific", n_folds=2, seed=0, tasks=("valence",),
        model_options={"dropout": 0.0},
        train=TrainConfig(max_epochs=2, stack=stack),
    )  # fmt: skip
    return runner.run_experiment(cfg, tracking_uri=uri, prepared=runner.prepare(cfg, features=features))


@pytest.mark.slow
def test_stacked_run_equals_one_at_a_time_run(features, tmp_path):
    """Subject-specific mccnn (dropout 0, valence), 2 subjects x 2 folds = 4 units: ``stack=3`` trains a
    group of 3 and one of 1; every unit's test metrics equal the one-at-a-time run's; one FINISHED child
    per unit."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    plain, stacked = _subject_run(features, uri, 0), _subject_run(features, uri, 3)
    assert plain.parent_run_id != stacked.parent_run_id  # a run key of its own
    assert len(stacked.units) == 4
    by_key = {u.unit.key: u.metrics for u in plain.units}
    for u in stacked.units:
        ref = by_key[u.unit.key]
        for k, v in u.metrics.items():
            if k.startswith("test_") or k in ("epochs_run", "best_epoch", "n_train"):
                assert v == pytest.approx(ref[k], abs=1e-6, nan_ok=True), (u.unit.key, k)
    cl = client(uri)
    exp = experiment_id(cl, "synthetic")
    kids = child_runs(cl, exp, stacked.parent_run_id)
    assert sorted(r.data.tags[f"{TAG}unit"] for r in kids) == sorted(by_key)
    assert {r.info.status for r in kids} == {"FINISHED"}
    assert all("history.csv" in {a.path for a in cl.list_artifacts(r.info.run_id)} for r in kids)
    assert cl.get_run(stacked.parent_run_id).info.run_name.endswith(" stack 3")
    # resume: the same command reuses every unit
    again = _subject_run(features, uri, 3)
    assert again.parent_run_id == stacked.parent_run_id and all(u.reused for u in again.units)
