"""Synthetic DEAP: exact file format, determinism, realistic labels, and the planted effects."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score

from bench.core.errors import ConfigError, DataError
from bench.data.cache import prepare_features
from bench.data.channels import EEG_CHANNELS
from bench.data.reader import read_subject, safe_load_pickle
from bench.data.source import open_deap
from bench.data.synthetic import (
    MARKER,
    PLANTED_EFFECTS,
    SyntheticConfig,
    generate_subject,
    write_synthetic_deap,
)

SMALL = SyntheticConfig(n_subjects=2, n_trials=4, seed=3)


def test_files_have_deaps_exact_format(tmp_path):
    files = write_synthetic_deap(tmp_path, SMALL)
    assert [f.name for f in files] == ["s01.dat", "s02.dat"]
    obj = safe_load_pickle(files[0])  # the restricted unpickler accepts it: only arrays and a dict
    assert set(obj) == {"data", "labels"}
    assert obj["data"].shape == (4, 40, 8064) and obj["data"].dtype == np.float64
    assert obj["labels"].shape == (4, 4)
    rec = read_subject(files[1])
    assert rec.subject == 2 and rec.eeg.shape == (4, 32, 8064)
    assert rec.ratings.min() >= 1 and rec.ratings.max() <= 9
    # microvolt scale like DEAP's preprocessed EEG
    assert 5 < rec.eeg.std() < 60
    marker = json.loads((tmp_path / MARKER).read_text())
    assert marker["config"] == SMALL.to_dict() and len(marker["planted_effects"]) == len(PLANTED_EFFECTS)
    assert open_deap(tmp_path).synthetic


def test_deterministic_and_independent_of_subject_count():
    a = generate_subject(SMALL, 2)
    b = generate_subject(SyntheticConfig(n_subjects=5, n_trials=4, seed=3), 2)
    np.testing.assert_array_equal(a["data"], b["data"])
    np.testing.assert_array_equal(a["labels"], b["labels"])
    c = generate_subject(SyntheticConfig(n_subjects=2, n_trials=4, seed=4), 2)
    assert not np.allclose(a["data"], c["data"])


def test_refuses_to_overwrite_real_deap(tiny_deap):
    folder = tiny_deap / "data_preprocessed_python"
    before = (folder / "s01.dat").read_bytes()
    with pytest.raises(DataError, match="not synthetic"):
        write_synthetic_deap(folder, SMALL)
    assert (folder / "s01.dat").read_bytes() == before


def test_rewrite_with_fewer_subjects_removes_stale_files(tmp_path):
    write_synthetic_deap(tmp_path, SyntheticConfig(n_subjects=3, n_trials=2))
    write_synthetic_deap(tmp_path, SyntheticConfig(n_subjects=1, n_trials=2))
    assert sorted(p.name for p in tmp_path.glob("s*.dat")) == ["s01.dat"]


@pytest.mark.parametrize("bad", [{"n_subjects": 0}, {"n_trials": 41}, {"effect_size": -1}])
def test_bad_config_is_config_error(bad):
    with pytest.raises(ConfigError):
        SyntheticConfig(**bad)


def test_label_balance_is_deap_like():
    cfg = SyntheticConfig(n_subjects=32, n_trials=40)
    high = np.concatenate([generate_subject_labels(cfg, s) for s in range(1, 33)])  # (1280, 2) booleans
    frac = high.mean(axis=0)
    assert np.all((frac > 0.5) & (frac < 0.66)), frac


def generate_subject_labels(cfg: SyntheticConfig, s: int) -> np.ndarray:
    from bench.data.synthetic import _ratings

    rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, s]))
    return _ratings(rng, cfg.n_trials, cfg.high_fraction)[:, :2] > 5


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    root = tmp_path_factory.mktemp("planted")
    write_synthetic_deap(root / "data", SyntheticConfig(n_subjects=4, n_trials=40, seed=1))
    return prepare_features(open_deap(root / "data"), cache_dir=root / "cache")


def test_planted_effect_beats_chance_with_trial_level_split(planted):
    """A linear classifier on trial-averaged features: one sample per trial, so folds are by trial."""
    x = planted.features.mean(axis=2).reshape(-1, 2 * 4 * 32)
    for task in (0, 1):
        y = (planted.ratings[..., task] > 5).reshape(-1)
        majority = max(y.mean(), 1 - y.mean())
        cv = StratifiedKFold(5, shuffle=True, random_state=0)
        acc = cross_val_score(LogisticRegression(C=0.1, max_iter=2000), x, y, cv=cv).mean()
        assert acc > majority + 0.10, (task, acc, majority)


def _asymmetry_contrast(fs) -> float:
    """High- minus low-valence mean of DE alpha F4 - F3, centred within subject (subjects differ)."""
    de_alpha = fs.features[:, :, :, 0, 1, :].mean(axis=2)  # (S, T, 32)
    asym = de_alpha[..., EEG_CHANNELS.index("F4")] - de_alpha[..., EEG_CHANNELS.index("F3")]
    asym = asym - asym.mean(axis=1, keepdims=True)
    high = fs.ratings[..., 0] > 5
    return float(asym[high].mean() - asym[~high].mean())


def test_frontal_alpha_asymmetry_follows_valence(planted):
    """Right-minus-left frontal alpha DE is larger in high-valence trials: the planted sign."""
    assert _asymmetry_contrast(planted) > 0.8


def test_zero_effect_size_carries_no_information(tmp_path):
    write_synthetic_deap(tmp_path / "d", SyntheticConfig(n_subjects=4, n_trials=40, seed=1, effect_size=0))
    fs = prepare_features(open_deap(tmp_path / "d"), cache_dir=tmp_path / "c")
    assert abs(_asymmetry_contrast(fs)) < 0.4  # same seed as `planted`, effect removed
