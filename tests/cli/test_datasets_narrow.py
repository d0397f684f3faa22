"""Which data set a table shows, the data set named in words, and every CLI table at 80 columns.

A hand-made MLflow store (no training: parents and units written with the client, with exact test
metrics) holds three data sets: the embedded synthetic default (shrunk to 2 subjects x 6 trials for the
test; its files are generated in a cache, so its fingerprint is the real one), a newer side data set
(1 subject, 3 runs) and an old DEAP run without size tags.
"""

from __future__ import annotations

import io
import json

import pytest
from rich.cells import cell_len
from rich.console import Console

from bench import results as R
from bench.cli import main
from bench.core.errors import ConfigError
from bench.core.metrics import TEST_METRICS
from bench.core.terminal import NAME, NUMBER, Col, FitTable, _pieces, _units, wrap_units, wrap_words
from bench.data.cache import prepare_features
from bench.data.fingerprints import source_fingerprint
from bench.data.source import open_deap, synthetic_source
from bench.data.synthetic import SyntheticConfig
from bench.results.datasets import DataSet, choose_dataset
from bench.tracking.store import TAG, client, experiment_id

SMALL = SyntheticConfig(n_subjects=2, n_trials=6, seed=0)
SIDE_FP = "1a2b3c4d5e6f7a8b"
DEAP_FP = "ffeeddccbbaa9988"
WIDTH = 80


def _parent(cl, kind, fp, model, protocol="whole-set", split="trial", *, start, units, audit="none",
            variant="full", sizes=(2, 6), history="valid"):  # fmt: skip
    """A FINISHED parent with FINISHED units; ``units``: (key, subject, fold, valence acc, arousal acc).
    ``history``: the prefix of the per-epoch validation metrics (``val`` in runs made before the rename)."""
    scale = {"n_folds": 2, "seed": 0, "subjects": None, "train.max_epochs": 1, "train.precision": "fp32"}
    tags = {
        "role": "parent", "model": model, "protocol": protocol, "split": split, "audit": audit,
        "variant": variant, "leaky": str(split == "segment" or audit != "none").lower(), "data_kind": kind,
        "data_fingerprint": fp, "scale": json.dumps(scale), "code_version": "abc1234",
        "settings": json.dumps({"n_folds": 2, "train.max_epochs": 1}), "folds_fingerprint": f"{fp}-{split}",
    }  # fmt: skip
    for key, n in zip(("n_subjects", "n_trials"), sizes, strict=True):
        if n:
            tags[key] = str(n)
    exp = experiment_id(cl, kind)
    pid = cl.create_run(exp, start_time=start, tags={TAG + k: v for k, v in tags.items()}).info.run_id
    from mlflow.entities import Metric

    for i, (key, subject, fold, acc_v, acc_a) in enumerate(units):
        utags = {"mlflow.parentRunId": pid, f"{TAG}role": "unit", f"{TAG}unit": key, f"{TAG}fold": str(fold),
                 f"{TAG}subject": str(subject or ""), f"{TAG}tasks": "valence,arousal"}  # fmt: skip
        uid = cl.create_run(exp, start_time=start + 1 + i, tags=utags).info.run_id
        values = {
            f"test_{m}_{t}": a for m in TEST_METRICS for t, a in (("valence", acc_v), ("arousal", acc_a))
        }
        values.update(n_train=40.0, n_test=10.0, n_test_trials=6.0, n_test_subjects=1.0, fit_seconds=1.0)
        metrics = [Metric(k, v, start, 0) for k, v in values.items()]
        metrics += [
            Metric(f"{history}_{k}", 0.5, start, step) for k in ("loss", "acc_valence") for step in (0, 1)
        ]
        cl.log_batch(uid, metrics=metrics)
        cl.set_terminated(uid, "FINISHED")
    cl.set_terminated(pid, "FINISHED")
    return pid


POOLED = [("fold1", None, 1, 0.60, 0.70), ("fold2", None, 2, 0.80, 0.50)]
PER_SUBJECT = [
    ("s01-fold1", 1, 1, 0.50, 0.60), ("s01-fold2", 1, 2, 0.70, 0.60),
    ("s02-fold1", 2, 1, 0.66, 0.55), ("s02-fold2", 2, 2, 0.62, 0.45),
]  # fmt: skip


