"""precision="auto": bf16 only where the hardware has it natively and the model's parity is shown; the
resolved precision is what the run key, the params and the trainer see."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

import bench.core.host
from bench.config.run import RunConfig
from bench.models.registry import get_model_info
from bench.runs.identity import resolve_config, resolve_precision

NATIVE_BF16 = bench.core.host.native_bf16
"""The real check (conftest makes every test see fp32 hardware)."""


@pytest.fixture
def native(monkeypatch):
    """Pretend this machine has (True) or lacks (False) native bf16."""

    def set_native(value: bool) -> None:
        monkeypatch.setattr(bench.core.host, "native_bf16", lambda device: value)

    return set_native


def test_auto_needs_native_bf16_and_shown_parity(native):
    shown = replace(get_model_info("saelstm"), bf16_parity="measured: equal within the spread")
    unshown = replace(shown, bf16_parity="")
    native(True)
    assert resolve_precision("auto", shown, "cpu") == "bf16"
    assert resolve_precision("auto", unshown, "cpu") == "fp32"  # parity not shown: fp32
    assert resolve_precision("auto", replace(shown, trainable=False), "cpu") == "fp32"
    native(False)
    assert resolve_precision("auto", shown, "cpu") == "fp32"  # emulated bf16 is slower than fp32
    assert resolve_precision("bf16", unshown, "cpu") == "bf16"  # an explicit choice is kept
    assert resolve_precision("fp32", shown, "cpu") == "fp32"


def test_resolved_precision_enters_the_run_key(native):
    assert get_model_info("mtcnn").bf16_parity  # measured (see its registration)
    assert not get_model_info("fbccnn").bf16_parity  # measured: not shown
    native(True)
    auto = resolve_config(RunConfig(model="mtcnn"))
    assert auto.train.precision == "bf16"
    assert auto == resolve_config(auto)  # idempotent
    explicit = resolve_config(RunConfig(model="mtcnn").with_train(precision="bf16"))
    assert auto.fingerprint() == explicit.fingerprint()
    assert resolve_config(RunConfig(model="fbccnn")).train.precision == "fp32"
    native(False)
    fp32 = resolve_config(RunConfig(model="mtcnn"))
    assert fp32.train.precision == "fp32" and fp32.fingerprint() != auto.fingerprint()


def test_cpu_flags_decide_native_bf16(monkeypatch):
    monkeypatch.setattr(bench.core.host, "_cpu_flags", lambda: frozenset({"avx2", "avx512f"}))
    assert not NATIVE_BF16(torch.device("cpu"))
    monkeypatch.setattr(bench.core.host, "_cpu_flags", lambda: frozenset({"avx512f", "avx512_bf16"}))
    assert NATIVE_BF16(torch.device("cpu"))
    monkeypatch.setattr(bench.core.host, "_cpu_flags", lambda: frozenset({"amx_bf16"}))
    assert NATIVE_BF16(torch.device("cpu"))
    assert not NATIVE_BF16(torch.device("meta"))


def test_the_logged_precision_is_the_resolved_one(deap_dir, tmp_path, native):
    from mlflow import MlflowClient

    from bench.runs.runner import run_experiment

    native(False)
    uri = f"sqlite:///{tmp_path}/m.db"
    cfg = RunConfig(model="majority", n_folds=2)  # auto stays fp32: the baseline is not trainable
    res = run_experiment(cfg, deap=deap_dir, tracking_uri=uri)
    params = MlflowClient(uri).get_run(res.parent_run_id).data.params
    assert params["train.precision"] == "fp32"
    assert res.config.train.precision == "fp32"


def test_bench_models_shows_the_parity_measurement():
    from rich.console import Console

    from bench.models.view import model_details

    def text(name: str) -> str:
        console = Console(width=200, record=True)
        console.print(model_details(name))
        return console.export_text()

    assert "bf16 parity" in text("mtcnn") and "70.5 ± 4.8" in text("mtcnn")
    assert "not measured: --precision auto trains it in fp32" in text("fbccnn")


@pytest.mark.parametrize("model", ["saelstm", "mtcnn", "mccnn", "4dcrnn"])
def test_measured_parity_is_recorded(model):
    """scripts/bench_parity.py --model NAME held parity, and its recorded numbers agree with themselves.

    The note carries the fp32 and bf16 means and stds and the mean differences; each difference is
    bf16 minus fp32 within the 0.1-point rounding of the printed means (two roundings of 0.05 each),
    and each lies within the smaller fold-to-fold std, the claim a parity note makes."""
    import re

    note = get_model_info(model).bf16_parity
    runs = re.search(
        r"fp32 valence (\S+) ± (\S+), arousal (\S+) ± (\S+); "
        r"bf16 autocast valence (\S+) ± (\S+), arousal (\S+) ± (\S+)\. "
        r"Mean differences (\S+) and (\S+) points, within the fold-to-fold std",
        note,
    )
    assert runs is not None, note
    fv, fvs, fa, fas, bv, bvs, ba, bas, dv, da = (float(g) for g in runs.groups())
    for fp32, bf16, diff, stds in ((fv, bv, dv, (fvs, bvs)), (fa, ba, da, (fas, bas))):
        assert abs((bf16 - fp32) - diff) <= 0.1 + 1e-9
        assert abs(diff) <= min(stds)
    assert re.search(r"on an? .+, \d threads, .*\(\d{4}-\d{2}-\d{2}\)", note)  # the machine and the day
