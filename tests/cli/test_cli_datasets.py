"""The data options of the CLI for every registered dataset: --dataset/--train, --data-dir, --deap,
--synthetic, --test/--test-data-dir (cross-dataset), the environment variables, one-line refusals before
any data is read, `bench data synth --dataset` and `bench data info`."""

from __future__ import annotations

import json
import shutil

import pytest

from bench.cli import main
from bench.data.datasets import dataset_names
from bench.data.paths import cache_root
from bench.data.synthetic import SyntheticConfig, write_synthetic

pytestmark = pytest.mark.usefixtures("wide_console")

ALLOWED = ", ".join(dataset_names())


@pytest.fixture(scope="module")
def twins(tmp_path_factory) -> dict:
    """Tiny twins (2 subjects x 4 trials) of DEAP, DREAMER and AMIGOS, and a "real" DEAP copy (a twin's
    files without the synthetic marker)."""
    root = tmp_path_factory.mktemp("twins")
    out = {}
    for name in ("deap", "dreamer", "amigos"):
        out[name] = root / name
        write_synthetic(out[name], SyntheticConfig(dataset=name, n_subjects=2, n_trials=4))
    out["real"] = root / "real"
    shutil.copytree(out["deap"], out["real"])
    (out["real"] / "SYNTHETIC.json").unlink()
    return out


def _parents(uri: str) -> list:
    """The parent runs of the store, with their experiment's name."""
    from mlflow.tracking import MlflowClient

    cl = MlflowClient(tracking_uri=uri)
    names = {e.experiment_id: e.name for e in cl.search_experiments()}
    runs = cl.search_runs(list(names)) if names else []
    return [(names[r.info.experiment_id], r) for r in runs if "mlflow.parentRunId" not in r.data.tags]


def _run(tmp_path, *args) -> int:
    uri = f"sqlite:///{tmp_path}/m.db"
    return main(["run", "--model", "majority", "--folds", "2", "--epochs", "1", "--tracking-uri", uri, *args])


def test_run_on_a_dreamer_folder(twins, tmp_path, capsys):
    assert _run(tmp_path, "--dataset", "dreamer", "--data-dir", str(twins["dreamer"])) == 0
    cap = capsys.readouterr()
    assert f"Data: synthetic DREAMER, 2 subjects, from {twins['dreamer']}" in cap.err.splitlines()
    assert "Embedded synthetic default" not in cap.err  # a folder: no quick-epochs cap
    assert "| variant full | synthetic DREAMER, 2 subjects x 4 trials, " in cap.out
    assert "in experiment deap-bench-dreamer-synthetic; open it with `bench ui`." in cap.out
    [(experiment, run)] = _parents(f"sqlite:///{tmp_path}/m.db")
    assert experiment == "deap-bench-dreamer-synthetic"
    tags = run.data.tags
    assert (tags["bench.dataset"], tags["bench.data_kind"]) == ("dreamer", "dreamer-synthetic")
    assert (tags["bench.n_subjects"], tags["bench.n_trials"]) == ("2", "4")
    assert run.data.params["dataset"] == "dreamer" and run.data.params["threshold"] == "3.0"  # DREAMER's


def test_train_alias_and_config_file_name_the_dataset(twins, tmp_path, capsys):
    assert _run(tmp_path, "--train", "amigos", "--data-dir", str(twins["amigos"])) == 0
    assert "synthetic AMIGOS, 2 subjects x 4 trials" in capsys.readouterr().out
    cfg = tmp_path / "run.toml"
    cfg.write_text('dataset = "dreamer"\n')
    assert _run(tmp_path, "--config", str(cfg), "--data-dir", str(twins["dreamer"])) == 0
    assert "synthetic DREAMER, 2 subjects x 4 trials" in capsys.readouterr().out
    assert sorted(e for e, _ in _parents(f"sqlite:///{tmp_path}/m.db")) == [
        "deap-bench-amigos-synthetic",
        "deap-bench-dreamer-synthetic",
    ]


