"""The ``bench run`` command that fills a missing table cell: pasted, it makes a run that lands in that
cell, on that data set, in that MLflow store, and passes the table's ``where`` conditions.

What the command carries:

* the cell: model, protocol, split, audit, training method (``--method``) and the variant's own settings
  (``--no-dropout``, ``--features de``, ``--recipe paper``);
* the scale of a shown run (folds, seed, subjects, epoch cap), and the feature settings of its data set
  (``-F``: they make a data set of their own);
* every setting the ``where`` conditions fix (all of a variant's for ``variant=NAME``): with a flag where
  ``bench run`` has one (``--lr``, ``-M dropout=0.3``), else in a config file given inline
  (``--config <(printf ...)``, bash and zsh);
* the data the runs read: ``--synthetic`` for an embedded twin, else the folder they read (as
  ``"$DEAP_DIR"`` when that variable names it);
* the tracking URI as the user gave it (none when the default store was used).
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from bench.data.datasets import get_dataset
from bench.data.source import env_folder, generated_twin
from bench.results.store import other_settings
from bench.results.where import lookup, pinned, variant_settings
from bench.tracking.uris import resolve_tracking_uri
from protocols import experiment_kinds, get_protocol
from protocols.registry import PROTOCOLS

SCALE_FLAGS: tuple[tuple[str, str], ...] = (
    ("n_folds", "--folds"),
    ("seed", "--seed"),
    ("subjects", "--subjects"),
    ("train.max_epochs", "--epochs"),
)
"""The scale a fill-in command copies from a shown run, in this order."""
VALUE_FLAGS: dict[str, str] = {
    "train.precision": "--precision",
    "train.stack": "--stack",
    "train.lr": "--lr",
    "train.batch_size": "--batch-size",
    "train.loss_weights": "--loss-weights",
    "tasks": "--tasks",
    "features": "--features",
    "recipe": "--recipe",
}
"""Settings ``bench run`` takes as ``--flag VALUE``."""
SWITCHES: dict[str, tuple[Any, str]] = {
    "single_task": (True, "--single-task"),
    "train.dropout": (0.0, "--no-dropout"),
    "train.batch_norm": (False, "--no-batch-norm"),
    "train.lr_decay": (False, "--no-lr-decay"),
    "train.balance": (False, "--no-balance"),
}
"""Settings ``bench run`` sets with a switch, for the one value the switch gives."""
DATA_KEYS = ("dataset", "test_dataset")
"""Settings the data options carry (:func:`data_options`)."""


def subjects_arg(subjects: Sequence[int] | None) -> str | None:
    """``[1, 2, 3, 5]`` -> ``1-3,5`` (None for all subjects)."""
    if not subjects:
        return None
    subs = sorted(int(s) for s in subjects)
    parts, start, prev = [], subs[0], subs[0]
    for s in [*subs[1:], None]:
        if s is not None and s == prev + 1:
            prev = s
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if s is not None:
            start = prev = s
    return ",".join(parts)


def _word(value: Any) -> str:
    """A value as ``bench run`` reads it after a flag: lists comma-joined, numbers as JSON."""
    if isinstance(value, list | tuple):
        return ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)
    return value if isinstance(value, str) else json.dumps(value)


def setting_flags(settings: Mapping[str, Any]) -> list[str]:
    """``bench run`` options that make ``settings`` (flat keys, JSON values): flags where they exist,
    ``-M``/``-F`` for model and feature options, a config file given inline for the rest."""
    parts: list[str] = []
    toml: dict[str, list[str]] = {"": [], "train": []}
    for key, value in settings.items():
        value = value.item() if hasattr(value, "item") else value  # numpy scalars from a DataFrame row
        if key in DATA_KEYS or value is None:  # None: the default, which no file can name
            continue
        if key == "subjects":
            parts.append(f"--subjects {subjects_arg(value)}")
        elif key in dict(SCALE_FLAGS):
            parts.append(f"{dict(SCALE_FLAGS)[key]} {_word(value)}")
        elif key in SWITCHES and value == SWITCHES[key][0]:
            parts.append(SWITCHES[key][1])
        elif key in VALUE_FLAGS:
            parts.append(f"{VALUE_FLAGS[key]} {shlex.quote(_word(value))}")
        elif key.startswith(("model_options.", "feature_config.")):
            flag = "-M" if key.startswith("model_options.") else "-F"
            parts.append(f"{flag} {shlex.quote(key.split('.', 1)[1] + '=' + json.dumps(value))}")
        else:
            section, _, name = key.rpartition(".")
            toml.setdefault(section, []).append(f"{name} = {json.dumps(value)}")
    lines = toml.pop("") + [x for s, body in toml.items() if body for x in (f"[{s}]", *body)]
    if lines:
        parts.append("--config <(printf '%s\\n' " + " ".join(shlex.quote(x) for x in lines) + ")")
    return parts


def where_settings(conditions: Sequence[tuple[str, Any]], ref: pd.Series | None) -> dict[str, Any]:
    """The settings the ``where`` conditions fix, as a shown run ``ref`` has them (it met them): the
    values of the setting keys, and for ``variant=NAME`` every setting of ``ref``'s variant."""
    keys, whole = pinned(conditions)
    out: dict[str, Any] = {}
    if whole and ref is not None:
        out.update(other_settings(ref))
        recipe = ref["config"].get("recipe")
        if recipe and recipe != "harness":
            out["recipe"] = recipe
    for key, want in conditions:
        if key in keys:
            found, value = lookup(ref["config"], key) if ref is not None else (False, None)
            out[key] = value if found else want
    return out


