"""k-class tasks through the models, the trainer, the stacked trainer and the trivial baselines."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from scipy import stats

from bench.config.run import TrainConfig
from bench.core.metrics import classification_metrics
from bench.core.stats import binomial_chance
from bench.core.tasks import n_classes
from bench.models.registry import create_model, resolve_input_spec
from bench.training.stacked import fit_stacked
from bench.training.trainer import fit, predict_proba

CPU = torch.device("cpu")
TASKS = ("valence3", "emotion4")
STRICT_ALPHA = 0.001
"""The planted-effect tests' significance level: a model that learned nothing passes the bound with
probability 0.001 (the seeds are fixed, so a run either passes or not, on every machine alike)."""


def _planted(n: int, effect: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """MT-CNN inputs (8 maps of 8x9) with noise N(0, 1) and, per task, +``effect`` on one map per class:
    valence3's class c on map c, emotion4's class c on map 3 + c (maps 0-6; map 7 is noise only)."""
    g = torch.Generator().manual_seed(seed)
    shape = resolve_input_spec("mtcnn", features=None).sample_shape()
    x = torch.randn(n, *shape, generator=g)
    y = torch.stack([torch.randint(0, n_classes(t), (n,), generator=g) for t in TASKS], dim=1)
    rows = torch.arange(n)
    x[rows, y[:, 0]] += effect
    x[rows, 3 + y[:, 1]] += effect
    return x, y


@pytest.mark.parametrize("effect", [0.8, 0.0])
def test_a_k_class_model_learns_a_planted_effect_and_nothing_without_it(effect):
    """Three and four classes, one head each (widths 3 and 4); trained 3 epochs on 320 samples (100 for
    validation), tested on 400: with the effect each task beats the binomial chance bound of its k at
    alpha 0.001 (40.7 % for 3 classes, 31.8 % for 4), without it neither does. Measured (Intel Xeon):
    71 % and 67 % with the effect, 33 % and 22 % without."""
    x, y = _planted(1000, effect, seed=1)
    torch.manual_seed(0)
    model = create_model("mtcnn", tasks=TASKS)
    assert {t: model.heads[t].out_features for t in TASKS} == {"valence3": 3, "emotion4": 4}
    cfg = TrainConfig(batch_size=64, lr=1e-3, early_stopping=0)
    fit(model, x[:320], y[:320], x[320:420], y[320:420], tasks=TASKS, config=cfg, max_epochs=3, seed=0,
        device=CPU)  # fmt: skip
    probs = predict_proba(model, x[600:], batch_size=256, device=CPU)
    for i, t in enumerate(TASKS):
        k = n_classes(t)
        assert probs[t].shape == (400, k)
        np.testing.assert_allclose(probs[t].sum(axis=1), 1.0, atol=1e-5)
        acc = classification_metrics(y[600:, i].numpy(), probs[t])["acc"]
        bound = binomial_chance(400, alpha=STRICT_ALPHA, p=1 / k)
        assert (acc > bound) == (effect > 0), (t, acc, bound)


def test_trivial_baselines_with_k_classes():
    y = torch.tensor([0] * 5 + [1] * 3 + [2] * 2)
    majority = create_model("majority", tasks=("valence", "valence3"))
    majority.fit_labels({"valence": torch.tensor([0, 1, 1]), "valence3": y})
    out = majority(torch.zeros(4, 3))
    assert out["valence"].shape == (4, 2) and out["valence3"].shape == (4, 3)
    np.testing.assert_allclose(torch.softmax(out["valence3"], 1)[0].numpy(), [0.5, 0.3, 0.2], rtol=1e-6)
    assert out["valence3"].argmax(1).tolist() == [0] * 4
    with pytest.raises(ValueError, match="values 0-2"):
        majority.fit_labels({"valence": torch.tensor([0, 1]), "valence3": torch.tensor([0, 3])})

    prior = create_model("prior", tasks=("emotion4",), seed=3)
    prior.fit_labels({"emotion4": torch.tensor([0] * 4 + [1] * 2 + [2] * 2 + [3] * 2)})
    draws = prior(torch.zeros(6000, 1))["emotion4"]
    assert draws.shape == (6000, 4) and set(draws.sum(1).tolist()) == {1.0}
    shares = draws.mean(0).numpy()
    # each share is a binomial proportion: within 5 standard errors of its expectation
    expected = np.array([0.4, 0.2, 0.2, 0.2])
    assert np.all(np.abs(shares - expected) <= 5 * np.sqrt(expected * (1 - expected) / 6000)), shares
    assert stats.chisquare(draws.sum(0).numpy(), 6000 * expected).pvalue > 1e-4


def test_fit_stacked_with_heads_of_different_widths_equals_fit_one_at_a_time():
    """MC-CNN with a 3-class and a 9-class head, K=2 stacked models against ``fit`` alone; the tolerance
    argument of tests/training/test_stacked.py (Adam eps 1e-2: a step's sensitivity to float noise in its
    gradient is at most lr/eps) gives 1e-4 for the weights and 1e-5 for the history."""
    tasks = ("valence3", "emotion9")
    shape = resolve_input_spec("mccnn", features=None, dropout=0.0).sample_shape()
    g = torch.Generator().manual_seed(0)
    models, data, seeds = [], [], []
    for k, (n, nv) in enumerate([(40, 12), (29, 10)]):
        x = torch.randn(n + nv, *shape, generator=g)
        y = torch.stack([torch.randint(0, n_classes(t), (n + nv,), generator=g) for t in tasks], 1)
        data.append((x[:n], y[:n], x[n:], y[n:]))
        seeds.append(100 + k)
        torch.manual_seed(seeds[-1])
        models.append(create_model("mccnn", tasks=tasks, dropout=0.0))
    alone = [copy.deepcopy(m) for m in models]
    cfg = TrainConfig(batch_size=16, early_stopping=3, lr=1e-3, adam_eps=1e-2)
    res = fit_stacked(models, data, tasks=tasks, config=cfg, max_epochs=4, seeds=seeds, device=CPU)
    ref = [fit(m, *d, tasks=tasks, config=cfg, max_epochs=4, seed=s, device=CPU)
           for m, d, s in zip(alone, data, seeds, strict=True)]  # fmt: skip
    for a, b in zip(res, ref, strict=True):
        assert [r.keys() for r in a.history] == [r.keys() for r in b.history]
        for ra, rb in zip(a.history, b.history, strict=True):
            np.testing.assert_allclose([ra[k] for k in ra], [rb[k] for k in ra], atol=1e-5, rtol=0)
    for m1, m2 in zip(models, alone, strict=True):
        for key, v in m2.state_dict().items():
            torch.testing.assert_close(m1.state_dict()[key], v, atol=1e-4, rtol=1e-5)
