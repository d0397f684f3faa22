"""Deep ConvNet (Schirrmeister et al., Hum. Brain Mapp. 2017): four conv-max-pool blocks on the raw EEG."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

import torch
from torch import nn

from baselines.timedomain import SIGNAL_SPEC, check_samples, out_len, signal_dims, temporal_spatial_conv
from bench.core.tasks import n_classes
from bench.data.inputs import TASKS, InputSpec
from bench.models.layers import check_input, check_tasks, dropout_layer, make_batch_norm
from bench.models.registry import register_model

FILTERS: tuple[int, int, int, int] = (25, 50, 100, 200)
"""Filters of the four conv-pool blocks."""
KERNEL = 10
"""Temporal kernel of every block, in samples (the paper's, kept at 128 Hz: see the notes)."""
POOL = 3
"""Max-pool length and stride of every block."""

_NOTES = (
    "Layers from the paper (Fig. 3, 'Deep ConvNet'): block 1 split into a temporal conv 25 x (1, 10) and a "
    "spatial conv 25 x (C, 1); blocks 2-4 conv 50, 100, 200 x (1, 10); each block BN -> ELU -> max pool "
    "(1, 3) stride (1, 3); dropout 0.5; dense softmax (here logits, one head per task). BN and dropout are "
    "the paper's chosen design (Table 1).",
    "Kernel and pool lengths are the paper's sample counts (250 Hz there), kept at 128 Hz: a kernel spans "
    "78 ms instead of 40 ms. Unlike the Shallow ConvNet's durations they cannot be scaled (a pool of 3 has "
    "no 128 Hz half); the four pools need at least 441 samples (3.45 s), so the default window is 4 s (512 "
    "samples, one time step left before the classifier); a shorter window_s is refused with that number.",
    "Dropout before the convolutions of blocks 2-4, biases only where no BN follows (the temporal conv), "
    "as in braindecode's Deep4Net; PyTorch's default BN (momentum 0.1 = the paper's Lasagne alpha) and "
    "initialisation.",
    "The paper's main results use cropped training and a two-phase early stopping (trainer-level, not part "
    "of the model); the harness trains on whole windows.",
    "Parameters checked against braindecode's documented model summary (Deep4Net with 22 channels, 4 "
    "classes, 1,000 samples: 282,879 parameters); see the docstring.",
    "The paper has no DEAP results; the 4 s window is also TSception's DEAP segment, where the Deep ConvNet "
    "was a baseline.",
    "Block 1's temporal and spatial convolutions run as one composed convolution (a Conv1d over the C "
    "channels, its kernel computed from both layers' parameters on every forward pass), equal to the "
    "paper's layer order within float tolerance (tests/models/test_timedomain_fast.py); training steps "
    "7.5x (fp32) and 6.6x (bf16) faster on a 2-core Xeon with AMX.",
)


def time_left(samples: int) -> int:
    """Time steps before the classifier: four times a 'valid' (1, 10) conv then a (1, 3)/3 max pool."""
    n = samples
    for _ in FILTERS:
        n = out_len(out_len(n, KERNEL), POOL, POOL)
    return n


@register_model(
    "deepconvnet",
    full_name="Deep ConvNet (four conv-max-pool blocks, split first layer)",
    citation="Schirrmeister et al. - Hum. Brain Mapp. 38:5391, 2017",
    doi="10.1002/hbm.23730",
    input_spec=SIGNAL_SPEC,
    multitask=False,
    reported={
        "valence": None,
        "arousal": None,
        "note": "no DEAP results in the paper (motor decoding: BCI Competition IV 2a, High-Gamma data set)",
    },
    fidelity="approximate",
    notes=_NOTES,
    defaults={"dropout": 0.5},
    trainable=True,
    spec_params={"window_s": "window_s"},
    paper_recipe={},
    paper_recipe_note="The paper trains with Adam, cropped training, and early stopping in two phases "
    "(stop on the validation part, then go on training on training + validation until the validation "
    "loss reaches the first phase's training loss). The harness recipe is used: the second phase and "
    "cropped training have no counterpart in the trainer.",
)
class DeepConvNet(nn.Module):
    """Deep ConvNet on (N, C, S) EEG; one dense head per task.

    temporal conv 25@(1, 10) with bias -> spatial conv 25@(C, 1) -> BN -> ELU -> max pool (1, 3)/3; then
    three times dropout -> conv F@(1, 10) -> BN -> ELU -> max pool (1, 3)/3 for F = 50, 100, 200;
    flatten (200 x T) -> dense 2 per task. T = :func:`time_left` (S): 512 -> 503 -> 167 -> 158 -> 52 -> 43
    -> 14 -> 5 -> 1.

    Parameter count (trainable; convolutions without bias where BN follows; N heads of 2 classes)::

        (10 x 25 + 25) + 25 x 25 C + 2 x 25 + sum over (a, b) in (25, 50), (50, 100), (100, 200)
        of (10 a b + 2 b) + N (2 x 200 T + 2)

    Default on DEAP (C = 32, S = 512, T = 1), one task: 275 + 20,000 + 50 + 12,600 + 50,200 + 200,400 + 402
    = **283,927**. Check against braindecode's documented model summary (Deep4Net, C = 22, S = 1,000,
    4 classes, T = 7): 275 + 13,750 + 50 + 263,200 + (4 x 1,400 + 4) = **282,879**, its number
    (tests/test_timedomain_models.py).

    Parameters
    ----------
    tasks : tuple of str
        Heads to build (the paper: one model per task).
    input_spec : InputSpec
        ``signal`` input; C and S come from it (S >= 441).
    dropout : float
        Dropout before blocks 2-4 (paper: 0.5).
    batch_norm : bool
        False removes the BN layers (and gives their convolutions biases, as braindecode).
    window_s : float, optional
        Window length in seconds (``-M window_s=4``); changes the input spec (registry ``spec_params``).
    """

    def __init__(
        self,
        tasks: Iterable[str] = TASKS,
        input_spec: InputSpec | None = None,
        *,
        dropout: float = 0.5,
        batch_norm: bool = True,
        window_s: float | None = None,
    ) -> None:
        super().__init__()
        self.tasks = check_tasks(tasks)
        self.input_spec, c, s = signal_dims(input_spec, "deepconvnet", window_s)
        check_samples("deepconvnet", s, time_left)
        self._sample_shape = (c, s)

        def tail(i: int, f: int) -> list[tuple[str, nn.Module]]:
            return [
                (f"bn{i}", make_batch_norm("2d", f, enabled=batch_norm, keras=False)),
                (f"elu{i}", nn.ELU()),
                (f"pool{i}", nn.MaxPool2d((1, POOL), stride=(1, POOL))),
            ]

        f0 = FILTERS[0]
        layers = [
            ("temporal", nn.Conv2d(1, f0, (1, KERNEL))),
            ("spatial", nn.Conv2d(f0, f0, (c, 1), bias=not batch_norm)),
            *tail(1, f0),
        ]
        for i, (f_in, f_out) in enumerate(zip(FILTERS, FILTERS[1:], strict=False), start=2):
            layers += [
                (f"drop{i}", dropout_layer(dropout)),
                (f"conv{i}", nn.Conv2d(f_in, f_out, (1, KERNEL), bias=not batch_norm)),
                *tail(i, f_out),
            ]
        layers.append(("flatten", nn.Flatten()))
        self.body = nn.Sequential(OrderedDict(layers))
        self.heads = nn.ModuleDict(
            {t: nn.Linear(FILTERS[-1] * time_left(s), n_classes(t)) for t in self.tasks}
        )

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The trunk's features (N, F): the last block's output, flattened, what the heads read."""
        check_input(x, self._sample_shape, "deepconvnet")
        z = temporal_spatial_conv(x, self.body.temporal, self.body.spatial)
        for layer in self.body[2:]:
            z = layer(z)
        return z

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        z = self.embed(x)
        return {t: head(z) for t, head in self.heads.items()}
