"""Device-agnostic training: resident tensors, no host sync in the step loop, channels-last, compile.

The logic is tested on CPU; the CUDA paths (pinned copies, bf16 autocast on a GPU, sync-free steps under
``torch.cuda.set_sync_debug_mode("error")``) run only where a GPU is present and skip cleanly elsewhere.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np
import pytest
import torch

from bench.config.run import TrainConfig
from bench.data.inputs import TASKS
from bench.models.registry import create_model, list_models
from bench.training.trainer import fit, predict_proba, to_device, trains_channels_last, use_channels_last

REPO = Path(__file__).resolve().parents[2]
CODE = {"bench", "mtcnn", "baselines", "protocols"}
"""The project's own packages (torch's optimiser reads its CPU step counter; that is no device sync)."""
CPU_ONLY = {"uniform_int32_like"}
"""Functions that run on the CPU only, whatever the device: FastDropout's mask draws its seed from torch's
CPU generator (bench.models.layers); on a GPU the module is torch's own dropout and never calls it."""
CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
CONFIG = TrainConfig(batch_size=32, early_stopping=0, lr_decay=False)


def _data(shape: tuple[int, ...], n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, *shape, generator=gen), torch.randint(0, 2, (n, 2), generator=gen)


def _trainable():
    return [m for m in list_models() if m.trainable]


@pytest.mark.parametrize("info", _trainable(), ids=lambda m: m.name)
def test_step_loop_never_reads_a_tensor_value(info, monkeypatch):
    """Inside the step loop neither the trainer nor a model reads a value back to the host (on a GPU each
    read would stall the queue); reads after the last batch of an epoch (validation, the history row) are
    allowed. Checked by making every value read from project code fail between the first and last batch."""
    inside = {"loop": False}
    reads: list[str] = []

    def guard(name):
        original = getattr(torch.Tensor, name)

        def read(self, *args, **kwargs):
            frame = inspect.stack()[1]
            caller = Path(frame.filename)
            if frame.function in CPU_ONLY:
                return original(self, *args, **kwargs)
            if inside["loop"] and caller.is_relative_to(REPO) and caller.relative_to(REPO).parts[0] in CODE:
                reads.append(f"{name} from {caller.relative_to(REPO)}")
            return original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, read)

    for name in ("item", "tolist", "numpy", "cpu", "__float__", "__int__", "__bool__"):
        guard(name)

    def on_batch(done: int, total: int) -> None:
        inside["loop"] = done < total  # the last batch ends the loop: validation reads are fine

    tasks = TASKS if info.multitask else TASKS[:1]
    model = create_model(info.name, tasks=tasks)
    x, y = _data(info.input_spec.sample_shape(), 4 * CONFIG.batch_size)
    fit(model, x, y, x[:40], y[:40], tasks=tasks, config=CONFIG, max_epochs=1, seed=0,
        device=torch.device("cpu"), on_batch=on_batch)  # fmt: skip
    assert reads == []


def test_to_device_moves_once_and_keeps_values():
    x = torch.arange(12.0).reshape(3, 4)
    assert to_device(x, torch.device("cpu")) is x  # already there: no copy
    moved = to_device(x, torch.device("meta"))
    assert moved.device.type == "meta" and moved.shape == x.shape


def test_channels_last_gives_the_same_predictions_in_fp32():
    """NHWC is a layout, not a different computation: a trained model predicts the same in both."""
    torch.manual_seed(0)
    model = create_model("mtcnn", tasks=TASKS)
    x, y = _data((8, 8, 9), 96)
    fit(model, x, y, x[:32], y[:32], tasks=TASKS, config=CONFIG, max_epochs=1, seed=0,
        device=torch.device("cpu"), channels_last=True)  # fmt: skip
    conv = next(p for p in model.parameters() if p.dim() == 4)
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
    nhwc = predict_proba(model, x, batch_size=32, device=torch.device("cpu"), channels_last=True)
    model.to(memory_format=torch.contiguous_format)
    nchw = predict_proba(model, x, batch_size=32, device=torch.device("cpu"))
    for t in TASKS:
        np.testing.assert_allclose(nhwc[t], nchw[t], atol=1e-5)


def test_channels_last_leaves_other_ranks_alone():
    model = create_model("saelstm", tasks=TASKS[:1])
    x = torch.randn(4, 6, 32, 4)[:, 0]  # 3-D input
    assert use_channels_last(model, x) is x


def test_a_5d_input_gets_channels_last_weights_and_the_same_function():
    """4D-CRNN folds its (N, T, C, H, W) input into the batch: its convolutions take channels-last weights
    (the input stays as it is: a 5-D tensor has no NHWC) and compute the same outputs."""
    torch.manual_seed(0)
    model = create_model("4dcrnn", tasks=TASKS).eval()
    x = torch.randn(8, 6, 4, 8, 9)
    with torch.no_grad():
        nchw = model(x)
        assert use_channels_last(model, x) is x
        conv = model.cnn.conv2.weight
        assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
        nhwc = model(x)
    for t in TASKS:
        # fp32 sums of up to 128 x 16 products in another order: well within 1e-5 of logits of size ~1
        torch.testing.assert_close(nhwc[t], nchw[t], atol=1e-5, rtol=1e-5)


