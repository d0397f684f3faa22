"""``bench models [NAME]``: the model registry as a table, or one model's details."""

from __future__ import annotations

import typer

from bench.cli.common import console
from bench.models.view import model_details, models_table


def register(app: typer.Typer) -> None:
    @app.command("models")
    def models(name: str | None = typer.Argument(None, help="A registered model name")) -> None:
        """List the registered models, or show one model's details and layer summary."""
        console.print(models_table() if name is None else model_details(name))
