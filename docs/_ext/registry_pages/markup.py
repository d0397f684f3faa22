"""MyST markdown building blocks for the generated pages: escaped text, pipe tables, code blocks.

Registry strings are prose written for the terminal: they may hold ``*``, ``_``, ``|``, ``<`` or
backquoted commands. :func:`text` keeps balanced backquotes as inline code (they name commands and
options) and escapes every other character markdown would read as markup, so no registry string can
break a page or raise a Sphinx warning.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~$%:=-])")
"""ASCII punctuation that markdown (CommonMark and MyST's roles, targets and substitutions) may read."""
_CODE = re.compile(r"(`[^`\n]+`)")


def text(value: object) -> str:
    """``value`` as inline markdown that shows exactly its characters (balanced backquotes: inline code).

    Line breaks become spaces, so the result fits a table cell or a list item.
    """
    parts = _CODE.split(" ".join(str(value).split()))
    out = []
    for part in parts:
        if len(part) > 2 and part.startswith("`") and part.endswith("`"):
            out.append(part.replace("|", r"\|"))  # a pipe table splits cells before code spans
        else:
            out.append(_SPECIAL.sub(r"\\\1", part))
    return "".join(out)


_ROLE = re.compile(r":[a-z]+(?::[a-z]+)?:(?=`)")


def prose(docstring: str) -> str:
    """A docstring's paragraphs (reStructuredText prose) as markdown paragraphs: roles and double
    backquotes become inline code (``:func:`~a.b``` -> ``b``), ``*`` items stay list items."""
    blocks = []
    for para in re.split(r"\n\s*\n", docstring.strip()):
        para = _ROLE.sub("", para.replace("``", "`"))
        para = re.sub(r"`~[\w.]*?(\w+)`", r"`\1`", para)
        items = re.split(r"(?m)^\s*\* ", para)
        if len(items) > 1:
            lead = [text(items[0])] if items[0].strip() else []
            blocks.append("\n".join(lead + [f"- {text(i)}" for i in items[1:]]))
        else:
            blocks.append(text(para))
    return "\n\n".join(blocks) + "\n"


def code(value: object) -> str:
    """``value`` as inline code (for names and commands)."""
    return f"`{value}`".replace("|", r"\|")


def heading(title: str, level: int = 1, target: str | None = None) -> str:
    """A heading of ``level`` (1: the page title), with a MyST target ``(target)=`` above it if given."""
    anchor = f"({target})=\n\n" if target else ""
    return f"{anchor}{'#' * level} {text(title)}\n"


def table(header: Sequence[str], rows: Iterable[Sequence[str]], *, escaped: bool = False) -> str:
    """A pipe table; cells are escaped with :func:`text` unless ``escaped`` (they are markdown already)."""
    cell = (lambda c: str(c).replace("\n", " ")) if escaped else text
    lines = ["| " + " | ".join(text(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def fields(rows: Iterable[tuple[str, str]]) -> str:
    """A two-column table of ``(field, markdown value)`` rows: the facts of one registry entry."""
    return table(("", ""), ((text(k), v) for k, v in rows), escaped=True)


def code_block(body: str, language: str = "text") -> str:
    """A fenced code block (the fence is longer than any backquote run in ``body``)."""
    longest = max((len(m) for m in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{body.rstrip()}\n{fence}\n"


def toctree(entries: Iterable[str], *, maxdepth: int = 1, hidden: bool = False) -> str:
    """A MyST ``{toctree}`` fence listing ``entries`` (document names relative to the page)."""
    options = f":maxdepth: {maxdepth}\n" + (":hidden:\n" if hidden else "")
    return "```{toctree}\n" + options + "\n" + "\n".join(entries) + "\n```\n"


def generated_note(source: str) -> str:
    """The line every generated page starts with: where its facts come from."""
    return f"*This page is generated from {text(source)} when the documentation is built.*\n"


def write_if_changed(path: Path, content: str) -> Path:
    """Write ``content`` to ``path`` unless it holds it already (so an unchanged page is not rebuilt)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.is_file() or path.read_text(encoding="utf-8") != content:
        path.write_text(content, encoding="utf-8")
    return path


def write_folder(folder: Path, pages: dict[str, str]) -> list[Path]:
    """Write ``{file name: content}`` into ``folder`` and remove its other ``.md`` files (the pages of
    entries no longer registered); returns the paths written, in ``pages`` order."""
    written = [write_if_changed(folder / name, content) for name, content in pages.items()]
    for path in folder.glob("*.md"):
        if path not in written:
            path.unlink()
    return written


def page(*blocks: str) -> str:
    """Blocks joined by blank lines, ending in one newline."""
    return "\n".join(b.rstrip("\n") + "\n" for b in blocks if b).rstrip("\n") + "\n"
