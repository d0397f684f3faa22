"""One training step: the forward pass, the multi-task loss and the update, written once.

:func:`bench.training.trainer.fit`, :func:`bench.training.stacked.fit_stacked`, the plan's throughput probe
(:func:`bench.runs.estimate.training_step`) and ``bench perf``'s step timing all train through this
module, so what a plan estimates and what ``bench perf`` times is the work a run does, and the stacked
ensemble computes each model's loss exactly as a model trained alone does.

Single model: :func:`train_step` (autocast forward, :func:`multitask_loss` plus the model's auxiliary
loss, backward, ``torch.optim`` step). Stacked models (K models of one architecture, parameters stacked
along dim 0): :func:`forward_loss` runs inside ``torch.func.vmap`` and :func:`stacked_update` takes the
gradient of the K losses and applies :func:`adam_step`, torch's Adam written over stacked tensors with a
per-model mask.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import nullcontext

import torch
import torch.nn.functional as F

from bench.config.run import TrainConfig
from bench.core.metrics import class_scores, predicted_class
from bench.core.tasks import n_classes

BETAS = (0.9, 0.999)
"""torch.optim.Adam's default betas (the trainer uses the defaults)."""

Forward = Callable[[torch.Tensor], dict[str, torch.Tensor]]
"""A model's forward pass: a batch in, logits per task out."""


def make_optimizer(params: Iterable[torch.Tensor], *, lr: float, eps: float = 1e-8) -> torch.optim.Adam:
    """The trainer's Adam (torch's defaults otherwise) with ``fused=True``: one kernel updates every
    parameter, where the default on the CPU loops over them in Python. Measured on MT-CNN's 1.2 M
    parameters (Intel Xeon with AMX, 2 threads, quiet): 0.65 ms a step fused, 2.73 ms ``foreach``, 3.84 ms
    the loop, 13 % of its bf16 training step. The fused kernel computes the same update in another order
    (after 20 steps the weights differ from the loop's by at most 7.5e-9): a rounding difference, like
    another thread count. The trainer, the throughput probe and ``bench perf`` all build it here, so what
    they time is what a run does."""
    return torch.optim.Adam(params, lr=lr, eps=eps, fused=True)


def autocast(device: torch.device, precision: str):
    """bf16 autocast when asked for (``auto`` was resolved in bench.runs.identity); fp32 otherwise."""
    if precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return nullcontext()


def class_weights(y: torch.Tensor, k: int = 2) -> torch.Tensor:
    """sklearn's 'balanced' weights ``n / (k * count)`` for a label vector of ``k`` classes (a class absent
    from ``y`` counts as 1, so its weight stays finite; it never enters the loss anyway)."""
    counts = torch.bincount(y, minlength=k).double()
    w = y.numel() / (float(k) * counts.clamp(min=1))
    return w.float()


def task_class_weights(y: torch.Tensor, tasks: Sequence[str]) -> dict[str, torch.Tensor]:
    """:func:`class_weights` of each task's column of ``y`` ((N, len(tasks)) labels), with its class count."""
    return {t: class_weights(y[:, i], n_classes(t)) for i, t in enumerate(tasks)}


def task_weights(config: TrainConfig, tasks: Sequence[str] = ("valence", "arousal")) -> dict[str, float]:
    """The loss weight of each task: ``config.loss_weights`` = (w_v, w_a) for valence and arousal (the
    paper's multi-task loss), 1 for every other task (a categorical task's loss is not weighted)."""
    pair = {"valence": config.loss_weights[0], "arousal": config.loss_weights[1]}
    return {t: pair.get(t, 1.0) for t in tasks}


