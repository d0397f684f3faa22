"""How an error of the results layer names the argument it refuses: ``where=`` from Python, ``--where``
from the CLI.

The same functions serve a notebook (``load_store(where=[...])``, ``build("ablation", store, model=...)``)
and ``bench table``/``bench report``/``bench runs``. A Python user has never seen the flags, so by
default every message names the Python argument; a CLI command runs its work inside :func:`cli_names`,
and the same messages name the flags it was given. A context variable rather than a parameter, so the
table builders (registered functions with a fixed signature) need no extra argument.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

_CLI: ContextVar[bool] = ContextVar("bench_results_cli_names", default=False)


def arg(name: str) -> str:
    """``--include-tuned`` inside :func:`cli_names`, else the Python argument ``include_tuned``."""
    return "--" + name.replace("_", "-") if _CLI.get() else name


def arg_value(name: str, value: Any) -> str:
    """An argument with the value an error is about: ``--where seed`` (CLI) or ``where='seed'`` (Python)."""
    return f"{arg(name)} {value}" if _CLI.get() else f"{name}={value!r}"


def is_cli() -> bool:
    """True inside :func:`cli_names` (a CLI command is running)."""
    return _CLI.get()


@contextmanager
def cli_names() -> Iterator[None]:
    """Within this block, errors name CLI flags (``--where``) instead of Python arguments."""
    token = _CLI.set(True)
    try:
        yield
    finally:
        _CLI.reset(token)
