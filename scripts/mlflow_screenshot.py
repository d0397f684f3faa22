"""Screenshot the MLflow UI on a harness store with headless Chromium: the runs page and one parent run.

    python scripts/mlflow_screenshot.py OUT_DIR [--tracking-uri sqlite:///PATH/mlflow.db]
        [--kind synthetic|deap] [--run-id RUN] [--width 1600 --height 1400 --budget-ms 20000]

Starts ``mlflow server`` on a free port of 127.0.0.1 against the store (default ``./mlflow.db``, as
``bench ui``), waits until it answers, writes ``OUT_DIR/runs.png`` (the experiment's page, as it opens)
and ``OUT_DIR/run.png`` (the newest parent run, or ``--run-id``), then stops the server.
Exit codes: 0 written, 1 nothing to show or the server did not start, 2 no Chromium found or it failed.
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the bench package of this checkout

from report_screenshot import screenshot  # noqa: E402 (same folder)

from bench.tracking.store import EXPERIMENTS, TAG, client, experiment_url
from bench.tracking.uris import resolve_tracking_uri


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, proc: subprocess.Popen, timeout: float = 120.0) -> bool:
    """True once ``url`` answers 200; False if the server exits or ``timeout`` passes first."""
    end = time.monotonic() + timeout
    while time.monotonic() < end and proc.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return True
        except OSError:
            time.sleep(0.5)
    return False


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--tracking-uri", default=None, help="MLflow store (default ./mlflow.db)")
    ap.add_argument("--kind", default="synthetic", choices=sorted(EXPERIMENTS))
    ap.add_argument("--run-id", default=None, help="Parent run to show (default: the newest)")
    ap.add_argument("--width", type=int, default=1600)
    ap.add_argument("--height", type=int, default=1400)
    ap.add_argument("--budget-ms", type=int, default=20000, help="Time the page may render in")
    args = ap.parse_args(argv)
    uri = resolve_tracking_uri(args.tracking_uri)
    cl = client(uri)
    exp = cl.get_experiment_by_name(EXPERIMENTS[args.kind])
    if exp is None:
        print(f"no experiment {EXPERIMENTS[args.kind]} in {uri}: run bench run first")
        return 1
    run_id = args.run_id
    if run_id is None:
        parents = cl.search_runs([exp.experiment_id], filter_string=f"tags.`{TAG}role` = 'parent'",
                                 order_by=["attributes.start_time DESC"], max_results=1)  # fmt: skip
        if not parents:
            print(f"no parent run in {EXPERIMENTS[args.kind]}")
            return 1
        run_id = parents[0].info.run_id
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", uri, "--host", "127.0.0.1",
           "--port", str(port), "--workers", "1"]  # fmt: skip
    args.out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        try:
            if not wait_for(f"{base}/health", proc):
                log.seek(0)
                print(f"mlflow server did not start: {log.read().decode(errors='replace')[-2000:]}")
                return 1
            pages = {"runs.png": experiment_url(base, exp.experiment_id),
                     "run.png": experiment_url(base, exp.experiment_id, run_id)}  # fmt: skip
            for name, url in pages.items():
                code = screenshot(url, args.out_dir / name, args.width, args.height, args.budget_ms)
                if code:
                    return code
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
