"""The time-domain input on the categorical datasets (SEED's and FACED's twins): each clip's real samples
resampled to 128 Hz and band-passed, windows only from those samples, each labelled with its clip's
classes and session, and a time-domain model trained and tested on them."""

from __future__ import annotations

import numpy as np
import pytest

from bench.config.run import RunConfig
from bench.core.errors import ConfigError
from bench.core.tasks import get_task
from bench.data.cache import prepare_features
from bench.data.categorical import faced as F
from bench.data.categorical import seed as S
from bench.data.categorical import seed_common as C
from bench.data.compute import compute_arrays
from bench.data.contents import Contents
from bench.data.datasets import get_dataset
from bench.data.datasets.faced import TWIN_SAMPLES
from bench.data.datasets.seed import SEED_FEATURES
from bench.data.features import FeatureConfig
from bench.data.inputs import InputSpec
from bench.data.signal import band_limited
from bench.data.source import open_dataset
from bench.data.synthetic import SyntheticConfig, write_synthetic
from bench.runs.resolved import resolve_run

CONFIG = FeatureConfig.from_dict(SEED_FEATURES)
BAND = (4.0, 45.0)
SIGNAL = Contents(signal_band=BAND)
WIN = 512  # 4 s at 128 Hz, the time-domain models' default window


def _seed_lengths() -> np.ndarray:
    """SEED's twin's clip lengths (samples at 200 Hz) of the 45 trials, the same for every subject."""
    return np.tile(C.twin_lengths(C.twin_rng(S._TWIN_TAG, 5, 0), 15, S.TWIN_SECONDS), 3)


def _direct(eeg: np.ndarray, n: int, sfreq: float) -> np.ndarray:
    """One clip's first ``n`` samples resampled to 128 Hz (polyphase) and band-passed, computed on its own."""
    from scipy.signal import resample_poly

    up, down = {200.0: (16, 25), 250.0: (64, 125)}[sfreq]
    x = resample_poly(np.asarray(eeg[None, :, :n], dtype=np.float64), up, down, axis=-1)
    return band_limited(x, 128.0, BAND)[0]


@pytest.fixture(scope="module")
def seed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("seed-signal")
    write_synthetic(folder / "seed", SyntheticConfig(n_subjects=2, n_trials=45, seed=5, dataset="seed"))
    source = open_dataset("seed", folder / "seed")
    fs = prepare_features(source, CONFIG, cache_dir=folder / "cache", workers=1, contents=SIGNAL)
    return source, fs, folder


