"""A run's labels: the columns of its tasks, with tasks a dataset derives from its own labels mapped in.

A dataset's inputs hold the labels of its own tasks (:attr:`~bench.data.datasets.Dataset.tasks`). A run
may ask for a task the dataset derives (:attr:`~bench.data.datasets.Dataset.derived_tasks`): SEED's and
FACED's binary ``valence`` is read from ``valence3``, negative = low and positive = high, and the samples
of neutral clips are left out of the run altogether (training, validation and test), before any fold is
made, so each protocol splits the remaining trials by its own rule. Where the labels hold every task a
run asks for, its inputs are used as they are (no copy), so no existing run changes.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from bench.data.datasets import get_dataset
from bench.data.inputs import ModelInputs, take


def inputs_for_tasks(inputs: ModelInputs, tasks: tuple[str, ...] | None, dataset: str) -> ModelInputs:
    """``inputs`` whose labels hold ``tasks``.

    Parameters
    ----------
    inputs : ModelInputs
        One dataset's inputs, labelled with its own tasks.
    tasks : tuple of str, optional
        The run's tasks (checked against the dataset's offer by :class:`~bench.config.run.RunConfig`);
        None: the labels as they are.
    dataset : str
        The registered dataset the inputs come from (its derivations are read from it).

    Returns
    -------
    ModelInputs
        ``inputs`` itself where its labels hold every task; otherwise the samples whose derived labels are
        defined, labelled with exactly ``tasks`` (``ratings`` holding the same class indices).
    """
    if tasks is None or all(t in inputs.label_tasks for t in tasks):
        return inputs
    ds = get_dataset(dataset)
    columns, keep = [], np.ones(len(inputs), dtype=bool)
    for task in tasks:
        if task in inputs.label_tasks:
            columns.append(inputs.labels[:, inputs.label_tasks.index(task)])
            continue
        derived = ds.derivation(task)
        if derived is None or derived.source not in inputs.label_tasks:
            raise ValueError(f"{ds.title}'s labels {list(inputs.label_tasks)} give no {task!r}")
        column = derived.map(inputs.labels[:, inputs.label_tasks.index(derived.source)])
        keep &= column >= 0
        columns.append(column)
    labels = np.stack(columns, axis=1)
    index = np.flatnonzero(keep)
    kept = take(inputs, index)
    return _relabelled(kept, labels[index], tuple(tasks))


def restrict_tasks(inputs: ModelInputs, tasks: tuple[str, ...]) -> ModelInputs:
    """``inputs`` with the label (and rating) columns of ``tasks`` only, in that order: two datasets'
    inputs joined for a cross-dataset run must hold the same columns."""
    if tuple(inputs.label_tasks) == tuple(tasks):
        return inputs
    cols = inputs.label_columns(tasks)
    return replace(
        inputs, labels=inputs.labels[:, cols], ratings=inputs.ratings[:, cols], label_tasks=tuple(tasks)
    )


def _relabelled(inputs: ModelInputs, labels: np.ndarray, tasks: tuple[str, ...]) -> ModelInputs:
    """``inputs`` with ``labels`` (one column per task of ``tasks``); ``ratings`` hold the same indices."""
    labels = np.ascontiguousarray(labels, dtype=np.int64)
    return replace(inputs, labels=labels, ratings=labels.astype(np.float32), label_tasks=tasks)
