"""Training methods (bench.training.methods): the registry, DANN's wrapper and gradient reversal, and the
two input methods (per-subject standardisation, Euclidean alignment) on planted data."""

from __future__ import annotations

import math
import tomllib
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import bench.training.methods.inputs as method_inputs
from bench.core.errors import ConfigError
from bench.models.registry import create_model, list_models
from bench.training.methods import BUILTIN_MODULES, ENTRY_POINT_GROUP, get_method_info, method_names
from bench.training.methods.dann import DomainAdversarial, GradReverse, grl_lambda
from bench.training.methods.ea import euclidean_alignment, mean_covariance
from bench.training.methods.inputs import subject_groups
from bench.training.methods.subject_norm import subject_norm

ROOT = Path(__file__).resolve().parents[2]


def test_builtin_methods_are_the_declared_entry_points():
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]
    assert list(declared[ENTRY_POINT_GROUP].items()) == list(BUILTIN_MODULES.items())
    assert method_names() == ("none", "dann", "subject-norm", "ea", "ms-mda")


def test_cli_help_names_every_method():
    from bench.cli.run import METHOD_HELP

    assert all(name in METHOD_HELP for name in method_names())


def test_unknown_method_is_one_line():
    with pytest.raises(ConfigError, match="unknown method 'dan'; .*did you mean 'dann'"):
        get_method_info("dan")


def test_trunk_models_are_the_single_trunk_ones():
    trunk = [m.name for m in list_models() if hasattr(m.factory, "embed")]
    assert trunk == ["mtcnn", "4dcrnn", "fbccnn", "saelstm", "eegnet", "shallowconvnet", "deepconvnet",
                     "tsception", "dgcnn", "rgnn"]  # fmt: skip


@pytest.mark.parametrize("name", ["fbccnn", "mtcnn"])
def test_forward_is_the_heads_on_embed(name):
    torch.manual_seed(0)
    model = create_model(name, tasks=("valence", "arousal")).eval()
    x = torch.randn(3, *model_input_shape(model))
    out = model(x)
    z = model.embed(x)
    for t, head in model.heads.items():
        torch.testing.assert_close(out[t], head(z), rtol=0, atol=0)


def model_input_shape(model: nn.Module) -> tuple[int, ...]:
    return tuple(model._sample_shape) if hasattr(model, "_sample_shape") else model.input_spec.sample_shape


def test_lambda_schedule_values():
    assert grl_lambda(0, 100) == 0.0
    assert math.isclose(grl_lambda(50, 100), 2 / (1 + math.exp(-5)) - 1)  # 0.98661
    assert math.isclose(grl_lambda(100, 100), 2 / (1 + math.exp(-10)) - 1)
    assert grl_lambda(500, 100) == grl_lambda(100, 100)  # past the plan: stays at p = 1


def test_gradient_reversal_scales_the_gradient_by_minus_lambda():
    x = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
    (GradReverse.apply(x, 0.25) * torch.tensor([2.0, 4.0, 8.0])).sum().backward()
    assert x.grad.tolist() == [-0.5, -1.0, -2.0]


class Toy(nn.Module):
    """A trunk and two heads: the contract a training method needs (embed + heads)."""

    def __init__(self):
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(5, 4), nn.Tanh())
        self.heads = nn.ModuleDict({"valence": nn.Linear(4, 2), "arousal": nn.Linear(4, 2)})

    def embed(self, x):
        return self.trunk(x)

    def forward(self, x):
        z = self.embed(x)
        return {t: h(z) for t, h in self.heads.items()}


def _wrapped(seed: int = 0, n_target: int = 7) -> DomainAdversarial:
    torch.manual_seed(0)
    inner = Toy()
    target = torch.randn(n_target, 5, generator=torch.Generator().manual_seed(1)) + 3.0
    return DomainAdversarial(inner, target=target, steps=10, seed=seed)


def test_dann_eval_forward_is_the_inner_model():
    w = _wrapped().eval()
    x = torch.randn(6, 5)
    out, ref = w(x), w.inner(x)
    for t in ref:
        assert torch.equal(out[t], ref[t])
    assert w.predictor is w.inner
    assert w.domain[0].in_features == 4  # the trunk's width, probed


def test_dann_training_forward_returns_the_source_logits_and_counts_steps():
    w = _wrapped().train()
    x = torch.randn(6, 5)
    out = w(x)
    ref = w.inner(x)
    for t in ref:
        torch.testing.assert_close(out[t], ref[t])  # no BatchNorm: the stacked target rows change nothing
    assert out["valence"].shape == (6, 2) and w.step == 1


def test_dann_trunk_gradient_is_the_reversed_domain_gradient():
    """With lambda 1 the trunk's gradient from the auxiliary loss is minus that of the plain domain loss;
    with lambda 0 the trunk gets none while the domain classifier still learns."""
    x = torch.randn(6, 5)

    def grads(lam):
        w = _wrapped().train()
        w.lam_override = lam
        w(x)
        w.auxiliary_loss().backward()
        return w.inner.trunk[0].weight.grad.clone(), w.domain[0].weight.grad.clone()

    g1, d1 = grads(1.0)
    g0, d0 = grads(0.0)
    # the same loss without reversal, on the same target rows (same seed: same draw)
    w = _wrapped().train()
    idx = torch.randint(7, (6,), generator=torch.Generator().manual_seed(0))
    z = w.inner.embed(torch.cat([x, w.target[idx]]))
    y = torch.cat([torch.zeros(6), torch.ones(6)])
    nn.functional.binary_cross_entropy_with_logits(w.domain(z).squeeze(-1), y).backward()
    torch.testing.assert_close(g1, -w.inner.trunk[0].weight.grad)
    torch.testing.assert_close(d1, w.domain[0].weight.grad)
    assert torch.count_nonzero(g0) == 0 and torch.equal(d0, d1)


