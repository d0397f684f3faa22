"""Training recipes: the harness recipe every model is trained with, and each paper's own.

The harness recipe is :class:`~bench.config.run.TrainConfig`'s defaults plus the model's applied defaults
(max_epochs, adam_eps); it is the same for every model, so differences in a table come from the
models. The paper recipe overrides TrainConfig fields with the model's registry ``paper_recipe``
(``bench run --recipe paper``). :func:`apply_recipe` resolves ``RunConfig.recipe`` before the run
key is computed, so a paper recipe without overrides is the very same run as the harness recipe.
"""

from __future__ import annotations

from dataclasses import replace

from bench.config.run import RunConfig, TrainConfig
from bench.models.registry import ModelInfo

OPTIMIZER = "Adam"
"""The only optimiser bench.training.trainer.fit uses (every recipe so far is Adam)."""
DEFAULT_MAX_EPOCHS = 200
"""Epoch cap when neither the run config nor the model's defaults set one (as bench.runs.plan.prepare)."""
TORCH_ADAM_EPS = 1e-8
"""Adam epsilon when neither the run config nor the model's defaults set one (as bench.runs.plan.prepare)."""


def apply_recipe(cfg: RunConfig, info: ModelInfo) -> RunConfig:
    """Resolve ``cfg.recipe`` for the model ``info``: the config a run with that recipe trains with.

    ``"harness"`` changes nothing. ``"paper"`` applies the model's paper recipe to ``cfg.train``; an
    explicit ``max_epochs`` in ``cfg.train`` (``--epochs``) still caps the run. A paper recipe without
    overrides resolves to ``"harness"``: the same run, with the same run key. Idempotent, so a resolved
    config (e.g. rebuilt on a worker) resolves to itself.
    """
    if cfg.recipe != "paper":
        return cfg
    overrides = dict(info.paper_recipe)
    if not overrides:
        return replace(cfg, recipe="harness")
    if cfg.train.max_epochs is not None:
        overrides.pop("max_epochs", None)
    return replace(cfg, train=replace(cfg.train, **overrides))


def with_model_defaults(train: TrainConfig, info: ModelInfo) -> TrainConfig:
    """Fill the settings a config leaves None (max_epochs, adam_eps) from the model's defaults."""
    return replace(
        train,
        max_epochs=int(train.max_epochs or info.defaults.get("max_epochs", DEFAULT_MAX_EPOCHS)),
        adam_eps=train.adam_eps or info.defaults.get("adam_eps", TORCH_ADAM_EPS),
    )


def recipe_train(info: ModelInfo, recipe: str) -> TrainConfig:
    """The training settings of a default run of ``info``'s model under ``recipe``."""
    cfg = apply_recipe(RunConfig(model=info.name, recipe=recipe), info)
    return with_model_defaults(cfg.train, info)


def describe_train(train: TrainConfig, val_fraction: float = RunConfig.val_fraction) -> dict[str, str]:
    """One short text per training setting (the rows of ``bench models NAME``'s recipe table)."""
    uses = [
        name
        for name, used in (
            ("early stopping", train.early_stopping > 0),
            ("LR schedule", train.lr_decay),
            ("best epoch", train.restore_best),
        )
        if used
    ]
    return {
        "optimizer": OPTIMIZER,
        "learning rate": f"{train.lr:g}",
        "Adam eps": f"{train.adam_eps:g}" if train.adam_eps else f"{TORCH_ADAM_EPS:g}",
        "batch size": str(train.batch_size),
        "max epochs": str(train.max_epochs),
        "LR schedule": (
            f"ReduceLROnPlateau x{train.lr_factor:g}, patience {train.lr_patience}"
            if train.lr_decay
            else "none"
        ),
        "early stopping": f"patience {train.early_stopping}" if train.early_stopping else "none",
        "restore best epoch": "yes" if train.restore_best else "no (last epoch)",
        "class weights": "balanced" if train.balance else "none",
        "validation data": f"{val_fraction:.0%} of train: "
        + (", ".join(uses) if uses else "loss curve only"),
    }
