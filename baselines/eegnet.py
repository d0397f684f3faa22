"""EEGNet-8,2 (Lawhern et al., J. Neural Eng. 2018): a compact CNN on the raw EEG signal."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import nn

from baselines.timedomain import (
    SIGNAL_SPEC,
    MaxNormConv2d,
    MaxNormLinear,
    SameTimeConv2d,
    batch_norm_affine,
    check_samples,
    clip_norm,
    depthwise_conv1d,
    signal_dims,
    window_moments,
)
from bench.core.tasks import n_classes
from bench.data.inputs import TASKS, InputSpec
from bench.models.layers import check_input, check_tasks, dropout_layer, keras_init_, make_batch_norm
from bench.models.registry import register_model

POOLS: tuple[int, int] = (4, 8)
"""Average-pool lengths of blocks 1 and 2: the time axis shrinks 32-fold, to floor(floor(S / 4) / 8)."""

_NOTES = (
    "Layers, kernel sizes, max-norm limits and 'same' paddings from the paper (Fig. 1, Table 2) and its "
    "Keras reference code: EEGNet-8,2 (F1=8, D=2, F2=16), temporal kernel 64 = half of 128 Hz.",
    "Dropout 0.5 by default, the paper's within-subject rate (the reference code's default); the paper uses "
    "0.25 cross-subject: set -M dropout=0.25 for the cross-subject protocol.",
    "Max-norm constraints (depthwise kernel 1, dense 0.25) act on the weights the layer uses, out of place "
    "in the forward pass (the stored parameter is not clipped); Keras clips the stored weights after "
    "each update. The same constrained function, by a different optimisation path; no in-place write to a "
    "parameter in the forward pass (autocast, torch.compile).",
    "faithful_keras=False (default): PyTorch's BN (eps 1e-5, momentum 0.1) and initialisation; True: Keras' "
    "BN eps 1e-3 / momentum 0.99 (PyTorch 0.01) and glorot-uniform weights (see mtcnn's note on momentum).",
    "Keras 'same' padding of the even kernels is asymmetric (64: 31 before, 32 after; 16: 7, 8), reproduced.",
    "Parameters checked against the paper's Table 2 per-layer counts and against braindecode's documented "
    "model summary (EEGNet with 22 channels, 4 classes, 512 samples: 2,484 parameters); see the docstring.",
    "The paper has no DEAP results; the default 4 s window is TSception's DEAP segment, where EEGNet was a "
    "baseline.",
    "The forward runs block 1's temporal conv -> BN -> depthwise spatial conv spatial-first (the spatial "
    "weighted sum of the channels, then a depthwise temporal conv as block-Toeplitz matmuls, the BN's batch "
    "statistics and running-statistics update from the input's window moments): the paper's layer order "
    "within float tolerance (tests/models/test_timedomain_fast.py), same parameters; training steps 4.9x "
    "(fp32) and 2.6x (bf16) faster on a 2-core Xeon with AMX (baselines/eegnet.py spatial_first_block). "
    "The layer table lists layers from bn2 on (the block's modules are not called one by one).",
)


def spatial_first_block(
    x: torch.Tensor, temporal: SameTimeConv2d, bn: nn.Module, spatial: MaxNormConv2d
) -> torch.Tensor:
    """EEGNet's temporal conv -> BN -> depthwise spatial conv on (N, C, S) EEG, as the spatial weighted
    sum first and then a depthwise temporal convolution: (N, D F1, 1, S).

    Written in the paper's order, the block convolves every one of the C channels with each of the F1
    temporal filters, a (N, F1, C, S) activation (131,072 floats per sample at F1 = 8, C = 32, S = 512)
    that the BN and the spatial convolution then stream through memory, forward and backward, with a
    reduction of 64 (one input channel) that no matmul kernel runs well. All three layers are linear
    per temporal filter g, the BN too in training mode (``scale_g z + shift_g`` with the batch's
    statistics), so spatial filter d of group g(d) = d // D gives::

        out[n, d, t] = scale_g sum_j w[g, j] (sum_c v[d, c] xp[n, c, t + j]) + shift_g sum_c v[d, c]

    the spatial sum (a (D F1, C) matmul of the input) first, then a depthwise (1, 64) convolution: 11
    times fewer multiply-adds and no (N, F1, C, S) tensor. The BN's statistics of the temporal output
    z = w * xp are quadratic forms of the input's window moments (:func:`baselines.timedomain.
    window_moments`: mean ``w . m``, variance ``w . Q . w - (w . m)^2``), so the BN's batch statistics,
    its gradient through them and its running-statistics update are those of the paper's layer order.
    Same function within float rounding (tests/models/test_timedomain_fast.py).
    """
    k = temporal.kernel_size[1]
    f1, d = temporal.out_channels, spatial.out_channels // temporal.out_channels
    w = temporal.weight.reshape(f1, k)
    v = clip_norm(spatial.weight, spatial.max_norm).reshape(f1 * d, -1)
    shift = None
    if isinstance(bn, nn.modules.batchnorm._BatchNorm):
        mean_x, second_x, count = window_moments(x, k, temporal.time_padding)
        wd = w.double()
        mean = wd @ mean_x
        var = ((wd @ second_x) * wd).sum(1) - mean * mean
        scale, shift = batch_norm_affine(bn, mean, var, count)
        w = w * scale.to(w.dtype).unsqueeze(1)
        shift = shift.to(w.dtype).repeat_interleave(d) * v.sum(1)
    y = depthwise_conv1d(F.pad(torch.matmul(v, x), temporal.time_padding), w.repeat_interleave(d, dim=0))
    return (y if shift is None else y + shift.unsqueeze(1)).unsqueeze(2)


@register_model(
    "eegnet",
    full_name="EEGNet-8,2 (compact CNN with depthwise and separable convolutions)",
    citation="Lawhern et al. - J. Neural Eng. 15:056013, 2018",
    doi="10.1088/1741-2552/aace8c",
    input_spec=SIGNAL_SPEC,
    multitask=False,
    reported={
        "valence": None,
        "arousal": None,
        "note": "no DEAP results in the paper (P300, ERN, MRCP and SMR data sets)",
    },
    fidelity="approximate",
    notes=_NOTES,
    defaults={"dropout": 0.5, "max_epochs": 500},
    trainable=True,
    spec_params={"window_s": "window_s"},
    paper_recipe={"max_epochs": 500, "early_stopping": 0, "lr_decay": False},
    paper_recipe_note="The paper: Adam with default parameters (lr 1e-3), categorical cross-entropy, 500 "
    "epochs, keeping the weights of the lowest validation loss (restore_best), class weights where the "
    "classes are imbalanced (balance); no learning-rate schedule or early stopping. Batch size: the "
    "harness's 64 (not recovered from the paper).",
)
class EEGNet(nn.Module):
    """EEGNet-8,2 on (N, C, S) EEG; one max-norm dense head per task.

    Block 1: temporal conv F1@(1, 64) 'same', no bias -> BN -> depthwise spatial conv D x (C, 1) per
    temporal filter, no bias, max-norm 1 -> BN -> ELU -> avg-pool (1, 4) -> dropout. Block 2: separable conv
    (depthwise (1, 16) 'same' + pointwise F2@1x1, no biases) -> BN -> ELU -> avg-pool (1, 8) -> dropout.
    Classifier: flatten (F2 x floor(S/32)) -> dense 2 per task, max-norm 0.25.

    Parameter count (trainable; N heads of 2 classes, T = floor(floor(S / 4) / 8))::

        64 F1 + 2 F1 + C D F1 + 2 D F1 + 16 D F1 + D F1 F2 + 2 F2 + N (2 F2 T + 2)

    the per-layer counts of the paper's Table 2 with its Dense row's N biases. EEGNet-8,2 on DEAP
    (C = 32, S = 512: 4 s at 128 Hz), one task: 1,616 + 514 = **2,130**; on the Emotiv 14 channels
    1,328 + 514 = 1,842. Check against braindecode's documented model summary: C = 22, S = 512, 4 classes
    gives 1,456 + 4 (16 x 16) + 4 = **2,484**, its number (tests/test_timedomain_models.py).

    Parameters
    ----------
    tasks : tuple of str
        Heads to build (the paper: one model per task); everything before the dense heads is shared.
    input_spec : InputSpec
        ``signal`` input; C and S come from it (any C, S >= 32).
    dropout : float
        Rate of both dropout layers (paper: 0.5 within-subject, 0.25 cross-subject).
    F1, D, F2 : int
        Temporal filters, depth multiplier of the spatial filters, pointwise filters (8, 2, 16).
    kernel_length : int
        Temporal kernel in samples (64: half the sampling rate, as the paper).
    batch_norm : bool
        False removes the BN layers (ablation).
    faithful_keras : bool
        Keras BN eps/momentum and glorot-uniform initialisation (default False: PyTorch's).
    window_s : float, optional
        Window length in seconds (``-M window_s=2``); changes the input spec (registry ``spec_params``).
    """

    def __init__(
        self,
        tasks: Iterable[str] = TASKS,
        input_spec: InputSpec | None = None,
        *,
        dropout: float = 0.5,
        F1: int = 8,
        D: int = 2,
        F2: int = 16,
        kernel_length: int = 64,
        batch_norm: bool = True,
        faithful_keras: bool = False,
        window_s: float | None = None,
    ) -> None:
        super().__init__()
        self.tasks = check_tasks(tasks)
        self.input_spec, c, s = signal_dims(input_spec, "eegnet", window_s)
        if min(F1, D, F2, kernel_length) < 1:
            raise ValueError(
                f"F1, D, F2 and kernel_length must be >= 1, got {F1}, {D}, {F2}, {kernel_length}"
            )
        check_samples("eegnet", s, lambda n: n // POOLS[0] // POOLS[1])
        self._sample_shape = (c, s)
        bn = {"enabled": batch_norm, "keras": faithful_keras}
        self.body = nn.Sequential(
            OrderedDict(
                temporal=SameTimeConv2d(1, F1, kernel_length),
                bn1=make_batch_norm("2d", F1, **bn),
                spatial=MaxNormConv2d(F1, D * F1, (c, 1), groups=F1, bias=False, max_norm=1.0),
                bn2=make_batch_norm("2d", D * F1, **bn),
                elu1=nn.ELU(),
                pool1=nn.AvgPool2d((1, POOLS[0])),
                drop1=dropout_layer(dropout),
                depthwise=SameTimeConv2d(D * F1, D * F1, 16, groups=D * F1),
                pointwise=nn.Conv2d(D * F1, F2, 1, bias=False),
                bn3=make_batch_norm("2d", F2, **bn),
                elu2=nn.ELU(),
                pool2=nn.AvgPool2d((1, POOLS[1])),
                drop2=dropout_layer(dropout),
                flatten=nn.Flatten(),
            )
        )
        n_flat = F2 * (s // POOLS[0] // POOLS[1])
        self.heads = nn.ModuleDict(
            {t: MaxNormLinear(n_flat, n_classes(t), max_norm=0.25) for t in self.tasks}
        )
        if faithful_keras:
            keras_init_(self)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The trunk's features (N, F): block 2's output, flattened, what the heads read."""
        check_input(x, self._sample_shape, "eegnet")
        body = self.body
        z = spatial_first_block(x, body.temporal, body.bn1, body.spatial)
        for layer in body[3:]:
            z = layer(z)
        return z

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        z = self.embed(x)
        return {t: head(z) for t, head in self.heads.items()}
