"""Training many small models of one run at once, as a stacked ensemble in one process (``--stack N``).

A subject-specific run trains 160 small models (32 subjects x 5 folds). One such model alone leaves a GPU
idle between kernel launches and, on a CPU, spends much of each step in Python and per-op overhead rather
than arithmetic. :func:`fit_stacked` trains K models of the same architecture and hyper-parameters
together: their parameters, BatchNorm buffers and Adam states are stacked along a new first dimension
(``torch.func.stack_module_state``) and one step runs the K forward passes as one batched call
(``torch.func.functional_call`` under ``torch.func.vmap``), so the per-op overhead is paid once per step
instead of K times.

What each model sees is exactly what :func:`bench.training.trainer.fit` would give it alone:

* **batches**: its own ``torch.Generator().manual_seed(seed)`` draws its per-epoch ``randperm``; a step
  takes the b-th batch of every model that has one. Models whose batch at that step has another size
  (a shorter training part, the trailing batch) are trained in a separate call for each batch size;
  a trailing batch of 1 is skipped as ``fit`` skips it; a model that has stopped early, or has no batch
  left, is *masked*: no parameter, Adam-state or BatchNorm running-statistic change on that step.
* **loss**: :func:`bench.training.step.forward_loss` (the multi-task loss, class-balanced per model, plus
  the model's ``auxiliary_loss``), called inside the vmapped function, so each model's loss is its own.
* **optimiser**: :func:`bench.training.step.stacked_update`, whose :func:`~bench.training.step.adam_step`
  is ``torch.optim.Adam`` (no weight decay, no AMSGrad) written over the stacked tensors. Adam is
  element-wise, so the only per-model quantities are the step count (a model masked on a step does not
  count it) and the learning rate; ``tests/training/test_stacked.py`` checks it against ``torch.optim.Adam``.
* **schedule and stopping**: one :class:`bench.training.policy.EpochPolicy` per model, as ``fit`` runs
  one (its ``ReduceLROnPlateau`` on a dummy optimiser whose lr is read back), so the same early stopping,
  per model, and the best-state restore (:class:`~bench.training.policy.StackedBestState`) and history
  rows as ``fit``.
* **BatchNorm**: the stacked buffers are passed into ``functional_call``, so the in-place running-stat
  updates of train mode land in the stacked tensors (per model), and eval mode reads them.

Equality. With a configuration that draws no random numbers while training (no dropout: ``-M dropout=0``
or a model without dropout) the stacked result equals K calls of ``fit`` within float tolerance: the
batched kernels (a grouped convolution instead of K convolutions, a different summation order) differ
from the single ones in the last bits, which Adam and the epochs carry on. ``tests/test_stacked.py``
checks parameters and history to 1e-4 after several epochs with early stopping and LR decay. With
dropout, vmap cannot replay each model's own RNG stream: the masks are drawn with
``randomness="different"`` from the global generator seeded with the group's first seed, so the models
are trained as well (statistically equivalent), not identically, and the draws depend on which units
were grouped. That is why ``train.stack`` is part of the run key when set (and left out of it when 0, so
every run key from before the option stays the same).

LSTMs have no vmap batching rule in torch; :class:`_LoopLSTM` replaces ``nn.LSTM``'s fused kernel by the
same recurrence written in batched matrix products (one layer or more, unidirectional, no projection).
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Sequence

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from bench.config.run import TrainConfig
from bench.core.errors import ConfigError
from bench.core.metrics import class_scores, predicted_class
from bench.training.policy import EpochPolicy, FitResult, StackedBestState
from bench.training.step import (
    autocast,
    batch_hits,
    forward_loss,
    label_distributions,
    multitask_loss,
    stacked_update,
    task_class_weights,
    task_weights,
)

Dataset = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]
"""One model's (x_train, y_train, x_val, y_val), as :func:`bench.training.trainer.fit` takes them."""


