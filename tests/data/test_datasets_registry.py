"""The dataset registry: every dataset one description; DEAP's keys and numbers unchanged by it; grids
for any headset from channel names and MNE montage positions; the cache keyed per subject by the
reader's version; documented missing trials; twin writes that can be redone."""

from __future__ import annotations

import hashlib
import itertools
import json

import numpy as np
import pytest
from scipy.io import loadmat, savemat

from bench.config.run import RunConfig, TrainConfig
from bench.core.errors import ConfigError, DataError
from bench.data.cache import prepare_features
from bench.data.channels import EEG_CHANNELS, GRIDS, grid_positions, montage_xy, to_grid
from bench.data.datasets import dataset_names, get_dataset, list_datasets
from bench.data.fingerprints import source_fingerprint, subject_digest
from bench.data.inputs import InputSpec
from bench.data.source import data_kind, kind_words, open_dataset, open_deap
from bench.data.synthetic import PARTIAL_MARKER, SyntheticConfig, write_synthetic, write_synthetic_deap
from bench.runs.identity import resolve_config

EMOTIV = ("AF3", "F7", "F3", "FC5", "T7", "P7", "O1", "O2", "P8", "T8", "FC6", "F4", "F8", "AF4")


def test_the_registry_describes_the_rating_and_categorical_datasets():
    assert dataset_names() == (
        "deap", "dreamer", "amigos", "mahnob-hci", "seed", "seed-iv", "seed-v", "faced")  # fmt: skip
    facts = {d.name: (d.n_subjects, d.n_trials, len(d.channels), d.sfreq, d.scale, d.threshold, d.env)
             for d in list_datasets()}  # fmt: skip
    assert facts == {
        "deap": (32, 40, 32, 128.0, (1.0, 9.0), 5.0, "DEAP_DIR"),
        "dreamer": (23, 18, 14, 128.0, (1.0, 5.0), 3.0, "DREAMER_DIR"),
        "amigos": (40, 16, 14, 128.0, (1.0, 9.0), 5.0, "AMIGOS_DIR"),
        "mahnob-hci": (30, 20, 32, 128.0, (1.0, 9.0), 5.0, "MAHNOB_DIR"),
        "seed": (15, 45, 62, 200.0, (0.0, 2.0), None, "SEED_DIR"),
        "seed-iv": (15, 72, 62, 200.0, (0.0, 3.0), None, "SEED_IV_DIR"),
        "seed-v": (16, 45, 62, 200.0, (0.0, 4.0), None, "SEED_V_DIR"),
        "faced": (123, 28, 32, 250.0, (0.0, 8.0), None, "FACED_DIR"),
    }
    assert get_dataset("deap").n_samples == 8064 and get_dataset("dreamer").channels == EMOTIV
    rating = [d for d in list_datasets() if not d.categorical]
    assert [d.name for d in rating] == ["deap", "dreamer", "amigos", "mahnob-hci"]
    assert all(
        d.rating_names[:2] == ("valence", "arousal") and d.tasks == ("valence", "arousal") for d in rating
    )
    with pytest.raises(ConfigError) as err:
        get_dataset("seeds")
    assert (
        str(err.value)
        == "unknown dataset 'seeds'; known: amigos, deap, dreamer, faced, mahnob-hci, seed, seed-iv, seed-v; "
        "did you mean 'seed'?"
    )
    with pytest.raises(ConfigError) as err:
        get_dataset("dreemer")
    assert str(err.value).endswith(
        "known: amigos, deap, dreamer, faced, mahnob-hci, seed, seed-iv, seed-v; did you mean 'dreamer'?"
    )
    assert [data_kind("deap", True), data_kind("deap", False), data_kind("dreamer", True)] == [
        "synthetic", "deap", "dreamer-synthetic"]  # fmt: skip
    assert [kind_words(k) for k in ("synthetic", "deap", "amigos-synthetic", "mahnob-hci")] == [
        "synthetic", "DEAP", "synthetic AMIGOS", "MAHNOB-HCI"]  # fmt: skip


