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


def composed_kernel(temporal: torch.Tensor, spatial: torch.Tensor) -> torch.Tensor:
    """The (F, C, k) kernel of a temporal convolution (G, 1, 1, k) followed by a spatial one (F, G, C, 1).

    Two convolutions with nothing between them are one: ``W[f, c, t] = sum_g spatial[f, g, c, 0] *
    temporal[g, 0, 0, t]``. It is computed from the parameters on every forward pass (autograd carries the
    gradient back to both), with element-wise products and a sum: not ``einsum``, which autocast would
    round to bf16 before the sum; here the kernel is exact to fp32 and rounded once, by the convolution.
    """
    g, k = temporal.shape[0], temporal.shape[-1]
    f, c = spatial.shape[0], spatial.shape[2]
    return (spatial.reshape(f, g, c, 1) * temporal.reshape(1, g, 1, k)).sum(1)


def composed_bias(
    temporal_bias: torch.Tensor | None, spatial: torch.Tensor, spatial_bias: torch.Tensor | None
) -> torch.Tensor | None:
    """The (F,) bias of the composed convolution (:func:`composed_kernel`): the temporal bias ``b[g]``,
    constant over channels and time, passes the spatial convolution as ``sum_g sum_c spatial[f, g, c, 0]
    * b[g]``; the spatial bias adds to it. None where neither layer has one."""
    bias = None
    if temporal_bias is not None:
        bias = (spatial.sum(dim=(2, 3)) * temporal_bias).sum(1)
    if spatial_bias is not None:
        bias = spatial_bias if bias is None else bias + spatial_bias
    return bias


def temporal_spatial_conv(x: torch.Tensor, temporal: nn.Conv2d, spatial: nn.Conv2d) -> torch.Tensor:
    """``spatial(temporal(x.unsqueeze(1)))`` of (N, C, S) EEG, as ONE convolution: (N, F, 1, T).

    ``temporal`` is a valid ``(1, k)`` convolution of one input channel, ``spatial`` a ``(C, 1)``
    convolution over all C channels (both stride 1, no padding), with no layer between them: together
    they are linear in ``x``, and so one ``Conv1d`` with the C EEG channels on its channel axis
    (:func:`composed_kernel`, :func:`composed_bias`). Why: the pair reads a one-channel input and writes
    a (N, G, C, T) activation that the spatial convolution reads back (ShallowConvNet: 40 x 32 x 500
    floats per sample, streamed through memory forward and backward), and a convolution with one input
    channel has a reduction of k alone, which no matmul kernel runs well. The composed convolution never
    forms that activation, does G times fewer multiply-adds (for G = F temporal filters: ``F C k T``
    instead of ``G C k T + F G C T``) and reduces over ``C k`` (416 for ShallowConvNet). The same
    function within float rounding (tests/models/test_timedomain_fast.py); measured speed-ups of the
    whole training step are in each model's notes.
    """
    weight = composed_kernel(temporal.weight, spatial.weight)
    bias = composed_bias(temporal.bias, spatial.weight, spatial.bias)
    return F.conv1d(x, weight, bias).unsqueeze(2)


