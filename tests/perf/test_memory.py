"""``bench perf --memory``: a unit's peak resident memory measured in a spawned child, the child's own
high-water mark (not its parent's), a child that dies, the table and the JSON fields."""

from __future__ import annotations

import json
import signal
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch

from bench.cli import main
from bench.perf import fullsize, memory, report

MB = 1_000_000
PAGE = 4096
TINY = (6, 40, 12)
"""6 subjects x 40 trials x 12 windows: SAE-LSTM's whole-set unit holds 480 samples (1.5 MB) and trains
on 306, so its 3 training steps are 3 full batches; 6 subjects, so that the full-size estimates of the CLI
can make cross-subject's 5 folds."""


def test_a_planted_allocation_raises_the_peak_by_its_size(monkeypatch):
    """A tiny SAE-LSTM unit in a child: a plausible baseline (torch and the project imported), a peak
    above it, and a 200 MB tensor held through the unit raises the peak by 200 MB.

    Tolerance: the tensor's pages round up by less than one 4 kB page and its own mmap adds one page
    of header; everything else is the same unit in a fresh child, whose peak differs from child to
    child only by where the allocator reuses freed blocks and by the kernel's per-CPU RSS counters
    (a batch of 64 pages per CPU and counter; measured spread over four children: 0.6 MB). 8 MB covers
    both with room; a peak that missed the planted tensor would be 200 MB off."""
    monkeypatch.setattr(fullsize, "FULL_SIZE", TINY)  # the parent makes the folds; the child gets them
    plant = 200 * MB
    memory.whole_set_unit("saelstm")  # the registries load lazily, and not thread-safely: load them here
    with ThreadPoolExecutor(2) as pool:  # two children at once: each waits on its own child only
        bare, planted = pool.map(lambda b: memory.unit_memory("saelstm", plant_bytes=b), (0, plant))
    for m in (bare, planted):
        assert m.error is None
        assert 50 * MB < m.baseline_bytes < 2_000 * MB  # an interpreter with torch, not zero, not a leak
        assert m.peak_bytes > m.baseline_bytes
        assert set(m.stages) == {"data", "train", "predict"} and max(m.stages.values()) <= m.peak_bytes
    assert bare.windows == {"train": 306, "val": 78, "test": 96}  # of 6 x 40 x 2 samples of 6 windows
    assert bare.input_bytes == 480 * 6 * 32 * 4 * 4
    tolerance = 8 * 1024 * 1024 + 2 * PAGE
    assert planted.peak_bytes - bare.peak_bytes == pytest.approx(plant, abs=tolerance)
    assert abs(planted.baseline_bytes - bare.baseline_bytes) < tolerance  # planted after the baseline
    assert not bare.over_limit and bare.channels_last is False  # bf16 where native, but an LSTM


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux folds the parent's peak in")
def test_the_child_reads_its_own_peak_not_its_parents():
    """ru_maxrss of a spawned child starts at its parent's high-water mark (Linux carries the peak of the
    memory it had before exec over); the child's own high-water mark does not."""
    big = torch.ones(1_000 * MB // 4)  # touched: the parent's peak is at least 1 GB
    parent_peak = memory.own_peak_rss()
    (own, maxrss), error = memory.in_child(memory.rss_readings)
    del big
    assert error is None
    assert maxrss >= parent_peak - 50 * MB  # the parent's peak, read as the child's
    assert own < parent_peak - 500 * MB  # the child itself: an interpreter with torch


def test_a_child_that_dies_or_raises_is_one_line():
    assert memory.in_child(signal.raise_signal, signal.SIGKILL) == (
        None,
        "killed by SIGKILL (out of memory: the kernel's OOM killer sends it)",
    )
    assert memory.in_child(int, "x") == (None, "ValueError: invalid literal for int() with base 10: 'x'")
    assert memory.died(3) == "exited with status 3 without an answer"


def _unit(name: str, peak: int | None, error: str | None = None) -> memory.UnitMemory:
    return memory.UnitMemory(
        model=name,
        precision="bf16",
        channels_last=name == "mtcnn",
        sample_shape=(8, 8, 9),
        windows={"train": 98_280, "val": 24_600, "test": 30_720},
        input_bytes=353_894_400,
        baseline_bytes=None if peak is None else 458 * MB,
        peak_bytes=peak,
        error=error,
    )


def test_memory_rows_note_and_json_from_given_numbers():
    units = [
        _unit("mtcnn", 1_627 * MB),
        _unit("mccnn", 4_100 * MB),
        _unit("fbccnn", None, "killed by SIGKILL (out of memory: the kernel's OOM killer sends it)"),
    ]
    rows = report.memory_rows(units)
    assert rows[0] == (
        "mtcnn", "bf16, channels-last", "98,280 / 24,600 / 30,720", "354", "458", "1,627", "1,169", "yes"
    )  # fmt: skip
    assert rows[1][-1] == "NO: over the limit" and units[1].over_limit
    assert rows[2][4:] == ("n/a", units[2].error, "n/a", "n/a")
    note = report.memory_note(units)
    assert note.endswith("Over 4 GB: mccnn. No measurement: fbccnn.")
    assert "32 subjects x 40 trials x 120 windows" in note
    d = report.extras_json({"models": []}, units, None)
    assert d["memory_limit_bytes"] == 4_000_000_000
    assert [m["over_limit"] for m in d["memory"]] == [False, True, False]
    assert d["memory"][0]["peak_bytes"] == 1_627 * MB and d["memory"][2]["error"].startswith("killed")
    assert "piece" not in d
    # without the options the report is what it was
    assert report.extras_json({"a": 1}, None, None) == {"a": 1}
    assert report.extras_markdown(None, None) == "" and report.extras_tables(None, None) == []


def test_cli_memory_quick_markdown_and_json(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(fullsize, "FULL_SIZE", TINY)
    out_json = tmp_path / "perf.json"
    rc = main(["perf", "--quick", "--models", "saelstm", "--memory", "-f", "md", "--json", str(out_json)])
    out = capsys.readouterr().out
    assert rc == 0
    lines = out.splitlines()
    header = (
        "| model | precision | windows train / val / test | input MB | baseline MB | peak MB | unit MB "
        "| under 4 GB |"
    )
    assert lines[lines.index(header) - 1] == ""  # a paragraph of its own after bench perf's report
    row = next(ln for ln in lines if ln.startswith("| saelstm | fp32 | 306 / 78 / 96 |"))  # tests pin fp32
    assert row.endswith("| yes |")
    assert any(ln.startswith("Peak resident memory") for ln in lines)
    d = json.loads(out_json.read_text())
    (m,) = d["memory"]
    assert m["model"] == "saelstm" and m["error"] is None and m["peak_bytes"] > m["baseline_bytes"] > 0
    assert m["windows"] == {"train": 306, "val": 78, "test": 96} and m["over_limit"] is False
    assert "piece" not in d and d["models"][0]["name"] == "saelstm"
