"""SEED-V as a registered dataset: three NeuroScan sessions read as one recording of 45 clips of their own
lengths (a twin's cut at the table its marker records), the SEED family's feature recipe, the emotion5
labels, sessions in the model inputs, and the run's checks."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from bench.config.run import RunConfig
from bench.core.errors import ConfigError, DataError
from bench.core.tasks import get_task
from bench.data.cache import prepare_features
from bench.data.categorical import seed_v as V
from bench.data.categorical.seed_common import CHANNELS
from bench.data.compute import compute_arrays
from bench.data.datasets import get_dataset
from bench.data.datasets.seed import SEED_FEATURES
from bench.data.features import FeatureConfig, extract_features
from bench.data.inputs import InputSpec
from bench.data.source import _complete, open_dataset
from bench.data.synthetic import MARKER, PARTIAL_MARKER, SyntheticConfig, write_synthetic
from bench.runs.resolved import resolve_run

CONFIG = FeatureConfig.from_dict(SEED_FEATURES)
SYNTH = SyntheticConfig(n_subjects=2, n_trials=45, seed=5, dataset="seed-v")
CLASSES = np.concatenate([V.LABELS[k] for k in (1, 2, 3)])
SESSIONS = np.repeat([1, 2, 3], 15)
# the twin's clips (bench.data.categorical.seed_v.TWIN_TRIALS): 3 or 4 s, in samples at 200 Hz
LENGTHS = np.array([round((b - a) * 200) for k in (1, 2, 3) for a, b in V.TWIN_TRIALS[k]])


@pytest.fixture(scope="module")
def twin(tmp_path_factory):
    folder = tmp_path_factory.mktemp("seed-v-registered")
    write_synthetic(folder, SYNTH)
    return folder


def test_the_dataset_is_registered_with_its_task_recipe_and_split():
    ds = get_dataset("seed-v")
    assert ds.title == "SEED-V" and ds.env == "SEED_V_DIR" and ds.categorical and ds.threshold is None
    assert ds.tasks == ds.rating_names == ("emotion5",) and ds.scale == (0.0, 4.0)
    assert ds.n_subjects == 16 and ds.n_trials == 45 and ds.n_sessions == 3
    assert ds.channels == CHANNELS and "M1" not in ds.channels and ds.sfreq == 200.0 == V.SFREQ
    assert ds.baseline_s == 0.0 and ds.trial_s == 297.0 == V.TRIALS[1][6][1] - V.TRIALS[1][6][0]
    assert ds.feature_defaults == SEED_FEATURES
    assert ds.trial_split == (5, 5, 5) and ds.subject_split is None
    assert get_task("emotion5").classes == V.LABEL_NAMES  # the class index order is the reader's coding
    assert "labels emotion5 (5 classes)" in ds.describe()


def test_a_subject_is_its_three_sessions_cut_at_the_twins_table(twin):
    source = open_dataset("seed-v", twin)
    assert source.synthetic and source.subjects == [1, 2] and _complete(twin, SYNTH)
    marker = json.loads((twin / MARKER).read_text())
    assert marker["dataset"] == "seed-v" and marker["twin_arguments"]["seed"] == 5
    assert not (twin / PARTIAL_MARKER).exists()
    files = source.subject_files(2)
    assert [p.name.split("_")[:2] for p in files] == [["2", "1"], ["2", "2"], ["2", "3"]]
    rec = get_dataset("seed-v").read(files, 2)
    assert rec.eeg.shape == (45, 62, 800) and rec.channel_names == CHANNELS and rec.sfreq == 200.0
    np.testing.assert_array_equal(rec.trial_samples, LENGTHS)
    np.testing.assert_array_equal(rec.sessions, SESSIONS)
    np.testing.assert_array_equal(rec.ratings[:, 0], CLASSES)
    assert sorted(np.bincount(CLASSES.astype(int))) == [9] * 5
    short = int(np.argmin(LENGTHS))
    assert LENGTHS[short] == 600 and not rec.eeg[short, :, 600:].any()  # zero padding beyond the clip
    assert np.abs(rec.eeg[short, :, 599]).sum() > 0
    session_2 = V.read_session(files[1], trials=V.TWIN_TRIALS)
    for t in (0, 14):
        np.testing.assert_array_equal(rec.eeg[15 + t, :, : LENGTHS[15 + t]], session_2.eeg[t])


def test_each_clip_gets_its_own_windows_and_no_window_sees_the_padding(twin):
    source = open_dataset("seed-v", twin)
    arrays, _ = compute_arrays(source.root, 1, CONFIG, "seed-v", source.subject_files(1))
    windows = LENGTHS // 200  # 1 s windows at 200 Hz, no overlap: 3 or 4
    np.testing.assert_array_equal(arrays["trials"][:, 0], windows)
    np.testing.assert_array_equal(arrays["trials"][:, 1], SESSIONS)
    feats = arrays["features"]
    assert feats.shape == (45, 4, 2, 5, 62)
    for t in range(45):
        assert not feats[t, windows[t] :].any()
        assert np.isfinite(feats[t, : windows[t]]).all() and (feats[t, : windows[t]] != 0).all()
    rec = get_dataset("seed-v").read(source.subject_files(1), 1)
    alone = extract_features(rec.eeg[0:1, :, : LENGTHS[0]], CONFIG, sfreq=200.0)
    np.testing.assert_array_equal(feats[0, : windows[0]], alone[0])


def test_inputs_hold_the_real_windows_classes_and_sessions(twin, tmp_path):
    source = open_dataset("seed-v", twin)
    fs = prepare_features(source, CONFIG, cache_dir=tmp_path, workers=1)
    assert fs.n_windows.shape == (2, 45) and fs.sessions.shape == (2, 45)
    inputs = fs.inputs(InputSpec(n_bands=5), threshold=None)
    windows = LENGTHS // 200
    assert len(inputs) == 2 * windows.sum()
    assert inputs.label_tasks == ("emotion5",) and inputs.x.shape[1:] == (10, 8, 9)
    assert set(np.unique(inputs.labels)) == {0, 1, 2, 3, 4}
    t = 33  # session 3, clip 4
    one = (inputs.trial == t) & (inputs.subject == 1)
    assert inputs.segment[one].tolist() == list(range(windows[t]))
    assert set(inputs.labels[one, 0]) == {CLASSES[t]} == {V.LABELS[3][3]}
    assert set(inputs.session[inputs.trial == t]) == {3}
    hits = []
    again = prepare_features(
        source, CONFIG, cache_dir=tmp_path, workers=1, progress=lambda d, n, hit: hits.append(hit)
    )
    assert hits == [True, True]  # served from the cache, verified, with the same windows and sessions
    np.testing.assert_array_equal(again.n_windows, fs.n_windows)
    np.testing.assert_array_equal(again.sessions, fs.sessions)
    np.testing.assert_array_equal(again.features, fs.features)


def test_runs_on_seed_v_take_its_task_recipe_and_refuse_what_does_not_apply():
    cfg = RunConfig(dataset="seed-v", model="mtcnn")
    assert cfg.tasks == ("emotion5",)
    run = resolve_run(cfg)
    assert run.config.feature_config == SEED_FEATURES and run.config.threshold is None
    assert run.input_spec.n_bands == 5 and run.input_spec.sample_shape() == (10, 8, 9)
    with pytest.raises(ConfigError, match=r"^tasks='emotion4' is not allowed; allowed: emotion5"):
        RunConfig(dataset="seed-v", tasks=("emotion4",))
    with pytest.raises(ConfigError, match="SEED-V's labels are classes, not ratings"):
        resolve_run(RunConfig(dataset="seed-v", threshold=1.0))
    # the time-domain models read its clips' 128 Hz signal (tests/data/categorical/test_signal_categorical.py)
    assert resolve_run(RunConfig(dataset="seed-v", model="eegnet")).input_spec.layout == "signal"


def test_a_copy_without_the_twins_marker_is_cut_at_the_real_table_and_refused_in_one_line(twin, tmp_path):
    copy = tmp_path / "SEED-V"
    shutil.copytree(twin, copy)
    (copy / MARKER).unlink()
    source = open_dataset("seed-v", copy)
    assert not source.synthetic
    with pytest.raises(
        DataError, match=r"1_1_\d{8}\.cnt: [\d.]+ s recorded, the session's last trial ends at 3359 s$"
    ) as err:
        get_dataset("seed-v").read(source.subject_files(1), 1)
    assert "\n" not in str(err.value)
    (copy / MARKER).write_text('{"dataset": "seed-v", "twin_arguments": {"trials": []}}')
    with pytest.raises(DataError, match=r"SYNTHETIC.json: not a SEED-V twin's marker with its trial table$"):
        get_dataset("seed-v").read(source.subject_files(1), 1)
