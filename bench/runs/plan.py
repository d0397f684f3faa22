"""Planning a run: config -> data -> model input -> folds -> units of work (no training, no tracking).

This is the first of three layers, and data flows one way through them:

- :mod:`bench.runs.plan` (this module) turns a :class:`~bench.config.run.RunConfig`, resolved once
  (:func:`bench.runs.resolved.resolve_run`), into a :class:`Prepared` run: the features, the model's
  input, the folds and the independent :class:`Unit` s of work, and the run key (config hash + data
  fingerprint) that resume and concurrent commands find the run by.
- :mod:`bench.runs.unit` fits, predicts and tracks one unit; executors need only that layer and this one.
- the runner (``bench/runner.py``) runs a whole experiment: the parent run, resume, the executor and
  the summary. It imports this module and :mod:`bench.runs.unit`; neither imports it.

A run is one (model, protocol, split, config) on one data set. It is cut into independent, serialisable
units (one per fold, per subject-fold for subject-specific, per task for single-task models), so a pool
or Dask worker can rebuild the same plan from the feature cache and the resolved run, and run any unit of
it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.config.run import RunConfig
from bench.core.errors import ConfigError
from bench.data.cache import prepare_features
from bench.data.contents import Contents
from bench.data.cross import CrossFeatures, check_same_kind, cross_feature_config
from bench.data.features import FeatureConfig
from bench.data.featureset import FeatureSet
from bench.data.inputs import ModelInputs
from bench.data.source import env_folder, resolve_source, twin_config
from bench.runs.identity import folds_fingerprint
from bench.runs.resolved import ResolvedRun, as_resolved


@dataclass(frozen=True)
class Unit:
    """One independent piece of work: a fold (of a subject) for one group of tasks."""

    key: str
    fold: int
    subject: int | None
    tasks: tuple[str, ...]

    def seed(self, base: int) -> int:
        """A seed that depends only on the run seed and the unit, not on execution order."""
        return int(hashlib.sha256(f"{base}:{self.key}".encode()).hexdigest()[:8], 16) % (2**31 - 1)


@dataclass
class Prepared:
    """Everything resolved before training: the resolved run, data, inputs, folds, units."""

    run: ResolvedRun
    split: str
    features: FeatureSet
    inputs: ModelInputs
    folds: list
    units: list[tuple[Unit, object]]
    max_epochs: int
    finetune: bool
    leaky: bool
    folds_fingerprint: str
    """Hash of the test folds (:func:`bench.runs.identity.folds_fingerprint`): paired tests need equal
    ones."""
    method_x: np.ndarray | None = field(default=None, repr=False)
    """The inputs as the run's input method transformed them (``--method subject-norm``, ``ea``),
    computed once on first use by :func:`bench.runs.unit.unit_input` (the transform depends on no fold)."""

    @property
    def config(self) -> RunConfig:
        """The resolved config (``run.config``)."""
        return self.run.config

    @property
    def hparams(self) -> dict:
        """The model's keyword arguments (``run.hparams``)."""
        return self.run.hparams

    @property
    def run_key(self) -> str:
        payload = f"{self.config.fingerprint()}:{self.features.fingerprint}"
        extra = self.features.contents.key()  # the recipes of a signal / peripheral input ("" for maps)
        if extra:
            payload += f":{extra}"
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


def make_units(run: ResolvedRun, folds: list) -> list[tuple[Unit, object]]:
    """The units of a resolved run's folds: one per fold for a multi-task model trained on both tasks,
    one per fold and task otherwise (single-task models, ``--single-task``). ``bench perf`` sizes a
    full-size run from these without any data."""
    cfg, info = run.config, run.info
    groups = [cfg.tasks] if info.multitask and not cfg.single_task else [(t,) for t in cfg.tasks]
    units = []
    for fold in folds:
        for g in groups:
            suffix = "" if len(groups) == 1 and (info.multitask and not cfg.single_task) else f"-{g[0]}"
            units.append((Unit(fold.key + suffix, fold.index, fold.subject, g), fold))
    return units


