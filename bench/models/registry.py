"""The one model registry: every model is a factory plus the metadata the harness prints and uses.

A model is added by decorating its class (or a factory function) with :func:`register_model` in a
module named by an entry point of group ``deap_bench.models``: the built-ins (``mtcnn`` and the
``baselines`` modules, :data:`BUILTIN_MODULES`) in ``pyproject.toml``, or another installed package's.
Those modules are imported lazily, on the first lookup (:class:`bench.core.registry.Registry`), so that
model modules can import this one without an import cycle.

Examples
--------
>>> from bench.models.registry import create_model, get_model_info
>>> info = get_model_info("mtcnn")
>>> model = create_model("mtcnn", tasks=("valence",), features=("de",), dropout=0.0)
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from torch import nn

from bench.config.run import TrainConfig
from bench.core.checks import check_type
from bench.core.errors import ConfigError
from bench.core.registry import Registry
from bench.core.tasks import task_names
from bench.data.inputs import FEATURE_KINDS, TASKS, InputSpec

FIDELITIES: tuple[str, ...] = ("exact", "approximate")
"""``exact``: matches the authors' code or a complete paper description; ``approximate``: some details
are ours (listed in the notes)."""

ENTRY_POINT_GROUP = "deap_bench.models"
"""Entry-point group naming the modules whose import registers models (this project's and plugins')."""

BUILTIN_MODULES: dict[str, str] = {
    "mtcnn": "mtcnn",
    "crnn4d": "baselines.crnn4d",
    "fbccnn": "baselines.fbccnn",
    "mccnn": "baselines.mccnn",
    "saelstm": "baselines.saelstm",
    "eegnet": "baselines.eegnet",
    "shallowconvnet": "baselines.shallowconvnet",
    "deepconvnet": "baselines.deepconvnet",
    "tsception": "baselines.tsception",
    "dgcnn": "baselines.dgcnn",
    "rgnn": "baselines.rgnn",
    "trivial": "baselines.trivial",
}
"""The built-in entries of :data:`ENTRY_POINT_GROUP`, as ``pyproject.toml`` declares them (a test checks
they agree), in registry order: tables and ``bench models`` list the models in it. Loaded from this
list where the installed metadata lacks the group."""

PAPER_RECIPE_NOT_STATED = (
    "Not stated in the paper (as far as we could recover it); the harness recipe is used."
)
"""``paper_recipe_note`` of a model whose paper leaves its training set-up open (empty paper recipe)."""

TRAIN_DEFAULTS: tuple[str, ...] = ("max_epochs", "adam_eps")
"""TrainConfig fields a model's ``defaults`` may set: bench.runs.plan.prepare reads them when the run
config leaves them None. Every other training setting is the harness recipe's or the paper recipe's."""


@dataclass(frozen=True)
class ModelInfo:
    """Everything the harness knows about a registered model (one source of truth for tables/CLI)."""

    name: str
    """Short registry name, e.g. ``"mtcnn"``."""
    full_name: str
    citation: str
    """Authors, venue, year."""
    doi: str | None
    input_spec: InputSpec
    """Default input (features, grid, time slices)."""
    multitask: bool
    """True: one model with a head per task; False: the paper trains one model per task."""
    reported: dict
    """Paper-reported DEAP accuracies (%) ``{"valence": .., "arousal": ..}`` (None where unknown); may
    carry a ``"note"`` string."""
    fidelity: str
    notes: tuple[str, ...]
    """Every choice the paper leaves open, with its source."""
    defaults: dict
    """What the harness applies by default: model keyword arguments (dropout, ...) plus the
    TRAIN_DEFAULTS (max_epochs, adam_eps). Nothing documentation-only: that is ``paper_recipe_note``."""
    trainable: bool
    """False for the trivial baselines (they only look at the training labels)."""
    factory: Callable[..., nn.Module]
    spec_params: Mapping[str, str] = field(default_factory=dict)
    """Hyper-parameters that change the input spec: ``{hparam: InputSpec field}``, e.g.
    ``{"n_inputs": "time_slices"}`` for the multi-input MT-CNN."""
    paper_recipe: Mapping[str, Any] = field(default_factory=dict)
    """TrainConfig field overrides that reproduce the paper's own training set-up (``--recipe paper``),
    as far as it has no test leak; empty where the paper is silent or its set-up is the harness recipe."""
    paper_recipe_note: str = ""
    """Where the paper recipe comes from and what it cannot reproduce (shown by ``bench models NAME``)."""
    bf16_parity: str = ""
    """The measurement showing bf16 autocast gives this model fp32's accuracy (same folds and seed,
    difference within the fold-to-fold spread). Empty: not shown, so ``precision="auto"`` stays fp32."""

    @property
    def model_params(self) -> tuple[str, ...]:
        """Keyword arguments the factory accepts besides ``tasks`` and ``input_spec``."""
        return _factory_params(self.factory)

    def split_hparams(self, hparams: Mapping[str, Any]) -> tuple[dict, dict]:
        """Split a hyper-parameter dict into (model kwargs, training kwargs).

        The trainer can pass ``{**info.defaults, **overrides}`` here and hand the first part to
        :func:`create_model`.
        """
        names = set(self.model_params)
        model = {k: v for k, v in hparams.items() if k in names}
        training = {k: v for k, v in hparams.items() if k not in names}
        return model, training


MODELS: Registry[ModelInfo] = Registry("model", group=ENTRY_POINT_GROUP, builtins=BUILTIN_MODULES)
"""Every registered model."""
_REQUIRED = ("full_name", "citation", "input_spec", "reported", "fidelity")


def _factory_params(factory: Callable[..., nn.Module]) -> tuple[str, ...]:
    sig = inspect.signature(factory)
    return tuple(
        p.name
        for p in sig.parameters.values()
        if p.name not in ("self", "tasks", "input_spec")
        and p.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    )


def register_model(name: str, **metadata: Any) -> Callable:
    """Register a model class or factory under ``name``.

    Parameters
    ----------
    name : str
        Short registry name (lower case, used on the command line).
    **metadata
        The :class:`ModelInfo` fields except ``name`` and ``factory``. Required: ``full_name``,
        ``citation``, ``input_spec``, ``reported``, ``fidelity``. Defaults: ``doi=None``,
        ``multitask=False``, ``notes=()``, ``defaults={}``, ``trainable=True``, ``spec_params={}``,
        ``paper_recipe={}``, ``paper_recipe_note=""``.

    Raises
    ------
    ValueError
        On a duplicate name or malformed metadata (programmer errors, raised at import time).
    """
    if not isinstance(name, str) or not name or name != name.strip():
        raise ValueError(f"model name must be a non-empty string without spaces, got {name!r}")
    missing = [k for k in _REQUIRED if k not in metadata]
    if missing:
        raise ValueError(f"register_model({name!r}) is missing metadata: {', '.join(missing)}")
    allowed = {f for f in ModelInfo.__dataclass_fields__} - {"name", "factory"}
    unknown = sorted(set(metadata) - allowed)
    if unknown:
        raise ValueError(f"register_model({name!r}) got unknown metadata: {', '.join(unknown)}")
    if metadata["fidelity"] not in FIDELITIES:
        raise ValueError(f"fidelity={metadata['fidelity']!r} is not allowed; allowed: {FIDELITIES}")
    if not isinstance(metadata["input_spec"], InputSpec):
        raise ValueError(f"register_model({name!r}): input_spec must be an InputSpec")
    _check_paper_recipe(name, metadata.get("paper_recipe", {}))

    def decorator(factory: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        info = ModelInfo(
            name=name,
            full_name=metadata["full_name"],
            citation=metadata["citation"],
            doi=metadata.get("doi"),
            input_spec=metadata["input_spec"],
            multitask=bool(metadata.get("multitask", False)),
            reported=dict(metadata["reported"]),
            fidelity=metadata["fidelity"],
            notes=tuple(metadata.get("notes", ())),
            defaults=dict(metadata.get("defaults", {})),
            trainable=bool(metadata.get("trainable", True)),
            factory=factory,
            spec_params=dict(metadata.get("spec_params", {})),
            paper_recipe=dict(metadata.get("paper_recipe", {})),
            paper_recipe_note=str(metadata.get("paper_recipe_note", "")),
            bf16_parity=str(metadata.get("bf16_parity", "")),
        )
        not_applied = sorted(set(info.defaults) - set(info.model_params) - set(TRAIN_DEFAULTS))
        if not_applied:
            raise ValueError(
                f"register_model({name!r}): defaults {', '.join(not_applied)} are neither model options "
                f"nor {', '.join(TRAIN_DEFAULTS)}; paper-only settings belong in paper_recipe(_note)"
            )
        for hp, spec_field in info.spec_params.items():
            if spec_field not in InputSpec.__dataclass_fields__:
                raise ValueError(
                    f"register_model({name!r}): spec_params maps {hp!r} to unknown {spec_field!r}"
                )
        MODELS.register(name, info)
        return factory

    return decorator


def _check_paper_recipe(name: str, recipe: Mapping[str, Any]) -> None:
    """A paper recipe must name TrainConfig fields with allowed values (a programmer error otherwise)."""
    known = {f.name for f in fields(TrainConfig)}
    unknown = sorted(set(recipe) - known)
    if unknown:
        raise ValueError(
            f"register_model({name!r}): paper_recipe keys {', '.join(unknown)} are not TrainConfig fields"
        )
    try:
        TrainConfig(**recipe)
    except ConfigError as err:
        raise ValueError(f"register_model({name!r}): paper_recipe: {err}") from None


def unregister_model(name: str) -> None:
    """Remove a registration (for tests and notebooks that register throw-away models)."""
    MODELS.unregister(name)


def list_models() -> list[ModelInfo]:
    """All registered models, in registration order (built-ins first, then plugins')."""
    return MODELS.values()


def get_model_info(name: str) -> ModelInfo:
    """Metadata of a registered model; an unknown name is a one-line :class:`ConfigError`."""
    return MODELS.get(name)


def _check_tasks(tasks: Iterable[str]) -> tuple[str, ...]:
    if isinstance(tasks, str):
        tasks = (tasks,)
    tasks = tuple(tasks)
    known = task_names()
    bad = [t for t in tasks if t not in known]
    if not tasks or bad or len(set(tasks)) != len(tasks):
        raise ConfigError(
            f"tasks={tasks!r} is not allowed; use a non-empty set of {', '.join(known)} without repeats"
        )
    return tasks


def resolve_input_spec(
    name: str,
    *,
    features: Iterable[str] | str | None = None,
    n_channels: int | None = None,
    channels: Iterable[str] | None = None,
    n_bands: int | None = None,
    **hparams: Any,
) -> InputSpec:
    """The input spec a model consumes: its default with ``features`` overridden.

    Parameters
    ----------
    name : str
        Registered model name.
    features : sequence of :data:`~bench.data.inputs.FEATURE_KINDS`, optional
        Feature kinds (ablations: DE only, PSD only, + DASM, ...); any order, stored in canonical order.
    n_channels : int, optional
        EEG channels of the data (a ``"channels"`` layout's sample depends on it; grids do not).
    channels : sequence of str, optional
        Their names (set where the data is known; grids place channels by name themselves).
    n_bands : int, optional
        Frequency bands of the feature config (default 4; the SEED family's recipe has 5).
    **hparams
        Model hyper-parameters; those listed in the model's ``spec_params`` (e.g. MT-CNN's
        ``n_inputs``) change the spec, the others are ignored here.
    """
    info = get_model_info(name)
    spec = info.input_spec
    changes: dict[str, Any] = {}
    if n_bands is not None and spec.layout != "signal" and int(n_bands) != spec.n_bands:
        changes["n_bands"] = int(n_bands)
    if channels is not None and spec.layout != "grid":
        changes["channels"] = tuple(channels)
        n_channels = len(changes["channels"]) if n_channels is None else n_channels
    if n_channels is not None and spec.layout != "grid" and n_channels != spec.n_channels:
        changes["n_channels"] = int(n_channels)
    if features is not None and spec.layout == "signal":
        raise ConfigError(f"model {name!r} reads the EEG signal, not brain-map features; drop --features")
    if features is not None:
        feats = (features,) if isinstance(features, str) else tuple(features)
        bad = [f for f in feats if f not in FEATURE_KINDS]
        if not feats or bad or len(set(feats)) != len(feats):
            raise ConfigError(
                f"features={feats!r} is not allowed; use a non-empty subset of {', '.join(FEATURE_KINDS)}"
            )
        changes["features"] = tuple(f for f in FEATURE_KINDS if f in feats)
    for hp, spec_field in info.spec_params.items():
        if hparams.get(hp) is not None:
            changes[spec_field] = hparams[hp]
    if not changes:
        return spec
    try:
        return replace(spec, **changes)
    except (ValueError, TypeError) as err:
        raise ConfigError(f"model {name!r}: {err}") from None


def _check_hparam_types(factory: Callable[..., nn.Module], hparams: dict[str, Any]) -> None:
    """Model options (``-M``, ``[model]``) must have their factory default's type (bool, int, number):
    a wrong type is one line naming the option, not an error from deep inside a layer."""
    params = inspect.signature(factory).parameters
    for key, value in hparams.items():
        default = params[key].default if key in params else None
        if value is None or default is None or default is inspect.Parameter.empty:
            continue
        for kind, what in ((bool, "true or false"), (int, "an integer"), (float, "a number")):
            if isinstance(default, kind):
                check_type(f"model.{key}", value, kind, what)
                break


def create_model(
    name: str,
    *,
    tasks: Iterable[str] = TASKS,
    features: Iterable[str] | str | None = None,
    n_channels: int | None = None,
    channels: Iterable[str] | None = None,
    n_bands: int | None = None,
    **hparams: Any,
) -> nn.Module:
    """Build a registered model.

    Parameters
    ----------
    name : str
        Registered model name.
    tasks : sequence of str
        Registered tasks (:mod:`bench.core.tasks`); one output head per task, as wide as the task has
        classes. A single task gives a single-task model.
    features : sequence of :data:`~bench.data.inputs.FEATURE_KINDS`, optional
        Override the default input features (see :func:`resolve_input_spec`).
    n_channels : int, optional
        EEG channels of the data, for models fed per-channel features (default: DEAP's 32).
    channels : sequence of str, optional
        Their names, for models that pair electrodes by name (TSception's hemispheres).
    n_bands : int, optional
        Frequency bands per feature kind of the data (default 4; 5 for the SEED family's recipe).
    **hparams
        Model keyword arguments (e.g. ``dropout``, ``batch_norm``); unknown names are a
        :class:`ConfigError` naming the allowed ones.
    """
    info = get_model_info(name)
    tasks = _check_tasks(tasks)
    allowed = info.model_params
    unknown = sorted(set(hparams) - set(allowed))
    if unknown:
        raise ConfigError(
            f"model {name!r} has no option {', '.join(map(repr, unknown))}; "
            f"allowed: {', '.join(allowed) or 'none'}"
        )
    _check_hparam_types(info.factory, hparams)
    spec = resolve_input_spec(
        name, features=features, n_channels=n_channels, channels=channels, n_bands=n_bands, **hparams
    )
    try:
        return info.factory(tasks=tasks, input_spec=spec, **hparams)
    except ValueError as err:
        raise ConfigError(f"model {name!r}: {err}") from None


def count_parameters(model: nn.Module, *, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters; BN running statistics are buffers and never counted."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
