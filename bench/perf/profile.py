"""A roofline per layer (``bench perf --profile MODEL``): where a model's training step spends its time.

A model's fraction of the machine's matmul ceiling mixes two things: how fast the model's own operations
can run at its shapes, and how much of the step goes elsewhere. This module separates them. For one model
in one precision and memory format, at the training batch, it

1. records the input of every leaf layer during one forward pass (forward hooks, under the step's autocast);
2. times each layer's forward and backward **alone** on that input (the backward computes what it computes
   inside the model: parameter gradients, and the input's gradient where the input needs one), in the
   model's memory format and, for a layer on a 4-D input, in the other one too;
3. times the layer's **op limit**: the same-size matrix products oneDNN runs alone (a convolution is three
   GEMMs of ``M = N Ho Wo`` rows, ``K = Cin/g kh kw`` and ``Cout/g`` columns per group, forward, input
   gradient and weight gradient; a linear layer the same with ``M = N``), in the precision's dtype;
4. times the whole step, the optimizer step alone and the batch gather (the trainer slices each batch out of
   the resident tensor by index).

The layer's best time is the fastest of its own formats and its op limit; a compute layer (FLOPs > 0)
"below its op's ceiling" loses ``alone - best``. The rest of the step is attributed to memory-bound
layers (norms, activations, dropout, pooling: no FLOPs, their time alone), the optimizer, and what happens
between ops: autocast casts, memory-format reorders, the loss, Python. The model's **roofline** is its
FLOPs over the sum of its compute layers' best times: the GFLOP/s its own ops reach at their shapes.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from bench.core import host
from bench.core.host import resolve_device
from bench.models.registry import create_model
from bench.perf.ceiling import CEILING_SIZE, machine, matmul_gflops
from bench.perf.throughput import count_flops, model_setup
from bench.runs.estimate import timed, training_step
from bench.training.step import autocast, make_optimizer
from bench.training.trainer import channels_last_applies, trains_channels_last, use_channels_last

COMPUTE_LAYERS = (nn.Conv1d, nn.Conv2d, nn.Linear, nn.LSTM, nn.GRU)
"""Layers with matrix products; every other leaf is memory-bound (its time is its own limit)."""


@dataclass
class LayerTiming:
    """One leaf layer's forward + backward alone at the training batch."""

    name: str
    kind: str
    input_shape: tuple[int, ...]
    flops: int
    """Forward + backward FLOPs of the layer alone (torch.utils.flop_counter)."""
    seconds: float
    """Alone, in the model's precision and memory format."""
    other_format_seconds: float | None = None
    """Alone in the other memory format (4-D inputs only)."""
    gemm_seconds: float | None = None
    """The same-size GEMMs alone (convolutions and linear layers)."""

    @property
    def compute(self) -> bool:
        return self.flops > 0

    @property
    def best_seconds(self) -> float:
        """The fastest of the layer in either format and its GEMMs: the layer's limit."""
        return min(t for t in (self.seconds, self.other_format_seconds, self.gemm_seconds) if t is not None)

    @property
    def best_how(self) -> str:
        options = {
            "as run": self.seconds,
            "other format": self.other_format_seconds,
            "GEMM": self.gemm_seconds,
        }
        return min((t, k) for k, t in options.items() if t is not None)[1]


