"""Acceptance on synthetic DEAP with the planted effect (slow: real MT-CNN trainings).

MT-CNN must beat the majority baseline clearly with folds by trial, and the segment split (windows of
one trial in train and test) must score higher than the trial split on the same data: the leak shows.
"""

from __future__ import annotations

import pytest

import bench.runs.runner as runner
from bench.config.run import RunConfig, TrainConfig
from bench.data.cache import prepare_features
from bench.data.features import FeatureConfig
from bench.data.source import open_deap
from bench.data.synthetic import SyntheticConfig, write_synthetic_deap

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def features(tmp_path_factory):
    root = tmp_path_factory.mktemp("accept")
    write_synthetic_deap(root / "data", SyntheticConfig(n_subjects=4, n_trials=40, seed=0))
    # 0.5 s windows every 2 s: 30 per trial keeps the runs short; the planted effect is per trial
    return prepare_features(open_deap(root / "data"), FeatureConfig(step_s=2.0), cache_dir=root / "cache")


def _accuracy(features, tmp_path, model: str, split: str) -> dict[str, float]:
    cfg = RunConfig(
        model=model, protocol="whole-set", split=split, n_folds=3, train=TrainConfig(max_epochs=3)
    )
    res = runner.run_experiment(
        cfg, tracking_uri=f"sqlite:///{tmp_path}/m.db", prepared=runner.prepare(cfg, features=features)
    )
    return {t: res.summary[f"acc_{t}_mean"] for t in ("valence", "arousal")}


def test_mtcnn_beats_majority_with_trial_split_and_segment_split_leaks(features, tmp_path):
    majority = _accuracy(features, tmp_path, "majority", "trial")
    trial = _accuracy(features, tmp_path, "mtcnn", "trial")
    segment = _accuracy(features, tmp_path, "mtcnn", "segment")
    for t in ("valence", "arousal"):
        assert trial[t] > majority[t] + 0.08, (t, trial, majority)
        assert segment[t] > trial[t] + 0.10, (t, segment, trial)
