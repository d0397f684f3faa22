"""The Python API: what the ``bench`` commands do, as functions a notebook calls.

Every command of the CLI is a thin shell over these functions (it parses, calls, prints), so a function
and its command take the same options (Python-spelled: ``--batch-size`` is ``batch_size``), refuse the
same values with the same one-line :class:`~bench.core.errors.ConfigError`, and make the same runs with
the same run keys in the same MLflow store. They are also exported from the package itself::

    import bench
    result = bench.run("majority", folds=2, tracking_uri="sqlite:///runs.db")
    result.metrics                   # one row per unit and task
    bench.table("comparison", tracking_uri="sqlite:///runs.db")

=========================================  ====================================================
function                                   command
=========================================  ====================================================
:func:`run` -> :class:`RunResult`          ``bench run``
:func:`table` -> DataFrame                 ``bench table NAME`` (its numbers)
:func:`render_table` -> str                ``bench table NAME`` (its text, or ``--format``)
:func:`list_runs` -> DataFrame             ``bench runs``
:func:`list_data_sets` -> DataFrame        ``bench runs --datasets``
:func:`list_models` -> DataFrame           ``bench models``
:func:`model_info` -> dict                 ``bench models NAME``
:func:`list_datasets` -> DataFrame         ``bench data info`` (the registered datasets)
:func:`reproduce` -> :class:`GridOutcome`  ``bench reproduce`` (``plan_only=True``: ``--plan``)
:func:`report` -> Path                     ``bench report``
=========================================  ====================================================

Naming: ``bench.models`` and ``bench.runs`` are the layer subpackages (``bench/models/``,
``bench/runs/``): once a subpackage is imported, the package attribute of that name is the module, so no
function can be called ``bench.models()`` or ``bench.runs()``. The listings are therefore
``list_models``, ``list_runs``, ``list_datasets`` (the registered datasets) and ``list_data_sets`` (the
data sets, a dataset's features at one fingerprint, that hold runs in a store); one model's facts are
``model_info``.

This layer sits between :mod:`bench.results` and :mod:`bench.cli` and imports only layers below it.
"""

from __future__ import annotations

from bench.api.experiment import RunPlan, RunResult, plan_run, run
from bench.api.grids import GridOutcome, report, reproduce
from bench.api.registries import list_datasets, list_models, model_info
from bench.api.tables import list_data_sets, list_runs, render_table, table

__all__ = [
    "GridOutcome",
    "RunPlan",
    "RunResult",
    "list_data_sets",
    "list_datasets",
    "list_models",
    "list_runs",
    "model_info",
    "plan_run",
    "render_table",
    "report",
    "reproduce",
    "run",
    "table",
]
