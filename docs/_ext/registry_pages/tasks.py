"""The tasks page: every registered classification task, its classes, where its labels come from and its
chance level, read from the task registry (:mod:`bench.core.tasks`)."""

from __future__ import annotations

from bench.core.tasks import SOURCES, TASKS
from bench.data.datasets import list_datasets
from registry_pages.markup import code, generated_note, heading, page, prose, table, text

_SOURCE_WORDS = {
    "rating": "a self-rating, binarised at the dataset's threshold",
    "category": "a category per trial (the stimulus's intended emotion)",
}
assert set(_SOURCE_WORDS) == set(SOURCES)


def _derived_rows() -> list[tuple[str, str, str]]:
    """One row per dataset and task it derives (:attr:`bench.data.datasets.Dataset.derived_tasks`)."""
    return [
        (text(ds.title), code(d.task), text(d.describe())) for ds in list_datasets() for d in ds.derived_tasks
    ]


def tasks_page() -> str:
    """The page: what a task is, then one row per registered task."""
    rows = [
        (
            code(t.name),
            code(t.short),
            str(t.n_classes),
            text(", ".join(f"{i} {c}" for i, c in enumerate(t.classes))),
            text(_SOURCE_WORDS[t.source]),
            f"{100 * t.chance:.1f} %",
            text(t.description),
        )
        for t in TASKS.values()
    ]
    return page(
        heading("Tasks", target="tasks-page"),
        generated_note("the task registry (bench.core.tasks)"),
        prose(
            "A task names what a label column means and how many classes it has. A model builds one "
            "head per task of the run, as wide as the task has classes; metrics (accuracy, balanced "
            "accuracy, macro-F1 over the task's classes, one-vs-rest ROC-AUC), class weights, the "
            "trivial baselines and the tables' chance levels all read the class count from here. A "
            "run's ``--tasks`` are a subset of its dataset's (``bench data info``); the default is all "
            "of them. Chance is the accuracy of a uniform guess, ``1 / classes``; the tables' "
            "significance test against chance uses the binomial adjusted level over the run's "
            "independent test units (Combrisson & Jerbi 2015) at that rate."
        ),
        table(("task", "column", "classes", "labels", "source", "chance", "what"), rows, escaped=True),
        heading("Derived tasks: label harmonisation", level=2),
        prose(
            "A dataset may offer a task its labels do not hold, read from one that they do: the "
            "harmonisation that lets a cross-dataset run pair the families. A derived task that leaves "
            "trials out runs alone (``--tasks valence``), and its left-out trials are gone before any "
            "fold is made."
        ),
        table(("dataset", "task", "read as"), _derived_rows(), escaped=True),
        prose(
            "Binary tasks are decided by one rule: class 1 when its probability is above 0.5, an exact "
            "tie being class 0. A k-class task predicts its most probable class, a tie going to the "
            "lowest class index. A package adds a task with ``bench.core.tasks.register_task`` in a module "
            "named by an entry point of the group ``deap_bench.tasks``."
        ),
    )
