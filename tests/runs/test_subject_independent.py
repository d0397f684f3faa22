"""Issue 30's acceptance, through the harness end to end (``bench.run``, the store, ``bench table
methods``): on a synthetic DEAP twin whose per-subject shift hides the planted valence effect, plain
training across subjects is no better than the majority baseline, per-subject standardisation recovers
the effect with a significant paired test, and without a planted effect no method beats chance.

The twin: 8 subjects x 20 trials (seed 1), ``effect_size`` 2 (the valence coefficients 0.30-0.35 per unit
``z`` doubled: within a subject the effect is clear) and ``subject_shift`` 2 (each subject's (channel,
band) log amplitudes moved by a draw of sd 2, three times the effect's whole range). Leave-one-subject-out
(cross-subject, 8 folds), DGCNN for 6 epochs on one thread; a subject's accuracy is its fold's.

Measured on an AMD EPYC (1 and 2 threads: the same numbers to the second decimal), valence
accuracy against the majority baseline's on the same folds (its mean 0.569):

* planted: plain +1.2 points (4 of 8 subjects above, one-sided Wilcoxon p 0.47); subject-norm +12.3
  points (7 of 8 above, p 0.008; against plain p 0.004);
* none planted: plain -9.0 points (p 0.97), subject-norm -13.1 (p 0.996).

Plain training is near chance by accuracy, not blind: its within-subject ranking holds (AUC 0.76, balanced
accuracy 0.61), because a subject's shift moves every one of its windows' scores together; the test's
claims are the accuracy's. The assertions leave room for another CPU's rounding: the planted p values are
an order of magnitude inside 0.05, the null ones far above it.

A subject whose ratings lean one way (on seed 2, one has 23 of 24 trials above 5) is standardised towards
its majority class and loses accuracy: per-subject standardisation assumes a subject's inputs are
balanced, which the method's docs say. The fixed seed here is the balanced case, chosen for it, not for
its numbers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import wilcoxon

import bench
from bench.data.synthetic import SyntheticConfig, write_synthetic_deap

pytestmark = pytest.mark.slow

N_SUBJECTS, N_TRIALS, SEED = 8, 20, 1
EFFECT, SHIFT, EPOCHS = 2.0, 2.0, 6
RUNS = (("majority", "none"), ("dgcnn", "none"), ("dgcnn", "subject-norm"))
ALPHA = 0.05


def _quiet(message: str) -> None:
    pass


@pytest.fixture(scope="module")
def stores(tmp_path_factory) -> dict[str, tuple[str, dict[tuple[str, str], pd.Series]]]:
    """Per twin (``planted``, ``none``): its MLflow store and each run's valence accuracy per subject."""
    out = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DEAP_BENCH_CACHE", str(tmp_path_factory.mktemp("si-cache")))
        for name, effect in (("planted", EFFECT), ("none", 0.0)):
            root = tmp_path_factory.mktemp(f"si-{name}")
            folder = root / "data"
            config = SyntheticConfig(n_subjects=N_SUBJECTS, n_trials=N_TRIALS, seed=SEED,
                                     effect_size=effect, subject_shift=SHIFT)  # fmt: skip
            write_synthetic_deap(folder, config)
            uri = f"sqlite:///{root / 'mlflow.db'}"
            accuracy = {}
            for model, method in RUNS:
                result = bench.run(model=model, protocol="cross-subject", folds=N_SUBJECTS, data_dir=folder,
                                   method=method, epochs=EPOCHS, seed=SEED, threads=1, tracking_uri=uri,
                                   echo=_quiet)  # fmt: skip
                rows = result.metrics.query("task == 'valence'").set_index("subject")["acc"].sort_index()
                assert len(rows) == N_SUBJECTS  # one fold per test subject
                accuracy[(model, method)] = rows
            out[name] = (uri, accuracy)
    return out


def _versus_majority(accuracy: dict, method: str) -> tuple[float, float]:
    """(mean gain over the majority baseline, one-sided Wilcoxon p of "above it") of DGCNN's ``method``."""
    ours, majority = accuracy[("dgcnn", method)], accuracy[("majority", "none")]
    assert ours.index.equals(majority.index)
    gain = (ours - majority).to_numpy()
    p = wilcoxon(ours, majority, alternative="greater").pvalue if np.any(gain) else 1.0
    return float(gain.mean()), float(p)


def test_plain_training_across_subjects_is_near_chance(stores):
    gain, p = _versus_majority(stores["planted"][1], "none")
    assert abs(gain) < 0.06 and p > ALPHA, (gain, p)


def test_per_subject_standardisation_recovers_the_hidden_effect(stores):
    uri, accuracy = stores["planted"]
    gain, p = _versus_majority(accuracy, "subject-norm")
    assert gain > 0.08 and p < ALPHA, (gain, p)
    # the methods table's own paired test (method > plain, Wilcoxon over test subjects, Holm over the
    # table's comparisons) says so too, and flags the method transductive
    table = bench.table("methods", tracking_uri=uri).query("task == 'valence'").set_index(["model", "method"])
    row = table.loc[("dgcnn", "subject-norm")]
    assert row["test"] == "W" and row["n_pairs"] == N_SUBJECTS, row
    assert row["diff_vs_plain"] > 0.08 and row["p_vs_plain_holm"] < ALPHA, row
    assert row["transductive"] and not table.loc[("dgcnn", "none"), "transductive"]
    majority = table.loc[("majority", "none")]
    assert majority["role"] == "reference" and majority["mean"] == pytest.approx(
        accuracy[("majority", "none")].mean()
    )


def test_without_a_planted_effect_no_method_beats_chance(stores):
    accuracy = stores["none"][1]
    for method in ("none", "subject-norm"):
        gain, p = _versus_majority(accuracy, method)
        assert gain < 0.02 and p > ALPHA, (method, gain, p)


def test_the_table_marks_the_transductive_method(stores):
    lines = bench.render_table("methods", tracking_uri=stores["planted"][0]).splitlines()
    assert any(line.startswith("¶ transductive: sees the test subjects' unlabelled inputs") for line in lines)
    marked = [line for line in lines if line.startswith("│") and "¶" in line]
    assert len(marked) == 1 and "norm" in marked[0], marked  # the subject-norm row's label, alone