def window_moments(
    x: torch.Tensor, kernel: int, padding: tuple[int, int]
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """First and second moments of the length-``kernel`` windows of (N, C, S) ``x`` zero-padded in time.

    With ``xp = F.pad(x, padding)`` (length L) and the T = L - kernel + 1 windows of every one of the N C
    rows: ``mean[j] = sum_{n,c,t} xp[n, c, t + j] / M`` and ``second[j, i] = sum_{n,c,t} xp[n, c, t + j]
    xp[n, c, t + i] / M``, M = N C T. A temporal filter w applied to every row (a convolution with one
    input channel) then has output mean ``w . mean`` and mean square ``w . second . w`` over (N, C, T),
    which are what a BatchNorm after it normalises with, without forming its (N, F, C, T) output.

    How: one Gram matrix ``P = X^T X`` of the (N C, L) rows (a matmul reducing over N C, in fp32 even
    under autocast), then ``second[j, i] = sum_t P[t + j, t + i]`` (sums along its diagonals, in float64,
    like every later step: the variance ``second - mean^2`` loses to cancellation what the mean carries).
    Returns (mean (kernel,), second (kernel, kernel), M), both float64.
    """
    xp = F.pad(x, padding)
    n, c, length = xp.shape
    windows = length - kernel + 1
    with torch.autocast(x.device.type, enabled=False):
        rows = xp.float().reshape(n * c, length)
        gram = (rows.T @ rows).double()
    count = n * c * windows
    mean = rows.sum(0, dtype=torch.float64).unfold(0, windows, 1).sum(-1) / count
    second = gram.unfold(0, windows, 1).unfold(1, windows, 1).diagonal(0, 2, 3).sum(-1) / count
    return mean, second, count


def batch_norm_affine(
    bn: nn.Module, mean: torch.Tensor, var: torch.Tensor, count: int
) -> tuple[torch.Tensor, torch.Tensor] | None:
    """What ``bn`` (a ``BatchNorm`` or ``Identity``) does to an input of per-channel batch ``mean`` and
    biased ``var`` over ``count`` values: ``y = scale * x + shift`` (None for ``Identity``).

    In training mode a BatchNorm is such a per-channel affine map too, with coefficients from the batch's
    statistics, so a linear layer after it can take them into its kernel; this function is
    ``torch.nn.functional.batch_norm``'s arithmetic on statistics computed elsewhere, with its running-
    statistics update (momentum, or the cumulative average where momentum is None; unbiased variance).
    Eval mode uses the running statistics, as BatchNorm does.
    """
    if not isinstance(bn, nn.modules.batchnorm._BatchNorm):
        return None
    use_batch = bn.training or bn.running_mean is None
    if bn.training and bn.track_running_stats:
        bn.num_batches_tracked.add_(1)
        factor = 1.0 / float(bn.num_batches_tracked) if bn.momentum is None else bn.momentum
        with torch.no_grad():
            unbiased = var * (count / max(count - 1, 1))
            bn.running_mean.mul_(1 - factor).add_(mean.to(bn.running_mean.dtype), alpha=factor)
            bn.running_var.mul_(1 - factor).add_(unbiased.to(bn.running_var.dtype), alpha=factor)
    if not use_batch:
        mean, var = bn.running_mean.double(), bn.running_var.double()
    scale = torch.rsqrt(var + bn.eps)
    if bn.weight is not None:
        scale = bn.weight.double() * scale
    return scale, (-mean * scale if bn.bias is None else bn.bias.double() - mean * scale)


def depthwise_conv1d(y: torch.Tensor, kernel: torch.Tensor, block: int | None = None) -> torch.Tensor:
    """``F.conv1d(y, kernel.unsqueeze(1), groups=D)`` (a 'valid' depthwise cross-correlation of (N, D, L)
    ``y`` with a (D, k) kernel: (N, D, L - k + 1)), as one batched matmul with block-Toeplitz matrices.

    Why: oneDNN's depthwise convolution with a long kernel (EEGNet: k = 64) is slow backward (its weight
    gradient reduces over N x L with k outputs per channel). Here the output is cut into blocks of B = k
    samples; block b reads the window ``y[..., b B : b B + B + k - 1]``, and ``out_block = window @ T_d``
    with the (B + k - 1, B) Toeplitz matrix ``T_d[u, t] = kernel[d, u - t]`` (0 outside 0 <= u - t < k).
    Forward and both gradients are then matmuls of (N x blocks, B + k - 1) by (B + k - 1, B) per channel,
    which MKL and oneDNN run at a good fraction of the machine (fp32 and AMX bf16); the zeros of T make it
    about 2 times the multiply-adds of the direct convolution. Measured for EEGNet's (64, 16, 575) input,
    forward + backward: 2-3 times faster than the depthwise ``conv1d`` in fp32 and bf16; the whole EEGNet
    step about 2 times faster than with the broadcast matmul that the compiled path uses.
    """
    n, d, length = y.shape
    k = kernel.shape[-1]
    b = block or k
    out_len_ = length - k + 1
    blocks = -(-out_len_ // b)
    window = b + k - 1
    y = F.pad(y, (0, blocks * b + k - 1 - length))
    windows = y.unfold(2, window, b)  # (N, D, blocks, window)
    lag = torch.arange(window, device=y.device)[:, None] - torch.arange(b, device=y.device)[None, :]
    lag = torch.where((lag >= 0) & (lag < k), lag, k)
    toeplitz = F.pad(kernel, (0, 1))[:, lag]  # (D, window, B); index k is the pad's 0
    if torch.compiler.is_compiling():
        # torch.compile's autograd (2.13) breaks on the backward of the bmm's reshapes below: broadcast
        # instead, N D products of (blocks, window) @ (window, B), the same sums (about half as fast)
        out = torch.matmul(windows, toeplitz.unsqueeze(0))
    else:  # one bmm per channel d over every block of every sample: (N blocks, window) @ T_d
        out = torch.einsum("ndbw,dwt->ndbt", windows, toeplitz)
    return out.flatten(2)[..., :out_len_]


def scaled(samples_at_250: int) -> int:
    """A kernel or pool length given in samples at 250 Hz (Schirrmeister et al.), at :data:`SIGNAL_SFREQ`
    Hz: the same duration, rounded (25 -> 13, 75 -> 38, 15 -> 8)."""
    return max(1, round(samples_at_250 * SIGNAL_SFREQ / 250.0))
