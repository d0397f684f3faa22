"""Tables from a real MLflow store filled by small real runs (4 subjects x 8 trials, 2 folds, 1 epoch)."""

from __future__ import annotations

import math
import shutil
import time

import numpy as np
import pandas as pd
import pytest
from scipy import stats as st

from bench import results as R
from bench.cli import main
from bench.config.ablation import VARIANTS
from bench.config.run import RunConfig, TrainConfig
from bench.data.cache import prepare_features
from bench.data.source import open_deap
from bench.data.synthetic import SyntheticConfig, write_synthetic_deap
from bench.models.registry import list_models
from bench.results.cells import OTHER_FOLDS, cell, paired_test
from bench.results.table import DIFFERS, NOT_RUN, TUNED, UNTESTABLE
from bench.runs.runner import prepare, run_experiment
from bench.tracking.store import EXPERIMENTS, client


def _run(fs, uri, model, protocol, split="trial", audit=(), force=False, extra_tags=None, **kw):
    train = {k: v for k, v in kw.items() if k in TrainConfig.__dataclass_fields__}
    top = {k: v for k, v in kw.items() if k not in train}
    train.setdefault("max_epochs", 1)
    cfg = RunConfig(model=model, protocol=protocol, split=split, n_folds=2, audit=audit,
                    train=TrainConfig(**train), num_threads=2, **top)  # fmt: skip
    p = prepare(cfg, features=fs)
    return run_experiment(cfg, tracking_uri=uri, prepared=p, force=force, extra_tags=extra_tags)


@pytest.fixture(scope="module")
def constant_model():
    """A cheap stand-in for a learned model (not a trivial baseline by name): the training majority."""
    from baselines.trivial import MajorityClass
    from bench.data.inputs import InputSpec
    from bench.models.registry import register_model, unregister_model

    register_model("constant", full_name="Constant (test)", citation="test", input_spec=InputSpec(),
                   reported={}, fidelity="exact", multitask=True, trainable=False)(
        type("Constant", (MajorityClass,), {})
    )  # fmt: skip
    yield "constant"
    unregister_model("constant")


@pytest.fixture(scope="module")
def store_env(tmp_path_factory, constant_model):
    """One store for the table tests: synthetic runs plus one 'deap'-kind run (a copy without the marker)."""
    root = tmp_path_factory.mktemp("tables")
    uri = f"sqlite:///{root}/mlflow.db"
    folder = root / "synth"
    write_synthetic_deap(folder, SyntheticConfig(n_subjects=4, n_trials=8, seed=0))
    fs = prepare_features(open_deap(folder), cache_dir=root / "cache")
    res = {}
    res["old_majority"] = _run(fs, uri, "majority", "whole-set")
    time.sleep(0.01)
    res["majority"] = _run(fs, uri, "majority", "whole-set", force=True)  # newer, same settings: shown
    res["prior"] = _run(fs, uri, "prior", "whole-set")
    res["mtcnn"] = _run(fs, uri, "mtcnn", "whole-set")
    res["majority_ss"] = _run(fs, uri, "majority", "subject-specific")
    res["prior_ss"] = _run(fs, uri, "prior", "subject-specific")
    res["constant_ss"] = _run(fs, uri, constant_model, "subject-specific")
    res["majority_seg"] = _run(fs, uri, "majority", "whole-set", split="segment")
    res["majority_audit"] = _run(fs, uri, "majority", "whole-set", split="segment", audit=("select-on-test",))
    res["majority_nolr"] = _run(fs, uri, "majority", "whole-set", lr_decay=False)
    res["majority_t7"] = _run(fs, uri, "majority", "whole-set", threshold=7.0)
    res["tuned"] = _run(fs, uri, "majority", "whole-set", loss_weights=(0.5, 1.5),
                        extra_tags={"bench.tuned_from": "study1"})  # fmt: skip
    # a FAILED parent must never count
    cl = client(uri)
    exp = cl.get_experiment_by_name(EXPERIMENTS["synthetic"]).experiment_id
    tags = dict(model="saelstm", protocol="whole-set", split="trial", data_kind="synthetic", leaky="false",
                data_fingerprint=fs.fingerprint, audit="none", role="parent", variant="full")  # fmt: skip
    tags = {f"bench.{k}": v for k, v in tags.items()}
    failed = cl.create_run(exp, tags=tags).info.run_id
    cl.set_terminated(failed, status="FAILED")
    # the same files without the synthetic marker are 'deap' data: a separate experiment
    real = root / "real"
    shutil.copytree(folder, real, ignore=shutil.ignore_patterns("SYNTHETIC.json"))
    fs_real = prepare_features(open_deap(real), cache_dir=root / "cache")
    assert fs_real.kind == "deap"
    res["deap_prior"] = _run(fs_real, uri, "prior", "whole-set")
    return {"uri": uri, "root": root, "folder": folder, "res": res, "fs": fs, "failed": failed}


