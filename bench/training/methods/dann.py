"""``dann``: domain-adversarial training with a gradient-reversal layer (Ganin et al. 2016).

The source domain is the training part (labelled: the training subjects), the target domain the test
part's *inputs* (unlabelled: the test subject, or the test dataset). A domain classifier learns to tell
the trunk's features of the two apart; between it and the trunk a gradient-reversal layer multiplies the
gradient by ``-lambda``, so the trunk learns features the classifier cannot separate while the task heads
still fit the source labels. The test labels are never read: the wrapper receives the test part's inputs
only.

The wrapper (:class:`DomainAdversarial`) is an ``nn.Module`` the one trainer fits like any model
(:func:`bench.training.trainer.fit`): in training mode its ``forward`` runs the trunk once on the source
batch and an equal-size target batch stacked below it (as Ganin et al. feed both domains through one
network), returns the task logits of the source rows, and keeps the domain loss, which
``auxiliary_loss`` hands to the trainer's step (plus the inner model's own, e.g. SAE-LSTM's
reconstruction). In eval mode it is the inner model (validation, early stopping, prediction).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from bench.training.methods import MethodInfo, register_method

DOMAIN_HIDDEN = 100
"""Width of the domain classifier's two hidden layers. Ganin et al. (JMLR 2016, sec. 5.2) use two hidden
layers (1024 units each, on 4096-wide AlexNet features) for their deep models and one of 100 units for
their small ones; the trunks here give 32-1024 features, so two hidden layers of 100 units."""


class GradReverse(torch.autograd.Function):
    """Identity forward; the gradient times ``-lam`` backward (the gradient-reversal layer)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, lam: float) -> torch.Tensor:  # type: ignore[override]
        ctx.lam = lam
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        return -ctx.lam * grad, None


def grl_lambda(step: int, steps: int) -> float:
    """Ganin et al.'s schedule ``2 / (1 + exp(-10 p)) - 1`` with ``p = step / steps`` (0 -> 1 over the
    planned steps): the reversal starts at 0, while the domain classifier's signal is still noise."""
    p = min(max(step / max(steps, 1), 0.0), 1.0)
    return 2.0 / (1.0 + math.exp(-10.0 * p)) - 1.0


def domain_classifier(n_features: int, hidden: int = DOMAIN_HIDDEN) -> nn.Sequential:
    """F -> hidden -> ReLU -> hidden -> ReLU -> 1 logit (target vs source)."""
    return nn.Sequential(
        nn.Linear(n_features, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1)
    )


@torch.no_grad()
def feature_width(inner: nn.Module, target, *, nodes: bool = False) -> int:
    """Width of ``inner``'s trunk features (``embed``; with ``nodes`` each node's, ``node_features``), from
    one probe row of ``target`` in eval mode, which leaves BatchNorm's statistics untouched: what a
    method's own layers on the trunk are sized by."""
    was = inner.training
    inner.eval()
    x = target[torch.zeros(1, dtype=torch.long)]
    z = inner.node_features(x) if nodes else inner.embed(x)
    inner.train(was)
    return int(z.shape[-1])


def draw(target, n: int, gen: torch.Generator, device: torch.device) -> torch.Tensor:
    """``n`` rows of ``target`` (a tensor or :class:`~bench.training.trainer.Rows`, standardised as the
    model's inputs are) drawn with replacement from the wrapper's own generator, on ``device``."""
    idx = torch.randint(len(target), (n,), generator=gen)
    return target[idx].to(device)


