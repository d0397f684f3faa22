"""MLflow tracking: where runs go, how they are found again (resume), and what they are tagged with.

The default store is the one MLflow 3 recommends for local use: a SQLite database, here
``./mlflow.db`` in the working directory, with artifacts under ``./mlruns``. ``--tracking-uri`` or
``$MLFLOW_TRACKING_URI`` point at a shared server instead. The client API is used directly (no global
active run), so the same code logs from a process pool or a cluster worker.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

from bench import __version__
from bench.core.checks import check_option
from bench.core.errors import ConfigError
from bench.core.faults import unwritable
from bench.data.datasets import dataset_names, get_dataset
from bench.data.inputs import BASE_KINDS
from bench.tracking.artifacts import local_artifact_dir
from protocols import experiment_kinds

TAG = "bench."


def _kinds() -> list[str]:
    """Every data kind, synthetic first within a dataset: DEAP's two (named before other datasets were
    registered), then ``<name>-synthetic`` and ``<name>`` for each other dataset and for each protocol
    tracked apart from its datasets' runs (cross-dataset)."""
    names = [n for n in dataset_names() if n != "deap"] + list(experiment_kinds())
    return ["synthetic", "deap"] + [k for n in names for k in (f"{n}-synthetic", n)]


EXPERIMENTS = {kind: f"deap-bench-{kind}" for kind in _kinds()}
"""One experiment per data kind (dataset, real or synthetic), so results of different data never mix."""
EXPERIMENT_KIND = ("mlflow.experimentKind", "custom_model_development")
"""The experiment tag MLflow 3's UI reads to choose an experiment's first page: without it an experiment
opens on the GenAI "Overview / Traces" page; with this value it opens on the table of training runs."""
DATASET_NAMES = {kind: "deap-synthetic" if kind == "synthetic" else kind for kind in EXPERIMENTS}
"""The name of a run's data set in MLflow's Dataset column (its digest is the data fingerprint)."""
MAX_PARAMS_PER_BATCH = 90
"""Params per ``log_batch`` call (MLflow allows 100)."""
MAX_PARAM_CHARS = 6000
"""A param value's longest accepted length (MLflow 3; longer ones are cut)."""


def resolve_tracking_uri(uri: str | None = None) -> str:
    """The argument, else ``$MLFLOW_TRACKING_URI``, else ``sqlite:///<cwd>/mlflow.db``."""
    uri = uri or os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return uri
    return f"sqlite:///{Path.cwd() / 'mlflow.db'}"


def sqlite_path(url: str) -> Path | None:
    """The database file of a ``sqlite:///`` URL (MLflow or SQLAlchemy), None for anything else."""
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///") :].split("?", 1)[0]
        return None if path in ("", ":memory:") else Path(path)
    return None


@contextlib.contextmanager
def store_lock(url: str, timeout: float = 600.0) -> Iterator[bool]:
    """Hold ``<db>.lock`` next to a SQLite store (yields True); other stores get no lock (yields False).

    SQLite stores are files on one machine, so a file lock serialises whatever must not interleave
    between processes: creating tables and migrations, creating an experiment, find-or-create of a
    parent run, claiming a unit. A remote store cannot be locked this way; callers fall back to a
    deterministic claim (the oldest run wins).
    """
    path = sqlite_path(url)
    if path is None:
        yield False
        return
    from filelock import FileLock, Timeout

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(lock_path(path), is_singleton=True)  # re-entrant within a thread, blocks others
        lock.acquire(timeout=timeout)
    except Timeout:
        raise ConfigError(
            f"{lock_path(path)}: held by another process for over {timeout:.0f} s; if no bench process is "
            "running, delete the lock file and run again"
        ) from None
    except OSError as exc:  # a read-only folder, a lock file of another user
        raise ConfigError(
            f"{exc.filename or lock_path(path)}: cannot create the store's lock file "
            f"({exc.strerror or exc}); make the store's folder writable, or point --tracking-uri at a "
            "store of your own"
        ) from None
    try:
        yield True
    finally:
        lock.release()


