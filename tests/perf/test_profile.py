"""``bench perf --profile``: each layer's inputs, FLOPs and same-size GEMMs, the time attribution, the CLI."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from bench.cli import main
from bench.perf import profile, profile_report
from bench.perf.throughput import count_flops

CPU = torch.device("cpu")


def _net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 5 * 6, 4))


def test_capture_records_each_leaf_input_in_call_order():
    x = torch.randn(2, 3, 5, 6)
    seen = profile.capture_layer_inputs(_net().train(), x, CPU, "fp32")
    assert [n for n, _, _ in seen] == ["0", "1", "2", "3"]
    assert [tuple(t.shape) for _, _, t in seen] == [(2, 3, 5, 6), (2, 8, 5, 6), (2, 8, 5, 6), (2, 240)]
    assert torch.equal(seen[0][2], x)
    # the model's input needs no gradient; every later layer's input does (inside the step)
    assert [t.requires_grad for _, _, t in seen] == [False, True, True, True]


def test_gemm_shapes_are_the_im2col_products():
    conv = nn.Conv2d(6, 8, (3, 2), groups=2)
    x = torch.randn(4, 6, 7, 9)
    out = conv(x)  # 4 x 8 x 5 x 8
    assert profile.gemm_shapes(conv, x, out.numel() // out.shape[1]) == (2, 4 * 5 * 8, 3 * 3 * 2, 4)
    lin = nn.Linear(10, 3)
    assert profile.gemm_shapes(lin, torch.randn(7, 10), 0) == (1, 7, 10, 3)


@pytest.mark.parametrize("input_grad", [False, True])
def test_a_layers_gemms_do_the_flops_of_its_forward_and_backward(input_grad):
    """The op limit does the same work: forward, weight gradient, and the input gradient only where the
    step computes one (the first layer's input needs none), 2 M K N FLOPs each."""
    conv = nn.Conv2d(3, 8, 3, padding=1, bias=False)
    x = torch.randn(2, 3, 5, 6, requires_grad=input_grad)
    flops, calls = profile.layer_calls("c", conv, x, CPU, "fp32")
    m, k, n = 2 * 5 * 6, 3 * 9, 8
    assert flops == (3 if input_grad else 2) * 2 * m * k * n
    assert count_flops(calls["GEMM"]) == flops
    assert set(calls) == {"as run", "other format", "GEMM"}
    _, calls = profile.layer_calls("c", conv, x, CPU, "fp32", other_format=False)  # a time-domain model's
    assert set(calls) == {"as run", "GEMM"}


def test_fastest_times_takes_each_functions_fastest_round(monkeypatch):
    """Round-robin rounds, warm-up calls untimed, the fastest timed call of each function counts."""
    planted = {"a": [5.0, 1.0, 3.0], "b": [2.0, 4.0, 0.5]}
    order: list[str] = []
    fns = {k: (lambda k=k: order.append(k)) for k in planted}
    durations = {k: iter(v) for k, v in planted.items()}

    def fake_timed(fn, device, clock=None):
        fn()
        return next(durations[order[-1]])

    monkeypatch.setattr(profile, "timed", fake_timed)
    assert profile.fastest_times(fns, CPU, warmup=1, rounds=3) == {"a": 1.0, "b": 0.5}
    assert order == ["a", "b"] + ["a", "b"] * 3  # warm-up of each, then one of each per round


def _fake_profile() -> profile.ModelProfile:
    layers = [
        profile.LayerTiming("conv", "Conv2d", (64, 8, 8, 9), 6_000_000_000, 0.010, 0.012, 0.006),
        profile.LayerTiming("bn", "BatchNorm2d", (64, 64, 8, 9), 0, 0.002),
        profile.LayerTiming("dense", "Linear", (64, 1024), 2_000_000_000, 0.004, None, 0.005),
    ]
    return profile.ModelProfile("m", "bf16", True, 64, 0.025, 0.003, 0.0001, 8_000_000_000, layers)


def test_the_time_attribution_adds_up_to_the_step():
    p = _fake_profile()
    assert p.layers[0].best_seconds == 0.006 and p.layers[0].best_how == "GEMM"
    assert p.layers[2].best_seconds == 0.004 and p.layers[2].best_how == "as run"
    assert p.compute_seconds() == pytest.approx(0.014)
    assert p.compute_best_seconds() == pytest.approx(0.010)
    assert p.memory_bound_seconds() == pytest.approx(0.002)
    assert p.between_ops_seconds() == pytest.approx(0.025 - 0.014 - 0.002 - 0.003)
    assert p.roofline_gflops() == pytest.approx(800.0)  # 8 GFLOP over 10 ms
    assert p.achieved_gflops() == pytest.approx(320.0)  # over the 25 ms step
    assert p.fraction_of_roofline() == pytest.approx(0.4)
    assert p.samples_per_s() == pytest.approx(2560.0)


def test_flops_outside_the_layers_are_named_and_left_out_of_the_roofline():
    """A composed first block (functional code, no leaf module) does FLOPs no layer timing covers: the
    roofline stays the layers' own rate, and the report says how much of the step it leaves out."""
    p = _fake_profile()
    p.flops_per_step = 10_000_000_000  # 2 GFLOP outside the layers
    assert p.layer_flops() == 8_000_000_000 and p.outside_layers_flops() == 2_000_000_000
    assert p.roofline_gflops() == pytest.approx(800.0)
    assert p.achieved_gflops() == pytest.approx(400.0)  # the step's FLOPs over the step
    text = profile_report.markdown([p], {"fp32": 400.0, "bf16": 2000.0})
    assert "2,000 MFLOP of the step (20 %) run outside any leaf layer" in text
    assert "the step reaches 50 % of it" in text  # 400 of 800 GFLOP/s: most FLOPs are in the layers
    assert "outside any leaf layer" not in profile_report.markdown([_fake_profile()], {"bf16": 2000.0})
    p.flops_per_step = 20_000_000_000  # 60 % outside: the layers' roofline is not the step's limit
    text = profile_report.markdown([p], {"fp32": 400.0, "bf16": 2000.0})
    assert "not the step's limit: most of its FLOPs run outside the layers" in text
    assert "the step reaches" not in text


def test_the_report_states_the_attribution():
    text = profile_report.markdown([_fake_profile()], {"fp32": 400.0, "bf16": 2000.0})
    assert "Step 25.00 ms: 2,560 samples/s, 320 GFLOP/s = 16 % of the bf16 matmul ceiling" in text
    assert "800 GFLOP/s = 40 % of the matmul ceiling; the step reaches 40 % of it" in text
    assert "compute layers alone 14.00 ms (56 %), of which below their op limit 4.00 ms (16 %)" in text
    assert "| conv | Conv2d | 64x8x8x9 | 6,000.0 | 10.00 | 12.00 | 6.00 | 600 | 60 % |" in text
    assert "| bn | BatchNorm2d | 64x64x8x9 |  | 2.00 |  |  |  |  |" in text


def test_cli_profile_runs_and_writes_json(tmp_path, capsys):
    out = tmp_path / "p.json"
    main(["perf", "--profile", "saelstm", "--quick", "-f", "md", "--json", str(out)])
    text = capsys.readouterr().out
    assert "**saelstm, fp32, NCHW, batch 64**" in text
    data = json.loads(out.read_text())
    assert {"machine", "ceiling", "profiles"} <= set(data)
    first = data["profiles"][0]
    assert first["model"] == "saelstm" and first["precision"] == "fp32"
    assert any(lt["flops"] > 0 for lt in first["layers"])


def test_cli_profile_of_an_unknown_model_is_one_line(capsys):
    assert main(["perf", "--profile", "mtcnnn"]) == 2
    err = capsys.readouterr().err
    assert "--profile" in err and "mtcnn" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