@pytest.fixture(scope="module")
def store(store_env):
    return R.load_store(store_env["uri"])


def _unit_metric(uri, parent_id, name):
    cl = client(uri)
    exp = cl.get_experiment_by_name(EXPERIMENTS["synthetic"]).experiment_id
    runs = cl.search_runs([exp], filter_string=f"tags.mlflow.parentRunId = '{parent_id}'")
    return {r.data.tags["bench.unit"]: r.data.metrics[name] for r in runs if name in r.data.metrics}


def _par(store, run_id):
    return store.runs.set_index("run_id", drop=False).loc[run_id]


def _comparison(store, **kw):
    [tab] = R.build("comparison", store, **kw)
    return tab


def test_store_selection_and_identity_tags(store, store_env):
    res = store_env["res"]
    assert store.data_kind == "synthetic"  # default: synthetic when it has runs
    assert store.fingerprint == store_env["fs"].fingerprint
    ids = set(store.parents["run_id"])
    assert res["majority"].parent_run_id in ids
    assert res["old_majority"].parent_run_id not in ids  # superseded by the newer run of the same cell
    assert store_env["failed"] not in set(store.runs["run_id"])
    assert res["deap_prior"].parent_run_id not in set(store.runs["run_id"])  # deap never mixes in
    variants = dict(zip(store.parents["run_id"], store.parents["variant"], strict=True))
    assert variants[res["majority_nolr"].parent_run_id] == "no-lr-decay"
    assert variants[res["tuned"].parent_run_id] == "loss-weights=0.5,1.5"
    # a label threshold of 7 is another recipe: its own variant, never the default's cell
    t7 = variants[res["majority_t7"].parent_run_id]
    assert t7.startswith("cfg-") and len(t7) == 10
    settings = _par(store, res["majority_t7"].parent_run_id)["settings"]
    assert settings == {"n_folds": 2, "threshold": 7.0, "train.max_epochs": 1}
    deap = R.load_store(store_env["uri"], data="deap")
    assert list(deap.parents["run_id"]) == [res["deap_prior"].parent_run_id]


