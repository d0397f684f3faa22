"""``bench methods [NAME]``: the training-method registry as a table, or one method's details."""

from __future__ import annotations

import typer
from rich.console import Group
from rich.panel import Panel
from rich.text import Text

from bench.cli.common import console
from bench.core.terminal import NAME, TEXT, Col, FitTable
from bench.training.methods import NONE, MethodInfo, get_method_info, list_methods


def methods_table() -> FitTable:
    """Every method ``--method`` accepts: plain training first, then the registered methods."""
    columns = [
        Col("method", NAME, style="bold cyan"),
        Col("what it is", TEXT, priority=1),
        Col("kind", NAME),
        Col("transductive", NAME),
        Col("applies to", TEXT, priority=2),
    ]
    rows = [[NONE, "plain training (the default)", "", "no", "every model"]]
    for m in list_methods():
        rows.append([m.name, m.full_name, m.kind, "yes" if m.transductive else "no", applies_to(m)])
    caption = "transductive: sees the test subjects' unlabelled inputs, never their labels"
    return FitTable(columns, rows, title="Training methods (bench run --method NAME)", caption=caption)


def applies_to(m: MethodInfo) -> str:
    """The models a method fits, in words."""
    where = " or ".join(m.layouts) + " inputs"
    return f"models with one feature trunk, {where}" if m.needs_trunk else f"models reading {where}"


def method_details(name: str) -> Panel:
    """One method: citation, kind, what it sees, what it applies to, and every note."""
    m = get_method_info(name)  # unknown name: the one-line ConfigError
    lines = [
        Text(m.full_name, style="bold"),
        Text(m.citation + (f" (doi {m.doi})" if m.doi else "")),
        Text(f"kind: {m.kind}; applies to {applies_to(m)}"),
        Text(
            "transductive: sees the test subjects' unlabelled inputs (never their labels)"
            if m.transductive
            else "inductive: sees the training part only"
        ),
        *(Text(f"- {n}") for n in m.notes),
    ]
    return Panel(Group(*lines), title=f"{m.name} ({m.label})", expand=False)


def register(app: typer.Typer) -> None:
    @app.command("methods")
    def methods(name: str | None = typer.Argument(None, help="A registered method name")) -> None:
        """List the training methods (--method), or show one method's details."""
        console.print(methods_table() if name is None else method_details(name))
