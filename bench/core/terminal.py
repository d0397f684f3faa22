"""Rich tables that fit the terminal: words wrap, numbers and names are never cut, and the columns a
narrow terminal cannot hold are left out by a declared priority and named below the table.

Rich on its own squeezes every column once a table is wider than the console and cuts what no longer
fits with an ellipsis (``1,213,…``). :class:`FitTable` lays a table out when it is printed, for the width
it is given. Every column gets at least its longest unbreakable piece: in a number column a value with
its spread or factor (``70.0 ± 14.1``, ``1,532,418 x 2``) or an interval (``[47.5, 87.9]``); in a name
column (models, protocols, variants, run ids) a word, which may break only after ``-`` or ``/`` (as
headers do); prose columns may fold words longer than :data:`FOLD`. While even these minimums do not
fit, the columns of the lowest priority are left out. The room left is shared as Rich shares it, the
widest column giving way first, words before numbers. Every table of the CLI goes through it (result
tables, ``bench runs``, ``bench models``, ``bench run``'s summary, ``bench data info``, ``bench perf``);
Markdown, LaTeX, CSV and HTML never do, so files keep every column at full width.

A table made with ``fold=n`` (``bench data info``, ``bench perf``: tables whose every column matters)
leaves nothing out: the columns a width cannot hold side by side go to further tables below it, each
repeating the first ``n`` (key) columns, so every cell is shown in full at any width.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

NUMBER, NAME, TEXT = "number", "name", "text"
KINDS = (NUMBER, NAME, TEXT)
FOLD = 10
"""Prose columns may fold a word longer than this (numbers and names never break inside a piece)."""
WIDER = "a wider terminal shows them"


@dataclass(frozen=True)
class Col:
    """One column: ``kind`` says how its cells may break (:data:`NUMBER`: right-aligned, between values
    only; :data:`NAME`: left-aligned, at spaces, else after ``-`` or ``/``; :data:`TEXT`: prose, long
    words fold). ``priority``: None for a column that is always shown; otherwise a narrow terminal leaves
    out the lowest first, and columns of equal priority together."""

    header: str
    kind: str = NUMBER
    priority: int | None = None
    style: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"column kind {self.kind!r}; allowed: {', '.join(KINDS)}")


def _plain(cell: object) -> str:
    return cell.plain if isinstance(cell, Text) else str(cell)


def _pieces(word: str) -> list[str]:
    """Where a name or header word may break: after each ``-`` and ``/`` (``subject-``, ``specific/``)."""
    return re.findall(r"[^/-]*[/-]|[^/-]+", word)


_UNIT = re.compile(r"\[[^\]]*\]|\S+(?:\s+[±x]\s+\S+)*(?:\s+(?:%|ms|s|min|h|d|[kMG]B)(?=\s|$))?")
"""What a number cell never breaks: an interval, or a value with its ``± spread`` or ``x factor``, and its
unit where one follows (``34 %``, ``5.8 d``, ``19.7 MB``)."""


def _units(text: str) -> list[str]:
    return _UNIT.findall(text)


def wrap_words(text: str, width: int) -> str:
    """Names and headers in lines of at most ``width`` cells: broken at spaces, else after ``-`` or ``/``."""
    lines: list[str] = []
    for word in text.split():
        pieces = [word] if cell_len(word) <= width else _pieces(word)
        for k, piece in enumerate(pieces):
            glue = " " if k == 0 else ""  # a broken word's pieces follow their - or / directly
            if lines and cell_len(lines[-1] + glue + piece) <= width:
                lines[-1] += glue + piece
            else:
                lines.append(piece)
    return "\n".join(lines)


def wrap_units(text: str, width: int) -> str:
    """A number cell in lines of at most ``width`` cells, never breaking a unit (:data:`_UNIT`)."""
    lines: list[str] = []
    for unit in _units(text):
        if lines and cell_len(f"{lines[-1]} {unit}") <= width:
            lines[-1] += f" {unit}"
        else:
            lines.append(unit)
    return "\n".join(lines)


def min_width(col: Col, cells: Sequence[object]) -> int:
    """The narrowest the column may be: its longest unbreakable piece (cells and header)."""
    texts = [_plain(c) for c in cells]
    if col.kind == NUMBER:
        pieces = [u for t in texts for u in _units(t)]
    elif col.kind == NAME:
        pieces = [p for t in texts for w in t.split() for p in _pieces(w)]
    else:
        pieces = [w[:FOLD] for t in texts for w in t.split()]
    head = [p for w in col.header.split() for p in _pieces(w)]
    return max([1, *(cell_len(p) for p in [*pieces, *head])])


def natural_width(col: Col, cells: Sequence[object]) -> int:
    """The width the column takes when nothing needs to wrap."""
    lines = [line for c in [col.header, *cells] for line in _plain(c).split("\n")]
    return max(1, *(cell_len(line) for line in lines))


def overhead(n_columns: int) -> int:
    """Cells a boxed Rich table with the default padding adds to its columns' content: two edges, a
    rule between columns, one space either side of every cell."""
    return 2 + max(0, n_columns - 1) + 2 * n_columns


def _shrink(widths: list[int], lows: list[int], room: int, words: list[bool]) -> list[int]:
    """Narrow the columns until they fit in ``room``: the widest first (as Rich does), columns of words
    (``words``) before numbers, never below a column's minimum."""
    widths = list(widths)
    excess = sum(widths) - room
    for allowed in (words, [True] * len(widths)):
        while excess > 0:
            free = [i for i, w in enumerate(widths) if allowed[i] and w > lows[i]]
            if not free:
                break
            i = max(free, key=lambda j: (widths[j], j))
            widths[i] -= 1
            excess -= 1
    return widths


