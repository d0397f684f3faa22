"""``where``: picking runs by their settings, and the table cell the picked runs are shown in.

A condition ``key=value`` keeps the runs whose resolved config (the flat MLflow params, ``train.lr``,
``model_options.dropout``, ``threshold``) or ``bench.`` tag (``variant``, ``code_version``) has that value.

Picking runs is half of it: a run made with a non-default setting is a variant of its own
(:mod:`bench.runs.identity`: ``cfg-1a2b3c`` for a learning rate of 1e-4), and the tables ask for named
variants (``full``, ``no-dropout``). So a setting the conditions fix is taken out of the variant the run
is shown as (:func:`shown_variant`): under ``where=["train.lr=0.0001"]`` the runs with that learning
rate and nothing else changed are the ``full`` cells, the ones with dropout off too are ``no-dropout``.
Every shown run has the fixed settings, and runs whose other settings differ still get other variants,
so no cell ever mixes runs of different settings (runs differing only in scale compete as always).
``variant=NAME`` fixes all the settings of that variant: its runs are the ``full`` cells.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import fields
from typing import Any

from bench.config.ablation import ABLATION_CHANGES, SCALE_KEYS, variant_name
from bench.config.run import RunConfig, TrainConfig
from bench.core.errors import ConfigError
from bench.results.naming import arg, arg_value, is_cli

CELL_KEYS: tuple[str, ...] = ("model", "protocol", "split", "audit")
"""Conditions on these pick cells, not settings: a table lists only the cells they allow."""
WHOLE_VARIANT = "variant"
"""The condition that fixes every setting of a variant."""
PREFIXES: tuple[str, ...] = ("model_options.", "feature_config.")


def json_value(value: str | None, default: Any = None) -> Any:
    """``value`` parsed as JSON where it parses, else as it is; ``default`` for None (MLflow params and
    tags are strings: ``"0.0001"`` is a number, ``"whole-set"`` a word)."""
    if value is None:
        return default
    try:
        return json.loads(value)
    except ValueError:
        return value


def lookup(settings: dict, key: str) -> tuple[bool, Any]:
    """``(found, value)`` of a dotted key in a nested settings dict."""
    node: Any = settings
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return False, None
        node = node[part]
    return True, node


def parse_where(items: Sequence[str] | None) -> list[tuple[str, Any]]:
    """``["train.max_epochs=200"]`` -> ``[("train.max_epochs", 200)]`` (values JSON where they parse)."""
    if isinstance(items, str):  # where="seed=1" from Python: one condition, not its characters
        items = [items]
    out = []
    for item in items or ():
        key, sep, value = str(item).partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            example = "--where train.max_epochs=200" if is_cli() else "where=['train.max_epochs=200']"
            raise ConfigError(f"{arg_value('where', item)}: expected key=value, e.g. {example}")
        out.append((key, json_value(value.strip())))
    return out


def matches(row: Mapping, key: str, want: Any) -> bool | None:
    """Whether a run (a store row) has ``key == want``; None when it has no such setting or tag."""
    found, value = lookup(row["config"], key)
    if not found:
        tag = key.removeprefix("bench.")
        found, value = tag in row["tags"], row["tags"].get(tag)
        value = json_value(value)
    if not found:
        return None
    if isinstance(value, float) and isinstance(want, int | float) and not isinstance(want, bool):
        return math.isclose(value, float(want))
    if isinstance(value, list) and isinstance(want, str):  # subjects=1,2 or features=de
        return [str(v) for v in value] == [w.strip() for w in want.split(",")]
    return value == want or str(value) == str(want)


def no_such_setting(key: str) -> ConfigError:
    """The error for a condition on a key no run has."""
    return ConfigError(
        f"{arg_value('where', key)}: no run has this setting; settings look like train.max_epochs, "
        "n_folds, seed, subjects, threshold, model_options.NAME, feature_config.NAME, variant, code_version"
    )


def filter_runs(rows: list[dict], conditions: Sequence[tuple[str, Any]]) -> list[dict]:
    """The rows meeting every condition; a key no row has is a one-line :class:`ConfigError`."""
    for key, want in conditions:
        hits = [matches(r, key, want) for r in rows]
        if hits and all(h is None for h in hits):
            raise no_such_setting(key)
        rows = [r for r, h in zip(rows, hits, strict=True) if h is True]
    return rows


def is_setting(key: str) -> bool:
    """``key`` is a setting of a run's config that ``bench run`` can set (not a tag, not a cell key)."""
    top = {f.name for f in fields(RunConfig)} - set(RunConfig.NON_KEY) - {"train", *PREFIXES}
    train = {f"train.{f.name}" for f in fields(TrainConfig)}
    return key not in CELL_KEYS and (key in top or key in train or key.startswith(PREFIXES))