def test_cross_dataset_run_on_two_twins(twins, tmp_path, capsys):
    # --test without --protocol: the cross-dataset protocol
    args = ["--dataset", "deap", "--data-dir", str(twins["deap"]), "--test", "amigos",
            "--test-data-dir", str(twins["amigos"])]  # fmt: skip
    assert _run(tmp_path, *args) == 0
    cap = capsys.readouterr()
    assert (
        f"Data: train on synthetic DEAP, 2 subjects, from {twins['deap']}; test on synthetic AMIGOS, "
        f"2 subjects, from {twins['amigos']}; 14 shared channels"
    ) in cap.err.splitlines()
    assert "majority | cross-dataset | split dataset | variant full | synthetic cross-dataset" in cap.out
    assert "(DEAP -> AMIGOS)" in cap.out
    [(experiment, run)] = _parents(f"sqlite:///{tmp_path}/m.db")
    assert experiment == "deap-bench-cross-dataset-synthetic"
    tags = run.data.tags
    assert (tags["bench.protocol"], tags["bench.dataset"]) == ("cross-dataset", "deap>amigos")
    assert tags["bench.data_kind"] == "cross-dataset-synthetic"


@pytest.mark.slow  # writes the embedded DREAMER twin (4 x 18 trials, 190 MB)
def test_environment_variable_then_embedded_twin(twins, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DREAMER_DIR", str(twins["dreamer"]))
    assert _run(tmp_path, "--dataset", "dreamer") == 0
    err = capsys.readouterr().err
    assert f"Data: synthetic DREAMER, 2 subjects, from {twins['dreamer']}" in err.splitlines()
    assert "Embedded synthetic default" not in err and "Generating" not in err
    # no folder and no variable: the embedded twin (4 subjects x 18 trials), with the quick-epochs line
    monkeypatch.delenv("DREAMER_DIR")
    uri = f"sqlite:///{tmp_path}/m.db"
    assert (
        main(["run", "--model", "majority", "--folds", "2", "--dataset", "dreamer", "--tracking-uri", uri])
        == 0
    )
    err = capsys.readouterr().err.splitlines()
    assert err[1] == (
        "No DREAMER path given: using the embedded synthetic DREAMER (4 subjects x 18 trials, seed 0, effect "
        "size 1.0). Results are labelled synthetic."
    )
    assert err[2] == (
        "Embedded synthetic default: at most 1 epoch (--epochs N for more; `bench data synth DIR --dataset "
        "dreamer` then `--dataset dreamer --data-dir DIR` for a full-size synthetic DREAMER)."
    )
    runs = _parents(uri)
    assert sorted(r.data.tags["bench.n_subjects"] for _, r in runs) == ["2", "4"]
    assert {r.data.params["train.max_epochs"] for _, r in runs} == {"1"}


BAD = [
    (["--dataset", "nope"], f"--dataset='nope' is not allowed; allowed: {ALLOWED}"),
    (["--train", "nope"], f"--dataset='nope' is not allowed; allowed: {ALLOWED}"),
    (["--test", "nope"], f"--test='nope' is not allowed; allowed: {ALLOWED}"),
    (
        ["--deap", "{deap}", "--dataset", "dreamer"],
        "--deap DIR is DEAP's folder (--dataset deap --data-dir DIR); for --dataset dreamer give "
        "--data-dir DIR",
    ),
    (
        ["--deap", "{deap}", "--data-dir", "{deap}"],
        "--deap and --data-dir exclude each other (--deap DIR is --dataset deap --data-dir DIR)",
    ),
    (["--deap", "{deap}", "--synthetic"], "--deap and --synthetic exclude each other"),
    (
        ["--synthetic", "--data-dir", "{dreamer}"],
        "--data-dir and --synthetic exclude each other (--synthetic reads the embedded twins)",
    ),
    (
        ["--test", "amigos", "--protocol", "whole-set"],
        "--test amigos names the test dataset of --protocol cross-dataset, not of protocol 'whole-set'",
    ),
    (["--protocol", "cross-dataset"], "protocol 'cross-dataset' needs a test dataset (--test NAME)"),
    (
        ["--test-data-dir", "{amigos}"],
        "--test-data-dir needs a test dataset: --test NAME (--protocol cross-dataset)",
    ),
    (["--dataset", "dreamer", "--subjects", "30"], "--subjects '30': subjects are numbered 1-23 in DREAMER"),
    (["--subjects", "0-40"], "--subjects '0-40': subjects are numbered 1-32"),
    (
        ["--dataset", "dreamer", "--data-dir", "{amigos}"],
        "{amigos}: no DREAMER.mat in this folder or the folders in it",
    ),
    (
        ["--deap", "{real}", "--test", "amigos"],
        "cross-dataset: DEAP is real data but AMIGOS would be its synthetic twin; real and synthetic data "
        "never mix (give both folders, or --synthetic for both twins)",
    ),
]


@pytest.mark.parametrize("args, message", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_data_options_are_one_line_before_any_data(args, message, twins, tmp_path, capsys):
    folders = {k: str(v) for k, v in twins.items()}
    assert _run(tmp_path, *[a.format(**folders) for a in args]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [f"error: {message.format(**folders)}"]
    assert _parents(f"sqlite:///{tmp_path}/m.db") == []
    assert not (cache_root() / "synthetic").exists()  # no twin generated (the real + twin pair too)
    assert not (cache_root() / "features").exists()  # no feature computed


def test_data_synth_writes_a_twin_the_reader_reads(tmp_path, capsys):
    from bench.data.datasets import get_dataset
    from bench.data.source import open_dataset

    out = tmp_path / "amigos"
    assert main(["data", "synth", str(out), "--dataset", "amigos", "--subjects", "2", "--trials", "3"]) == 0
    line = capsys.readouterr().out
    assert line.startswith(f"wrote a synthetic AMIGOS (2 subjects x 3 trials, 2 files) to {out} in ")
    assert sorted(p.name for p in out.iterdir()) == [
        "Data_Preprocessed_P01.mat",
        "Data_Preprocessed_P02.mat",
        "SYNTHETIC.json",
    ]
    src = open_dataset("amigos", out)
    assert src.synthetic and src.subjects == [1, 2]
    ds = get_dataset("amigos")
    rec = ds.read(src.subject_files(2), 2)
    assert rec.eeg.shape == (3, 14, (5 + 45) * 128) and rec.ratings.shape == (3, 5)
    assert json.loads((out / "SYNTHETIC.json").read_text())["config"]["dataset"] == "amigos"


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--dataset", "amigos", "--subjects", "41"],
            "--subjects (AMIGOS)=41: expected an integer in [1, 40]",
        ),
        (["--dataset", "dreamer", "--trials", "19"], "--trials (DREAMER)=19: expected an integer in [1, 18]"),
        (["--subjects", "0"], "--subjects (DEAP)=0: expected an integer in [1, 32]"),
        (["--dataset", "nope"], f"--dataset='nope' is not allowed; allowed: {ALLOWED}"),
    ],
)
def test_data_synth_bounds_are_the_datasets(args, message, tmp_path, capsys):
    assert main(["data", "synth", str(tmp_path / "out"), *args]) == 2
    assert capsys.readouterr().err.splitlines() == [f"error: {message}"]
    assert not (tmp_path / "out").exists()


