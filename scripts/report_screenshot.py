"""Screenshot a report's ``report.html`` with headless Chromium, after checking the page parses.

    python scripts/report_screenshot.py REPORT_DIR OUT.png [--width 1400 --height 3000]

The check: the HTML parses, holds one ``<table>`` per table heading (h3: every table of the table
sections and of the provenance), loads nothing from outside the page, and every image is an inline PNG.
Exit codes: 0 written, 1 the page fails the check, 2 no Chromium found or it failed.
"""

from __future__ import annotations

import argparse
import base64
import shutil
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
PNG = b"\x89PNG\r\n\x1a\n"


class _Page(HTMLParser):
    """Counts tables and table headings (h3), and collects the src/href of every element."""

    def __init__(self) -> None:
        super().__init__()
        self.tables = 0
        self.headings = 0
        self.refs: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tables += tag == "table"
        self.headings += tag == "h3"
        self.refs += [(tag, v or "") for k, v in attrs if k in ("src", "href")]


def check(page: Path) -> list[str]:
    """What is wrong with a report page (empty: nothing)."""
    parser = _Page()
    parser.feed(page.read_text(encoding="utf-8"))
    parser.close()
    problems = []
    if parser.tables == 0 or parser.tables != parser.headings:
        problems.append(f"{parser.tables} <table> elements for {parser.headings} table headings")
    for tag, ref in parser.refs:
        if tag == "img":
            if not ref.startswith("data:image/png;base64,"):
                problems.append(f"<img> not an inline PNG: {ref[:60]}")
            elif not base64.b64decode(ref.split(",", 1)[1]).startswith(PNG):
                problems.append("<img> data is not a PNG")
        elif not ref.startswith("#"):
            problems.append(f"<{tag}> points outside the page: {ref[:60]}")
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("report_dir", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--width", type=int, default=1400)
    ap.add_argument("--height", type=int, default=3000)
    args = ap.parse_args(argv)
    page = (args.report_dir / "report.html").resolve()
    if not page.is_file():
        print(f"{page}: no report here (run bench report --out {args.report_dir} first)")
        return 1
    problems = check(page)
    for p in problems:
        print(f"{page}: {p}")
    if problems:
        return 1
    return screenshot(page.as_uri(), args.out, args.width, args.height)


def screenshot(url: str, out: Path, width: int, height: int, budget_ms: int | None = None) -> int:
    """Screenshot ``url`` with headless Chromium into ``out``: 0 written, 2 no Chromium or it failed.

    ``budget_ms`` lets a page's scripts run that long (virtual time) first: a single-page app such as
    the MLflow UI renders only after its requests come back.
    """
    browser = next((b for b in map(shutil.which, BROWSERS) if b), None)
    if browser is None:
        print("no Chromium found (tried " + ", ".join(BROWSERS) + "); e.g. apt-get install chromium")
        return 2
    out = out.resolve()
    out.unlink(missing_ok=True)
    wait = [f"--virtual-time-budget={budget_ms}"] if budget_ms else []
    with tempfile.TemporaryDirectory() as profile:
        cmd = [browser, "--headless", "--disable-gpu", "--no-sandbox", "--hide-scrollbars",
               f"--user-data-dir={profile}", f"--screenshot={out}", *wait,
               f"--window-size={width},{height}", url]  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if done.returncode != 0 or not out.is_file():
        print(f"{browser} failed (exit {done.returncode}): {done.stderr.strip().splitlines()[-1:]}")
        return 2
    print(f"Wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
