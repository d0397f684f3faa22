"""What a run is, decided once when it starts: resolved config, variant, settings, scale, folds.

The result tables group runs into cells by ``(model, protocol, split, audit, variant)`` and never
re-derive any of it: the runner stores these as tags (:func:`identity_tags`) and the tables read them.

* **settings**: every setting that decides the numbers, flat (``train.lr``, ``model_options.n_inputs``,
  ``feature_config.window_s``), of the resolved config.
* **deviations**: the settings that differ from the model's default run (same model, protocol, split,
  audit and recipe, nothing else given).
* **scale** (:data:`SCALE_KEYS`): folds, seed, subjects, epoch cap, precision and stacking. Runs that
  differ only in scale compete for the same table cell; the tables say so when they do.
* **variant**: the other deviations, named after the ablation switches (``no-dropout``, ``only-de``),
  ``loss-weights=a,b`` and ``paper-recipe``, and a short hash of whatever is left (``cfg-1a2b3c``), so a
  label threshold of 7 or a learning rate of 1e-4 never shares a cell with the default recipe.
* **folds fingerprint**: a hash of which test unit (trial, subject or window) with which labels is in
  which test fold. Paired tests pair two runs only when these agree.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from bench.config.ablation import SCALE_KEYS, json_normal, variant_name
from bench.config.run import RunConfig
from bench.core import host
from bench.core.checks import check_option
from bench.core.errors import ConfigError
from bench.data.datasets import get_dataset
from bench.data.features import FeatureConfig
from bench.data.inputs import FEATURE_KINDS
from bench.data.published import KEY as PUBLISHED
from bench.data.published import feature_options as published_feature_options
from bench.data.recordings import check_baseline_seconds
from bench.models.recipes import apply_recipe, with_model_defaults
from bench.models.registry import ModelInfo, get_model_info
from bench.training.methods import NONE, get_method_info, method_names
from protocols import get_protocol

CELL_KEYS: tuple[str, ...] = ("model", "protocol", "split", "audit", "method")
"""Settings that name a table cell themselves (with the variant). The method (``--method``) is one: a DANN
run never shares a cell with plain training, and is no variant of it."""


def resolve_config(cfg: RunConfig) -> RunConfig:
    """The config with every "model default" filled in, so equal runs get equal run keys.

    Recipe: ``--recipe paper`` applied (:func:`bench.models.recipes.apply_recipe`); split: the protocol's
    default; features equal to the model's default input: ``None``; max epochs and Adam epsilon: the
    model's defaults; precision ``auto``: fp32 or bf16 (:func:`resolve_precision`); the dataset fields as
    the protocol checks them (:meth:`protocols.base.Protocol.resolve_data`). Idempotent. An
    unknown model or protocol, or a split the protocol does not offer, is a one-line :class:`ConfigError`.
    """
    info = get_model_info(cfg.model)
    proto = get_protocol(cfg.protocol)
    split = proto.resolve_split(cfg.split)
    check_method(cfg, info, proto)
    features = cfg.features
    if features is not None:
        features = tuple(f for f in FEATURE_KINDS if f in features) + tuple(
            f for f in features if f not in FEATURE_KINDS
        )
        if features == tuple(info.input_spec.features):
            features = None
    cfg = apply_recipe(cfg, info)
    cfg = replace(cfg, feature_config=feature_options(cfg))
    train = with_model_defaults(cfg.train, info)
    train = replace(train, precision=resolve_precision(train.precision, info, cfg.device))
    train = proto.resolve_train(train)  # a peer protocol's own model-selection rule
    return replace(cfg, split=split, features=features, train=train, **proto.resolve_data(cfg))


def check_method(cfg: RunConfig, info: ModelInfo, proto) -> None:
    """Refuse a method that cannot apply, as one line before any run is created: an unknown name; a
    training method on a model without a feature trunk (``embed``: MC-CNN's columns, the trivial
    baselines), on a protocol that fine-tunes per subject, or with ``train.stack`` (the stacked trainer
    has no auxiliary losses of a wrapper); a method on an input layout it does not apply to (``ea``: the
    signal only); ``ms-mda`` with ``log_model`` (its predictor is the wrapper with one branch per training
    subject, which a logged model, reloaded as the plain model, cannot rebuild)."""
    check_option("method", cfg.method, method_names())
    if cfg.method == NONE:
        return
    method = get_method_info(cfg.method)
    layout = info.input_spec.layout
    if layout not in method.layouts:
        raise ConfigError(
            f"method={cfg.method!r} applies to {' or '.join(method.layouts)} inputs; model {cfg.model!r} "
            f"reads {layout} inputs"
        )
    if method.kind != "training":
        return
    if method.needs_trunk and not (info.trainable and hasattr(info.factory, "embed")):
        raise ConfigError(
            f"method={cfg.method!r} needs a model with one feature trunk (embed); {cfg.model!r} has none"
        )
    if proto.finetune:
        raise ConfigError(f"method={cfg.method!r} does not apply to protocol {cfg.protocol!r} (fine-tuning)")
    if cfg.train.stack:
        raise ConfigError(f"method={cfg.method!r} cannot train stacked; drop train.stack")
    if cfg.log_model and cfg.method == "ms-mda":  # its predictor is the wrapper: no plain model to log
        raise ConfigError(
            f"method={cfg.method!r} cannot --log-model (prediction needs its per-source branches)"
        )


def method_tags(cfg: RunConfig, prefix: str = "bench.") -> dict[str, str]:
    """The method's tags (none for plain training, so the tags of every plain run stay as they were):
    ``method``, its table ``method_label`` and ``transductive`` ("true": it sees the test subjects'
    unlabelled inputs)."""
    if cfg.method == NONE:
        return {}
    m = get_method_info(cfg.method)
    return {
        f"{prefix}method": m.name,
        f"{prefix}method_label": m.label,
        f"{prefix}transductive": "true" if m.transductive else "false",
    }


def feature_options(cfg: RunConfig) -> dict:
    """The run's feature options: the training dataset's own recipe (the SEED family's; none for the
    rating datasets, whose run keys stay as they were) under what the run sets.

    A cross-dataset run computes both datasets' features one way: where the test dataset's recordings
    hold no pre-stimulus baseline (the SEED family, FACED), neither side subtracts one unless the run
    says otherwise. Baseline seconds a dataset of the run does not hold are a :class:`ConfigError` here,
    before any data is read.
    """
    datasets = [get_dataset(name) for name in (cfg.dataset, cfg.test_dataset) if name is not None]
    if len(datasets) == 2 and cfg.feature_config.get(PUBLISHED) is not None:
        raise ConfigError(
            f"features.published={cfg.feature_config[PUBLISHED]!r}: published features are one dataset's "
            "own; a cross-dataset run computes both datasets' features alike (drop published)"
        )
    # with published: the source's fixed recipe, any other feature option refused (bench.data.published)
    options = published_feature_options(cfg.dataset, cfg.feature_config)
    if (
        len(datasets) == 2
        and datasets[1].baseline_s == 0
        and not {"baseline", "baseline_s"} & set(cfg.feature_config)
    ):
        options.update(baseline="none", baseline_s=0.0)
    config = FeatureConfig.from_dict(options)
    for ds in datasets:
        check_baseline_seconds(config, ds)
    return options


def resolve_precision(precision: str, info, device: str) -> str:
    """``auto`` -> ``bf16`` where this device has native bf16 and the model's bf16 parity is shown
    (``info.bf16_parity``), else ``fp32``; an explicit precision stays as it is.

    The resolved value is what the run key, the params and the tags carry, so the same command gives
    a bf16 run on a machine with native bf16 and an fp32 run elsewhere, never one run of mixed
    precision.
    """
    if precision != "auto":
        return precision
    native = host.native_bf16(host.resolve_device(device))  # looked up at call time: tests pin the host
    return "bf16" if info.bf16_parity and info.trainable and native else "fp32"


def _flat(d: dict, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict) and v:
            out.update(_flat(v, f"{prefix}{k}."))
        elif not isinstance(v, dict):
            out[f"{prefix}{k}"] = json_normal(v)
    return out


def settings(cfg: RunConfig) -> dict[str, Any]:
    """Every setting of a resolved config that decides the numbers, as a flat dict with dotted keys.

    Model options are shown with the model's defaults filled in and the feature config with its
    defaults, so ``-M dropout=0.2`` on MT-CNN (its default) is no deviation.
    """
    info = get_model_info(cfg.model)
    d = cfg.key_dict()
    d.pop("model_options")
    d.pop("feature_config")
    options = {k: v for k, v in info.defaults.items() if k in info.model_params}
    options.update(cfg.model_options)
    d["model_options"] = options
    d["feature_config"] = FeatureConfig.from_dict(cfg.feature_config).to_dict()
    return _flat(d)


def default_config(cfg: RunConfig) -> RunConfig:
    """The model's default recipe for the same cell: model, protocol, split, audit (and recipe), on the
    same dataset(s)."""
    return resolve_config(
        RunConfig(
            model=cfg.model,
            protocol=cfg.protocol,
            split=cfg.split,
            audit=cfg.audit,
            recipe=cfg.recipe,
            dataset=cfg.dataset,
            test_dataset=cfg.test_dataset,
        )  # fmt: skip
    )


def deviations(cfg: RunConfig) -> dict[str, Any]:
    """Settings of the resolved ``cfg`` that differ from the model's default recipe (cell keys aside)."""
    base = settings(default_config(cfg))
    return {
        k: v
        for k, v in sorted(settings(cfg).items())
        if k not in CELL_KEYS and (k not in base or base[k] != v)
    }


