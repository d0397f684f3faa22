"""The golden set: what a user sees, pinned before the code moves, so a refactor stays invisible.

Pinned in ``golden.json`` (written by ``BENCH_GOLDEN_WRITE=1 python -m pytest tests/golden``):

* the run key, run name, tags and params of 22 representative configs (every model family, every
  protocol and split, ablations, loss weights, threshold, recipe, audit, seed, precision, DREAMER);
* the metrics of 3 small seeded runs made through the CLI (MT-CNN, SAE-LSTM, the majority baseline);
* the text of ``bench table comparison``, ``leakage`` and ``protocols`` on a store of untrained runs;
* the text of ``bench models``.

Keys, names, params and table texts are exact everywhere (no floating-point arithmetic of the CPU decides
them: the tables' store holds untrained baselines only). The trained runs' metrics are exact on the
machine that wrote the file when ``BENCH_GOLDEN_EXACT=1`` (a refactor keeps them byte-identical there);
elsewhere another CPU's kernels round differently in their last bits, which one epoch of Adam carries into
the weights (``tests/test_stacked.py`` measures how far), so each metric is compared within the change
that flipping one test sample's prediction makes (1/n of the test set for the accuracies; AUC and F1
move by about as much), and the untrained baseline stays exact.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import mlflow
import pytest

from bench.cli import main
from bench.config.run import RunConfig, TrainConfig
from bench.data.cache import prepare_features
from bench.data.source import open_deap
from bench.data.synthetic import SyntheticConfig, write_synthetic_deap
from bench.runs.plan import prepare
from bench.runs.runner import run_name, run_tags
from bench.runs.unit_tracking import run_params, unit_name

GOLDEN = Path(__file__).with_name("golden.json")
WRITE = os.environ.get("BENCH_GOLDEN_WRITE") == "1"
EXACT = os.environ.get("BENCH_GOLDEN_EXACT") == "1"
MACHINE_TAGS = ("bench.code_version", "bench.package_version", "bench.hardware")
"""Tags that name the code and machine a run was made with, not what the run is."""

CONFIGS: dict[str, dict] = {
    "mtcnn-whole-set": {},
    "mtcnn-segment": {"split": "segment"},
    "mtcnn-subject-specific": {"protocol": "subject-specific"},
    "mtcnn-cross-subject": {"protocol": "cross-subject"},
    "mtcnn-finetune": {"protocol": "whole-set-finetune"},
    "mtcnn-single-task": {"single_task": True},
    "mtcnn-no-dropout": {"train": {"dropout": 0.0}},
    "mtcnn-no-lr-decay": {"train": {"lr_decay": False}},
    "mtcnn-only-de": {"features": ("de",)},
    "mtcnn-loss-weights": {"train": {"loss_weights": (0.5, 1.5)}},
    "mtcnn-threshold": {"threshold": 7.0},
    "mtcnn-paper-recipe": {"recipe": "paper"},
    "mtcnn-audit": {"split": "segment", "audit": ("select-on-test",)},
    "mtcnn-seed-bf16-lr": {"seed": 3, "train": {"precision": "bf16", "lr": 1e-4}},
    "4dcrnn": {"model": "4dcrnn"},
    "fbccnn": {"model": "fbccnn"},
    "mccnn-subject-specific": {"model": "mccnn", "protocol": "subject-specific"},
    "saelstm": {"model": "saelstm"},
    "majority": {"model": "majority"},
    "prior-subject-specific": {"model": "prior", "protocol": "subject-specific"},
    "eegnet": {"model": "eegnet"},
    "mtcnn-dreamer": {"dataset": "dreamer", "subjects": (1, 2, 3)},
}
"""Representative configs (2 folds each, on a small synthetic DEAP folder unless they name DREAMER)."""

TABLE_RUNS: list[list[str]] = [
    ["--model", "majority"],
    ["--model", "prior"],
    ["--model", "majority", "--protocol", "subject-specific"],
    ["--model", "prior", "--protocol", "subject-specific"],
    ["--model", "majority", "--split", "segment"],
    ["--model", "majority", "--split", "segment", "--audit", "select-on-test"],
    ["--model", "prior", "--protocol", "cross-subject"],
    ["--model", "majority", "--no-lr-decay"],
]
"""Untrained runs of the tables' store: their numbers are counts, the same on every CPU."""

TRAINED_RUNS: dict[str, list[str]] = {
    "mtcnn": ["--model", "mtcnn", "--epochs", "1"],
    "saelstm": ["--model", "saelstm", "--epochs", "1"],
    "majority-subject-specific": ["--model", "majority", "--protocol", "subject-specific"],
}
"""The 3 small seeded runs whose metrics are pinned."""

TABLES: dict[str, list[str]] = {
    "comparison": ["table", "comparison"],
    "leakage": ["table", "leakage"],
    "protocols": ["table", "protocols"],
}


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """A small synthetic DEAP folder: 4 subjects x 8 trials."""
    out = tmp_path_factory.mktemp("golden") / "deap"
    write_synthetic_deap(out, SyntheticConfig(n_subjects=4, n_trials=8, seed=0))
    return out