def check_sqlite_file(path: Path, what: str) -> None:
    """Refuse a file that is not a SQLite database, or one left half-migrated (call under the lock).

    Such a store fails every later command with a long traceback; the one line says which file and
    what to do instead.
    """
    if path.is_dir():
        raise ConfigError(
            f"{path}: a folder, not a SQLite database; name a file: sqlite:///{path / 'mlflow.db'}"
        )
    if not path.exists() or path.stat().st_size == 0:
        return
    with path.open("rb") as fh:
        header = fh.read(16)
    if header != b"SQLite format 3\x00":
        raise ConfigError(f"{path}: not a SQLite database, so no {what}; move it aside and run again")
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=60)
        try:
            query = "SELECT name FROM sqlite_master WHERE name GLOB '_alembic_tmp_*'"
            tmp = [r[0] for r in con.execute(query)]
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        raise ConfigError(f"{path}: unreadable {what} ({exc}); move it aside and run again") from None
    if tmp:
        raise ConfigError(
            f"{path}: {what} left half-migrated by an interrupted schema upgrade (table {tmp[0]}); "
            "move it aside and run again (or restore a backup)"
        )


_READY: set[str] = set()
"""Store URLs this process has created or upgraded already: later opens need no lock."""


def init_once(url: str, what: str, open_store: Callable[[], object]):
    """``open_store()`` - under the store's lock the first time this process opens a SQLite ``url``.

    Opening a store creates its tables or runs its migrations when needed (MLflow and Optuna both do
    this on first touch); two processes doing it at once corrupt it. Once a process has opened a
    store, every table exists and later opens create nothing, so they need no lock. A store that
    cannot be opened is a one-line ConfigError naming the file.
    """
    path = sqlite_path(url)
    if path is None or url in _READY:
        return open_store()
    with store_lock(url):
        check_sqlite_file(path, what)
        store = _opened(path, what, open_store)
    _READY.add(url)
    return store


def lock_path(db: Path) -> Path:
    """The lock file of a SQLite store (:func:`store_lock`)."""
    return Path(f"{db}.lock")


def client(uri: str | None = None, *, write: bool = True):
    """An MLflow client; a local SQLite store is created or upgraded under its file lock.

    A SQLite store this user cannot write (a read-only mount, another user's files, a lock file of
    another user) is refused up front with ``write`` (one line naming the file, before any run is
    created), and opened as it is without it: SQLite then opens the database read-only by itself, so
    tables and ``bench runs`` work. (MLflow 3.17 cannot be handed SQLite's own ``file:...?mode=ro``
    URI: it creates a folder named ``file:`` in the working directory for it.)
    """
    from mlflow.tracking import MlflowClient

    uri = check_store_uri(resolve_tracking_uri(uri))
    path = sqlite_path(uri)
    if path is not None and not store_writable(uri):
        store_writable(uri, refuse=write or not path.is_file())  # a reader reads a store that exists
        check_sqlite_file(path, "MLflow store")  # as it is: no lock, no table to create
        return _opened(path, "MLflow store", lambda: MlflowClient(tracking_uri=uri))
    try:
        # MlflowClient() opens the store at once: tables, migrations and the default experiment
        return init_once(uri, "MLflow store", lambda: MlflowClient(tracking_uri=uri))
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001 - a store MLflow refuses: one line, not its traceback
        raise ConfigError(f"tracking URI {uri!r}: MLflow cannot open it ({_first_line(exc)})") from None


def store_writable(uri: str, *, refuse: bool = False) -> bool:
    """Whether this user may write the SQLite store ``uri``: its database (or the folder it will be
    created in), that folder (SQLite's journal) and its lock file. With ``refuse`` a store that is not
    is a one-line ConfigError naming the file and the fix. Other stores answer for themselves (True)."""
    path = sqlite_path(uri)
    why = None if path is None else unwritable(path) or unwritable(lock_path(path))
    if why is not None and refuse:
        raise ConfigError(
            f"{uri}: the MLflow store cannot be written here ({why}); make it writable, or point "
            "--tracking-uri (tracking_uri=) at a store of your own"
        )
    return why is None


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


