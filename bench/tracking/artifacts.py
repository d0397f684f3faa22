"""Logging a run's artifacts so that a full disk or a crash never leaves a truncated file in the store.

``MlflowClient.log_artifacts`` copies a folder file by file straight to its final names in a local
artifact store (MLflow 3.17), so a disk that fills up half-way leaves, say, half a ``predictions.csv``
behind, which a later download or report reads as if it were whole. Here each file of a local store is
written next to its final name and moved in place (:func:`bench.core.files.atomic_file`): a reader sees the
whole file or none. A remote artifact store (an MLflow server, S3, ...) gets MLflow's own upload.
"""

from __future__ import annotations

import shutil
import urllib.parse
from pathlib import Path

from bench.core.files import atomic_file


def local_artifact_dir(artifact_uri: str) -> Path | None:
    """The folder of a run's artifacts when it is on this machine (``file:`` URI or a plain path),
    else None."""
    from mlflow.utils.file_utils import local_file_uri_to_path

    scheme = urllib.parse.urlparse(artifact_uri).scheme
    if scheme == "file":
        return Path(local_file_uri_to_path(artifact_uri))
    return Path(artifact_uri) if len(scheme) <= 1 else None  # a drive letter is no scheme


def log_artifacts(cl, run_id: str, folder: str | Path, artifact_path: str | None = None) -> None:
    """Every file under ``folder`` as an artifact of ``run_id`` (under ``artifact_path``), each one
    complete or absent in a local store, whatever happens while it is written."""
    root = local_artifact_dir(cl.get_run(run_id).info.artifact_uri)
    if root is None:
        cl.log_artifacts(run_id, str(folder), artifact_path=artifact_path)
        return
    dest = root / artifact_path if artifact_path else root
    folder = Path(folder)
    for src in sorted(p for p in folder.rglob("*") if p.is_file()):
        atomic_file(dest / src.relative_to(folder), lambda tmp, src=src: shutil.copyfile(src, tmp))
