"""``bench perf``: FLOP counting, the fraction-of-ceiling arithmetic, full-size fold sizes, the CLI."""

from __future__ import annotations

import io
import json
from dataclasses import replace

import pytest
import torch

from bench.cli import main
from bench.perf import ceiling, fullsize, measure, parity, report, throughput


def test_flops_of_a_linear_layer_are_the_hand_count():
    """Forward 2*in*out*batch; backward twice that (gradient of the input and of the weight)."""
    n_in, n_out, batch = 8, 4, 16
    lin = torch.nn.Linear(n_in, n_out)
    x = torch.randn(batch, n_in, requires_grad=True)
    assert throughput.count_flops(lambda: lin(x)) == 2 * n_in * n_out * batch == 1024
    assert throughput.count_flops(lambda: lin(x).sum().backward()) == 3 * 1024


def test_fraction_of_ceiling_arithmetic():
    # 297 MFLOP/sample at 464 samples/s = 137.808 GFLOP/s, against a 184 GFLOP/s ceiling
    assert ceiling.fraction_of_ceiling(297e6, 464, 184) == pytest.approx(137.808 / 184)
    assert ceiling.fraction_of_ceiling(297e6, 464, 184) == pytest.approx(0.74896, abs=1e-5)


def _report() -> measure.PerfReport:
    mp = throughput.ModelPerf(
        name="mtcnn",
        sample_shape=(8, 8, 9),
        parameters=1_213_956,
        flops_per_sample=297e6,
        samples_per_s={"fp32": 464.0, "fp32-cl": 440.0, "bf16": 735.0, "bf16-cl": 780.0},
        auto_precision="bf16",
        predict_samples_per_s=1200.0,
    )
    return measure.PerfReport(
        machine={"cpu": "AMD EPYC", "torch": "2.x", "threads": 2, "native_bf16": True, "device": "CPU"},
        settings={"batch": 64, "matmul_size": 2048, "warmup": 3, "reps": 10, "quick": False},
        ceiling_before={"fp32": 180.0, "bf16": 400.0},
        ceiling_after={"fp32": 188.0, "bf16": 432.0},
        models=[mp],
        estimates=[],
        grid="rudakov2021",
    )


def test_report_rows_from_given_numbers():
    r = _report()
    assert r.ceiling("fp32") == 184.0 and r.ceiling("bf16") == 416.0  # mean of before and after
    mp = r.models[0]
    assert mp.best("fp32") == 464.0 and mp.best("bf16") == 780.0
    assert mp.channels_last_gain("bf16") == pytest.approx(780 / 735 - 1)
    # the estimates use what the trainer runs: channels-last on the CPU in both precisions; on a GPU
    # channels-last in bf16 only
    assert mp.trained_rate() == 780.0
    fp32 = replace(mp, auto_precision="fp32", samples_per_s={**mp.samples_per_s, "fp32-cl": 500.0})
    assert fp32.trained_rate() == 500.0
    assert replace(fp32, device_type="cuda").trained_rate() == 464.0
    assert replace(mp, device_type="cuda").trained_rate() == 780.0
    # % of ceiling, faster memory format: 297e6 * 464 / 1e9 / 184 = 74.9 %; 297e6 * 780 / 416e9 = 55.7 %
    assert report.model_rows(r) == [
        ("mtcnn", "8x8x9", "1,213,956", "297", "464", "440", "735", "780", "75 %", "56 %")
    ]
    d = r.to_json()
    assert d["ceiling"] == {"fp32": 184.0, "bf16": 416.0}
    assert d["models"][0]["gflops"]["fp32"] == pytest.approx(137.808)
    assert d["models"][0]["fraction_of_ceiling"]["bf16-cl"] == pytest.approx(297e6 * 780 / 1e9 / 416)
    assert (
        "Ceiling (2048x2048 matmul" in report.header_lines(r)[1]
        and "fp32 184 GFLOP/s (180 / 188)" in report.header_lines(r)[1]
    )