def test_comparison_values_and_order(store, store_env):
    uri, res = store_env["uri"], store_env["res"]
    tab = _comparison(store)
    assert list(tab.frame["model"]) == [m.name for m in list_models()]  # "constant" included
    d = tab.data
    row = d[(d.model == "mtcnn") & (d.protocol == "whole-set") & (d.split == "trial") & (d.task == "valence")]
    accs = np.array(list(_unit_metric(uri, res["mtcnn"].parent_run_id, "test_acc_valence").values()))
    assert len(accs) == 2
    assert row["mean"].iloc[0] == pytest.approx(accs.mean())
    assert row["std"].iloc[0] == pytest.approx(accs.std(ddof=1))
    assert row["n"].iloc[0] == 2 and row["over"].iloc[0] == "folds"
    # pooled k-fold CI: corrected resampled variance (1/k + n_test/n_train), not s^2/k
    n_test = _unit_metric(uri, res["mtcnn"].parent_run_id, "n_test")
    n_train = _unit_metric(uri, res["mtcnn"].parent_run_id, "n_train")
    ratio = np.mean([n_test[k] / n_train[k] for k in n_test])
    half = st.t.ppf(0.975, 1) * accs.std(ddof=1) * math.sqrt(1 / 2 + ratio)
    summary = cell(store, _par(store, res["mtcnn"].parent_run_id), "valence").summary
    assert (summary.ci_low, summary.ci_high) == pytest.approx((accs.mean() - half, accs.mean() + half))
    assert summary.corrected
    # ... but with n=2 folds (t quantile 12.7) the table shows no CI at all
    assert math.isnan(row["ci_high"].iloc[0]) and math.isnan(row["ci_low"].iloc[0])
    assert row["ci"].iloc[0] == "none (n<3)"
    assert (
        tab.frame.loc[tab.frame.model == "mtcnn", "whole-set/trial valence"]
        .iloc[0]
        .startswith(f"{100 * accs.mean():.1f} ± {100 * accs.std(ddof=1):.1f} n=2")
    )
    # per-subject protocol: average per subject (over its folds), then across subjects; plain t CI
    ss = d[(d.model == "majority") & (d.protocol == "subject-specific") & (d.task == "arousal")].iloc[0]
    units = _unit_metric(uri, res["majority_ss"].parent_run_id, "test_acc_arousal")
    per_subject = pd.Series(units).groupby(lambda k: k.split("-")[0]).mean()
    assert ss["n"] == 4 and ss["over"] == "subjects" and ss["ci"] == "t"
    ss_half = st.t.ppf(0.975, 3) * per_subject.std(ddof=1) / 2  # sqrt(4 subjects)
    assert ss["ci_low"] == pytest.approx(max(0.0, per_subject.mean() - ss_half))
    assert ss["ci_high"] == pytest.approx(min(1.0, per_subject.mean() + ss_half))
    assert ss["mean"] == pytest.approx(per_subject.mean())
    # paired tests vs MT-CNN exist where both ran on the same folds; Holm never lowers a p-value
    maj = d[(d.model == "majority") & (d.protocol == "whole-set") & (d.split == "trial")]
    assert (maj["test"] == "t").all()
    assert (maj["p_vs_mtcnn_holm"] >= maj["p_vs_mtcnn"] - 1e-12).all()
    # the majority cell is the threshold-5 run, not the newer threshold-7 one
    assert set(maj["run_id"]) == {res["majority"].parent_run_id}
    t5 = _unit_metric(uri, res["majority"].parent_run_id, "test_acc_valence")
    assert maj[maj.task == "valence"]["mean"].iloc[0] == pytest.approx(np.mean(list(t5.values())))
    # reported is its own column, never a value of ours
    assert tab.frame.loc[tab.frame.model == "mtcnn", "reported valence"].iloc[0] == "96.28"
    assert row["reported"].iloc[0] == 96.28
    assert not (d["split"] == "segment").any()  # leaky runs are not in the comparison


def test_not_run_cells_and_commands(store, store_env):
    tab = _comparison(store)
    fr = tab.frame.set_index("model")
    assert fr.loc["4dcrnn", "whole-set/trial valence"] == NOT_RUN
    assert fr.loc["saelstm", "whole-set/trial valence"] == NOT_RUN  # only a FAILED run exists
    cmd = next(c for c in tab.commands if "--model 4dcrnn --protocol whole-set " in c)
    assert cmd.startswith("bench run --model 4dcrnn --protocol whole-set --split trial --folds 2 --epochs 1")
    # the runs read a synthetic folder, not the embedded twin: the command names that folder
    assert f"--deap {store_env['folder']}" in cmd and f"--tracking-uri {store_env['uri']}" in cmd
    md = R.to_markdown([tab])
    assert "not run" in md and cmd in md
    missing = tab.data[tab.data["status"] == NOT_RUN]
    assert len(missing) > 0 and missing["mean"].isna().all() and (missing["n"] == 0).all()  # never zeros
    assert set(fr.loc["4dcrnn"].drop(["reported valence", "reported arousal"])) == {NOT_RUN}