@pytest.fixture(scope="module")
def golden() -> dict:
    if WRITE:
        return {}
    return json.loads(GOLDEN.read_text())


def _store(section: str, name: str, value, golden: dict):
    """Record ``value`` (writing) or return the pinned one (checking)."""
    if WRITE:
        data = json.loads(GOLDEN.read_text()) if GOLDEN.exists() else {}
        data.setdefault(section, {})[name] = value
        GOLDEN.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
        return value
    return golden[section][name]


def _plain(value):
    return json.loads(json.dumps(value, default=str))


def _config(spec: dict) -> RunConfig:
    spec = dict(spec)
    train = TrainConfig(**{"max_epochs": 2, **spec.pop("train", {})})
    return RunConfig(**{"n_folds": 2, **spec}, train=train)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_run_identity(name, folder, tmp_path_factory, golden):
    cfg = _config(CONFIGS[name])
    if cfg.dataset == "deap":
        fs = prepare_features(open_deap(folder), cache_dir=tmp_path_factory.getbasetemp() / "golden-cache")
        p = prepare(cfg, features=fs) if cfg.model != "eegnet" else prepare(cfg, deap=folder)
    else:
        p = prepare(cfg, synthetic=True)
    tags = {k: v for k, v in run_tags(p).items() if k not in MACHINE_TAGS}
    got = _plain(
        {
            "run_key": p.run_key,
            "run_name": run_name(p),
            "tags": tags,
            "params": run_params(p),
            "units": [[u.key, unit_name(p, u, f)] for u, f in p.units],
        }
    )
    assert got == _store("identity", name, got, golden)


def _cli(capsys, *args: str) -> str:
    capsys.readouterr()
    try:
        main(list(args))
    except SystemExit as exc:
        assert exc.code in (0, None), capsys.readouterr()
    return capsys.readouterr().out


def _normalise(text: str, folder: Path, uri: str) -> str:
    """The machine's temporary paths as placeholders; run ids as ``<id>``."""
    text = text.replace(uri, "<URI>").replace(str(folder), "<DATA>")
    return re.sub(r"\b[0-9a-f]{32}\b", "<id>", text)


@pytest.fixture(scope="module")
def table_store(folder, tmp_path_factory):
    uri = f"sqlite:///{tmp_path_factory.mktemp('golden-tables')}/mlflow.db"
    capsys = None  # runs print progress; their output is not pinned
    for args in TABLE_RUNS:
        try:
            main(["run", *args, "--deap", str(folder), "--folds", "2", "--tracking-uri", uri])
        except SystemExit as exc:
            assert exc.code in (0, None)
    del capsys
    return uri


@pytest.mark.parametrize("name", sorted(TABLES))
def test_table_text(name, table_store, folder, capsys, wide_console, golden):
    text = _normalise(_cli(capsys, *TABLES[name], "--tracking-uri", table_store), folder, table_store)
    assert text == _store("tables", name, text, golden)


def test_models_text(capsys, wide_console, golden):
    text = _cli(capsys, "models")
    assert text == _store("models", "list", text, golden)


def _metrics(uri: str) -> dict:
    """Every run's metrics in the store, by run name (parents and units)."""
    mlflow.set_tracking_uri(uri)
    runs = mlflow.search_runs(search_all_experiments=True, output_format="list")
    return {r.info.run_name: dict(sorted(r.data.metrics.items())) for r in runs}


def _close(got: dict, want: dict) -> None:
    """Counts exact; each score within what one flipped prediction moves it in the smallest group it is
    computed over (one subject's test trials; see the module docstring); epochs reached may differ."""
    assert got.keys() == want.keys()
    groups = [m["n_test_trials"] / m["n_test_subjects"] for m in want.values() if "n_test_trials" in m]
    tol = 1.0 / min(groups) + 1e-9
    for run, metrics in want.items():
        assert got[run].keys() == metrics.keys(), run
        for k, v in metrics.items():
            if k in ("best_epoch", "epochs_run", "lr"):
                continue  # where early stopping and the plateau schedule end follows the rounding
            if k.startswith("n_"):
                assert got[run][k] == v, (run, k)
            else:
                assert abs(got[run][k] - v) <= tol, (run, k, got[run][k], v)


@pytest.mark.parametrize("name", sorted(TRAINED_RUNS))
def test_trained_metrics(name, folder, tmp_path_factory, golden):
    uri = f"sqlite:///{tmp_path_factory.mktemp('golden-' + name)}/mlflow.db"
    try:
        main(["run", *TRAINED_RUNS[name], "--deap", str(folder), "--folds", "2", "--tracking-uri", uri,
              "--threads", "1"])  # fmt: skip
    except SystemExit as exc:
        assert exc.code in (0, None)
    got = _metrics(uri)
    got = {run: {k: v for k, v in m.items() if not _is_time(k)} for run, m in got.items()}
    want = _store("metrics", name, got, golden)
    if EXACT or name.startswith("majority"):
        assert got == want
    else:
        _close(got, want)


def _is_time(metric: str) -> bool:
    """Wall times: they differ between any two runs."""
    return "time" in metric or "seconds" in metric or metric.endswith("_s")
