"""`bench run` from the command line: one-line errors for bad values, a tracked run, the leak warning."""

from __future__ import annotations

import pytest

from bench.cli import main

pytestmark = pytest.mark.usefixtures("wide_console")


@pytest.mark.parametrize(
    "args, message",
    [
        (["--model", "nope"], "unknown model 'nope'"),
        (["--protocol", "nope"], "unknown protocol 'nope'"),
        (
            ["--split", "subject"],
            "split (protocol whole-set)='subject' is not allowed; allowed: trial, segment",
        ),
        (["--subjects", "0-40"], "subjects are numbered 1-32"),
        (["--loss-weights", "a,b"], "--loss-weights 'a,b'"),
        (["--tasks", "joy"], "--tasks='joy' is not allowed; allowed: valence, arousal"),
        (["--precision", "fp8"], "precision='fp8' is not allowed"),
        (["--audit", "peek"], "--audit='peek' is not allowed"),
        (["--recipe", "bogus"], "recipe='bogus' is not allowed; allowed: harness, paper"),
        (["--folds", "1"], "n_folds=1: expected an integer >= 2"),
        (["--deap", "/nonexistent/deap"], "/nonexistent/deap: DEAP folder not found"),
        (["--deap", "/tmp", "--synthetic"], "--deap and --synthetic exclude each other"),
        (["--model", "majority", "--no-dropout"], "has no dropout to set"),
    ],
)
def test_bad_values_are_one_line_errors(args, message, capsys, tmp_path):
    code = main(["run", "--tracking-uri", f"sqlite:///{tmp_path}/m.db", *args])
    err = capsys.readouterr().err
    assert code == 2
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and message in lines[0], err
    assert "Traceback" not in err


def test_config_file_errors_name_the_file(tmp_path, capsys):
    bad = tmp_path / "run.toml"
    bad.write_text("[train\nlr = 1")
    assert main(["run", "--config", str(bad)]) == 2
    assert f"{bad}: not valid TOML" in capsys.readouterr().err
    bad.write_text("[train]\nlearning_rate = 0.1\n")
    assert main(["run", "--config", str(bad)]) == 2
    assert "unknown train option(s): learning_rate" in capsys.readouterr().err


def test_run_prints_a_labelled_table_and_resumes(deap_dir, tmp_path, capsys, wide_console):
    args = ["run", "--model", "majority", "--deap", str(deap_dir), "--folds", "2",
            "--tracking-uri", f"sqlite:///{tmp_path}/m.db"]  # fmt: skip
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "majority | whole-set | split trial | variant full | synthetic, 2 subjects x 6 trials, " in out
    assert "fold1" in out and "fold2" in out and "mean ± std" in out
    assert "TEST metrics" in out and "V = valence" in out and "A = arousal" in out
    for header in ("V acc", "V trial acc", "V bal acc", "V AUC", "A acc", "A trial acc"):
        assert header in out
    assert "val acc" not in out
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "Resuming: 2 of 2 units already finished" in captured.err
    assert "fold1 (resumed)" in captured.out


def test_segment_split_warns_about_leakage(deap_dir, tmp_path, capsys):
    args = ["run", "--model", "prior", "--deap", str(deap_dir), "--folds", "2", "--split", "segment",
            "--tracking-uri", f"sqlite:///{tmp_path}/m.db"]  # fmt: skip
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "LEAKY run" in captured.err and "inflated" in captured.err
    assert "| LEAKY" in captured.out