@pytest.fixture(scope="module")
def crafted(tmp_path_factory):
    root = tmp_path_factory.mktemp("datasets")
    cache = root / "cache"
    main_fp = source_fingerprint(synthetic_source(SMALL, cache_dir=cache), cache_dir=cache)
    uri = f"sqlite:///{root}/mlflow.db"
    cl = client(uri)
    ids = {}
    t = 1_700_000_000_000
    two = [("fold1", None, 1), ("fold2", None, 2)]
    runs = [  # model, protocol, split, audit, variant, (valence, arousal) accuracy per unit
        ("mtcnn", "whole-set", "trial", "none", "full", [(0.60, 0.70), (0.80, 0.50)]),
        ("prior", "whole-set", "trial", "none", "full", [(0.45, 0.50), (0.55, 0.50)]),
        ("mtcnn", "subject-specific", "trial", "none", "full", [a[3:] for a in PER_SUBJECT]),
        ("majority", "subject-specific", "trial", "none", "full", [(0.5, 0.5)] * 4),
        ("mtcnn", "whole-set", "segment", "none", "full", [(0.91, 0.92), (0.95, 0.90)]),
        ("mtcnn", "whole-set", "segment", "select-on-test", "full", [(0.97, 0.96), (0.99, 0.98)]),
        ("mtcnn", "whole-set", "trial", "none", "no-dropout", [(0.58, 0.66), (0.62, 0.60)]),
    ]
    for i, (model, protocol, split, audit, variant, accs) in enumerate(runs):
        keys = [a[:3] for a in PER_SUBJECT] if protocol == "subject-specific" else two
        units = [(*k, *acc) for k, acc in zip(keys, accs, strict=True)]
        ids[(model, protocol, split, audit, variant)] = _parent(
            cl, "synthetic", main_fp, model, protocol, split, audit=audit, variant=variant, start=t + i * 100,
            units=units,
        )  # fmt: skip
    # an old run: no n_trials tag, validation history under the old `val_` keys
    old = [(*two[0], 0.5, 0.55), (*two[1], 0.6, 0.65)]
    ids["old majority"] = _parent(
        cl, "synthetic", main_fp, "majority", start=t + 1000, sizes=(2, 0), history="val", units=old
    )
    # a newer small side run on one subject: 3 runs, all newer than the main ones
    for i, model in enumerate(("majority", "prior", "mtcnn")):
        units = [(*k, 0.5, 0.5) for k in two]
        ids[f"side {model}"] = _parent(
            cl, "synthetic", SIDE_FP, model, start=t + 5000 + i, sizes=(1, 6), units=units
        )
    ids["deap prior"] = _parent(cl, "deap", DEAP_FP, "prior", start=t + 9000, sizes=(0, 0), units=POOLED)
    return {"uri": uri, "cache": cache, "main_fp": main_fp, "ids": ids}


@pytest.fixture
def small_default(crafted, monkeypatch):
    """The embedded synthetic default is the 2 x 6 set generated in the crafted cache."""
    monkeypatch.setenv("DEAP_BENCH_CACHE", str(crafted["cache"]))
    monkeypatch.setattr("bench.data.source.default_synthetic_config", lambda: SMALL)


@pytest.fixture
def narrow_console(monkeypatch):
    from bench.cli.common import console

    monkeypatch.setattr(console, "_width", WIDTH)


def _listing(main_fp: str) -> str:
    return (
        f"synthetic 1 subject x 6 trials (3 runs, 1a2b3c4d); synthetic 2 subjects x 6 trials (8 runs, "
        f"{main_fp[:8]}); DEAP ? subjects x ? trials (1 run, ffeeddcc)"
    )


# ---------------------------------------------------------------------------------------- data sets
def test_source_fingerprint_is_the_fingerprint_runs_get(crafted):
    folder = synthetic_source(SMALL, cache_dir=crafted["cache"]).root
    fs = prepare_features(open_deap(folder), cache_dir=crafted["cache"])
    assert fs.fingerprint == crafted["main_fp"]
    one = source_fingerprint(open_deap(folder, [1]), cache_dir=crafted["cache"])
    assert one == fs.select([1]).fingerprint != fs.fingerprint  # `--subjects 1` is another data set


