"""Tables from a real MLflow store filled by small real runs (2 subjects x 8 trials, 2 folds, 1 epoch)."""

from __future__ import annotations

import shutil
import time

import numpy as np
import pandas as pd
import pytest

from bench import tables as T
from bench.cli import main
from bench.config import RunConfig, TrainConfig
from bench.data.cache import prepare_features
from bench.data.source import open_deap
from bench.data.synthetic import SyntheticConfig, write_synthetic_deap
from bench.registry import list_models
from bench.runner import prepare, run_experiment
from bench.tracking import EXPERIMENTS, client


def _run(fs, uri, model, protocol, split="trial", audit=(), force=False, **train):
    cfg = RunConfig(
        model=model,
        protocol=protocol,
        split=split,
        n_folds=2,
        audit=audit,
        train=TrainConfig(max_epochs=1, **train),
        num_threads=2,
    )
    return run_experiment(cfg, tracking_uri=uri, prepared=prepare(cfg, features=fs), force=force)


@pytest.fixture(scope="module")
def store_env(tmp_path_factory):
    """One store for every table test: synthetic runs plus one 'deap'-kind run (a copy without the marker)."""
    root = tmp_path_factory.mktemp("tables")
    uri = f"sqlite:///{root}/mlflow.db"
    folder = root / "synth"
    write_synthetic_deap(folder, SyntheticConfig(n_subjects=2, n_trials=8, seed=0))
    fs = prepare_features(open_deap(folder), cache_dir=root / "cache")
    res = {}
    res["old_majority"] = _run(fs, uri, "majority", "whole-set")
    time.sleep(0.01)
    res["majority"] = _run(fs, uri, "majority", "whole-set", force=True)  # newer parent: the one shown
    res["prior"] = _run(fs, uri, "prior", "whole-set")
    res["mtcnn"] = _run(fs, uri, "mtcnn", "whole-set")
    res["majority_ss"] = _run(fs, uri, "majority", "subject-specific")
    res["prior_ss"] = _run(fs, uri, "prior", "subject-specific")
    res["majority_seg"] = _run(fs, uri, "majority", "whole-set", split="segment")
    res["majority_audit"] = _run(fs, uri, "majority", "whole-set", split="segment", audit=("select-on-test",))
    res["majority_nolr"] = _run(fs, uri, "majority", "whole-set", lr_decay=False)
    # a FAILED parent must never count
    cl = client(uri)
    exp = cl.get_experiment_by_name(EXPERIMENTS["synthetic"]).experiment_id
    tags = {
        f"bench.{k}": v
        for k, v in dict(
            model="saelstm",
            protocol="whole-set",
            split="trial",
            data_kind="synthetic",
            data_fingerprint=fs.fingerprint,
            leaky="false",
            audit="none",
            role="parent",
        ).items()
    }
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
    return T.load_store(store_env["uri"])


def _unit_metric(uri, parent_id, name):
    cl = client(uri)
    exp = cl.get_experiment_by_name(EXPERIMENTS["synthetic"]).experiment_id
    runs = cl.search_runs([exp], filter_string=f"tags.mlflow.parentRunId = '{parent_id}'")
    return {r.data.tags["bench.unit"]: r.data.metrics[name] for r in runs if name in r.data.metrics}


def test_store_selection(store, store_env):
    res = store_env["res"]
    assert store.data_kind == "synthetic"  # default: synthetic when it has runs
    assert store.fingerprint == store_env["fs"].fingerprint
    ids = set(store.parents["run_id"])
    assert res["majority"].parent_run_id in ids
    assert res["old_majority"].parent_run_id not in ids  # superseded by the newer finished parent
    assert store_env["failed"] not in ids
    assert res["deap_prior"].parent_run_id not in ids  # deap never mixes with synthetic
    assert set(store.parents["variant"]) == {"full", "no-lr-decay"}
    deap = T.load_store(store_env["uri"], data="deap")
    assert list(deap.parents["run_id"]) == [res["deap_prior"].parent_run_id]


def test_variant_of_params():
    assert T.variant_of({"features": "null", "train.dropout": "null"}) == "full"
    assert T.variant_of({"features": '["de"]'}, "mtcnn") == "only-de"
    assert T.variant_of({"features": '["de", "psd"]'}, "mtcnn") == "full"
    assert T.variant_of({"single_task": "true", "train.dropout": "0.0"}) == "single-task+no-dropout"
    assert T.variant_of(
        {"train.batch_norm": "false", "train.lr_decay": "false", "train.balance": "false"}
    ) == ("no-lr-decay+no-batch-norm+no-balance")
    assert T.variant_of({"train.loss_weights": "[1.0, 1.0]"}) == "full"
    assert T.variant_of({"train.loss_weights": "[0.5, 1.5]"}) == "loss-weights=0.5,1.5"