def _opened(path: Path, what: str, open_store: Callable[[], object]):
    """``open_store()``, a failure as one line naming the file."""
    try:
        return open_store()
    except Exception as exc:  # noqa: BLE001 - a broken store: one line, not MLflow's traceback
        raise ConfigError(
            f"{path}: cannot open the {what} ({_first_line(exc)}); move it aside, run again"
        ) from None


def experiment_id(cl, kind: str) -> str:
    """The experiment for a data kind (:data:`EXPERIMENTS`), created on first use (under the lock).

    It carries :data:`EXPERIMENT_KIND`, so the MLflow UI opens it on its runs; an experiment created
    before that tag existed gets it here (an explicit kind chosen in the UI is left alone).
    """
    name = EXPERIMENTS[kind]
    exp = cl.get_experiment_by_name(name)
    if exp is None:
        from mlflow.exceptions import MlflowException

        with store_lock(cl.tracking_uri):
            exp = cl.get_experiment_by_name(name)
            if exp is None:
                tags = {f"{TAG}data_kind": kind, EXPERIMENT_KIND[0]: EXPERIMENT_KIND[1]}
                try:
                    exp = cl.get_experiment(cl.create_experiment(name, tags=tags))
                except MlflowException:  # created concurrently on a remote server
                    exp = cl.get_experiment_by_name(name)
    if EXPERIMENT_KIND[0] not in exp.tags:
        cl.set_experiment_tag(exp.experiment_id, *EXPERIMENT_KIND)
    check_artifact_root(name, exp.artifact_location)
    return exp.experiment_id


def check_artifact_root(experiment: str, location: str | None) -> None:
    """Refuse an experiment whose artifacts go to a local folder this user cannot write: found before
    any run is created, not when the first unit has trained and its artifacts are logged."""
    folder = local_artifact_dir(location) if location else None
    if folder is None:
        return  # a remote artifact store (s3:, mlflow-artifacts:, ...) answers for itself
    why = unwritable(folder / "x")
    if why is not None:
        raise ConfigError(
            f"experiment {experiment!r} keeps its artifacts in {folder}, and {why}; make it writable, or "
            "point --tracking-uri (tracking_uri=) at a store of your own"
        )


def experiment_url(base: str, experiment: str, run_id: str | None = None) -> str:
    """The MLflow UI page of an experiment's training runs (or of one run) on the server at ``base``.

    MLflow 3.17's UI chooses between its GenAI pages and its training-run pages by a "workflow type"
    kept in the browser (GenAI until the user switches), not by the experiment's tag; the URL's
    ``workflowType=machine_learning`` opens the runs whatever the browser last chose.
    """
    page = f"{base.rstrip('/')}/#/experiments/{experiment}/runs"
    return (f"{page}/{run_id}" if run_id else page) + "?workflowType=machine_learning"


def log_params(cl, run_id: str, params: dict[str, str]) -> None:
    """Params in batches MLflow accepts (:data:`MAX_PARAMS_PER_BATCH`, values cut to
    :data:`MAX_PARAM_CHARS`), sorted by key."""
    from mlflow.entities import Param

    items = [Param(k, str(v)[:MAX_PARAM_CHARS]) for k, v in sorted(params.items())]
    for start in range(0, len(items), MAX_PARAMS_PER_BATCH):
        cl.log_batch(run_id, params=items[start : start + MAX_PARAMS_PER_BATCH])


def map_windows(features) -> int:
    """Brain-map windows per trial of a data set, from its feature config and dataset (trial length)."""
    ds = get_dataset(features.dataset.split(">")[0])
    return features.config.n_windows(round(ds.trial_s * ds.sfreq), ds.sfreq)


