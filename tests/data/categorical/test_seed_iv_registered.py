"""SEED-IV as a registered dataset: three sessions read as one recording of 72 clips of their own lengths,
the SEED family's feature recipe, the emotion4 labels, sessions in the model inputs, and the run's checks."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from bench.config.run import RunConfig
from bench.core.errors import ConfigError, DataError
from bench.core.tasks import get_task
from bench.data.cache import prepare_features
from bench.data.categorical import seed_iv as S
from bench.data.categorical.seed_common import CHANNELS
from bench.data.compute import compute_arrays
from bench.data.datasets import get_dataset
from bench.data.datasets.seed import SEED_FEATURES
from bench.data.datasets.seed_iv import TWIN_SECONDS
from bench.data.features import FeatureConfig, extract_features
from bench.data.inputs import InputSpec
from bench.data.source import _complete, open_dataset
from bench.data.synthetic import SyntheticConfig, write_synthetic
from bench.runs.resolved import resolve_run

CONFIG = FeatureConfig.from_dict(SEED_FEATURES)
SYNTH = SyntheticConfig(n_subjects=2, n_trials=72, seed=5, dataset="seed-iv")
CLASSES = np.concatenate([S.SESSION_LABELS[k] for k in (1, 2, 3)])
SESSIONS = np.repeat([1, 2, 3], 24)


@pytest.fixture(scope="module")
def twin(tmp_path_factory):
    folder = tmp_path_factory.mktemp("seed-iv-registered")
    write_synthetic(folder, SYNTH)
    return folder


def _lengths() -> np.ndarray:
    """The twin's clip lengths (samples) in trial order: drawn per session and clip position, the same for
    every subject (module docstring of bench.data.categorical.seed_iv)."""
    return np.concatenate([S.twin_lengths_of(5, k, TWIN_SECONDS) for k in (1, 2, 3)])


def test_the_dataset_is_registered_with_its_task_recipe_and_split():
    ds = get_dataset("seed-iv")
    assert ds.title == "SEED-IV" and ds.env == "SEED_IV_DIR" and ds.categorical and ds.threshold is None
    assert ds.tasks == ds.rating_names == ("emotion4",) and ds.scale == (0.0, 3.0)
    assert ds.n_subjects == 15 and ds.n_trials == 72 and ds.n_sessions == 3
    assert ds.channels == CHANNELS and len(ds.channels) == 62 and ds.sfreq == 200.0
    assert ds.baseline_s == 0.0 and ds.trial_s == 256.0
    assert ds.feature_defaults == SEED_FEATURES
    assert ds.trial_split == (16, 0, 8) and ds.subject_split is None
    assert get_task("emotion4").classes == S.CLASSES  # the class index order is the reader's coding
    assert "labels emotion4 (4 classes)" in ds.describe()


def test_a_subject_is_its_three_sessions_in_folder_order(twin):
    source = open_dataset("seed-iv", twin)
    assert source.synthetic and source.subjects == [1, 2] and _complete(twin, SYNTH)
    files = source.subject_files(2)
    assert [p.parent.name for p in files] == ["1", "2", "3"]
    rec = get_dataset("seed-iv").read(files, 2)
    lengths = _lengths()
    assert rec.eeg.shape == (72, 62, lengths.max()) and rec.channel_names == CHANNELS
    assert TWIN_SECONDS[0] * 200 <= lengths.min() and lengths.max() <= TWIN_SECONDS[1] * 200
    np.testing.assert_array_equal(rec.trial_samples, lengths)
    np.testing.assert_array_equal(rec.sessions, SESSIONS)
    np.testing.assert_array_equal(rec.ratings[:, 0], CLASSES)
    assert [np.bincount(c).tolist() for c in CLASSES.reshape(3, 24)] == [[6, 6, 6, 6]] * 3  # 6 clips each
    short = int(np.argmin(lengths))
    assert not rec.eeg[short, :, lengths[short] :].any()  # zero padding beyond each clip
    assert np.abs(rec.eeg[short, :, lengths[short] - 1]).sum() > 0
    session_3 = S.read_session(files[2], 2, 3)
    for t in (0, 23):
        np.testing.assert_array_equal(rec.eeg[48 + t, :, : lengths[48 + t]], session_3.eeg[t])


def test_each_clip_gets_its_own_windows_and_no_window_sees_the_padding(twin):
    source = open_dataset("seed-iv", twin)
    arrays, _ = compute_arrays(source.root, 1, CONFIG, "seed-iv", source.subject_files(1))
    lengths = _lengths()
    windows = lengths // 200  # 1 s windows at 200 Hz, no overlap
    np.testing.assert_array_equal(arrays["trials"][:, 0], windows)
    np.testing.assert_array_equal(arrays["trials"][:, 1], SESSIONS)
    feats = arrays["features"]
    assert feats.shape == (72, windows.max(), 2, 5, 62)
    for t in range(72):
        assert not feats[t, windows[t] :].any()
        assert np.isfinite(feats[t, : windows[t]]).all() and (feats[t, : windows[t]] != 0).all()
    rec = get_dataset("seed-iv").read(source.subject_files(1), 1)
    t = int(np.argmin(lengths))
    alone = extract_features(rec.eeg[t : t + 1, :, : lengths[t]], CONFIG, sfreq=200.0)
    np.testing.assert_array_equal(feats[t, : windows[t]], alone[0])


def test_inputs_hold_the_real_windows_classes_and_sessions(twin, tmp_path):
    source = open_dataset("seed-iv", twin)
    fs = prepare_features(source, CONFIG, cache_dir=tmp_path, workers=1)
    assert fs.n_windows.shape == (2, 72) and fs.sessions.shape == (2, 72)
    inputs = fs.inputs(InputSpec(n_bands=5), threshold=None)
    windows = _lengths() // 200
    assert len(inputs) == 2 * windows.sum()
    assert inputs.label_tasks == ("emotion4",) and inputs.x.shape[1:] == (10, 8, 9)
    assert set(np.unique(inputs.labels)) == {0, 1, 2, 3}
    t = 30  # session 2, clip 7
    one = (inputs.trial == t) & (inputs.subject == 2)
    assert inputs.segment[one].tolist() == list(range(windows[t]))
    assert set(inputs.labels[one, 0]) == {CLASSES[t]} == {S.SESSION_LABELS[2][6]}
    assert set(inputs.session[inputs.trial == t]) == {2}
    np.testing.assert_array_equal(np.bincount(inputs.session), [0, *(2 * windows.reshape(3, 24).sum(axis=1))])
    hits = []
    again = prepare_features(
        source, CONFIG, cache_dir=tmp_path, workers=1, progress=lambda d, n, hit: hits.append(hit)
    )
    assert hits == [True, True]  # served from the cache, verified, with the same windows and sessions
    np.testing.assert_array_equal(again.n_windows, fs.n_windows)
    np.testing.assert_array_equal(again.sessions, fs.sessions)
    np.testing.assert_array_equal(again.features, fs.features)


def test_runs_on_seed_iv_take_its_task_recipe_and_refuse_what_does_not_apply():
    cfg = RunConfig(dataset="seed-iv", model="mtcnn")
    assert cfg.tasks == ("emotion4",)
    run = resolve_run(cfg)
    assert run.config.feature_config == SEED_FEATURES and run.config.threshold is None
    assert run.input_spec.n_bands == 5 and run.input_spec.sample_shape() == (10, 8, 9)
    with pytest.raises(ConfigError, match=r"^tasks='valence3' is not allowed; allowed: emotion4$"):
        RunConfig(dataset="seed-iv", tasks=("valence3",))
    with pytest.raises(ConfigError, match="SEED-IV's labels are classes, not ratings"):
        resolve_run(RunConfig(dataset="seed-iv", threshold=1.0))
    # the time-domain models read its clips' 128 Hz signal (tests/data/categorical/test_signal_categorical.py)
    assert resolve_run(RunConfig(dataset="seed-iv", model="eegnet")).input_spec.layout == "signal"


def test_a_subject_without_its_three_sessions_is_one_line(twin, tmp_path):
    copy = tmp_path / "SEED_IV"
    shutil.copytree(twin, copy)
    victim = next((copy / "eeg_raw_data" / "2").glob("2_*.mat"))
    victim.unlink()
    with pytest.raises(DataError, match=r"subject 2 has no file in session folder\(s\) 2$") as err:
        open_dataset("seed-iv", copy)
    assert "\n" not in str(err.value)
    with pytest.raises(DataError, match=r"no SEED-IV files of subject\(s\) 3$"):
        open_dataset("seed-iv", twin, [1, 3])