@dataclass
class ModelProfile:
    """Where one model's training step goes, in one precision and memory format (see the module doc)."""

    model: str
    precision: str
    channels_last: bool
    batch: int
    step_seconds: float
    optimizer_seconds: float
    gather_seconds: float
    flops_per_step: int
    layers: list[LayerTiming] = field(default_factory=list)

    def compute_seconds(self) -> float:
        return sum(lt.seconds for lt in self.layers if lt.compute)

    def compute_best_seconds(self) -> float:
        return sum(lt.best_seconds for lt in self.layers if lt.compute)

    def memory_bound_seconds(self) -> float:
        return sum(lt.seconds for lt in self.layers if not lt.compute)

    def between_ops_seconds(self) -> float:
        """The step minus its layers alone and the optimizer: casts, reorders, the loss, Python (can be
        negative by the timing noise when layers run faster inside the step than alone)."""
        return (
            self.step_seconds - self.compute_seconds() - self.memory_bound_seconds() - self.optimizer_seconds
        )

    def layer_flops(self) -> int:
        """The FLOPs of the timed leaf layers' forward + backward."""
        return sum(lt.flops for lt in self.layers)

    def outside_layers_flops(self) -> int:
        """The step's FLOPs that no leaf layer does: functional code between modules (a time-domain
        model's composed first block, ``baselines.timedomain.temporal_spatial_conv``), timed only inside
        the step, in "between ops"; the loss's few FLOPs."""
        return max(0, self.flops_per_step - self.layer_flops())

    def roofline_gflops(self) -> float:
        """The timed layers' FLOPs over their best times: the rate the model's own ops reach alone.

        The layers' FLOPs, not the step's: FLOPs done outside any leaf layer have no time of their own
        here, and counting them over the layers' times would overstate the limit (ShallowConvNet's
        composed convolution is nearly all of its FLOPs)."""
        return self.layer_flops() / self.compute_best_seconds() / 1e9

    def achieved_gflops(self) -> float:
        return self.flops_per_step / self.step_seconds / 1e9

    def fraction_of_roofline(self) -> float:
        return self.achieved_gflops() / self.roofline_gflops()

    def samples_per_s(self) -> float:
        return self.batch / self.step_seconds


def capture_layer_inputs(
    model: nn.Module, x: torch.Tensor, device: torch.device, precision: str
) -> list[tuple[str, nn.Module, torch.Tensor]]:
    """Every leaf layer that ran in one training-mode forward pass of ``model`` on ``x`` (under the
    step's autocast), with a detached copy of the tensor it received, in call order (a layer called twice
    appears twice: its time counts each call)."""
    seen: list[tuple[str, nn.Module, torch.Tensor]] = []
    hooks = []
    for name, mod in model.named_modules():
        if next(mod.children(), None) is not None or name == "":
            continue

        def hook(m: nn.Module, args: tuple, _name: str = name) -> None:
            if args and isinstance(args[0], torch.Tensor):
                inp = args[0].detach().clone(memory_format=torch.preserve_format)
                seen.append((_name, m, inp.requires_grad_(args[0].requires_grad)))

        hooks.append(mod.register_forward_pre_hook(hook))
    try:
        with autocast(device, precision):
            model(x)
    finally:
        for h in hooks:
            h.remove()
    return seen


def _fwd_bwd(layer: nn.Module, inp: torch.Tensor, device: torch.device, precision: str) -> Callable[[], None]:
    """One forward and backward of ``layer`` alone: the gradients it computes inside the model."""
    params = [p for p in layer.parameters() if p.requires_grad]
    wrt = ([inp] if inp.requires_grad else []) + params
    with autocast(device, precision):
        probe = layer(inp)
    out0 = probe[0] if isinstance(probe, tuple) else probe
    grad = torch.randn_like(out0)

    def run() -> None:
        with autocast(device, precision):
            out = layer(inp)
        out = out[0] if isinstance(out, tuple) else out
        if wrt and out.requires_grad:
            out.backward(grad)
            for t in wrt:  # as set_to_none=True leaves them: each call writes fresh gradients
                t.grad = None

    return run


def gemm_shapes(layer: nn.Module, inp: torch.Tensor, out_numel_per_channel: int) -> tuple[int, int, int, int]:
    """``(groups, M, K, N)`` of the forward GEMM of a convolution or linear layer on ``inp``."""
    if isinstance(layer, nn.Linear):
        return 1, inp.numel() // inp.shape[-1], layer.in_features, layer.out_features
    g = layer.groups
    k = layer.in_channels // g
    for s in layer.kernel_size:
        k *= s
    return g, out_numel_per_channel, k, layer.out_channels // g


