"""Rich renderables describing the registered models (``bench models`` and ``bench models NAME``).

Everything shown is generated from the registry metadata and from the models themselves (parameter
counts, a forward-hook pass for per-layer shapes), so the tables cannot drift from the code.
"""

from __future__ import annotations

from typing import Any

import torch
from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from torch import nn

from bench.core.terminal import NAME, TEXT, Col, FitTable
from bench.data.inputs import TASKS
from bench.models.recipes import DEFAULT_MAX_EPOCHS, describe_train, recipe_train
from bench.models.registry import ModelInfo, count_parameters, create_model, get_model_info, list_models


def _fmt_acc(value: Any) -> str:
    return "-" if value is None else f"{float(value):.2f}"


def tasks_label(info: ModelInfo) -> str:
    if not info.trainable:
        return "per task (no training)"
    return "multi-task heads" if info.multitask else "single-task"


def param_label(info: ModelInfo) -> str:
    """Parameters of the model as the paper trains it (both heads, or one model per task)."""
    tasks = TASKS if info.multitask else TASKS[:1]
    n = count_parameters(create_model(info.name, tasks=tasks))
    return f"{n:,}" + ("" if info.multitask or not info.trainable else " x 2")


def max_epochs_label(info: ModelInfo) -> str:
    """The model's own epoch cap (what a run without ``--epochs`` trains at most), "-" if not trained.

    The registry default is the one source of this number: ``bench run --help`` and this table read it."""
    return str(int(info.defaults.get("max_epochs", DEFAULT_MAX_EPOCHS))) if info.trainable else "-"


def models_table() -> FitTable:
    """One row per registered model: name, paper, input, tasks, parameters, epoch cap, reported V/A,
    fidelity.

    At a narrow terminal the paper, then the tasks, then the input columns are left out (and named)."""
    columns = [
        Col("name", NAME, style="bold cyan"),
        Col("paper", TEXT, priority=1),
        Col("input", TEXT, priority=3),
        Col("tasks", TEXT, priority=2),
        Col("parameters"),
        Col("max epochs", priority=2),
        Col("valence %"),
        Col("arousal %"),
        Col("fidelity", NAME),
    ]
    rows = [
        [
            info.name,
            info.citation,
            info.input_spec.describe(),
            tasks_label(info),
            param_label(info),
            max_epochs_label(info),
            _fmt_acc(info.reported.get("valence")),
            _fmt_acc(info.reported.get("arousal")),
            Text(info.fidelity, style="green" if info.fidelity == "exact" else "yellow"),
        ]
        for info in list_models()
    ]
    caption = (
        "parameters 'x 2': the paper trains one model per task; max epochs: the cap of a run without "
        "--epochs (early stopping usually ends sooner; the embedded synthetic default caps lower); "
        "accuracies as reported on DEAP; all models train under the harness recipe (`bench models NAME` "
        "compares it with the paper's, --recipe paper)"
    )
    return FitTable(columns, rows, title="Registered models", caption=caption)


def recipes_table(info: ModelInfo) -> Table:
    """The harness recipe (what a default run applies) beside the paper recipe (``--recipe paper``).

    Both columns come from TrainConfig, the model's defaults and its paper recipe; paper values that
    differ from the harness are highlighted.
    """
    harness = describe_train(recipe_train(info, "harness"))
    paper = describe_train(recipe_train(info, "paper"))
    table = Table(title="training recipes")
    table.add_column("setting", style="bold")
    table.add_column("harness (applied)")
    table.add_column("paper (--recipe paper)")
    for setting, value in harness.items():
        other = paper[setting]
        table.add_row(setting, value, Text(other, style="yellow" if other != value else ""))
    if info.paper_recipe_note:
        table.caption = f"paper recipe: {info.paper_recipe_note}"
        table.caption_justify = "left"
    return table


