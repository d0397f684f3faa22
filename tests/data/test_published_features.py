"""Published feature files as a run's feature source (``-F published=NAME``): each twin's published set
round-trips into the FeatureSet layout with the low-level readers' values, the refusals are one line,
the run key and variant name the source, and a bad file caches nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

import bench
from bench.config.run import RunConfig
from bench.core.errors import ConfigError, DataError
from bench.data.cache import list_cached, prepare_features
from bench.data.categorical import faced as F
from bench.data.categorical import seed as S
from bench.data.categorical import seed_iv as S4
from bench.data.datasets.matfile import save_mat
from bench.data.features import FeatureConfig
from bench.data.published import feature_options, published_of, published_tags
from bench.data.source import open_dataset
from bench.data.synthetic import SyntheticConfig, write_synthetic
from bench.runs.identity import resolve_config
from bench.runs.plan import prepare
from bench.runs.resolved import resolve_run


def _twin(factory, dataset: str, n_trials: int) -> Path:
    folder = factory.mktemp(f"pub-{dataset}")
    write_synthetic(folder, SyntheticConfig(n_subjects=2, n_trials=n_trials, seed=3, dataset=dataset))
    return folder


@pytest.fixture(scope="module")
def seed_twin(tmp_path_factory) -> Path:
    return _twin(tmp_path_factory, "seed", 45)


@pytest.fixture(scope="module")
def seed_iv_twin(tmp_path_factory) -> Path:
    return _twin(tmp_path_factory, "seed-iv", 72)


@pytest.fixture(scope="module")
def faced_twin(tmp_path_factory) -> Path:
    return _twin(tmp_path_factory, "faced", 28)


def _config(dataset: str, name: str) -> FeatureConfig:
    return FeatureConfig.from_dict(feature_options(dataset, {"published": name}))


def _one_line(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert "\n" not in text
    return text


@pytest.mark.parametrize(("name", "smoothing"), [("lds", "LDS"), ("moving-average", "movingAve")])
def test_seed_round_trips_the_reader_values(seed_twin, tmp_path, name, smoothing):
    fs = prepare_features(open_dataset("seed", seed_twin), _config("seed", name), cache_dir=tmp_path)
    assert fs.kinds == ("de", "psd") and fs.features.shape[:2] == (2, 45)
    assert fs.features.shape[3:] == (2, 5, 62) and fs.config.window_s == 1.0
    np.testing.assert_array_equal(fs.sessions[1], np.repeat([1, 2, 3], 15))
    np.testing.assert_array_equal(fs.ratings[0, :, 0], np.tile(np.array(S.LABELS) + 1, 3))
    files = sorted((seed_twin / S.FEATURE_FOLDER).glob("2_*.mat"))
    for k, kind in enumerate(("de", "psd")):
        got = S.read_features(files[2], 2, 3, kind=kind, smoothing=smoothing)  # subject 2, session 3
        for t in (0, 7, 14):
            x = got.features[t]  # (W, 62, 5)
            assert fs.n_windows[1, 30 + t] == len(x)
            assert fs.features[1, 30 + t, 3, k, 2, 10] == x[3, 10, 2]  # window 3, alpha, channel 10
            np.testing.assert_array_equal(fs.features[1, 30 + t, : len(x), k], x.transpose(0, 2, 1))
            assert not fs.features[1, 30 + t, len(x) :].any()  # padding beyond the trial's windows


def test_seed_iv_round_trips_with_4_s_windows(seed_iv_twin, tmp_path):
    source = open_dataset("seed-iv", seed_iv_twin)
    fs = prepare_features(source, _config("seed-iv", "lds"), cache_dir=tmp_path)
    assert fs.kinds == ("de", "psd") and fs.features.shape[:2] == (2, 72) and fs.config.window_s == 4.0
    np.testing.assert_array_equal(fs.sessions[0], np.repeat([1, 2, 3], 24))
    labels = np.concatenate([S4.SESSION_LABELS[k] for k in (1, 2, 3)])
    np.testing.assert_array_equal(fs.ratings[1, :, 0], labels)
    path = next((seed_iv_twin / S4.FEATURE_FOLDER / "2").glob("1_*.mat"))
    got = S4.read_features(path, 1, 2, kind="psd", smoothing="LDS")
    for t in (0, 23):
        x = got.features[t]
        assert fs.n_windows[0, 24 + t] == len(x)
        assert fs.features[0, 24 + t, 0, 1, 4, 61] == x[0, 61, 4]
        np.testing.assert_array_equal(fs.features[0, 24 + t, : len(x), 1], x.transpose(0, 2, 1))


def test_faced_round_trips_de_and_psd(faced_twin, tmp_path):
    fs = prepare_features(open_dataset("faced", faced_twin), _config("faced", "de-psd"), cache_dir=tmp_path)
    assert fs.kinds == ("de", "psd") and fs.features.shape[:2] == (2, 28)
    assert fs.features.shape[3:] == (2, 5, 32)
    np.testing.assert_array_equal(fs.ratings[0], np.column_stack([F.EMOTION, F.VALENCE]))
    assert (fs.sessions == 1).all() and (fs.n_windows == fs.features.shape[2]).all()
    for k, kind in enumerate(F.FEATURE_KINDS):
        got = F.read_features(F.feature_path(faced_twin, kind, 2)).values  # (28, 32, W, 5)
        assert fs.features[1, 5, 2, k, 3, 31] == np.float32(got[5, 31, 2, 3])
        np.testing.assert_array_equal(fs.features[1, :, :, k], got.transpose(0, 2, 3, 1).astype(np.float32))


def test_refusals_are_one_line_and_need_no_data():
    with pytest.raises(ConfigError) as exc:
        feature_options("deap", {"published": "lds"})
    assert "DEAP publishes no feature files" in _one_line(exc) and "allowed: none" in str(exc.value)
    with pytest.raises(ConfigError) as exc:
        feature_options("seed", {"published": "smooth"})
    assert "allowed: lds, moving-average" in _one_line(exc)
    with pytest.raises(ConfigError) as exc:
        feature_options("seed", {"published": "lds", "window_s": 2.0, "smoothing": "lds"})
    assert "smoothing, window_s do not apply with published='lds'" in _one_line(exc)
    # options equal to the source's recipe change nothing, so they are no conflict (resolving is idempotent)
    assert feature_options("seed-iv", {"published": "lds", "window_s": 4.0})["window_s"] == 4.0
    with pytest.raises(ConfigError) as exc:
        resolve_run(RunConfig(model="mtcnn", protocol="whole-set", dataset="seed",
                              feature_config={"published": "lds"}, features=("de", "dasm")))  # fmt: skip
    assert "dasm, which SEED ExtractedFeatures de/psd LDS does not hold" in _one_line(exc)
    with pytest.raises(ConfigError) as exc:
        resolve_run(RunConfig(model="mtcnn", protocol="cross-dataset", dataset="seed", test_dataset="faced",
                              feature_config={"published": "lds"}))  # fmt: skip
    assert "cross-dataset" in _one_line(exc)


def test_run_key_and_variant_name_the_source(seed_twin):
    computed = RunConfig(model="majority", protocol="whole-set", dataset="seed", subjects=(1, 2), n_folds=2)
    published = RunConfig(model="majority", protocol="whole-set", dataset="seed", subjects=(1, 2), n_folds=2,
                          feature_config={"published": "lds"})  # fmt: skip
    assert resolve_config(computed).fingerprint() == resolve_config(resolve_config(computed)).fingerprint()
    assert resolve_config(published) == resolve_config(resolve_config(published))
    keys = [prepare(c, deap=seed_twin).run_key for c in (computed, published)]
    assert keys[0] != keys[1]
    p = prepare(published, deap=seed_twin)
    assert published_tags(p.features) == {
        "bench.features_source": "published features: SEED ExtractedFeatures de/psd LDS (1 s windows; "
        f"smoothing: {published_of('seed', 'lds').smoothing})"
    }
    assert published_tags(prepare(computed, deap=seed_twin).features) == {}
    # the default feature config's key and dict are as before: no published entry
    assert "published" not in FeatureConfig().to_dict()


def test_a_bad_feature_file_is_one_line_and_caches_nothing(seed_twin, tmp_path):
    copy = tmp_path / "seed"
    shutil.copytree(seed_twin, copy)
    bad = sorted((copy / S.FEATURE_FOLDER).glob("2_*.mat"))[1]
    bad.write_bytes(bad.read_bytes()[:300])  # cut short
    cache = tmp_path / "cache"
    with pytest.raises(DataError) as exc:
        prepare_features(open_dataset("seed", copy), _config("seed", "lds"), cache_dir=cache, workers=1)
    assert bad.name in _one_line(exc)
    assert [m for m in list_cached(cache) if m["subject"] == 2] == []


def test_feature_labels_must_equal_the_eeg_labels(seed_twin, tmp_path):
    copy = tmp_path / "seed"
    shutil.copytree(seed_twin, copy)
    eeg_labels = copy / S.EEG_FOLDER / S.LABEL_FILE
    flipped = list(S.LABELS)
    flipped[4] = -flipped[4] if flipped[4] else 1
    save_mat(eeg_labels, {"label": np.array([flipped], dtype=np.float64)}, format="5")
    with pytest.raises(DataError) as exc:
        prepare_features(open_dataset("seed", copy), _config("seed", "lds"), cache_dir=tmp_path, workers=1)
    assert "label of trial 5" in _one_line(exc) and "feature files and EEG disagree" in str(exc.value)


@pytest.mark.slow  # an end-to-end run (about 20-45 s on 2 cores)
def test_a_run_on_published_features_names_them(seed_twin, tmp_path):
    uri = f"sqlite:///{tmp_path}/runs.db"
    options = {"feature_options": {"published": "lds"}, "folds": 2, "epochs": 1}
    quiet = {"echo": lambda m: None}
    result = bench.run(
        "majority", dataset="seed", data_dir=str(seed_twin), tracking_uri=uri, **options, **quiet
    )
    computed = bench.run(
        "majority", dataset="seed", data_dir=str(seed_twin), tracking_uri=uri, folds=2, **quiet
    )
    import mlflow

    tags = mlflow.MlflowClient(uri).get_run(result.parent_run_id).data.tags
    # the files are the data set (their own fingerprint), so the run is the cell's default run, and every
    # table names the source in the data set's label
    assert tags["bench.variant"] == "full"
    assert tags["bench.features_source"].startswith("published features: SEED ExtractedFeatures de/psd LDS")
    assert (
        tags["bench.data_fingerprint"]
        != mlflow.MlflowClient(uri).get_run(computed.parent_run_id).data.tags["bench.data_fingerprint"]
    )
    fp = tags["bench.data_fingerprint"][:8]
    text = bench.render_table("comparison", tracking_uri=uri, data="seed-synthetic", fingerprint=fp)
    flat = " ".join(text.split())
    assert "published features: SEED ExtractedFeatures de/psd LDS" in flat
    assert "not run" not in text.split("majority", 1)[1].splitlines()[0]
