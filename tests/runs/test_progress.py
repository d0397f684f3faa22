"""What `bench run` prints while it trains: timestamped lines off a terminal (per unit and per epoch),
nothing with --quiet, batch lines with --verbose; epoch lines say "valid", never "val"."""

from __future__ import annotations

import re
import time

import pytest

from bench.cli import main
from bench.cli.run_progress import LineReporter, RunReporter, make_reporter, verbosity
from bench.core.errors import ConfigError
from bench.runs.plan import Unit
from bench.runs.progress import epoch_line
from bench.runs.unit import UnitResult

STAMP = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d "


def test_epoch_line_spells_out_validation_and_the_tasks():
    row = {"epoch": 2, "train_loss": 0.6512, "valid_loss": 0.61249, "lr": 1e-3,
           "train_acc_valence": 0.7, "valid_acc_valence": 0.7125, "valid_acc_arousal": 0.69}  # fmt: skip
    assert epoch_line(row, 10) == (
        "epoch 2/10 train loss 0.651 valid loss 0.612 valid acc valence 71.2 % arousal 69.0 %"
    )
    assert epoch_line(row, None, short=True) == "valid loss 0.612 valid acc valence 71.2 % arousal 69.0 %"
    assert epoch_line({**row, "subject": 3}, 4).startswith("epoch 2/4 (fine-tuning subject 3) train loss")


def test_verbosity_and_reporter_choice():
    assert verbosity(False, False) == "normal" and verbosity(True, False) == "quiet"
    assert verbosity(False, True) == "verbose"
    with pytest.raises(ConfigError, match="--quiet and --verbose exclude each other"):
        verbosity(True, True)
    _, rep = make_reporter(False, "normal", print, None)
    assert isinstance(rep, LineReporter) and rep.level == "normal"
    _, rep = make_reporter(True, "quiet", print, None)  # quiet draws no bars even on a terminal
    assert isinstance(rep, LineReporter) and rep.level == "quiet"


def test_eta_is_mean_unit_time_times_units_left(monkeypatch):
    clock = iter([100.0, 130.0])
    monkeypatch.setattr(time, "monotonic", lambda: next(clock))
    rep = RunReporter()
    rep.plan(n_units=7, n_done=2)  # 2 resumed: 5 to train
    for key in ("fold1", "fold2"):  # the runner reports reused units as ended, at once
        rep.unit_end(UnitResult(Unit(key, 1, None, ("valence",)), {}, reused=True))
    rep.unit_start(Unit("fold3", 3, None, ("valence",)), 3)  # t = 100
    assert rep.eta_seconds() is None  # no unit trained yet
    for key in ("fold3", "fold4"):
        rep.unit_end(UnitResult(Unit(key, 1, None, ("valence",)), {}))
    assert rep.n_done == 4
    assert rep.eta_seconds() == pytest.approx(30 / 2 * 3)  # t = 130: 15 s per trained unit, 3 left
    assert rep.interrupted().startswith("interrupted: 4 of 7 units finished and kept in MLflow")


def _run(deap_dir, tmp_path, *extra, epochs: int = 2):
    uri = f"sqlite:///{tmp_path}/m.db"
    return main(["run", "--model", "saelstm", "--deap", str(deap_dir), "--folds", "2",
                 "--epochs", str(epochs), "--tasks", "valence", "--tracking-uri", uri, *extra])  # fmt: skip


def test_plain_lines_off_a_terminal(deap_dir, tmp_path, capsys):
    assert _run(deap_dir, tmp_path) == 0
    cap = capsys.readouterr()
    lines = [ln for ln in cap.err.splitlines() if re.match(STAMP, ln)]
    body = [ln[20:] for ln in lines]
    assert body[0] == "2 units"
    assert body[1] == "fold1-valence: starts (up to 2 epochs)"
    epochs = [b for b in body if re.match(r"fold\d-valence: epoch \d/2 train loss [\d.]+ valid loss "
                                          r"[\d.]+ valid acc valence [\d.]+ %$", b)]  # fmt: skip
    assert len(epochs) == 4  # 2 units x 2 epochs, one line each
    done = [b for b in body if re.match(r"fold\d-valence: done in .+: test acc valence [\d.]+ % \[", b)]
    assert len(done) == 2 and re.search(r"\[1/2 units, ETA \d+ (s|min)( \d+ s)?\]$", done[0])
    assert done[-1].endswith("[2/2 units]")
    assert not any(" val " in ln or "val loss" in ln for ln in cap.err.splitlines())
    assert "batch" not in cap.err
    assert "Finished in" in cap.out  # the result table and the total time go to stdout


def test_quiet_prints_the_table_only_and_verbose_adds_batches(deap_dir, tmp_path, capsys):
    assert _run(deap_dir, tmp_path, "--quiet", epochs=1) == 0
    cap = capsys.readouterr()
    assert not any(re.match(STAMP, ln) for ln in cap.err.splitlines())
    assert "Tracking to" not in cap.err and "TEST metrics" in cap.out
    assert _run(deap_dir, tmp_path, "--verbose", "--force", epochs=1) == 0
    err = capsys.readouterr().err
    assert re.search(STAMP + r"fold1-valence: batch 1/\d+$", err, re.M)
    assert main(["run", "--quiet", "--verbose"]) == 2