def _shape(out: Any) -> str:
    if isinstance(out, torch.Tensor):
        return "x".join(map(str, out.shape[1:])) or "scalar"
    if isinstance(out, tuple | list) and out:
        return _shape(out[0])
    if isinstance(out, dict) and out:
        return ", ".join(f"{k}: {_shape(v)}" for k, v in out.items())
    return "?"


def layer_summary(model: nn.Module, sample_shape: tuple[int, ...]) -> list[tuple[str, str, str, int]]:
    """Run one forward pass (batch 2, eval mode) with hooks on every leaf module.

    Returns
    -------
    list of (module path, type, output shape without the batch axis, own parameter count), in call order.
    """
    rows: list[tuple[str, str, str, int]] = []
    hooks = []
    for name, module in model.named_modules():
        is_leaf = not list(module.children())
        if not name or not is_leaf:
            continue

        def hook(mod: nn.Module, _inp: Any, out: Any, name: str = name) -> None:
            n_params = sum(p.numel() for p in mod.parameters(recurse=False) if p.requires_grad)
            rows.append((name, type(mod).__name__, _shape(out), n_params))

        hooks.append(module.register_forward_hook(hook))
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(2, *sample_shape))
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return rows


def model_details(name: str) -> Group:
    """Metadata, notes, defaults, training recipes and a per-layer summary of one model (unknown name:
    ConfigError)."""
    info = get_model_info(name)
    tasks = TASKS if info.multitask else TASKS[:1]
    model = create_model(name, tasks=tasks)

    meta = Table.grid(padding=(0, 2))
    meta.add_column(style="bold")
    meta.add_column()
    meta.add_row("name", info.name)
    meta.add_row("model", info.full_name)
    meta.add_row("paper", info.citation + (f"  doi:{info.doi}" if info.doi else ""))
    meta.add_row("input", f"{info.input_spec.describe()}  sample shape {info.input_spec.sample_shape()}")
    meta.add_row("tasks", tasks_label(info))
    meta.add_row("parameters", f"{count_parameters(model):,} (built with tasks {', '.join(tasks)})")
    rep = ", ".join(f"{t} {_fmt_acc(info.reported.get(t))}" for t in TASKS)
    if info.reported.get("note"):
        rep += f"\n{info.reported['note']}"
    meta.add_row("reported", rep)
    meta.add_row("fidelity", info.fidelity)
    options = ", ".join(info.model_params) or "none"
    meta.add_row("model options", options)
    if info.defaults:
        meta.add_row("defaults (applied)", "\n".join(f"{k} = {v}" for k, v in info.defaults.items()))
    if hasattr(model, "auxiliary_loss"):
        meta.add_row("auxiliary loss", "yes (auxiliary_loss() is added to the task loss)")
    if info.trainable:
        parity = info.bf16_parity or "not measured: --precision auto trains it in fp32"
        meta.add_row("bf16 parity", parity)

    notes = Text()
    for i, note in enumerate(info.notes, start=1):
        notes.append(f"{i}. ", style="bold")
        notes.append(note + ("\n" if i < len(info.notes) else ""))

    parts: list[Any] = [
        Panel(meta, title=f"[bold]{info.name}[/bold]", expand=False),
        Panel(notes or Text("none"), title="notes (choices and sources)", expand=False),
    ]
    if info.trainable:
        parts.append(recipes_table(info))
        layers = Table(title="layers (forward-hook pass, batch axis omitted)")
        layers.add_column("module")
        layers.add_column("type")
        layers.add_column("output shape")
        layers.add_column("parameters", justify="right")
        for mod_name, kind, shape, n in layer_summary(model, info.input_spec.sample_shape()):
            layers.add_row(mod_name, kind, shape, f"{n:,}" if n else "")
        layers.caption = f"total trainable parameters: {count_parameters(model):,}"
        parts.append(layers)
    else:
        parts.append(Text("no layers: predictions come from the training labels only"))
    return Group(*parts)
