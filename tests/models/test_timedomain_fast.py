"""The fast forward passes of the time-domain models compute the paper's function, within float rounding.

Each model's ``forward`` runs a re-formulated computation (baselines/timedomain.py: ShallowConvNet's and
DeepConvNet's temporal and spatial convolutions composed into one Conv1d; EEGNet's temporal conv -> BN ->
depthwise spatial conv spatial-first, the BN's statistics from the input's window moments and the
depthwise temporal conv as block-Toeplitz matmuls; TSception's temporal branches as a Conv1d of the EEG
rows). The ``reference_*`` functions below are the forward passes as they were written before (the
paper's layers, one module after the other), run on the SAME modules and parameters.

Tolerances, from the arithmetic. Every output and gradient is a chain of sums; a sum of n terms computed
in a float format of unit roundoff u (fp32: 2^-24) is within ``n u sum|terms|`` of the exact one, however
the kernel orders it. Both formulations are compared with the reference run in float64 (error ~1e-16,
"exact" here); the fp32 error of each tensor must stay below ``n u max|exact|``, with n the longest
reduction that feeds the tensor (:data:`REDUCTION`: the batch x positions of a weight gradient). The
scale stands in for sum|terms|: an output's or buffer's largest entry; for the parameter gradients the
largest entry of the whole gradient (norm-wise, as Adam and the loss see it), because some of them are
sums that cancel to ~0 by the architecture (EEGNet's BN1 gamma and beta: the BN after the linear spatial
conv normalises their effect away) while their terms are of the other gradients' size. Actual errors
are ~sqrt(n) u, far inside the bound. bf16 autocast rounds every matmul input
to 8 bits, so there both formulations are compared with float64 and the new error must be at most
:data:`BF16_FACTOR` times the old one (plus fp32 noise).
"""

from __future__ import annotations

import copy
import types

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from baselines.timedomain import depthwise_conv1d
from bench.models.registry import create_model