def test_deap_keys_and_numbers_are_those_of_before_the_registry(tmp_path):
    """Keys computed with the code before datasets were registered (commit 6f6f8f5). The data-derived
    values are of generator 2 (signals rounded: :data:`bench.data.synthetic.SIGNAL_DECIMALS`); generator
    1's unrounded files differed in their last bits from one numpy/scipy install to another (fingerprint
    a61eab02a50ddb94 on the machines of the registry's time, 2ea7c09621938742 on a fresh install of
    December 2026, whose features were the same)."""
    write_synthetic_deap(tmp_path / "data", SyntheticConfig(n_subjects=2, n_trials=6, seed=0))
    src = open_deap(tmp_path / "data")
    fs = prepare_features(src, cache_dir=tmp_path / "c")
    mi = fs.inputs(InputSpec())
    assert fs.fingerprint == source_fingerprint(src, cache_dir=tmp_path / "c") == "5adc7c61f3287cbb"
    assert hashlib.sha256(fs.features.tobytes()).hexdigest()[:16] == "92bc8903547f535c"
    assert hashlib.sha256(mi.x.tobytes() + mi.labels.tobytes()).hexdigest()[:16] == "ecb5776d8c0be6d6"
    assert sorted(p.name for p in (tmp_path / "c" / "features").iterdir()) == [
        "208e159c15e9083f-41ceca166d891a72", "208e159c15e9083f-ea6bb909a8d5271a"]  # fmt: skip
    fp32 = TrainConfig(precision="fp32")
    assert resolve_config(RunConfig(train=fp32)).fingerprint() == "9dc80060d2c001d2"
    explicit = RunConfig(model="mtcnn", protocol="cross-subject", threshold=4.5, train=fp32)
    assert resolve_config(explicit).fingerprint() == "a9a19ed779a3b5cb"
    ss = resolve_config(RunConfig(model="majority", protocol="subject-specific"))
    assert ss.fingerprint() == "6c3553a6f0fdabdc" and ss.threshold == 5.0
    assert "dataset" not in ss.key_dict() and "test_dataset" not in ss.key_dict()
    meta = json.loads(next((tmp_path / "c" / "features").glob("*/meta.json")).read_text())
    assert "dataset" not in meta  # DEAP entries are written as before


@pytest.mark.parametrize("grid", GRIDS)
def test_grids_agree_with_mne_montage_positions(grid):
    """Every channel sits on its side of the midline (MNE's x: left < 0 < right); within a row the columns
    run left to right as the montage's x does, within a column the rows run front to back as its y does,
    and the rows run front to back on average: for DEAP's 32 and for the Emotiv 14 (the grids are the
    authors' schematic, so channels of different rows and columns are not compared)."""
    middle = 4  # both grids are 9 columns wide
    for channels in (EEG_CHANNELS, EMOTIV):
        pos = grid_positions(grid, channels)
        xy = dict(zip(channels, montage_xy(channels), strict=True))
        for c in channels:
            side = np.sign(round(float(xy[c][0]), 2))
            assert np.sign(pos[c][1] - middle) == side, (grid, c)
        for a, b in itertools.combinations(channels, 2):
            (ra, ca), (rb, cb) = pos[a], pos[b]
            if ra == rb:
                assert (ca < cb) == (xy[a][0] < xy[b][0]), (grid, a, b)
            if ca == cb:
                assert (ra < rb) == (xy[a][1] > xy[b][1]), (grid, a, b)
        rows = sorted({r for r, _ in pos.values()})
        mean_y = [np.mean([xy[c][1] for c in channels if pos[c][0] == r]) for r in rows]
        assert mean_y == sorted(mean_y, reverse=True), (grid, mean_y)
    # the 14-channel headset lands on DEAP's cells, zeros elsewhere
    assert grid_positions(grid, EMOTIV) == {c: grid_positions(grid)[c] for c in EMOTIV}
    maps = to_grid(np.arange(1, 15, dtype=np.float32)[None], grid, EMOTIV)[0]
    assert (maps != 0).sum() == 14 and maps[grid_positions(grid)["AF4"]] == 14


def test_a_channel_the_grid_does_not_name_takes_the_nearest_free_cell():
    # FT7 sits between F7/FC5 and T7: row of FC5, left of it; Iz below Oz
    assert grid_positions("9x9", ("FC5", "FT7", "Iz")) == {"FC5": (3, 1), "FT7": (3, 0), "Iz": (8, 4)}
    assert grid_positions("8x9", ("fp1", "FP2")) == {"fp1": (0, 3), "FP2": (0, 5)}  # any letter case
    with pytest.raises(ValueError, match="channel\\(s\\) XYZ not in MNE's standard_1020 montage"):
        grid_positions("8x9", ("XYZ",))


