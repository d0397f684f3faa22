"""An experiment grid: many runs declared in one TOML file (or a built-in preset), sized by a scale.

``bench reproduce`` runs a grid; this module only declares it: it parses and checks the file, expands
it into one :class:`GridEntry` (a :class:`~bench.config.run.RunConfig`) per run and drops duplicates. It
reads no data and tracks nothing. A grid entry is an ordinary run: its run key is that of the same
``bench run`` command, so the two resume each other.

The format (every key optional except ``[[runs]]``; nothing else is allowed)::

    name = "my-grid"            # default: the file's stem
    scale = "smoke"             # a named scale (GRID_SCALES) ...
    [scale]                     # ... or a table; missing keys are the "small" scale's
    subjects = "1-3"            # "all" | "1-32" | "1,3,5-8" | [1, 2, 3]
    n_folds = 3
    max_epochs = 1
    seeds = [0]
    [data]
    dataset = "deap"            # a registered dataset (default deap)
    dir = "/path/to/data"       # its folder, relative to the file's; default: its environment variable,
                                # else its embedded synthetic twin (deap = "DIR": DEAP's shorthand)
    [[runs]]                    # each block is a cartesian product; the grid is their union
    models = "all"              # or ["mtcnn", "4dcrnn"]; "all": every registered model, registry order
    protocols = ["subject-specific", "whole-set"]
    splits = ["trial"]          # default: each protocol's default split
    variants = ["full"]         # named variants (bench.config.ablation.NAMED_VARIANTS) or "all" (the paper's
                                # ablation grid, bench.config.ablation.VARIANTS); default ["full"]
    audits = ["none"]           # "none" | "select-on-test"; default ["none"]
    methods = ["none"]          # training methods (bench run --method; `bench methods` lists them), "none":
                                # plain training; default ["none"]

A single name may be given as a string instead of a one-item list. ``load_grid(scale=...)`` (the CLI's
``--scale``) replaces the file's scale, ``dataset=`` and ``deap=`` (a folder of the dataset) its ``[data]``.

What the expansion decides, so that a grid never trains the same thing twice or something meaningless:

* **duplicates**: entries are compared by the fingerprint of their resolved config; the first one is
  kept. A variant that resolves to another entry's run (``only-de`` of 4D-CRNN, whose input is DE
  already) is listed in :attr:`Grid.skipped` with the label it equals; the same run asked for twice under
  the same label (the ablation's ``full`` and the comparison's run) is dropped silently.
* **variants a model cannot express** are skipped with the reason: whatever
  :func:`bench.runs.resolved.resolve_run` refuses (no dropout to switch off, single-task already), the feature
  ablations of a model whose input is not DE+PSD (they would swap its input, not remove a part of it),
  and every variant but ``full`` of a trivial baseline (it looks at the training labels only).
* **methods a model cannot take** are skipped likewise, with :func:`~bench.runs.resolved.resolve_run`'s
  reason (``ea`` aligns the EEG signal: a brain-map model has none; ``dann`` needs one feature trunk).
* **cross-subject folds** (:func:`subject_folds`): where the number of subjects is known without reading
  data (the scale's subjects, or the embedded synthetic default's 4), the folds of a protocol split by
  subject are at most one per subject, and leave-one-subject-out when fewer folds would leave a training
  part with a single subject (no validation subject); on a DEAP folder with all subjects the scale's
  folds are used.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bench.config.ablation import NAMED_VARIANTS, VARIANTS, ablation_configs
from bench.config.run import AUDITS, RunConfig, TrainConfig
from bench.core.checks import check_name, check_number, check_option, check_type
from bench.core.errors import ConfigError
from bench.data.datasets import dataset_names, get_dataset
from bench.data.source import twin_config
from bench.data.synthetic import SyntheticConfig
from bench.models.registry import get_model_info, list_models
from bench.runs.presets import BUILT_IN_GRIDS
from bench.runs.resolved import ResolvedRun, resolve_run
from bench.training.methods import NONE, method_names
from protocols import get_protocol, list_protocols

GRID_SCALES: tuple[str, ...] = ("smoke", "small", "full")
DEFAULT_SCALE = "small"
DEFAULT_PRESET = "rudakov2021"
GRID_AUDITS: tuple[str, ...] = ("none", *AUDITS)
FEATURE_VARIANTS = ("only-de", "only-psd", "plus-dasm", "plus-hjorth")
"""Variants that remove one of the DE+PSD inputs or add maps to them: meaningful only for a model that
takes both."""

TOP_KEYS = ("name", "scale", "data", "runs")
SCALE_TABLE_KEYS = ("subjects", "n_folds", "max_epochs", "seeds")
DATA_KEYS = ("dataset", "dir", "deap")
RUN_KEYS = ("models", "protocols", "splits", "variants", "audits", "methods")


@dataclass(frozen=True)
class Scale:
    """How big every run of a grid is: the settings that size a run without changing its recipe.

    ``subjects=None`` means every subject of the data (32 on DEAP, 4 on the embedded synthetic default).
    """

    subjects: tuple[int, ...] | None
    n_folds: int
    max_epochs: int
    seeds: tuple[int, ...]
    synthetic_trials: int | None = None
    """Trials per subject of the synthetic DEAP this scale generates when no DEAP folder is given (None: the
    embedded default's 40). Only ``smoke`` sets it: a pipeline check, not a result, in minutes."""

    def synthetic(self, dataset: str = "deap"):
        """The SyntheticConfig this scale runs on without a folder of ``dataset``, or None (its embedded
        twin)."""
        if self.synthetic_trials is None:
            return None

        ds = get_dataset(dataset)
        # a categorical twin holds every session's clips (its writer ignores n_trials): say so
        n_trials = ds.n_trials if ds.categorical else min(self.synthetic_trials, ds.n_trials)
        n_subjects = max(self.subjects or (4,))
        return SyntheticConfig(n_subjects=n_subjects, n_trials=n_trials, seed=0, dataset=dataset)


SCALES: dict[str, Scale] = {
    # A check that the whole pipeline runs, in minutes on 2 cores: without --deap it generates its own
    # small synthetic DEAP (3 subjects x 12 trials); 3 subjects, so that cross-subject (leave one subject
    # out) keeps a validation subject in every training part.
    "smoke": Scale(subjects=(1, 2, 3), n_folds=2, max_epochs=1, seeds=(0,), synthetic_trials=12),
    "small": Scale(subjects=None, n_folds=5, max_epochs=10, seeds=(0,)),
    # The paper's: every subject, 5 folds, 200 epochs (early stopping, patience 16, ends sooner).
    "full": Scale(subjects=None, n_folds=5, max_epochs=200, seeds=(0,)),
}

PRESETS = BUILT_IN_GRIDS
"""Built-in grids as TOML text (:mod:`bench.runs.presets`)."""


@dataclass(frozen=True)
class GridEntry:
    """One run of a grid: its cell and its config, resolved by :func:`bench.runs.resolved.resolve_run` (what
    ``bench run`` with the same flags runs: same run key, so the two resume each other)."""

    model: str
    protocol: str
    split: str
    variant: str
    audit: str
    seed: int
    run: ResolvedRun
    label: str
    method: str = NONE
    """The training method (``RunConfig.method``; ``none``: plain training)."""

    @property
    def config(self) -> RunConfig:
        """The resolved config of ``run`` (resolved once, here; :func:`bench.runs.plan.prepare` takes it)."""
        return self.run.config


@dataclass(frozen=True)
class Grid:
    """A grid expanded into runs: entries (no two with the same config) and what was left out, why."""

    name: str
    scale_name: str
    """A name of :data:`SCALES`, or ``"custom"`` for a ``[scale]`` table."""
    scale: Scale
    deap: str | None
    """The folder of the dataset (named for DEAP, the only dataset when grids were introduced); None: its
    environment variable, else its embedded synthetic twin."""
    entries: tuple[GridEntry, ...]
    skipped: tuple[tuple[str, str], ...]
    """``(label, reason)`` of each variant left out."""
    dataset: str = "deap"
    """The registered dataset every run of the grid reads."""


def preset_text(name: str) -> str:
    """The TOML text of a built-in preset (so the CLI can print it as a starting point)."""
    return PRESETS[check_option("preset", name, tuple(PRESETS))]


def entry_label(model: str, protocol: str, split: str, variant: str, audit: str, seed: int,
                method: str = NONE) -> str:  # fmt: skip
    """``mtcnn|whole-set|trial|full``, with ``|select-on-test`` when audited, ``|dann`` with a training
    method and ``|seedN`` when N != 0."""
    label = f"{model}|{protocol}|{split}|{variant}"
    if audit != "none":
        label += f"|{audit}"
    if method != NONE:
        label += f"|{method}"
    if seed != 0:
        label += f"|seed{seed}"
    return label


def _in(source: str, fn, *args, **kwargs):
    """Run a check; its one-line ConfigError is prefixed with where the value came from."""
    try:
        return fn(*args, **kwargs)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None


_RANGE = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$")


def parse_subjects(key: str, value: Any) -> tuple[int, ...] | None:
    """``"all"`` -> None; ``"1-3"``, ``"1,3,5-8"`` or ``[1, 2, 3]`` -> sorted subject numbers (from 1; the
    grid's dataset bounds them, :func:`expand`)."""
    what = "'all', a range like '1-32' or '1,3,5-8', or a list of subject numbers from 1"
    check_type(key, value, (str, list, tuple), what)
    if isinstance(value, str):
        if value.strip().lower() == "all":
            return None
        out: set[int] = set()
        for part in value.split(","):
            m = _RANGE.match(part)
            lo, hi = (int(m.group(1)), int(m.group(2) or m.group(1))) if m else (0, -1)
            if not m or lo < 1 or lo > hi:
                raise ConfigError(f"{key}={value!r}: expected {what}")
            out.update(range(lo, hi + 1))
        return tuple(sorted(out))
    if not value:
        raise ConfigError(f"{key}={value!r}: expected {what}")
    for s in value:
        check_number(key, s, integer=True, low=1)
    return tuple(sorted({int(s) for s in value}))


def _names(
    key: str, value: Any, allowed: tuple[str, ...], *, all_ok: bool | tuple[str, ...] = False
) -> tuple[str, ...]:
    """A name or a non-empty list of names, each one of ``allowed``; ``"all"`` where ``all_ok`` is all of
    ``allowed`` (True) or these names (a tuple: the variants' "all" is the paper's grid)."""
    what = "a name or a list of names" + (", or 'all'" if all_ok else "")
    check_type(key, value, (str, list, tuple), what)
    if isinstance(value, str):
        if all_ok and value == "all":
            return allowed if all_ok is True else all_ok
        value = [value]
    if not value:
        raise ConfigError(f"{key}={value!r}: expected {what}")
    for v in value:
        check_option(key, v, allowed)
    return tuple(dict.fromkeys(value))


def _keys(key: str, table: Any, allowed: tuple[str, ...]) -> dict:
    check_type(key, table, dict, "a table")
    for k in table:
        check_option(f"{key} key", k, allowed)
    return table


def _scale(value: Any) -> tuple[str, Scale]:
    if isinstance(value, str):
        return check_option("scale", value, GRID_SCALES), SCALES[value]
    table = _keys("[scale]", value, SCALE_TABLE_KEYS)
    base = SCALES[DEFAULT_SCALE]
    subjects = parse_subjects("scale.subjects", table["subjects"]) if "subjects" in table else base.subjects
    n_folds = check_number("scale.n_folds", table.get("n_folds", base.n_folds), integer=True, low=2)
    epochs = check_number("scale.max_epochs", table.get("max_epochs", base.max_epochs), integer=True, low=1)
    return "custom", Scale(subjects, n_folds, epochs, _seeds("scale.seeds", table.get("seeds", base.seeds)))


def _seeds(key: str, value: Any) -> tuple[int, ...]:
    check_type(key, value, (list, tuple), "a non-empty list of integers >= 0")
    if not value:
        raise ConfigError(f"{key}={value!r}: expected a non-empty list of integers >= 0")
    for s in value:
        check_number(key, s, integer=True, low=0)
    return tuple(dict.fromkeys(int(s) for s in value))


def _run_blocks(runs: Any) -> list[dict[str, tuple[str, ...]]]:
    """Each ``[[runs]]`` block with every value checked and defaults filled in (splits: None = default)."""
    what = "one or more [[runs]] tables"
    if not isinstance(runs, list) or not runs:
        raise ConfigError(f"runs={runs!r}: expected {what}")
    models = tuple(m.name for m in list_models())
    protocols = tuple(p.name for p in list_protocols())
    blocks = []
    for i, block in enumerate(runs, start=1):
        at = f"runs[{i}]"
        _keys(at, block, RUN_KEYS)
        if "models" not in block or "protocols" not in block:
            raise ConfigError(f"{at}: 'models' and 'protocols' are required")
        b = {
            "models": _names(f"{at}.models", block["models"], models, all_ok=True),
            "protocols": _names(f"{at}.protocols", block["protocols"], protocols),
            "variants": _names(
                f"{at}.variants", block.get("variants", "full"), NAMED_VARIANTS, all_ok=VARIANTS
            ),
            "audits": _names(f"{at}.audits", block.get("audits", "none"), GRID_AUDITS),
            "methods": _names(f"{at}.methods", block.get("methods", NONE), method_names()),
            "splits": None,
        }
        if "splits" in block:
            splits = _names(f"{at}.splits", block["splits"], ("segment", "trial", "subject"))
            for pr in b["protocols"]:
                for sp in splits:
                    check_option(f"{at}.splits (protocol {pr})", sp, get_protocol(pr).splits)
            b["splits"] = splits
        blocks.append(b)
    return blocks


def _n_subjects(scale: Scale, deap: str | None, dataset: str = "deap") -> int | None:
    """Subjects the grid's runs will see, when known without reading data."""
    if scale.subjects is not None:
        return len(scale.subjects)
    if deap is None:
        return twin_config(dataset).n_subjects
    return None


def subject_folds(n_folds: int, n_subjects: int) -> int:
    """Folds of a split by subject: at most one per subject, and leave-one-subject-out when fewer folds
    would leave a training part with one subject only (its validation part needs a subject of its own)."""
    k = max(2, min(n_folds, n_subjects))
    if n_subjects - math.ceil(n_subjects / k) < 2:
        return n_subjects
    return k


def _skip_reason(model: str, variant: str) -> str | None:
    """Why ``variant`` means nothing for ``model`` although its config would be accepted, or None."""
    info = get_model_info(model)
    if variant == "full":
        return None
    if not info.trainable:
        return f"{model} is a trivial baseline (training labels only): {variant} changes nothing"
    if variant in FEATURE_VARIANTS and tuple(info.input_spec.features) != ("de", "psd"):
        feats = "+".join(info.input_spec.features)
        return f"{model} takes {feats}, not de+psd: {variant} would swap its input, not ablate it"
    return None


def expand(
    spec: str | dict,
    *,
    source: str,
    base_dir: Path | None = None,
    scale: str | None = None,
    deap: str | None = None,
    seeds: Iterable[int] | None = None,
    dataset: str | None = None,
) -> Grid:
    """A grid from a spec: TOML text, or its tables already as a dict (``bench ablate`` builds one).

    ``source`` names it in errors (a path, or ``preset NAME``), a relative ``data.deap`` is taken from
    ``base_dir`` (the file's folder). The other arguments are :func:`load_grid`'s.
    """
    doc = spec
    if isinstance(spec, str):
        try:
            doc = tomllib.loads(spec)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{source}: not valid TOML ({exc})") from None
    _in(source, _keys, "grid file", doc, TOP_KEYS)
    key = "name" if "name" in doc else 'name (the file\'s; set name = "..." in it)'
    name = _in(source, check_name, key, doc.get("name", Path(source).stem))
    if scale is not None:
        scale_name, sc = scale, SCALES[_in(source, check_option, "scale", scale, GRID_SCALES)]
    else:
        scale_name, sc = _in(source, _scale, doc.get("scale", DEFAULT_SCALE))
    if seeds is not None:
        if isinstance(seeds, Iterable) and not isinstance(seeds, (str, list, tuple)):
            seeds = list(seeds)
        sc = replace(sc, seeds=_in(source, _seeds, "seeds", seeds))
    dataset, deap = _in(source, _data, doc.get("data", {}), dataset, deap, base_dir)
    if sc.subjects is not None:
        ds = get_dataset(dataset)
        for s in sc.subjects:
            key = f"scale.subjects ({ds.title})"
            _in(source, check_number, key, s, integer=True, low=1, high=ds.n_subjects)
    blocks = _in(source, _run_blocks, doc.get("runs"))
    n_subjects = _n_subjects(sc, None if deap is None else str(deap), dataset)
    entries: dict[str, GridEntry] = {}
    skipped: list[tuple[str, str]] = []
    for b in blocks:
        for model in b["models"]:
            for protocol in b["protocols"]:
                proto = get_protocol(protocol)
                for split in b["splits"] or (proto.default_split,):
                    n_folds = sc.n_folds
                    if split == "subject" and n_subjects is not None:
                        n_folds = subject_folds(n_folds, n_subjects)
                    for audit in b["audits"]:
                        for method in b["methods"]:
                            for seed in sc.seeds:
                                base = RunConfig(
                                    model=model, protocol=protocol, split=split, n_folds=n_folds, seed=seed,
                                    subjects=sc.subjects, train=TrainConfig(max_epochs=sc.max_epochs),
                                    audit=() if audit == "none" else (audit,), dataset=dataset, method=method,
                                )  # fmt: skip
                                for variant, cfg in ablation_configs(base, b["variants"]):
                                    label = entry_label(model, protocol, split, variant, audit, seed, method)
                                    entry = _entry(cfg, label, (model, protocol, split, variant, audit, seed),
                                                   method, entries)  # fmt: skip
                                    if isinstance(entry, GridEntry):
                                        entries[entry.run.config.fingerprint()] = entry
                                    elif entry is not None and (label, entry) not in skipped:
                                        skipped.append((label, entry))
    return Grid(name, scale_name, sc, deap, tuple(entries.values()), tuple(skipped), dataset)


def _entry(cfg: RunConfig, label: str, cell: tuple, method: str,
           entries: dict[str, GridEntry]) -> GridEntry | str | None:  # fmt: skip
    """One expanded config: a new :class:`GridEntry`, the reason it is skipped (a variant or method the
    model cannot take: :func:`_skip_reason`, :func:`resolve_run`'s refusal; the same run as an entry
    of another label), or None for the same run asked for again under the same label."""
    model, _, _, variant, _, _ = cell
    reason = _skip_reason(model, variant)
    if reason is not None:
        return reason
    try:
        run = resolve_run(cfg)
    except ConfigError as exc:
        return str(exc)
    fp = run.config.fingerprint()
    if fp not in entries:
        return GridEntry(*cell, run, label, method)
    return None if entries[fp].label == label else f"same run as {entries[fp].label}"


def _data(
    table: Any, dataset: str | None, folder: str | None, base_dir: Path | None
) -> tuple[str, str | None]:
    """The grid's dataset and folder: the CLI's (``dataset``, ``folder``) over the file's ``[data]``
    (``dataset``, ``dir``, or ``deap`` for DEAP's folder); a folder in the file belongs to the file's
    dataset, so another dataset from the CLI leaves it out."""
    data = _keys("[data]", table, DATA_KEYS)
    if "deap" in data and "dir" in data:
        raise ConfigError("data.deap and data.dir exclude each other (deap = DIR is DEAP's folder)")
    named = check_option("data.dataset", data.get("dataset", "deap"), dataset_names())
    if "deap" in data and named != "deap":
        raise ConfigError(f"data.deap is DEAP's folder; for data.dataset={named!r} give data.dir")
    if dataset is not None:
        check_option("dataset", dataset, dataset_names())
    chosen = dataset or named
    if folder is None and chosen == named and ("deap" in data or "dir" in data):
        key = "deap" if "deap" in data else "dir"
        folder = check_type(f"data.{key}", data[key], str, "a folder path")
        if base_dir is not None and not Path(folder).expanduser().is_absolute():
            folder = str(base_dir / folder)
    return chosen, folder


def load_grid(
    *,
    preset: str | None = None,
    path: str | Path | None = None,
    scale: str | None = None,
    deap: str | Path | None = None,
    seeds: Iterable[int] | None = None,
    dataset: str | None = None,
) -> Grid:
    """The grid of a preset or a TOML file (neither: the default preset, :data:`DEFAULT_PRESET`).

    ``scale`` (a name of :data:`GRID_SCALES`) replaces the file's scale, ``seeds`` its seeds, ``dataset``
    and ``deap`` (a folder of that dataset) its ``[data]``. Every mistake is one :class:`ConfigError`
    line naming the file, the key and what is allowed.
    """
    if preset is not None and path is not None:
        raise ConfigError("a preset and a grid file exclude each other; give one")
    deap = None if deap is None else str(deap)
    if path is not None:
        try:
            text = Path(path).read_text()
        except (OSError, UnicodeDecodeError) as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            raise ConfigError(f"{path}: cannot read grid file ({why})") from None
        return expand(text, source=str(path), base_dir=Path(path).parent, scale=scale, deap=deap, seeds=seeds,
                      dataset=dataset)  # fmt: skip
    name = preset or DEFAULT_PRESET
    return expand(preset_text(name), source=f"preset {name}", scale=scale, deap=deap, seeds=seeds,
                  dataset=dataset)  # fmt: skip
