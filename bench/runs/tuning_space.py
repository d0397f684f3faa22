"""The tuning search space and objective: what a trial samples and how a trained fold is scored.

Search space
------------
MT-CNN's loss is ``L = w_v * L_v + w_a * L_a`` (the paper: ``w_v = w_a = 1``). Only the *ratio*
``r = w_v / w_a`` changes what is learnt; the *sum* scales the gradients, i.e. acts as a learning-rate
multiplier. So the search fixes the sum at 2 and searches ``log2 r`` uniformly in ``[-3, 3]``::

    w_v = 2 r / (1 + r),   w_a = 2 / (1 + r)        (r = 1 is the paper's (1, 1))

Weights are rounded to 6 decimals, and the rounded values are the ones trained with. ``--space
weights+lr+dropout`` adds ``lr`` (log-uniform 1e-4..3e-3) and ``dropout`` (uniform 0..0.5). A new
study starts with the paper's setting (r = 1, the configured lr, the model's dropout) as trial 0, so
the baseline is always among the trials.

Objective (minimised)
---------------------
Per tuned fold: the model is trained on ``fold.train`` exactly as ``bench run`` trains it (same
seed, same early stopping / LR decay on ``fold.val``) and scored on ``fold.val``, the inner
validation part carved out of the training part with the test split's unit. ``fold.test`` is never
used. The score is

* ``valid-loss`` (default): the *reference* validation loss ``L_v + L_a`` (class-balanced
  cross-entropy, class weights from the training labels as in training), i.e. the paper's (1, 1)
  loss whatever weights the trial trained with. The training loss itself cannot be the objective:
  with other weights it is on another scale, and moving weight onto the easier task would lower
  it without any model getting better.
* ``valid-bacc``: ``1 - mean(balanced accuracy of valence, arousal)`` on the validation part.

The objective is the mean over the first ``tune_folds`` folds (for per-subject protocols: the first
``tune_folds`` folds of every subject) of the score of the model restored at its best validation
epoch. For whole-set-finetune only the pooled model is tuned (no fine-tune stage).

Pruning: the score of every epoch is reported (step = fold position * max_epochs + epoch) to a
MedianPruner (5 startup trials, 2 warm-up epochs); a pruned trial raises ``optuna.TrialPruned``.

Caveat: tuned weights evaluated with ``bench run`` on the same folds are not a nested CV: fold 1's
validation part is test data of other folds. The test folds of the tuned folds themselves are never
seen. For a strictly unbiased number, tune on other subjects or data than the final evaluation.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from bench.config.run import RunConfig
from bench.core.errors import ConfigError
from bench.core.metrics import balanced_accuracy, predicted_class
from bench.models.registry import create_model
from bench.runs.plan import Prepared, Unit
from bench.runs.progress import Reporter
from bench.runs.unit import fit_predict, labels_tensor, train_standardiser
from bench.training.step import task_class_weights
from bench.training.trainer import predict_proba

SPACES = ("weights", "weights+lr+dropout")
OBJECTIVES = ("valid-loss", "valid-bacc")
OBJECTIVE_ALIASES = {"val-loss": "valid-loss", "val-bacc": "valid-bacc"}
"""Names from before "valid" replaced "val" (which reads as valence): accepted, and read in old studies."""
LOG2_RATIO = (-3.0, 3.0)
LR_RANGE = (1e-4, 3e-3)
DROPOUT_RANGE = (0.0, 0.5)
WEIGHT_SUM = 2.0


# ----------------------------------------------------------------------------------- parametrisation
def ratio_to_weights(ratio: float) -> tuple[float, float]:
    """``r = w_v / w_a`` with ``w_v + w_a = 2`` -> ``(w_v, w_a)``, rounded to 6 decimals."""
    if not ratio > 0 or not math.isfinite(ratio):
        raise ConfigError(f"loss-weight ratio {ratio!r} must be a positive number")
    wv = WEIGHT_SUM * ratio / (1.0 + ratio)
    return round(wv, 6), round(WEIGHT_SUM - wv, 6)


def weights_from_params(params: dict) -> tuple[float, float]:
    """A trial's weights from its params (studies that predate the ``w_valence`` user attrs)."""
    return ratio_to_weights(2.0 ** float(params.get("log2_ratio", 0.0)))


