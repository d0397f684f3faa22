"""Run settings from what a user typed or passed: subject ranges, ``key=value`` overrides, config files,
comma-separated choices and loss weights, merged into the dict :meth:`RunConfig.from_dict` checks.

``bench run`` and :func:`bench.run` (and ``bench tune``, ``bench data``) read their values through these
functions, so both refuse the same values with the same one-line :class:`~bench.core.errors.ConfigError`.
"""

from __future__ import annotations

import json
import math
import re
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path

from bench.core.checks import check_option, check_type
from bench.core.errors import ConfigError
from bench.data.datasets import get_dataset
from bench.runs.tuning_study import TunedWeights, best_weights

_RANGE = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+))?\s*$")


def parse_subjects(text: str | None, dataset: str | None = None) -> list[int] | None:
    """Parse ``"1-32"``, ``"1,3,5-8"`` into sorted subject numbers (None stays None).

    Subjects are numbered from 1; with ``dataset`` (a registered name) also at most its subject count,
    and the message names its numbering. Without it the range is left to the run config's resolution
    (bench.runs.identity), which checks it per dataset.
    """
    if text is None or text.strip().lower() in ("", "all"):
        return None
    ds = None if dataset is None else get_dataset(dataset)
    high = ds.n_subjects if ds is not None else None
    numbered = "numbered from 1" if ds is None else f"numbered 1-{high}"
    numbered += "" if ds is None or ds.name == "deap" else f" in {ds.title}"
    out: set[int] = set()
    for part in text.split(","):
        m = _RANGE.match(part)
        if not m:
            raise ConfigError(f"--subjects {text!r}: expected numbers and ranges like '1-32' or '1,3,5-8'")
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
        if lo < 1 or lo > hi or (high is not None and hi > high):
            raise ConfigError(f"--subjects {text!r}: subjects are {numbered}")
        out.update(range(lo, hi + 1))
    return sorted(out)


def parse_overrides(items: list[str] | None, option: str) -> dict:
    """Parse repeated ``key=value`` options; values are JSON when they parse, else strings."""
    out: dict = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{option} {item!r}: expected key=value")
        try:
            out[key.strip().replace("-", "_")] = json.loads(value)
        except ValueError:
            out[key.strip().replace("-", "_")] = value
    return out


def read_config_file(path: Path | None) -> dict:
    """Read a TOML or JSON config file into a dict (missing or bad file: one-line error).

    Both formats are UTF-8 by definition; a file in another encoding (a Windows editor's cp1252, say)
    and a JSON file whose top level is not an object of options are refused with what to do.
    """
    if path is None:
        return {}
    kind = "JSON" if str(path).endswith(".json") else "TOML"
    try:
        text = Path(path).read_bytes().decode("utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}); "
            f"{kind} config files are UTF-8: save it as UTF-8"
        ) from None
    try:
        doc = json.loads(text) if kind == "JSON" else tomllib.loads(text)
    except ValueError as exc:
        raise ConfigError(f"{path}: not valid {kind} ({exc})") from None
    if not isinstance(doc, dict):  # TOML's top level is always a table
        got = JSON_KINDS.get(type(doc), type(doc).__name__)
        raise ConfigError(f'{path}: expected a JSON object of options ({{"model": "mtcnn", ...}}), not {got}')
    return doc


JSON_KINDS = {list: "an array", str: "a string", int: "a number", float: "a number", bool: "true/false",
              type(None): "null"}  # fmt: skip
"""JSON's names of the values ``json.loads`` returns, for messages about a file's top level."""


def words(value: str | Iterable | None) -> str | None:
    """A value as the CLI types it: ``"de,psd"`` stays, ``("de", "psd")`` or ``[1, 2]`` is comma-joined
    (what a Python caller passes for ``--features``, ``--tasks``, ``--subjects``, ``--loss-weights``)."""
    if value is None or isinstance(value, str):
        return value
    return ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)