# ------------------------------------------------------------------------------------------------ LSTM
class _LoopLSTM(nn.LSTM):
    """``nn.LSTM`` whose forward is the recurrence in plain batched ops (vmap has no rule for the fused one).

    Only the class of an existing module is swapped (same parameter names), so ``functional_call`` feeds
    it the stacked weights. Gate order i, f, g, o as torch's.
    """

    def forward(self, x, hx=None):  # noqa: D401 - nn.LSTM's signature
        if self.bidirectional or self.proj_size or (self.dropout and self.training and self.num_layers > 1):
            raise ConfigError("train.stack: only unidirectional LSTMs without projection or dropout stack")
        seq = x if self.batch_first else x.transpose(0, 1)  # (N, T, F)
        n = seq.shape[0]
        hs, cs = [], []
        for layer in range(self.num_layers):
            w_ih, w_hh = getattr(self, f"weight_ih_l{layer}"), getattr(self, f"weight_hh_l{layer}")
            b = getattr(self, f"bias_ih_l{layer}") + getattr(self, f"bias_hh_l{layer}") if self.bias else 0
            h = seq.new_zeros(n, self.hidden_size) if hx is None else hx[0][layer]
            c = seq.new_zeros(n, self.hidden_size) if hx is None else hx[1][layer]
            x_part = seq @ w_ih.T + b  # (N, T, 4H): the input part of every step at once
            outs = []
            for step in range(seq.shape[1]):
                i, f, g, o = (x_part[:, step] + h @ w_hh.T).chunk(4, dim=-1)
                c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
                h = torch.sigmoid(o) * torch.tanh(c)
                outs.append(h)
            seq = torch.stack(outs, 1)
            hs.append(h)
            cs.append(c)
        out = seq if self.batch_first else seq.transpose(0, 1)
        return out, (torch.stack(hs), torch.stack(cs))


def _stackable(model: nn.Module) -> nn.Module:
    """A copy of ``model`` that can run under vmap: its LSTMs become :class:`_LoopLSTM` s."""
    base = copy.deepcopy(model)
    for m in base.modules():
        if type(m) is nn.LSTM:
            m.__class__ = _LoopLSTM
    return base


# ---------------------------------------------------------------------------------------------- fitting
def _pad(tensors: Sequence[torch.Tensor], device: torch.device) -> torch.Tensor:
    """K tensors of (n_k, ...) as one (K, max n_k, ...) tensor, zero-padded (padding is never indexed)."""
    n = max(t.shape[0] for t in tensors)
    out = torch.zeros((len(tensors), n, *tensors[0].shape[1:]), dtype=tensors[0].dtype, device=device)
    for k, t in enumerate(tensors):
        out[k, : t.shape[0]] = t.to(device)
    return out


def _groups(sizes: Sequence[int], active: Sequence[bool]) -> dict[int, list[int]]:
    """Active models grouped by their batch size (vmap needs one shape per call)."""
    out: dict[int, list[int]] = {}
    for k, (s, a) in enumerate(zip(sizes, active, strict=True)):
        if a:
            out.setdefault(s, []).append(k)
    return out


def _dims(weights: dict) -> dict:
    """``vmap``'s in_dims of the class weights: each task's stacked (K, k) weights along dim 0, or None
    where the run trains without class weights (``train.balance`` false: no tensor to map over)."""
    return {t: None if w is None else 0 for t, w in weights.items()}