def dataset(features):
    """A FeatureSet as an MLflow dataset entity: name :data:`DATASET_NAMES`, digest the data fingerprint,
    source the folder its files were read from, schema and profile its shape.

    The store keeps one dataset per (experiment, name, digest), so only data-level facts go in (never a
    model's input shape, which differs between runs on the same data).
    """
    from mlflow.data.schema import TensorDatasetSchema
    from mlflow.entities import Dataset
    from mlflow.types import Schema, TensorSpec

    f, r = features.features, features.ratings
    n_subjects, n_trials, n_windows = (int(v) for v in f.shape[:3])
    if n_windows == 0:  # a time-domain model's set holds no maps: the windows its maps have
        n_windows = map_windows(features)
    # the DE/PSD maps every cache entry holds: one entity per data set, whatever other kinds a run read
    shape = (n_subjects, n_trials, n_windows, len(BASE_KINDS), *(int(v) for v in f.shape[4:]))
    schema = TensorDatasetSchema(
        features=Schema([TensorSpec(f.dtype, shape, "features")]),
        targets=Schema([TensorSpec(r.dtype, tuple(int(v) for v in r.shape), "ratings")]),
    )
    profile = {
        "kind": features.kind,
        "dataset": features.dataset,
        "channels": len(features.channels),
        "subjects": [int(s) for s in features.subjects],
        "n_subjects": n_subjects,
        "trials_per_subject": n_trials,
        "windows_per_trial": n_windows,
        "windows": n_subjects * n_trials * n_windows,
        "window_features": "x".join(map(str, shape[3:])) + " (DE/PSD x bands x channels)",
        "feature_config": features.config.fingerprint()[:16],
    }
    return Dataset(
        name=DATASET_NAMES[features.kind],
        digest=features.fingerprint,
        source_type="local",
        source=json.dumps({"uri": features.source or "feature cache"}),
        schema=json.dumps(schema.to_dict()),
        profile=json.dumps(profile),
    )


def log_dataset(cl, run_id: str, features, context: str) -> None:
    """Log ``features`` (:func:`dataset`) as an input of a run; again for the same run changes nothing.

    The first run to log a data set creates it in the experiment, so two commands doing it at once could
    collide: on SQLite it happens under the store lock, elsewhere a collision is retried once.
    """
    from mlflow.entities import DatasetInput, InputTag
    from mlflow.exceptions import MlflowException

    item = DatasetInput(dataset(features), tags=[InputTag("mlflow.data.context", context)])
    with store_lock(cl.tracking_uri):
        try:
            cl.log_inputs(run_id, datasets=[item])
        except MlflowException:  # created concurrently on a remote server: now it exists
            cl.log_inputs(run_id, datasets=[item])


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """Git commit of the installed code (with ``-dirty`` for local changes), else the package version.

    A checkout is often shared: git refuses a repository owned by another user ("dubious ownership")
    unless it is a ``safe.directory``, and every run of that user would record no commit. The code
    being run comes from this very checkout, so trusting it adds no risk: this one call names it safe
    (on the command line, which git honours), and ``--no-optional-locks`` keeps ``git status`` from
    refreshing another user's index.
    """
    root = Path(__file__).resolve().parents[2]  # the checkout: bench/tracking/store.py -> ../..
    git = ["git", "-c", f"safe.directory={root}", "--no-optional-locks"]
    try:
        sha = subprocess.run(
            [*git, "rev-parse", "--short=12", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5
        )
        if sha.returncode != 0:
            return f"v{__version__}"
        dirty = subprocess.run(
            [*git, "status", "--porcelain", "--untracked-files=no", "--", "bench", "mtcnn", "baselines",
             "protocols"],
            cwd=root, capture_output=True, text=True, timeout=5,
        )  # fmt: skip
        return sha.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return f"v{__version__}"


@functools.lru_cache(maxsize=1)
def cpu_name() -> str:
    """The CPU's model name (``/proc/cpuinfo``'s ``model name``, else ``lscpu``), else ``platform``'s."""
    import platform
    import subprocess

    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.partition(":")[2].strip()
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=5).stdout
        for line in out.splitlines():
            if line.strip().lower().startswith("model name"):
                return line.partition(":")[2].strip()
    return platform.processor() or platform.machine() or "unknown CPU"


