"""Fitting and evaluating one model on index-sliced, in-memory tensors.

The data stays as one tensor (on the GPU when training there); batches are index slices, never
per-item ``__getitem__`` calls. Early stopping and the learning-rate schedule watch the validation
part only; the test part is not seen here at all: :func:`evaluate` runs once on the final model.
Each batch is one :func:`bench.training.step.train_step`; what follows each epoch's validation (schedule,
early stopping, best weights) is :class:`bench.training.policy.EpochPolicy`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from bench.config.run import TrainConfig
from bench.core.metrics import class_scores, predicted_class
from bench.training.policy import BestState, EpochPolicy, FitResult
from bench.training.step import (
    autocast,
    batch_hits,
    label_distributions,
    make_optimizer,
    multitask_loss,
    task_class_weights,
    task_weights,
    train_step,
)


def to_device(t: torch.Tensor | Rows, device: torch.device) -> torch.Tensor | Rows:
    """``t`` on ``device``, moved once: through pinned host memory (an asynchronous copy) onto a GPU.

    A unit's tensors go to the device once, before its first step, and stay there; batches are index
    slices of the resident tensors, so nothing crosses the bus inside the step loop. :class:`Rows` stay
    rows of the host input on the CPU, and become one tensor of their rows on a GPU.
    """
    if t.device == device:
        return t
    if isinstance(t, Rows):
        return t.to(device)
    if device.type == "cuda" and t.device.type == "cpu":
        return t.pin_memory().to(device, non_blocking=True)
    return t.to(device)


def channels_last_applies(model: torch.nn.Module, input_dim: int) -> bool:
    """Channels-last means something only for 2-D convolutions on a 4-D (N, C, H, W) input, or on the 4-D
    slices of a 5-D (N, T, C, H, W) input that the model folds into its batch (4D-CRNN)."""
    return input_dim in (4, 5) and any(isinstance(m, torch.nn.Conv2d) for m in model.modules())


def channels_last_input(x: torch.Tensor) -> torch.Tensor:
    """``x`` in NHWC where it is 4-D; a 5-D input stays as it is (its slices, folded into the batch inside
    the model, meet channels-last weights, and oneDNN then computes in NHWC)."""
    return x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x


def trains_channels_last(precision: str, device_type: str) -> bool:
    """The memory-format rule: channels-last where it applies, on the CPU in both precisions and on a GPU
    in bf16 (NHWC in fp32 on a GPU without TF32 is not measured here, so GPU fp32 runs stay NCHW).

    Measured with ``bench perf`` (2 threads, one run each): channels-last over NCHW was, on an AMD EPYC
    with AVX-512 BF16, +4 % (MT-CNN), +6 % (FBCCNN) and +15 % (MC-CNN) in bf16 and +4 %, +6 % and +16 % in
    fp32; on an Intel Xeon with AMX +14 %, +15 % and +30 % in bf16 and +11 %, +10 % and +16 % in fp32; 4D-CRNN
    with channels-last weights (its 5-D input cannot be NHWC) +43 % in bf16 and +14 % in fp32 there. fp32
    runs on the CPU used to stay NCHW so that their numbers stayed bit for bit those of earlier runs; the
    fused Adam (:func:`bench.training.step.make_optimizer`) changes them at the rounding level anyway, so
    fp32 takes the faster format too."""
    return precision == "bf16" or device_type == "cpu"


def use_channels_last(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Channels-last (NHWC) weights, and input where it is 4-D (:func:`channels_last_input`), where
    :func:`channels_last_applies`; else ``x`` unchanged.

    oneDNN's convolutions (and cuDNN's tensor-core ones) run natively in NHWC, so training skips a
    layout conversion per convolution; index slices of an NHWC tensor stay NHWC.
    """
    if not channels_last_applies(model, x.dim()):
        return x
    model.to(memory_format=torch.channels_last)
    return channels_last_input(x)


