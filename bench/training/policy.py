"""The epoch policy: what happens after each epoch's validation, written once for every fit.

Early stopping on the validation loss (``config.early_stopping`` epochs without an improvement of more
than :data:`MIN_IMPROVEMENT`), the learning-rate plateau schedule (``ReduceLROnPlateau`` on the same
loss, ``config.lr_decay``) and the restore of the best epoch's weights (``config.restore_best``).
:func:`bench.training.trainer.fit` runs one :class:`EpochPolicy` per model and keeps its best weights in a
:class:`BestState`; :func:`bench.training.stacked.fit_stacked` runs one :class:`EpochPolicy` per stacked
model (they stop independently) and keeps the best weights of all in one :class:`StackedBestState`.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import torch

from bench.config.run import TrainConfig

MIN_IMPROVEMENT = 1e-6
"""A validation loss counts as better only when it is lower than the best so far by more than this."""


@dataclass
class FitResult:
    history: list[dict] = field(default_factory=list)
    best_epoch: int = 0
    """Epoch of the lowest validation loss (the weights returned unless ``restore_best=False``)."""
    epochs_run: int = 0
    fit_seconds: float = 0.0
    stopped_early: bool = False


class EpochPolicy:
    """One model's schedule and stopping; it records ``best_epoch``, ``epochs_run`` and ``stopped_early``
    in ``result`` (a :class:`FitResult`).

    Parameters
    ----------
    config
        The run's training settings (``lr``, ``lr_decay``, ``lr_factor``, ``lr_patience``,
        ``early_stopping``).
    result
        Where the outcome goes.
    optimizer
        The optimiser whose learning rate the plateau schedule lowers. Without one (the stacked models,
        whose learning rates live in one tensor) the schedule runs on a dummy optimiser, and the caller
        reads the rate back from :attr:`lr`: the same ``ReduceLROnPlateau`` arithmetic either way.
    """

    def __init__(
        self, config: TrainConfig, result: FitResult, optimizer: torch.optim.Optimizer | None = None
    ) -> None:
        self.config, self.result = config, result
        self.scheduler: torch.optim.lr_scheduler.ReduceLROnPlateau | None = None
        if config.lr_decay:
            if optimizer is None:
                optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=config.lr)
            self.scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
                optimizer, factor=config.lr_factor, patience=config.lr_patience
            )
        self.best_loss = math.inf
        self.best_score = -math.inf
        self.bad_epochs = 0

    @property
    def lr(self) -> float:
        """The schedule's learning rate now (``config.lr`` without a schedule)."""
        if self.scheduler is None:
            return float(self.config.lr)
        return self.scheduler.optimizer.param_groups[0]["lr"]

    @property
    def stopped(self) -> bool:
        """Early stopping has ended this model's training."""
        return self.result.stopped_early

    def end_epoch(self, epoch: int, valid_loss: float, valid_score: float | None = None) -> bool:
        """After epoch ``epoch`` (its history row is written): step the schedule, count the epoch as an
        improvement or not, stop after ``config.early_stopping`` epochs without one. Returns whether it
        improved (the caller then keeps the weights as the best).

        With ``config.select_by`` ``acc`` or ``f1``, ``valid_score`` (that validation score, higher is
        better) decides: an epoch improves when it is strictly above the best so far, so the first epoch
        reaching the maximum is kept (a NaN score, from an empty validation part, never improves)."""
        if self.scheduler is not None:
            self.scheduler.step(valid_loss)
        if self.config.select_by == "loss":
            improved = valid_loss < self.best_loss - MIN_IMPROVEMENT
            value = valid_loss
        else:
            if valid_score is None:
                raise ValueError(f"select_by={self.config.select_by!r} needs the epoch's validation score")
            improved = valid_score > self.best_score
            value = self.best_loss
            if improved:
                self.best_score = valid_score
        if improved:
            self.best_loss, self.bad_epochs, self.result.best_epoch = value, 0, epoch
        else:
            self.bad_epochs += 1
        self.result.epochs_run = epoch
        if self.config.early_stopping and self.bad_epochs >= self.config.early_stopping:
            self.result.stopped_early = True
        return improved


class BestState:
    """The weights of one model's best validation epoch, kept only when ``enabled`` (``restore_best``)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.state: dict | None = None

    def keep(self, model: torch.nn.Module) -> None:
        """Remember ``model``'s weights now (a deep copy: training goes on in place)."""
        if self.enabled:
            self.state = copy.deepcopy(model.state_dict())

    def restore(self, model: torch.nn.Module) -> None:
        """Load the kept weights; a model that never improved keeps its last ones."""
        if self.state is not None:
            model.load_state_dict(self.state)


class StackedBestState:
    """The best validation epoch's weights of K stacked models (tensors stacked along dim 0), kept only
    when ``enabled``: each model's slice is overwritten on the epochs it improves."""

    def __init__(self, enabled: bool, tensors: dict[str, torch.Tensor]) -> None:
        self.best = {k: v.detach().clone() for k, v in tensors.items()} if enabled else None
        k = next(iter(tensors.values())).shape[0]
        self.has = torch.zeros(k, dtype=torch.bool, device=next(iter(tensors.values())).device)

    def keep(self, improved: torch.Tensor, tensors: dict[str, torch.Tensor]) -> None:
        """Copy the slices of the models ``improved`` (a (K,) bool mask) from ``tensors``."""
        if self.best is None or not bool(improved.any()):
            return
        self.has |= improved
        with torch.no_grad():
            for name, cur in tensors.items():
                shape = (-1,) + (1,) * (cur.ndim - 1)
                self.best[name].copy_(torch.where(improved.view(shape), cur, self.best[name]))

    def source(self, k: int, final: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The tensors to take model ``k``'s weights from: the best kept, or ``final`` (its last epoch's)
        when nothing was kept for it."""
        return self.best if self.best is not None and bool(self.has[k]) else final