def test_chance_marks_and_design_that_cannot_reach_significance(store):
    tab = _comparison(store)
    d = tab.data
    mt = d[(d.model == "mtcnn") & (d.protocol == "whole-set")]
    assert set(mt["chance_model"]) <= {"majority", "prior"} and (mt["chance_model"] != "").all()
    assert mt["above_chance"].isin([True, False]).all()
    assert d[d.model == "majority"]["above_chance"].isna().all()  # the chance reference itself
    # 4 subjects: the exact one-sided Wilcoxon cannot go below 1/16 = 0.0625 > 0.05 -> said so, not "°"
    ss = d[(d.model == "constant") & (d.protocol == "subject-specific")]
    assert len(ss) == 2 and np.allclose(ss["chance_min_p"], 0.0625)
    assert (ss["above_chance"] == "untestable").all()
    cell_text = tab.frame.set_index("model").loc["constant", "subject-specific/trial valence"]
    assert cell_text.endswith(UNTESTABLE) and "°" not in cell_text
    assert any(
        "smallest attainable p is 0.0625 > α=0.05 (exact Wilcoxon, n=4 subjects)" in n for n in tab.notes
    )


def test_chance_over_trials_without_baseline(store_env):
    """No trivial baseline in the table: the binomial level counts trials (32), not windows (3,840)."""
    only = R.load_store(store_env["uri"], where=["model=mtcnn"])
    d = _comparison(only).data
    r = d[(d.model == "mtcnn") & (d.protocol == "whole-set") & (d.task == "valence")].iloc[0]
    assert r["chance_model"] == "" and r["chance_unit"] == "trials" and r["chance_n"] == 32
    assert r["chance_binomial"] == pytest.approx(st.binom.ppf(0.95, 32, 0.5) / 32)  # 0.65625
    assert r["above_chance"] == (r["mean"] > r["chance_binomial"])
    notes = _comparison(only).notes
    assert any("binomial adjusted level 65.6 % over n=32 independent test trials" in n for n in notes)


def test_trial_level_metric(store, store_env):
    uri, res = store_env["uri"], store_env["res"]
    d = _comparison(store, metric="trial-acc").data
    r = d[(d.model == "mtcnn") & (d.protocol == "whole-set") & (d.task == "arousal")].iloc[0]
    units = _unit_metric(uri, res["mtcnn"].parent_run_id, "test_trial_acc_arousal")
    assert len(units) == 2 and r["mean"] == pytest.approx(np.mean(list(units.values())))
    assert r["metric"] == "trial-acc"
    n_trials = _unit_metric(uri, res["mtcnn"].parent_run_id, "n_test_trials")
    assert sum(n_trials.values()) == 32  # 4 subjects x 8 trials, each tested once


def test_paired_tests_on_real_runs(store, store_env):
    from scipy.stats import wilcoxon

    res = store_env["res"]
    a, b = _par(store, res["majority_ss"].parent_run_id), _par(store, res["prior_ss"].parent_run_id)
    t = paired_test(store, a, b, "valence")
    assert t["test"] == "W" and t["n"] == 4  # per-subject protocol: Wilcoxon over the 4 subjects
    assert t["min_p"] == pytest.approx(2 / 16)
    ua = store.units[(store.units.parent_id == a["run_id"]) & (store.units.task == "valence")]
    ub = store.units[(store.units.parent_id == b["run_id"]) & (store.units.task == "valence")]
    sa, sb = ua.groupby("subject")["acc"].mean(), ub.groupby("subject")["acc"].mean()
    expected = 1.0 if np.allclose(sa, sb) else wilcoxon(sa, sb).pvalue
    assert t["p"] == pytest.approx(expected)
    m, j = _par(store, res["mtcnn"].parent_run_id), _par(store, res["majority"].parent_run_id)
    assert m["folds_fp"] == j["folds_fp"]  # same trials with the same labels in the same folds
    t = paired_test(store, m, j, "arousal")
    um = store.units[(store.units.parent_id == m["run_id"]) & (store.units.task == "arousal")].sort_values(
        "base"
    )
    uj = store.units[(store.units.parent_id == j["run_id"]) & (store.units.task == "arousal")].sort_values(
        "base"
    )
    d = um["acc"].to_numpy() - uj["acc"].to_numpy()
    ratio = (um["n_test"].to_numpy() + uj["n_test"].to_numpy()) / (
        um["n_train"].to_numpy() + uj["n_train"].to_numpy()
    )
    tt = d.mean() / np.sqrt((1 / 2 + ratio.mean()) * d.var(ddof=1))
    assert t["test"] == "t" and t["n"] == 2
    assert t["p"] == pytest.approx(2 * st.t.sf(abs(tt), 1))


