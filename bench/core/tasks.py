"""Classification tasks: what a label column means, how many classes it has, and its chance level.

A task is a registered description. DEAP and its kin label each trial with self-ratings, which the
harness binarises (``valence``, ``arousal``: low / high); the SJTU SEED family and FACED label each film
clip with a category (``valence3``: negative / neutral / positive, ``emotion4`` .. ``emotion9``). Models
build one head of :attr:`Task.n_classes` outputs per task; metrics, class weights, trivial baselines, the
statistics and the tables read the class count and the chance level from here, so a new task is one
:func:`register_task` call.

The registry order is the canonical task order (the order of a run's ``tasks`` and of the tables'
columns): valence before arousal, as every run tracked before the registry existed.

A dataset may also offer a task its labels do not hold, read from one that they do through a
:class:`DerivedTask`: the label harmonisation between the families. SEED's and FACED's ``valence3``
(negative / neutral / positive) give the binary ``valence`` of the rating datasets (negative = low,
positive = high) with the neutral clips left out, so a model trained on DEAP's binarised valence ratings
can be tested on SEED's clips and the other way round.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from bench.core.checks import check_option
from bench.core.errors import ConfigError
from bench.core.registry import Registry

SOURCES: tuple[str, ...] = ("rating", "category")
"""Where a task's labels come from: a self-rating binarised at the dataset's threshold, or a category
given per trial (the stimulus's intended emotion)."""


@dataclass(frozen=True)
class Task:
    """One classification task.

    Attributes
    ----------
    name : str
        The task's name in configs, run keys and metric names (``test_acc_<name>``).
    classes : tuple of str
        Class names in label order: label ``i`` is ``classes[i]``.
    source : {"rating", "category"}
        A binarised self-rating (the dataset's threshold decides) or a category per trial.
    description : str
        One line for the docs and ``bench models``.
    short : str
        The column prefix of the run's terminal table (``V``, ``A``, ``V3``, ``E9``).
    """

    name: str
    classes: tuple[str, ...]
    source: str
    description: str = ""
    short: str = ""

    def __post_init__(self) -> None:
        if len(self.classes) < 2 or len(set(self.classes)) != len(self.classes):
            raise ValueError(
                f"task {self.name!r}: classes must be 2 or more distinct names, got {self.classes}"
            )
        if self.source not in SOURCES:
            raise ValueError(f"task {self.name!r}: source={self.source!r}; allowed: {', '.join(SOURCES)}")
        if self.source == "rating" and len(self.classes) != 2:
            raise ValueError(f"task {self.name!r}: a binarised rating has exactly 2 classes")
        if not self.short:
            object.__setattr__(self, "short", self.name[0].upper())

    @property
    def n_classes(self) -> int:
        """Number of classes (the width of a model's head for this task)."""
        return len(self.classes)

    @property
    def chance(self) -> float:
        """Chance level of a uniform guess, ``1 / n_classes`` (the tables' nominal chance)."""
        return 1.0 / self.n_classes


TASKS: Registry[Task] = Registry("task", group="deap_bench.tasks")
"""Every registered task, in canonical order."""


def register_task(task: Task) -> Task:
    """Add ``task`` to the registry (a duplicate name is a programmer error) and return it."""
    return TASKS.register(task.name, task)


def get_task(name: str) -> Task:
    """The registered task ``name``; an unknown name is a one-line :class:`ConfigError`."""
    return TASKS.get(name)


def task_names() -> tuple[str, ...]:
    """Names of every registered task, in canonical order."""
    return tuple(TASKS.names())


def n_classes(name: str) -> int:
    """Number of classes of task ``name``."""
    return get_task(name).n_classes


def check_tasks(tasks: str | Iterable[str], allowed: Iterable[str] | None = None, *, what: str = "tasks"):
    """Validate a task selection and return it as a tuple in canonical (registry) order.

    Parameters
    ----------
    tasks : str or iterable of str
        Task names (one name is a selection of one).
    allowed : iterable of str, optional
        The tasks this context offers (a dataset's labels); default every registered task.
    what : str
        The parameter's name in the error message.
    """
    chosen = (tasks,) if isinstance(tasks, str) else tuple(tasks)
    offered = task_names() if allowed is None else tuple(allowed)
    if not chosen:
        raise ConfigError(f"{what}=(): expected a non-empty list of {', '.join(offered)}")
    if len(set(chosen)) != len(chosen):
        raise ConfigError(f"{what}={chosen!r}: a task is named twice")
    for t in chosen:
        check_option(what, t, offered)
    order = task_names()
    return tuple(sorted(chosen, key=lambda t: order.index(t) if t in order else len(order)))


@dataclass(frozen=True)
class DerivedTask:
    """A task a dataset offers by mapping the classes of one of its own tasks (a label harmonisation).

    Attributes
    ----------
    task : str
        The task offered (a registered task).
    source : str
        The dataset's own task its labels are read from.
    classes : tuple of int or None
        For each class of ``source``, in order, its class in ``task``; None leaves the trials of that
        class out of every run that asks for ``task``.
    """

    task: str
    source: str
    classes: tuple[int | None, ...]

    def __post_init__(self) -> None:
        target, source = get_task(self.task), get_task(self.source)
        if len(self.classes) != source.n_classes:
            raise ValueError(f"{self}: one class of {self.task!r} (or None) per class of {self.source!r}")
        kept = {c for c in self.classes if c is not None}
        if kept != set(range(target.n_classes)):
            raise ValueError(
                f"{self}: every class of {self.task!r} must come from a class of {self.source!r}"
            )

    @property
    def dropped(self) -> tuple[str, ...]:
        """The classes of ``source`` whose trials are left out."""
        return tuple(n for n, c in zip(get_task(self.source).classes, self.classes, strict=True) if c is None)

    def describe(self) -> str:
        """In words, e.g. ``valence from valence3: negative = low, positive = high (neutral left out)``."""
        target, source = get_task(self.task), get_task(self.source)
        pairs = [f"{n} = {target.classes[c]}" for n, c in zip(source.classes, self.classes, strict=True)
                 if c is not None]  # fmt: skip
        left = f" ({', '.join(self.dropped)} left out)" if self.dropped else ""
        return f"{self.task} from {self.source}: {', '.join(pairs)}{left}"

    def map(self, labels: np.ndarray) -> np.ndarray:
        """``source`` class indices to ``task`` class indices, -1 where the class is left out (and where
        the label is -1 already)."""
        table = np.array([-1 if c is None else c for c in self.classes], dtype=np.int64)
        labels = np.asarray(labels, dtype=np.int64)
        return np.where(labels >= 0, table[np.clip(labels, 0, len(table) - 1)], -1)


BINARY_CLASSES = ("low", "high")

for _task in (
    Task("valence", BINARY_CLASSES, "rating", "valence self-rating above the dataset's threshold or not"),
    Task("arousal", BINARY_CLASSES, "rating", "arousal self-rating above the dataset's threshold or not"),
    Task(
        "valence3",
        ("negative", "neutral", "positive"),
        "category",
        "the clip's intended valence (SEED's labels; FACED's valence)",
        "V3",
    ),
    Task("emotion4", ("neutral", "sad", "fear", "happy"), "category", "SEED-IV's four emotions", "E4"),
    Task(
        "emotion5", ("disgust", "fear", "sad", "neutral", "happy"), "category", "SEED-V's five emotions", "E5"
    ),
    Task(
        "emotion9",
        ("anger", "disgust", "fear", "sadness", "neutral", "amusement", "inspiration", "joy", "tenderness"),
        "category",
        "FACED's nine emotion categories",
        "E9",
    ),
):
    register_task(_task)


VALENCE_FROM_VALENCE3 = DerivedTask("valence", "valence3", (0, None, 1))
"""SEED's and FACED's clip valence as the rating datasets' binary valence: negative clips = low, positive
clips = high, neutral clips left out."""