def pinned(conditions: Sequence[tuple[str, Any]]) -> tuple[frozenset[str], bool]:
    """The settings the conditions fix, and whether one of them is ``variant=`` (fixing all of them)."""
    keys = frozenset(k for k, _ in conditions if is_setting(k))
    return keys, any(k == WHOLE_VARIANT for k, _ in conditions)


def shown_variant(row: Mapping, keys: frozenset[str], whole: bool) -> str:
    """The variant a picked run is shown as: the one its deviations make without the fixed settings.

    ``keys``: the settings the conditions fix; ``whole``: a ``variant=`` condition fixed them all
    (``full``). A run none of whose deviations is fixed keeps its own variant, exactly as tagged.
    """
    if whole:
        return "full"

    dev: dict = row["settings"]
    recipe = str(row["config"].get("recipe", "harness") or "harness")
    if not (keys & set(dev) - set(SCALE_KEYS)) and not ("recipe" in keys and recipe != "harness"):
        return row["variant"]  # no fixed setting names the variant (scale never does): as tagged

    rest = {k: v for k, v in dev.items() if k not in keys}
    return variant_name(rest, "harness" if "recipe" in keys else recipe)


def variant_settings(variant: str) -> dict[str, Any]:
    """The settings a variant's name stands for (``no-dropout+paper-recipe`` -> dropout 0, recipe paper);
    a ``cfg-`` hash names none that can be read back (the ``where`` settings carry them)."""
    out: dict[str, Any] = {}
    for part in variant.split("+"):
        if part in ABLATION_CHANGES:
            out.update({k: list(v) if isinstance(v, tuple) else v for k, v in ABLATION_CHANGES[part].items()})
        elif part.endswith("-recipe"):
            out["recipe"] = part.removesuffix("-recipe")
        elif part.startswith("features="):
            out["features"] = part.removeprefix("features=").split(",")
        elif part.startswith("loss-weights="):
            out["train.loss_weights"] = [float(w) for w in part.removeprefix("loss-weights=").split(",")]
    return out


def cell_allowed(conditions: Sequence[tuple[str, Any]], model: str, protocol: str, split: str,
                 audit: str = "none", variant: str = "full") -> bool:  # fmt: skip
    """Whether a run meeting the conditions can fill a cell: a table lists as "not run" only such cells.

    Conditions on cell keys allow their own value only (``model=mtcnn``: no other model); a variant
    changing a setting the conditions fix cannot exist under them (with ``train.dropout=0`` the runs
    without dropout are the ``full`` cells: ``no-dropout`` would be the same runs again).
    """
    cell = {"model": model, "protocol": protocol, "split": split, "audit": audit}
    for key, want in conditions:
        if key in cell:
            wanted = (",".join(map(str, want)) or "none") if isinstance(want, list) else str(want)
            if wanted != cell[key]:
                return False
    keys, whole = pinned(conditions)
    return variant == "full" or not (whole or keys & set(variant_settings(variant)))


def describe(conditions: Sequence[tuple[str, Any]], items: Sequence[str]) -> str:
    """The conditions as the user gave them: ``--where a=1 --where b=2`` or ``where=['a=1', 'b=2']``."""
    if is_cli():
        return " ".join(f"--where {i}" for i in items)
    return f"{arg('where')}={list(items)!r}"
