"""DGCNN (Song, Zheng, Song, Cui - IEEE Trans. Affect. Comput. 11(3):532, 2020): Chebyshev graph
convolution over the EEG channels with a learned adjacency, then dense layers.

The paper's method (doi 10.1109/TAFFC.2018.2817622): each channel is a node whose features are its band
features (DE of the five bands on SEED); the adjacency matrix W is a parameter learned by
back-propagation along with the rest (kept non-negative by a ReLU); a K-order Chebyshev polynomial of the
normalised graph Laplacian filters the node features; a ReLU, then fully connected layers and softmax.
The authors' code is not public; layer sizes and initialisation follow TorchEEG's reimplementation
(``torcheeg/models/gnn/dgcnn.py``, read for facts only), which cites the paper, and LibEER's where TorchEEG
is silent (``models/DGCNN.py``, ``config/model_param/DGCNN.yaml``).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import nn

from baselines.graph import GRAPH_SPEC, graph_dims, node_input, sym_normalise
from bench.core.tasks import n_classes
from bench.data.inputs import TASKS, InputSpec
from bench.models.layers import check_tasks, dropout_layer
from bench.models.registry import PAPER_RECIPE_NOT_STATED, register_model

_NOTES = (
    "Paper: learned adjacency (ReLU-kept non-negative), normalised Laplacian, K-order Chebyshev graph "
    "convolution, ReLU, fully connected layers; DE features of the 5 bands on SEED. The authors' code is "
    "not public: sizes below are TorchEEG's DGCNN (torcheeg/models/gnn/dgcnn.py) unless said otherwise.",
    "Input: DE of one 0.5 s window per channel and band, (1, C, B) (the paper's SEED features are 1 s "
    "windows); the harness's bands (4 on DEAP-like data, 5 with delta for the SEED family).",
    "BatchNorm1d over the B band features of every node before the graph convolution (TorchEEG's BN1).",
    "Adjacency: a C x C parameter, Xavier-normal initialised (TorchEEG), passed through ReLU; "
    "normalised as A_hat = D^-1/2 A D^-1/2 with 1e-10 added to the degrees (TorchEEG).",
    "Chebyshev filter (paper): L = I - A_hat, scaled L~ = 2L/lambda_max - I with lambda_max = 2 "
    "(ChebNet's usual approximation, ours), T_0 = I, T_1 = L~, T_k = 2 L~ T_(k-1) - T_(k-2); one "
    "B x hidden weight per order, no bias, summed, ReLU. TorchEEG uses I, A_hat, A_hat^2, ...: the same "
    "for K = 2 (T_1 = -A_hat, the sign goes into its weight), powers instead of the recurrence for K > 2.",
    "K = 2 (TorchEEG's default; LibEER: 'k: 2 set by official'); hidden = 32 graph filters (TorchEEG's "
    "hid_channels; LibEER uses 64 on SEED, 128 on DEAP by experience).",
    "Dense: flatten C x hidden -> 64 -> ReLU -> one head per task (TorchEEG's fc1/fc2), Xavier-normal "
    "weights and zero biases (TorchEEG's Linear).",
    "Dropout 0.5 on the flattened node features and on the 64 dense units (LibEER: 'dropout 0.5 set by "
    "official'; TorchEEG has none): our placement.",
    "NodeDAT-style training (node-wise domain classifier) is the training-method framework's "
    "'--method dann'; DGCNN offers node_features(x) (N, C, hidden) and embed(x) (N, 64) for it.",
    "Training (harness recipe): Adam lr 1e-3, batch 64, up to 100 epochs, early stopping; the paper's "
    "optimiser settings were not recovered.",
)


class ChebGraphConv(nn.Module):
    """The learned adjacency and the K-order Chebyshev filter: ``relu(sum_k T_k(L~) X W_k)``, one module
    so that ``bench models dgcnn`` lists its weights as one layer.

    Parameters
    ----------
    n_nodes, n_feat, hidden, order : int
        Nodes C, features per node B, filters per node, Chebyshev terms K.
    """

    def __init__(self, n_nodes: int, n_feat: int, hidden: int, order: int) -> None:
        super().__init__()
        self.order = int(order)
        self.adjacency = nn.Parameter(torch.empty(n_nodes, n_nodes))
        self.weight = nn.Parameter(torch.empty(self.order, n_feat, hidden))
        with torch.no_grad():  # Xavier-normal, as TorchEEG's adjacency and GraphConvolution weights
            nn.init.xavier_normal_(self.adjacency)
            for k in range(self.order):
                nn.init.xavier_normal_(self.weight[k])

    def scaled_laplacian(self) -> torch.Tensor:
        """``L~ = L - I = -D^-1/2 relu(W) D^-1/2``: the normalised Laplacian scaled for lambda_max = 2."""
        return -sym_normalise(F.relu(self.adjacency), absolute=False)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """(N, C, B) node features -> (N, C, hidden), after the ReLU."""
        lap = self.scaled_laplacian()
        t_prev, t_cur = h, None  # T_0 x = x
        out = t_prev @ self.weight[0]
        for k in range(1, self.order):
            t_next = lap @ t_prev if t_cur is None else 2 * (lap @ t_cur) - t_prev
            if t_cur is not None:
                t_prev = t_cur
            t_cur = t_next
            out = out + t_cur @ self.weight[k]
        return F.relu(out)


@register_model(
    "dgcnn",
    full_name="Dynamical Graph Convolutional Neural Network (DGCNN)",
    citation="Song, Zheng, Song, Cui - IEEE Trans. Affect. Comput. 11(3):532, 2020",
    doi="10.1109/TAFFC.2018.2817622",
    input_spec=GRAPH_SPEC,
    multitask=False,
    reported={
        "valence": None,
        "arousal": None,
        "note": "no DEAP numbers in the paper; as reported there: SEED 90.40 (subject-dependent, DE of "
        "all 5 bands) and 79.95 (subject-independent, leave-one-subject-out), DREAMER 86.23 valence / "
        "84.54 arousal / 85.02 dominance (subject-dependent)",
    },
    fidelity="approximate",
    notes=_NOTES,
    defaults={"dropout": 0.5, "max_epochs": 100},
    trainable=True,
    paper_recipe={},
    paper_recipe_note=PAPER_RECIPE_NOT_STATED,
)
class DGCNN(nn.Module):
    """BN over the bands, K-order Chebyshev graph convolution with a learned adjacency, ReLU, flatten,
    dense 64, a head per task.

    Parameters (``count_parameters``, one task): SEED 62 channels x 5 DE bands, 3 classes: 131,409
    (BN 10, adjacency 3,844, Chebyshev 2 x 5 x 32 = 320, dense 62*32*64 + 64 = 127,040, head 195:
    TorchEEG's ``DGCNN(in_channels=5, num_electrodes=62, num_layers=2, hid_channels=32, num_classes=3)``
    has the same layers and count); DEAP 32 x 4, 2 classes: 67,018.

    Parameters
    ----------
    tasks : tuple of str
        Heads to build.
    input_spec : InputSpec
        ``layout="channels"``, ``time_slices=1``: batches are (N, 1, C, K*B).
    order : int
        K, the number of Chebyshev terms T_0 .. T_(K-1).
    hidden : int
        Graph filters per node.
    dense : int
        Width of the dense layer before the heads.
    dropout : float
        Dropout on the flattened node features and on the dense layer.
    batch_norm : bool
        False removes the input BN (ablation).
    """

    def __init__(
        self,
        tasks: Iterable[str] = TASKS,
        input_spec: InputSpec | None = None,
        *,
        order: int = 2,
        hidden: int = 32,
        dense: int = 64,
        dropout: float = 0.5,
        batch_norm: bool = True,
    ) -> None:
        super().__init__()
        self.tasks = check_tasks(tasks)
        self.input_spec = input_spec or GRAPH_SPEC
        n_nodes, n_feat = graph_dims(self.input_spec, "dgcnn")
        if order < 1 or hidden < 1 or dense < 1:
            raise ValueError(f"order={order}, hidden={hidden}, dense={dense}: each must be >= 1")
        self._sample_shape = self.input_spec.sample_shape()
        self.bn = nn.BatchNorm1d(n_feat) if batch_norm else nn.Identity()
        self.graph = ChebGraphConv(n_nodes, n_feat, hidden, order)
        self.fc = nn.Linear(n_nodes * hidden, dense)
        self.drop = dropout_layer(dropout)
        self.heads = nn.ModuleDict({t: nn.Linear(dense, n_classes(t)) for t in self.tasks})
        self._init_weights()

    @torch.no_grad()
    def _init_weights(self) -> None:
        """Xavier-normal dense weights, zero biases (TorchEEG's Linear)."""
        for lin in (self.fc, *self.heads.values()):
            nn.init.xavier_normal_(lin.weight)
            nn.init.zeros_(lin.bias)

    def node_features(self, x: torch.Tensor) -> torch.Tensor:
        """The graph-convolved node features (N, C, hidden), after the ReLU."""
        h = node_input(x, self._sample_shape, "dgcnn")
        return self.graph(self.bn(h.transpose(1, 2)).transpose(1, 2))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The features the heads read (N, dense)."""
        z = self.drop(self.node_features(x).flatten(1))
        return self.drop(F.relu(self.fc(z)))

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        z = self.embed(x)
        return {t: head(z) for t, head in self.heads.items()}
