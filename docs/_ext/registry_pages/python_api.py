"""The Python API page of the API reference, listing :mod:`bench.api` wherever it can be imported.

``docs/api.rst`` lists ``generated/python_api`` first in its toctree; this module writes that page at every
build: where ``bench.api`` is importable, every name of its ``__all__`` (an autosummary table linking each
to where it is documented) and a recursive autosummary entry that gives the package its pages, module by
module; where it is not (a checkout that predates it), one sentence saying so, so the build passes either
way. The page lives in ``generated/`` beside the stubs' folder, so the ``:toctree:`` path means the same
to autosummary's stub generator (relative to this file) and to its directive (relative to this page).
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path
from types import ModuleType

import bench
from registry_pages.markup import write_if_changed

MODULE = "bench.api"
"""The package of the Python API (``bench.run``, ``bench.table``, ...)."""
PAGE = "python_api.rst"
"""The page's file name, in the generated folder (``docs/api.rst`` lists it in its toctree)."""


def load_api() -> ModuleType | None:
    """``bench.api``, or None where this checkout has no such package (any other import error raises)."""
    try:
        return importlib.import_module(MODULE)  # by name, at build time: a checkout may predate it
    except ModuleNotFoundError as err:
        if err.name not in (MODULE, "bench"):
            raise
        return None


def _target(module: ModuleType, name: str) -> str:
    """The dotted path ``name`` is documented under: where it is defined, else the API module."""
    obj = getattr(module, name)
    home = getattr(obj, "__module__", None)
    return f"{home}.{name}" if home and home.startswith(f"{MODULE}") else f"{MODULE}.{name}"


def section(module: ModuleType | None, toctree: str) -> str:
    """The reStructuredText of the page; ``toctree``: the stubs' folder, relative to the page."""
    if module is None:
        return (
            f"Python API\n==========\n\nThis checkout has no ``{MODULE}`` package: no Python API to list.\n"
        )
    names = list(getattr(module, "__all__", ()))
    exported = [n for n in names if n in getattr(bench, "__all__", ())]
    summary = (inspect.getdoc(module) or "").split("\n\n")[0]
    lines = [
        "Python API",
        "==========",
        "",
        f":mod:`{MODULE}`: {summary}" if summary else f":mod:`{MODULE}`.",
        "",
    ]
    if exported:
        example = next((n for n in exported if n[:1].islower()), exported[0])
        lines += [
            f"Every name below is also importable from the top-level package (``bench.{example}``).",
            "",
        ]
    lines += [".. autosummary::", ""] + [f"   {_target(module, n)}" for n in names] + [""]
    lines += [".. autosummary::", f"   :toctree: {toctree}", "   :recursive:", "", f"   {MODULE}", ""]
    return "\n".join(lines)


def write(folder: Path, toctree: str) -> Path:
    """Write ``folder/python_api.rst``; ``toctree``: the autosummary stubs' folder, relative to ``folder``."""
    return write_if_changed(folder / PAGE, section(load_api(), toctree))
