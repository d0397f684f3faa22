"""FACED as a registered dataset: a subject's 28 clips read as one recording of one session with two label
columns (emotion9, valence3), the SEED family's feature recipe, the labels of both tasks in the model
inputs, and the run's checks."""

from __future__ import annotations

import pickle
import shutil

import numpy as np
import pytest

from bench.config.run import RunConfig
from bench.core.errors import ConfigError, DataError
from bench.core.tasks import get_task
from bench.data.cache import prepare_features
from bench.data.categorical import faced as F
from bench.data.compute import compute_arrays
from bench.data.datasets import get_dataset
from bench.data.datasets.faced import TWIN_SAMPLES
from bench.data.datasets.seed import SEED_FEATURES
from bench.data.features import FeatureConfig, extract_features
from bench.data.inputs import InputSpec
from bench.data.source import _complete, open_dataset
from bench.data.synthetic import SyntheticConfig, write_synthetic
from bench.runs.resolved import resolve_run

CONFIG = FeatureConfig.from_dict(SEED_FEATURES)
SYNTH = SyntheticConfig(n_subjects=2, n_trials=28, seed=5, dataset="faced")
EMOTION, VALENCE = np.array(F.EMOTION), np.array(F.VALENCE)
WINDOWS = TWIN_SAMPLES // 250  # 1 s windows at 250 Hz


@pytest.fixture(scope="module")
def twin(tmp_path_factory):
    folder = tmp_path_factory.mktemp("faced-registered")
    write_synthetic(folder, SYNTH)
    return folder


def test_the_dataset_is_registered_with_its_two_tasks_recipe_and_split():
    ds = get_dataset("faced")
    assert ds.title == "FACED" and ds.env == "FACED_DIR" and ds.categorical and ds.threshold is None
    assert ds.tasks == ds.rating_names == ("emotion9", "valence3") and ds.scale == (0.0, 8.0)
    assert ds.n_subjects == 123 and ds.n_trials == 28 and ds.n_sessions == 1
    assert ds.channels == F.CHANNELS and len(ds.channels) == 32 and ds.channels[-2:] == ("A2", "A1")
    assert ds.sfreq == 250.0 and ds.baseline_s == 0.0 and ds.trial_s == 30.0 and ds.n_samples == 7500
    assert ds.feature_defaults == SEED_FEATURES
    assert ds.subject_split == (80, 20, 23) and ds.trial_split is None
    # the class index order is the reader's coding, for both label sets
    assert get_task("emotion9").classes == F.EMOTION_NAMES and get_task("valence3").classes == F.VALENCE_NAMES
    assert "labels emotion9 (9 classes), valence3 (3 classes)" in ds.describe()


def test_a_subject_is_its_28_clips_with_both_label_columns(twin):
    source = open_dataset("faced", twin)
    assert source.synthetic and source.subjects == [1, 2] and _complete(twin, SYNTH)
    files = source.subject_files(2)
    assert [p.name for p in files] == ["sub001.pkl"]
    rec = get_dataset("faced").read(files, 2)
    assert rec.subject == 2 and rec.eeg.shape == (28, 32, TWIN_SAMPLES) and rec.channel_names == F.CHANNELS
    np.testing.assert_array_equal(rec.trial_samples, np.full(28, TWIN_SAMPLES))
    assert rec.sessions is None or (np.asarray(rec.sessions) == 1).all()
    np.testing.assert_array_equal(rec.ratings, np.column_stack([EMOTION, VALENCE]))
    assert np.bincount(EMOTION).tolist() == [3, 3, 3, 3, 4, 3, 3, 3, 3] and np.bincount(VALENCE).tolist() == [
        12,
        4,
        12,
    ]
    assert (np.abs(rec.eeg[:, :, -1]).sum(axis=1) > 0).all()  # equal clips: no padding
    np.testing.assert_array_equal(rec.eeg, np.stack(F.read_session(files[0]).eeg))