def shown_uri(uri: str | None) -> str | None:
    """The tracking URI a command should name: as given, and none for the default store (what a caller
    that resolved the default to ``sqlite:////abs/path/mlflow.db`` passes on)."""
    return None if not uri or uri == resolve_tracking_uri(None) else uri


def _folds_from_subjects(protocol: str) -> bool:
    """``protocol``'s folds are subjects, so another protocol's fold count does not carry over to it (an
    unregistered protocol's runs are shown as they are: their fold count carries over)."""
    return protocol in PROTOCOLS and get_protocol(protocol).folds_from_subjects


def run_command(
    store,
    model: str,
    protocol: str,
    split: str,
    *,
    variant: str = "full",
    audit: str = "none",
    ref: pd.Series | None = None,
    data: list[str] | None = None,
    method: str = "none",
) -> str:
    """The ``bench run`` command that fills a missing cell, at the scale of ``ref`` (a shown run; default:
    the store's first), with the store's ``where`` settings, data (``data``: other data options than
    ``ref``'s) and tracking URI; ``method`` (a training method's cell, ``--method NAME``; ``none``: plain
    training, no flag, so every plain cell's command reads as before)."""
    parts = ["bench run", f"--model {model}", f"--protocol {protocol}", f"--split {split}"]
    parts += setting_flags(variant_settings(variant))
    if audit != "none":
        parts.append(f"--audit {audit}")
    if method != "none":
        parts.append(f"--method {shlex.quote(method)}")
    if ref is None and not store.parents.empty:
        ref = store.parents.iloc[0]
    settings: dict[str, Any] = {}
    if ref is not None:
        if ref["n_folds"] and (not _folds_from_subjects(protocol) or ref["protocol"] == protocol):
            settings["n_folds"] = ref["n_folds"]
        if ref["seed"]:
            settings["seed"] = ref["seed"]
        settings["subjects"] = ref["subjects"]
        if "train.max_epochs" in ref["settings"]:
            settings["train.max_epochs"] = ref["settings"]["train.max_epochs"]
        settings.update({k: v for k, v in ref["settings"].items() if k.startswith("feature_config.")})
    for key, value in where_settings(store.conditions, ref).items():
        if key not in variant_settings(variant):
            settings[key] = value
    parts += setting_flags(settings)
    parts += data_options(store.data_kind, ref) if data is None else data
    uri = shown_uri(store.tracking_uri)
    if uri:
        parts.append(f"--tracking-uri {shlex.quote(uri)}")
    return " ".join(parts)


def _inside(path: str | Path, folder: str | Path | None) -> bool:
    """``path`` is ``folder`` or inside it (a dataset's files may sit below the folder given)."""
    if not folder:
        return False
    p, f = Path(path).expanduser().resolve(), Path(folder).expanduser().resolve()
    return p == f or f in p.parents


def _folder(dataset: str, source: str) -> str | None:
    """How a command names the folder a run read ``dataset`` from: None for its embedded synthetic twin,
    ``"$DEAP_DIR"`` (the dataset's variable) where that names it, else the folder itself."""
    if _inside(source, generated_twin(dataset)):
        return None
    if _inside(source, env_folder(dataset)):
        return f'"${get_dataset(dataset).env}"'
    return shlex.quote(source)


def data_options(kind: str, ref: pd.Series | None = None) -> list[str]:
    """The data options of a fill-in command for runs of data kind ``kind``: the folder ``ref`` read
    (``--deap DIR``, ``--dataset NAME --data-dir DIR``), or ``--synthetic`` for an embedded twin; where
    the run did not record its folder, DEAP's options as before other datasets were registered
    (``--synthetic`` / ``--deap "$DEAP_DIR"``) or the dataset's variable; ``--test`` for a cross-dataset
    pair (``ref``'s)."""
    synthetic = kind == "synthetic" or kind.endswith("-synthetic")
    source = str(ref["source"]) if ref is not None and "source" in ref and ref["source"] else ""
    if kind in ("synthetic", "deap"):
        folder = _folder("deap", source) if source else ('"$DEAP_DIR"' if not synthetic else None)
        return [f"--deap {folder}"] if folder else ["--synthetic"]
    name = kind.removesuffix("-synthetic")
    pair = str(ref["tags"].get("dataset", "")) if ref is not None else ""
    train, _, test = pair.partition(">")
    if name in experiment_kinds():
        if not test:
            return ["--synthetic"] if synthetic else []
        out = ["--dataset", train, "--test", test]
        a, arrow, b = source.partition(" -> ")
        if arrow and Path(a).is_absolute() and Path(b).is_absolute():
            folders = [_folder(train, a), _folder(test, b)]
            if folders == [None, None]:
                return [*out, "--synthetic"]
            named = [f"--data-dir {folders[0]}"] if folders[0] else []
            return out + named + ([f"--test-data-dir {folders[1]}"] if folders[1] else [])
        if synthetic:
            return [*out, "--synthetic"]
        folders = f'--data-dir "${get_dataset(train).env}" --test-data-dir "${get_dataset(test).env}"'
        return [*out, folders]
    folder = _folder(name, source) if source else (None if synthetic else f'"${get_dataset(name).env}"')
    return ["--dataset", name, f"--data-dir {folder}" if folder else "--synthetic"]
