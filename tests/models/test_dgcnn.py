"""DGCNN: shapes on three headsets, parameter counts, the Chebyshev filter against a hand computation,
embed/forward consistency and a planted-effect training check."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.data.categorical.seed_common import CHANNELS as SEED_CHANNELS
from bench.data.datasets import get_dataset
from bench.data.inputs import InputSpec
from bench.models.registry import count_parameters, create_model, get_model_info
from tests.models.graph_cases import HEADSETS, planted_effect_accuracy


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def hand_count(c: int, b: int, k: int, *, order: int = 2, hidden: int = 32, dense: int = 64) -> int:
    """BN (2B) + adjacency (C^2) + one B x hidden filter per order + dense (C*hidden -> dense) + head."""
    return 2 * b + c * c + order * b * hidden + (c * hidden * dense + dense) + (dense * k + k)


@pytest.mark.parametrize("headset", sorted(HEADSETS))
def test_shapes_on_each_headset(headset):
    channels, bands, task, k = HEADSETS[headset]
    model = create_model("dgcnn", tasks=(task,), channels=channels, n_bands=bands).eval()
    x = torch.randn(5, 1, len(channels), bands)
    out = model(x)
    assert list(out) == [task] and out[task].shape == (5, k)
    assert model.node_features(x).shape == (5, len(channels), 32)
    assert model.embed(x).shape == (5, 64)


def test_parameter_counts_seed_and_deap():
    seed = create_model("dgcnn", tasks=("valence3",), channels=SEED_CHANNELS, n_bands=5)
    assert count_parameters(seed) == 131_409 == hand_count(62, 5, 3)  # TorchEEG's DGCNN(5, 62, 2, 32, 3)
    deap = create_model("dgcnn", tasks=("valence",))
    assert count_parameters(deap) == 67_018 == hand_count(32, 4, 2)
    dreamer = create_model("dgcnn", tasks=("valence",), channels=get_dataset("dreamer").channels)
    assert count_parameters(dreamer) == hand_count(14, 4, 2)
    assert count_parameters(create_model("dgcnn", tasks=("valence",), order=3)) == hand_count(
        32, 4, 2, order=3
    )


def test_embed_and_forward_agree():
    model = create_model("dgcnn").eval()
    x = torch.randn(6, 1, 32, 4)
    z = model.embed(x)
    out = model(x)
    for t, head in model.heads.items():
        assert torch.equal(out[t], head(z))


def test_chebyshev_filter_matches_a_hand_computation():
    """Three nodes, two features, K = 3: relu(sum_k T_k(L~) X W_k) with L~ = -D^-1/2 relu(W) D^-1/2 and
    T_2 = 2 L~^2 - I, written out in float64 numpy; a negative adjacency entry counts as 0."""
    spec = InputSpec(layout="channels", features=("de",), n_channels=3, n_bands=2)
    model = get_model_info("dgcnn").factory(tasks=("valence",), input_spec=spec, order=3, batch_norm=False)
    w = np.array([[0.5, 1.0, -2.0], [1.0, 0.0, 0.25], [3.0, 0.25, 1.0]])
    with torch.no_grad():
        model.graph.adjacency.copy_(torch.tensor(w))
    x = torch.randn(4, 1, 3, 2)
    a = np.maximum(w, 0)
    d = a.sum(1)
    lap = -(a / np.sqrt(np.outer(d, d)))
    ts = [np.eye(3), lap, 2 * lap @ lap - np.eye(3)]
    theta = model.graph.weight.detach().double().numpy()
    xs = x[:, 0].double().numpy()
    want = np.maximum(sum(ts[k] @ xs @ theta[k] for k in range(3)), 0)
    got = model.node_features(x).detach().double().numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)  # float32 sums of a few O(1) terms


def test_input_spec_must_be_one_window_of_channels():
    with pytest.raises(ValueError, match="'channels' input spec with time_slices == 1"):
        get_model_info("dgcnn").factory(input_spec=InputSpec(layout="channels", time_slices=6))


def test_learns_a_planted_effect_on_one_node():
    assert planted_effect_accuracy("dgcnn") > 0.85
