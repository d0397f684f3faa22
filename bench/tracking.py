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


TRACKING_SCHEMES = ("sqlite", "file", "http", "https", "postgresql", "mysql", "mssql", "databricks",
                    "databricks-uc", "uc")  # fmt: skip
"""Stores MLflow can open (SQLAlchemy dialects may add a driver: ``postgresql+psycopg2``)."""
SERVER_TIMEOUT_S = 5.0
"""How long a tracking server may take to answer the up-front check."""


def check_tracking_uri(uri: str | None = None) -> str:
    """The resolved tracking URI, checked before any work: a known scheme, an existing folder for a
    SQLite file, and for http(s) a server that answers within :data:`SERVER_TIMEOUT_S`.

    Without this an unknown scheme is a long MLflow traceback, and an http URI with nothing behind it
    retries for minutes after the data was prepared. Problems are one-line ConfigErrors naming the URI.
    """
    import urllib.error
    import urllib.parse
    import urllib.request

    from bench.checks import check_option
    from bench.errors import ConfigError

    uri = resolve_tracking_uri(uri)
    parsed = urllib.parse.urlparse(uri)
    scheme = parsed.scheme.split("+", 1)[0].lower()
    if len(scheme) <= 1:  # a plain path (or a Windows drive letter): MLflow's file store
        return uri
    try:
        check_option("scheme", scheme, TRACKING_SCHEMES)
    except ConfigError as exc:
        raise ConfigError(f"tracking URI {uri!r}: {exc}") from None
    if scheme == "sqlite":
        db = uri.split(":///", 1)[1] if ":///" in uri else ""
        if db and db != ":memory:" and not Path(db).expanduser().parent.is_dir():
            raise ConfigError(f"tracking URI {uri!r}: folder {Path(db).parent} does not exist")
    if scheme in ("http", "https"):
        url = uri.rstrip("/") + "/health"
        try:
            with urllib.request.urlopen(url, timeout=SERVER_TIMEOUT_S):
                pass
        except urllib.error.HTTPError as exc:
            if exc.code >= 500:
                raise ConfigError(
                    f"tracking URI {uri!r}: the server answered {exc.code} {exc.reason}"
                ) from None
            # 401/403/404: a server is there (auth or a proxy path); MLflow reports the rest
        except (urllib.error.URLError, OSError) as exc:
            why = getattr(exc, "reason", exc)
            raise ConfigError(
                f"tracking URI {uri!r}: no tracking server answered within {SERVER_TIMEOUT_S:g} s ({why})"
            ) from None
    return uri