def test_comparison_values_and_order(store, store_env):
    uri, res = store_env["uri"], store_env["res"]
    tab = T.comparison_table(store)
    assert list(tab.frame["model"]) == [m.name for m in list_models()]
    d = tab.data
    row = d[(d.model == "mtcnn") & (d.protocol == "whole-set") & (d.split == "trial") & (d.task == "valence")]
    accs = _unit_metric(uri, res["mtcnn"].parent_run_id, "test_acc_valence")
    assert len(accs) == 2
    assert row["mean"].iloc[0] == pytest.approx(np.mean(list(accs.values())))
    assert row["std"].iloc[0] == pytest.approx(np.std(list(accs.values()), ddof=1))
    assert row["n"].iloc[0] == 2 and row["over"].iloc[0] == "folds"
    # per-subject protocol: average per subject (over its folds), then across subjects
    ss = d[(d.model == "majority") & (d.protocol == "subject-specific") & (d.task == "arousal")].iloc[0]
    units = _unit_metric(uri, res["majority_ss"].parent_run_id, "test_acc_arousal")
    per_subject = pd.Series(units).groupby(lambda k: k.split("-")[0]).mean()
    assert ss["n"] == 2 and ss["over"] == "subjects"
    assert ss["mean"] == pytest.approx(per_subject.mean())
    # paired tests vs MT-CNN exist where both ran on the same folds; Holm never lowers a p-value
    maj = d[(d.model == "majority") & (d.protocol == "whole-set") & (d.split == "trial")]
    assert (maj["test"] == "t").all()
    assert (maj["p_vs_mtcnn_holm"] >= maj["p_vs_mtcnn"] - 1e-12).all()
    # reported is its own column, never a value of ours
    assert tab.frame.loc[tab.frame.model == "mtcnn", "reported valence"].iloc[0] == "96.28"
    assert row["reported"].iloc[0] == 96.28
    # leaky runs are not in the comparison
    assert not (d["split"] == "segment").any()


def test_not_run_cells_and_commands(store, store_env):
    tab = T.comparison_table(store)
    fr = tab.frame.set_index("model")
    assert fr.loc["4dcrnn", "whole-set/trial valence"] == T.NOT_RUN
    assert fr.loc["saelstm", "whole-set/trial valence"] == T.NOT_RUN  # only a FAILED run exists
    cmd = next(c for c in tab.commands if "--model 4dcrnn --protocol whole-set " in c)
    assert cmd.startswith("bench run --model 4dcrnn --protocol whole-set --split trial --folds 2 --epochs 1")
    assert "--synthetic" in cmd and f"--tracking-uri {store_env['uri']}" in cmd
    md = T.to_markdown([tab])
    assert "not run" in md and cmd in md
    missing = tab.data[tab.data["status"] == T.NOT_RUN]
    assert len(missing) > 0 and missing["mean"].isna().all() and (missing["n"] == 0).all()  # never zeros
    assert set(fr.loc["4dcrnn"].drop(["reported valence", "reported arousal"])) == {T.NOT_RUN}


def test_chance_marks(store):
    d = T.comparison_table(store).data
    mt = d[(d.model == "mtcnn") & (d.protocol == "whole-set")]
    assert set(mt["chance_model"]) <= {"majority", "prior"} and (mt["chance_model"] != "").all()
    assert mt["above_chance"].isin([True, False]).all()
    assert d[d.model == "majority"]["above_chance"].isna().all()  # the chance reference itself


def test_paired_tests_on_real_runs(store, store_env):
    from scipy.stats import wilcoxon

    res = store_env["res"]
    par = store.parents.set_index("run_id")
    a = par.loc[res["majority_ss"].parent_run_id].copy()
    b = par.loc[res["prior_ss"].parent_run_id].copy()
    a["run_id"], b["run_id"] = a.name, b.name
    t = T.paired_test(store, a, b, "valence")
    assert t["test"] == "W" and t["n"] == 2  # per-subject protocol: Wilcoxon over the 2 subjects
    ca = store.units[(store.units.parent_id == a.name) & (store.units.task == "valence")]
    cb = store.units[(store.units.parent_id == b.name) & (store.units.task == "valence")]
    sa, sb = ca.groupby("subject")["acc"].mean(), cb.groupby("subject")["acc"].mean()
    expected = 1.0 if np.allclose(sa, sb) else wilcoxon(sa, sb).pvalue
    assert t["p"] == pytest.approx(expected)
    m = par.loc[res["mtcnn"].parent_run_id].copy()
    j = par.loc[res["majority"].parent_run_id].copy()
    m["run_id"], j["run_id"] = m.name, j.name
    t = T.paired_test(store, m, j, "arousal")
    um = store.units[(store.units.parent_id == m.name) & (store.units.task == "arousal")].sort_values("base")
    uj = store.units[(store.units.parent_id == j.name) & (store.units.task == "arousal")].sort_values("base")
    d = um["acc"].to_numpy() - uj["acc"].to_numpy()
    ratio = (um["n_test"].to_numpy() + uj["n_test"].to_numpy()) / (
        um["n_train"].to_numpy() + uj["n_train"].to_numpy()
    )
    tt = d.mean() / np.sqrt((1 / 2 + ratio.mean()) * d.var(ddof=1))
    from scipy.stats import t as tdist

    assert t["test"] == "t" and t["n"] == 2
    assert t["p"] == pytest.approx(2 * tdist.sf(abs(tt), 1))