def reference_eegnet(model: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """EEGNet's forward before the fast formulation: the body's layers in order."""
    z = model.body(x.unsqueeze(1))
    return {t: head(z) for t, head in model.heads.items()}


def reference_shallowconvnet(model: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """ShallowConvNet's forward before: temporal conv, spatial conv, BN, square, pool, log."""
    z = model.bn(model.spatial(model.temporal(x.unsqueeze(1))))
    z = torch.log(torch.clamp(model.pool(z * z), min=1e-6))
    z = model.classifier_input(z)
    return {t: head(z) for t, head in model.heads.items()}


def reference_deepconvnet(model: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """DeepConvNet's forward before: the body's layers in order."""
    z = model.body(x.unsqueeze(1))
    return {t: head(z) for t, head in model.heads.items()}


def reference_tsception(model: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """TSception's forward before: three temporal branches, two spatial ones, fusion, mean, dense."""
    x = x.index_select(1, model.channel_order).unsqueeze(1)
    z = model.bn_t(torch.cat([branch(x) for branch in model.tception], dim=-1))
    both = model.sception_global(z)
    z = torch.cat([both, model.sception_hemisphere(z[:, :, : 2 * model._half])], dim=2)
    z = model.bn_fusion(model.fusion(model.bn_s(z)))
    z = model.hidden(z.mean(dim=-1).flatten(1))
    return {t: head(z) for t, head in model.heads.items()}


REFERENCES = {
    "eegnet": reference_eegnet,
    "shallowconvnet": reference_shallowconvnet,
    "deepconvnet": reference_deepconvnet,
    "tsception": reference_tsception,
}

MODELS = tuple(REFERENCES)
FP32_U = 2.0**-24
BATCH = 6

REDUCTION = {
    "eegnet": BATCH * 32 * 575,  # BN1's statistics and the temporal weight's gradient: N x C x (S + 63)
    "shallowconvnet": BATCH * 40 * 32 * 500,  # the spatial weight's gradient, over N x T, of G x C sums
    "deepconvnet": BATCH * 25 * 32 * 503,
    "tsception": BATCH * 28 * 512,  # the temporal weights' gradients: N x C' x T
}
"""The longest reduction (terms of one sum, chained) behind any output or gradient of each model, batch
:data:`BATCH`, DEAP's 32 channels x 512 samples: the bound's n."""

BF16_FACTOR = 3.0
"""bf16 autocast: the new formulation's error (vs float64) at most this times the old one's. It rounds
fewer intermediates to bf16 (ShallowConvNet/DeepConvNet: the composed kernel once instead of the
temporal output; EEGNet: fp32 BN statistics), so it is mostly below 1; 3 leaves room for the random
rounding of a different order of bf16 products (measured, per tensor: at most 1.7)."""

PINNED = {
    "eegnet": (38.01512229582295, 60.22537620022977, 0.17638802528381348),
    "shallowconvnet": (41.388051730007646, 68.4678812666422, 0.4590721130371094),
    "deepconvnet": (373.52458973481873, 509.5478484627846, 0.061541080474853516),
    "tsception": (52.107370795802126, 88.65838293633863, 0.2490212321281433),
}
"""Built with ``torch.manual_seed(0)``, one task, before the fast formulations (commit 92e3c13): sum and
sum of squares of all parameters (float64) and the next ``torch.rand(())``: the same initialisation and
the same number of RNG draws at construction."""

SLOW = pytest.mark.slow  # EEGNet's float64 references take 8-17 s each: kept out of the default test run
OPTIONS = [
    pytest.param("eegnet", {}, marks=SLOW),
    pytest.param("eegnet", {"batch_norm": False}, marks=SLOW),
    pytest.param("eegnet", {"faithful_keras": True, "F1": 4, "D": 3}, marks=SLOW),
    ("shallowconvnet", {}),
    ("shallowconvnet", {"batch_norm": False}),
    ("deepconvnet", {}),
    ("deepconvnet", {"batch_norm": False}),
    ("tsception", {}),
    ("tsception", {"power_layer": True}),
]


def _options(case) -> dict:
    """The options of an OPTIONS entry (a tuple or a pytest.param)."""
    return case.values[1] if hasattr(case, "values") else case[1]


def _model(name: str, **options) -> nn.Module:
    torch.manual_seed(0)
    return create_model(name, tasks=("valence",), dropout=0.0, **options).train()


def _x(model: nn.Module, n: int = BATCH, seed: int = 1) -> torch.Tensor:
    return torch.randn(n, *model._sample_shape, generator=torch.Generator().manual_seed(seed))


def _run(model: nn.Module, x: torch.Tensor, forward, bf16: bool = False) -> dict[str, torch.Tensor]:
    """Output, the gradient of a fixed loss w.r.t. every parameter and the input, the BN buffers after
    the step, and the eval-mode output: every tensor the formulation touches, in float64."""
    model = copy.deepcopy(model)
    x = x.clone().requires_grad_(True)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        out = forward(model, x)["valence"]
    probe = torch.linspace(-1, 1, out.numel(), dtype=torch.float64).view_as(out)
    (out.double() * probe).sum().backward()
    res = {"out": out.detach(), "grad x": x.grad}
    res.update({f"grad {k}": p.grad for k, p in model.named_parameters()})
    res.update({k: b for k, b in model.named_buffers() if b.is_floating_point()})
    model.eval()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        res["eval out"] = forward(model, x.detach())["valence"]
    return {k: v.detach().double() for k, v in res.items()}


def _new(model: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    return model(x)


def _errors(name: str, options: dict, bf16: bool) -> tuple[dict, dict, dict]:
    """Max abs error vs float64 of the new and the reference formulation (fp32 or bf16), and the scale
    (max |exact|) of every tensor."""
    model = _model(name, **options)
    x = _x(model)
    exact = _run(copy.deepcopy(model).double(), x.double(), REFERENCES[name])
    new = _run(model, x, _new, bf16)
    old = _run(model, x, REFERENCES[name], bf16)
    assert new.keys() == old.keys() == exact.keys()
    err_new = {k: (new[k] - exact[k]).abs().max().item() for k in exact}
    err_old = {k: (old[k] - exact[k]).abs().max().item() for k in exact}
    scale = {k: exact[k].abs().max().item() for k in exact}
    grads = max(v for k, v in scale.items() if k.startswith("grad ") and k != "grad x")
    scale.update({k: max(v, grads) for k, v in scale.items() if k.startswith("grad ") and k != "grad x"})
    return err_new, err_old, scale


@pytest.mark.parametrize(("name", "options"), OPTIONS)
def test_fp32_outputs_gradients_and_buffers_equal_the_papers_order(name, options):
    """Train-mode output, the gradients of every parameter and of the input, the BN running statistics
    after the step and the eval-mode output: within ``n u max|exact|`` of float64, as the paper-order
    reference itself is."""
    err_new, err_old, scale = _errors(name, options, bf16=False)
    bound = REDUCTION[name] * FP32_U
    for k in err_new:
        assert err_new[k] <= bound * scale[k] + 1e-30, (k, err_new[k], scale[k])
        assert err_old[k] <= bound * scale[k] + 1e-30, (k, err_old[k], scale[k])  # the bound is sound


@pytest.mark.parametrize(("name", "options"), [o for o in OPTIONS if not _options(o)])
def test_bf16_autocast_is_no_worse_than_the_papers_order(name, options):
    """Under bf16 autocast both formulations are compared with float64; the new one's error is at most
    :data:`BF16_FACTOR` times the old one's on every tensor (plus fp32 noise, ``n u max|exact|``)."""
    err_new, err_old, scale = _errors(name, options, bf16=True)
    bound = REDUCTION[name] * FP32_U
    for k in err_new:
        assert err_new[k] <= BF16_FACTOR * err_old[k] + bound * scale[k] + 1e-30, (k, err_new[k], err_old[k])


@pytest.mark.parametrize("name", MODELS)
def test_parameters_state_dict_and_rng_draws_unchanged(name):
    torch.manual_seed(0)
    model = create_model(name, tasks=("valence",))
    after = torch.rand(()).item()
    total = sum(p.double().sum().item() for p in model.parameters())
    squares = sum(p.double().square().sum().item() for p in model.parameters())
    assert (total, squares, after) == pytest.approx(PINNED[name], rel=1e-12)
    reference = copy.deepcopy(model)
    reference.forward = types.MethodType(REFERENCES[name], reference)
    assert model.state_dict().keys() == reference.state_dict().keys()
    # the reference runs on the model's own modules: every parameter is used by both forwards
    x = _x(model, 4)
    model(x)["valence"].sum().backward()
    assert all(p.grad is not None for p in model.parameters())


@pytest.mark.parametrize("name", MODELS)
def test_vmap_stacked_models_equal_each_alone(name):
    """As bench/training/stacked.py runs them: ``functional_call`` under ``vmap`` on stacked parameters
    and BN buffers, train mode; each model's output and running statistics equal its own forward."""
    models = [_model(name) for _ in range(2)]
    with torch.no_grad():
        for p in models[1].parameters():
            p.mul_(0.5)
    xs = torch.stack([_x(models[0], 4, seed) for seed in (1, 2)])
    alone = [copy.deepcopy(m) for m in models]
    params, buffers = stack_module_state(models)
    base = copy.deepcopy(models[0]).to("meta")

    def one(p, b, x):
        return functional_call(base, {**p, **b}, (x,))["valence"]

    out = vmap(one)(params, buffers, xs)
    for i, m in enumerate(alone):
        torch.testing.assert_close(out[i], m(xs[i])["valence"], atol=1e-5, rtol=1e-4)
        for k, b in m.named_buffers():
            torch.testing.assert_close(buffers[k][i], b, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("name", MODELS)
def test_compiles(name):
    """``torch.compile`` traces the fast forward (aot_eager: the graph capture and autograd, without the
    minutes of inductor's code generation) and computes the eager function."""
    model = _model(name)
    x = _x(model, 4)
    compiled = torch.compile(copy.deepcopy(model), backend="aot_eager")
    out = compiled(x)["valence"]
    out.sum().backward()
    torch.testing.assert_close(out, model(x)["valence"], atol=1e-5, rtol=1e-5)


def test_depthwise_block_toeplitz_equals_the_convolution():
    """The block-Toeplitz depthwise convolution at lengths that are and are not multiples of the block."""
    gen = torch.Generator().manual_seed(3)
    for length, k in ((575, 64), (100, 64), (64, 64), (143, 16), (37, 5)):
        y = torch.randn(3, 4, length, generator=gen, dtype=torch.float64)
        w = torch.randn(4, k, generator=gen, dtype=torch.float64)
        torch.testing.assert_close(depthwise_conv1d(y, w), F.conv1d(y, w.unsqueeze(1), groups=4))
