"""SEED as a registered dataset: three sessions read as one recording of clips of their own lengths, the
SEED feature recipe, categorical labels, sessions in the model inputs, and the run's checks."""

from __future__ import annotations

import numpy as np
import pytest

from bench.config.run import RunConfig
from bench.core.errors import ConfigError, DataError
from bench.data.cache import prepare_features
from bench.data.categorical import seed as S
from bench.data.categorical import seed_common as C
from bench.data.compute import compute_arrays
from bench.data.datasets import get_dataset
from bench.data.datasets.seed import SEED_FEATURES
from bench.data.features import FeatureConfig
from bench.data.inputs import InputSpec
from bench.data.source import open_dataset
from bench.data.synthetic import SyntheticConfig, write_synthetic
from bench.runs.resolved import resolve_run

CONFIG = FeatureConfig.from_dict(SEED_FEATURES)
CLASSES = np.array(S.LABELS) + 1


@pytest.fixture(scope="module")
def twin(tmp_path_factory):
    folder = tmp_path_factory.mktemp("seed-registered")
    write_synthetic(folder, SyntheticConfig(n_subjects=2, n_trials=45, seed=5, dataset="seed"))
    return folder


def _lengths() -> np.ndarray:
    """The twin's clip lengths (samples), the same for every subject and session (module docstring of
    bench.data.categorical.seed)."""
    return np.array(C.twin_lengths(C.twin_rng(S._TWIN_TAG, 5, 0), 15, S.TWIN_SECONDS))


def test_the_dataset_is_registered_with_its_task_and_recipe():
    ds = get_dataset("seed")
    assert ds.categorical and ds.tasks == ("valence3",) and ds.n_sessions == 3
    assert ds.n_trials == 45 and len(ds.channels) == 62 and ds.sfreq == 200.0
    assert CONFIG.band_names == ("delta", "theta", "alpha", "beta", "gamma")
    assert CONFIG.window_s == 1.0 and CONFIG.baseline == "none"
    assert "labels valence3 (3 classes)" in ds.describe()


def test_a_subject_is_its_three_sessions_in_date_order(twin):
    source = open_dataset("seed", twin)
    assert source.synthetic and source.subjects == [1, 2]
    files = source.subject_files(2)
    assert [p.name for p in files][-1] == "label.mat" and len(files) == 4
    rec = get_dataset("seed").read(files, 2)
    lengths = np.tile(_lengths(), 3)
    assert rec.eeg.shape == (45, 62, lengths.max())
    np.testing.assert_array_equal(rec.trial_samples, lengths)
    np.testing.assert_array_equal(rec.sessions, np.repeat([1, 2, 3], 15))
    np.testing.assert_array_equal(rec.ratings[:, 0], np.tile(CLASSES, 3))
    short = int(np.argmin(lengths))
    assert not rec.eeg[short, :, lengths[short] :].any()  # zero padding beyond each clip
    assert np.abs(rec.eeg[short, :, lengths[short] - 1]).sum() > 0
    session_2 = S.read_session(files[1], 2, 2)
    np.testing.assert_array_equal(rec.eeg[15 + short, :, : lengths[short]], session_2.eeg[short])


def test_each_clip_gets_its_own_windows_and_no_window_sees_the_padding(twin):
    source = open_dataset("seed", twin)
    arrays, _ = compute_arrays(source.root, 1, CONFIG, "seed", source.subject_files(1))
    lengths = np.tile(_lengths(), 3)
    windows = lengths // 200  # 1 s windows at 200 Hz, no overlap
    np.testing.assert_array_equal(arrays["trials"][:, 0], windows)
    np.testing.assert_array_equal(arrays["trials"][:, 1], np.repeat([1, 2, 3], 15))
    feats = arrays["features"]
    assert feats.shape == (45, windows.max(), 2, 5, 62)
    for t in range(45):
        assert not feats[t, windows[t] :].any()
        assert np.isfinite(feats[t, : windows[t]]).all() and (feats[t, : windows[t]] != 0).all()
    # a clip's windows are those of the clip alone: the same as extracting it by itself
    from bench.data.features import extract_features

    rec = get_dataset("seed").read(source.subject_files(1), 1)
    alone = extract_features(rec.eeg[7:8, :, : lengths[7]], CONFIG, sfreq=200.0)
    np.testing.assert_array_equal(feats[7, : windows[7]], alone[0])


