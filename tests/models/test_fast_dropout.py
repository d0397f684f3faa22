"""FastDropout: torch's dropout function with a fast CPU mask (bench.models.layers)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.func import vmap

from bench.models.layers import FastDropout, dropout_layer, keep_threshold, uniform_int32_like


def test_threshold_keeps_with_probability_one_minus_p():
    for p in (0.0, 0.2, 0.5, 0.9):
        kept = keep_threshold(p) + 2**31  # int32 values below the threshold, out of 2^32
        assert abs(kept / 2**32 - (1 - p)) <= 2**-33
    assert keep_threshold(0.0) == 2**31  # every int32 is below: nothing dropped


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_drops_p_of_the_elements_and_scales_the_rest_exactly(dtype):
    torch.manual_seed(0)
    n = 400_000
    x = torch.ones(n, dtype=dtype, requires_grad=True)
    y = FastDropout(0.2).train()(x)
    zero = (y == 0).double().mean().item()
    # binomial: 6 standard deviations of the dropped fraction
    assert abs(zero - 0.2) < 6 * math.sqrt(0.2 * 0.8 / n)
    scale = (torch.ones((), dtype=dtype) / 0.8).item()  # 1/(1-p) rounded to the dtype, as torch's noise
    assert set(torch.unique(y.detach()).tolist()) == {0.0, scale}
    y.backward(torch.full_like(y, 3.0))
    assert torch.equal(x.grad, torch.where(y.detach() == 0, 0.0, 3.0 * scale).to(dtype))


def test_the_bits_are_uniform_and_independent_of_position():
    """Each of the 32 bits of the drawn int32s is 1 half the time, in the first and the last half."""
    torch.manual_seed(1)
    bits = uniform_int32_like(torch.empty(200_000)).numpy().view("uint32")
    n = bits.size // 2
    for part in (bits[:n], bits[n:]):
        ones = [((part >> b) & 1).mean() for b in range(32)]
        assert max(abs(o - 0.5) for o in ones) < 6 * math.sqrt(0.25 / n)


def test_reproducible_under_torch_manual_seed_and_different_per_call():
    d = FastDropout(0.5).train()
    x = torch.ones(1000)
    torch.manual_seed(3)
    a, b = d(x), d(x)
    torch.manual_seed(3)
    assert torch.equal(d(x), a) and torch.equal(d(x), b)
    assert not torch.equal(a, b)


def test_channels_last_stays_channels_last():
    x = torch.randn(4, 6, 3, 5).contiguous(memory_format=torch.channels_last)
    y = FastDropout(0.3).train()(x)
    assert y.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(y == 0, (y == 0).contiguous())  # the mask is the tensor's, in any layout
    assert uniform_int32_like(x).stride() == x.stride()


def test_eval_mode_is_identity_and_the_module_is_torchs_dropout():
    d = dropout_layer(0.2)
    assert isinstance(d, nn.Dropout) and d.p == 0.2
    assert repr(d) == repr(nn.Dropout(0.2)).replace("Dropout", "FastDropout")
    assert d.state_dict() == {}
    x = torch.randn(10)
    assert torch.equal(d.eval()(x), x)
    assert isinstance(dropout_layer(0.0), nn.Identity)


def test_under_vmap_each_model_draws_its_own_mask():
    """The stacked ensemble vmaps over models with randomness="different": FastDropout falls back to
    torch's dropout there, so the K models' masks differ (a mask of the unbatched shape would be shared)."""
    d = FastDropout(0.5).train()
    torch.manual_seed(0)
    out = vmap(d, randomness="different")(torch.ones(4, 1000))
    masks = out == 0
    assert all(not torch.equal(masks[0], masks[k]) for k in range(1, 4))
