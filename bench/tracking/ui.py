"""``bench ui``: MLflow's UI on the harness's store, as one quiet process that opens the runs page.

``mlflow ui`` (MLflow 3.17) starts four uvicorn workers and a job runner for GenAI jobs, says which
registry store it uses and that its security middleware is on, logs every request, and opens nothing:
its first page is the GenAI overview. For browsing a local store of training runs one worker is plenty
(and starts in a fraction of the time on a busy machine), and the page worth opening is the runs table
of the harness experiment that was run last (:func:`start_page`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable

from bench.core.checks import check_number
from bench.core.errors import ConfigError
from bench.tracking.store import EXPERIMENTS, experiment_url

HOST = "127.0.0.1"
CHATTER = ("[MLflow] Security middleware enabled",)
"""Lines of ``mlflow ui`` that say nothing a user of ``bench ui`` can act on (dropped from its stderr)."""
START_TIMEOUT_S = 120.0
"""How long to wait for the server to answer before opening the browser (it is still served after)."""


def ui_command(uri: str, port: int) -> list[str]:
    """The ``mlflow ui`` command line: the store as backend and registry (so it says nothing about a
    registry), one worker, warnings and above from uvicorn only, no access log."""
    return [
        sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri, "--registry-store-uri", uri,
        "--host", HOST, "--port", str(port), "--workers", "1",
        "--uvicorn-opts", "--log-level warning --no-access-log",
    ]  # fmt: skip


def ui_env(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The server's environment: no Python warnings from the frameworks it imports, MLflow's own
    logging at WARNING, and no job runner process (it runs GenAI jobs; a user's own values win)."""
    env = dict(os.environ if environ is None else environ)
    env.setdefault("PYTHONWARNINGS", "ignore")
    env.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    env.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
    return env


def check_port(port: int) -> None:
    """Refuse a port another server holds, as one line (uvicorn would print a traceback-like log)."""
    check_number("--port", port, integer=True, low=1, high=65535)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((HOST, port))
        except OSError as exc:
            raise ConfigError(
                f"--port {port}: {HOST}:{port} is taken ({exc.strerror or exc}); pass another --port"
            ) from None


def experiment_pages(cl, base: str) -> list[tuple[str, str]]:
    """``(experiment name, runs page URL)`` of each harness experiment in the store, the one with the
    newest run first (the page :func:`start_page` opens). Reads only: a read-only store will do."""
    found = [e for e in (cl.get_experiment_by_name(n) for n in EXPERIMENTS.values()) if e is not None]

    def newest(exp) -> int:
        runs = cl.search_runs([exp.experiment_id], order_by=["attributes.start_time DESC"], max_results=1)
        return (runs[0].info.start_time or 0) if runs else -1

    found.sort(key=lambda e: -newest(e))
    return [(e.name, experiment_url(base, e.experiment_id)) for e in found]


def start_page(pages: list[tuple[str, str]], base: str) -> str:
    """The page to open: the runs of the harness experiment run last; the UI's front page when the
    store holds no harness experiment yet."""
    return pages[0][1] if pages else base


def can_open_browser() -> bool:
    """A graphical browser is plausible: always on macOS and Windows, on Linux with a display. (Without
    one Python's ``webbrowser`` starts a console browser such as lynx in the terminal of the server.)"""
    if sys.platform.startswith(("darwin", "win")):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def wait_until_up(base: str, proc: subprocess.Popen, timeout: float = START_TIMEOUT_S) -> bool:
    """Poll ``/health`` until the server answers (True), it exits or ``timeout`` passes (False)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end and proc.poll() is None:
        with (
            contextlib.suppress(urllib.error.URLError, OSError),
            urllib.request.urlopen(f"{base}/health", timeout=2),
        ):
            return True
        time.sleep(0.3)
    return False


def _forward(stream, write: Callable[[str], object]) -> None:
    """Copy the server's stderr to ours, less :data:`CHATTER`."""
    for line in stream:
        if not line.startswith(CHATTER):
            write(line)


def serve(
    cmd: list[str], env: dict[str, str], base: str, page: str | None, say: Callable[[str], None]
) -> int:
    """Run the server until it ends or Ctrl-C, opening ``page`` in the browser once the server answers
    (None: open nothing). Returns its exit code.

    The server runs in a session of its own, so Ctrl-C reaches this process only, which then stops the
    server with one SIGTERM (``mlflow ui`` hands it on to uvicorn): the terminal's SIGINT to every
    process of the group, plus the one ``mlflow ui`` forwards, makes uvicorn print a traceback.
    """

    def _stop(signum, frame):  # a SIGTERM to `bench ui` stops the server too, as Ctrl-C does
        raise KeyboardInterrupt

    before = signal.signal(signal.SIGTERM, _stop)
    proc = subprocess.Popen(
        cmd, env=env, stderr=subprocess.PIPE, text=True, bufsize=1, start_new_session=True
    )
    relay = threading.Thread(target=_forward, args=(proc.stderr, sys.stderr.write), daemon=True)
    relay.start()
    try:
        if page is not None and wait_until_up(base, proc):
            import webbrowser

            webbrowser.open(page)
        return proc.wait()
    except KeyboardInterrupt:
        say("MLflow UI stopped")
        return 0
    finally:
        stop(proc)
        relay.join(timeout=5)
        signal.signal(signal.SIGTERM, before)


def stop(proc: subprocess.Popen, grace_s: float = 20.0) -> None:
    """End the server's session: SIGTERM to ``mlflow ui``, then SIGKILL to whatever of its session is
    left after ``grace_s`` (a uvicorn started while ``mlflow ui`` was being stopped, say)."""
    if proc.poll() is None:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=grace_s)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
