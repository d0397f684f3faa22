"""Stacked training (``--stack``): the functional Adam, equality with one-at-a-time ``fit``, the run."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from bench.config.run import RunConfig, TrainConfig
from bench.core.errors import ConfigError
from bench.models.registry import create_model, resolve_input_spec
from bench.runs import runner
from bench.tracking.store import TAG, child_runs, client, experiment_id
from bench.training.stacked import _LoopLSTM, fit_stacked
from bench.training.step import adam_step
from bench.training.trainer import fit

CPU = torch.device("cpu")
EPS32 = torch.finfo(torch.float32).eps


def test_adam_step_equals_torch_adam_per_model_with_masked_steps():
    """Two stacked models, own learning rates, the second masked on step 2: each equals torch.optim.Adam
    run over the steps it took. Same formula, possibly another kernel (torch's foreach Adam), so each
    step may round differently: per step half an ulp of the weight plus a few of the step (<= lr), over
    4 steps, gives the tolerance ``rtol=4 eps, atol=16 eps lr`` (float32 eps)."""
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
            torch.testing.assert_close(
                stacked[f"w{i}"][k], p.detach(), rtol=4 * EPS32, atol=16 * EPS32 * lr_k
            )


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


LINEAR_ADAM_EPS = 1e-2
"""Adam epsilon of the equality tests. With the models' defaults (1e-7, 1e-8) a step is about
``lr * g / (|g| + eps)``: for a gradient element near 0 the float rounding of ``g`` (which differs between
the stacked, vmapped kernels and the plain ones) decides the step's sign, so one step can move that
element by up to ``2 lr`` in one path and not the other. That is Adam amplifying float noise, not a
fault of stacking, and later steps (BatchNorm, ReLU gates, early-stopping ties) carry it on. With
``eps = 1e-2`` a step's sensitivity to its gradient is at most ``lr / eps``, so the two paths stay within
rounding of each other and the bookkeeping (batches, steps, LR schedule, early stopping, restore) can be
compared tightly."""


@pytest.mark.parametrize("name", ["mccnn", "saelstm"])
def test_fit_stacked_equals_fit_one_at_a_time(name):
    """K=3 models, training parts of 50, 33 and 49 samples (batches 16: a trailing batch of 1 skipped, of
    2 trained alone, of 17 - 1 in a group of its own), validation parts of 20, 20 and 13; early stopping
    (patience 3) and LR decay (patience 0) both fire.

    Tolerance, from the arithmetic: the gradients of the two paths differ by float32 rounding of sums over
    a batch (relative <= ~1e-5 of the gradient's scale, which is O(1) here); each of the <= 32 Adam steps
    turns a gradient difference dg into a weight difference <= (lr / eps) dg = 0.1 dg, so weights and the
    losses they give stay within 32 * 0.1 * 1e-5 ~ 3e-5: asserted at 1e-4 (weights) and 1e-5 (history,
    whose losses average over the part). Measured on an AMD EPYC: 1.2e-7 (mccnn) and 1.5e-8 (saelstm)."""
    cfg = TrainConfig(batch_size=16, early_stopping=3, lr_patience=0, lr=1e-3, adam_eps=LINEAR_ADAM_EPS)
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
            torch.testing.assert_close(s1[key], s2[key], atol=1e-4, rtol=1e-5)
        m1.eval(), m2.eval()
        with torch.no_grad():
            o1, o2 = m1(xv), m2(xv)
        for t in tasks:
            torch.testing.assert_close(o1[t], o2[t], atol=1e-4, rtol=0)


def test_fit_stacked_mtcnn_step_equals_fit_step():
    """MT-CNN (both tasks, BatchNorm, dense 512): one training step of each of K=2 stacked models equals
    ``fit``'s step. Over many steps MT-CNN's two paths drift apart (float noise amplified by Adam and then
    by the training itself: weights 5e-3 apart after 4 epochs at Adam eps 1e-7, 1e-3 at eps 1e-2, so its
    stacked run's accuracies differ from one-at-a-time's by a few 1e-3), so what must hold exactly is the
    step: same loss, same gradients up to rounding, same update. With ``eps = 1`` the update's sensitivity
    to a gradient difference dg (relative ~1e-5) is lr dg = 1e-3 * 1e-5: weights within 1e-6; BatchNorm's
    running statistics, averages of the batch, within a relative 1e-5."""
    cfg = TrainConfig(batch_size=16, early_stopping=0, lr_decay=False, restore_best=False, adam_eps=1.0)
    tasks, models, data, seeds = _problem("mtcnn", [(16, 8), (16, 8)])
    alone = [copy.deepcopy(m) for m in models]
    before = copy.deepcopy(alone[0].state_dict())
    res = fit_stacked(models, data, tasks=tasks, config=cfg, max_epochs=1, seeds=seeds, device=CPU)
    ref = [
        fit(m, *d, tasks=tasks, config=cfg, max_epochs=1, seed=s, device=CPU)
        for m, d, s in zip(alone, data, seeds, strict=True)
    ]
    for a, b in zip(res, ref, strict=True):
        np.testing.assert_allclose(a.history[0]["train_loss"], b.history[0]["train_loss"], rtol=1e-5)
        np.testing.assert_allclose(a.history[0]["valid_loss"], b.history[0]["valid_loss"], rtol=1e-5)
    assert not torch.equal(alone[0].state_dict()["trunk.conv1.weight"], before["trunk.conv1.weight"])
    for m1, m2 in zip(models, alone, strict=True):
        s1, s2 = m1.state_dict(), m2.state_dict()
        for key in s2:
            torch.testing.assert_close(s1[key], s2[key], atol=1e-6, rtol=1e-5)


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
    from bench.runs.executors import PoolExecutor, check_stack_executor
    from bench.runs.resolved import resolve_run

    msg = r"^train.stack=4: model 'majority' is not trained; nothing to stack$"
    with pytest.raises(ConfigError, match=msg):
        resolve_run(RunConfig(model="majority", train=TrainConfig(stack=4)))
    with pytest.raises(ConfigError, match=r"^train.stack=4: protocol 'whole-set-finetune' fine-tunes one"):
        resolve_run(RunConfig(protocol="whole-set-finetune", train=TrainConfig(stack=4)))
    msg = "--stack 4 trains units together in this process: it needs the local executor, not pool"
    with pytest.raises(ConfigError) as err:
        check_stack_executor(4, PoolExecutor(2))
    assert str(err.value) == msg
    check_stack_executor(0, PoolExecutor(2))  # off: any executor


def _subject_run(features, uri, stack: int):
    cfg = RunConfig(
        model="mccnn", protocol="subject-specific", n_folds=2, seed=0, tasks=("valence",),
        model_options={"dropout": 0.0},
        train=TrainConfig(max_epochs=2, stack=stack, adam_eps=LINEAR_ADAM_EPS),
    )  # fmt: skip
    return runner.run_experiment(cfg, tracking_uri=uri, prepared=runner.prepare(cfg, features=features))


RUN_ROUNDING = 1e-3
"""How far a stacked run's test probabilities may lie from the one-at-a-time run's after its 2 epochs.

The two paths do the same steps on the same batches, in different arithmetic: one at a time trains with
the fused Adam (:func:`bench.training.step.make_optimizer`) and channels-last kernels on the CPU, the
stack with its vmapped Adam and contiguous kernels, so each step's update differs by float rounding
(relative ~1e-7), and at ``LINEAR_ADAM_EPS`` each later step passes a difference on scaled by at most
``lr / eps = 0.1`` per unit of gradient. Measured after 2 epochs: 1.7e-4 at most (Intel Xeon, 2026-12-06;
1e-7 before the fused Adam, when both paths ran the same Adam arithmetic). The bookkeeping itself
(batches, steps, LR schedule, early stopping, restore) is compared exactly by
:func:`test_fit_stacked_equals_fit_one_at_a_time`; this run-level bound checks the units, their logged
metrics and the resume on top of it."""


@pytest.mark.slow
def test_stacked_run_equals_one_at_a_time_run(features, tmp_path):
    """Subject-specific mccnn (dropout 0, valence, Adam eps 1e-2), 2 subjects x 2 folds = 4 units:
    ``stack=3`` trains a group of 3 and one of 1; every unit's test probabilities and metrics equal the
    one-at-a-time run's within rounding; one FINISHED child per unit."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    plain, stacked = _subject_run(features, uri, 0), _subject_run(features, uri, 3)
    assert plain.parent_run_id != stacked.parent_run_id  # a run key of its own
    assert len(stacked.units) == 4
    by_key = {u.unit.key: u for u in plain.units}
    for u in stacked.units:
        ref = by_key[u.unit.key]
        # probabilities within RUN_ROUNDING; decisions and rankings, and so every test metric, are equal
        # unless a probability lies within that of 0.5 or of another one (AUC)
        p, p_ref = u.predictions["p_valence"].to_numpy(), ref.predictions["p_valence"].to_numpy()
        np.testing.assert_allclose(p, p_ref, atol=RUN_ROUNDING, rtol=0)
        gaps = np.diff(np.sort(p_ref))
        borderline = bool(
            np.any(np.abs(p_ref - 0.5) <= RUN_ROUNDING) or np.any((gaps > 0) & (gaps <= 2 * RUN_ROUNDING))
        )
        for k, v in u.metrics.items():
            if k in ("epochs_run", "best_epoch", "n_train") or (k.startswith("test_") and not borderline):
                assert v == pytest.approx(ref.metrics[k], abs=1e-4, nan_ok=True), (u.unit.key, k)
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


@pytest.mark.parametrize("balance", [True, False])
def test_fit_stacked_trains_on_label_distributions_as_fit_does(balance):
    """RGNN with EmotionDL (``emotion_dl``: soft targets from ``label_distributions``) stacked equals RGNN
    trained alone, and differs from hard labels: the stacked trainer reads the same hook as the single one.
    Also covers an auxiliary loss computed from the weights (RGNN's L1 on its adjacency: it must come from
    the stacked weights, not the module's own) and a run without class weights (``balance`` false: no
    weights to map over). Tolerances as in :func:`test_fit_stacked_equals_fit_one_at_a_time` (Adam eps
    1e-2, <= 4 x 3 steps)."""
    from bench.data.categorical.seed_common import CHANNELS as SEED_CHANNELS

    cfg = TrainConfig(batch_size=16, early_stopping=0, lr=1e-3, adam_eps=LINEAR_ADAM_EPS)

    def problem(emotion_dl: float):
        models, data, seeds = [], [], []
        for k, (n, nv) in enumerate([(40, 12), (33, 12)]):
            x = torch.randn(n + nv, 1, len(SEED_CHANNELS), 5, generator=torch.Generator().manual_seed(k))
            y = torch.randint(0, 3, (n + nv, 1), generator=torch.Generator().manual_seed(10 + k))
            data.append((x[:n], y[:n], x[n:], y[n:]))
            seeds.append(100 + k)
            torch.manual_seed(seeds[-1])
            models.append(create_model("rgnn", tasks=("valence3",), channels=SEED_CHANNELS, n_bands=5,
                                       dropout=0.0, emotion_dl=emotion_dl))  # fmt: skip
        return models, data, seeds

    models, data, seeds = problem(0.3)
    alone = [copy.deepcopy(m) for m in models]
    res = fit_stacked(models, data, tasks=("valence3",), config=cfg, max_epochs=4, seeds=seeds, device=CPU)
    ref = [
        fit(m, *d, tasks=("valence3",), config=cfg, max_epochs=4, seed=s, device=CPU)
        for m, d, s in zip(alone, data, seeds, strict=True)
    ]
    hard_models, hard_data, _ = problem(0.0)
    hard = fit_stacked(hard_models, hard_data, tasks=("valence3",), config=cfg, max_epochs=4, seeds=seeds,
                       device=CPU)  # fmt: skip
    for a, b, h in zip(res, ref, hard, strict=True):
        losses = [r["train_loss"] for r in a.history]
        np.testing.assert_allclose(losses, [r["train_loss"] for r in b.history], atol=1e-5, rtol=0)
        # soft targets carry entropy the hard ones lack: the loss differs by far more than rounding
        hard_losses = [r["train_loss"] for r in h.history]
        assert min(abs(x - y) for x, y in zip(losses, hard_losses, strict=True)) > 1e-3
    for m1, m2 in zip(models, alone, strict=True):
        s1, s2 = m1.state_dict(), m2.state_dict()
        for key in s2:
            torch.testing.assert_close(s1[key], s2[key], atol=1e-4, rtol=1e-5)