def test_data_synth_fast_preset_for_any_dataset(tmp_path, capsys):
    assert main(["data", "synth", str(tmp_path / "d"), "--dataset", "dreamer", "--fast"]) == 0
    assert "wrote a synthetic DREAMER (4 subjects x 16 trials, 1 files)" in capsys.readouterr().out


def _table_rows(text: str) -> list[list[str]]:
    return [
        [c.strip() for c in line.strip("│").split("│")] for line in text.splitlines() if line.startswith("│")
    ]


def test_data_info_lists_the_datasets_then_the_cache(twins, tmp_path, capsys, monkeypatch):
    from bench.cli.common import console
    from bench.data.source import synthetic_source, twin_config

    monkeypatch.setattr(console, "_width", 500)  # one line per row, whatever the tmp path (see wide_console)
    monkeypatch.setenv("AMIGOS_DIR", str(twins["amigos"]))
    monkeypatch.setenv("MAHNOB_DIR", str(tmp_path / "none"))
    twin = synthetic_source(twin_config("dreamer")).root  # the embedded DREAMER twin, generated
    entry = cache_root() / "features" / "e1"
    entry.mkdir(parents=True)
    meta = {"subject": 1, "synthetic": True, "config_fingerprint": "c" * 64, "shape": [18, 120, 2, 4, 14],
            "created": "2026-01-01T00:00:00+0000", "dataset": "dreamer",
            "source_file": str(twin / "DREAMER.mat")}  # fmt: skip
    (entry / "meta.json").write_text(json.dumps(meta))
    signal = cache_root() / "features" / "e2"  # a time-domain model's entry of the same subject
    signal.mkdir(parents=True)
    contents = {"kinds": ["de", "psd"], "peripheral": False, "signal_band": [4.0, 45.0]}
    (signal / "meta.json").write_text(json.dumps({**meta, "contents": contents}))
    assert main(["data", "info"]) == 0
    out = capsys.readouterr().out
    datasets, cache = out.split("Feature cache at")
    assert _table_rows(datasets) == [
        ["deap", "DEAP", "32 x 40", "32", "128", "3 + 60",
         "the 3 s before the video (DEAP's pre-trial baseline)", "1-9, high if > 5", "$DEAP_DIR not set",
         "not generated yet"],
        ["dreamer", "DREAMER", "23 x 18", "14", "128", "61 + 60",
         "the last 3 s of the 61 s baseline recorded before the clip", "1-5, high if > 3",
         "$DREAMER_DIR not set", "generated"],
        ["amigos", "AMIGOS", "40 x 16", "14", "128", "5 + 45",
         "seconds 2-5 of the stimulus itself (no pre-stimulus recording in the release)", "1-9, high if > 5",
         f"$AMIGOS_DIR={twins['amigos']}", "not generated yet"],
        ["mahnob-hci", "MAHNOB-HCI", "30 x 20", "32", "128", "30 + 30",
         "the last 3 s before the stimulus onset trigger", "1-9, high if > 5",
         f"$MAHNOB_DIR={tmp_path / 'none'} (not a folder)", "not generated yet"],
        ["seed", "SEED", "15 x 45", "62", "200", "0 + 265", "none (SEED holds no baseline)",
         "valence3: 3 classes; valence (from valence3)", "$SEED_DIR not set", "not generated yet"],
        ["seed-iv", "SEED-IV", "15 x 72", "62", "200", "0 + 256", "none (SEED-IV holds no baseline)",
         "emotion4: 4 classes", "$SEED_IV_DIR not set", "not generated yet"],
        ["seed-v", "SEED-V", "16 x 45", "62", "200", "0 + 297", "none (SEED-V holds no baseline)",
         "emotion5: 5 classes", "$SEED_V_DIR not set", "not generated yet"],
        ["faced", "FACED", "123 x 28", "32", "250", "0 + 30", "none (FACED holds no baseline)",
         "emotion9: 9 classes; valence3: 3 classes; valence (from valence3)", "$FACED_DIR not set",
         "not generated yet"],
    ]  # fmt: skip
    assert [row[:6] for row in _table_rows(cache)] == [
        [
            "cccccccccccc",
            "synthetic DREAMER",
            "embedded synthetic (4 subjects x 18 trials, seed 0)",
            "dreamer",
            "DE, PSD",
            "1",
        ],
        [
            "cccccccccccc",
            "synthetic DREAMER",
            "embedded synthetic (4 subjects x 18 trials, seed 0)",
            "dreamer",
            "DE, PSD + signal 4-45 Hz",
            "1",
        ],
    ]


