"""Tables as text: rich renderables for the terminal, and Markdown, LaTeX, CSV (tidy numbers), HTML."""

from __future__ import annotations

import html
import io
import re
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from bench.core.checks import check_option
from bench.core.errors import ConfigError
from bench.core.terminal import NAME, NUMBER, TEXT, Col, FitTable
from bench.results.table import DASH, NOT_RUN, Table

FORMATS: tuple[str, ...] = ("md", "latex", "csv", "html")
NARROW_HINT = "a wider terminal or --format md shows them"
"""Where to see the columns a narrow terminal leaves out of a table."""


def _footer(tables: Sequence[Table]) -> tuple[list[str], list[str]]:
    notes = list(dict.fromkeys(n for t in tables for n in t.notes))
    commands = list(dict.fromkeys(c for t in tables for c in t.commands))
    return notes, commands


def to_rich(tables: Sequence[Table]) -> list:
    """Rich renderables (tables, then notes and the commands that fill missing cells). Each table fits
    the width it is printed at (:mod:`bench.core.terminal`): numbers and names are never cut, and the
    columns of
    its lowest :attr:`~Table.priorities` are left out, and named, when even wrapping cannot make room."""
    from rich.text import Text

    out = []
    for t in tables:
        cols = [
            Col(
                str(c),
                (NAME if c in _TEXT_COLS else TEXT) if _is_text(t, c) else NUMBER,
                t.priorities.get(str(c)),
            )
            for c in t.frame.columns
        ]
        rows = [[str(v) for v in row] for row in t.frame.itertuples(index=False)]
        styles = [
            "dim" if NOT_RUN in r[1:] and all(c in (NOT_RUN, DASH, "") for c in r[1:]) else None for r in rows
        ]
        out.append(FitTable(cols, rows, title=t.title, styles=styles, hint=NARROW_HINT))
    notes, commands = _footer(tables)
    for n in notes:
        out.append(Text(n, style="dim"))
    if commands:
        out.append(Text("Missing cells (not run): fill them with", style="bold"))
        out += [Text("  " + c, no_wrap=True, overflow="ignore") for c in commands]
    return out


_TEXT_COLS = ("model", "variant", "protocol", "rank", "task")


def _is_text(t: Table, col) -> bool:
    """A column of words (left-aligned), not of numbers."""
    return col in _TEXT_COLS or col in t.text_columns


def _md_cell(v) -> str:
    return str(v).replace("|", "\\|").replace("\n", " ")


def to_markdown(tables: Sequence[Table]) -> str:
    parts = []
    for t in tables:
        cols = [str(c) for c in t.frame.columns]
        lines = [
            f"### {t.title}",
            "",
            "| " + " | ".join(map(_md_cell, cols)) + " |",
            "|" + "|".join("---" if _is_text(t, c) else "---:" for c in cols) + "|",
        ]
        for row in t.frame.itertuples(index=False):
            lines.append("| " + " | ".join(_md_cell(v) for v in row) + " |")
        parts.append("\n".join(lines))
    notes, commands = _footer(tables)
    tail = [f"- {n}" for n in notes]
    if commands:
        tail += ["", "Missing cells (not run): fill them with", "", "```", *commands, "```"]
    return "\n\n".join(parts) + "\n\n" + "\n".join(tail) + "\n"


_LATEX = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "±": r"$\pm$",
    "Δ": r"$\Delta$",
    "−": "--",
    "°": r"$^\circ$",
    "†": r"$^\dagger$",
    "‡": r"$^\ddagger$",
    "§": r"\S{}",
    "¶": r"\P{}",
    "—": "---",
    "<": r"$<$",
    ">": r"$>$",
}


def _tex(v) -> str:
    return "".join(_LATEX.get(ch, ch) for ch in str(v))


