"""Training methods, separate from models: ``--method NAME`` applies one to any model it fits.

A method is either an **input** method (``kind="input"``: it transforms the prepared inputs once per run,
per subject, before the training part's standardiser: :mod:`.subject_norm`, :mod:`.ea`) or a **training**
method (``kind="training"``: it wraps the built model in an ``nn.Module`` whose ``auxiliary_loss`` the
trainer's one step adds: :mod:`.dann`). Both kinds go through the one training loop
(:func:`bench.training.trainer.fit`); a method never brings a loop of its own.

A method is added by calling :func:`register_method` in a module named by an entry point of group
``deap_bench.methods`` (the built-ins: :data:`BUILTIN_MODULES`, declared in ``pyproject.toml`` too), as
models are. ``none`` (plain training) is not registered: it is the default and means "no method".

A **transductive** method sees the test subjects' unlabelled inputs (never their labels); the run's tags
and every table say so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from bench.core.registry import Registry

NONE = "none"
"""Plain training: no method (the default of ``RunConfig.method``)."""

KINDS = ("input", "training")

ENTRY_POINT_GROUP = "deap_bench.methods"
"""Entry-point group naming the modules whose import registers methods."""

BUILTIN_MODULES: dict[str, str] = {
    "dann": "bench.training.methods.dann",
    "subject-norm": "bench.training.methods.subject_norm",
    "ea": "bench.training.methods.ea",
    "ms-mda": "bench.training.methods.msmda",
}
"""The built-in entries of :data:`ENTRY_POINT_GROUP`, as ``pyproject.toml`` declares them (a test checks
they agree), in registry order."""


@dataclass(frozen=True)
class MethodInfo:
    """What the harness knows about a training method (one source of truth for the CLI, docs and checks).

    ``apply`` is the method's work: for an input method ``apply(x, subject) -> x'`` (the whole input,
    transformed per subject); for a training method ``apply(model, *, target, train_groups, steps, seed)
    -> nn.Module`` (the wrapper the trainer fits).
    """

    name: str
    full_name: str
    label: str
    """Short label for tables ("DANN"): the runner writes it as a tag, so the result layer (which never
    imports the training layer) can name the method."""
    citation: str
    doi: str | None
    kind: str
    transductive: bool
    layouts: tuple[str, ...]
    """The :class:`~bench.data.inputs.InputSpec` layouts the method applies to."""
    needs_trunk: bool
    """The model must offer ``embed(x) -> (N, F)`` (a single feature trunk): checked from the model class
    (``hasattr(info.factory, "embed")``), so MC-CNN (one trunk per column) and the trivial baselines
    are refused before any run starts."""
    apply: Callable = field(repr=False, compare=False)
    notes: tuple[str, ...] = ()


METHODS: Registry[MethodInfo] = Registry("method", group=ENTRY_POINT_GROUP, builtins=BUILTIN_MODULES)
"""Every registered method."""


def register_method(info: MethodInfo) -> MethodInfo:
    """Register ``info`` under ``info.name``; malformed metadata is a programmer error (ValueError)."""
    if info.name == NONE:
        raise ValueError(f"method name {NONE!r} is reserved for plain training")
    if info.kind not in KINDS:
        raise ValueError(f"method {info.name!r}: kind={info.kind!r}; allowed: {', '.join(KINDS)}")
    if not info.layouts:
        raise ValueError(f"method {info.name!r}: layouts must name at least one input layout")
    return METHODS.register(info.name, info)


def get_method_info(name: str) -> MethodInfo:
    """A registered method; an unknown name is the one-line unknown-name ConfigError."""
    return METHODS.get(name)


def _ordered() -> tuple[str, ...]:
    """Registered names, the built-ins first in :data:`BUILTIN_MODULES` order (whatever imported them
    first), then other packages' methods in the order they registered."""
    names = METHODS.names()
    return tuple(n for n in BUILTIN_MODULES if n in names) + tuple(
        n for n in names if n not in BUILTIN_MODULES
    )


def list_methods() -> list[MethodInfo]:
    """Every registered method: the built-ins first, in :data:`BUILTIN_MODULES` order."""
    return [METHODS.get(n) for n in _ordered()]


def method_names() -> tuple[str, ...]:
    """``none`` and every registered method's name (what ``--method`` accepts)."""
    return (NONE, *_ordered())