def test_data_info_names_a_twin_whose_files_lie_in_sub_folders():
    """A MAHNOB-HCI twin's files lie in Sessions/<id>/ below the twin's folder: still the embedded twin."""
    from bench.data.cache import entry_source

    twin = cache_root() / "synthetic" / "0123456789abcdef"
    (twin / "Sessions" / "2").mkdir(parents=True)
    (twin / "SYNTHETIC.json").write_text(json.dumps({"config": {"n_subjects": 4, "n_trials": 20, "seed": 0}}))
    meta = {
        "source_file": str(twin / "Sessions" / "2" / "Part_1_N_Trial1_emotion.bdf"),
        "dataset": "mahnob-hci",
    }
    assert entry_source(meta) == ("embedded synthetic (4 subjects x 20 trials, seed 0)", True)


def test_data_prepare_reads_the_dataset(twins, capsys):
    assert main(["data", "prepare", "--dataset", "amigos", "--data-dir", str(twins["amigos"])]) == 0
    out = capsys.readouterr().out
    assert out.startswith(
        "synthetic AMIGOS features for 2 subjects, shape (2, 4, 90, 2, 4, 14), fingerprint "
    )
    assert main(["data", "prepare", "--dataset", "amigos", "--subjects", "41"]) == 2
    assert capsys.readouterr().err == "error: --subjects '41': subjects are numbered 1-40 in AMIGOS\n"


