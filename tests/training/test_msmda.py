"""MS-MDA (``--method ms-mda``): the linear MMD, the branches' discrepancy, each training row scored by its
own source's branch, the adaptation loss against a per-source loop, prediction as the mean of the
branches' probabilities, and the trainer's ``see_batch`` hook (inert for plain models)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from bench.config.run import TrainConfig
from bench.training.methods import get_method_info
from bench.training.methods.msmda import (
    BETA_RATIO,
    LEAKY_SLOPE,
    MultiSourceMDA,
    branch_discrepancy,
    mean_probability_logits,
    mmd_linear,
)
from bench.training.trainer import fit

TASKS = ("valence", "arousal")


class Toy(nn.Module):
    """A trunk and two heads: the contract a training method needs (embed + heads)."""

    def __init__(self):
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(5, 4), nn.Tanh())
        self.heads = nn.ModuleDict({t: nn.Linear(4, 2) for t in TASKS})

    def embed(self, x):
        return self.trunk(x)

    def forward(self, x):
        z = self.embed(x)
        return {t: h(z) for t, h in self.heads.items()}


GROUPS = np.array([7, 7, 7, 3, 3, 3])
"""Two sources: subject 3 (branch 0, rows 3-5) and subject 7 (branch 1, rows 0-2)."""


def _wrapped(seed: int = 0, groups: np.ndarray = GROUPS) -> MultiSourceMDA:
    torch.manual_seed(0)
    target = torch.randn(9, 5, generator=torch.Generator().manual_seed(1)) + 2.0
    return MultiSourceMDA(Toy(), target=target, train_groups=groups, steps=10, seed=seed)


def test_registered_with_the_paper_and_its_choices():
    info = get_method_info("ms-mda")
    assert (info.kind, info.transductive, info.needs_trunk) == ("training", True, True)
    assert info.layouts == ("grid", "channels", "signal") and info.doi == "10.3389/fnins.2021.778488"
    assert any("Deviation" in n for n in info.notes) and any("gamma / 100" in n for n in info.notes)


def test_mmd_of_identical_samples_is_zero():
    a = torch.randn(50, 6, generator=torch.Generator().manual_seed(0))
    assert mmd_linear(a, a.clone()) == 0.0
    assert mmd_linear(a, a[torch.randperm(50)]) < 1e-12  # a permutation has the same mean (fp32 sums)


def test_mmd_is_the_authors_paired_form_and_the_closed_form():
    """The authors' ``mean((A - B)(A - B)^T)`` (numpy, float64) equals the squared distance of the means;
    for N(0, I) against N(delta, I) its expectation is ``|delta|^2 + d (1/n + 1/m)``."""
    rng = np.random.default_rng(0)
    n, d = 4000, 4
    delta = np.array([1.0, -0.5, 0.0, 2.0])
    a, b = rng.standard_normal((n, d)), rng.standard_normal((n, d)) + delta
    diff = a - b
    paired = float(np.mean(diff @ diff.T))
    got = float(mmd_linear(torch.from_numpy(a), torch.from_numpy(b)))
    assert math.isclose(got, paired, rel_tol=1e-5)  # fp32 means of O(1) values: ~1e-7 relative
    expected = float(delta @ delta) + d * 2 / n  # 5.25 + 0.002
    # the estimate is |delta + e|^2, e ~ N(0, 2/n I): sd of 2 delta.e is 2 |delta| sqrt(2/n) = 0.10
    assert abs(got - expected) < 4 * 2 * math.sqrt(float(delta @ delta)) * math.sqrt(2 / n)
    assert abs(got - expected) < 0.41 and got > 4.5  # far from 0: the shift is seen


def test_mean_probability_logits_softmax_to_the_branch_mean():
    logits = torch.tensor([[[2.0, 0.0], [0.0, 30.0]], [[0.0, 2.0], [-30.0, 0.0]], [[1.0, 1.0], [0.0, 0.0]]])
    out = mean_probability_logits(logits)  # (3 branches, 2 rows, 2 classes) -> (2, 2)
    mean = torch.softmax(logits, dim=-1).mean(dim=0)
    torch.testing.assert_close(torch.softmax(out, dim=-1), mean, rtol=0, atol=1e-7)
    torch.testing.assert_close(out.exp().sum(dim=-1), torch.ones(2), rtol=0, atol=1e-6)
    s = 1 / (1 + math.exp(-2))  # row 0: (s + (1 - s) + 1/2) / 3 = 1/2 for each class
    assert math.isclose(float(out[0, 0].exp()), (s + (1 - s) + 0.5) / 3, rel_tol=1e-6)


def test_branch_discrepancy_by_hand():
    # branch 0 says (1/2, 1/2), branch 1 (0.9, 0.1), branch 2 the same as 0, on 3 target rows
    p = torch.tensor([[0.5, 0.5], [0.9, 0.1], [0.5, 0.5]])
    logits = p.log()[:, None, :].expand(3, 3, 2)
    d = branch_discrepancy(logits)
    want = torch.tensor([[0.0, 0.4, 0.0], [0.4, 0.0, 0.4], [0.0, 0.4, 0.0]])
    torch.testing.assert_close(d, want, rtol=0, atol=1e-6)


def _set_constant_classifiers(w: MultiSourceMDA) -> None:
    """Branch 0 says class 0 (logits (5, -5)), branch 1 class 1 (-5, 5), whatever the input."""
    for c in w.branches.classifiers.values():
        with torch.no_grad():
            c.weight.zero_()
            c.bias.copy_(torch.tensor([[5.0, -5.0], [-5.0, 5.0]]))


def test_each_training_row_is_scored_by_its_own_sources_branch():
    w = _wrapped().train()
    _set_constant_classifiers(w)
    idx = torch.tensor([4, 0, 5, 1])  # sources 3, 7, 3, 7 -> branches 0, 1, 0, 1
    w.see_batch(idx)
    out = w(torch.randn(4, 5))
    want = torch.tensor([[5.0, -5.0], [-5.0, 5.0], [5.0, -5.0], [-5.0, 5.0]])
    for t in TASKS:
        assert torch.equal(out[t], want)


def test_a_sources_rows_train_its_branch_only():
    w = _wrapped().train()
    w.see_batch(torch.tensor([3, 4, 5]))  # source 3 only: branch 0
    out = w(torch.randn(3, 5))
    sum(v.sum() for v in out.values()).backward()
    for c in w.branches.classifiers.values():
        assert torch.count_nonzero(c.weight.grad[0]) > 0 and torch.count_nonzero(c.weight.grad[1]) == 0


def test_a_training_forward_needs_see_batch():
    w = _wrapped().train()
    with pytest.raises(RuntimeError, match="see_batch"):
        w(torch.randn(4, 5))
    w.see_batch(torch.tensor([0, 3]))
    w(torch.randn(2, 5))
    with pytest.raises(RuntimeError, match="see_batch"):  # consumed by the forward
        w(torch.randn(2, 5))


def test_adaptation_loss_is_the_per_source_sum():
    """gamma fixed at 1: sum over the sources present of (their share) x (linear MMD in their branch +
    1/100 x the sum over tasks and other branches of the discrepancy on the target), by a loop."""
    w = _wrapped(seed=3).train()
    w.gamma_override = 1.0
    idx = torch.tensor([0, 3, 4, 5, 1])  # sources 7, 3, 3, 3, 7: shares 2/5 (branch 1) and 3/5 (branch 0)
    x = torch.randn(5, 5)
    w.see_batch(idx)
    w(x)
    got = w.auxiliary_loss()
    # the same target rows (the wrapper's generator, seeded 3), through the same branches
    xt = w.target[torch.randint(9, (5,), generator=torch.Generator().manual_seed(3))]
    h, logits = w.branches(w.inner.embed(torch.cat([x, xt])))
    branch = w.row_branch[idx]
    want = torch.zeros(())
    for s in (0, 1):
        rows = (branch == s).nonzero().squeeze(1)
        share = len(rows) / 5
        want = want + share * mmd_linear(h[s, rows], h[s, 5:])
        for v in logits.values():
            p = torch.softmax(v[:, 5:], dim=-1)
            want = want + share * BETA_RATIO * (p[s] - p[1 - s]).abs().mean()
    torch.testing.assert_close(got, want, rtol=1e-5, atol=0)
    assert float(got.detach()) > 0


def test_gamma_schedule_and_step_count():
    w = _wrapped().train()
    assert w.gamma() == 2 / (1 + math.exp(-1.0)) - 1  # step 0: p = 1/10 (the authors' i counts from 1)
    for _ in range(3):
        w.see_batch(torch.tensor([0, 3]))
        w(torch.randn(2, 5))
    assert w.step == 3 and w.gamma() == 2 / (1 + math.exp(-4.0)) - 1


def test_eval_is_the_log_mean_of_the_branch_probabilities():
    """Prediction recomputed branch by branch from the weights (BatchNorm's running statistics)."""
    w = _wrapped()
    w.train()
    for _ in range(2):  # move the running statistics away from their initial values
        w.see_batch(torch.tensor([0, 1, 3, 4]))
        w(torch.randn(4, 5))
    w.eval()
    x = torch.randn(6, 5)
    out = w(x)
    z = w.inner.embed(x)
    b, norm = w.branches, w.branches.norm
    for t in TASKS:
        probs = []
        for s in range(2):
            ch = slice(32 * s, 32 * (s + 1))
            u = z @ b.dsfe.weight[s] + b.dsfe.bias[s]
            u = (u - norm.running_mean[ch]) / torch.sqrt(norm.running_var[ch] + norm.eps)
            u = F.leaky_relu(u * norm.weight[ch] + norm.bias[ch], LEAKY_SLOPE)
            c = b.classifiers[t]
            probs.append(torch.softmax(u @ c.weight[s] + c.bias[s], dim=-1))
        torch.testing.assert_close(out[t], torch.stack(probs).mean(0).log(), rtol=0, atol=1e-5)
    assert w.predictor is w


def test_branches_follow_the_sorted_sources():
    w = _wrapped(groups=np.array([12, 2, 40, 2]))
    assert w.sources.tolist() == [2, 12, 40] and w.row_branch.tolist() == [1, 0, 2, 0]
    assert w.branches.dsfe.weight.shape == (3, 4, 32)  # 3 sources, the trunk's 4 features, the paper's 32
    assert w.branches.classifiers["valence"].weight.shape == (3, 32, 2)


class Recording(Toy):
    """A plain model that records what the trainer's ``see_batch`` hook hands it, and changes nothing."""

    def __init__(self):
        super().__init__()
        self.seen: list[torch.Tensor] = []

    def see_batch(self, idx):
        self.seen.append(idx.clone())


def test_see_batch_hook_is_inert_and_gets_the_batch_positions():
    x = torch.randn(10, 5, generator=torch.Generator().manual_seed(0))
    y = torch.randint(0, 2, (10, 2), generator=torch.Generator().manual_seed(1))
    cfg = TrainConfig(batch_size=4, max_epochs=2, restore_best=False)
    models = []
    for cls in (Toy, Recording):
        torch.manual_seed(0)
        m = cls()
        fit(m, x, y, x[:4], y[:4], tasks=TASKS, config=cfg, max_epochs=2, seed=5, device=torch.device("cpu"))
        models.append(m)
    for (k, a), (_, b) in zip(models[0].state_dict().items(), models[1].state_dict().items(), strict=True):
        assert torch.equal(a, b), k  # bit-identical: the hook changes nothing for a model without one
    gen = torch.Generator().manual_seed(5)  # the trainer's per-epoch permutations, batches of 4
    want = [p[s : s + 4] for p in (torch.randperm(10, generator=gen) for _ in range(2)) for s in (0, 4, 8)]
    assert [t.tolist() for t in models[1].seen] == [t.tolist() for t in want]