def test_dann_target_draws_follow_its_own_seed():
    a, b, c = _wrapped(seed=5), _wrapped(seed=5), _wrapped(seed=6)
    x = torch.randn(4, 5)
    for w in (a, b, c):
        w.train()
        w(x)
    assert a.auxiliary_loss().item() == b.auxiliary_loss().item()
    assert a.auxiliary_loss().item() != c.auxiliary_loss().item()


def test_dann_passes_the_inner_auxiliary_loss_through():
    w = _wrapped().train()
    w.inner.auxiliary_loss = lambda: torch.tensor(10.0)
    w(torch.randn(4, 5))
    domain = w._domain_loss.item()
    assert w.auxiliary_loss().item() == pytest.approx(domain + 10.0)


def test_dann_node_features_get_one_shared_node_classifier():
    class Graph(Toy):
        def node_features(self, x):  # (N, 3 nodes, 4)
            return self.trunk(x)[:, None, :].expand(-1, 3, -1) * torch.tensor([1.0, 2.0, 3.0])[:, None]

    torch.manual_seed(0)
    w = DomainAdversarial(Graph(), target=torch.randn(5, 5), steps=4, seed=0).train()
    w(torch.randn(4, 5))
    assert w.domain[0].in_features == 4 and w._domain_loss.ndim == 0


# ------------------------------------------------------------------------------------- input methods
def _planted(shape, subjects=(1, 2, 3), rows=10, seed=0):
    rng = np.random.default_rng(seed)
    xs, ss = [], []
    for k, s in enumerate(subjects):
        xs.append(rng.normal(5.0 * k, 1.0 + k, size=(rows, *shape)))
        ss.append(np.full(rows, s))
    return np.concatenate(xs).astype(np.float32), np.concatenate(ss)


@pytest.mark.parametrize("chunk", [512, 3])
def test_subject_norm_standardises_each_subject_per_element(monkeypatch, chunk):
    monkeypatch.setattr(method_inputs, "CHUNK", chunk)
    x, subject = _planted((2, 3))
    out = subject_norm(x, subject)
    assert out.dtype == np.float32 and out.shape == x.shape
    for s in (1, 2, 3):
        part = out[subject == s].astype(np.float64)
        np.testing.assert_allclose(part.mean(0), 0.0, atol=1e-5)
        np.testing.assert_allclose(part.std(0, ddof=1), 1.0, atol=1e-5)


def test_subject_norm_of_signals_is_per_channel_over_rows_and_time():
    x, subject = _planted((4, 16))
    out = subject_norm(x, subject, signal=True).astype(np.float64)
    for s in (1, 2, 3):
        part = out[subject == s]
        np.testing.assert_allclose(part.mean(axis=(0, 2)), 0.0, atol=1e-5)
        np.testing.assert_allclose(part.transpose(1, 0, 2).reshape(4, -1).std(1, ddof=1), 1.0, atol=1e-5)
        assert abs(part[:, 0, 0].mean()) > 1e-3  # one time point is not centred by itself


def test_subject_groups_keep_two_datasets_subjects_apart():
    subject = np.array([1, 2, 1, 2])
    assert subject_groups(subject, None).tolist() == [1, 2, 1, 2]
    assert subject_groups(subject, np.array([0, 0, 1, 1])).tolist() == [1, 2, 4, 5]


@pytest.mark.parametrize("chunk", [512, 4])
def test_euclidean_alignment_whitens_each_subjects_mean_covariance(monkeypatch, chunk):
    """Planted: each subject mixes white sources through its own matrix; after EA every subject's mean
    covariance is the identity (to float32 rounding of the output)."""
    monkeypatch.setattr(method_inputs, "CHUNK", chunk)
    rng = np.random.default_rng(0)
    c, s, rows = 4, 64, 9
    xs, subj = [], []
    for k in (1, 2):
        mix = rng.normal(size=(c, c)) + 3 * np.eye(c) * k
        xs.append(np.einsum("cd,nds->ncs", mix, rng.normal(size=(rows, c, s))))
        subj.append(np.full(rows, k))
    x, subject = np.concatenate(xs).astype(np.float32), np.concatenate(subj)
    assert not np.allclose(mean_covariance(x, np.flatnonzero(subject == 1)), np.eye(c), atol=0.1)
    out = euclidean_alignment(x, subject)
    assert out.dtype == np.float32
    for k in (1, 2):
        np.testing.assert_allclose(mean_covariance(out, np.flatnonzero(subject == k)), np.eye(c), atol=1e-5)


def test_mean_covariance_is_x_xt_over_samples():
    x = np.array([[[1.0, 2.0], [0.0, 1.0]], [[3.0, 0.0], [1.0, 1.0]]], dtype=np.float32)
    # window 1: [[5, 2], [2, 1]] / 2; window 2: [[9, 3], [3, 2]] / 2; mean: [[3.5, 1.25], [1.25, 0.75]]
    np.testing.assert_allclose(mean_covariance(x, np.array([0, 1])), [[3.5, 1.25], [1.25, 0.75]])
