"""What the graph models (DGCNN, RGNN) share: their input, its checks, the channels' names and the
symmetric normalisation of an adjacency matrix.

Both read one 0.5 s window's per-channel band features as a graph: one node per EEG channel, the node's
features its bands (``layout="channels"``, ``time_slices=1``: samples (1, C, B), DE by default as in
both papers).
"""

from __future__ import annotations

import torch

from bench.data.datasets import list_datasets
from bench.data.inputs import InputSpec
from bench.models.layers import check_input

GRAPH_SPEC = InputSpec(layout="channels", features=("de",), time_slices=1)
"""The graph models' default input: DE per channel and band of one window (DEAP's 32 channels x 4 bands
until the data sets them; the SEED family's recipe has 5 bands)."""

DEGREE_EPS = 1e-10
"""Added to the node degrees before their inverse square root (TorchEEG's DGCNN adds the same), so a
node whose edges all went to 0 gets no infinite weight."""


def graph_dims(spec: InputSpec, model: str) -> tuple[int, int]:
    """(nodes C, features per node F) of a graph model's input spec; ValueError for another layout."""
    if spec.layout != "channels" or int(spec.time_slices) != 1:
        raise ValueError(f"{model} needs a 'channels' input spec with time_slices == 1")
    _, c, f = spec.sample_shape()
    return int(c), int(f)


def node_input(x: torch.Tensor, sample_shape: tuple[int, ...], model: str) -> torch.Tensor:
    """A batch (N, 1, C, F) checked against the spec and returned as node features (N, C, F)."""
    check_input(x, sample_shape, model)
    return x[:, 0]


def sym_normalise(adj: torch.Tensor, *, absolute: bool) -> torch.Tensor:
    """``D^-1/2 A D^-1/2`` with ``D`` the row sums of ``A`` (of ``|A|`` with ``absolute``: RGNN's signed
    edges, whose degrees the authors' SGConv takes from the absolute weights)."""
    deg = (adj.abs() if absolute else adj).sum(dim=1)
    inv_sqrt = (deg + DEGREE_EPS).rsqrt()
    return inv_sqrt[:, None] * adj * inv_sqrt[None, :]


def channel_names(spec: InputSpec, model: str) -> tuple[str, ...]:
    """The names of the spec's channels: the data's, else the one channel order every registered dataset
    with that many channels shares (rating datasets first: 32 is DEAP's order, 14 the Emotiv one; 62 the
    SEED family's). A model built without data (``bench models``) thus gets DEAP's electrodes."""
    if spec.channels:
        return tuple(spec.channels)
    n = int(spec.n_channels)
    for categorical in (False, True):
        orders = {
            tuple(d.channels)
            for d in list_datasets()
            if len(d.channels) == n and d.categorical == categorical
        }
        if len(orders) == 1:
            return orders.pop()
    raise ValueError(f"{model} places channels by name and knows no headset with {n} channels; name them")
