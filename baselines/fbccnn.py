"""FBCCNN (Pan & Zheng, Comput. Math. Methods Med. 2021): a 7-layer CNN on 9x9 band-PSD maps."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

import torch
from torch import nn

from bench.core.tasks import n_classes
from bench.data.channels import grid_shape
from bench.data.inputs import TASKS, InputSpec
from bench.models.layers import check_input, check_tasks, make_batch_norm
from bench.models.registry import PAPER_RECIPE_NOT_STATED, register_model

CONV_CHANNELS: tuple[int, ...] = (12, 32, 64, 128, 256, 128, 32)
"""Output channels of the seven 3x3 convolutions."""

_NOTES = (
    "Layer list as in a public reimplementation: seven 3x3 convs (padding 1) with "
    "ReLU + BN, channels 12-32-64-128-256-128-32, no pooling, no dropout; dense 512, 128, 2.",
    "BN placed after ReLU, following the 'ReLU + BN' order of that layer list.",
    "Window length, split and optimiser of the paper are not recovered: the harness uses 0.5 s windows "
    "and Adam lr 1e-3, batch 64, up to 100 epochs with early stopping (ours).",
    "The paper's GAN data augmentation is out of scope; its no-augmentation result (82.40 V / 83.55 A, "
    "12 subjects) is the fair reference.",
    "PyTorch default initialisation and BN settings (the reimplementation is PyTorch).",
)


@register_model(
    "fbccnn",
    full_name="Frequency Band Correlation CNN (FBCCNN)",
    citation="Pan & Zheng - Comput. Math. Methods Med. 2021",
    doi="10.1155/2021/2520394",
    input_spec=InputSpec(layout="grid", features=("psd",), grid="9x9", time_slices=1),
    multitask=False,
    reported={
        "valence": 90.26,
        "arousal": 88.90,
        "note": "seed-table numbers; FBCCNN's own paper reads 88.90 V / 90.26 A with GAN augmentation "
        "and 82.40 V / 83.55 A without (12 subjects, subject-dependent): the seed table appears to swap "
        "the two",
    },
    fidelity="approximate",
    notes=_NOTES,
    defaults={"max_epochs": 100},
    trainable=True,
    paper_recipe={},
    paper_recipe_note=PAPER_RECIPE_NOT_STATED,
)
class FBCCNN(nn.Module):
    """FBCCNN: seven 3x3 conv + ReLU + BN layers on 9x9 PSD maps, flatten (32x9x9 = 2592), dense 512,
    dense 128, dense 2 per task. 2,118,230 parameters single-task.

    Parameters
    ----------
    tasks : tuple of str
        Heads to build (the paper: one model per task); the dense 512/128 layers are shared.
    input_spec : InputSpec
        Grid input (default PSD, 9x9).
    batch_norm : bool
        False removes the BN layers (ablation).
    """

    def __init__(
        self,
        tasks: Iterable[str] = TASKS,
        input_spec: InputSpec | None = None,
        *,
        batch_norm: bool = True,
    ) -> None:
        super().__init__()
        self.tasks = check_tasks(tasks)
        input_spec = input_spec or InputSpec(features=("psd",), grid="9x9")
        if input_spec.layout != "grid" or input_spec.time_slices != 1:
            raise ValueError("FBCCNN needs a grid input spec with time_slices == 1")
        self.input_spec = input_spec
        self._sample_shape = input_spec.sample_shape()
        h, w = grid_shape(input_spec.grid)
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        cin = input_spec.n_maps()
        for i, cout in enumerate(CONV_CHANNELS, start=1):
            layers[f"conv{i}"] = nn.Conv2d(cin, cout, 3, padding=1)
            layers[f"relu{i}"] = nn.ReLU()
            layers[f"bn{i}"] = make_batch_norm("2d", cout, enabled=batch_norm, keras=False)
            cin = cout
        layers["flatten"] = nn.Flatten()
        layers["dense1"] = nn.Linear(cin * h * w, 512)
        layers["relu_d1"] = nn.ReLU()
        layers["dense2"] = nn.Linear(512, 128)
        layers["relu_d2"] = nn.ReLU()
        self.body = nn.Sequential(layers)
        self.heads = nn.ModuleDict({t: nn.Linear(128, n_classes(t)) for t in self.tasks})

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The trunk's features (N, 128), what the heads read."""
        check_input(x, self._sample_shape, "fbccnn")
        return self.body(x)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        z = self.embed(x)
        return {t: head(z) for t, head in self.heads.items()}
