"""A Sphinx extension for the API reference: the few docstrings autodoc cannot render as they are.

Each entry is named here, with the reason, so that the warning it would raise is not hidden elsewhere
(``suppress_warnings`` would hide every warning of a type) and so that fixing the docstring means
deleting its entry:

* :data:`VERBATIM`: docstrings whose reStructuredText does not parse; they are shown as written, in a
  literal block, instead of raising docutils errors.
* type aliases (``Loaded = tuple[...]``): autodoc takes a subscripted generic for a class and fails on
  its signature; they are left out of the module pages (their docstrings stay in the source).
"""

from __future__ import annotations

import types
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sphinx.application import Sphinx

VERBATIM: dict[str, str] = {
    "bench.data.synthetic": "an indented table of the gains inside a bullet list (docutils: unexpected "
    "indentation)",
    "bench.runs.runner": "a bullet item broken across lines without indentation (docutils: bullet list ends "
    "without a blank line)",
}
"""Objects (dotted names) whose docstring is shown verbatim, and why its markup does not parse."""


def _verbatim(app: Sphinx, what: str, name: str, obj: object, options: dict, lines: list[str]) -> None:
    """``autodoc-process-docstring``: the docstring of a :data:`VERBATIM` object as a literal block."""
    if name in VERBATIM and lines:
        lines[:] = ["::", "", *(f"    {line}" if line else "" for line in lines), ""]


def is_type_alias(obj: object) -> bool:
    """A subscripted generic such as ``tuple[int, str]`` (a type alias, not a class)."""
    return isinstance(obj, types.GenericAlias)


def _skip_type_aliases(
    app: Sphinx, what: str, name: str, obj: object, skip: bool, options: dict
) -> bool | None:
    """``autodoc-skip-member``: leave type aliases out; otherwise autodoc's own decision."""
    return True if is_type_alias(obj) else None


def setup(app: Sphinx) -> dict:
    """Connect the two autodoc hooks."""
    app.connect("autodoc-process-docstring", _verbatim)
    app.connect("autodoc-skip-member", _skip_type_aliases)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