def multitask_loss(
    out: Mapping[str, torch.Tensor],
    y: torch.Tensor,
    tasks: Sequence[str],
    weights: Mapping[str, float],
    cw: Mapping[str, torch.Tensor | None],
    dists: Mapping[str, torch.Tensor] | None = None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """``sum(weights[t] * L_t)`` over ``tasks`` and the per-task losses ``L_t``.

    ``L_t`` is the cross-entropy of the task's fp32 logits ``out[t]`` (N, k_t) against its column of the
    labels ``y`` (N, len(tasks): column i holds ``tasks[i]``), with the class weights ``cw[t]`` (None:
    unweighted). Training, validation, tuning and
    the stacked ensemble all use this one loss, so their numbers compare.

    ``dists`` (a model's ``label_distributions``, see :func:`label_distributions`): for a task it names, a
    (k_t, k_t) tensor whose row c is the target distribution of true class c, and ``L_t`` is the
    cross-entropy against ``dists[t][y]`` (probability targets, RGNN's EmotionDL). torch averages that
    over the N samples, where hard labels with class weights divide by the summed weights of the samples'
    classes (the same over a whole balanced training set). Tasks it does not name, and every task
    without it, keep the hard-label loss unchanged.
    """
    dists = dists or {}
    parts = {
        t: F.cross_entropy(out[t].float(), _targets(y[:, i], dists.get(t), out[t]), weight=cw[t])
        for i, t in enumerate(tasks)
    }
    return sum(weights[t] * parts[t] for t in tasks), parts


def _targets(y: torch.Tensor, dist: torch.Tensor | None, logits: torch.Tensor) -> torch.Tensor:
    """The cross-entropy target of one task: the class indices ``y``, or the rows ``dist[y]``."""
    return y if dist is None else dist.to(device=logits.device, dtype=torch.float32)[y]


def label_distributions(model: object) -> Mapping[str, torch.Tensor] | None:
    """A model's ``label_distributions`` attribute (``{task: (k, k) target distributions}``), or None.

    The one place the loss learns a model trains on label distributions instead of hard labels."""
    return getattr(model, "label_distributions", None)


def forward_loss(
    forward: Forward,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    tasks: Sequence[str],
    weights: Mapping[str, float],
    cw: Mapping[str, torch.Tensor | None],
    device: torch.device,
    precision: str,
    aux: Callable[[], torch.Tensor] | None = None,
    dists: Mapping[str, torch.Tensor] | None = None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The training loss of one batch and its logits: ``forward(x)`` under :func:`autocast`, then
    :func:`multitask_loss` (against the label distributions ``dists`` where given) plus ``aux()`` (a
    model's ``auxiliary_loss``, read after its forward pass).

    Runs as it is inside ``torch.func.vmap`` (the stacked ensemble), so one model and K stacked models
    compute the same loss."""
    with autocast(device, precision):
        out = forward(x)
    loss, _ = multitask_loss(out, y, tasks, weights, cw, dists)
    if aux is not None:
        loss = loss + aux()
    return loss, out


def batch_hits(out: Mapping[str, torch.Tensor], y: torch.Tensor, tasks: Sequence[str]) -> torch.Tensor:
    """Correct predictions per task in a batch (``y``: column i holds ``tasks[i]``), as a (len(tasks),)
    int64 tensor left on the device (the step loop never waits for a host copy)."""
    return torch.stack(
        [(predicted_class(class_scores(out[t].detach())) == y[:, i]).sum() for i, t in enumerate(tasks)]
    )


def train_step(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    tasks: Sequence[str],
    weights: Mapping[str, float],
    cw: Mapping[str, torch.Tensor | None],
    device: torch.device,
    precision: str,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """One step of ``model`` on the batch ``x``, ``y`` ((N, len(tasks)) labels): :func:`forward_loss`
    (with the model's ``auxiliary_loss`` and ``label_distributions`` where it has them), backward,
    ``optimizer.step()``.

    Returns the detached loss and the logits (for the caller's running loss and :func:`batch_hits`);
    nothing here copies to the host, so a timed step is the training work alone."""
    loss, out = forward_loss(
        model, x, y, tasks=tasks, weights=weights, cw=cw, device=device, precision=precision,
        aux=getattr(model, "auxiliary_loss", None), dists=label_distributions(model),
    )  # fmt: skip
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.detach(), out


# ---------------------------------------------------------------------------------------- stacked
def adam_step(
    params: dict[str, torch.Tensor],
    grads: dict[str, torch.Tensor],
    state: dict[str, tuple[torch.Tensor, torch.Tensor]],
    steps: torch.Tensor,
    lr: torch.Tensor,
    active: torch.Tensor,
    *,
    eps: float,
    betas: tuple[float, float] = BETAS,
) -> None:
    """One ``torch.optim.Adam`` step of K stacked models, in place; models not ``active`` are untouched.

    ``params``, ``grads`` and the ``state`` (exp_avg, exp_avg_sq) are stacked along dim 0; ``steps`` (K,)
    counts each model's steps and is increased here for the active ones; ``lr`` (K,) is each model's
    learning rate (float64: torch keeps it as a Python float). The arithmetic follows torch's
    single-tensor Adam: ``m.lerp_(g, 1 - b1)``,
    ``v = b2 v + (1 - b2) g^2``, ``p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)``, with the
    bias corrections in float64 as torch computes them from Python floats.
    """
    b1, b2 = betas
    steps += active.to(steps.dtype)
    t = steps.to(torch.float64).clamp(min=1)  # a model that never stepped is masked anyway
    neg_step = (-lr.to(torch.float64) / (1 - b1**t)).float()
    bc2_sqrt = torch.sqrt(1 - b2**t).float()
    with torch.no_grad():
        for name, p in params.items():
            g = grads.get(name)
            if g is None:
                continue
            m, v = state[name]
            shape = (-1,) + (1,) * (p.ndim - 1)
            mask = active.view(shape)
            m_new = torch.lerp(m, g, 1 - b1)
            v_new = torch.addcmul(v * b2, g, g, value=1 - b2)
            denom = v_new.sqrt() / bc2_sqrt.view(shape) + eps
            p_new = p + neg_step.view(shape) * (m_new / denom)  # addcdiv(p, m, denom, value=-step)
            m.copy_(torch.where(mask, m_new, m))
            v.copy_(torch.where(mask, v_new, v))
            p.copy_(torch.where(mask, p_new, p))


def stacked_update(
    loss: torch.Tensor,
    params: dict[str, torch.Tensor],
    trained: Sequence[str],
    state: dict[str, tuple[torch.Tensor, torch.Tensor]],
    steps: torch.Tensor,
    lr: torch.Tensor,
    active: torch.Tensor,
    *,
    eps: float,
) -> None:
    """The update of K stacked models after a vmapped :func:`forward_loss`: the gradient of the sum of
    their losses ``loss`` (each model's parameters get only their own loss's gradient) with respect to
    the ``trained`` parameters, then :func:`adam_step` on the ``active`` models."""
    grads = torch.autograd.grad(loss.sum(), [params[k] for k in trained], allow_unused=True)
    adam_step(params, dict(zip(trained, grads, strict=True)), state, steps, lr, active, eps=eps)
