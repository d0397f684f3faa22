"""Terminal tables fold, never cut: ``bench data info`` and ``bench perf`` at a narrow, fixed width show
every cell's full text (the columns that do not fit side by side fold into a further table repeating the
key column), no ellipsis and no line wider than the terminal."""

from __future__ import annotations

import io
import json
import re
from dataclasses import replace

import pytest
from rich.cells import cell_len
from rich.console import Console

from bench.cli import main
from bench.perf import fullsize, measure, report, throughput

WIDTH = 80


def _squash(text: str) -> str:
    """Text without whitespace: a cell wrapped at spaces or folded inside a word reads the same."""
    return re.sub(r"\s+", "", text)


def _boxes(text: str) -> list[dict[str, str]]:
    """Every table of a Rich rendering as {header: the column's body lines joined}, both squashed."""
    tables, heads, bodies, state = [], [], [], None
    for line in text.splitlines():
        if line.startswith("┏"):
            state, heads, bodies = "head", [], []
        elif line.startswith("┡"):
            state = "body"
        elif line.startswith("└") and state == "body":
            n = len(heads[0]) if heads else 0
            columns = ["".join(h[i] for h in heads) for i in range(n)]
            cells = ["".join(b[i] for b in bodies) for i in range(n)]
            tables.append({_squash(h): _squash(c) for h, c in zip(columns, cells, strict=True)})
            state = None
        elif state == "head" and line.startswith("┃"):
            heads.append(line.strip().strip("┃").split("┃"))
        elif state == "body" and line.startswith("│"):
            bodies.append(line.strip().strip("│").split("│"))
    return tables


def _check_whole(text: str, headers: list[str], rows: list[list[str]]) -> None:
    """Each column (header and every cell, in row order) appears whole in one of the rendered tables,
    nothing is cut with an ellipsis and no line is wider than :data:`WIDTH`."""
    assert "…" not in text
    assert max(cell_len(line) for line in text.splitlines()) <= WIDTH
    tables = _boxes(text)
    for j, header in enumerate(headers):
        want = _squash("".join(str(row[j]) for row in rows))
        assert any(t.get(_squash(header)) == want for t in tables), (header, want, tables)


def _render(*parts, width: int = WIDTH) -> str:
    con = Console(width=width, record=True, file=io.StringIO())
    for part in parts:
        con.print(part)
    return con.export_text()


def test_a_fit_table_folds_its_columns_into_further_tables():
    from bench.core.terminal import NAME, NUMBER, TEXT, Col, FitTable

    columns = [Col("name", NAME), *(Col(f"value {i}", NUMBER) for i in range(6)), Col("note", TEXT)]
    rows = [["mahnob-hci", *(f"{1_234_567 * (i + 1):,} x 2" for i in range(6)), "a long note " * 6]]
    fit = FitTable(columns, rows, title="T", caption="the caption", fold=1)
    text = _render(fit, width=60)
    _check_whole(text, [c.header for c in columns], rows)
    groups = fit.groups(60)
    assert all(g[0] == 0 for g in groups) and sorted({i for g in groups for i in g}) == list(range(8))
    assert len(groups) > 1 and text.count("T (continued)") == len(groups) - 1
    assert text.count("the caption") == 1 and text.rstrip().endswith("the caption")
    assert fit.groups(500) == [list(range(8))]  # wide enough: one table, as without fold


