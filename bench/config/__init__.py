"""The typed run configuration (:class:`RunConfig`, :class:`TrainConfig`), its allowed values and the
ablation catalogue: what a run asks for, before anything is resolved. Checked against the dataset
registry (names, subjects); knows no model, protocol behaviour, training or tracking."""

from bench.config.run import RunConfig, TrainConfig

__all__ = ["RunConfig", "TrainConfig"]