def test_default_is_the_data_bench_run_uses_not_the_newest(crafted, small_default):
    store = R.load_store(crafted["uri"])
    assert store.fingerprint == crafted["main_fp"]  # not the newer side data set, not DEAP
    assert store.chosen == "the data `bench run` uses by default (the embedded synthetic DEAP)"
    assert store.label == f"synthetic, 2 subjects x 6 trials, {crafted['main_fp'][:8]}"
    [tab] = R.build("comparison", store)
    assert (
        tab.title
        == f"Model comparison (leak-free splits) | synthetic, 2 subjects x 6 trials, {crafted['main_fp'][:8]}"
    )
    cell = tab.frame.set_index("model").loc["mtcnn", "whole-set/trial valence"]
    assert cell.startswith("70.0 ± 14.1 ")  # folds 0.60 and 0.80
    assert (
        "2 other data sets in this store: synthetic 1 subject x 6 trials (3 runs, 1a2b3c4d); DEAP ? "
        "subjects x ? trials (1 run, ffeeddcc). Shown: the data `bench run` uses by default (the embedded "
        "synthetic DEAP); pick another with --fingerprint PREFIX (`bench runs --datasets` lists them)."
    ) in tab.notes


def test_without_the_default_data_the_most_runs_win(crafted):
    store = R.load_store(crafted["uri"])  # this test's own empty cache: the default data is unknown
    assert store.fingerprint == crafted["main_fp"]  # 8 runs beat the 3 newer ones
    assert store.chosen == "the synthetic data set with the most runs"
    assert R.load_store(crafted["uri"], data="deap").label == "DEAP, ? subjects x ? trials, ffeeddcc"


def test_old_val_history_and_missing_n_trials_still_read(crafted):
    store = R.load_store(crafted["uri"], where=["model=majority"])
    old = store.parents.set_index("run_id").loc[crafted["ids"]["old majority"]]
    assert old["n_trials"] == 0 and old["n_subjects"] == 2  # made before the n_trials tag
    assert store.label.startswith("synthetic, 2 subjects x 6 trials")  # the data set's other runs say 6
    d = R.build("comparison", store)[0].data
    row = d[(d.model == "majority") & (d.protocol == "whole-set") & (d.task == "arousal")].iloc[0]
    assert row["mean"] == pytest.approx(0.60) and row["n"] == 2  # units with `val_*` history
    new = R.load_store(crafted["uri"], where=["model=mtcnn"])
    d = R.build("comparison", new)[0].data
    row = d[(d.model == "mtcnn") & (d.protocol == "whole-set") & (d.task == "arousal")].iloc[0]
    assert row["mean"] == pytest.approx(0.60) and row["std"] == pytest.approx(0.1414213562)  # `valid_*`


def test_fingerprint_prefix_picks_any_data_set(crafted, capsys, small_default, wide_console):
    side = R.load_store(crafted["uri"], fingerprint="1a2b")
    assert side.fingerprint == SIDE_FP and side.chosen == "the one picked with --fingerprint"
    assert sorted(side.parents["model"]) == ["majority", "mtcnn", "prior"]
    deap = R.load_store(crafted["uri"], fingerprint="ffee")  # another kind: no --data needed
    assert deap.data_kind == "deap"
    assert main(["table", "leaderboard", "--tracking-uri", crafted["uri"], "--fingerprint", "1a2b"]) == 0
    assert (
        "Leaderboard | whole-set | split trial | synthetic, 1 subject x 6 trials, 1a2b3c4d"
        in capsys.readouterr().out
    )
    assert main(["table", "comparison", "--tracking-uri", crafted["uri"], "--fingerprint", "0bad"]) == 2
    err = capsys.readouterr().err
    listing = _listing(crafted["main_fp"])
    assert err == f"error: --fingerprint '0bad': no data set with finished runs; available: {listing}\n"
    assert main(["runs", "--tracking-uri", crafted["uri"], "--fingerprint", "1a2b", "--data", "deap"]) == 2
    assert capsys.readouterr().err == (
        "error: --fingerprint '1a2b': no deap data set with finished runs; available: DEAP ? subjects x ? "
        "trials (1 run, ffeeddcc)\n"
    )