def test_a_unit_on_the_cpu_trains_channels_last(features):
    """A run on the CPU trains its convolutional models in NHWC in both precisions (the faster layout on
    the CPU: bench.training.trainer.trains_channels_last); on a GPU only bf16 does."""
    from bench.config.run import RunConfig
    from bench.runs.plan import prepare
    from bench.runs.progress import Reporter
    from bench.runs.unit import fit_predict, train_standardiser

    seen = {}
    original = use_channels_last

    def spy(model, x):
        seen["called"] = True
        return original(model, x)

    import bench.training.trainer

    assert not trains_channels_last("fp32", "cuda") and trains_channels_last("bf16", "cuda")
    for precision, expected in (("fp32", True), ("bf16", True)):
        seen.clear()
        cfg = RunConfig(model="mccnn", protocol="whole-set", n_folds=2, subjects=(1, 2)).with_train(
            max_epochs=1, precision=precision
        )
        p = prepare(cfg, features=features)
        unit, fold = p.units[0]
        xt = torch.from_numpy(np.ascontiguousarray(p.inputs.x))
        y = torch.from_numpy(np.ascontiguousarray(p.inputs.labels))
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(bench.training.trainer, "use_channels_last", spy)
            fit_predict(p, unit, xt, y, fold.train[:64], fold.val[:32], fold.test[:32], torch.device("cpu"),
                        Reporter(), standardiser=train_standardiser(p, xt, fold.train), seed=0)  # fmt: skip
        assert seen.get("called", False) is expected, precision


@pytest.mark.slow
def test_compiled_model_trains_like_the_eager_one():
    """``--compile``: torch.compile fuses kernels but computes the same function; training with it follows
    the eager losses. (Adam turns a rounding difference in a near-zero gradient into a step of ~lr in that
    weight, so after a few steps single weights and losses differ a little more than the function does.)"""
    import copy

    from bench.training.trainer import compile_model

    torch.manual_seed(0)
    eager = create_model("mccnn", tasks=TASKS[:1], dropout=0.0).eval()
    compiled = compile_model(copy.deepcopy(eager), torch.device("cpu"))
    x, y = _data((8, 8, 9), 64)
    with torch.no_grad():
        torch.testing.assert_close(compiled(x)["valence"], eager(x)["valence"], atol=1e-5, rtol=1e-5)
    assert compiled.state_dict().keys() == eager.state_dict().keys()  # logged models load either way
    rows = []
    for on in (False, True):
        torch.manual_seed(0)
        model = create_model("mccnn", tasks=TASKS[:1], dropout=0.0)
        res = fit(model, x, y, x[:32], y[:32], tasks=TASKS[:1], config=CONFIG, max_epochs=2, seed=0,
                  device=torch.device("cpu"), compile=on)  # fmt: skip
        rows.append(res.history)
    for a, b in zip(*rows, strict=True):
        assert b["train_loss"] == pytest.approx(a["train_loss"], abs=2e-3)
        assert b["valid_loss"] == pytest.approx(a["valid_loss"], abs=2e-3)


# ------------------------------------------------------------------------------------------ CUDA only
@CUDA
def test_cuda_copies_go_through_pinned_memory():
    x = torch.randn(8, 4)
    moved = to_device(x, torch.device("cuda"))
    torch.cuda.synchronize()
    assert moved.is_cuda and torch.equal(moved.cpu(), x)


@CUDA
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_cuda_step_loop_is_sync_free_and_learns(precision):
    """On a GPU the whole epoch runs without a device-to-host sync (torch raises if one happens) and
    fits the same model as the CPU to within bf16/TF32 rounding."""
    from dataclasses import replace

    cfg = replace(CONFIG, precision=precision)
    x, y = _data((8, 8, 9), 256)
    y[:, 1] = (x[:, 0].mean(dim=(1, 2)) > 0).long()  # a planted arousal effect
    torch.manual_seed(0)
    model = create_model("mtcnn", tasks=TASKS)
    syncs = {"loop": False}

    def on_batch(done, total):
        mode = "error" if done < total else "default"
        if syncs["loop"] != (mode == "error"):
            torch.cuda.set_sync_debug_mode(mode)
            syncs["loop"] = mode == "error"

    try:
        res = fit(model, x, y, x[:64], y[:64], tasks=TASKS, config=cfg, max_epochs=3, seed=0,
                  device=torch.device("cuda"), on_batch=on_batch,
                  channels_last=precision == "bf16")  # fmt: skip
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert res.history[-1]["train_acc_arousal"] > 0.6


def test_bench_gpu_script_runs_its_full_size_epoch_on_any_device(monkeypatch):
    """scripts/bench_gpu.py waits for a GPU; its code runs here so it cannot rot meanwhile. The full-size
    epoch is a whole-set unit's (fold 1 of the protocol's own folds at 32 x 40 trials)."""
    import importlib.util

    import bench.perf.fullsize

    spec = importlib.util.spec_from_file_location("bench_gpu", REPO / "scripts" / "bench_gpu.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    monkeypatch.setattr(bench.perf.fullsize, "FULL_SIZE", (6, 40, 12))  # the splitter is slow at full size
    n_train, n_valid = script.whole_set_sizes("mtcnn")
    assert n_train + n_valid == 6 * 40 * 12 * 4 // 5  # the 4 folds left by the test fold
    epoch = script.full_size_epoch("saelstm", torch.device("cpu"), n_train=256, n_valid=64, compile=False)
    assert epoch["precision"] == "fp32"  # this test session sees fp32 hardware (conftest)
    assert epoch["epoch_s"] > 0 and epoch["train_samples_per_s"] == pytest.approx(256 / epoch["epoch_s"])