def test_pairing_refused_across_other_folds(store, store_env):
    res = store_env["res"]
    t7, t5 = _par(store, res["majority_t7"].parent_run_id), _par(store, res["prior"].parent_run_id)
    assert t7["folds_fp"] != t5["folds_fp"]  # other labels: other stratified folds
    t = paired_test(store, t7, t5, "valence")
    assert math.isnan(t["p"]) and t["why"] == OTHER_FOLDS
    [tab] = R.build("ablation", store, model="majority")
    fr = tab.frame.set_index(["variant", "task"])
    variant = _par(store, res["majority_t7"].parent_run_id)["variant"]
    assert fr.loc[(variant, "valence"), "p vs full"] == OTHER_FOLDS


def test_protocols_and_leakage(store):
    a, b = R.build("protocols", store)
    paper = a.frame[a.frame.model.str.contains("paper")].set_index("task")
    assert (
        paper.loc["arousal", "subject-specific"] == "94.21" and paper.loc["valence", "whole-set"] == "88.92"
    )
    assert paper.loc["arousal", "Δ whole−subject"] == "−4.06"
    assert paper.loc["valence", "Δ whole−subject"] == "−5.01"
    # the subject count comes from the runs (4 synthetic subjects), the paper's 64 models only from the paper
    assert a.title.startswith(
        "Protocols side by side (subject-specific: a model per subject, 4 subjects; whole-set: all subjects "
        "pooled), split trial | "
    )
    assert "64" not in a.title
    assert (
        "paper row: the seed paper's 4D-CRNN reproduction (DEAP, 32 subjects x 2 tasks = 64 subject-specific "
        "models vs 2 whole-set models, segment-level folds), not ours." in a.notes
    )
    # every registered protocol with a trial split is a column; cross-subject has none
    assert {"subject-specific", "whole-set", "whole-set-finetune"} <= set(a.frame.columns)
    assert "cross-subject" not in a.frame.columns
    maj = b.data[(b.data.model == "majority") & (b.data.protocol == "whole-set") & (b.data.task == "valence")]
    trial = maj[maj.split == "trial"]["mean"].iloc[0]
    seg = maj[maj.split == "segment"]["mean"].iloc[0]
    assert maj["diff_segment_minus_trial"].iloc[0] == pytest.approx(seg - trial)
    assert maj["ratio"].iloc[0] == pytest.approx(seg / trial)
    [leak] = R.build("leakage", store)
    lf = leak.frame
    row = lf[(lf.model == "majority") & (lf.protocol == "whole-set") & (lf.task == "arousal")].iloc[0]
    assert NOT_RUN not in row.to_list()
    ld = leak.data[(leak.data.model == "majority") & (leak.data.protocol == "whole-set")]
    assert set(zip(ld.split, ld.audit, strict=True)) == {
        ("trial", "none"),
        ("segment", "none"),
        ("segment", "select-on-test"),
    }
    assert any(
        "--model mtcnn --protocol whole-set --split segment --audit select-on-test" in c
        for c in leak.commands
    )


