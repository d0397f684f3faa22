"""MLflow tracking: where runs go, how they are found again (resume), and what they are tagged with.

The default store is the one MLflow 3 recommends for local use: a SQLite database, here
``./mlflow.db`` in the working directory, with artifacts under ``mlruns`` beside it (every experiment
this project creates in a SQLite store keeps its artifacts next to the database, not in the working
directory of whichever command created it: :func:`artifact_location`). ``--tracking-uri`` or
``$MLFLOW_TRACKING_URI`` point at a shared server instead. The client API is used directly (no global
active run), so the same code logs from a process pool or a cluster worker.
"""

from __future__ import annotations

import contextlib
import functools
import json
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

from bench import __version__
from bench.core.errors import ConfigError
from bench.core.faults import unwritable
from bench.data.datasets import dataset_names, get_dataset
from bench.data.inputs import BASE_KINDS
from bench.tracking.artifacts import local_artifact_dir
from bench.tracking.uris import check_store_uri, lock_path, resolve_tracking_uri, sqlite_path, store_writable
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
                where = artifact_location(cl.tracking_uri)
                try:
                    exp = cl.get_experiment(cl.create_experiment(name, artifact_location=where, tags=tags))
                except MlflowException:  # created concurrently on a remote server
                    exp = cl.get_experiment_by_name(name)
    if EXPERIMENT_KIND[0] not in exp.tags:
        cl.set_experiment_tag(exp.experiment_id, *EXPERIMENT_KIND)
    check_artifact_root(name, exp.artifact_location)
    return exp.experiment_id


def artifact_location(uri: str) -> str | None:
    """Where a new experiment of a SQLite store keeps its artifacts: ``mlruns`` beside the database
    file, as an absolute ``file:`` URI; None (the server's or MLflow's default) for any other store.

    Why: MLflow's default for a SQLite store is ``./mlruns`` of the *working directory* at creation, so
    a store used from a notebook in another folder, or a second command started elsewhere, would leave
    its artifacts wherever it happened to run. For the default store (``./mlflow.db``) this is the same
    folder as before. An experiment created earlier keeps the location it was created with."""
    path = sqlite_path(uri)
    return None if path is None else (path.resolve().parent / "mlruns").as_uri()


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
        per_trial = getattr(features, "n_windows", None)  # clips of unequal length: the longest's
        n_windows = int(per_trial.max()) if per_trial is not None else map_windows(features)
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