def fit_stacked(
    models: Sequence[nn.Module],
    datasets: Sequence[Dataset],
    *,
    tasks: tuple[str, ...],
    config: TrainConfig,
    max_epochs: int,
    seeds: Sequence[int],
    device: torch.device,
    on_epoch: Callable[[int, dict], None] | None = None,
) -> list[FitResult]:
    """Train ``models[k]`` on ``datasets[k]`` with ``seeds[k]``, all at once, as
    :func:`bench.training.trainer.fit`
    trains each alone (see the module docstring for what is equal and what is not).

    The models must share architecture and hyper-parameters (one run's units). Each ends with the
    weights of its best validation epoch (or its last with ``config.restore_best=False``); returns one
    :class:`~bench.training.trainer.FitResult` per model, whose ``fit_seconds`` is the group's time divided
    by K.
    ``on_epoch(k, row)`` receives model k's history rows.
    """
    t0 = time.perf_counter()
    K = len(models)
    if not (K == len(datasets) == len(seeds)) or K == 0:
        raise ValueError("fit_stacked needs one dataset and one seed per model, and at least one model")
    gens = [torch.Generator().manual_seed(int(s)) for s in seeds]
    torch.manual_seed(int(seeds[0]))  # dropout masks (randomness="different"): see the module docstring
    for m in models:
        m.to(device)
    base = _stackable(models[0])
    aux = getattr(base, "auxiliary_loss", None)
    dists = label_distributions(base)  # RGNN's EmotionDL targets: the same for every stacked model
    params, buffers = stack_module_state(list(models))
    params = {k: v.detach().to(device).requires_grad_(v.requires_grad) for k, v in params.items()}
    buffers = {k: v.to(device) for k, v in buffers.items()}
    trained = [k for k, v in params.items() if v.requires_grad]
    adam = {k: (torch.zeros_like(params[k]), torch.zeros_like(params[k])) for k in trained}
    steps = torch.zeros(K, dtype=torch.long, device=device)
    lr = torch.full((K,), float(config.lr), dtype=torch.float64, device=device)
    eps = config.adam_eps or 1e-8
    results = [FitResult() for _ in range(K)]
    policies = [EpochPolicy(config, r) for r in results]  # each its own scheduler, on a dummy optimiser
    lrs = [float(config.lr)] * K  # the history's values, as Python floats like opt.param_groups

    weights = task_weights(config, tasks)
    y_train = [d[1] for d in datasets]
    cw = {t: None for t in tasks}
    if config.balance:
        per_model = [task_class_weights(y, tasks) for y in y_train]
        cw = {t: torch.stack([w[t] for w in per_model]).to(device) for t in tasks}
    X, Y = _pad([d[0] for d in datasets], device), _pad(y_train, device)
    XV, YV = _pad([d[2] for d in datasets], device), _pad([d[3] for d in datasets], device)
    n_train = [int(d[0].shape[0]) for d in datasets]
    n_val = [int(d[2].shape[0]) for d in datasets]
    bs = int(config.batch_size)
    randomness = "different"

    def train_one(p, b, xb, yb, w):
        """One model's loss and hits on one batch (runs under vmap)."""
        loss, out = forward_loss(
            lambda x: functional_call(base, (p, b), (x,)), xb, yb, tasks=tasks, weights=weights, cw=w,
            device=device, precision=config.precision, aux=aux, dists=dists,
        )  # fmt: skip
        return loss, batch_hits(out, yb, tasks)

    def logits_one(p, b, xb):
        with autocast(device, config.precision):
            out = functional_call(base, (p, b), (xb,))
        return tuple(out[t].float() for t in tasks)  # one (n, k_t) per task: tasks may differ in width

    def loss_one(out, yb, w):
        loss, _ = multitask_loss(dict(zip(tasks, out, strict=True)), yb, tasks, weights, w, dists)
        hits = torch.stack([(predicted_class(class_scores(out[i])) == yb[:, i]).float().mean()
                            for i in range(len(tasks))])  # fmt: skip
        return loss, hits

    def pick(tree: dict, idx: list[int] | None) -> dict:
        return tree if idx is None else {k: (None if v is None else v[idx]) for k, v in tree.items()}

    best = StackedBestState(config.restore_best, {**params, **buffers})
    all_k = list(range(K))
    for epoch in range(1, max_epochs + 1):
        stopped = [p.stopped for p in policies]
        running = [k for k in all_k if not stopped[k]]
        if not running:
            break
        base.train()
        perm = torch.zeros((K, X.shape[1]), dtype=torch.long)
        for k in running:
            perm[k, : n_train[k]] = torch.randperm(n_train[k], generator=gens[k])
        perm = perm.to(device)
        total = torch.zeros(K, device=device)
        count = [0] * K
        correct = torch.zeros((K, len(tasks)), dtype=torch.long, device=device)
        for start in range(0, max(n_train[k] for k in running), bs):
            sizes = [max(0, min(bs, n_train[k] - start)) for k in all_k]
            # fit: "BatchNorm cannot train on a single sample" - a trailing batch of 1 is skipped
            act = [not stopped[k] and sizes[k] > 0 and not (sizes[k] < 2 and n_train[k] > 1) for k in all_k]
            for size, idx in _groups(sizes, act).items():
                sel = None if len(idx) == K else idx
                rows = torch.arange(K, device=device) if sel is None else torch.tensor(idx, device=device)
                bi = perm[rows, start : start + size]
                xb, yb = X[rows[:, None], bi], Y[rows[:, None], bi]
                p_sel = pick(params, sel)
                b_sel = pick(buffers, sel)  # a copy for a subset: written back after the step
                w = pick(cw, sel)
                loss, hits = vmap(train_one, in_dims=(0, 0, 0, 0, _dims(w)), randomness=randomness)(
                    p_sel, b_sel, xb, yb, w
                )
                mask = torch.zeros(K, dtype=torch.bool, device=device)
                mask[rows] = True
                stacked_update(loss, params, trained, adam, steps, lr, mask, eps=eps)
                with torch.no_grad():
                    if sel is not None:
                        for name, buf in buffers.items():
                            buf[rows] = b_sel[name]
                    total[rows] += loss.detach().float() * size
                    correct[rows] += hits
                for k in idx:
                    count[k] += size
        # validation: every running model on its whole validation part, in eval mode
        base.eval()
        val_loss, val_acc = [math.nan] * K, [[math.nan] * len(tasks) for _ in all_k]
        with torch.no_grad():
            for nv, idx in _groups(n_val, [not stopped[k] for k in all_k]).items():
                if nv == 0:
                    continue
                sel = None if len(idx) == K else idx
                rows = torch.arange(K, device=device) if sel is None else torch.tensor(idx, device=device)
                chunk = max(bs, 256)
                outs = [vmap(logits_one, randomness=randomness)(pick(params, sel), pick(buffers, sel),
                                                                XV[rows, s : min(s + chunk, nv)])
                        for s in range(0, nv, chunk)]  # fmt: skip
                out = tuple(torch.cat([o[i] for o in outs], dim=1) for i in range(len(tasks)))
                w = pick(cw, sel)
                losses, accs = vmap(loss_one, in_dims=(0, 0, _dims(w)))(out, YV[rows, :nv], w)
                for j, k in enumerate(idx):
                    val_loss[k] = float(losses[j])
                    val_acc[k] = [float(a) for a in accs[j]]
        improved = torch.zeros(K, dtype=torch.bool, device=device)
        for k in running:
            row = {
                "epoch": epoch,
                "train_loss": float(total[k]) / max(count[k], 1),
                "valid_loss": val_loss[k],
                "lr": lrs[k],
                **{f"train_acc_{t}": int(correct[k, i]) / max(count[k], 1) for i, t in enumerate(tasks)},
                **{f"valid_acc_{t}": val_acc[k][i] for i, t in enumerate(tasks)},
            }
            results[k].history.append(row)
            if on_epoch is not None:
                on_epoch(k, row)
            improved[k] = policies[k].end_epoch(epoch, val_loss[k])
            if policies[k].scheduler is not None:
                lrs[k] = lr[k] = policies[k].lr
        best.keep(improved, {**params, **buffers})
    final = {**params, **buffers}
    for k, m in enumerate(models):
        src = best.source(k, final)
        kept = m.state_dict().keys()  # non-persistent buffers (RGNN's index of its adjacency) are no state
        with torch.no_grad():
            m.load_state_dict({name: src[name][k].detach().clone() for name in final if name in kept},
                              strict=True)  # fmt: skip
    seconds = (time.perf_counter() - t0) / K
    for r in results:
        r.fit_seconds = seconds
    return results