def test_full_size_units_follow_the_protocols(monkeypatch):
    """Units at full size come from the protocols' own folds: per subject x 5 folds for subject-specific,
    one per fold and task for a single-task model; all windows of a fold add up to the data set."""
    from bench.config.run import RunConfig
    from bench.runs.resolved import resolve_run

    monkeypatch.setattr(fullsize, "FULL_SIZE", (6, 40, 12))  # small: the splitter is slow at 153,600 windows
    folds = fullsize.FullSizeFolds()
    ss = folds.units(resolve_run(RunConfig(model="mtcnn", protocol="subject-specific", n_folds=5)))
    assert len(ss) == 6 * 5
    fold = ss[0][1]
    assert len(fold.train) + len(fold.val) + len(fold.test) == 40 * 12  # one subject's windows
    ws = folds.units(resolve_run(RunConfig(model="mccnn", protocol="whole-set", n_folds=5)))
    assert len(ws) == 5 * 2  # single-task: one unit per fold and task
    assert sum(len(f.test) for _, f in ws[::2]) == 6 * 40 * 12
    crnn = folds.units(resolve_run(RunConfig(model="4dcrnn", protocol="whole-set", n_folds=5)))
    assert sum(len(f.test) for _, f in crnn[::2]) == 6 * 40 * (12 // 6)  # 6 windows per sample


def test_cli_quick_markdown_and_json(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(fullsize, "FULL_SIZE", (6, 40, 12))
    monkeypatch.setattr(
        measure, "usable_cores", lambda: 1
    )  # one core: no pool estimate (tests/perf/test_parallel.py)
    out_json = tmp_path / "perf.json"
    rc = main(["perf", "--quick", "--models", "saelstm", "--format", "md", "--json", str(out_json)])
    out = capsys.readouterr().out
    assert rc == 0
    lines = out.splitlines()
    assert lines[0].startswith("Machine: ") and "native bf16: no" in lines[0]
    assert lines[1].startswith("Ceiling (1024x1024 matmul, median of 2 after warm-up")
    assert (
        "| model | input | parameters | MFLOP/sample | fp32 samples/s | fp32 channels-last | bf16 samples/s "
        "| bf16 channels-last | % fp32 ceiling | % bf16 ceiling |" in lines
    )
    row = next(ln for ln in lines if ln.startswith("| saelstm | 6x32x4 |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[2:4] == ["140,738", "1.1"]  # parameters; 1.08 MFLOP per training sample
    assert cells[5] == "n/a" and cells[7] == "n/a"  # an LSTM: channels-last does not apply
    assert (
        "| model | precision (auto) | samples/s | subject-specific | whole-set | cross-subject "
        "| whole-set-finetune | grid rudakov2021 (runs) |" in lines
    )
    est = next(ln for ln in lines if ln.startswith("| saelstm | fp32 |"))
    assert est.endswith("(3) |")  # the preset's saelstm runs: two protocols by trial, cross-subject
    d = json.loads(out_json.read_text())
    assert d["settings"] == {"batch": 64, "matmul_size": 1024, "warmup": 1, "reps": 2, "quick": True}
    m = d["models"][0]
    assert m["name"] == "saelstm" and m["flops_per_sample"] == pytest.approx(1.08288e6)
    assert m["samples_per_s"]["fp32-cl"] is None and m["samples_per_s"]["fp32"] > 0
    assert d["estimates"][0]["grid_runs"] == 3 and d["estimates"][0]["precision"] == "fp32"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--models", "nope"],
            "error: --models='nope' is not allowed; allowed: mtcnn, 4dcrnn, fbccnn, mccnn, saelstm",
        ),
        (
            ["--models", "majority"],
            "error: --models='majority' is not allowed; allowed: mtcnn, 4dcrnn, fbccnn",
        ),
        (["--format", "xml"], "error: --format='xml' is not allowed; allowed: table, md"),
        (["--device", "tpu"], "error: --device='tpu' is not allowed; allowed: auto, cpu, cuda"),
        (["--batch", "0"], "error: --batch=0: expected an integer >= 1"),
    ],
)
def test_cli_bad_option_is_one_line(args, message, capsys):
    assert main(["perf", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1


def test_terminal_tables_carry_the_same_rows():
    from rich.console import Console

    con = Console(width=250, record=True, file=io.StringIO())
    for part in report.rich_tables(_report()):
        con.print(part)
    text = con.export_text()
    assert "Machine: AMD EPYC; device CPU; torch 2.x, 2 threads; native bf16: yes." in text
    assert "Training throughput" in text and "Full-size wall time" in text
    row = next(ln for ln in text.splitlines() if "mtcnn" in ln and "8x8x9" in ln)
    cells = [c.strip() for c in row.strip().strip("│").split("│")]
    assert cells == ["mtcnn", "8x8x9", "1,213,956", "297", "464", "440", "735", "780", "75 %", "56 %"]


def test_parity_verdict_and_registry_wording_from_given_accuracies():
    r = parity.ParityResult(
        model="mccnn",
        n_folds=3,
        epochs=1,
        seed=0,
        tasks=("valence", "arousal"),
        accuracy={
            "fp32": {"valence": [60.0, 70.0, 80.0], "arousal": [70.0, 72.0, 74.0]},
            "bf16": {"valence": [62.0, 71.0, 80.0], "arousal": [75.0, 76.0, 77.0]},
        },
        seconds={"fp32": 10.0, "bf16": 8.0},
    )
    assert r.mean_std("fp32", "valence") == (70.0, 10.0)  # sample std (ddof 1), as the runner's summary
    assert r.difference("valence") == pytest.approx(1.0) and r.holds("valence")  # 1.0 <= min(10, 9)
    assert r.difference("arousal") == pytest.approx(4.0) and not r.holds("arousal")  # 4.0 > min(2, 1)
    assert not r.verdict
    text = parity.parity_text(r)
    assert "| fp32 | 60.0 | 70.0 | 80.0 | 70.0 | 72.0 | 74.0 | 70.0 ± 10.0 | 72.0 ± 2.0 | 10 |" in text
    assert "arousal: bf16 - fp32 = +4.0 points; smaller fold-to-fold std 1.0: OUTSIDE" in text
    assert text.endswith("verdict: parity NOT shown")
    note = parity.parity_note(r, "AMD EPYC (native bf16)", "2026-11-29")
    assert note == (
        "Embedded synthetic default (4 subjects x 40 trials), whole-set, 3 folds by trial, 1 epoch, seed 0, "
        "the same folds, on AMD EPYC (native bf16) (2026-11-29): window test accuracy, mean ± std over "
        "folds, fp32 valence 70.0 ± 10.0, arousal 72.0 ± 2.0; bf16 autocast valence 71.0 ± 9.0, "
        "arousal 76.0 ± 1.0. "
        "Mean differences +1.0 and +4.0 points, NOT within the fold-to-fold std; per-fold differences up to "
        "5.0 points."
    )


@pytest.mark.slow
def test_parity_runs_both_precisions_on_the_same_folds(tmp_path, monkeypatch):
    """Through the runner (~1 min): 2 folds x 2 tasks of SAE-LSTM per precision; nothing left behind."""
    monkeypatch.chdir(tmp_path)
    r = parity.parity("saelstm", n_folds=2)
    assert r.tasks == ("valence", "arousal") and r.epochs == 1
    assert {p: {t: len(v) for t, v in a.items()} for p, a in r.accuracy.items()} == {
        "fp32": {"valence": 2, "arousal": 2},
        "bf16": {"valence": 2, "arousal": 2},
    }
    assert all(0 < a <= 100 for p in r.accuracy.values() for v in p.values() for a in v)
    assert list(tmp_path.iterdir()) == []  # the store and its ./mlruns lived in a temporary folder