def test_a_grid_takes_the_dataset(tmp_path):
    from bench.api.choices import data_choice
    from bench.cli.reproduce import grid_command, grid_synthetic
    from bench.core.errors import ConfigError
    from bench.runs.grid import load_grid

    g = load_grid(scale="smoke", dataset="dreamer", deap="/data/DREAMER")
    assert g.dataset == "dreamer" and {e.config.dataset for e in g.entries} == {"dreamer"}
    assert {e.config.threshold for e in g.entries} == {3.0}  # DREAMER's own
    assert grid_command(g, None) == "bench reproduce --preset rudakov2021 --scale smoke --dataset dreamer " \
        "--data-dir /data/DREAMER"  # fmt: skip
    smoke = load_grid(scale="smoke", dataset="amigos")
    data = data_choice(dataset="amigos", data_dir=None, deap=None, synthetic=True)
    assert grid_synthetic(smoke, data) == SyntheticConfig(n_subjects=3, n_trials=12, dataset="amigos")
    path = tmp_path / "g.toml"
    path.write_text('[data]\ndataset = "amigos"\ndir = "am"\n[scale]\nsubjects = "33-40"\n'
                    "[[runs]]\nmodels = 'majority'\nprotocols = 'whole-set'\n")  # fmt: skip
    g = load_grid(path=path)
    assert (g.dataset, g.deap, g.entries[0].config.subjects) == (
        "amigos",
        str(tmp_path / "am"),
        tuple(range(33, 41)),
    )
    assert load_grid(path=path, dataset="deap", scale="smoke").deap is None  # the file's folder is AMIGOS'
    with pytest.raises(ConfigError, match=r"scale.subjects \(DEAP\)=33: expected an integer in \[1, 32\]"):
        load_grid(path=path, dataset="deap")
    path.write_text(
        '[data]\ndataset = "dreamer"\ndeap = "x"\n[[runs]]\nmodels = "majority"\nprotocols = "whole-set"\n'
    )
    with pytest.raises(
        ConfigError, match="data.deap is DEAP's folder; for data.dataset='dreamer' give data.dir"
    ):
        load_grid(path=path)


def test_data_options_echoed_back():
    """The data options of a command a command prints (bench tune's "Evaluate once" line)."""
    from bench.api.choices import data_choice

    def argv(name="deap", test=None, **options):
        kw = {"dataset": None, "data_dir": None, "deap": None, "synthetic": False, **options}
        return data_choice(**kw).argv(name, test)

    assert argv(deap="/d") == ["--deap", "/d"]
    assert argv() == [] and argv(synthetic=True) == ["--synthetic"]
    assert argv("dreamer", dataset="dreamer", data_dir="/x") == ["--dataset", "dreamer", "--data-dir", "/x"]
    assert argv("dreamer", "amigos", dataset="dreamer", synthetic=True) == [
        "--dataset", "dreamer", "--test", "amigos", "--synthetic"
    ]  # fmt: skip


