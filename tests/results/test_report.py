"""The report from a real MLflow store filled by fast trivial-baseline runs (2 subjects x 6 trials)."""

from __future__ import annotations

import base64
import dataclasses
import html
import io
import math
import os
import warnings
from html.parser import HTMLParser

import pandas as pd
import pytest

from bench import results as R
from bench.cli import main
from bench.core.errors import ConfigError
from bench.core.host import hardware
from bench.data.cache import prepare_features
from bench.data.source import open_deap
from bench.results.report import NOT_RECORDED, build_report
from bench.tracking.store import client
from tests.results.test_tables import _run

PNG = b"\x89PNG\r\n\x1a\n"
HARDWARE = "test-box: 2 CPU cores, no GPU"
CONTEXT = {"grid": "rudakov2021", "scale": "smoke", "command": "bench reproduce --scale smoke"}


class _Page(HTMLParser):
    """The tables (header cells), headings, src/href attributes and title of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[str]] = []
        self.refs: list[tuple[str, str, str]] = []
        self._th: str | None = None
        self._title: str | None = None
        self.title = ""

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "th":
            self._th = ""
        elif tag == "title":
            self._title = ""
        self.refs += [(tag, k, v or "") for k, v in attrs if k in ("src", "href")]

    def handle_endtag(self, tag):
        if tag == "th":
            self.tables[-1].append(self._th)
            self._th = None
        elif tag == "title":
            self.title, self._title = self._title, None

    def handle_data(self, data):
        if self._th is not None:
            self._th += data
        if self._title is not None:
            self._title += data


def _parse(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    page.close()
    return page


@pytest.fixture(scope="module")
def env(tmp_path_factory, deap_dir):
    root = tmp_path_factory.mktemp("report")
    uri = f"sqlite:///{root}/mlflow.db"
    fs = prepare_features(open_deap(deap_dir), cache_dir=root / "cache")
    with warnings.catch_warnings():
        # 6 trials per subject in 2 folds: a 3-trial test fold can hold one class of a task; the balanced
        # accuracy of such a part is defined (the recall of the one class) and must not warn
        warnings.simplefilter("error", UserWarning)
        res = {
            "majority": _run(fs, uri, "majority", "whole-set"),
            "prior": _run(fs, uri, "prior", "whole-set"),
            "majority_ss": _run(fs, uri, "majority", "subject-specific"),
            "majority_seg": _run(fs, uri, "majority", "whole-set", split="segment"),
        }
    client(uri).set_tag(res["prior"].parent_run_id, "bench.hardware", HARDWARE)
    client(uri).delete_tag(res["majority"].parent_run_id, "bench.hardware")  # as a run made before the tag
    store = R.load_store(uri)
    files = build_report(store, root / "out", context=CONTEXT)
    return {"uri": uri, "root": root, "res": res, "store": store, "files": files}


def test_report_holds_every_table(env):
    files, store = env["files"], env["store"]
    page = (files.out_dir / "report.html").read_text(encoding="utf-8")
    md = files.markdown.read_text(encoding="utf-8")
    built = {spec.name: R.build(spec.name, store) for spec in R.list_tables(store=store)}
    # the methods table has a section only in the report of a store with a training method's runs
    assert "methods" in [spec.name for spec in R.list_tables()] and "methods" not in built
    assert 'id="methods"' not in page
    tables = [t for ts in built.values() for t in ts]
    parsed = _parse(page)
    assert len(parsed.tables) == len(tables) + 3  # + provenance: code versions, runs, context
    headers = [h for tab in parsed.tables for h in tab]
    for t in tables:
        assert html.escape(t.title) in page and f"### {t.title}" in md
        assert all(str(c) in headers for c in t.frame.columns)
        for note in t.notes:
            assert html.escape(note) in page and note in md
        for cmd in t.commands:
            assert html.escape(cmd) in page and cmd in md
    # each registered table has its section, in registry order, then statistics and provenance
    order = [page.index(f'<section id="{name}">') for name in built] + [
        page.index('<section id="statistics">'),
        page.index('<section id="provenance"'),
    ]
    assert order == sorted(order)
    for marker in ("†", "‡", "§", "°", "Holm", "Nadeau", "Wilcoxon", "Combrisson"):
        assert marker in page.split('id="statistics"')[1]
    # the papers' numbers stay labelled and apart: the comparison's reported columns are marked
    assert '<th class="reported">reported valence</th>' in page
    assert [p.name for p in files.tables] == [f"{n}.{e}" for n in built for e in ("csv", "tex")]
    assert [p.name for p in files.plots] == ["comparison.png", "protocols.png"]
    assert files.summary().endswith("5 tables (csv, tex), 2 plots")


def test_html_is_self_contained(env):
    page = env["files"].html.read_text(encoding="utf-8")
    refs = _parse(page).refs
    assert "http://" not in page and "https://" not in page
    imgs = [v for tag, _, v in refs if tag == "img"]
    assert len(imgs) == 2
    for src in imgs:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1]).startswith(PNG)
    assert all(v.startswith(("#", "data:image/png;base64,")) for _, _, v in refs)
    assert "<script" not in page and "<link" not in page and "@import" not in page
    for png in env["files"].plots:
        assert png.read_bytes().startswith(PNG)


def test_same_runs_same_bytes(env, tmp_path):
    first = env["files"].out_dir
    build_report(env["store"], tmp_path / "again", context=CONTEXT)
    names = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert names == sorted(
        p.relative_to(tmp_path / "again") for p in (tmp_path / "again").rglob("*") if p.is_file()
    )
    assert not any(".tmp" in str(n) for n in names)  # no temporary file left behind
    for name in names:
        assert (first / name).read_bytes() == (tmp_path / "again" / name).read_bytes(), name
        # the permissions of any file the user writes (umask), not mkstemp's private 0600
        mask = os.umask(0o022)
        os.umask(mask)
        assert (first / name).stat().st_mode & 0o777 == 0o666 & ~mask, name


def test_csv_numbers_match_the_store(env):
    store, res = env["store"], env["res"]
    csv = pd.read_csv(env["files"].out_dir / "tables" / "comparison.csv")
    row = csv[(csv.model == "majority") & (csv.protocol == "whole-set") & (csv.split == "trial")]
    row = row[row.task == "valence"].iloc[0]
    u = store.units
    accs = u[(u.parent_id == res["majority"].parent_run_id) & (u.task == "valence")]["acc"]
    assert len(accs) == 2  # 2 folds
    assert math.isclose(row["mean"], accs.mean(), rel_tol=1e-5)
    tex = (env["files"].out_dir / "tables" / "comparison.tex").read_text()
    assert tex.startswith(r"\begin{table}") and "majority" in tex


def test_provenance(env):
    store, files, res = env["store"], env["files"], env["res"]
    prov = files.html.read_text(encoding="utf-8").split('<section id="provenance"')[1]
    md = files.markdown.read_text(encoding="utf-8").split("## Provenance")[1]
    for text in (prov, md):
        for rid in store.parents["run_id"]:
            assert rid[:8] in text
        assert store.fingerprint in text and "synthetic" in text
        assert HARDWARE in text
        assert NOT_RECORDED in text and hardware() in text  # the runner tags every new run
        for k, v in CONTEXT.items():
            assert k in text and v in text
    runs = pd.read_csv(io.StringIO(md.split("### Runs shown")[1].split("\n\n")[1]), sep="|").iloc[1:]
    runs.columns = [c.strip() for c in runs.columns]
    by_run = {r["run"].strip(): r for _, r in runs.iterrows()}
    assert by_run[res["prior"].parent_run_id[:8]]["hardware"].strip() == HARDWARE
    assert by_run[res["majority"].parent_run_id[:8]]["hardware"].strip() == NOT_RECORDED
    assert "(leaky)" in by_run[res["majority_seg"].parent_run_id[:8]]["protocol/split"]
    assert all(r["unit wall time"].strip().endswith(" s") for r in by_run.values())
    assert "end_time" in store.runs and "fit_seconds" in store.units and "wall_seconds" in store.units


def test_synthetic_is_in_the_title(env):
    page = env["files"].html.read_text(encoding="utf-8")
    label = f"synthetic, 2 subjects x 6 trials, {env['store'].fingerprint[:8]}"  # the data set in words
    assert _parse(page).title == f"deap-bench report | {label}"
    assert env["files"].markdown.read_text().splitlines()[0] == f"# deap-bench report | {label}"
    assert '<div class="synthetic">SYNTHETIC DATA' in page


def test_empty_store_and_unwritable_folder(env, tmp_path):
    store = env["store"]
    empty = dataclasses.replace(store, parents=store.parents.iloc[0:0])
    with pytest.raises(ConfigError, match="no finished runs .* run bench reproduce first"):
        build_report(empty, tmp_path / "r")
    assert not (tmp_path / "r").exists()
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="cannot write the report"):
        build_report(store, tmp_path / "file" / "r")


def test_cli(env, tmp_path, capsys):
    out = tmp_path / "rep"
    assert main(["report", "--tracking-uri", env["uri"], "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == (
        f"Wrote {out}/report.html, {out}/report.md, 5 tables (csv, tex), 2 plots"
    )
    assert (out / "report.html").is_file() and (out / "tables" / "leakage.tex").is_file()
    # the same store, the same files as the library call made
    assert (out / "tables" / "comparison.csv").read_bytes() == (
        env["files"].out_dir / "tables" / "comparison.csv"
    ).read_bytes()
    empty = f"sqlite:///{tmp_path}/empty.db"
    client(empty)  # a store without runs
    capsys.readouterr()
    assert main(["report", "--tracking-uri", empty, "--out", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no finished runs") and err.strip().count("\n") == 0
    assert "run `bench reproduce` first" in err
    assert not (tmp_path / "none").exists()
