"""A run config resolved once: :class:`ResolvedRun`, built by :func:`resolve_run` and carried as is.

A ``bench run`` used to resolve its config again at each step (the checks, the data, the plan, each
pool or Dask worker, each tuning trial). Now :func:`resolve_run` does it once, at the start of the plan
(:func:`bench.runs.plan.prepare`), and everything after reads the result: the prepared run holds it, a
worker's task carries it (it pickles: the model's factory and the protocol by reference), and a tuning
trial derives its own from it with :func:`dataclasses.replace`.

What resolving means (the defaults filled in, so equal runs get equal run keys) is
:func:`bench.runs.identity.resolve_config`'s; this module adds every check that needs no data and the
values the plan reads: the model's registry entry, its keyword arguments, its data-independent input
spec, the protocol and the dataset.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from bench.config.run import RunConfig
from bench.core.errors import ConfigError
from bench.data.datasets import Dataset, get_dataset
from bench.data.features import FeatureConfig
from bench.data.inputs import InputSpec
from bench.data.peripheral import check_peripheral
from bench.data.published import check_kinds
from bench.models.registry import ModelInfo, create_model, get_model_info, resolve_input_spec
from bench.runs.identity import resolve_config
from protocols import get_protocol
from protocols.base import Protocol


@dataclass(frozen=True)
class ResolvedRun:
    """A run config resolved and checked once, with what the plan, the units and the workers read of it.

    It pickles (a worker's :class:`bench.runs.jobs.UnitTask` carries it): ``info.factory`` is a
    module-level model class or function and pickles by reference, ``protocol`` and ``dataset`` are
    frozen dataclasses. A model registered where a worker cannot import it (inside a function) fails
    there as it did before: the worker could not look it up in its registry either.
    """

    config: RunConfig
    """The resolved config (:func:`bench.runs.identity.resolve_config`): run key, params and tags."""
    info: ModelInfo
    hparams: dict[str, Any]
    """The model's keyword arguments (:func:`model_hparams`)."""
    input_spec: InputSpec
    """The model's input before the data is known (no channel names): :meth:`input_spec_for` finishes it."""
    protocol: Protocol
    dataset: Dataset
    """The dataset the run trains on (``config.dataset``; a cross-dataset run's test dataset is
    ``config.test_dataset``)."""

    @property
    def precision(self) -> str:
        """The resolved training precision (``fp32``, ``bf16``, ...; never ``auto``)."""
        return self.config.train.precision

    def input_spec_for(self, channels: Iterable[str]) -> InputSpec:
        """The model's input on data with these EEG ``channels`` (a signal or channel-layout model's
        sample depends on them; a brain-map grid does not)."""
        cfg = self.config
        return resolve_input_spec(
            cfg.model, features=cfg.features, channels=channels, n_bands=feature_bands(cfg), **self.hparams
        )

    def with_dropout(self, dropout: float) -> ResolvedRun:
        """This run with another dropout (a tuning trial's), its config and model arguments alike."""
        hparams = _set_dropout(dict(self.hparams), self.info, dropout)
        return replace(self, config=self.config.with_train(dropout=dropout), hparams=hparams)


def feature_bands(cfg: RunConfig) -> int:
    """The frequency bands per feature kind of the run's feature config (the model's input depth)."""
    return len(FeatureConfig.from_dict(cfg.feature_config).bands)


def _set_dropout(hp: dict[str, Any], info: ModelInfo, dropout: float) -> dict[str, Any]:
    """``hp`` with ``dropout`` set; a model without dropout is a one-line ConfigError."""
    if "dropout" not in info.model_params:
        raise ConfigError(f"model {info.name!r} has no dropout to set")
    hp["dropout"] = dropout
    return hp


def model_hparams(cfg: RunConfig, info: ModelInfo) -> dict[str, Any]:
    """Model keyword arguments: model defaults < config model_options < dropout / batch-norm switches."""
    allowed = set(info.model_params)
    hp = {k: v for k, v in info.defaults.items() if k in allowed}
    hp.update(cfg.model_options)
    if cfg.train.dropout is not None:
        _set_dropout(hp, info, cfg.train.dropout)
    if not cfg.train.batch_norm:
        if "batch_norm" not in allowed:
            raise ConfigError(f"model {cfg.model!r} has no batch norm to switch off")
        hp["batch_norm"] = False
    return hp


def resolve_run(cfg: RunConfig) -> ResolvedRun:
    """The resolved run, after every check that needs no data; a refused value is a ConfigError.

    :func:`bench.runs.plan.prepare` calls this first; a grid (:mod:`bench.runs.grid`) calls it alone to
    find, without reading any data, the variants a model cannot express. Call it once per run and pass
    the result on: the plan, the executors' workers and the tuning trials take it as it is.
    """
    # The run key, params and resume all see the resolved values: `--split trial` and the default
    # split are the same run; `--recipe paper` is the model's own training set-up.
    cfg = resolve_config(cfg)
    info = get_model_info(cfg.model)
    proto = get_protocol(cfg.protocol)
    if cfg.single_task and not info.multitask:
        raise ConfigError(f"model {cfg.model!r} is single-task already; --single-task changes nothing")
    if cfg.train.stack:  # stacking trains many models of one recipe together: refuse where none are
        if not info.trainable:
            raise ConfigError(
                f"train.stack={cfg.train.stack}: model {cfg.model!r} is not trained; nothing to stack"
            )
        if info.input_spec.layout == "signal":
            raise ConfigError(
                f"train.stack={cfg.train.stack}: model {cfg.model!r} reads the EEG signal; stacking is for "
                "brain-map models (drop --stack)"
            )
        proto.check_stack(cfg.train.stack)
    hp = model_hparams(cfg, info)  # bad model options fail before any data is read
    n_bands = feature_bands(cfg)
    try:  # build once (cheap): values the factory refuses fail here too, not in a tracked unit
        create_model(
            cfg.model, tasks=cfg.tasks if info.multitask else cfg.tasks[:1], features=cfg.features,
            n_bands=n_bands, **hp,
        )  # fmt: skip
    except (TypeError, ValueError, RuntimeError) as exc:
        raise ConfigError(f"model {cfg.model!r} options {hp}: {exc}") from None
    spec = resolve_input_spec(cfg.model, features=cfg.features, n_bands=n_bands, **hp)
    feature_config = FeatureConfig.from_dict(cfg.feature_config)
    if spec.layout == "signal" and feature_config.published is not None:
        raise ConfigError(
            f"model {cfg.model!r} reads the EEG signal, which published feature files do not hold "
            f"(features.published={feature_config.published!r}); drop it or pick a brain-map model"
        )
    check_kinds(cfg.dataset, feature_config, spec.features)  # published ones
    if spec.peripheral:
        for name in proto.datasets(cfg):
            check_peripheral(get_dataset(name))
    return ResolvedRun(cfg, info, hp, spec, proto, get_dataset(cfg.dataset))


def as_resolved(cfg: RunConfig | ResolvedRun) -> ResolvedRun:
    """``cfg`` resolved (:func:`resolve_run`), or as it is where it is a resolved run already: a function
    handed either resolves a plain config once and never a resolved one again."""
    return cfg if isinstance(cfg, ResolvedRun) else resolve_run(cfg)