def _long_report() -> measure.PerfReport:
    mp = throughput.ModelPerf(
        name="mtcnn", sample_shape=(8, 8, 9), parameters=1_213_956, flops_per_sample=297e6,
        samples_per_s={"fp32": 464.0, "fp32-cl": 440.0, "bf16": 1_735.0, "bf16-cl": 1_780.0},
        auto_precision="bf16", predict_samples_per_s=1200.0,
    )  # fmt: skip
    estimate = fullsize.FullSizeEstimate(
        model="mtcnn", precision="bf16", train_samples_per_s=1_780.0,
        protocols={"subject-specific": 501_000.0, "whole-set": 86_400.0 * 5.9, "cross-subject": 7_200.0,
                   "whole-set-finetune": 3_000.0},
        grid_seconds=86_400.0 * 91.7, grid_runs=14,
    )  # fmt: skip
    return measure.PerfReport(
        machine={"cpu": "AMD EPYC", "torch": "2.x", "threads": 2, "native_bf16": True, "device": "CPU"},
        settings={"batch": 64, "matmul_size": 2048, "warmup": 3, "reps": 10, "quick": False},
        ceiling_before={"fp32": 180.0, "bf16": 400.0},
        ceiling_after={"fp32": 188.0, "bf16": 432.0},
        models=[mp, replace(mp, name="4dcrnn", parameters=23_456_789)],
        estimates=[estimate, replace(estimate, model="4dcrnn")],
        grid="rudakov2021",
    )


def test_perf_tables_fold_at_80_columns():
    """``bench perf``'s two tables: at 80 columns the parameters ("1,21…" before), the throughputs and
    the hours are whole; the model column is repeated in the folded part."""
    r = _long_report()
    text = _render(*report.rich_tables(r))
    _check_whole(text, list(report.MODEL_HEADERS), [list(row) for row in report.model_rows(r)])
    _check_whole(text, list(report.estimate_headers(r)), [list(row) for row in report.estimate_rows(r)])
    assert "23,456,789" in text and "91.7 d" in text and "183.4 d (28)" in text
    wide = _render(*report.rich_tables(r), width=250)  # a wide terminal: one table each, as before
    assert wide.count("(continued)") == 0 and "│ mtcnn  │ 8x8x9 │  1,213,956 │" in wide


@pytest.fixture
def narrow(monkeypatch):
    from bench.cli.common import console

    monkeypatch.setattr(console, "_width", WIDTH)


def test_data_info_at_80_columns(tmp_path, monkeypatch, capsys, narrow):
    """The datasets table (its new baseline column included), the left-out table and the feature cache
    table, with a long folder name in each: every cell whole."""
    from bench.data.datasets import mahnob_twin as T
    from bench.data.paths import cache_root

    long = tmp_path / "a-folder-with-a-rather-long-name" / "and-another-one-below-it" / "AMIGOS"
    long.mkdir(parents=True)
    monkeypatch.setenv("AMIGOS_DIR", str(long))
    copy = tmp_path / "MAHNOB" / "Sessions" / "3"
    copy.mkdir(parents=True)
    T._write_session(copy, {"feltVlnc": "3", "feltArsl": "7", "feltCtrl": "5", "feltPred": "1"}, 1)
    monkeypatch.setenv("MAHNOB_DIR", str(tmp_path / "MAHNOB"))  # session 3: rated, no recording
    entry = cache_root() / "features" / "e1"
    entry.mkdir(parents=True)
    meta = {"subject": 1, "synthetic": False, "config_fingerprint": "c" * 64, "shape": [16, 90, 2, 4, 14],
            "created": "2026-01-01T00:00:00+0000", "dataset": "amigos",
            "source_file": str(long / "Data_Preprocessed_P01.mat"), "bytes": 1_234_567}  # fmt: skip
    (entry / "meta.json").write_text(json.dumps(meta))
    assert main(["data", "info"]) == 0
    text = capsys.readouterr().out
    assert "…" not in text and max(cell_len(line) for line in text.splitlines()) <= WIDTH  # cut before
    from bench.cli.data import datasets_table, left_out_table

    for fit in (datasets_table(), left_out_table()):
        _check_whole(text, [c.header for c in fit.columns], fit.rows)
    amigos = _squash("seconds 2-5 of the stimulus itself (no pre-stimulus recording in the release)")
    assert any(amigos in column for table in _boxes(text) for column in table.values())
    cache = [
        "cccccccccccc", "AMIGOS", str(long), "amigos", "DE, PSD", "1", "16 x 90", "0.0 MB",
        "2026-01-01T00:00:00+0000",
    ]  # fmt: skip
    headers = ["config", "kind", "source (data folder)", "dataset", "holds", "subjects", "trials x windows",
               "size", "created"]  # fmt: skip
    _check_whole(text, headers, [cache])