def test_leaderboard_excludes_leaky_and_tuned(store, store_env):
    res = store_env["res"]
    boards = R.build("leaderboard", store)
    ids = set(pd.concat([t.data for t in boards])["run_id"])
    assert res["majority_seg"].parent_run_id not in ids
    assert res["majority_audit"].parent_run_id not in ids
    assert res["mtcnn"].parent_run_id in ids and res["majority_nolr"].parent_run_id in ids
    assert res["tuned"].parent_run_id not in ids  # tuned weights: only with --include-tuned
    ws = next(t for t in boards if "whole-set | split trial" in t.title)
    assert any("1 run(s) with tuned loss weights not ranked" in n for n in ws.notes)
    means = ws.data["mean"].to_list()
    assert means == sorted(means, reverse=True)
    assert list(ws.frame["rank"]) == [str(i) for i in range(1, len(ws.frame) + 1)]
    assert {"folds", "subjects", "code"} <= set(ws.frame.columns)  # the data set is in the title
    assert ws.title.endswith(f"| synthetic, 4 subjects x 8 trials, {store_env['fs'].fingerprint[:8]}")
    withtuned = R.build("leaderboard", store, include_tuned=True)
    ws = next(t for t in withtuned if "whole-set | split trial" in t.title)
    row = ws.frame[ws.frame.variant == "loss-weights=0.5,1.5"].iloc[0]
    assert row["model"].endswith(TUNED) and any(n.startswith(TUNED) for n in ws.notes)


def test_ablation_table(store):
    [tab] = R.build("ablation", store, model="majority")
    assert list(dict.fromkeys(tab.frame["variant"]))[: len(VARIANTS)] == list(VARIANTS)
    fr = tab.frame.set_index(["variant", "task"])
    assert fr.loc[("no-lr-decay", "valence"), "Δ vs full"] == "±0.0"  # the majority class ignores LR decay
    assert fr.loc[("no-lr-decay", "valence"), "p vs full"] == "p=1.000 (t)"
    assert fr.loc[("no-dropout", "arousal"), "accuracy"] == NOT_RUN
    assert any("--model majority --protocol whole-set --split trial --no-dropout" in c for c in tab.commands)
    [mt] = R.build("ablation", store)  # mtcnn: paper values beside
    assert mt.frame.set_index(["variant", "task"]).loc[("no-batch-norm", "arousal"), "paper"] == "94.60"
    assert mt.frame.set_index(["variant", "task"]).loc[("only-de", "valence"), "paper Δ"] == "−3.98"


@pytest.fixture(scope="module")
def smoke_env(store_env):
    """A store where a quick smoke run (1 epoch) follows the full runs (3 epochs) of the same cells."""
    root, fs = store_env["root"], store_env["fs"]
    uri = f"sqlite:///{root}/smoke.db"
    res = {
        "full": _run(fs, uri, "majority", "whole-set", max_epochs=3),
        "prior": _run(fs, uri, "prior", "whole-set", max_epochs=3),
        "maj_ss": _run(fs, uri, "majority", "subject-specific", max_epochs=3),
        "prior_ss": _run(fs, uri, "prior", "subject-specific", max_epochs=3),
    }
    time.sleep(0.01)
    res["smoke"] = _run(fs, uri, "majority", "whole-set", max_epochs=1)
    return {"uri": uri, "res": res}


def test_smoke_run_after_full_run_is_flagged(smoke_env, capsys):
    uri, res = smoke_env["uri"], smoke_env["res"]
    store = R.load_store(uri)
    tab = _comparison(store)
    shown = tab.data[(tab.data.model == "majority") & (tab.data.protocol == "whole-set")]
    assert set(shown["run_id"]) == {res["smoke"].parent_run_id}  # the newest run is shown ...
    text = tab.frame.set_index("model").loc["majority", "whole-set/trial valence"]
    assert text.endswith(DIFFERS)  # ... flagged
    notes = " ".join(tab.notes)
    assert "majority whole-set/trial: train.max_epochs=1; the other cells: train.max_epochs=3." in notes
    assert "also finished: train.max_epochs=3 (run " + res["full"].parent_run_id[:8] in notes
    assert text.count(DIFFERS) == 1
    # --where picks the full run; nothing is flagged any more
    full = R.load_store(uri, where=["train.max_epochs=3"])
    tab = _comparison(full)
    shown = tab.data[(tab.data.model == "majority") & (tab.data.protocol == "whole-set")]
    assert set(shown["run_id"]) == {res["full"].parent_run_id}
    assert not any(DIFFERS in str(v) for v in tab.frame.to_numpy().ravel())
    # bench runs lists both, with the shown one starred
    capsys.readouterr()
    assert main(["runs", "--tracking-uri", uri, "--model", "majority"]) == 0
    out = capsys.readouterr().out
    assert res["smoke"].parent_run_id[:8] in out and res["full"].parent_run_id[:8] in out
    assert "prior" not in out.split("\n", 2)[2].split("shown *")[0]


