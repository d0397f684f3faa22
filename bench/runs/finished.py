"""Units already FINISHED in the tracking store: what a run would reuse, and what Ctrl-C kept.

Two questions the runner's own bookkeeping cannot answer, so the store is asked:

- ``bench reproduce --plan`` (:func:`finished_in_store`): which units a run would reuse, so the estimate
  counts only the units left to run. It reads only: no store, experiment or run is created.
- after Ctrl-C (:func:`collect_finished`): which units a pool or Dask worker finished after this process
  last received a result (or while the pool shut down), so "N of M units kept" counts what MLflow keeps.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bench.runs.unit import UnitResult
from bench.runs.unit_tracking import reuse
from bench.tracking.store import EXPERIMENTS, TAG, child_runs, client, newest_run
from bench.tracking.uris import resolve_tracking_uri, sqlite_path

if TYPE_CHECKING:
    from bench.runs.plan import Prepared
    from bench.runs.runner import OpenRun


def collect_finished(run: OpenRun) -> list[UnitResult]:
    """Units of ``run`` FINISHED in the store whose result never reached this process, recorded in
    ``run.results`` (as reused) and returned.

    Called after Ctrl-C once the executor has stopped: a pool or Dask worker may have finished a unit
    (its child run FINISHED) after this process last collected a result, or while the pool shut down, so
    counting the results received would say fewer units were kept than MLflow keeps.
    """
    ctx = run.ctx
    units = {u.key: u for u, _ in run.prepared.units}
    found: list[UnitResult] = []
    try:
        children = child_runs(ctx.client, ctx.experiment_id, ctx.parent_run_id)
    except Exception:  # noqa: BLE001 - a store that cannot be read now must not hide the Ctrl-C itself
        return found
    for child in children:
        key = child.data.tags.get(f"{TAG}unit")
        if child.info.status == "FINISHED" and key in units and key not in run.results:
            run.results[key] = reuse(child, units[key])
            found.append(run.results[key])
    return found


def finished_in_store(plans: list[Prepared], tracking_uri: str | None = None) -> dict[int, frozenset[str]]:
    """Per prepared run (by ``id``): the keys of its units FINISHED under the parent a run of it resumes
    (the newest with its run key), i.e. the units ``bench run`` / ``bench reproduce`` would reuse.

    Reads only, for ``--plan``: a SQLite store that does not exist yet is not created (nothing is
    finished there), and no experiment or run is made.
    """
    out: dict[int, frozenset[str]] = {id(p): frozenset() for p in plans}
    uri = resolve_tracking_uri(tracking_uri)
    path = sqlite_path(uri)
    if not plans or (path is not None and not path.exists()):
        return out
    cl = client(uri)
    for p in plans:
        exp = cl.get_experiment_by_name(EXPERIMENTS[p.features.kind])
        if exp is None:
            continue
        parent = newest_run(cl, exp.experiment_id, {f"{TAG}run_key": p.run_key, f"{TAG}role": "parent"})
        if parent is None:
            continue
        keys = {u.key for u, _ in p.units}
        done = {c.data.tags.get(f"{TAG}unit") for c in child_runs(cl, exp.experiment_id, parent.info.run_id)
                if c.info.status == "FINISHED"}  # fmt: skip
        out[id(p)] = frozenset(done & keys)
    return out