def load_data(
    run: ResolvedRun,
    *,
    deap: str | Path | None = None,
    synthetic=None,
    test_data: str | Path | None = None,
    echo: Callable[[str], None] | None = None,
) -> FeatureSet | CrossFeatures:
    """The features a resolved run reads: its dataset's (``deap``: a folder of it, else its
    environment variable, else its synthetic twin), or for the cross-dataset protocol both datasets'
    (``test_data``: the test dataset's folder) on the channels they share. ``synthetic`` (a SyntheticConfig,
    or True for each dataset's default twin) asks for twins."""
    cfg = run.config
    feature_config = FeatureConfig.from_dict(cfg.feature_config)
    contents = data_contents(run)
    if not run.protocol.two_datasets:
        twin = synthetic if synthetic is not True else twin_config(cfg.dataset)
        source = resolve_source(deap, subjects=cfg.subjects, synthetic=twin, echo=echo, dataset=cfg.dataset)
        return prepare_features(source, feature_config, contents=contents)
    fc = cross_feature_config(feature_config, cfg.dataset, cfg.test_dataset)
    pairs = ((cfg.dataset, deap), (cfg.test_dataset, test_data))
    # Copies (a folder, or the dataset's environment variable) are opened first, which reads no data, so
    # that a real copy paired with a twin is refused before the twin is generated or a feature computed.
    from_twin = [
        folder is None and (synthetic is not None or env_folder(name) is None) for name, folder in pairs
    ]
    sources = [None if twin else resolve_source(folder, echo=echo, dataset=name)
               for (name, folder), twin in zip(pairs, from_twin, strict=True)]  # fmt: skip
    kinds = [twin or src.synthetic for src, twin in zip(sources, from_twin, strict=True)]
    check_same_kind(cfg.dataset, kinds[0], cfg.test_dataset, kinds[1])
    for i, (name, _) in enumerate(pairs):
        if from_twin[i]:
            twin = twin_config(name) if synthetic is not None else None
            sources[i] = resolve_source(None, synthetic=twin, echo=echo, dataset=name)
    return CrossFeatures(*(prepare_features(s, fc, contents=contents) for s in sources))


def data_contents(run: ResolvedRun) -> Contents:
    """What the cache entries of a run must hold beyond DE/PSD maps: what its model's input reads."""
    return Contents.for_spec(run.input_spec)


def prepare(
    cfg: RunConfig | ResolvedRun,
    *,
    deap: str | Path | None = None,
    synthetic=None,
    features: FeatureSet | CrossFeatures | None = None,
    echo: Callable[[str], None] | None = None,
    test_data: str | Path | None = None,
) -> Prepared:
    """Resolve data, model input, folds and units (no training, no tracking).

    ``cfg`` is resolved here (:func:`bench.runs.resolved.resolve_run`) unless it is a
    :class:`~bench.runs.resolved.ResolvedRun` already (a worker's task, a tuning worker's payload, a
    grid's run): that is taken as it is.
    """
    run = as_resolved(cfg)
    cfg, proto = run.config, run.protocol
    split = cfg.split
    if features is None:
        features = load_data(run, deap=deap, synthetic=synthetic, test_data=test_data, echo=echo)
    elif cfg.subjects is not None and tuple(int(s) for s in features.subjects) != tuple(cfg.subjects):
        features = features.select(cfg.subjects)
    if features.dataset != proto.data_name(cfg):
        raise ConfigError(f"features of dataset {features.dataset!r} given to a run on {cfg.dataset!r}")
    need = data_contents(run)
    if features.contents != need:
        raise ConfigError(
            f"features holding {features.contents.to_dict()} given to a run of {cfg.model!r}, which reads "
            f"{need.to_dict()}; prepare them with bench.runs.plan.load_data"
        )
    spec = run.input_spec_for(features.channels)
    inputs = features.inputs(spec, threshold=cfg.threshold, high_if=cfg.high_if, tasks=cfg.tasks)
    select_on_test = "select-on-test" in cfg.audit
    folds = proto.make_folds(
        inputs.subject,
        inputs.trial,
        inputs.labels,
        split=split,
        n_folds=cfg.n_folds,
        val_fraction=cfg.val_fraction,
        seed=cfg.seed,
        select_on_test=select_on_test,
        domain=inputs.domain,
        session=inputs.session,
        dataset=cfg.dataset,
    )
    units = make_units(run, folds)
    leaky = split == "segment" or select_on_test or proto.leaky
    fp = folds_fingerprint(folds, inputs.subject, inputs.trial, inputs.segment, inputs.labels, split)
    epochs = int(cfg.train.max_epochs)
    return Prepared(run, split, features, inputs, folds, units, epochs, proto.finetune, leaky, fp)
