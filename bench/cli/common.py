"""Pieces the CLI commands share: consoles, the data options' declarations, messages.

The values those options carry are checked in :mod:`bench.api` (:mod:`bench.api.choices`,
:mod:`bench.api.settings`), which the Python API and the commands share.
"""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console

from bench.config.run import QUICK_EPOCHS
from bench.data.datasets import dataset_names, get_dataset
from bench.models.registry import list_models
from bench.models.view import max_epochs_label

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
"""Where units run (`bench run`, `bench reproduce`, `bench ablate`; bench.runs.executors.make_executor)."""
LOG_MODEL_HELP = "Save each unit's trained weights as an MLflow artifact (not part of the run key)"
COMPILE_HELP = "torch.compile each model (CUDA graphs on a GPU, for small models; not part of the run key)"


def _envs() -> str:
    return ", ".join(f"${get_dataset(n).env}" for n in dataset_names())


DATASET_OPTION = typer.Option(
    None,
    "--dataset",
    "--train",
    help=f"Dataset: {' | '.join(dataset_names())} (default deap; `bench data info` describes them); "
    "the training dataset of --protocol cross-dataset",
)
DATA_DIR_OPTION = typer.Option(
    None,
    "--data-dir",
    help=f"The dataset's folder; default: its environment variable ({_envs()}), else its embedded "
    "synthetic twin",
)
DEAP_OPTION = typer.Option(
    None,
    "--deap",
    help="DEAP folder (sXX.dat files or DEAP's top folder): short for --dataset deap --data-dir DIR; "
    "default: $DEAP_DIR, else the embedded synthetic DEAP",
)
SYNTHETIC_OPTION = typer.Option(
    False,
    "--synthetic",
    help="Use the dataset's embedded synthetic twin (each dataset's, with --test), even where its "
    "environment variable is set; not with a folder",
)
TEST_OPTION = typer.Option(
    None,
    "--test",
    help=f"Test dataset of --protocol cross-dataset (implied): {' | '.join(dataset_names())}; the run "
    "trains on every subject of --dataset and tests on every subject of this one",
)
TEST_DATA_DIR_OPTION = typer.Option(
    None,
    "--test-data-dir",
    help="The test dataset's folder; default: its environment variable, else its embedded synthetic twin",
)
"""The data options, declared once for every command that reads data (:func:`data_choice` resolves
them): ``--dataset``/``--train``, ``--data-dir``, ``--deap`` (DEAP's shorthand), ``--synthetic``, and on
commands that build a run config ``--test``/``--test-data-dir`` for the cross-dataset protocol."""


def exit_interrupted(message: str) -> NoReturn:
    """Ctrl-C: one line saying what was kept, exit 130. (typer turns a bare KeyboardInterrupt into a
    silent exit 130, and runs and statuses are already right, so only the words are added here.)"""
    err_console.print(message, markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(130)


def epochs_help(lead: str = "Max epochs (early stopping may end sooner)") -> str:
    """``--epochs`` help that says what happens without it, from the code's own numbers: each trainable
    model's default epoch cap (registry) and the cap of the embedded synthetic default (``QUICK_EPOCHS``)."""
    caps: dict[str, list[str]] = {}
    for info in list_models():
        if info.trainable:
            caps.setdefault(max_epochs_label(info), []).append(info.name)
    per_model = ", ".join(f"{cap} for {'/'.join(names)}" for cap, names in caps.items())
    return (
        f"{lead}; default: the model's own cap ({per_model}), or at most {QUICK_EPOCHS} on the embedded "
        "synthetic twins (--synthetic, or no folder and no $DEAP_DIR or the dataset's own variable)"
    )
