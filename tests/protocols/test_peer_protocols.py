"""The peer protocols' behaviour beyond their splits: what they cite, where they run, the selection rule
they impose on training, and which of their runs are leaky (their splits: ``test_peer_splits.py``)."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from sklearn.metrics import f1_score

from bench.config.run import RunConfig, TrainConfig
from bench.core.errors import ConfigError
from bench.data.datasets import dataset_names, get_dataset
from bench.runs.identity import resolve_config
from bench.runs.resolved import resolve_run
from bench.training.policy import EpochPolicy, FitResult
from bench.training.trainer import macro_f1, selection_score
from protocols import get_protocol, list_protocols
from protocols.base import LEAKY_MECHANISMS, MECHANISMS

PEERS = [p for p in list_protocols() if p.audit_only]
LEAKY = {"libeer-front-back", "libeer-deap-kfold", "torcheeg-kfold"}


def test_the_peer_protocols_are_registered():
    assert {p.name for p in PEERS} == {
        "libeer-front-back", "libeer-deap-kfold", "libeer-deap-random", "torcheeg-kfold",
        "eegfm-one-subject", "adabrain-random-valid", "adabrain-subject-valid", "eegain-loto",
    }  # fmt: skip
    for p in list_protocols():
        if not p.audit_only:
            assert p.mechanisms == () and not p.leaky, p.name  # the harness's own protocols


@pytest.mark.parametrize("proto", PEERS, ids=lambda p: p.name)
def test_sources_datasets_and_counterparts(proto):
    src = proto.source
    assert re.fullmatch(r"[0-9a-f]{40}", src.commit) and src.read == "2026-12-07"
    assert src.lines and all(re.search(r"\.(py|md):[0-9]", line) for line in src.lines)
    assert src.commit[:7] in (proto.__doc__ or "") or proto.counterpart is None  # the docstring cites it
    assert set(proto.used_on) <= set(dataset_names())
    assert set(proto.mechanisms) <= set(MECHANISMS)
    assert proto.leaky == (proto.name in LEAKY) == any(m in LEAKY_MECHANISMS for m in proto.mechanisms)
    if proto.counterpart is not None:
        honest = get_protocol(proto.counterpart)
        assert not honest.leaky and honest.mechanisms == ()
    for name in dataset_names():
        why = proto.refusal(get_dataset(name))
        if name in proto.used_on:
            assert why is None or "session" in why  # (a session protocol still needs sessions)
        else:
            assert why is not None and src.benchmark in why


def test_a_dataset_the_benchmark_did_not_use_is_refused_before_any_data():
    with pytest.raises(ConfigError, match="'libeer-front-back' reproduces LibEER's protocol on SEED"):
        resolve_run(RunConfig(model="dgcnn", protocol="libeer-front-back"))
    with pytest.raises(ConfigError, match="not on SEED"):
        resolve_run(RunConfig(model="dgcnn", protocol="eegain-loto", dataset="seed"))


@pytest.mark.parametrize(
    ("protocol", "dataset", "select_by", "restore_best"),
    [
        ("libeer-deap-kfold", "deap", "acc", True),
        ("libeer-deap-random", "deap", "f1", True),
        ("eegain-loto", "deap", "acc", True),
        ("torcheeg-kfold", "deap", "loss", False),  # the last epoch: no selection
        ("eegfm-one-subject", "seed", "loss", False),
        ("adabrain-random-valid", "seed", "acc", True),
        ("libeer-front-back", "seed", "acc", True),
    ],
)
def test_the_benchmarks_selection_rule_replaces_the_harness(protocol, dataset, select_by, restore_best):
    cfg = resolve_config(RunConfig(model="dgcnn", protocol=protocol, dataset=dataset))
    t = cfg.train
    assert (t.select_by, t.restore_best, t.early_stopping, t.lr_decay) == (select_by, restore_best, 0, False)
    assert resolve_config(cfg) == cfg  # idempotent
    harness = resolve_config(RunConfig(model="dgcnn", protocol="subject-specific")).train
    assert (harness.select_by, harness.early_stopping, harness.lr_decay) == ("loss", 16, True)


def test_select_by_is_checked_and_left_out_of_old_run_keys():
    with pytest.raises(ConfigError, match="train.select_by"):
        TrainConfig(select_by="auc")
    with pytest.raises(ConfigError, match="stacked models select their epoch by validation loss"):
        TrainConfig(select_by="acc", stack=4)
    assert "select_by" not in RunConfig(model="dgcnn").key_dict()["train"]
    chosen = RunConfig(model="dgcnn", train=TrainConfig(select_by="acc"))
    assert chosen.key_dict()["train"]["select_by"] == "acc"


def test_policy_keeps_the_first_epoch_of_the_best_score():
    for select_by, scores, best in (("acc", [0.5, 0.7, 0.7, 0.6], 2), ("f1", [0.4, 0.3, 0.41, 0.41], 3)):
        result = FitResult()
        policy = EpochPolicy(TrainConfig(select_by=select_by, lr_decay=False, early_stopping=0), result)
        improved = [policy.end_epoch(e, 1.0 / e, s) for e, s in enumerate(scores, start=1)]
        assert result.best_epoch == best
        assert sum(improved) == len(set(np.maximum.accumulate(scores)))
    result = FitResult()  # the harness's rule: the lowest loss, whatever the score
    policy = EpochPolicy(TrainConfig(lr_decay=False), result)
    for e, loss in enumerate([0.9, 0.5, 0.7], start=1):
        policy.end_epoch(e, loss, 0.99 if e == 3 else 0.1)
    assert result.best_epoch == 2
    with pytest.raises(ValueError, match="needs the epoch's validation score"):
        EpochPolicy(TrainConfig(select_by="acc"), FitResult()).end_epoch(1, 0.5)


def test_macro_f1_is_sklearns():
    rng = np.random.default_rng(0)
    for k in (2, 3, 4):
        for _ in range(20):
            y = rng.integers(0, k, 50)
            pred = rng.integers(0, k - 1, 50)  # a class never predicted
            ours = macro_f1(torch.as_tensor(y), torch.as_tensor(pred), k)
            assert ours == pytest.approx(f1_score(y, pred, average="macro"), abs=1e-12)
    assert macro_f1(torch.tensor([1, 1]), torch.tensor([1, 1]), 2) == 1.0
    val = {"acc_valence": 0.6, "acc_arousal": 0.8, "f1_valence": 0.5, "f1_arousal": 0.7}
    assert selection_score(val, ("valence", "arousal"), "acc") == pytest.approx(0.7)
    assert selection_score(val, ("valence", "arousal"), "f1") == pytest.approx(0.6)
    assert selection_score(val, ("valence",), "loss") is None
