"""The small layers the Keras-born models share (MT-CNN and the baselines written after Keras papers).

``SameConv2d`` (Keras/TensorFlow 'same' padding, asymmetric for even kernels), ``keras_init_``
(glorot-uniform weights, zero biases, orthogonal recurrent weights, unit forget bias), Keras' batch
norm defaults, a dropout that vanishes at p = 0, and the checks every model runs on its tasks and
input. A model package imports them from here, never from another model.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from bench.core.tasks import task_names

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
    """Element-wise dropout (Keras ``Dropout``, :class:`FastDropout`); Identity when ``p == 0`` so
    ablations add no layer."""
    if not 0.0 <= float(p) < 1.0:
        raise ValueError(f"dropout={p!r} must be in [0, 1)")
    return FastDropout(float(p)) if p > 0 else nn.Identity()


_INT32_SPAN = 2**32


def keep_threshold(p: float) -> int:
    """The int32 threshold below which a uniform int32 keeps its element: ``round((1 - p) 2^32) - 2^31``,
    so an element is kept with probability within ``2^-33`` of ``1 - p`` (torch's own CPU dropout
    compares a 24-bit float uniform, resolution ``2^-24``)."""
    return round((1.0 - p) * _INT32_SPAN) - _INT32_SPAN // 2


@torch.compiler.disable  # numpy's generator is not traceable: the mask is made outside any graph
def uniform_int32_like(x: torch.Tensor) -> torch.Tensor:
    """Uniform int32 bits shaped and laid out like ``x`` (channels-last stays channels-last, so the
    elementwise ops that use them stream memory in order), on the CPU.

    Drawn from numpy's SFC64 generator seeded by one draw of torch's global generator: a run seeded by
    ``torch.manual_seed`` gets the same bits again, and the generator makes 64 random bits in ~1.5 ns on
    one core where torch's CPU ``bernoulli_`` spends ~6 ns per element (measured, Intel Xeon with AMX)."""
    seed = int(torch.randint(0, 2**62, (1,), dtype=torch.int64))
    n = x.numel()
    raw = np.random.SFC64(seed).random_raw((n + 1) // 2)
    bits = torch.from_numpy(raw.view(np.int32)[:n])
    if x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last):
        return bits.as_strided(x.shape, x.stride())
    return bits.view(x.shape)


class FastDropout(nn.Dropout):
    """``nn.Dropout`` with a fast mask on the CPU: the same function (each element zeroed with
    probability ``p``, the kept ones scaled by ``1 / (1 - p)`` in the input's dtype, the gradient masked
    and scaled alike), its mask made from :func:`uniform_int32_like` instead of torch's ``bernoulli_``.

    Why: on the CPU torch draws dropout masks one element at a time from its Mersenne Twister
    (``bernoulli_``, ~6 ns per element); in MT-CNN's bf16 training step that was 36 % of the step's time
    (torch.profiler, Intel Xeon with AMX, batch 64), more than its convolutions' backward pass. The masks
    differ from torch's (another generator), so a run's numbers are those of another dropout draw: equal
    in distribution, checked by the bf16/fp32 parity runs. Elsewhere the module is torch's own: on a GPU
    (torch's fused kernel is fast there), under ``torch.func`` transforms (the stacked ensemble's
    ``vmap`` draws a different mask per model, which a mask of the unbatched shape would not), and for
    ``inplace`` dropout. State dict, ``repr`` and eval-mode behaviour are ``nn.Dropout``'s.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        if self.inplace or x.device.type != "cpu" or _functorch_wrapped(x):
            return super().forward(x)
        keep = uniform_int32_like(x) < keep_threshold(self.p)
        # noise as torch's dropout makes it: 0 or 1 / (1 - p) rounded to the dtype (one pass less than
        # torch.where of two scalars: 2.8 vs 3.3 ms forward + backward on MT-CNN's conv3 output, bf16)
        noise = keep.to(x.dtype).mul_(torch.ones((), dtype=x.dtype) / (1.0 - self.p))
        return x * noise


def _functorch_wrapped(x: torch.Tensor) -> bool:
    """Whether ``x`` is a ``torch.func`` (vmap, grad) wrapper; torch has no public test for it (2.13)."""
    return bool(torch._C._functorch.is_functorch_wrapped_tensor(x))


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
    """Validate the task tuple a model is built with (registered tasks, :mod:`bench.core.tasks`, none
    twice); returned in the given order, the order of the model's heads."""
    tasks = (tasks,) if isinstance(tasks, str) else tuple(tasks)
    known = task_names()
    if not tasks or any(t not in known for t in tasks) or len(set(tasks)) != len(tasks):
        raise ValueError(f"tasks={tasks!r} must be a non-empty set of registered tasks ({', '.join(known)})")
    return tasks


def check_input(x: torch.Tensor, expected: tuple[int, ...], model: str) -> None:
    """Fail with the expected per-sample shape when a batch does not match the input spec."""
    if x.ndim != len(expected) + 1 or tuple(x.shape[1:]) != tuple(expected):
        raise ValueError(f"{model} expects input (N, {', '.join(map(str, expected))}), got {tuple(x.shape)}")
