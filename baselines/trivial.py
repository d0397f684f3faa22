"""Chance baselines: every results table shows what the label distribution alone gives.

Both look only at the training fold's labels (:meth:`fit_labels`), accept inputs of any shape and have
no trainable parameters (``trainable=False`` in the registry: the trainer calls ``fit_labels`` instead
of optimising).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import torch
from torch import nn

from bench.core.tasks import n_classes
from bench.data.inputs import TASKS, InputSpec
from bench.models.layers import check_tasks
from bench.models.registry import register_model

_COMMON_NOTES = (
    "Fitted on the training fold's labels only (fit_labels); inputs are ignored, any shape is accepted.",
    "Reported accuracies: none (chance level depends on the class balance of each fold).",
)


class _LabelPrior(nn.Module):
    """Shared part: per-task class prior from the training labels, stored as a buffer.

    ``prior`` is (tasks, most classes of any task): row i holds task i's class frequencies in its first
    ``n_classes`` entries (the rest stay 0; binary tasks only: (tasks, 2), as before k-class tasks)."""

    def __init__(self, tasks: Iterable[str] = TASKS, input_spec: InputSpec | None = None) -> None:
        super().__init__()
        self.tasks = check_tasks(tasks)
        self.input_spec = input_spec or InputSpec()
        self.n_classes = tuple(n_classes(t) for t in self.tasks)
        prior = torch.zeros((len(self.tasks), max(self.n_classes)))
        for i, k in enumerate(self.n_classes):
            prior[i, :k] = 1.0 / k
        self.register_buffer("prior", prior)
        # a buffer, so a saved and reloaded baseline stays fitted
        self.register_buffer("fitted", torch.tensor(False))

    def fit_labels(self, labels: Mapping[str, torch.Tensor]) -> None:
        """Store the class frequencies of the training labels.

        Parameters
        ----------
        labels : dict of task -> tensor of class indices
            Training-fold labels (0 .. n_classes - 1) for (at least) every task the model was built with.
        """
        for i, (t, k) in enumerate(zip(self.tasks, self.n_classes, strict=True)):
            if t not in labels:
                raise ValueError(f"fit_labels: no labels for task {t!r}")
            y = torch.as_tensor(labels[t]).reshape(-1).long()
            if y.numel() == 0 or bool(((y < 0) | (y >= k)).any()):
                raise ValueError(f"fit_labels: labels for {t!r} must be a non-empty set of values 0-{k - 1}")
            counts = torch.bincount(y, minlength=k).to(self.prior)
            self.prior[i, :k] = counts / counts.sum()
        self.fitted.fill_(True)

    def _check_fitted(self) -> None:
        if not bool(self.fitted):
            raise RuntimeError(f"{type(self).__name__}: call fit_labels(training labels) before predicting")


@register_model(
    "majority",
    full_name="Majority class (training fold)",
    citation="trivial baseline",
    doi=None,
    input_spec=InputSpec(),
    multitask=True,
    reported={"valence": None, "arousal": None},
    fidelity="exact",
    notes=(
        *_COMMON_NOTES,
        "Logits are the log training prior, so the predicted class is always the majority class; a "
        "50/50 training split predicts low (class 0) on validation and test alike (the harness's one "
        "rule, bench.core.metrics.predicted_class: high only when p_high > 0.5).",
    ),
    defaults={},
    trainable=False,
)
class MajorityClass(_LabelPrior):
    """Always predicts each task's training-majority class (logits = log class prior, so
    probability-based metrics see the calibrated prior)."""

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        self._check_fitted()
        n = x.shape[0]
        logp = torch.log(self.prior.clamp_min(1e-12))
        return {
            t: logp[i, :k].expand(n, k).to(x.device)
            for i, (t, k) in enumerate(zip(self.tasks, self.n_classes, strict=True))
        }


@register_model(
    "prior",
    full_name="Random guess from the training class prior",
    citation="trivial baseline",
    doi=None,
    input_spec=InputSpec(),
    multitask=True,
    reported={"valence": None, "arousal": None},
    fidelity="exact",
    notes=(
        *_COMMON_NOTES,
        "Each prediction is drawn from the training class shares (binary: Bernoulli(share of class 1)) with "
        "a torch.Generator seeded by `seed` at fit_labels time: the same seed and call sequence gives the "
        "same predictions.",
        "Logits are one-hot (1 for the drawn class, 0 for the others).",
    ),
    defaults={"seed": 0},
    trainable=False,
)
class PriorSampler(_LabelPrior):
    """Predicts a class drawn from the training prior, per sample and task (seeded, reproducible).

    Parameters
    ----------
    seed : int
        Seed of the private generator, reset by every :meth:`fit_labels`.
    """

    def __init__(
        self, tasks: Iterable[str] = TASKS, input_spec: InputSpec | None = None, *, seed: int = 0
    ) -> None:
        super().__init__(tasks, input_spec)
        self.seed = int(seed)
        self._generator = torch.Generator().manual_seed(self.seed)

    def fit_labels(self, labels: Mapping[str, torch.Tensor]) -> None:
        super().fit_labels(labels)
        self._generator = torch.Generator().manual_seed(self.seed)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        self._check_fitted()
        n = x.shape[0]
        out = {}
        for i, (t, k) in enumerate(zip(self.tasks, self.n_classes, strict=True)):
            prior = self.prior[i, :k].detach().cpu().float()
            if k == 2:  # the binary draw as it always was: the same predictions for the same seed
                draw = (torch.rand(n, generator=self._generator) < prior[1]).long()
            else:
                draw = torch.multinomial(prior, n, replacement=True, generator=self._generator)
            out[t] = nn.functional.one_hot(draw, k).to(device=x.device, dtype=torch.float32)
        return out
