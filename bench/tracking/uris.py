"""Where runs go: the tracking URI, resolved and checked before any work.

The default store is the one MLflow 3 recommends for local use, a SQLite database ``./mlflow.db`` in the
working directory; ``--tracking-uri`` or ``$MLFLOW_TRACKING_URI`` point elsewhere. Every problem with a
URI (an unknown scheme, a file store this MLflow refuses, a SQLite URI naming a folder, a store this
user cannot write, a server that does not answer) is a one-line :class:`~bench.core.errors.ConfigError`
naming the URI, raised before any data is prepared.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from bench.core.checks import check_option
from bench.core.errors import ConfigError
from bench.core.faults import unwritable


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


def lock_path(db: Path) -> Path:
    """The lock file of a SQLite store (:func:`store_lock`)."""
    return Path(f"{db}.lock")


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
