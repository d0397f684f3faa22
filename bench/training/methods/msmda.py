"""``ms-mda``: multi-source marginal distribution adaptation (Chen et al. 2021).

MS-MDA treats every training subject as its own source domain. A shared trunk (the registered model's
``embed``, the paper's "common feature extractor") feeds one branch per source: a domain-specific feature
extractor (DSFE: linear -> BatchNorm -> LeakyReLU) and one classifier per task. Each source's branch is
trained on that source's labelled rows, pulled towards the target (the test part's *unlabelled* inputs)
by the MMD between the source's and the target's DSFE features, and kept in agreement with the other
branches on the target by a discrepancy loss; prediction averages the branches' class probabilities.

Facts from the paper and the authors' public code (github.com/VoiceBeer/MS-MDA, ``models.py`` and
``msmdaer.py``; read for facts, no code copied):

* DSFE: ``Linear(64 -> 32)``, ``BatchNorm1d(32)``, ``LeakyReLU(0.01)``; classifier ``Linear(32 -> k)``.
  Here the DSFE's input is the trunk's width (32-1024 features) and its output the paper's 32.
* MMD: the code calls its *linear* MMD (``mmd_linear``: the mean of the Gram matrix of the row-paired
  differences, i.e. the squared distance between the two batches' feature means); its multi-kernel
  Gaussian MMD (5 bandwidths, factor 2) is present but not called. :func:`mmd_linear` computes the
  squared mean distance directly, which also allows unequal sizes.
* Discrepancy: for the current source ``j``, ``sum_{i != j} mean |p_j - p_i|`` over the target batch,
  ``p`` the branches' softmax. The authors' code takes the softmax of the DSFE *features*; the paper
  defines it on the classifiers' outputs, and the authors confirmed in issue #6 of their repository that
  the code is the mistake. Here: the classifiers' class probabilities, as the paper.
* Loss per step: ``L_cls + gamma * L_mmd + beta * L_disc`` with ``gamma = 2 / (1 + exp(-10 p)) - 1`` over
  the training progress ``p`` and ``beta = gamma / 100``.
* Prediction: the mean of the branches' softmax probabilities.

The wrapper (:class:`MultiSourceMDA`) is an ``nn.Module`` the one trainer fits
(:func:`bench.training.trainer.fit`). The trainer tells it which training rows a batch holds
(``see_batch(idx)``, called right before each training step); each row is classified by its own
source's branch, so the trainer's cross-entropy on the wrapper's output *is* the per-source
classification loss (class weights and label distributions applied as for every model), and
``auxiliary_loss`` adds ``gamma * L_mmd + beta * L_disc``. All branches are computed at once as stacked
weights (one batched matrix product, one BatchNorm over ``sources x 32`` channels, which normalises each
branch's channels on their own as separate BatchNorm layers would).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from bench.training.methods import MethodInfo, register_method
from bench.training.methods.dann import _format, draw, feature_width, grl_lambda

DSFE_WIDTH = 32
"""Width of each domain-specific feature extractor (the authors' ``DSFE``: ``Linear(64, 32)``)."""

LEAKY_SLOPE = 0.01
"""The DSFE's LeakyReLU slope (the authors' ``negative_slope=0.01``)."""

BETA_RATIO = 0.01
"""``beta = gamma * BETA_RATIO``: the discrepancy weight (the authors' ``beta = gamma / 100``)."""


def mmd_linear(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Linear-kernel MMD of two samples (rows): the squared distance between their means.

    With equal sizes this is the authors' ``mean((A - B)(A - B)^T)`` (the mean of ``<a_i - b_i, a_j -
    b_j>`` over all i, j is ``|mean(A) - mean(B)|^2``); written on the means it also takes unequal sizes
    (a source's few rows of a pooled batch against a full target batch)."""
    d = a.float().mean(dim=0) - b.float().mean(dim=0)
    return d.square().sum()


def mean_probability_logits(logits: torch.Tensor) -> torch.Tensor:
    """``log(mean_s softmax(logits[s]))`` of (S, N, k) branch logits: (N, k) log-probabilities, so a
    softmax of them (the harness's :func:`~bench.core.metrics.class_scores`) gives the mean exactly (the
    log-probabilities of a distribution are their own log-softmax). Computed as a log-sum-exp of the
    log-softmaxes, in fp32 (no underflow of a confident branch's small probabilities)."""
    logp = F.log_softmax(logits.float(), dim=-1)
    return torch.logsumexp(logp, dim=0) - math.log(logits.shape[0])


def branch_discrepancy(logits: torch.Tensor) -> torch.Tensor:
    """(S, S) matrix ``D[j, i] = mean |softmax(logits[j]) - softmax(logits[i])|`` (mean over the target
    rows and classes, as the paper's ``torch.mean`` of the absolute difference); its row sums are the
    paper's discrepancy loss of source ``j`` (the diagonal is 0)."""
    p = F.softmax(logits.float(), dim=-1)  # (S, N, k)
    return (p[:, None] - p[None, :]).abs().mean(dim=(-2, -1))


class StackedLinear(nn.Module):
    """``S`` linear layers of one shape as stacked weights: (S, N, in) -> (S, N, out) in one batched
    product. Initialised as ``nn.Linear`` is (weight and bias uniform in +-1/sqrt(in))."""

    def __init__(self, n: int, n_in: int, n_out: int):
        super().__init__()
        bound = 1.0 / math.sqrt(n_in)
        self.weight = nn.Parameter(torch.empty(n, n_in, n_out).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(n, n_out).uniform_(-bound, bound))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias[:, None, :].to(h.dtype), h, self.weight.to(h.dtype))


class Branches(nn.Module):
    """One DSFE and one classifier per task for each of ``n_sources`` sources, on trunk features.

    ``forward(z)`` of (N, F) features gives the DSFE features (S, N, width) and the logits
    ``{task: (S, N, k)}`` of every branch on every row."""

    def __init__(self, n_sources: int, n_features: int, classes: dict[str, int], width: int = DSFE_WIDTH):
        super().__init__()
        self.n, self.width = n_sources, width
        self.dsfe = StackedLinear(n_sources, n_features, width)
        self.norm = nn.BatchNorm1d(n_sources * width)
        self.classifiers = nn.ModuleDict({t: StackedLinear(n_sources, width, k) for t, k in classes.items()})

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        n = z.shape[0]
        h = self.dsfe(z.unsqueeze(0).expand(self.n, -1, -1))  # (S, N, W)
        h = self.norm(h.transpose(0, 1).reshape(n, self.n * self.width))  # each branch's channels alone
        h = F.leaky_relu(h.reshape(n, self.n, self.width).transpose(0, 1), LEAKY_SLOPE)
        return h, {t: c(h) for t, c in self.classifiers.items()}


class MultiSourceMDA(nn.Module):
    """``inner``'s trunk with one MS-MDA branch per source subject.

    Parameters
    ----------
    inner : nn.Module
        The task model: ``embed(x) -> (N, F)`` and ``heads`` (one ``nn.Linear`` per task; only their
        class counts are read: the branches' classifiers replace them).
    target : tensor or Rows
        The test part's inputs (no labels), standardised like the training part.
    train_groups : array
        The source (subject) of each training row, in the row order of the trainer's ``x_train``.
    steps : int
        The planned training steps (epochs x batches): the horizon of the ``gamma`` schedule.
    seed : int
        Seeds the wrapper's own generator (target batches): the same on every executor.
    """

    def __init__(self, inner: nn.Module, *, target, train_groups, steps: int, seed: int):
        super().__init__()
        self.inner = inner
        self.target = target
        self.steps = int(steps)
        self.step = 0
        self.gen = torch.Generator().manual_seed(int(seed))
        groups = np.asarray(train_groups)
        self.sources = np.unique(groups)
        """The source ids, sorted: branch ``s`` belongs to ``sources[s]``."""
        self.register_buffer(
            "row_branch", torch.from_numpy(np.searchsorted(self.sources, groups).astype(np.int64)),
            persistent=False,
        )  # fmt: skip
        classes = {t: int(h.out_features) for t, h in inner.heads.items()}
        self.branches = Branches(len(self.sources), feature_width(inner, target), classes)
        self._batch_branch: torch.Tensor | None = None
        self._loss: torch.Tensor | None = None
        self.gamma_override: float | None = None
        """Tests: a fixed gamma instead of the schedule."""

    @property
    def predictor(self) -> nn.Module:
        """The model that predicts: the wrapper itself (prediction averages the branches)."""
        return self

    @property
    def label_distributions(self):  # the inner model's label-distribution hook, where it has one
        return self.inner.label_distributions

    def see_batch(self, idx: torch.Tensor) -> None:
        """The trainer's hook: ``idx`` are the positions in ``x_train`` of the next training batch, so the
        next training forward classifies each row by its own source's branch."""
        self._batch_branch = self.row_branch[idx.to(self.row_branch.device)]

    def gamma(self) -> float:
        """The MMD weight of the current step: ``2 / (1 + exp(-10 p)) - 1``, ``p = (step + 1) / steps``
        (the authors' iteration ``i`` counts from 1)."""
        if self.gamma_override is not None:
            return self.gamma_override
        return grl_lambda(self.step + 1, self.steps)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        if not self.training:
            self._loss = None
            _, logits = self.branches(self.inner.embed(x))
            return {t: mean_probability_logits(v) for t, v in logits.items()}
        branch, self._batch_branch = self._batch_branch, None
        if branch is None or branch.shape[0] != x.shape[0]:
            raise RuntimeError("ms-mda: call see_batch(idx) with the batch's rows before a training forward")
        n = x.shape[0]
        xt = draw(self.target, n, self.gen, x.device).to(x.dtype)
        h, logits = self.branches(self.inner.embed(torch.cat([x, xt.contiguous(memory_format=_format(x))])))
        gamma = self.gamma()
        self.step += 1
        self._loss = self._adaptation_loss(h, logits, branch, n, gamma)
        rows = torch.arange(n, device=branch.device)
        return {t: v[branch, rows] for t, v in logits.items()}  # each source row by its own branch

    def _adaptation_loss(
        self, h: torch.Tensor, logits: dict[str, torch.Tensor], branch: torch.Tensor, n: int, gamma: float
    ) -> torch.Tensor:
        """``gamma * sum_s w_s MMD_s + gamma / 100 * sum_s w_s sum_t sum_{i != s} D_t[s, i]`` over the
        sources ``s`` present in the batch, ``w_s`` their share of its ``n`` source rows (rows ``n:`` of
        ``h`` and ``logits`` are the target batch)."""
        onehot = F.one_hot(branch, self.branches.n).float()  # (n, S)
        count = onehot.sum(dim=0)
        share = count / n
        own = h[branch, torch.arange(n, device=branch.device)].float()  # each source row in its own branch
        src_mean = (onehot.t() @ own) / count.clamp(min=1)[:, None]  # (S, W); absent sources: share 0
        tgt_mean = h[:, n:].float().mean(dim=1)  # (S, W)
        mmd = ((src_mean - tgt_mean).square().sum(dim=1) * share).sum()
        disc = sum(branch_discrepancy(v[:, n:]).sum(dim=1) for v in logits.values())
        return gamma * mmd + gamma * BETA_RATIO * (disc * share).sum()

    def auxiliary_loss(self) -> torch.Tensor:
        """The adaptation loss of the last training forward, plus the inner model's own auxiliary loss."""
        inner = getattr(self.inner, "auxiliary_loss", None)
        loss = self._loss if self._loss is not None else torch.zeros(())
        return loss + inner() if inner is not None else loss


def wrap(model: nn.Module, *, target, train_groups, steps: int, seed: int) -> MultiSourceMDA:
    """The MS-MDA wrapper of ``model``: one branch per training subject in ``train_groups``."""
    return MultiSourceMDA(model, target=target, train_groups=train_groups, steps=steps, seed=seed)


register_method(
    MethodInfo(
        name="ms-mda",
        full_name="Multi-source marginal distribution adaptation",
        label="MS-MDA",
        citation="Chen, Jin, Li, Fan, Li, He - Front. Neurosci. 15:778488, 2021",
        doi="10.3389/fnins.2021.778488",
        kind="training",
        transductive=True,
        layouts=("grid", "channels", "signal"),
        needs_trunk=True,
        apply=wrap,
        notes=(
            "Sources: each training subject (a cross-dataset run: each subject of the training dataset); "
            "target: the test part's inputs (unlabelled), an equal-size batch per step drawn with the unit's "
            "seed.",
            f"Per source on the model's trunk: DSFE Linear(F -> {DSFE_WIDTH}) + BatchNorm + LeakyReLU("
            f"{LEAKY_SLOPE}) and one Linear({DSFE_WIDTH} -> k) classifier per task (the authors' code); the "
            "model's own heads are not used.",
            "Loss: the cross-entropy of each row under its own source's branch + gamma * linear MMD (squared "
            "distance of the DSFE feature means, the kernel the authors' code calls) between each source's "
            "rows and the target batch in that source's branch + gamma/100 * the discrepancy sum_{i != s} "
            "mean |p_s - p_i| of the branches' class probabilities on the target (the paper's definition; "
            "the authors' code applies it to DSFE features, a mistake they confirmed).",
            "gamma = 2 / (1 + exp(-10 p)) - 1 over the planned steps (epochs x batches), beta = gamma / 100 "
            "(the authors' code); the learning rate, its schedule and early stopping stay the trainer's.",
            "Deviation: the paper takes one batch of one source per step, in turn; here a step's pooled "
            "batch holds rows of several sources, each scored by its own branch, and each source's MMD and "
            "discrepancy are weighted by its share of the batch's rows (the classification loss is the mean "
            "over rows, so the same). With equal rows per subject this is on average the paper's mean over "
            "a round of one step per source, but each source's MMD compares its few rows (about batch / "
            "sources) with the target batch, a noisier mean than the paper's full source batch.",
            "Source and target rows pass the trunk and the branches together (BatchNorm sees both, as in "
            "DANN); the authors pass them separately through a trunk without BatchNorm and a DSFE with it.",
            "Prediction (validation, test): the mean of the branches' class probabilities per task. A run "
            "cannot --log-model (a logged model reloads as the plain model, which has no branches).",
        ),
    )
)
