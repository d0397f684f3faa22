"""The ablation catalogue: the paper's one-at-a-time switches, as changes to a run configuration, and
the variant name a run's deviations from its default make (:func:`variant_name`).

An input to runs (``bench ablate``, and the names :mod:`bench.runs.identity` gives a run's variant), not a
result: the tables only read the variant tag each run was given when it started.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from bench.config.run import RunConfig
from bench.core.checks import check_option
from bench.core.errors import ConfigError

VARIANTS: tuple[str, ...] = (
    "full",
    "only-de",
    "only-psd",
    "single-task",
    "no-lr-decay",
    "no-batch-norm",
    "no-dropout",
    "no-balance",
)
"""The ablation grid, in the order the paper's chart lists it (balancing last: not in the paper)."""

EXTRA_VARIANTS: tuple[str, ...] = ("peripheral", "plus-dasm", "plus-hjorth")
"""Named variants beyond the paper's grid (its future work): ``peripheral`` adds DEAP's peripheral
features to MT-CNN (fusion before the heads, ``-M peripheral=true``); ``plus-dasm`` and ``plus-hjorth``
add hemispheric-asymmetry maps (DASM) or the three Hjorth parameters to the DE and PSD maps. Asked for
by name (``bench ablate --variants full,peripheral``, a grid's ``variants``), not by ``"all"``: additions
rather than ablations (and ``peripheral`` only DEAP's recordings allow)."""

NAMED_VARIANTS: tuple[str, ...] = VARIANTS + EXTRA_VARIANTS
"""Every variant with a name: the ablation table's rows and the names :mod:`bench.runs.identity` gives
runs."""

ABLATION_CHANGES: dict[str, dict] = {
    "full": {},
    "only-de": {"features": ("de",)},
    "only-psd": {"features": ("psd",)},
    "single-task": {"single_task": True},
    "no-lr-decay": {"train.lr_decay": False},
    "no-batch-norm": {"train.batch_norm": False},
    "no-dropout": {"train.dropout": 0.0},
    "no-balance": {"train.balance": False},
    "peripheral": {"model_options.peripheral": True},
    "plus-dasm": {"features": ("de", "psd", "dasm")},
    "plus-hjorth": {"features": ("de", "psd", "activity", "mobility", "complexity")},
}
"""RunConfig changes of each named variant (``train.x`` is a TrainConfig field, ``model_options.x`` a
model option)."""

VARIANT_FLAGS: dict[str, str] = {
    "full": "",
    "only-de": "--features de",
    "only-psd": "--features psd",
    "single-task": "--single-task",
    "no-lr-decay": "--no-lr-decay",
    "no-batch-norm": "--no-batch-norm",
    "no-dropout": "--no-dropout",
    "no-balance": "--no-balance",
    "peripheral": "-M peripheral=true",
    "plus-dasm": "--features de,psd,dasm",
    "plus-hjorth": "--features de,psd,activity,mobility,complexity",
}
"""The ``bench run`` flags that make each variant."""


def check_variants(names: Iterable[str]) -> tuple[str, ...]:
    """The names as a tuple; an unknown one is a one-line :class:`ConfigError`."""
    names = tuple(names)
    if not names:
        raise ConfigError(f"no ablation variant given; allowed: {', '.join(NAMED_VARIANTS)}")
    for v in names:
        check_option("ablation variant", v, NAMED_VARIANTS)
    return names


def ablation_configs(base: RunConfig, variants: Iterable[str] = VARIANTS) -> list[tuple[str, RunConfig]]:
    """``(variant, RunConfig)`` for each ablation variant of ``base``."""
    out = []
    for v in check_variants(variants):
        changes = ABLATION_CHANGES[v]
        top = {k: val for k, val in changes.items() if "." not in k}
        train = {k.removeprefix("train."): val for k, val in changes.items() if k.startswith("train.")}
        options = {
            k.removeprefix("model_options."): val
            for k, val in changes.items()
            if k.startswith("model_options.")
        }
        if options:
            top["model_options"] = {**base.model_options, **options}
        cfg = replace(base, **top)
        if train:
            cfg = cfg.with_train(**train)
        out.append((v, cfg))
    return out


SCALE_KEYS: tuple[str, ...] = (
    "n_folds",
    "seed",
    "subjects",
    "train.max_epochs",
    "train.precision",
    "train.stack",
)
"""Settings that size a run without changing its recipe: runs differing only here share a cell."""


def json_normal(value: Any) -> Any:
    """JSON-normal form (tuples -> lists), so a setting compares equal however it was given."""
    return json.loads(json.dumps(value, default=str))


def variant_name(dev: dict[str, Any], recipe: str = "harness") -> str:
    """The variant a set of deviations from the ``recipe``'s default makes (scale deviations never
    count); ``"full"`` for none under the harness recipe, ``"paper-recipe"`` under the paper's."""
    rest = {k: v for k, v in dev.items() if k not in SCALE_KEYS}
    parts = [] if recipe == "harness" else [f"{recipe}-recipe"]
    if rest.pop("feature_config.published", None) is not None:
        # the dataset's own feature files: the other feature options follow from them, and the files are
        # the data set itself (their digests are its fingerprint; tables name the source in its label),
        # so the runs on them are the cells' default runs, not a variant of computed features
        rest = {k: v for k, v in rest.items() if not k.startswith("feature_config.")}
    for name in NAMED_VARIANTS:
        changes = {k: json_normal(v) for k, v in ABLATION_CHANGES[name].items()}
        if changes and all(k in rest and rest[k] == v for k, v in changes.items()):
            parts.append(name)
            for k in changes:
                rest.pop(k)
    if "features" in rest and rest["features"] is not None:
        parts.append("features=" + ",".join(rest.pop("features")))
    weights = rest.pop("train.loss_weights", None)
    if weights is not None:
        parts.append(f"loss-weights={float(weights[0]):g},{float(weights[1]):g}")
    if rest:
        payload = json.dumps(rest, sort_keys=True, default=str)
        parts.append("cfg-" + hashlib.sha256(payload.encode()).hexdigest()[:6])
    return "+".join(parts) or "full"