def test_help_lists_the_registered_datasets():
    import typer

    from bench.cli import build_app

    run = typer.main.get_command(build_app()).commands["run"]
    helps = {p.opts[0]: p.help for p in run.params}
    assert helps["--dataset"].startswith(f"Dataset: {' | '.join(dataset_names())} (default deap;")
    assert helps["--data-dir"].startswith(
        "The dataset's folder; default: its environment variable ($DEAP_DIR, $DREAMER_DIR, $AMIGOS_DIR, "
        "$MAHNOB_DIR, $SEED_DIR"
    )
    assert helps["--data-dir"].endswith("), else its embedded synthetic twin")
    assert "--train" in next(p.opts for p in run.params if "--dataset" in p.opts)


class _Stop(Exception):
    """Ends a grid command where it would start running (the data wiring is what is tested)."""


def _capture_grid(monkeypatch) -> dict:
    seen: dict = {}

    def fake(g, ex, **kw):
        seen.update(grid=g, synthetic=kw.get("synthetic"))
        raise _Stop

    monkeypatch.setattr("bench.cli.tables.run_grid_command", fake)  # bench ablate
    monkeypatch.setattr("bench.cli.reproduce.run_grid_command", fake)  # bench reproduce
    return seen


def test_ablate_and_reproduce_pass_the_data_options_to_the_grid(twins, tmp_path, capsys, monkeypatch):
    from bench.data.source import twin_config

    seen = _capture_grid(monkeypatch)
    uri = f"sqlite:///{tmp_path}/m.db"
    with pytest.raises(_Stop):
        main(["ablate", "--model", "majority", "--variants", "full", "--dataset", "dreamer", "--data-dir",
              str(twins["dreamer"]), "--subjects", "1-2", "--tracking-uri", uri])  # fmt: skip
    g = seen["grid"]
    assert (g.dataset, g.deap, seen["synthetic"]) == ("dreamer", str(twins["dreamer"]), None)
    assert {(e.config.dataset, e.config.subjects, e.config.threshold) for e in g.entries} == {
        ("dreamer", (1, 2), 3.0)
    }
    assert "Embedded synthetic default" not in capsys.readouterr().err  # a folder: the model's epoch cap
    with pytest.raises(_Stop):
        main(["ablate", "--model", "majority", "--variants", "full", "--dataset", "amigos", "--synthetic",
              "--tracking-uri", uri])  # fmt: skip
    assert seen["synthetic"] == twin_config("amigos") and seen["grid"].scale.max_epochs == 1
    assert capsys.readouterr().err == "Embedded synthetic default: at most 1 epoch (--epochs N for more).\n"
    assert main(["ablate", "--dataset", "amigos", "--subjects", "41", "--tracking-uri", uri]) == 2
    assert capsys.readouterr().err == "error: --subjects '41': subjects are numbered 1-40 in AMIGOS\n"
    with pytest.raises(_Stop):
        main(["reproduce", "--scale", "smoke", "--dataset", "amigos", "--synthetic", "--tracking-uri", uri])
    assert seen["grid"].dataset == "amigos"
    assert seen["synthetic"] == SyntheticConfig(n_subjects=3, n_trials=12, dataset="amigos")
    grid = tmp_path / "g.toml"
    grid.write_text(
        '[data]\ndataset = "amigos"\ndir = "am"\n[[runs]]\nmodels = "majority"\nprotocols = "whole-set"\n'
    )
    assert main(["reproduce", "--grid", str(grid), "--synthetic", "--tracking-uri", uri]) == 2
    assert capsys.readouterr().err == (
        f"error: --synthetic and the grid's folder {tmp_path / 'am'} ([data] of {grid}) exclude each other\n"
    )


def test_the_probe_builds_the_model_on_the_datasets_electrodes(twins):
    """DREAMER has 14 electrodes: the time probe of ``bench reproduce`` (and ``--plan``) built SAE-LSTM
    for DEAP's 32 and stopped with a traceback (found when a test's stub no longer caught the grid)."""
    from bench.config.run import RunConfig
    from bench.runs.estimate import probe_prepared
    from bench.runs.plan import prepare

    p = prepare(RunConfig(model="saelstm", dataset="dreamer", n_folds=2), deap=twins["dreamer"])
    assert p.inputs.spec.n_channels == 14
    tp = probe_prepared(p, device="cpu")
    assert 0 < tp.train_samples_per_s < float("inf") and 0 < tp.predict_samples_per_s < float("inf")
