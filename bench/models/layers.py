"""The small layers the Keras-born models share (MT-CNN and the baselines written after Keras papers).

``SameConv2d`` (Keras/TensorFlow 'same' padding, asymmetric for even kernels), ``keras_init_``
(glorot-uniform weights, zero biases, orthogonal recurrent weights, unit forget bias), Keras' batch
norm defaults, a dropout that vanishes at p = 0, and the checks every model runs on its tasks and
input. A model package imports them from here, never from another model.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import nn

from bench.data.inputs import TASKS

KERAS_BN_EPS = 1e-3
"""Keras ``BatchNormalization`` default epsilon (PyTorch: 1e-5)."""
KERAS_BN_MOMENTUM = 0.01
"""PyTorch momentum equal to Keras' default ``momentum=0.99`` (PyTorch weighs the new batch)."""


def same_padding(kernel_size: int) -> tuple[int, int, int, int]:
    """Keras/TensorFlow 'same' padding for stride 1 as ``(left, right, top, bottom)``.

    TensorFlow puts the smaller half first: a 4x4 kernel pads 1 on the top/left and 2 on the
    bottom/right. An integer ``padding`` cannot express that (``padding=1`` shrinks 8x9 to 7x8,
    ``padding=2`` grows it to 9x10); ``padding="same"`` agrees with TensorFlow but warns and copies the
    input for even kernels, so we pad explicitly (the tests check all three facts).
    """
    total = kernel_size - 1
    before = total // 2
    return (before, total - before, before, total - before)


class SameConv2d(nn.Conv2d):
    """Stride-1 ``Conv2d`` with TensorFlow's 'same' zero padding (asymmetric for even kernels)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, bias: bool = True) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride=1, padding=0, bias=bias)
        self.same_padding = same_padding(kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(F.pad(x, self.same_padding))

    def extra_repr(self) -> str:
        return super().extra_repr() + f", same_padding={self.same_padding}"


def make_batch_norm(kind: str, channels: int, *, enabled: bool, keras: bool) -> nn.Module:
    """A BN layer (``kind`` "1d"/"2d") with Keras' eps/momentum if ``keras``; Identity if disabled."""
    if not enabled:
        return nn.Identity()
    cls = nn.BatchNorm2d if kind == "2d" else nn.BatchNorm1d
    if keras:
        return cls(channels, eps=KERAS_BN_EPS, momentum=KERAS_BN_MOMENTUM)
    return cls(channels)


def dropout_layer(p: float) -> nn.Module:
    """Element-wise dropout (Keras ``Dropout``); Identity when ``p == 0`` so ablations add no layer."""
    if not 0.0 <= float(p) < 1.0:
        raise ValueError(f"dropout={p!r} must be in [0, 1)")
    return nn.Dropout(float(p)) if p > 0 else nn.Identity()


@torch.no_grad()
def keras_init_(module: nn.Module) -> nn.Module:
    """Re-initialise like Keras defaults: glorot-uniform kernels, zero biases, LSTM orthogonal
    recurrent kernels with forget-gate bias 1 (``unit_forget_bias=True``). Returns ``module``."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LSTM):
            for name, p in m.named_parameters():
                if name.startswith("weight_ih"):
                    nn.init.xavier_uniform_(p)
                elif name.startswith("weight_hh"):
                    # Keras makes the whole (units, 4*units) recurrent kernel orthogonal per gate block
                    for block in p.chunk(4, dim=0):
                        nn.init.orthogonal_(block)
                elif name.startswith("bias"):
                    nn.init.zeros_(p)
                    if name.startswith("bias_ih"):
                        h = m.hidden_size
                        p[h : 2 * h].fill_(1.0)  # PyTorch gate order i, f, g, o
    return module


def check_tasks(tasks: Iterable[str]) -> tuple[str, ...]:
    """Validate the task tuple a model is built with."""
    tasks = (tasks,) if isinstance(tasks, str) else tuple(tasks)
    if not tasks or any(t not in TASKS for t in tasks) or len(set(tasks)) != len(tasks):
        raise ValueError(f"tasks={tasks!r} must be a non-empty subset of {TASKS}")
    return tasks


def check_input(x: torch.Tensor, expected: tuple[int, ...], model: str) -> None:
    """Fail with the expected per-sample shape when a batch does not match the input spec."""
    if x.ndim != len(expected) + 1 or tuple(x.shape[1:]) != tuple(expected):
        raise ValueError(f"{model} expects input (N, {', '.join(map(str, expected))}), got {tuple(x.shape)}")