def folds_fingerprint(folds, subject: np.ndarray, trial: np.ndarray, segment: np.ndarray,
                      labels: np.ndarray, split: str) -> str:  # fmt: skip
    """Hash of the test folds at the level of the split unit, with each unit's labels.

    Trial and subject splits are described by (fold, subject, trial, labels): models that cut a trial
    into different samples (1 window vs 6) still share folds when the same trials are tested
    together. The segment split adds the sample's index within the trial.
    """
    frames = []
    for f in folds:
        idx = f.test
        cols = {"fold": f.key, "subject": subject[idx], "trial": trial[idx]}
        for j in range(labels.shape[1]):
            cols[f"y{j}"] = labels[idx, j]
        if split == "segment":
            cols["segment"] = segment[idx]
        frames.append(pd.DataFrame(cols).drop_duplicates())
    df = pd.concat(frames, ignore_index=True)
    df = df.sort_values(list(df.columns), kind="stable")
    return hashlib.sha256(df.to_csv(index=False).encode()).hexdigest()[:16]


def identity_tags(cfg: RunConfig, folds_fp: str, prefix: str = "bench.") -> dict[str, str]:
    """The tags the tables read: variant, deviations, scale and folds fingerprint of a resolved config."""
    dev = deviations(cfg)
    flat = settings(cfg)
    return {
        f"{prefix}variant": variant_name(dev, cfg.recipe),
        f"{prefix}settings": json.dumps(dev, sort_keys=True, separators=(",", ":")),
        # a key left out of the run key at its default stays out of the scale too (older tags unchanged)
        f"{prefix}scale": json.dumps(
            {k: flat.get(k) for k in SCALE_KEYS if k in flat or k not in RunConfig.KEY_OMIT_IF_DEFAULT},
            separators=(",", ":"),
        ),
        f"{prefix}folds_fingerprint": folds_fp,
        **method_tags(cfg, prefix),
    }