def test_choose_dataset_rule():
    def ds(kind, fp, runs, newest):
        return DataSet(kind, fp, 4, 40, runs, newest)

    big, side, tie = (
        ds("synthetic", "aa11", 5, 1),
        ds("synthetic", "bb22", 2, 9),
        ds("synthetic", "cc33", 5, 3),
    )
    real = ds("deap", "dd44", 9, 9)
    sets = [big, side, tie, real]
    assert choose_dataset(sets, default=list)[0] == tie  # most runs (5); tie -> the newest run
    assert choose_dataset(sets, default=lambda: [("synthetic", "bb22")])[0] == side  # what `bench run` uses
    assert (
        choose_dataset(sets, default=lambda: [("deap", "dd44")])[1]
        == "the data `bench run` uses by default ($DEAP_DIR)"
    )
    assert choose_dataset(sets, data="deap", default=list) == (real, "the only deap data set")
    assert choose_dataset(sets, default=lambda: [("deap", "zz")])[0] == tie  # its data has no runs
    with pytest.raises(ConfigError) as exc:
        choose_dataset(sets, fingerprint="e")
    assert str(exc.value) == (
        "fingerprint='e': no data set with finished runs; available: synthetic 4 subjects x 40 trials "
        "(5 runs, aa11); synthetic 4 subjects x 40 trials (2 runs, bb22); synthetic 4 subjects x 40 trials "
        "(5 runs, cc33); DEAP 4 subjects x 40 trials (9 runs, dd44)"
    )
    with pytest.raises(ConfigError) as exc:
        choose_dataset([ds("synthetic", "ab12", 1, 1), ds("deap", "ab34", 1, 1)], fingerprint="ab")
    assert str(exc.value) == (
        "fingerprint='ab' matches 2 data sets: synthetic 4 subjects x 40 trials (1 run, ab12); DEAP 4 "
        "subjects x 40 trials (1 run, ab34); give more characters or data='synthetic|deap'"
    )


