"""Coordination of bench processes that share one tracking store: one parent per run key, one
execution per unit.

Parent
    Find-or-create by run key (and of a study's run, for ``bench tune``) happens under the store's
    file lock (:func:`bench.tracking.store.store_lock`) for a local SQLite store. A remote server cannot be
    locked: every process that created a parent searches again after a short settle delay, the
    oldest RUNNING parent of the run key (smallest start time, then run id) wins, and the others
    delete theirs and attach to the winner.

Units
    A unit is claimed before it trains: its child run is created RUNNING with the tags
    ``bench.claim_pid``, ``bench.claim_host`` and ``bench.heartbeat`` (Unix time). While the unit
    trains, a background thread of the claiming process refreshes ``bench.heartbeat`` every
    ``$BENCH_HEARTBEAT_S`` seconds (default 30), independently of epoch length. A RUNNING child is a
    *live* claim while its heartbeat is younger than ``$BENCH_CLAIM_TIMEOUT_S`` (default 120 s) and,
    when it was claimed on this host, its process still exists. Another process that wants the unit:

    * finds a FINISHED child: reuses its metrics (a reused unit);
    * finds a live claim: does other units first (the local executor) or waits, polling every
      ``$BENCH_CLAIM_POLL_S`` seconds (default 2), until the child is FINISHED (reuse) or the claim is
      no longer live (take over);
    * finds only stale claims (process dead, heartbeat too old, or no claim tags: a run from before
      claims existed): marks them FAILED and claims the unit itself. This is how a run resumes after
      SIGKILL.

    With SQLite the check and the claim are one step under the file lock; on a remote server the same
    oldest-wins rule as for parents settles two claims made at the same moment.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from bench.tracking.store import TAG, newest_run, store_lock

PID_TAG, HOST_TAG, BEAT_TAG = f"{TAG}claim_pid", f"{TAG}claim_host", f"{TAG}heartbeat"
HOST = socket.gethostname()
SETTLE_S = 1.0
"""Remote stores: how long a new claim waits before checking whether an older one won."""


def _env(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


def heartbeat_s() -> float:
    return _env("BENCH_HEARTBEAT_S", 30.0)


def stale_after_s() -> float:
    return _env("BENCH_CLAIM_TIMEOUT_S", 120.0)


def poll_s() -> float:
    return _env("BENCH_CLAIM_POLL_S", 2.0)


def claim_tags() -> dict[str, str]:
    """The tags that claim a unit for this process."""
    return {PID_TAG: str(os.getpid()), HOST_TAG: HOST, BEAT_TAG: f"{time.time():.3f}"}


def pid_alive(pid: int) -> bool:
    """Whether a process exists on this host (a zombie counts as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = open(f"/proc/{pid}/stat").read()  # noqa: SIM115 - one read
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def is_live(run, now: float | None = None) -> bool:
    """Whether a child run is a claim that some process still works on."""
    if run.info.status != "RUNNING":
        return False
    tags = run.data.tags
    try:
        beat, pid = float(tags[BEAT_TAG]), int(tags[PID_TAG])
    except (KeyError, ValueError):
        return False  # no claim: left RUNNING by a process that died before claims existed
    if (now if now is not None else time.time()) - beat > stale_after_s():
        return False
    return tags.get(HOST_TAG) != HOST or pid_alive(pid)


def _oldest(runs: list):
    return min(runs, key=lambda r: (r.info.start_time, r.info.run_id))


def _discard(cl, run_id: str) -> None:
    """Withdraw a run that lost a claim: KILLED, then deleted (tables and searches skip it)."""
    cl.set_terminated(run_id, status="KILLED")
    cl.delete_run(run_id)


def _settle(cl, mine: str, search: Callable[[], list], live: Callable[[object], bool] = is_live):
    """Oldest-wins among RUNNING ``live`` runs (remote stores): the winner if ``mine`` lost (then withdrawn).

    Waits :data:`SETTLE_S` first, so that a rival created at the same moment is visible.
    """
    time.sleep(SETTLE_S)
    rivals = [r for r in search() if r.info.status == "RUNNING" and (r.info.run_id == mine or live(r))]
    winner = _oldest(rivals) if rivals else None
    if winner is None or winner.info.run_id == mine:
        return None
    _discard(cl, mine)
    return winner


# ------------------------------------------------------------------------------------------ parent
def find_or_create_run(
    cl, exp_id: str, key: dict[str, str], create: Callable[[], str], *, force: bool = False
):
    """``(run, None)``: the newest run with the ``key`` tags; else ``(None, id)`` of the run ``create`` made.

    For the parent of a run key (``bench.run_key``, ``bench.role=parent``) and a study's run. ``force``
    always creates (a deliberate second parent). See the module docstring for the rules.
    """
    with store_lock(cl.tracking_uri) as locked:
        found = None if force else newest_run(cl, exp_id, key)
        if found is not None:
            return found, None
        mine = create()
    if locked or force:
        return None, mine
    flt = " and ".join(f"tags.`{k}` = '{v}'" for k, v in key.items())
    # a parent is not a claim (no heartbeat): every RUNNING run with the key competes
    winner = _settle(cl, mine, lambda: cl.search_runs([exp_id], flt, max_results=1000), live=lambda r: True)
    return (winner, None) if winner is not None else (None, mine)


# -------------------------------------------------------------------------------------------- units
@dataclass(frozen=True)
class Claim:
    """The outcome of claiming a unit: our own child run to train in, or another process's result."""

    run_id: str | None = None
    finished: object | None = None
    """A FINISHED child run of the unit (made by another process): reuse its metrics."""


def unit_children(cl, exp_id: str, parent_id: str, unit_key: str) -> list:
    flt = f"tags.mlflow.parentRunId = '{parent_id}' and tags.`{TAG}unit` = '{unit_key}'"
    return list(cl.search_runs([exp_id], filter_string=flt, max_results=1000))


def claim_unit(
    cl, exp_id: str, parent_id: str, unit_key: str, create: Callable[[dict[str, str]], str], *, wait: bool
) -> Claim | None:
    """Claim a unit: ``create(claim tags)`` makes its child run, unless the unit is finished or taken.

    Returns None if another process holds a live claim and ``wait`` is False; with ``wait`` it polls
    until the unit is finished (reuse) or the claim is stale (take over).
    """
    while True:
        mine = None
        with store_lock(cl.tracking_uri) as locked:
            runs = unit_children(cl, exp_id, parent_id, unit_key)
            done = [r for r in runs if r.info.status == "FINISHED"]
            if done:
                return Claim(finished=max(done, key=lambda r: (r.info.start_time, r.info.run_id)))
            now = time.time()
            if not any(is_live(r, now) for r in runs):
                for r in runs:
                    if r.info.status == "RUNNING":  # its claim went stale: take the unit over
                        cl.set_terminated(r.info.run_id, status="FAILED")
                mine = create(claim_tags())
        if mine is not None:
            if locked or _settle(cl, mine, lambda: unit_children(cl, exp_id, parent_id, unit_key)) is None:
                return Claim(run_id=mine)
            continue  # an older claim made at the same moment won: wait for it (or skip) below
        if not wait:
            return None
        time.sleep(poll_s())


@contextlib.contextmanager
def heartbeat(cl, run_id: str) -> Iterator[None]:
    """Refresh the claim's ``bench.heartbeat`` every :func:`heartbeat_s` seconds from a daemon thread.

    A thread rather than an epoch hook: a unit's epochs can be long (or absent, for baselines), and
    the claim must stay live for the whole unit. A failed refresh is skipped, never fatal.
    """
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(heartbeat_s()):
            with contextlib.suppress(Exception):
                cl.set_tag(run_id, BEAT_TAG, f"{time.time():.3f}")

    thread = threading.Thread(target=beat, name=f"bench-heartbeat-{run_id[:8]}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=60)