def hardware() -> str:
    """This machine in one line (CPU model and count, GPU if any, torch): the ``bench.hardware`` tag, so a
    wall time in a report can be read against the machine that produced it."""
    import torch

    parts = [f"{cpu_name()} x {os.cpu_count()} CPUs"]
    if torch.cuda.is_available():
        parts.append(f"{torch.cuda.get_device_name(0)} x {torch.cuda.device_count()}")
    parts.append(f"torch {torch.__version__}")
    return ", ".join(parts)


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


def check_store_uri(uri: str) -> str:
    """``uri`` if MLflow can keep runs there; the checks that need no network, as one-line ConfigErrors
    naming the URI: a known scheme, no file store where this MLflow refuses one, and a SQLite database
    that is a file in an existing folder (not a folder itself)."""
    import urllib.parse

    parsed = urllib.parse.urlparse(uri)
    scheme = parsed.scheme.split("+", 1)[0].lower()
    if len(scheme) <= 1 or scheme == "file":  # a plain path (or a Windows drive letter): a file store
        _check_file_store(uri)
        return uri
    try:
        check_option("scheme", scheme, TRACKING_SCHEMES)
    except ConfigError as exc:
        raise ConfigError(f"tracking URI {uri!r}: {exc}") from None
    if scheme == "sqlite":
        db = uri.split(":///", 1)[1].split("?", 1)[0] if ":///" in uri else ""
        if db and db != ":memory:":
            path = Path(db).expanduser()
            if path.is_dir():
                raise ConfigError(
                    f"tracking URI {uri!r}: {path} is a folder; name the database file in it: "
                    f"sqlite:///{path.absolute() / 'mlflow.db'}"
                )
            if not path.parent.is_dir():
                raise ConfigError(f"tracking URI {uri!r}: folder {path.parent} does not exist")
    return uri


def _check_file_store(uri: str) -> None:
    """MLflow 3.17 refuses file stores (a folder such as ``./mlruns``) unless $MLFLOW_ALLOW_FILE_STORE is
    true, after the data was prepared and with a long traceback; said here as one line with the fix.
    Versions without that switch accept file stores."""
    from mlflow import environment_variables

    allow = getattr(environment_variables, "MLFLOW_ALLOW_FILE_STORE", None)
    if allow is None or allow.get():
        return
    from mlflow.utils.file_utils import local_file_uri_to_path

    folder = Path(local_file_uri_to_path(uri) if uri.startswith("file:") else uri).expanduser().absolute()
    raise ConfigError(
        f"tracking URI {uri!r}: a file store, which this MLflow refuses (maintenance mode); use a SQLite "
        f"store such as sqlite:///{folder.parent / 'mlflow.db'} (`mlflow migrate-filestore` moves runs "
        "already there), or set MLFLOW_ALLOW_FILE_STORE=true"
    )


def check_tracking_uri(uri: str | None = None, *, write: bool = False) -> str:
    """The resolved tracking URI, checked before any work: :func:`check_store_uri`, a SQLite store this
    user may write with ``write`` (commands that track runs; readers read a read-only store), and for
    http(s) a server that answers within :data:`SERVER_TIMEOUT_S`.

    Without this an unknown scheme is a long MLflow traceback, and an http URI with nothing behind it
    retries for minutes after the data was prepared. Problems are one-line ConfigErrors naming the URI.
    """
    import urllib.error
    import urllib.request

    uri = check_store_uri(resolve_tracking_uri(uri))
    if write:
        store_writable(uri, refuse=True)
    if uri.split(":", 1)[0].lower() in ("http", "https"):
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