def test_where_errors(smoke_env, capsys):
    assert main(["table", "comparison", "--tracking-uri", smoke_env["uri"], "--where", "bogus.key=1"]) == 2
    assert "--where bogus.key: no run has this setting" in capsys.readouterr().err
    assert main(["table", "comparison", "--tracking-uri", smoke_env["uri"], "--where", "seed=9"]) == 2
    assert "no finished synthetic run" in capsys.readouterr().err
    assert main(["table", "comparison", "--tracking-uri", smoke_env["uri"], "--where", "seed"]) == 2
    assert "expected key=value" in capsys.readouterr().err


def test_registered_table_and_protocol_appear(store_env, capsys, tmp_path):
    from protocols import Protocol, registry

    @R.register_table("dummy", help="A dummy table registered by a test.")
    def dummy(store, metric="acc"):
        frame = pd.DataFrame([{"model": "x", "value": str(len(store.parents))}])
        return [R.Table("dummy", "Dummy", frame, frame)]

    registry.register_protocol(
        Protocol("toy-pooled", "pooled", ("trial", "segment"), "trial", "a test protocol")
    )
    try:
        assert main(["table", "--help"]) == 0
        assert "dummy" in capsys.readouterr().out
        assert main(["table", "dummy", "--tracking-uri", store_env["uri"]]) == 0
        assert "Dummy" in capsys.readouterr().out
        uri = f"sqlite:///{tmp_path}/toy.db"
        fs = store_env["fs"]
        _run(fs, uri, "majority", "toy-pooled")
        _run(fs, uri, "majority", "toy-pooled", split="segment")
        store = R.load_store(uri)
        a, b = R.build("protocols", store)
        assert "toy-pooled" in a.frame.columns
        assert "toy-pooled" in set(b.frame["protocol"])
        [leak] = R.build("leakage", store)
        assert "toy-pooled" in set(leak.frame["protocol"])
    finally:
        R.unregister_table("dummy")
        registry.unregister_protocol("toy-pooled")