def compile_model(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """``torch.compile`` in place (state-dict keys unchanged); on CUDA in ``reduce-overhead`` mode, which
    replays CUDA graphs and so removes the per-kernel launch cost that bounds small models there."""
    model.compile(mode="reduce-overhead" if device.type == "cuda" else None)
    return model


@dataclass
class Standardiser:
    """Standardisation with statistics of the training part only: element-wise (brain maps, every cell
    its own mean and sd), or per channel (:meth:`fit_channels`, signals: one mean and sd per EEG channel
    over every sample and time point)."""

    mean: torch.Tensor
    std: torch.Tensor

    @classmethod
    def fit(cls, x: torch.Tensor) -> Standardiser:
        mean = x.mean(dim=0)
        std = x.std(dim=0)
        std = torch.where(std > 1e-8, std, torch.ones_like(std))  # empty grid cells stay 0
        return cls(mean, std)

    @classmethod
    def fit_channels(cls, x: torch.Tensor, index: torch.Tensor, chunk: int = 256) -> Standardiser:
        """Per-channel statistics of the rows ``index`` of ``x`` (N, C, S), in chunks of rows (float64
        sums), so the training part of a large input is never copied whole: mean and sd of shape (C, 1)."""
        total = torch.zeros(x.shape[1], dtype=torch.float64)
        squares = torch.zeros_like(total)
        for start in range(0, len(index), chunk):
            part = x[index[start : start + chunk]]
            total += part.sum(dim=(0, 2), dtype=torch.float64)
            squares += part.square().sum(dim=(0, 2), dtype=torch.float64)
        n = max(len(index) * x.shape[2], 2)
        mean = total / n
        var = (squares - n * mean.square()).clamp(min=0) / (n - 1)
        std = var.sqrt()
        std = torch.where(std > 1e-8, std, torch.ones_like(std))
        return cls(mean.float()[:, None], std.float()[:, None])

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class Rows:
    """The rows ``index`` of an input, standardised batch by batch where they are read.

    Time-domain inputs are large (full DEAP: 1.26 GB); a fold's training part as a copy would double that.
    ``Rows`` looks like the copy to :func:`fit` and :func:`predict_proba` (``shape``, ``dim``, ``device``,
    indexing by a tensor of positions or a slice) and gathers only the rows of each batch.
    """

    def __init__(self, base: torch.Tensor, index: torch.Tensor, transform: Standardiser | None = None):
        self.base, self.index, self.transform = base, index, transform

    @property
    def shape(self) -> torch.Size:
        return torch.Size((len(self.index), *self.base.shape[1:]))

    @property
    def device(self) -> torch.device:
        return self.base.device

    def dim(self) -> int:
        return self.base.dim()

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, item: torch.Tensor | slice) -> torch.Tensor:
        rows = self.base[self.index[item.cpu() if isinstance(item, torch.Tensor) else item]]
        return rows if self.transform is None else self.transform(rows)

    def to(self, device: torch.device, chunk: int = 4096) -> torch.Tensor:
        """One tensor of the (standardised) rows on ``device``, filled chunk by chunk."""
        out = torch.empty(self.shape, dtype=self.base.dtype, device=device)
        for start in range(0, len(self), chunk):
            out[start : start + chunk] = self[slice(start, start + chunk)].to(device)
        return out