def _gemms(
    g: int, m: int, k: int, n: int, input_grad: bool, dtype: torch.dtype, device
) -> Callable[[], None]:
    """The forward, weight-gradient and (``input_grad``) input-gradient products of a (M x K) by (K x N)
    layer with ``g`` groups, as batched matmuls in ``dtype``."""
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(g, m, k, generator=gen).to(device=device, dtype=dtype)
    w = torch.randn(g, k, n, generator=gen).to(device=device, dtype=dtype)
    dy = torch.randn(g, m, n, generator=gen).to(device=device, dtype=dtype)

    def run() -> None:
        torch.bmm(a, w)
        torch.bmm(a.transpose(1, 2), dy)
        if input_grad:
            torch.bmm(dy, w.transpose(1, 2))

    return run


def fastest_times(
    fns: dict[str, Callable[[], None]], device: torch.device, *, warmup: int, rounds: int
) -> dict[str, float]:
    """The fastest call of each of ``fns`` over ``rounds`` round-robin rounds (one call of each in turn)
    after ``warmup`` untimed calls each. Round-robin, so a burst of load on a shared machine hits every
    function alike; the fastest, because what a layer can do is what it does undisturbed (a median of
    bursty rounds mixes in other processes' work)."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(rounds):
        for key, fn in fns.items():
            best[key] = min(best[key], timed(fn, device))
    return best


def layer_calls(
    name: str,
    layer: nn.Module,
    inp: torch.Tensor,
    device: torch.device,
    precision: str,
    *,
    other_format: bool = True,
) -> tuple[int, dict[str, Callable[[], None]]]:
    """The FLOPs of ``layer``'s forward + backward on ``inp`` and the callables to time: ``as run``, the
    ``other format`` (a 2-D convolution on a 4-D input, where ``other_format``: the model is one the
    trainer may run channels-last) and the ``GEMM`` (convolutions, linear layers).

    Why ``other_format`` is the model's, not the layer's: a time-domain model's inner Conv2d layers
    see 4-D activations, but the trainer never runs such a model channels-last (its input is 3-D), and
    oneDNN has no fast kernel for their grouped (1, k) convolutions channels-last in bf16 (one forward of
    EEGNet's separable depthwise convolution ran for minutes on the Xeon with AMX)."""
    run = _fwd_bwd(layer, inp, device, precision)
    flops = count_flops(run)
    calls = {"as run": run}
    if other_format and inp.dim() == 4 and isinstance(layer, nn.Conv2d):
        cl = inp.is_contiguous(memory_format=torch.channels_last)
        fmt = torch.contiguous_format if cl else torch.channels_last
        twin = copy.deepcopy(layer).to(memory_format=fmt)
        x2 = inp.detach().contiguous(memory_format=fmt).requires_grad_(inp.requires_grad)
        calls["other format"] = _fwd_bwd(twin, x2, device, precision)
    if isinstance(layer, nn.Conv1d | nn.Conv2d | nn.Linear) and flops > 0:
        with autocast(device, precision), torch.no_grad():
            out = layer(inp)
        per_channel = out.numel() // out.shape[1] if not isinstance(layer, nn.Linear) else 0
        g, m, k, n = gemm_shapes(layer, inp, per_channel)
        dtype = torch.bfloat16 if precision == "bf16" else torch.float32
        calls["GEMM"] = _gemms(g, m, k, n, inp.requires_grad, dtype, device)
    return flops, calls


def profile_model(
    name: str,
    *,
    precision: str,
    batch: int = 64,
    device: str | torch.device = "auto",
    warmup: int = 3,
    rounds: int = 10,
    echo: Callable[[str], None] | None = None,
) -> ModelProfile:
    """Profile ``name``'s training step in ``precision`` in the memory format the trainer uses for it
    (:func:`bench.training.trainer.trains_channels_last`), at ``batch``, on random inputs of a default
    run's shape (see the module docstring for what is timed); everything is timed round-robin
    (:func:`fastest_times`)."""
    echo = echo or (lambda _m: None)
    dev = resolve_device(device) if isinstance(device, str) else device
    hp, tasks, shape = model_setup(name)
    gen = torch.Generator().manual_seed(0)
    pool = torch.randn(batch * 4, *shape, generator=gen).to(dev)
    y = torch.randint(0, 2, (batch, 2), generator=gen).to(dev)
    torch.manual_seed(0)
    model = create_model(name, tasks=tasks, **hp).to(dev).train()
    either_format = channels_last_applies(model, pool.dim())
    cl = trains_channels_last(precision, dev.type) and either_format
    if cl:
        pool = use_channels_last(model, pool)
    idx = torch.randperm(pool.shape[0], generator=gen)[:batch].to(dev)
    x = pool[idx]
    echo(f"{name} ({precision}{', channels-last' if cl else ''}): the step, the optimizer, each layer")
    step = training_step(model, x, y, tasks=tasks, device=dev, precision=precision)
    flops = count_flops(step)
    twins = [nn.Parameter(p.detach().clone()) for p in model.parameters()]  # the optimizer alone
    for p in twins:
        p.grad = torch.zeros_like(p)
    opt = make_optimizer(twins, lr=1e-3)
    fns: dict[str, Callable[[], None]] = {"step": step, "optimizer": opt.step, "gather": lambda: pool[idx]}
    layers = []
    for i, (lname, layer, inp) in enumerate(capture_layer_inputs(model, x, dev, precision)):
        lflops, calls = layer_calls(lname, layer, inp, dev, precision, other_format=either_format)
        layers.append((lname, layer, inp, lflops))
        fns.update({(i, how): fn for how, fn in calls.items()})
    best = fastest_times(fns, dev, warmup=warmup, rounds=rounds)
    timings = [
        LayerTiming(
            lname,
            type(layer).__name__,
            tuple(inp.shape),
            lflops,
            best[(i, "as run")],
            best.get((i, "other format")),
            best.get((i, "GEMM")),
        )  # fmt: skip
        for i, (lname, layer, inp, lflops) in enumerate(layers)
    ]
    return ModelProfile(
        name, precision, cl, batch, best["step"], best["optimizer"], best["gather"], flops, timings
    )


def profile_models(
    names: Sequence[str],
    *,
    batch: int = 64,
    device: str = "auto",
    quick: bool = False,
    echo: Callable[[str], None] | None = None,
) -> tuple[dict[str, object], dict[str, float], list[ModelProfile]]:
    """``bench perf --profile``: the machine, the matmul ceiling (fp32 and bf16) and each model's
    :func:`profile_model` in fp32 and, where this device has native bf16, in bf16 (emulated bf16 is
    slower than fp32 and no run trains in it). ``quick``: a smoke check (1024 matmul, 1 warm-up, 2 rounds)."""
    echo = echo or (lambda _m: None)
    dev = resolve_device(device)
    n, warmup, rounds = (1024, 1, 2) if quick else (CEILING_SIZE, 3, 10)
    echo(f"ceiling: {n}x{n} matmul, fp32 and bf16")
    ceilings = {
        p: matmul_gflops(n, dt, dev, warmup=warmup, reps=rounds)
        for p, dt in (("fp32", torch.float32), ("bf16", torch.bfloat16))
    }
    precisions = ("fp32", "bf16") if host.native_bf16(dev) else ("fp32",)
    profiles = [
        profile_model(m, precision=p, batch=batch, device=dev, warmup=warmup, rounds=rounds, echo=echo)
        for m in names
        for p in precisions
    ]
    return machine(dev), ceilings, profiles
