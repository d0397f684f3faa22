"""Each model's training throughput (``bench perf``): FLOPs per training sample and samples/s per variant.

A model's training step is :func:`bench.runs.estimate.training_step` (the trainer's
:func:`bench.training.step.train_step`), timed in fp32 and bf16 autocast, contiguous and channels-last,
round-robin (one step of each variant in turn, so load on a shared machine hits all variants alike and
their ratios stay comparable); its FLOPs are counted by :class:`torch.utils.flop_counter.FlopCounterMode`
over one step. The prediction rate at the precision ``--precision auto`` picks feeds the estimates.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.utils.flop_counter import FlopCounterMode

from bench.config.run import RunConfig
from bench.data.inputs import TASKS
from bench.models.registry import count_parameters, create_model, get_model_info
from bench.runs.estimate import prediction_step, timed, training_step
from bench.runs.identity import resolve_precision
from bench.runs.resolved import resolve_run
from bench.training.trainer import channels_last_applies, channels_last_input, trains_channels_last

VARIANTS: tuple[tuple[str, str, bool], ...] = (
    ("fp32", "fp32", False),
    ("fp32-cl", "fp32", True),
    ("bf16", "bf16", False),
    ("bf16-cl", "bf16", True),
)
"""(key, precision, channels-last) of every timed training variant."""


def count_flops(fn: Callable[[], None]) -> int:
    """FLOPs of one call of ``fn`` as :class:`torch.utils.flop_counter.FlopCounterMode` counts them
    (matmuls and convolutions, forward and backward; elementwise ops, norms and the optimiser count 0)."""
    with FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


@dataclass
class ModelPerf:
    """One model's measurements; ``samples_per_s`` maps a :data:`VARIANTS` key to training samples/s
    (None: channels-last does not apply to this model's input)."""

    name: str
    sample_shape: tuple[int, ...]
    parameters: int
    flops_per_sample: float
    samples_per_s: dict[str, float | None]
    auto_precision: str
    """What ``--precision auto`` trains this model in on this device
    (bench.runs.identity.resolve_precision)."""
    predict_samples_per_s: float
    """Prediction (eval, batch max(batch, 256)) at ``auto_precision``, NCHW: for the estimates."""
    device_type: str = "cpu"
    """Where it was measured (the memory-format rule depends on it)."""

    def best(self, precision: str) -> float:
        """Training samples/s at ``precision`` in the faster memory format."""
        return max(v for k, v in self.samples_per_s.items() if k.split("-")[0] == precision and v)

    def trained_rate(self) -> float:
        """Training samples/s of what a run trains here: ``auto_precision`` in the trainer's memory format
        (:func:`bench.training.trainer.trains_channels_last`, where it applies)."""
        cl = self.samples_per_s.get(f"{self.auto_precision}-cl")
        if cl is not None and trains_channels_last(self.auto_precision, self.device_type):
            return cl
        return self.samples_per_s[self.auto_precision]

    def channels_last_gain(self, precision: str) -> float | None:
        """Channels-last over contiguous samples/s, minus 1 (None where it does not apply)."""
        cl = self.samples_per_s.get(f"{precision}-cl")
        return None if cl is None else cl / self.samples_per_s[precision] - 1


def model_setup(name: str) -> tuple[dict, tuple[str, ...], tuple[int, ...]]:
    """Hyper-parameters (the run's defaults), tasks (both heads for multi-task models, one otherwise, as
    a unit trains them) and the per-sample input shape of a default run of ``name``."""
    run = resolve_run(RunConfig(model=name))
    tasks = TASKS if run.info.multitask else TASKS[:1]
    return run.hparams, tasks, run.input_spec.sample_shape()


def measure_model(
    name: str, *, batch: int, device: torch.device, warmup: int, reps: int, echo: Callable[[str], None]
) -> ModelPerf:
    """FLOPs per training sample, training samples/s of every variant (timed round-robin: one step of each
    variant in turn, ``reps`` rounds after ``warmup`` untimed steps each; the median counts), and the
    prediction rate at the precision ``--precision auto`` picks."""
    hp, tasks, shape = model_setup(name)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(batch, *shape, generator=gen).to(device)
    y = torch.randint(0, 2, (batch, 2), generator=gen).to(device)

    def build(channels_last: bool) -> torch.nn.Module:
        torch.manual_seed(0)
        m = create_model(name, tasks=tasks, **hp).to(device).train()
        return m.to(memory_format=torch.channels_last) if channels_last else m

    probe = build(False)
    flops = count_flops(training_step(probe, x, y, tasks=tasks, device=device, precision="fp32"))
    cl_ok = channels_last_applies(probe, len(shape) + 1)
    steps: dict[str, Callable[[], None]] = {}
    for key, precision, cl in VARIANTS:
        if cl and not cl_ok:
            continue
        xv = channels_last_input(x) if cl else x
        steps[key] = training_step(build(cl), xv, y, tasks=tasks, device=device, precision=precision)
    echo(f"{name}: {flops / batch / 1e6:,.1f} MFLOP per training sample; timing {', '.join(steps)}")
    for step in steps.values():
        for _ in range(warmup):
            step()
    times: dict[str, list[float]] = {k: [] for k in steps}
    for _ in range(reps):
        for key, step in steps.items():
            times[key].append(timed(step, device))
    sps = {k: (batch / statistics.median(times[k]) if k in times else None) for k, _, _ in VARIANTS}
    auto = resolve_precision("auto", get_model_info(name), device.type)
    pb = max(batch, 256)
    xp = torch.randn(pb, *shape, generator=gen).to(device)
    probe.eval()
    predict = prediction_step(probe, xp, device=device, precision=auto)
    predict()
    p_times = [timed(predict, device) for _ in range(max(1, reps // 2))]
    return ModelPerf(
        name=name,
        sample_shape=tuple(shape),
        parameters=count_parameters(probe),
        flops_per_sample=flops / batch,
        samples_per_s=sps,
        auto_precision=auto,
        predict_samples_per_s=pb / statistics.median(p_times),
        device_type=device.type,
    )