def test_a_seed_signal_entry_holds_each_clips_real_samples_at_128_hz(seed):
    source, _, _ = seed
    files = source.subject_files(1)
    arrays, _ = compute_arrays(source.root, 1, CONFIG, "seed", files, contents=SIGNAL)
    lengths = _seed_lengths()
    real = np.array([-(-n * 128 // 200) for n in lengths])  # ceil: e.g. 20 s at 200 Hz: 2560 samples
    np.testing.assert_array_equal(arrays["trials"][:, 2], real)
    np.testing.assert_array_equal(arrays["trials"][:, 1], np.repeat([1, 2, 3], 15))
    sig = arrays["signal"]
    assert sig.dtype == np.float32 and sig.shape == (45, 62, real.max())
    for t in range(45):
        assert not sig[t, :, real[t] :].any() and np.abs(sig[t, :, real[t] - 1]).sum() > 0
    rec = get_dataset("seed").read(files, 1)
    t = int(np.argmin(lengths))  # the shortest clip: the most padding after it
    np.testing.assert_allclose(
        sig[t, :, : real[t]], _direct(rec.eeg[t], lengths[t], 200.0), rtol=0, atol=1e-4
    )


def test_clip_signal_resamples_each_clip_to_128_hz_without_its_padding():
    """A 10 Hz and a 30 Hz sine at 200 Hz (and at 250 Hz) come out as the same sines sampled at 128 Hz,
    band-passed, in phase; a shorter clip padded with garbage is as if cut alone."""
    from bench.data.signal import clip_signal

    for sfreq, n in ((200.0, 6000), (250.0, 7500)):  # 30 s
        t = np.arange(n) / sfreq
        x = np.zeros((2, 2, n))
        x[0] = [np.sin(2 * np.pi * 10 * t), np.sin(2 * np.pi * 30 * t + 1)]
        x[1, :, : n // 2] = x[0, :, : n // 2]
        x[1, :, n // 2 :] = 1e6  # beyond the second clip's real samples: never read
        sig, real = clip_signal(x, np.array([n, n // 2]), sfreq, BAND)
        assert real.tolist() == [3840, 1920] and sig.shape == (2, 2, 3840) and not sig[1, :, 1920:].any()
        t128 = np.arange(3840) / 128.0
        clean = np.stack([np.sin(2 * np.pi * 10 * t128), np.sin(2 * np.pi * 30 * t128 + 1)])
        expected = band_limited(clean[None], 128.0, BAND)[0]
        mid = slice(256, -256)  # 2 s from the ends, which the filters see zero beyond
        np.testing.assert_allclose(sig[0][:, mid], expected[:, mid], rtol=0, atol=2e-3)  # MNE FFT: 0.08
        alone, _ = clip_signal(x[1:, :, : n // 2], np.array([n // 2]), sfreq, BAND)
        np.testing.assert_array_equal(sig[1, :, :1920], alone[0])


def test_seed_signal_windows_come_from_real_samples_with_their_clips_labels_and_sessions(seed):
    source, fs, _ = seed
    real = np.array([-(-n * 128 // 200) for n in _seed_lengths()])
    per_clip = (real - WIN) // WIN + 1  # 4 s windows without overlap that fit in each clip
    np.testing.assert_array_equal(fs.signal_samples, np.stack([real, real]))
    spec = InputSpec(layout="signal", n_channels=62, window_s=4.0)
    mi = fs.inputs(spec, threshold=None)
    assert mi.x.shape == (2 * per_clip.sum(), 62, WIN) and mi.x.dtype == np.float32
    assert mi.label_tasks == ("valence3",) and set(np.unique(mi.labels)) == {0, 1, 2}
    classes = np.tile(np.array(S.LABELS) + 1, 3)
    for subject in (1, 2):
        for t in range(45):
            mine = (mi.subject == subject) & (mi.trial == t)
            assert mi.segment[mine].tolist() == list(range(per_clip[t]))
            assert (mi.labels[mine, 0] == classes[t]).all() and (mi.session[mine] == t // 15 + 1).all()
    # a window is the clip's band-passed 128 Hz signal at its offset, computed directly from the recording
    rec = get_dataset("seed").read(source.subject_files(2), 2)
    t, k = 20, 3
    i = int(np.flatnonzero((mi.subject == 2) & (mi.trial == t) & (mi.segment == k))[0])
    direct = _direct(rec.eeg[t], int(_seed_lengths()[t]), 200.0)
    np.testing.assert_allclose(mi.x[i], direct[:, k * WIN : (k + 1) * WIN], rtol=0, atol=1e-4)
    # half-overlapping windows: (real - 512) // 256 + 1 per clip, still none from the padding
    hop = fs.inputs(InputSpec(layout="signal", n_channels=62, window_s=4.0, hop_s=2.0), threshold=None)
    assert len(hop) == 2 * ((real - WIN) // (WIN // 2) + 1).sum()
    # SEED's binary valence (derived from valence3) leaves the neutral clips' windows out
    both = fs.inputs(spec, threshold=None, tasks=("valence",))
    assert len(both) == 2 * per_clip[classes != 1].sum()


def test_a_faced_signal_holds_both_tasks_per_window_and_the_clip_at_its_offset(tmp_path):
    write_synthetic(tmp_path / "faced", SyntheticConfig(n_subjects=2, n_trials=28, seed=5, dataset="faced"))
    source = open_dataset("faced", tmp_path / "faced")
    fs = prepare_features(source, CONFIG, cache_dir=tmp_path / "cache", workers=1, contents=SIGNAL)
    real = TWIN_SAMPLES * 128 // 250  # 10 s at 250 Hz: 1280 samples at 128 Hz, two 4 s windows
    assert real == 1280 and (fs.signal_samples == real).all()
    mi = fs.inputs(InputSpec(layout="signal", n_channels=32, window_s=4.0), threshold=None)
    assert mi.x.shape == (2 * 28 * 2, 32, WIN) and mi.label_tasks == ("emotion9", "valence3")
    np.testing.assert_array_equal(mi.labels, np.column_stack([F.EMOTION, F.VALENCE])[mi.trial])
    assert set(mi.session) == {1} and mi.segment.tolist() == [0, 1] * (2 * 28)
    rec = get_dataset("faced").read(source.subject_files(1), 1)
    i = int(np.flatnonzero((mi.subject == 1) & (mi.trial == 16) & (mi.segment == 1))[0])
    direct = _direct(rec.eeg[16], TWIN_SAMPLES, 250.0)
    np.testing.assert_allclose(mi.x[i], direct[:, WIN : 2 * WIN], rtol=0, atol=1e-4)
    # served from the cache the second time with the same clip lengths
    again = prepare_features(source, CONFIG, cache_dir=tmp_path / "cache", workers=1, contents=SIGNAL)
    np.testing.assert_array_equal(again.signal_samples, fs.signal_samples)


def test_the_time_domain_models_resolve_on_every_categorical_dataset_but_not_on_published_features():
    for dataset in ("seed", "seed-iv", "seed-v", "faced"):
        for model in ("eegnet", "shallowconvnet", "deepconvnet", "tsception"):
            run = resolve_run(RunConfig(dataset=dataset, model=model))
            assert run.input_spec.layout == "signal"
    with pytest.raises(ConfigError, match="reads the EEG signal, which published feature files do not hold"):
        resolve_run(RunConfig(dataset="seed", model="eegnet", feature_config={"published": "lds"}))


@pytest.mark.slow  # an end-to-end run (about 20-45 s on 2 cores)
def test_eegnet_trains_and_tests_on_seed_session_trials(seed, monkeypatch, tmp_path):
    import bench

    source, _, folder = seed
    monkeypatch.setenv("DEAP_BENCH_CACHE", str(folder / "cache"))  # the module's signal entries
    res = bench.run("eegnet", "session-trials", "seed", data_dir=str(source.root), epochs=1,
                    tracking_uri=f"sqlite:///{tmp_path / 'm.db'}", echo=lambda m: None,
                    warn=lambda m: None)  # fmt: skip
    m = res.metrics
    assert set(m["task"]) == {"valence3"} and len(m) == 2 * 3  # 2 subjects x 3 sessions
    assert ((m["acc"] >= 0) & (m["acc"] <= 1)).all() and (m["epochs"] == 1).all()
    assert res.config.tasks == ("valence3",) and get_task("valence3").n_classes == 3
    summary = res.summary().set_index(["task", "metric"])
    assert 0 <= summary.loc[("valence3", "balanced_acc"), "mean"] <= 1


def test_the_tables_ask_for_time_domain_cells_except_on_published_features():
    import pandas as pd

    from bench.results.datasets import DataSet
    from bench.results.store import Store

    empty = pd.DataFrame()
    store = Store("seed-synthetic", "f" * 16, None, empty, empty, empty)
    assert store.applies("eegnet") and store.applies("tsception") and store.applies("mtcnn")
    assert store.asks("eegnet", "session-trials", "trial")
    words = "published features: SEED ExtractedFeatures de/psd LDS (1 s windows; smoothing: ...)"
    listed = DataSet("seed-synthetic", "f" * 16, 2, 45, 1, 0, features_source=words)
    published = Store("seed-synthetic", "f" * 16, None, empty, empty, empty, dataset=listed)
    assert not published.applies("eegnet") and published.applies("mtcnn")


def test_the_signal_set_is_the_maps_data_set_in_mlflow(seed):
    """One MLflow dataset per data set: the signal's profile gives the maps' windows (the longest clip's),
    not the real dataset's longest clip."""
    from bench.tracking.store import dataset

    source, fs, folder = seed
    maps = prepare_features(source, CONFIG, cache_dir=folder / "cache", workers=1)
    assert fs.fingerprint == maps.fingerprint and fs.features.shape[2] == 0
    assert dataset(fs).profile == dataset(maps).profile
