"""deap-bench: a benchmark and model-comparison harness for EEG emotion recognition on DEAP.

The Python API (:mod:`bench.api`) is exported here: ``bench.run(...)``, ``bench.table(...)``,
``bench.list_models()`` ... It is loaded on first use (PEP 562), so ``import bench.core`` stays light
and no layer below :mod:`bench.api` imports it through the package.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

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
"""The names of :mod:`bench.api` the package exports (``bench.api.__all__``)."""


def __getattr__(name: str) -> Any:
    """``bench.run`` and the other API names, imported from :mod:`bench.api` on first use."""
    if name in __all__:
        # imported here, not at the top: bench.api imports every layer (torch, MLflow), and each layer
        # imports this package first; a top-level import would load them all and close an import circle
        value = getattr(importlib.import_module("bench.api"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'bench' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
