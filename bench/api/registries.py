"""The registries from Python: ``bench models``, ``bench models NAME`` and ``bench data info``'s dataset
table as DataFrames and dicts, with the raw values beside the words the CLI prints."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from bench.data.datasets import list_datasets as registered_datasets
from bench.data.features import FeatureConfig
from bench.data.inputs import TASKS
from bench.data.source import generated_twin
from bench.models.recipes import describe_train, recipe_train
from bench.models.registry import count_parameters, create_model, get_model_info
from bench.models.registry import list_models as registered_models
from bench.models.view import layer_summary, max_epochs_label, param_label, tasks_label


def list_models() -> pd.DataFrame:
    """The registered models, one row each: the columns ``bench models`` shows and their raw values.

    Returns
    -------
    pandas.DataFrame
        ``name``, ``paper`` (citation), ``input`` (in words), ``tasks`` (in words), ``parameters``
        (as printed: ``x 2`` where the paper trains one model per task), ``max_epochs`` (the epoch cap
        of a run without ``epochs``; ``<NA>`` for untrained baselines), ``valence`` and ``arousal`` (the
        paper-reported DEAP accuracies in %, as reported, never ours; None where none), ``fidelity``,
        and ``full_name``, ``trainable``, ``multitask``, ``n_parameters`` (of one model, int).
    """
    rows = []
    for info in registered_models():
        tasks = TASKS if info.multitask else TASKS[:1]
        rows.append(
            {
                "name": info.name,
                "paper": info.citation,
                "input": info.input_spec.describe(),
                "tasks": tasks_label(info),
                "parameters": param_label(info),
                "max_epochs": int(max_epochs_label(info)) if info.trainable else None,
                "valence": info.reported.get("valence"),
                "arousal": info.reported.get("arousal"),
                "fidelity": info.fidelity,
                "full_name": info.full_name,
                "trainable": info.trainable,
                "multitask": info.multitask,
                "n_parameters": count_parameters(create_model(info.name, tasks=tasks)),
            }
        )
    frame = pd.DataFrame(rows)
    frame["max_epochs"] = frame["max_epochs"].astype("Int64")  # <NA> for untrained baselines, not NaN
    return frame


def model_info(name: str) -> dict[str, Any]:
    """The facts ``bench models NAME`` shows about one model.

    Parameters
    ----------
    name : str
        A registered model.

    Returns
    -------
    dict
        ``name``, ``full_name``, ``citation``, ``doi``, ``input``, ``sample_shape``, ``tasks``,
        ``n_parameters`` (built with the tasks it trains at once), ``reported`` (the paper's numbers, as
        reported), ``fidelity``, ``notes``, ``model_options`` (what ``model_options=`` accepts),
        ``defaults`` (applied), ``bf16_parity``, ``recipes`` (``{"harness": {...}, "paper": {...}}``,
        the training settings in words) and ``layers`` (a DataFrame: ``module``, ``type``,
        ``output_shape``, ``parameters``; empty for untrained baselines).

    Raises
    ------
    ConfigError
        An unknown model name (the message lists the known ones).
    """
    info = get_model_info(name)
    tasks = TASKS if info.multitask else TASKS[:1]
    model = create_model(name, tasks=tasks)
    layers = (
        layer_summary(model, info.input_spec.sample_shape()) if info.trainable else []
    )  # a forward-hook pass, as `bench models NAME` shows it
    return {
        "name": info.name,
        "full_name": info.full_name,
        "citation": info.citation,
        "doi": info.doi,
        "input": info.input_spec.describe(),
        "sample_shape": info.input_spec.sample_shape(),
        "tasks": tasks_label(info),
        "n_parameters": count_parameters(model),
        "reported": dict(info.reported),
        "fidelity": info.fidelity,
        "notes": tuple(info.notes),
        "model_options": tuple(info.model_params),
        "defaults": dict(info.defaults),
        "max_epochs": int(max_epochs_label(info)) if info.trainable else None,
        "bf16_parity": info.bf16_parity,
        "recipes": {r: describe_train(recipe_train(info, r)) for r in ("harness", "paper")}
        if info.trainable
        else {},
        "layers": pd.DataFrame(layers, columns=["module", "type", "output_shape", "parameters"]),
    }


def list_datasets() -> pd.DataFrame:
    """The registered datasets, one row each: the columns of ``bench data info``'s table and raw values.

    Returns
    -------
    pandas.DataFrame
        ``name``, ``title``, ``n_subjects``, ``n_trials``, ``n_channels``, ``sfreq`` (Hz),
        ``baseline_s`` and ``trial_s`` (seconds of a recording), ``baseline_subtracted`` (the segment the
        features subtract, in words), ``scale_low``, ``scale_high`` and ``threshold`` (ratings above it
        are "high"; None for a categorical dataset), ``tasks`` (comma-separated), ``labels`` (in words),
        ``env`` (the environment variable naming its folder), ``env_value`` (its value; missing
        where unset), ``env_is_folder``, ``twin_generated`` (the embedded synthetic twin is in the cache).
    """
    seconds = FeatureConfig().baseline_s
    rows = []
    for ds in registered_datasets():
        value = os.environ.get(ds.env) or None
        rows.append(
            {
                "name": ds.name,
                "title": ds.title,
                "n_subjects": ds.n_subjects,
                "n_trials": ds.n_trials,
                "n_channels": len(ds.channels),
                "sfreq": ds.sfreq,
                "baseline_s": ds.baseline_s,
                "trial_s": ds.trial_s,
                "baseline_subtracted": ds.baseline_words(seconds),
                "scale_low": ds.scale[0],
                "scale_high": ds.scale[1],
                "threshold": ds.threshold,
                "tasks": ",".join(ds.tasks),
                "labels": ds.labels_words(),
                "env": ds.env,
                "env_value": value,
                "env_is_folder": bool(value) and Path(value).expanduser().is_dir(),
                "twin_generated": generated_twin(ds.name) is not None,
            }
        )
    return pd.DataFrame(rows)