def test_inputs_hold_the_real_windows_classes_and_sessions(twin, tmp_path):
    source = open_dataset("seed", twin)
    fs = prepare_features(source, CONFIG, cache_dir=tmp_path, workers=1)
    assert fs.n_windows.shape == (2, 45) and fs.sessions.shape == (2, 45)
    spec = InputSpec(n_bands=5)
    inputs = fs.inputs(spec, threshold=None)
    windows = np.tile(_lengths() // 200, 3)
    assert len(inputs) == 2 * windows.sum()
    assert inputs.label_tasks == ("valence3",) and inputs.x.shape[1:] == (10, 8, 9)
    assert set(np.unique(inputs.labels)) == {0, 1, 2}
    first = inputs.trial == 20
    assert inputs.segment[first & (inputs.subject == 1)].tolist() == list(range(windows[20]))
    np.testing.assert_array_equal(inputs.labels[first, 0], CLASSES[20 - 15])
    assert set(inputs.session[first]) == {2}
    # served from the cache the second time, verified, with the same windows and sessions
    again = prepare_features(source, CONFIG, cache_dir=tmp_path, workers=1)
    np.testing.assert_array_equal(again.n_windows, fs.n_windows)
    np.testing.assert_array_equal(again.sessions, fs.sessions)
    np.testing.assert_array_equal(again.features, fs.features)


def test_runs_on_seed_take_its_task_recipe_and_refuse_what_does_not_apply():
    cfg = RunConfig(dataset="seed", model="mtcnn")
    assert cfg.tasks == ("valence3",)
    run = resolve_run(cfg)
    assert run.config.feature_config == SEED_FEATURES and run.config.threshold is None
    assert run.input_spec.n_bands == 5 and run.input_spec.sample_shape() == (10, 8, 9)
    with pytest.raises(ConfigError, match=r"^tasks='arousal' is not allowed; allowed: valence3, valence$"):
        RunConfig(dataset="seed", tasks=("arousal",))
    with pytest.raises(ConfigError, match="SEED's labels are classes, not ratings"):
        resolve_run(RunConfig(dataset="seed", threshold=1.0))
    # the time-domain models read its clips' 128 Hz signal (tests/data/categorical/test_signal_categorical.py)
    assert resolve_run(RunConfig(dataset="seed", model="eegnet")).input_spec.layout == "signal"
    with pytest.raises(ConfigError) as err:
        RunConfig(dataset="deap", protocol="cross-dataset", test_dataset="seed-iv")
    assert str(err.value) == (
        "test_dataset='seed-iv': DEAP's labels (valence, arousal) and SEED-IV's (emotion4) share no task, "
        "and none is derived from the other's; a cross-dataset run needs one"
    )
    # the rating datasets' runs are untouched: no feature defaults, their own threshold
    deap = resolve_run(RunConfig())
    assert deap.config.feature_config == {} and deap.config.threshold == 5.0 and deap.input_spec.n_bands == 4


def test_a_subject_without_its_three_sessions_is_one_line(twin, tmp_path):
    import shutil

    copy = tmp_path / "SEED"
    shutil.copytree(twin, copy)
    victim = sorted((copy / "Preprocessed_EEG").glob("2_*.mat"))[1]
    victim.unlink()
    with pytest.raises(DataError, match=r"subject 2 has 2 session file\(s\)"):
        open_dataset("seed", copy)