def test_bench_runs_lists_data_sets(crafted, capsys, small_default, narrow_console):
    assert main(["runs", "--tracking-uri", crafted["uri"], "--datasets"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("│")]
    cells = [[c.strip() for c in line.strip("│").split("│")] for line in rows]
    assert [c[:4] + c[5:] for c in cells] == [
        ["synthetic", "1", "6", "3", SIDE_FP],
        ["synthetic *", "2", "6", "8", crafted["main_fp"]],
        ["DEAP", "?", "?", "1", DEAP_FP],
    ]
    words = " ".join(out.split())
    assert (
        "*: the data set tables show by default: the data `bench run` uses by default (the embedded" in words
    )
    assert max(cell_len(line) for line in out.splitlines()) <= WIDTH
    assert main(["runs", "--tracking-uri", crafted["uri"]]) == 0
    cap = capsys.readouterr()
    assert f"Finished runs | synthetic, 2 subjects x 6 trials, {crafted['main_fp'][:8]}" in cap.out
    assert "2 other data sets in this store" in cap.err


# --------------------------------------------------------------------------------------- 80 columns
def _print(renderables, width=WIDTH) -> str:
    con = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    for r in renderables:
        con.print(r, soft_wrap=bool(getattr(r, "no_wrap", False)))
    return con.export_text()


def _check_fits(fit: FitTable, text: str, width: int = WIDTH) -> list[str]:
    """No line of the table over ``width``, no ellipsis, every value of every shown number cell and every
    piece of every shown name printed whole; returns the headers left out (named in the footnote)."""
    assert "…" not in text
    assert max(cell_len(line) for line in text.splitlines()) <= width, text
    keep = fit.shown(width)
    for row in fit.rows:
        for i in keep:
            cell, kind = str(row[i]), fit.columns[i].kind
            whole = _units(cell) if kind == NUMBER else [p for w in cell.split() for p in _pieces(w)]
            for piece in whole if kind in (NUMBER, NAME) else []:
                assert piece in text, (piece, text)
    dropped = [c.header for i, c in enumerate(fit.columns) if i not in keep]
    if dropped:
        assert f"Not shown at {width} columns: {', '.join(dropped)} (" in text.replace("\n", " ")
    return dropped


@pytest.mark.parametrize(
    ("name", "dropped"),
    [
        ("comparison", [["reported valence", "reported arousal"]]),
        ("protocols", [[], []]),
        ("leakage", [["Δ seg", "Δ select", "Δ total"]]),
        ("ablation", [[]]),
        ("leaderboard", [["subjects", "code"], ["subjects", "code"]]),
    ],
)
def test_result_tables_at_80_columns(crafted, small_default, name, dropped):
    tables = R.build(name, R.load_store(crafted["uri"]))
    fits = [r for r in R.to_rich(tables) if isinstance(r, FitTable)]
    assert len(fits) == len(tables)
    assert [_check_fits(f, _print([f])) for f in fits] == dropped
    wide = R.to_markdown(tables)  # files keep every column
    assert all(f"| {c} |" in wide or f"| {c}" in wide for t in tables for c in t.frame.columns)
    text = _print(R.to_rich(tables))
    long = [line for line in text.splitlines() if cell_len(line) > WIDTH]
    assert all(line.startswith("  bench run ") for line in long)  # only fill-in commands, one line each


def test_runs_and_models_at_80_columns(crafted, small_default):
    from bench.cli.tables import runs_table
    from bench.models.view import models_table

    fit = runs_table(R.load_store(crafted["uri"]))
    assert _check_fits(fit, _print([fit])) == []
    fit = models_table()
    text = _print([fit])
    assert _check_fits(fit, text) == ["paper", "tasks", "max epochs"]
    assert "1,532,418 x 2" in text and "approximate" in text
    assert _check_fits(fit, _print([fit], 140), 140) == []


def test_run_summary_at_80_columns(deap_dir, tmp_path, capsys, narrow_console):
    args = ["run", "--model", "majority", "--deap", str(deap_dir), "--folds", "2",
            "--tracking-uri", f"sqlite:///{tmp_path}/m.db"]  # fmt: skip
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "…" not in out and max(cell_len(line) for line in out.splitlines()) <= WIDTH
    words = " ".join(out.split())
    assert "Not shown at 80 columns: V bal acc, V AUC, A bal acc, A AUC, epochs, time s (a wider" in words
    assert "│ mean ± std │ 75.0 ± 11.8 │ 75.0 ± 11.8 │ 41.7 ± 11.8 │ 41.7 ± 11.8 │" in out
    heads = " ".join(line for line in out.splitlines() if line.startswith("┃"))
    assert "V" in heads and "val" not in heads  # valence is V (legend in the caption), never "val"
    assert "V = valence, A = arousal" in words


def test_fit_table_rules():
    """Hand-computed: minimums 8 ("majority"), 10 ("12.5 ± 0.3") and 8 ("reported") need
    8 + 10 + 8 + (2 edges + 2 rules + 3 x 2 padding) = 36 cells."""
    fit = FitTable(
        [Col("model", NAME), Col("acc"), Col("reported arousal", priority=0)],
        [["4dcrnn x", "12.5 ± 0.3", "96.62"], ["majority", "0.0", "-"]],
    )
    assert fit.shown(36) == [0, 1, 2] and fit.shown(35) == [0, 1]
    table, dropped = fit.layout(35)
    assert dropped == ["reported arousal"]
    assert [c.width for c in table.columns] == [8, 10]  # their natural widths: nothing wraps
    assert wrap_words("subject-specific/trial valence", 9) == "subject-\nspecific/\ntrial\nvalence"
    assert wrap_words("whole-set/trial arousal", 16) == "whole-set/trial\narousal"
    assert wrap_units("67.7 ± 12.7 [47.5, 87.9] n=4 p=0.625 (W) §", 13) == (
        "67.7 ± 12.7\n[47.5, 87.9]\nn=4 p=0.625\n(W) §"
    )
    assert wrap_units("1,532,418 x 2", 9) == "1,532,418 x 2"  # never broken, even if wider