def to_latex(tables: Sequence[Table]) -> str:
    parts = []
    for t in tables:
        cols = [str(c) for c in t.frame.columns]
        spec = "".join("l" if _is_text(t, c) else "r" for c in cols)
        lines = [
            r"\begin{table}[ht]",
            r"\centering",
            r"\scriptsize",
            f"\\caption{{{_tex(t.title)}}}",
            f"\\begin{{tabular}}{{{spec}}}",
            r"\hline",
            " & ".join(_tex(c) for c in cols) + r" \\",
            r"\hline",
        ]
        for row in t.frame.itertuples(index=False):
            lines.append(" & ".join(_tex(v) for v in row) + r" \\")
        lines += [r"\hline", r"\end{tabular}", r"\end{table}"]
        parts.append("\n".join(lines))
    notes, commands = _footer(tables)
    tail = [r"\begin{itemize}\scriptsize"] + [f"\\item {_tex(n)}" for n in notes]
    tail += [f"\\item \\texttt{{{_tex(c)}}}" for c in commands] + [r"\end{itemize}"]
    return "\n\n".join(parts) + "\n\n" + "\n".join(tail) + "\n"


REPORTED_HEADS: tuple[str, ...] = ("reported", "paper")
"""First words of the column headers (and of a row's first cell) that hold the papers' numbers, not ours."""


def _is_reported(text) -> bool:
    words = re.findall(r"[\w-]+", str(text))
    return bool(words) and (words[0] in REPORTED_HEADS or "reported" in words)


def html_fragment(tables: Sequence[Table], *, level: int = 2, classes: bool = False) -> str:
    """The tables, their notes and fill commands as HTML elements, without a document around them.

    ``level``: the heading level of the table titles. ``classes``: mark text columns ``class="text"`` and
    the papers' numbers (``reported``/``paper`` columns and rows) ``class="reported"``, for stylesheets.
    """
    esc = html.escape
    parts = []
    for t in tables:
        cols = [str(c) for c in t.frame.columns]
        kinds = [
            " ".join(k for k, on in (("text", _is_text(t, c)), ("reported", _is_reported(c))) if on)
            for c in cols
        ]

        def attr(kind: str) -> str:
            return f' class="{kind}"' if classes and kind else ""

        parts.append(f"<h{level}>{esc(t.title)}</h{level}>")
        parts.append("<table>")
        parts.append(
            "<tr>"
            + "".join(f"<th{attr(k)}>{esc(c)}</th>" for c, k in zip(cols, kinds, strict=True))
            + "</tr>"
        )
        for row in t.frame.itertuples(index=False):
            row_kind = "reported" if len(row) and _is_reported(row[0]) else ""
            cells = "".join(f"<td{attr(k)}>{esc(str(v))}</td>" for v, k in zip(row, kinds, strict=True))
            parts.append(f"<tr{attr(row_kind)}>" + cells + "</tr>")
        parts.append("</table>")
    notes, commands = _footer(tables)
    parts.append("<ul>" + "".join(f"<li>{esc(n)}</li>" for n in notes) + "</ul>")
    if commands:
        parts.append(
            "<p>Missing cells (not run): fill them with</p><pre>" + esc("\n".join(commands)) + "</pre>"
        )
    return "\n".join(parts)


def to_html(tables: Sequence[Table]) -> str:
    head = '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>deap-bench</title></head><body>'
    return "\n".join([head, html_fragment(tables), "</body></html>"]) + "\n"


def to_csv(tables: Sequence[Table]) -> str:
    """The tidy numbers behind the tables (one CSV; a ``table`` column names the source table)."""
    frames = []
    for t in tables:
        d = t.data.copy()
        d.insert(0, "table", t.name)
        frames.append(d)
    df = pd.concat(frames, ignore_index=True, sort=False) if frames else pd.DataFrame()
    df = df.astype({c: object for c in df.columns if df[c].dtype == bool})
    buf = io.StringIO()
    df.to_csv(buf, index=False, float_format="%.6g", lineterminator="\n")
    return buf.getvalue()


WRITERS = {"md": to_markdown, "latex": to_latex, "csv": to_csv, "html": to_html}


def render(tables: Sequence[Table], fmt: str) -> str:
    """The tables as text in one of :data:`FORMATS`."""
    if fmt not in WRITERS:
        check_option("--format", fmt, FORMATS)
    return WRITERS[fmt](tables)


def write(tables: Sequence[Table], fmt: str, path: str | Path) -> Path:
    path = Path(path)
    text = render(tables, fmt)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write ({exc.strerror or exc})") from None
    return path