def fit(
    model: torch.nn.Module,
    x_train: torch.Tensor,
    y_train: torch.Tensor,
    x_val: torch.Tensor,
    y_val: torch.Tensor,
    *,
    tasks: tuple[str, ...],
    config: TrainConfig,
    max_epochs: int,
    seed: int,
    device: torch.device,
    on_epoch: Callable[[dict], None] | None = None,
    on_batch: Callable[[int, int], None] | None = None,
    channels_last: bool = False,
    compile: bool = False,
) -> FitResult:
    """Train ``model`` on (x_train, y_train); early stopping and LR decay on (x_val, y_val) only.

    ``y`` are (N, len(tasks)) int64 labels, column i for ``tasks[i]``. Returns the history, one row per
    epoch with ``train_loss``, ``valid_loss``, ``lr``, ``train_acc_<task>`` and ``valid_acc_<task>``
    ("valid" is
    the validation part, never valence); ``model`` ends with the weights of its best validation epoch,
    or of its last epoch with ``config.restore_best=False``. ``on_batch(done, total)`` follows the
    batches of an epoch; the running loss and accuracy stay on the device until the epoch ends, so
    the step loop never waits for a host copy. The four tensors are moved to ``device`` once
    (:func:`to_device`) and stay there for the whole fit. ``channels_last`` trains a 4-D input in NHWC
    (:func:`use_channels_last`); ``compile`` runs :func:`compile_model` first.

    A model with a ``see_batch`` method is told each training batch's rows before its step:
    ``model.see_batch(idx)``, ``idx`` the positions in ``x_train`` (on ``device``), so a wrapper that
    treats the training subjects apart (``--method ms-mda``) can map the rows to their subjects. Nothing
    else in the loop depends on it; other models never see it.
    """
    t0 = time.perf_counter()
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model.to(device)
    weights = task_weights(config, tasks)
    cw = {t: w.to(device) if config.balance else None for t, w in task_class_weights(y_train, tasks).items()}
    opt = make_optimizer(model.parameters(), lr=config.lr, eps=config.adam_eps or 1e-8)
    result = FitResult()
    policy = EpochPolicy(config, result, opt)
    best = BestState(config.restore_best)
    x_train, y_train, x_val, y_val = (to_device(t, device) for t in (x_train, y_train, x_val, y_val))
    if channels_last:  # where it applies (use_channels_last leaves other inputs as they are)
        x_train, x_val = use_channels_last(model, x_train), use_channels_last(model, x_val)
    if compile:
        compile_model(model, device)
    n = x_train.shape[0]
    bs = int(config.batch_size)
    for epoch in range(1, max_epochs + 1):
        model.train()
        perm = to_device(torch.randperm(n, generator=gen), device)
        total = torch.zeros((), device=device)
        count = 0
        correct = torch.zeros(len(tasks), dtype=torch.long, device=device)
        n_batches = -(-n // bs)
        for b, start in enumerate(range(0, n, bs), start=1):
            idx = perm[start : start + bs]
            if idx.numel() < 2 and n > 1:  # BatchNorm cannot train on a single sample
                if on_batch is not None:
                    on_batch(b, n_batches)
                continue
            xb, yb = x_train[idx], y_train[idx]
            if hasattr(model, "see_batch"):  # a multi-source method maps the rows to their sources
                model.see_batch(idx)
            loss, out = train_step(
                model, opt, xb, yb, tasks=tasks, weights=weights, cw=cw, device=device,
                precision=config.precision,
            )  # fmt: skip
            total += loss.float() * idx.numel()
            count += idx.numel()
            correct += batch_hits(out, yb, tasks)
            if on_batch is not None:
                on_batch(b, n_batches)
        val = _evaluate_loss(model, x_val, y_val, tasks, weights, cw, bs, device, config.precision,
                             f1=config.select_by == "f1")  # fmt: skip
        row = {
            "epoch": epoch,
            "train_loss": float(total) / max(count, 1),
            "valid_loss": val["loss"],
            "lr": opt.param_groups[0]["lr"],
            **{f"train_acc_{t}": int(correct[i]) / max(count, 1) for i, t in enumerate(tasks)},
            **{f"valid_acc_{t}": val[f"acc_{t}"] for t in tasks},
        }
        result.history.append(row)
        if on_epoch is not None:
            on_epoch(row)
        if policy.end_epoch(epoch, val["loss"], selection_score(val, tasks, config.select_by)):
            best.keep(model)
        if policy.stopped:
            break
    best.restore(model)
    result.fit_seconds = time.perf_counter() - t0
    return result


def eval_rows(x: torch.Tensor | Rows, batch_size: int) -> int:
    """Rows per forward pass without gradients: at least 256 for brain maps (fewer, larger steps), the
    training batch for signals (3-D inputs), whose models spread every sample's channels x time over
    filters (EEGNet: 8 x the input per layer), so a 256-sample step would hold hundreds of MB at once."""
    return int(batch_size) if x.dim() == 3 else max(int(batch_size), 256)


@torch.no_grad()
def predict_proba(
    model: torch.nn.Module,
    x: torch.Tensor,
    *,
    batch_size: int,
    device: torch.device,
    precision: str = "fp32",
    channels_last: bool = False,
) -> dict[str, np.ndarray]:
    """The scores of each task (:func:`bench.core.metrics.class_scores`: the class-1 ("high") probability
    of a binary task, the class probabilities (N, k) else), in eval mode (``channels_last`` as the model
    was fitted).

    ``x`` moves to the device once and the probabilities come back to the host once, at the end."""
    model.eval()
    model.to(device)
    x = to_device(x, device)
    if channels_last:
        x = use_channels_last(model, x)
    chunks: dict[str, list[torch.Tensor]] = {}
    step = eval_rows(x, batch_size)
    for start in range(0, x.shape[0], step):
        with autocast(device, precision):
            out = model(x[start : start + step])
        for t, logits in out.items():
            chunks.setdefault(t, []).append(class_scores(logits))
    return {t: torch.cat(v).cpu().numpy() for t, v in chunks.items()}


@torch.no_grad()
def _evaluate_loss(model, x, y, tasks, weights, cw, bs, device, precision, f1: bool = False) -> dict:
    """Loss and accuracy over the whole set at once (class-weighted means are not batch-decomposable),
    and each task's macro-F1 with ``f1`` (where it picks the epoch: ``train.select_by="f1"``).

    ``x`` and ``y`` are already on ``device`` (:func:`fit` moved them once)."""
    model.eval()
    n = x.shape[0]
    chunks: dict[str, list[torch.Tensor]] = {t: [] for t in tasks}
    step = eval_rows(x, bs)
    for start in range(0, n, step):
        with autocast(device, precision):
            out = model(x[start : start + step])
        for t in tasks:
            chunks[t].append(out[t].float())
    if n == 0:
        return {"loss": float("nan"), **{f"{m}_{t}": float("nan") for t in tasks for m in ("acc", "f1")}}
    out = {t: torch.cat(v) for t, v in chunks.items()}
    loss, _ = multitask_loss(out, y, tasks, weights, cw, label_distributions(model))
    scores = {}
    for i, t in enumerate(tasks):
        pred = predicted_class(class_scores(out[t]))
        scores[f"acc_{t}"] = float((pred == y[:, i]).float().mean())
        if f1:
            scores[f"f1_{t}"] = macro_f1(y[:, i], pred, out[t].shape[1])
    return {"loss": float(loss), **scores}


def macro_f1(y: torch.Tensor, pred: torch.Tensor, n_classes: int) -> float:
    """Macro-averaged F1 over the classes present in ``y`` or ``pred`` (sklearn's ``f1_score(...,
    average="macro")``, a class without a true positive scoring 0), from one confusion count on the
    device: the validation criterion of ``train.select_by="f1"``."""
    k = max(int(n_classes), 1)
    cm = torch.bincount(y.long() * k + pred.long(), minlength=k * k).reshape(k, k).double()
    tp = cm.diagonal()
    denom = cm.sum(0) + cm.sum(1)
    present = denom > 0
    return float((2 * tp[present] / denom[present]).mean()) if bool(present.any()) else float("nan")


def selection_score(val: dict, tasks: tuple[str, ...], select_by: str) -> float | None:
    """The validation score ``train.select_by`` ranks epochs by: the mean over the tasks of their
    accuracy (``acc``) or macro-F1 (``f1``); None for ``loss``, which the policy reads itself."""
    if select_by == "loss":
        return None
    return float(sum(val[f"{select_by}_{t}"] for t in tasks) / len(tasks))
