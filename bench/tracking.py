"""MLflow tracking: where runs go, how they are found again (resume), and what they are tagged with.

The default store is the one MLflow 3 recommends for local use: a SQLite database, here
``./mlflow.db`` in the working directory, with artifacts under ``./mlruns``. ``--tracking-uri`` or
``$MLFLOW_TRACKING_URI`` point at a shared server instead. The client API is used directly (no global
active run), so the same code logs from a process pool or a cluster worker.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
from pathlib import Path

from bench import __version__

TAG = "bench."
EXPERIMENTS = {"synthetic": "deap-bench-synthetic", "deap": "deap-bench-deap"}
"""Synthetic and DEAP results live in different experiments, so they can never mix."""


def resolve_tracking_uri(uri: str | None = None) -> str:
    """The argument, else ``$MLFLOW_TRACKING_URI``, else ``sqlite:///<cwd>/mlflow.db``."""
    uri = uri or os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return uri
    return f"sqlite:///{Path.cwd() / 'mlflow.db'}"


def client(uri: str | None = None):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=resolve_tracking_uri(uri))


def experiment_id(cl, kind: str) -> str:
    """The experiment for a data kind ("synthetic" or "deap"), created on first use."""
    name = EXPERIMENTS[kind]
    exp = cl.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    from mlflow.exceptions import MlflowException

    try:
        return cl.create_experiment(name, tags={f"{TAG}data_kind": kind})
    except MlflowException:  # created concurrently by another process
        return cl.get_experiment_by_name(name).experiment_id


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """Git commit of the installed code (with ``-dirty`` for local changes), else the package version."""
    root = Path(__file__).resolve().parent.parent
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5
        )
        if sha.returncode != 0:
            return f"v{__version__}"
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", "bench", "mtcnn", "baselines",
             "protocols"],
            cwd=root, capture_output=True, text=True, timeout=5,
        )  # fmt: skip
        return sha.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return f"v{__version__}"


def flatten(d: dict, prefix: str = "") -> dict[str, str]:
    """Nested config -> flat MLflow params (``train.lr`` -> ``"0.001"``)."""
    out: dict[str, str] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v and key != "model_options":
            out.update(flatten(v, key + "."))
        else:
            out[key] = json.dumps(v, default=str) if not isinstance(v, str) else v
    return out


def newest_run(cl, exp_id: str, tags: dict[str, str]):
    """The most recently started run whose tags have these values, or None."""
    runs = cl.search_runs(
        [exp_id],
        filter_string=" and ".join(f"tags.`{k}` = '{v}'" for k, v in tags.items()),
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    return runs[0] if runs else None


def find_parent(cl, exp_id: str, run_key: str):
    """The newest parent run for a run key, or None."""
    return newest_run(cl, exp_id, {f"{TAG}run_key": run_key, f"{TAG}role": "parent"})


def child_runs(cl, exp_id: str, parent_id: str) -> list:
    """All unit runs under a parent."""
    return list(
        cl.search_runs(
            [exp_id],
            filter_string=f"tags.mlflow.parentRunId = '{parent_id}'",
            max_results=50000,
        )
    )
