"""``bench perf --piece``: one full-size epoch timed beside bench.runs.estimate's price of it; the
arithmetic by hand, a small real piece, the table, the CLI and its one-line errors."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from bench.cli import main
from bench.perf import fullsize, piece, report
from bench.perf.throughput import ModelPerf
from bench.runs.estimate import Throughput
from bench.runs.plan import Unit
from protocols import Fold

SMALL = (6, 40, 12)
"""Small enough for a test (SAE-LSTM: 306 training, 78 validation windows), with the 6 subjects the CLI's
full-size estimates need for cross-subject's 5 folds."""


def _fold(n_train: int, n_val: int, n_test: int) -> Fold:
    idx = np.arange(n_train + n_val + n_test)
    return Fold(1, None, idx[:n_train], idx[n_train : n_train + n_val], idx[n_train + n_val :])


def test_the_estimated_epoch_is_the_hand_computation():
    """1,000 training windows at 100 samples/s and 200 validation windows at 400 samples/s: 10 + 0.5 s;
    the test part and the tracking overheads, which estimate_run adds once per unit and run, are not in
    an epoch."""
    unit = Unit("fold1", 1, None, ("valence", "arousal"))
    fold = _fold(1_000, 200, 300)
    epoch, train, val = piece.estimated_epoch(unit, fold, Throughput(100.0, 400.0))
    assert epoch == pytest.approx(10.5) and train == pytest.approx(10.0) and val == pytest.approx(0.5)
    assert piece.epoch_seconds(unit, fold, Throughput(50.0, 100.0)) == pytest.approx(20 + 2)


def _piece(**kw) -> piece.Piece:
    base = dict(
        model="mtcnn", precision="bf16", channels_last=True, batch=64,
        windows={"train": 98_280, "val": 24_600, "test": 30_720},
        train_samples_per_s=1_637.0, predict_samples_per_s=6_582.0,
        measured_s=63.5, measured_train_s=62.0, measured_val_s=1.5,
        estimated_s=63.8, estimated_train_s=60.0, estimated_val_s=3.8,
        step_seconds=[0.26, 0.04, 0.04, 0.05],
    )  # fmt: skip
    return piece.Piece(**{**base, **kw})


def test_piece_ratio_rows_and_json_from_given_numbers():
    p = _piece()
    assert p.ratio == pytest.approx(63.8 / 63.5) and p.within
    assert p.fit_train_samples_per_s == pytest.approx(64 / 0.045)  # the median batch
    assert not _piece(estimated_s=47.0).within and _piece(estimated_s=48.0).within  # 47 / 63.5 = 0.74
    rows = report.piece_rows(p)
    assert rows[0] == ("training", "98,280", "62.0 s", "60.0 s", "1,585", "1,637", "0.97")
    assert rows[1] == ("validation", "24,600", "1.5 s", "3.8 s", "16,400", "6,582", "2.53")
    assert rows[2] == ("epoch", "122,880", "63.5 s", "63.8 s", "", "", "1.00")
    assert report.piece_note(p).endswith("Estimate / measured 1.00: within +-25 %.")
    assert "OUTSIDE +-25 %" in report.piece_note(_piece(estimated_s=20.0))
    d = report.extras_json({}, None, p)["piece"]
    assert d["ratio"] == pytest.approx(p.ratio) and d["within_tolerance"] is True and d["tolerance"] == 0.25
    assert d["measured_train_s"] == 62.0 and d["windows"]["val"] == 24_600 and "step_seconds" not in d


def test_a_small_piece_is_timed_and_priced_from_the_given_rates(monkeypatch):
    monkeypatch.setattr(fullsize, "FULL_SIZE", SMALL)
    mp = ModelPerf(
        name="saelstm", sample_shape=(6, 32, 4), parameters=140_738, flops_per_sample=1.08e6,
        samples_per_s={"fp32": 1_000.0, "fp32-cl": None, "bf16": 2_000.0, "bf16-cl": None},
        auto_precision="fp32", predict_samples_per_s=4_000.0,
    )  # fmt: skip
    p = piece.measure_piece("saelstm", [mp], batch=64, device="cpu", warmup=1, reps=2)
    assert p.windows == {"train": 306, "val": 78, "test": 96}
    assert p.precision == "fp32" and not p.channels_last
    assert p.estimated_s == pytest.approx(306 / 1_000 + 78 / 4_000)  # the given rates, not measured ones
    assert len(p.step_seconds) == math.ceil(306 / 64)
    assert p.measured_s == pytest.approx(p.measured_train_s + p.measured_val_s)
    assert p.measured_train_s > 0 and p.measured_val_s > 0
    # a model bench perf did not measure (not in --models) is measured first, as bench perf measures it
    q = piece.measure_piece("saelstm", [], batch=64, device="cpu", warmup=1, reps=2)
    assert q.train_samples_per_s > 0 and q.train_samples_per_s not in (1_000.0, 2_000.0)
    assert q.estimated_s == pytest.approx(306 / q.train_samples_per_s + 78 / q.predict_samples_per_s)


def test_cli_piece_quick_markdown_and_json(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(fullsize, "FULL_SIZE", SMALL)
    out_json = tmp_path / "perf.json"
    rc = main(
        ["perf", "--quick", "--models", "saelstm", "--piece", "saelstm", "-f", "md", "--json", str(out_json)]
    )
    out = capsys.readouterr().out
    assert rc == 0
    lines = out.splitlines()
    header = "| part | windows | measured | estimated | fit samples/s | rate used | estimate / measured |"
    assert lines[lines.index(header) - 1] == ""  # a paragraph of its own after bench perf's report
    parts = [ln.split("|")[1].strip() for ln in lines if ln.startswith(("| training", "| validation", "| e"))]
    assert parts == ["training", "validation", "epoch"]
    assert any(ln.startswith("| epoch | 384 |") for ln in lines)
    assert any(ln.startswith("One epoch of saelstm's whole-set fold 1 at full size") for ln in lines)
    d = json.loads(out_json.read_text())
    p = d["piece"]
    assert p["model"] == "saelstm" and p["windows"] == {"train": 306, "val": 78, "test": 96}
    assert p["measured_s"] > 0 and p["ratio"] == pytest.approx(p["estimated_s"] / p["measured_s"])
    # priced at the rates this very run measured (the report's own numbers)
    assert p["train_samples_per_s"] == d["models"][0]["samples_per_s"]["fp32"]
    assert p["predict_samples_per_s"] == d["models"][0]["predict_samples_per_s"]
    assert "memory" not in d


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--piece", "nope"], "error: --piece='nope' is not allowed; allowed: mtcnn, 4dcrnn, fbccnn, mccnn"),
        (["--piece", "majority"], "error: --piece='majority' is not allowed; allowed: mtcnn, 4dcrnn"),
        (["--piece", "mtcn"], "error: --piece='mtcn' is not allowed; allowed: mtcnn"),
    ],
)
def test_cli_bad_piece_is_one_line(args, message, capsys):
    assert main(["perf", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1