def test_subjects_of_one_shared_file_get_their_own_cache_entries(tmp_path):
    write_synthetic(tmp_path / "d", SyntheticConfig(dataset="dreamer", n_subjects=2, n_trials=2))
    src = open_dataset("dreamer", tmp_path / "d")
    assert src.files[1] == src.files[2] and src.synthetic and src.kind == "dreamer-synthetic"
    root = tmp_path / "c"
    d1, d2 = subject_digest(src, 1, root), subject_digest(src, 2, root)
    assert d1 != d2
    file_sha = hashlib.sha256(src.files[1].read_bytes()).hexdigest()
    want = {"dataset": get_dataset("dreamer").digest_salt, "subject": 1, "files": [file_sha]}
    assert d1 == hashlib.sha256(json.dumps(want).encode()).hexdigest()
    fs = prepare_features(src, cache_dir=root)
    assert fs.features.shape == (2, 2, 120, 2, 4, 14) and fs.kind == "dreamer-synthetic"
    metas = [json.loads(p.read_text()) for p in sorted((root / "features").glob("*/meta.json"))]
    assert sorted(m["subject"] for m in metas) == [1, 2] and {m["dataset"] for m in metas} == {"dreamer"}
    assert not np.array_equal(fs.features[0], fs.features[1])


def test_documented_missing_trials_are_padding_no_sample_is_built_from(tmp_path):
    write_synthetic(tmp_path / "d", SyntheticConfig(dataset="amigos", n_subjects=2, n_trials=4))
    path = tmp_path / "d" / "Data_Preprocessed_P02.mat"
    mat = loadmat(path)
    mat["joined_data"][0, 1] = np.zeros((0, 0))  # participant 2 has no recording of video 2
    savemat(path, {k: v for k, v in mat.items() if not k.startswith("__")})
    fs = prepare_features(open_dataset("amigos", tmp_path / "d"))
    assert fs.n_trials.tolist() == [4, 3] and fs.features.shape[:2] == (2, 4)
    assert np.isnan(fs.ratings[1, 3]).all() and not fs.features[1, 3].any()
    mi = fs.inputs(InputSpec())
    assert len(mi) == (4 + 3) * 90 and set(mi.trial[mi.subject == 2]) == {0, 1, 2}
    one = fs.select([2])
    assert one.n_trials is None and one.features.shape[1] == 3  # all-padding rows dropped


def test_subjects_of_datasets_without_missing_trials_must_match(tmp_path, deap_dir):
    from bench.data.features import FeatureConfig
    from bench.data.featureset import assemble

    f = np.zeros((3, 2, 2, 4, 32), np.float32)
    with pytest.raises(DataError, match="subjects differ in trials/windows"):
        assemble([f, f[:2]], [np.ones((3, 4)), np.ones((2, 4))], {1: "a", 2: "b"}, FeatureConfig(), True, "x")


def test_a_twin_write_cut_short_can_be_redone(tmp_path, monkeypatch):
    import bench.data.synthetic as synthetic

    folder = tmp_path / "twin"
    calls = {"n": 0}
    real = synthetic._atomic_pickle

    def dies_on_second(obj, path):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        real(obj, path)

    monkeypatch.setattr(synthetic, "_atomic_pickle", dies_on_second)
    with pytest.raises(KeyboardInterrupt):
        write_synthetic_deap(folder, SyntheticConfig(n_subjects=2, n_trials=2))
    assert (folder / PARTIAL_MARKER).is_file() and (folder / "s01.dat").is_file()
    monkeypatch.setattr(synthetic, "_atomic_pickle", real)
    files = write_synthetic_deap(folder, SyntheticConfig(n_subjects=2, n_trials=2))
    assert len(files) == 2 and not (folder / PARTIAL_MARKER).exists() and open_deap(folder).synthetic
    real_copy = tmp_path / "real"
    real_copy.mkdir()
    (real_copy / "s01.dat").write_bytes(files[0].read_bytes())
    with pytest.raises(DataError, match="holds DEAP files that are not synthetic"):
        write_synthetic_deap(real_copy, SyntheticConfig(n_subjects=1, n_trials=2))


@pytest.mark.parametrize("dataset", ["deap", "amigos"])
def test_twin_files_get_the_users_file_permissions(tmp_path, dataset):
    """Written through a private temporary file, a twin's files end with the mode of any file the user
    writes (umask), so a shared cache's twins can be read by the other machines' users."""
    import os
    import stat

    old = os.umask(0o022)
    try:
        files = write_synthetic(tmp_path / "t", SyntheticConfig(dataset=dataset, n_subjects=1, n_trials=1))
    finally:
        os.umask(old)
    assert {stat.S_IMODE(f.stat().st_mode) for f in files} == {0o644}
    assert not list((tmp_path / "t").glob(".*.tmp"))