class DomainAdversarial(nn.Module):
    """``inner`` trained with a domain-adversarial loss on its trunk (``embed``) or, where it offers
    ``node_features`` (graph models), on every node's features with one shared classifier (RGNN's
    node-wise domain adversarial training: the loss averaged over nodes).

    Parameters
    ----------
    inner : nn.Module
        The task model: ``embed(x) -> (N, F)`` and ``heads`` (one ``nn.Linear`` per task) with
        ``forward(x) = {t: heads[t](embed(x))}``.
    target : tensor or Rows
        The test part's inputs (no labels), standardised like the training part.
    steps : int
        The planned training steps (epochs x batches), the horizon of :func:`grl_lambda`.
    seed : int
        Seeds the wrapper's own generator (target batches): the same on every executor.
    """

    def __init__(self, inner: nn.Module, *, target, steps: int, seed: int, hidden: int = DOMAIN_HIDDEN):
        super().__init__()
        self.inner = inner
        self.target = target
        self.steps = int(steps)
        self.step = 0
        self.gen = torch.Generator().manual_seed(int(seed))
        self.nodes = hasattr(inner, "node_features")
        width = feature_width(inner, target, nodes=self.nodes)
        self.domain = domain_classifier(width, hidden)
        self._domain_loss: torch.Tensor | None = None
        self.lam_override: float | None = None
        """Tests: a fixed lambda instead of the schedule."""

    @property
    def predictor(self) -> nn.Module:
        """The model that predicts (the inner model: the domain classifier only trains its trunk)."""
        return self.inner

    @property
    def label_distributions(self):  # the inner model's label-distribution hook, where it has one
        return self.inner.label_distributions

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        if not self.training:
            self._domain_loss = None
            return self.inner(x)
        n = x.shape[0]
        xt = draw(self.target, n, self.gen, x.device).to(x.dtype)
        both = torch.cat([x, xt.contiguous(memory_format=_format(x))])
        lam = self.lam_override if self.lam_override is not None else grl_lambda(self.step, self.steps)
        self.step += 1
        z = self.inner.embed(both)
        feats = self.inner.node_features(both) if self.nodes else z
        logits = self.domain(GradReverse.apply(feats, lam)).squeeze(-1).float()
        is_target = torch.cat([torch.zeros(n), torch.ones(n)]).to(logits.device)
        if self.nodes:  # (2N, C): one shared classifier on every node, the loss averaged over nodes
            is_target = is_target[:, None].expand_as(logits)
        self._domain_loss = F.binary_cross_entropy_with_logits(logits, is_target)
        return {t: head(z[:n]) for t, head in self.inner.heads.items()}

    def auxiliary_loss(self) -> torch.Tensor:
        """The domain loss of the last training forward, plus the inner model's own auxiliary loss."""
        inner = getattr(self.inner, "auxiliary_loss", None)
        loss = self._domain_loss if self._domain_loss is not None else torch.zeros(())
        return loss + inner() if inner is not None else loss


def _format(x: torch.Tensor) -> torch.memory_format:
    """The memory format of ``x`` (channels-last 4-D batches stay channels-last when stacked)."""
    if x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous():
        return torch.channels_last
    return torch.contiguous_format


def wrap(model: nn.Module, *, target, train_groups, steps: int, seed: int) -> DomainAdversarial:
    """The DANN wrapper of ``model`` (``train_groups`` is unused: DANN pools the training subjects)."""
    del train_groups
    return DomainAdversarial(model, target=target, steps=steps, seed=seed)


register_method(
    MethodInfo(
        name="dann",
        full_name="Domain-adversarial neural network (gradient reversal)",
        label="DANN",
        citation="Ganin, Ustinova, Ajakan, Germain, Larochelle, Laviolette, Marchand, Lempitsky - JMLR "
        "17(59):1-35, 2016",
        doi=None,
        kind="training",
        transductive=True,
        layouts=("grid", "channels", "signal"),
        needs_trunk=True,
        apply=wrap,
        notes=(
            "Source: the training part (training subjects, labelled); target: the test part's inputs "
            "(unlabelled), an equal-size batch per step drawn with the unit's seed.",
            f"Domain classifier: two hidden layers of {DOMAIN_HIDDEN} ReLU units, one logit, binary "
            "cross-entropy; gradient reversal with lambda = 2 / (1 + exp(-10 p)) - 1 over the planned steps.",
            "Source and target batches pass the trunk together (BatchNorm sees both), as in Ganin et al.; "
            "the learning-rate schedule and early stopping stay the trainer's (validation: training "
            "subjects only).",
            "Models with node_features (graph models) get one domain classifier shared by every node, the "
            "loss averaged over nodes (RGNN's node-wise domain adversarial training).",
        ),
    )
)
