"""The model pages: an index table of every registered model, then one page per model.

The facts are the ones ``bench models`` and ``bench models NAME`` show, collected by the same code
(:func:`bench.models.view.models_table`, :func:`~bench.models.view.layer_summary`, the recipes of
:mod:`bench.models.recipes`) and read from each :class:`~bench.models.registry.ModelInfo`: a model
registered by another installed package (entry-point group ``deap_bench.models``) gets its page too.
"""

from __future__ import annotations

from pathlib import Path

from bench.data.inputs import TASKS
from bench.models.recipes import describe_train, recipe_train
from bench.models.registry import ENTRY_POINT_GROUP, ModelInfo, count_parameters, create_model, list_models
from bench.models.view import layer_summary, models_table, tasks_label
from registry_pages.markup import (
    code,
    code_block,
    fields,
    generated_note,
    heading,
    page,
    table,
    text,
    toctree,
    write_folder,
)

REPORTED_WORDS = (
    "As reported in the paper, on DEAP, under the paper's own protocol and split: numbers quoted from the "
    "paper, not results of this harness (which may differ in protocol, split and data)."
)


def _plain(cell: object) -> str:
    """A cell of a terminal table as plain text (rich Text cells carry their words in ``plain``)."""
    return str(getattr(cell, "plain", cell))


def index_page() -> str:
    """The table of ``bench models`` (same columns, same words), each name linking to its page."""
    view = models_table()
    rows = [
        [f"[{text(_plain(r[0]))}]({_plain(r[0])}.md)", *(text(_plain(c)) for c in r[1:])] for r in view.rows
    ]
    names = [_plain(r[0]) for r in view.rows]
    return page(
        heading("Models", target="models-index"),
        generated_note("the model registry (bench.models.registry), as `bench models` shows it"),
        text(
            "Every registered model: the built-ins and those other installed packages add through the "
            f"entry-point group `{ENTRY_POINT_GROUP}`."
        ),
        text(
            "The valence % and arousal % columns are the accuracies each paper reports on DEAP, as "
            "reported (each model's page gives the paper's protocol): not results of this harness."
        ),
        table([c.header for c in view.columns], rows, escaped=True),
        text(view.caption or ""),
        toctree(names, hidden=True),
    )


def _accuracy(value: object) -> str:
    return "not reported" if value is None else f"{float(value):.2f} %"


def _reported(info: ModelInfo) -> str:
    if all(info.reported.get(task) is None for task in TASKS) and not info.reported.get("note"):
        return "No accuracy on DEAP is reported for this model.\n"
    lines = [f"- {task}: {_accuracy(info.reported.get(task))}" for task in TASKS]
    if info.reported.get("note"):
        lines.append(f"- protocol note (as reported): {text(info.reported['note'])}")
    return "\n".join([text(REPORTED_WORDS), "", *lines]) + "\n"


def _tasks(info: ModelInfo) -> str:
    label = tasks_label(info)  # the words of `bench models`, with the reason of a single-task one
    return label + (" (the paper trains one model per task)" if label == "single-task" else "")


def _facts(info: ModelInfo, n_params: int, tasks: tuple[str, ...]) -> str:
    paper = text(info.citation)
    if info.doi:
        paper += f" [doi:{text(info.doi)}](https://doi.org/{info.doi})"
    rows = [
        ("name", code(info.name)),
        ("model", text(info.full_name)),
        ("paper", paper),
        ("registered by", f"{{py:mod}}`{info.factory.__module__}`"),
        ("input", text(info.input_spec.describe())),
        ("sample shape", code(tuple(info.input_spec.sample_shape()))),
        ("tasks", text(_tasks(info))),
        ("parameters", f"{n_params:,} (built with tasks {', '.join(tasks)})"),
        ("fidelity", code(info.fidelity)),
        ("model options", ", ".join(code(p) for p in info.model_params) or "none"),
    ]
    if info.defaults:
        rows.append(("defaults (applied)", ", ".join(code(f"{k} = {v}") for k, v in info.defaults.items())))
    if info.trainable:
        rows.append(
            ("bf16 parity", text(info.bf16_parity or "not measured: --precision auto trains it in fp32"))
        )
    return fields(rows)


def _recipes(info: ModelInfo) -> str:
    harness = describe_train(recipe_train(info, "harness"))
    paper = describe_train(recipe_train(info, "paper"))
    rows = [(k, v, paper[k] + (" (differs)" if paper[k] != v else "")) for k, v in harness.items()]
    blocks = [
        heading("Training recipes", 2),
        text(
            "The harness recipe is what every run applies by default; the paper recipe is what "
            "`bench run --recipe paper` applies."
        ),
        table(("setting", "harness (applied)", "paper (--recipe paper)"), rows),
    ]
    if info.paper_recipe_note:
        blocks.append(f"Paper recipe: {text(info.paper_recipe_note)}\n")
    return page(*blocks)


def _layers(model, info: ModelInfo) -> str:
    rows = [
        (code(name), code(kind), code(shape), f"{n:,}" if n else "")
        for name, kind, shape, n in layer_summary(model, info.input_spec.sample_shape())
    ]
    return page(
        heading("Layers", 2),
        text("One forward pass with a hook on every leaf module (batch axis omitted)."),
        table(("module", "type", "output shape", "parameters"), rows, escaped=True),
    )


def model_page(info: ModelInfo) -> str:
    """One model's page: facts, reported numbers, notes, recipes and layers (as ``bench models NAME``)."""
    tasks = TASKS if info.multitask else TASKS[:1]
    model = create_model(info.name, tasks=tasks)
    notes = "\n".join(f"{i}. {text(n)}" for i, n in enumerate(info.notes, start=1)) or "None.\n"
    blocks = [
        heading(f"{info.name}: {info.full_name}", target=f"model-{info.name}"),
        generated_note(f"the registration of {info.name} in the model registry"),
        _facts(info, count_parameters(model), tasks),
        heading("Reported numbers", 2),
        _reported(info),
        heading("Notes (choices and sources)", 2),
        notes + "\n",
    ]
    if info.trainable:
        blocks += [_recipes(info), _layers(model, info)]
    else:
        blocks.append(text("No layers: predictions come from the training labels only."))
    blocks.append(heading("Command", 2))
    blocks.append(code_block(f"bench models {info.name}\nbench run --model {info.name}", "bash"))
    return page(*blocks)


def write(folder: Path) -> list[Path]:
    """Write ``folder/index.md`` and one ``folder/NAME.md`` per registered model (and remove the pages
    of models no longer registered); returns the paths."""
    pages = {"index.md": index_page(), **{f"{info.name}.md": model_page(info) for info in list_models()}}
    return write_folder(folder, pages)