def _cell(cell: object, col: Col, width: int) -> Text:
    """A cell as Text, numbers and names already broken into lines (a Text keeps its overall style)."""
    style = cell.style if isinstance(cell, Text) else ""
    if col.kind == TEXT:
        return cell if isinstance(cell, Text) else Text(str(cell))
    wrap = wrap_units if col.kind == NUMBER else wrap_words
    lines = [wrap(line, width) for line in _plain(cell).split("\n")]
    return Text("\n".join(lines), style=style)


class FitTable:
    """A table laid out for the width it is printed at (see the module docstring).

    ``rows``: one sequence of cells (str or rich Text) per row; ``styles``: a row style per row (or
    None). Columns left out are named in one line below the table, with ``hint`` saying where to see them.
    ``fold``: where greater than 0, no column is left out (priorities are ignored): the columns that do
    not fit side by side are folded into further tables below, each repeating the first ``fold`` columns
    (the row keys), so that every cell appears in full however narrow the terminal.
    """

    def __init__(
        self,
        columns: Sequence[Col],
        rows: Sequence[Sequence[object]],
        *,
        title: str | None = None,
        caption: str | None = None,
        styles: Sequence[str | None] | None = None,
        hint: str = WIDER,
        fold: int = 0,
    ) -> None:
        self.columns = list(columns)
        self.rows = [list(r) for r in rows]
        for r in self.rows:
            if len(r) != len(self.columns):
                raise ValueError(f"row of {len(r)} cells for {len(self.columns)} columns")
        if not 0 <= fold < max(1, len(self.columns)):
            raise ValueError(f"fold={fold}: the key columns must leave at least one other column")
        self.title = title
        self.caption = caption
        self.styles = list(styles) if styles is not None else [None] * len(self.rows)
        self.hint = hint
        self.fold = fold

    def _cells(self, i: int) -> list[object]:
        return [r[i] for r in self.rows]

    def _lows(self) -> list[int]:
        return [min_width(c, self._cells(i)) for i, c in enumerate(self.columns)]

    def shown(self, width: int) -> list[int]:
        """Indices of the columns that fit in ``width`` (lowest priorities left out first)."""
        keep = list(range(len(self.columns)))
        lows = self._lows()
        while sum(lows[i] for i in keep) + overhead(len(keep)) > width:
            droppable = [self.columns[i].priority for i in keep if self.columns[i].priority is not None]
            if not droppable:
                break
            lowest = min(droppable)
            keep = [i for i in keep if self.columns[i].priority != lowest]
        return keep

    def groups(self, width: int) -> list[list[int]]:
        """The columns of each table printed at ``width``: one table of the :meth:`shown` columns, or with
        ``fold`` the fewest tables whose minimum widths fit, the other columns split between them in
        order so that the most crowded table is as little crowded as can be (each table's natural width
        over ``width``), every table starting with the key columns."""
        if not self.fold:
            return [self.shown(width)]
        keys = list(range(self.fold))
        rest = list(range(self.fold, len(self.columns)))
        lows = self._lows()
        highs = [natural_width(c, self._cells(i)) for i, c in enumerate(self.columns)]

        def need(cols: list[int], widths: list[int]) -> int:
            return sum(widths[i] for i in cols) + overhead(len(cols))

        for n_tables in range(1, len(rest) + 1):
            best: tuple[float, list[list[int]]] | None = None
            for cuts in itertools.combinations(range(1, len(rest)), n_tables - 1):
                bounds = (0, *cuts, len(rest))
                parts = [keys + rest[a:b] for a, b in itertools.pairwise(bounds)]
                if any(need(p, lows) > width for p in parts):
                    continue
                crowded = max(need(p, highs) / width for p in parts)
                if best is None or crowded < best[0]:
                    best = (crowded, parts)
            if best is not None:
                return best[1]
        return [keys + [i] for i in rest]  # even one column beside the keys is too wide: one each

    def _table(self, keep: list[int], width: int, title: str | None, caption: str | None) -> Table:
        """The Rich table of the columns ``keep`` laid out for ``width`` cells."""
        cols = [self.columns[i] for i in keep]
        lows = [min_width(self.columns[i], self._cells(i)) for i in keep]
        highs = [natural_width(self.columns[i], self._cells(i)) for i in keep]
        widths = _shrink(highs, lows, width - overhead(len(keep)), [c.kind != NUMBER for c in cols])
        table = Table(title=title, caption=caption, show_lines=False)
        for col, w in zip(cols, widths, strict=True):
            justify = "right" if col.kind == NUMBER else "left"
            table.add_column(
                wrap_words(col.header, w), justify=justify, style=col.style, width=w, overflow="fold"
            )
        for row, style in zip(self.rows, self.styles, strict=True):
            table.add_row(
                *(_cell(row[i], c, w) for i, c, w in zip(keep, cols, widths, strict=True)), style=style
            )
        return table

    def layout(self, width: int) -> tuple[Table, list[str]]:
        """The Rich table for ``width`` cells, and the headers of the columns left out."""
        keep = self.shown(width)
        dropped = [c.header for i, c in enumerate(self.columns) if i not in keep]
        return self._table(keep, width, self.title, self.caption), dropped

    def tables(self, width: int) -> list[Table]:
        """The Rich tables printed at ``width``: one, or with ``fold`` one per :meth:`groups` group (the
        title on the first, "(continued)" on the others, the caption below the last)."""
        groups = self.groups(width)
        out = []
        for k, keep in enumerate(groups):
            title = self.title if k == 0 or self.title is None else f"{self.title} (continued)"
            out.append(self._table(keep, width, title, self.caption if k == len(groups) - 1 else None))
        return out

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if self.fold:
            yield from self.tables(options.max_width)
            return
        table, dropped = self.layout(options.max_width)
        yield table
        if dropped:
            yield Text(
                f"Not shown at {options.max_width} columns: {', '.join(dropped)} ({self.hint}).", style="dim"
            )

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        sizes = [Measurement.get(console, options, t) for t in self.tables(options.max_width)]
        return Measurement(max(m.minimum for m in sizes), max(m.maximum for m in sizes))