def csv_choices(
    text: str | Iterable[str] | None, what: str, allowed: tuple[str, ...]
) -> tuple[str, ...] | None:
    """Comma-separated values (or a sequence of them), each one of ``allowed``.

    Parameters
    ----------
    text : str or iterable of str or None
        ``"valence,arousal"``, or ``("valence", "arousal")``; None: not given.
    what : str
        The option's flag, for the message (``--tasks``).
    allowed : tuple of str
        The values allowed.

    Returns
    -------
    tuple of str or None
        The values, lower-cased, in the order given.

    Raises
    ------
    ConfigError
        A value not in ``allowed`` (or nothing at all).
    """
    text = words(text)
    if text is None:
        return None
    items = tuple(t.strip().lower() for t in text.split(",") if t.strip())
    if not items:
        check_option(what, text, allowed)
    for item in items:
        check_option(what, item, allowed)
    return items


def tuned_weights(text: str | None, storage: str | None) -> TunedWeights | None:
    """``tuned:STUDY`` -> the best trial of that ``bench tune`` study (its loss weights and tags); any
    other value -> None (``storage`` only applies to a study)."""
    if text is None or not text.strip().lower().startswith("tuned:"):
        if storage is not None:
            raise ConfigError("--storage only applies with --loss-weights tuned:STUDY")
        return None
    return best_weights(text.strip()[len("tuned:") :].strip(), storage)


def loss_weights(
    value: str | Iterable[float] | None, storage: str | None = None
) -> tuple[float, float] | None:
    """``"w_valence,w_arousal"`` (or a pair of numbers, or ``tuned:STUDY``) -> the two loss weights.

    Raises
    ------
    ConfigError
        Not two non-negative finite numbers with a positive sum; an unknown study.
    """
    text = words(value)
    if text is None:
        return None
    tuned = tuned_weights(text, storage)
    if tuned is not None:
        return tuned.weights
    try:
        w = tuple(float(v) for v in text.split(","))
    except ValueError:
        w = ()
    if len(w) != 2 or any(not math.isfinite(v) or v < 0 for v in w) or sum(w) <= 0:
        raise ConfigError(f"--loss-weights {text!r}: expected two non-negative numbers 'w_valence,w_arousal'")
    return w


def overrides(value: Mapping | Iterable[str] | None, option: str) -> dict:
    """Model (``-M``) or feature (``-F``) options: a dict as given, or ``key=value`` strings parsed by
    :func:`parse_overrides` (dashes in keys become underscores either way)."""
    if isinstance(value, Mapping):
        return {str(k).strip().replace("-", "_"): v for k, v in value.items()}
    return parse_overrides(list(value) if value is not None else None, option)


def build_config(file_cfg: dict, **cli) -> dict:
    """Merge a config file (TOML/JSON: top-level run keys, [train], [features], [model]) with CLI values.

    ``model = "mtcnn"`` at top level is the model name, like every other top-level run key; a
    ``[model]`` table holds the model's options (``-M``). CLI values override the file.
    """
    file_cfg = dict(file_cfg)
    model = file_cfg.pop("model", None)
    if isinstance(model, dict):
        file_cfg["model_options"] = model
    elif model is not None:
        file_cfg["model"] = check_type("model", model, str, "a model name or a [model] table of options")
    for key, what in (("train", "[train]"), ("features", "[features]"), ("model_options", "[model]")):
        check_type(key, file_cfg.get(key, {}), dict, f"a {what} table")
    d = {k: v for k, v in file_cfg.items() if k not in ("train", "features", "model_options")}
    train = dict(file_cfg.get("train", {}))
    d["feature_config"] = dict(file_cfg.get("features", {}))
    d["model_options"] = dict(file_cfg.get("model_options", {}))
    for k, v in cli.pop("train").items():
        if v is not None:
            train[k] = v
    d["feature_config"].update(cli.pop("feature_config"))
    d["model_options"].update(cli.pop("model_options"))
    for k, v in cli.items():
        if v is not None:
            d[k] = v
    d["train"] = train
    return d