def test_protocols_and_leakage(store):
    a, b = T.protocols_tables(store)
    paper = a.frame[a.frame.model.str.contains("paper")].set_index("task")
    assert (
        paper.loc["arousal", "subject-specific"] == "94.21" and paper.loc["valence", "whole-set"] == "88.92"
    )
    assert paper.loc["arousal", "Δ whole−subject"] == "−4.06"
    assert paper.loc["valence", "Δ whole−subject"] == "−5.01"
    maj = b.data[(b.data.model == "majority") & (b.data.protocol == "whole-set") & (b.data.task == "valence")]
    trial = maj[maj.split == "trial"]["mean"].iloc[0]
    seg = maj[maj.split == "segment"]["mean"].iloc[0]
    assert maj["diff_segment_minus_trial"].iloc[0] == pytest.approx(seg - trial)
    assert maj["ratio"].iloc[0] == pytest.approx(seg / trial)
    leak = T.leakage_table(store)
    lf = leak.frame
    row = lf[(lf.model == "majority") & (lf.protocol == "whole-set") & (lf.task == "arousal")].iloc[0]
    assert T.NOT_RUN not in row.to_list()
    ld = leak.data[(leak.data.model == "majority") & (leak.data.protocol == "whole-set")]
    assert set(zip(ld.split, ld.audit, strict=True)) == {
        ("trial", "none"),
        ("segment", "none"),
        ("segment", "select-on-test"),
    }
    # mtcnn has only a trial run: its leaky cells are "not run" with the command that fills them
    assert any(
        "--model mtcnn --protocol whole-set --split segment --audit select-on-test" in c
        for c in leak.commands
    )


def test_leaderboard_excludes_leaky(store, store_env):
    boards = T.leaderboard_tables(store)
    ids = set(pd.concat([t.data for t in boards])["run_id"])
    res = store_env["res"]
    assert res["majority_seg"].parent_run_id not in ids
    assert res["majority_audit"].parent_run_id not in ids
    assert res["mtcnn"].parent_run_id in ids and res["majority_nolr"].parent_run_id in ids
    ws = next(t for t in boards if "whole-set | split trial" in t.title)
    means = ws.data["mean"].to_list()
    assert means == sorted(means, reverse=True)
    assert list(ws.frame["rank"]) == [str(i) for i in range(1, len(ws.frame) + 1)]
    assert {"folds", "data", "code"} <= set(ws.frame.columns)
    assert "SYNTHETIC" in ws.title


def test_ablation_table(store):
    tab = T.ablation_table(store, model="majority")
    assert list(dict.fromkeys(tab.frame["variant"]))[: len(T.VARIANTS)] == list(T.VARIANTS)
    fr = tab.frame.set_index(["variant", "task"])
    assert fr.loc[("no-lr-decay", "valence"), "Δ vs full"] == "±0.0"  # the majority class ignores LR decay
    assert fr.loc[("no-lr-decay", "valence"), "p vs full"] == "p=1.000 (t)"
    assert fr.loc[("no-dropout", "arousal"), "accuracy"] == T.NOT_RUN
    assert any("--model majority --protocol whole-set --split trial --no-dropout" in c for c in tab.commands)
    mt = T.ablation_table(store)  # mtcnn: paper values beside
    assert mt.frame.set_index(["variant", "task"]).loc[("no-batch-norm", "arousal"), "paper"] == "94.60"
    assert mt.frame.set_index(["variant", "task"]).loc[("only-de", "valence"), "paper Δ"] == "−3.98"


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
        assert "SYNTHETIC data" in out.read_text()
    capsys.readouterr()
    assert main(["table", "leaderboard", "--tracking-uri", uri, "--data", "deap"]) == 0
    out = capsys.readouterr().out
    assert "DEAP data" in out and "prior" in out and "mtcnn" not in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["table", "nope"], "unknown table 'nope'"),
        (["table", "comparison", "--format", "xls", "--output", "x.xls"], "--format 'xls' is not known"),
        (["table", "comparison", "--data", "mars"], "--data 'mars' is not known"),
        (["table", "leakage", "--plot", "x.png"], "--plot is available for the comparison and protocols"),
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
    assert "no-dropout: skipped" in cap.err  # the majority baseline has no dropout
    assert cap.err.count("Resuming") == 2
    assert "Ablation of majority" in cap.out
    assert _all_parents(uri) == before  # full and no-lr-decay were found again, nothing new ran