def test_each_clip_gets_its_windows(twin):
    source = open_dataset("faced", twin)
    arrays, _ = compute_arrays(source.root, 1, CONFIG, "faced", source.subject_files(1))
    np.testing.assert_array_equal(arrays["trials"], np.column_stack([np.full(28, WINDOWS), np.ones(28)]))
    feats = arrays["features"]
    assert feats.shape == (28, WINDOWS, 2, 5, 32)
    assert np.isfinite(feats).all() and (feats != 0).all()
    rec = get_dataset("faced").read(source.subject_files(1), 1)
    np.testing.assert_array_equal(feats, extract_features(rec.eeg, CONFIG, sfreq=250.0))


def test_inputs_hold_the_windows_the_classes_of_both_tasks_and_one_session(twin, tmp_path):
    source = open_dataset("faced", twin)
    fs = prepare_features(source, CONFIG, cache_dir=tmp_path, workers=1)
    assert fs.n_windows.shape == (2, 28) and fs.sessions.shape == (2, 28)
    inputs = fs.inputs(InputSpec(n_bands=5), threshold=None)
    assert len(inputs) == 2 * 28 * WINDOWS
    assert inputs.label_tasks == ("emotion9", "valence3") and inputs.x.shape[1:] == (10, 8, 9)
    assert inputs.labels.shape == (len(inputs), 2) and inputs.label_columns(("valence3",)) == [1]
    np.testing.assert_array_equal(inputs.labels, np.column_stack([EMOTION, VALENCE])[inputs.trial])
    assert set(np.unique(inputs.labels[:, 0])) == set(range(9)) and set(np.unique(inputs.labels[:, 1])) == {
        0,
        1,
        2,
    }
    one = (inputs.trial == 16) & (inputs.subject == 2)  # clip 17: amusement, positive
    assert inputs.segment[one].tolist() == list(range(WINDOWS))
    assert {tuple(r) for r in inputs.labels[one]} == {(5, 2)}
    assert set(inputs.session) == {1}
    hits = []
    again = prepare_features(
        source, CONFIG, cache_dir=tmp_path, workers=1, progress=lambda d, n, hit: hits.append(hit)
    )
    assert hits == [True, True]  # served from the cache, verified, with the same windows and labels
    np.testing.assert_array_equal(again.n_windows, fs.n_windows)
    np.testing.assert_array_equal(again.ratings, fs.ratings)
    np.testing.assert_array_equal(again.features, fs.features)


def test_runs_on_faced_take_its_tasks_recipe_and_refuse_what_does_not_apply():
    cfg = RunConfig(dataset="faced", model="mtcnn")
    assert cfg.tasks == ("valence3", "emotion9")  # both; a run's tasks come in the registry's order
    assert RunConfig(dataset="faced", tasks=("emotion9",)).tasks == ("emotion9",)
    run = resolve_run(cfg)
    assert run.config.feature_config == SEED_FEATURES and run.config.threshold is None
    assert run.input_spec.n_bands == 5 and run.input_spec.sample_shape() == (10, 8, 9)
    with pytest.raises(ConfigError, match=r"^tasks='emotion5' is not allowed; allowed: emotion9, valence3"):
        RunConfig(dataset="faced", tasks=("emotion5",))
    with pytest.raises(ConfigError, match="FACED's labels are classes, not ratings"):
        resolve_run(RunConfig(dataset="faced", threshold=1.0))
    # the time-domain models read its clips' 128 Hz signal (tests/data/categorical/test_signal_categorical.py)
    assert resolve_run(RunConfig(dataset="faced", model="eegnet")).input_spec.layout == "signal"


def test_a_subject_file_of_the_wrong_shape_is_one_line(twin, tmp_path):
    copy = tmp_path / "FACED"
    shutil.copytree(twin, copy)
    victim = copy / "Processed_data" / "sub001.pkl"
    victim.write_bytes(pickle.dumps(np.zeros((28, 30, 500)), protocol=4))
    source = open_dataset("faced", copy)
    with pytest.raises(
        DataError, match=r"sub001\.pkl: array of shape \(28, 30, 500\), expected \(28, 32, samples\)$"
    ) as err:
        get_dataset("faced").read(source.subject_files(2), 2)
    assert "\n" not in str(err.value)
    with pytest.raises(DataError, match=r"sub000\.pkl: the file name says subject 1, asked for subject 2$"):
        get_dataset("faced").read(source.subject_files(1), 2)
