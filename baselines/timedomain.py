"""What the time-domain models (EEGNet, ShallowConvNet, DeepConvNet, TSception) share.

They read a ``signal`` input, (N, C, S) band-limited EEG at 128 Hz (:class:`~bench.data.inputs.InputSpec`),
and must build for any C and S the harness gives them: the layer sizes follow from the spec, and a window
too short for a model's convolutions and pools is a one-line ``ValueError`` naming the shortest window
that fits (the registry turns it into a ConfigError) rather than a shape error deep inside a layer.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from bench.data.inputs import SIGNAL_SFREQ, InputSpec
from bench.models.layers import same_padding

WINDOW_S = 4.0
"""Default window of every time-domain model: the 4 s segments of TSception's DEAP experiments (Ding et al.
2022), in which EEGNet, ShallowConvNet and DeepConvNet were the baselines; 512 samples also fit the four
max-pool stages of DeepConvNet."""

SIGNAL_SPEC = InputSpec(layout="signal", window_s=WINDOW_S)
"""Default input of the time-domain models: 32 channels x 4 s, 4-45 Hz (DEAP's own pre-processing band)."""


def signal_dims(spec: InputSpec | None, model: str, window_s: float | None) -> tuple[InputSpec, int, int]:
    """The spec (default :data:`SIGNAL_SPEC`), its channels C and samples S.

    ``window_s`` is the model option (``-M window_s=2``) that the registry copies into the spec
    (``spec_params``); built directly with another spec, the two must agree.
    """
    if spec is None:
        spec = SIGNAL_SPEC if window_s is None else InputSpec(layout="signal", window_s=window_s)
    if spec.layout != "signal":
        raise ValueError(f"{model} reads the EEG signal: it needs a 'signal' input spec, not {spec.layout!r}")
    if window_s is not None and float(window_s) != float(spec.window_s):
        raise ValueError(f"window_s={window_s!r} must equal the input spec's window_s={spec.window_s!r}")
    return spec, int(spec.n_channels), spec.window_samples


def out_len(n: int, kernel: int, stride: int = 1) -> int:
    """Length after a 'valid' convolution or a floor-mode pool (< 1: the input was too short)."""
    return (n - kernel) // stride + 1 if n >= kernel else 0


def check_samples(model: str, samples: int, length: Callable[[int], int]) -> None:
    """Raise a one-line ValueError when ``length(samples)``, the time axis left before the classifier, is
    below 1, naming the shortest window that fits (found by counting up: lengths grow with the input)."""
    if length(samples) >= 1:
        return
    need = samples + 1
    while length(need) < 1:
        need += 1
    raise ValueError(
        f"a window of {samples} samples ({samples / SIGNAL_SFREQ:g} s) is too short for {model}: it needs "
        f"at least {need} samples ({need / SIGNAL_SFREQ:g} s at {SIGNAL_SFREQ:g} Hz); set window_s"
    )


def clip_norm(weight: torch.Tensor, limit: float) -> torch.Tensor:
    """``weight`` with each output unit's L2 norm capped at ``limit`` (Keras' ``max_norm`` constraint, as
    ``torch.renorm`` computes it), out of place and from plain ops, so autocast, ``torch.compile`` and
    ``vmap`` see an ordinary function of the parameter (no in-place write to it in the forward pass)."""
    norm = weight.flatten(1).norm(dim=1).view(-1, *([1] * (weight.dim() - 1)))
    return weight * (limit / (norm + 1e-7)).clamp(max=1.0)


class MaxNormConv2d(nn.Conv2d):
    """``Conv2d`` whose kernel is used under a max-norm per output filter (see :func:`clip_norm`)."""

    def __init__(self, *args, max_norm: float, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.max_norm = float(max_norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(x, clip_norm(self.weight, self.max_norm), self.bias)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", max_norm={self.max_norm:g}"


class SameTimeConv2d(nn.Conv2d):
    """Stride-1 ``Conv2d`` with a ``(1, k)`` kernel and Keras' 'same' padding on the time axis only
    (asymmetric for even k: 31 before and 32 after for EEGNet's 64), as
    :func:`bench.models.layers.same_padding`."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, *, groups: int = 1) -> None:
        super().__init__(in_channels, out_channels, (1, kernel), groups=groups, bias=False)
        self.time_padding = same_padding(kernel)[:2]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(F.pad(x, self.time_padding))

    def extra_repr(self) -> str:
        return super().extra_repr() + f", time_padding={self.time_padding}"


class MaxNormLinear(nn.Linear):
    """``Linear`` whose weight rows (one per output unit) are used under a max-norm (:func:`clip_norm`)."""

    def __init__(self, in_features: int, out_features: int, *, max_norm: float) -> None:
        super().__init__(in_features, out_features)
        self.max_norm = float(max_norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, clip_norm(self.weight, self.max_norm), self.bias)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", max_norm={self.max_norm:g}"


def scaled(samples_at_250: int) -> int:
    """A kernel or pool length given in samples at 250 Hz (Schirrmeister et al.), at :data:`SIGNAL_SFREQ`
    Hz: the same duration, rounded (25 -> 13, 75 -> 38, 15 -> 8)."""
    return max(1, round(samples_at_250 * SIGNAL_SFREQ / 250.0))