@pytest.mark.slow  # several processes: 6-10 s quiet, far more on a loaded box
def test_cli_formats_deterministic(store_env, tmp_path, capsys):
    uri = store_env["uri"]
    for name in ("comparison", "protocols"):
        for fmt in ("md", "latex", "csv", "html"):
            outs = [tmp_path / f"{name}1.{fmt}", tmp_path / f"{name}2.{fmt}"]
            plots = [tmp_path / f"{name}1.svg", tmp_path / f"{name}2.svg"] if fmt == "md" else [None, None]
            for out, pl in zip(outs, plots, strict=True):
                args = ["table", name, "--tracking-uri", uri, "--format", fmt, "--output", str(out)]
                assert main(args + (["--plot", str(pl)] if pl else [])) == 0
            assert outs[0].read_bytes() == outs[1].read_bytes() and outs[0].stat().st_size > 100
            if plots[0]:
                assert plots[0].read_bytes() == plots[1].read_bytes()
    for pl in ("c1.png", "c2.png"):
        assert main(["table", "comparison", "--tracking-uri", uri, "--plot", str(tmp_path / pl)]) == 0
    assert (tmp_path / "c1.png").read_bytes() == (tmp_path / "c2.png").read_bytes()
    for name in ("leakage", "ablation", "leaderboard"):
        out = tmp_path / f"{name}.md"
        assert main(["table", name, "--tracking-uri", uri, "-f", "md", "-o", str(out)]) == 0
        assert "| synthetic, 4 subjects x 8 trials, " in out.read_text()
    capsys.readouterr()
    assert main(["table", "leaderboard", "--tracking-uri", uri, "--data", "deap"]) == 0
    out = capsys.readouterr().out
    assert "DEAP, 4 subjects x 8 trials, " in out and "prior" in out and "mtcnn" not in out
    # --format alone: the text on stdout, nothing else
    assert main(["table", "comparison", "--tracking-uri", uri, "--format", "md"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("### Model comparison") and "| model |" in out
    assert main(["table", "comparison", "--tracking-uri", uri, "--metric", "trial-acc", "-f", "csv"]) == 0
    assert set(pd.read_csv(__import__("io").StringIO(capsys.readouterr().out))["metric"]) == {"trial-acc"}


def test_cli_output_dash_writes_to_stdout(store_env, tmp_path, monkeypatch):
    """``--output -`` is stdout (the usual Unix meaning), not a file named '-'."""
    from typer.testing import CliRunner

    from bench.cli import build_app

    monkeypatch.chdir(tmp_path)
    uri = store_env["uri"]
    built = R.build("comparison", R.load_store(uri))
    for fmt in ("md", "csv", "latex"):
        args = ["table", "comparison", "--tracking-uri", uri, "--format", fmt, "--output", "-"]
        result = CliRunner().invoke(build_app(), args)
        assert result.exit_code == 0, result.output
        assert result.stdout == R.render(built, fmt)
    assert not (tmp_path / "-").exists() and not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["table", "nope"], "unknown table 'nope'"),
        (["table", "comparison", "--format", "xls", "--output", "x.xls"], "--format='xls' is not allowed"),
        (["table", "comparison", "--output", "x.md"], "--output needs --format"),
        (["table", "comparison", "--data", "mars"], "--data='mars' is not allowed; allowed: synthetic, deap"),
        (["table", "comparison", "--metric", "kappa"], "--metric='kappa' is not allowed"),
        (["table", "leakage", "--plot", "x.png"], "--plot is available for the comparison, protocols tables"),
    ],
)
def test_cli_errors(store_env, capsys, args, message):
    rc = main(args if args[1] == "nope" else [*args, "--tracking-uri", store_env["uri"]])
    err = capsys.readouterr().err
    assert rc == 2
    assert message in err and err.strip().count("\n") == 0


def test_cli_empty_store(tmp_path, capsys):
    assert main(["table", "comparison", "--tracking-uri", f"sqlite:///{tmp_path}/none.db"]) == 2
    err = capsys.readouterr().err
    assert "no MLflow store" in err and err.strip().count("\n") == 0


def _all_parents(uri):
    cl = client(uri)
    exp = cl.get_experiment_by_name(EXPERIMENTS["synthetic"]).experiment_id
    return {r.info.run_id for r in cl.search_runs([exp], filter_string="tags.`bench.role` = 'parent'")}


def test_ablate_reuses_finished_runs(store_env, capsys):
    uri, folder = store_env["uri"], str(store_env["folder"])
    before = _all_parents(uri)
    args = ["ablate", "--model", "majority", "--split", "trial", "--variants", "full,no-lr-decay,no-dropout",
            "--folds", "2", "--epochs", "1", "--deap", folder, "--tracking-uri", uri]  # fmt: skip
    assert main(args) == 0
    cap = capsys.readouterr()
    # a trivial baseline has no dropout, and no LR decay to switch off: nothing but 'full' means anything
    assert "skipped majority|whole-set|trial|no-dropout" in cap.err
    assert "skipped majority|whole-set|trial|no-lr-decay" in cap.err
    assert "units already finished in MLflow are reused" in cap.err
    assert "Ablation of majority" in cap.out
    assert _all_parents(uri) == before  # full and no-lr-decay were found again, nothing new ran