def valid_scores(
    y_val: dict[str, np.ndarray], probs: dict[str, np.ndarray], cw: dict[str, np.ndarray | None]
) -> dict[str, float]:
    """Reference loss ``L_v + L_a`` (the sum of every task's class-weighted CE) and balanced accuracies
    from the tasks' scores (class-1 probabilities of a binary task, class probabilities (N, k) else)."""
    out: dict[str, float] = {}
    loss, bacc = 0.0, []
    for t, p in probs.items():
        y = np.asarray(y_val[t]).astype(np.int64)
        if p.ndim == 1:
            p1 = np.clip(p.astype(np.float64), 1e-12, 1 - 1e-12)
            nll = -np.where(y == 1, np.log(p1), np.log1p(-p1))
        else:
            nll = -np.log(np.clip(p.astype(np.float64)[np.arange(len(y)), y], 1e-12, 1.0))
        w = np.ones_like(nll) if cw[t] is None else np.asarray(cw[t], dtype=np.float64)[y]
        lt = float((w * nll).sum() / max(w.sum(), 1e-12))
        b = balanced_accuracy(y, predicted_class(p))
        out[f"valid_ref_loss_{t}"], out[f"valid_bacc_{t}"] = lt, b
        loss += lt
        bacc.append(b)
    out["valid_ref_loss"] = loss
    out["valid_bacc"] = float(np.mean(bacc))
    return out


def _score(scores: dict[str, float], objective: str) -> float:
    """The minimised value of ``objective`` from :func:`valid_scores`."""
    return scores["valid_ref_loss"] if objective == "valid-loss" else 1.0 - scores["valid_bacc"]


def canonical_objective(name: str) -> str:
    """The objective's current name (``val-loss`` -> ``valid-loss``); other values pass unchanged."""
    return OBJECTIVE_ALIASES.get(name, name)


def tune_folds_of(p: Prepared, tune_folds: int) -> list[tuple[Unit, object]]:
    """The (unit, fold) pairs a trial trains: the first ``tune_folds`` folds (of every subject)."""
    picked = [(u, f) for u, f in p.units if f.index <= tune_folds]
    if not picked:
        raise ConfigError(f"--tune-folds {tune_folds} selects no fold")
    return picked


class _EpochHook(Reporter):
    """A reporter that hands each epoch's row to ``fn`` (the trainer reports epochs to a reporter)."""

    def __init__(self, fn) -> None:
        self.fn = fn

    def epoch(self, unit: Unit, row: dict) -> None:
        self.fn(row)


def score_fold(p: Prepared, unit: Unit, fold, device: torch.device, objective: str, on_epoch=None):
    """Train on ``fold.train`` (early stopping on ``fold.val``), score on ``fold.val``; never ``fold.test``.

    Returns ``(value, history)``; ``on_epoch(row)`` sees each epoch's row with the trainer's metrics
    plus ``valid_ref_loss``, ``valid_bacc`` and ``objective`` of that epoch's model.
    """
    cfg = p.config
    train, val = np.asarray(fold.train), np.asarray(fold.val)
    x = torch.from_numpy(np.ascontiguousarray(p.inputs.x))
    y = labels_tensor(p.inputs, unit.tasks)
    y_val = {t: y[torch.from_numpy(val), i].numpy() for i, t in enumerate(unit.tasks)}
    weights = task_class_weights(y[torch.from_numpy(train)], unit.tasks)
    cw = {t: (w.numpy() if cfg.train.balance else None) for t, w in weights.items()}
    std = train_standardiser(p, x, train)
    xv = x[torch.from_numpy(val)] if std is None else std(x[torch.from_numpy(val)])
    seed = unit.seed(cfg.seed)
    torch.manual_seed(seed)  # the same initial weights as `bench run` for this unit
    model = create_model(
        cfg.model, tasks=unit.tasks, features=cfg.features, n_bands=p.inputs.spec.n_bands, **p.hparams
    )
    history: list[dict] = []

    def hook(row: dict) -> None:
        pr = predict_proba(
            model, xv, batch_size=cfg.train.batch_size, device=device, precision=cfg.train.precision
        )
        scores = valid_scores(y_val, pr, cw)
        full = {**row, **scores, "objective": _score(scores, objective)}
        history.append(full)
        if on_epoch is not None:
            on_epoch(full)

    # the validation indices stand in for the test indices: the test fold is not passed at all
    _, probs, _ = fit_predict(
        p, unit, x, y, train, val, val, device, _EpochHook(hook), standardiser=std, model=model, seed=seed
    )
    return _score(valid_scores(y_val, probs, cw), objective), history


def suggest(trial, space: str, cfg: RunConfig) -> tuple[RunConfig, dict]:
    """Sample one point; returns the trial's config and the params to log."""
    r_log2 = trial.suggest_float("log2_ratio", *LOG2_RATIO)
    w = ratio_to_weights(2.0**r_log2)
    changes: dict = {"loss_weights": w}
    if space == "weights+lr+dropout":
        changes["lr"] = trial.suggest_float("lr", *LR_RANGE, log=True)
        changes["dropout"] = trial.suggest_float("dropout", *DROPOUT_RANGE)
    trial.set_user_attr("w_valence", w[0])
    trial.set_user_attr("w_arousal", w[1])
    params = {"log2_ratio": r_log2, "ratio": 2.0**r_log2, "w_valence": w[0], "w_arousal": w[1]}
    params.update({k: v for k, v in changes.items() if k in ("lr", "dropout")})
    return cfg.with_train(**changes), params
