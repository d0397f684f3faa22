"""Pieces the CLI commands share: consoles, value parsers, data-source options."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import NoReturn

import typer
from rich.console import Console

from bench.errors import ConfigError

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


EXECUTOR_OPTION = typer.Option(
    None, "--executor", help="local (default) | pool (--workers N) | dask (--scheduler)"
)
WORKERS_OPTION = typer.Option(
    None, "--workers", help="Worker processes of the pool (N > 1 implies --executor pool)"
)
SCHEDULER_OPTION = typer.Option(
    None, "--scheduler", help="Dask scheduler address, e.g. tcp://HOST:8786 (--executor dask)"
)
"""Where units run (`bench run`, `bench reproduce`, `bench ablate`; bench.executors.make_executor)."""
LOG_MODEL_HELP = "Save each unit's trained weights as an MLflow artifact (not part of the run key)"
COMPILE_HELP = "torch.compile each model (CUDA graphs on a GPU, for small models; not part of the run key)"


def exit_interrupted(message: str) -> NoReturn:
    """Ctrl-C: one line saying what was kept, exit 130. (typer turns a bare KeyboardInterrupt into a
    silent exit 130, and runs and statuses are already right, so only the words are added here.)"""
    err_console.print(message, markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(130)


_RANGE = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+))?\s*$")


def parse_subjects(text: str | None) -> list[int] | None:
    """Parse ``"1-32"``, ``"1,3,5-8"`` into sorted subject numbers (None stays None)."""
    if text is None or text.strip().lower() in ("", "all"):
        return None
    out: set[int] = set()
    for part in text.split(","):
        m = _RANGE.match(part)
        if not m:
            raise ConfigError(f"--subjects {text!r}: expected numbers and ranges like '1-32' or '1,3,5-8'")
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
        if lo < 1 or hi > 32 or lo > hi:
            raise ConfigError(f"--subjects {text!r}: subjects are numbered 1-32")
        out.update(range(lo, hi + 1))
    return sorted(out)


def parse_overrides(items: list[str] | None, option: str) -> dict:
    """Parse repeated ``key=value`` options; values are JSON when they parse, else strings."""
    out: dict = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{option} {item!r}: expected key=value")
        try:
            out[key.strip().replace("-", "_")] = json.loads(value)
        except ValueError:
            out[key.strip().replace("-", "_")] = value
    return out


def read_config_file(path: Path | None) -> dict:
    """Read a TOML or JSON config file into a dict (missing or bad file: one-line error)."""
    if path is None:
        return {}
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file ({exc.strerror or exc})") from None
    try:
        if str(path).endswith(".json"):
            return json.loads(text)
        import tomllib

        return tomllib.loads(text)
    except ValueError as exc:
        raise ConfigError(
            f"{path}: not valid {'JSON' if str(path).endswith('.json') else 'TOML'} ({exc})"
        ) from None


def epochs_help(lead: str = "Max epochs (early stopping may end sooner)") -> str:
    """``--epochs`` help that says what happens without it, from the code's own numbers: each trainable
    model's default epoch cap (registry) and the cap of the embedded synthetic default (``QUICK_EPOCHS``)."""
    from bench.cli.run import QUICK_EPOCHS
    from bench.recipes import DEFAULT_MAX_EPOCHS
    from bench.registry import list_models

    caps: dict[int, list[str]] = {}
    for info in list_models():
        if info.trainable:
            caps.setdefault(int(info.defaults.get("max_epochs", DEFAULT_MAX_EPOCHS)), []).append(info.name)
    per_model = ", ".join(f"{cap} for {'/'.join(names)}" for cap, names in caps.items())
    return (
        f"{lead}; default: the model's own cap ({per_model}), or at most {QUICK_EPOCHS} on the embedded "
        "synthetic default (no --deap, no $DEAP_DIR)"
    )
