"""DEAP's peripheral signals: the reader keeps them, per-window features with hand-computed values, the
twin's planted arousal effect (and default twins unchanged), MT-CNN's fusion variant, the cache and run
path, the ablation variant, and a fusion model that learns what only the peripheral signals carry."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from bench.config.run import RunConfig, TrainConfig
from bench.core.errors import ConfigError, DataError
from bench.data.cache import prepare_features
from bench.data.contents import Contents
from bench.data.datasets import SubjectRecording, get_dataset
from bench.data.datasets.deap import read_subject
from bench.data.datasets.deap_format import PERIPHERAL_CHANNELS
from bench.data.features import FeatureConfig, extract_features
from bench.data.peripheral import (
    HEART_BAND,
    LOG_FLOOR,
    PERIPHERAL_FEATURES,
    RESP_BAND,
    band_power_and_peak,
    peripheral_features,
)
from bench.data.source import open_dataset, open_deap
from bench.data.synthetic import (
    MARKER,
    SyntheticConfig,
    generate_subject,
    write_synthetic,
    write_synthetic_deap,
)
from bench.models.registry import count_parameters, create_model, resolve_input_spec
from tests.conftest import random_subject, write_deap_file

DEAP = get_dataset("deap")
FS = 128.0
P = len(PERIPHERAL_FEATURES)
COL = {f: i for i, f in enumerate(PERIPHERAL_FEATURES)}


def _recording(peripheral: np.ndarray) -> SubjectRecording:
    """A DEAP-shaped recording (flat EEG) holding the given peripheral signals."""
    n_trials, _, n = peripheral.shape
    return SubjectRecording(
        subject=1, eeg=np.zeros((n_trials, 32, n)), ratings=np.full((n_trials, 4), 5.0), path=Path("s01.dat"),
        peripheral=peripheral, peripheral_names=PERIPHERAL_CHANNELS,
    )  # fmt: skip


# ---------------------------------------------------------------- the reader


def test_the_reader_keeps_the_peripheral_channels_and_checks_them(tmp_path):
    data, labels = random_subject(2)
    rec = read_subject(write_deap_file(tmp_path / "s01.dat", data, labels))
    assert rec.peripheral_names == PERIPHERAL_CHANNELS == DEAP.peripheral
    np.testing.assert_array_equal(rec.peripheral, data[:, 32:40])
    np.testing.assert_array_equal(rec.eeg, data[:, :32])
    data[1, 38, 100] = np.inf  # the plethysmograph
    with pytest.raises(DataError) as exc:
        read_subject(write_deap_file(tmp_path / "s02.dat", data, labels))
    where = tmp_path / "s02.dat"
    assert (
        str(exc.value)
        == f"{where}: non-finite peripheral value at trial 1, channel Plethysmograph, sample 100"
    )


def test_other_datasets_have_no_peripheral_signals(tmp_path):
    assert [n for n in ("deap", "dreamer", "amigos", "mahnob-hci") if get_dataset(n).peripheral] == ["deap"]
    write_synthetic(tmp_path, SyntheticConfig(dataset="dreamer", n_subjects=1, n_trials=1))
    src = open_dataset("dreamer", tmp_path)
    rec = get_dataset("dreamer").read(src.subject_files(1), 1)
    assert rec.peripheral is None and rec.peripheral_names == ()
    with pytest.raises(ConfigError) as exc:
        peripheral_features(rec, get_dataset("dreamer"), FeatureConfig())
    assert (
        str(exc.value)
        == "model input asks for peripheral signals; DREAMER recordings have none in this harness"
    )


# ---------------------------------------------------------------- features, hand-computed


@pytest.fixture(scope="module")
def analytic():
    """Known signals on every peripheral channel (2 trials), and their features under the default config."""
    t = np.arange(8064) / FS
    p = np.zeros((2, 8, 8064))
    p[:, 0] = 10.0 * np.sin(2 * np.pi * 8.0 * t)  # hEOG: 4 whole periods per 0.5 s window
    p[:, 1] = 3.0 * np.sign(np.sin(2 * np.pi * 4.0 * t + 0.1))  # vEOG: a +-3 square wave, 2 periods a window
    # zEMG, tEMG flat (0)
    p[:, 4] = 100.0 + 3.0 * t  # GSR: a ramp of 3 units per second
    p[:, 5] = 2.0 * np.sin(2 * np.pi * 0.3 * t)  # respiration at 0.3 Hz (18 per minute)
    p[:, 6] = 5.0 * np.sin(2 * np.pi * 1.2 * t)  # plethysmograph at 1.2 Hz (72 per minute)
    p[:, 7] = 31.5  # temperature
    return p, peripheral_features(_recording(p), DEAP, FeatureConfig())


def test_features_of_known_signals(analytic):
    p, f = analytic
    assert f.shape == (2, 120, P) and f.dtype == np.float32
    # variance of a sine over whole periods is A^2 / 2, of a +-3 square wave 9; a flat channel the floor
    np.testing.assert_allclose(f[..., COL["heog_log_power"]], np.log(50.0), rtol=1e-6)
    np.testing.assert_allclose(f[..., COL["veog_log_power"]], np.log(9.0), rtol=1e-6)
    np.testing.assert_allclose(f[..., COL["zemg_log_power"]], np.log(LOG_FLOOR), rtol=1e-6)
    # GSR: the slope is the ramp's; the level is the ramp at the context's mean time minus the baseline's
    # mean (3 s: samples 0-383, mean time 191.5 / 128 s). Window 0 ends 3.5 s in, so its 10 s context is
    # the first 10 s (mean 639.5 / 128 s): 3 * 448 / 128 = 10.5. Window 50 ends at sample 384 + 51 * 64 =
    # 3648, its context starts at 2368 (mean 3007.5 / 128 s): 3 * 2816 / 128 = 66.
    np.testing.assert_allclose(f[..., COL["gsr_slope"]], 3.0, rtol=1e-5)
    np.testing.assert_allclose(
        f[:, [0, 8, 9, 50], COL["gsr_level"]], [[10.5, 10.5, 10.5, 66.0]] * 2, rtol=1e-5
    )
    np.testing.assert_allclose(f[..., COL["temp_level"]], 31.5, rtol=1e-7)
    # a sine's power is A^2 / 2 (5^2 / 2 = 12.5; 2^2 / 2 = 2), all in its band, its peak at its frequency;
    # the 0.3 Hz breath fits 3 periods in 10 s: the Hann window and the detrend keep 99.3 % of it in band
    np.testing.assert_allclose(f[..., COL["heart_log_power"]], np.log(12.5), atol=1e-3)
    np.testing.assert_allclose(f[..., COL["heart_freq"]], 1.2, atol=2e-3)
    np.testing.assert_allclose(f[..., COL["resp_log_power"]], np.log(2.0), atol=0.015)
    np.testing.assert_allclose(f[..., COL["resp_freq"]], 0.3, atol=2e-3)


def test_each_band_holds_its_own_rhythm():
    t = np.arange(1280) / FS
    pulse, breath = 5.0 * np.sin(2 * np.pi * 1.2 * t), 2.0 * np.sin(2 * np.pi * 0.3 * t)
    (heart_p, resp_p), _ = band_power_and_peak(np.stack([pulse, breath]), FS, HEART_BAND)
    (pulse_in_resp, breath_in_resp), _ = band_power_and_peak(np.stack([pulse, breath]), FS, RESP_BAND)
    assert heart_p == pytest.approx(12.5, rel=1e-3) and breath_in_resp == pytest.approx(2.0, rel=0.015)
    # what leaks out of a band: Hann side lobes (the pulse, 7 bins above the band) and the detrend
    assert pulse_in_resp < 1e-3 * heart_p and resp_p < 1e-4 * breath_in_resp


def test_baseline_none_gives_the_absolute_gsr_level(analytic):
    p, _ = analytic
    f = peripheral_features(_recording(p), DEAP, FeatureConfig(baseline="none"))
    # window 0's context is the first 10 s: 100 + 3 * 639.5 / 128
    assert f[0, 0, COL["gsr_level"]] == pytest.approx(100.0 + 3.0 * 639.5 / 128, rel=1e-6)


@pytest.mark.parametrize(
    "config",
    [FeatureConfig(), FeatureConfig(window_s=1.0, step_s=0.25), FeatureConfig(window_s=2.0, baseline_s=2.0)],
)
def test_windows_are_those_of_the_brain_maps(config):
    rng = np.random.default_rng(0)
    rec = _recording(rng.normal(size=(1, 8, 8064)))
    rec = SubjectRecording(1, rng.normal(size=(1, 32, 8064)), rec.ratings, rec.path,
                           peripheral=rec.peripheral, peripheral_names=PERIPHERAL_CHANNELS)  # fmt: skip
    from bench.data.recordings import recording_for

    maps = extract_features(recording_for(rec, DEAP, config), config)
    assert peripheral_features(rec, DEAP, config).shape == (1, maps.shape[1], P)


# ---------------------------------------------------------------- the twin


def _folder_hash(folder: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(folder.iterdir()):
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def test_default_twins_are_the_same_files_as_before_the_option(deap_dir, tmp_path):
    """Hashes of the files (and marker) the generator writes without peripheral_effect: those it wrote
    before the option existed (generator 1: 4ecf6d9009e05414, aa43cd011046b2f0), now with its signals
    rounded (generator 2, :data:`bench.data.synthetic.SIGNAL_DECIMALS`)."""
    assert _folder_hash(deap_dir) == "682ff108f101ca62"  # SyntheticConfig(n_subjects=2, n_trials=6, seed=0)
    cfg = SyntheticConfig(n_subjects=1, n_trials=3, seed=5, effect_size=0.0, peripheral_effect=0.0)
    write_synthetic_deap(tmp_path / "b", cfg)
    assert _folder_hash(tmp_path / "b") == "3fd395698141a894"
    assert "peripheral_effect" not in cfg.to_dict()
    on = SyntheticConfig(n_subjects=1, n_trials=3, peripheral_effect=1.0)
    assert on.to_dict()["peripheral_effect"] == 1.0
    with pytest.raises(ConfigError, match=r"^peripheral_effect=1.0: DREAMER twins have no peripheral"):
        SyntheticConfig(dataset="dreamer", n_subjects=2, n_trials=2, peripheral_effect=1.0)
    with pytest.raises(ConfigError, match=r"^peripheral_effect=-1: expected a number >= 0$"):
        SyntheticConfig(peripheral_effect=-1)


@pytest.mark.slow
def test_the_planted_arousal_effect_is_in_gsr_and_heart_rate(tmp_path):
    """The same twin (2 subjects x 40 trials, no EEG effect) with and without the peripheral effect (the
    subjects as the DEAP writer pickles them: :func:`generate_subject`)."""
    feats, arousal, raw = {}, {}, {}
    for effect in (0.0, 1.0):
        cfg = SyntheticConfig(n_subjects=2, n_trials=40, effect_size=0.0, peripheral_effect=effect)
        subjects = [generate_subject(cfg, s) for s in (1, 2)]
        recs = [
            SubjectRecording(s, d["data"][:, :32], d["labels"], Path(f"s0{s}.dat"),
                             peripheral=d["data"][:, 32:], peripheral_names=PERIPHERAL_CHANNELS)
            for s, d in zip((1, 2), subjects, strict=True)
        ]  # fmt: skip
        feats[effect] = np.concatenate([peripheral_features(r, DEAP, FeatureConfig()) for r in recs])
        arousal[effect] = np.concatenate([d["labels"][:, 1] for d in subjects])
        raw[effect] = np.concatenate([d["data"] for d in subjects])
    np.testing.assert_array_equal(arousal[0.0], arousal[1.0])
    # only GSR and the plethysmograph differ, and only after stimulus onset (sample 384)
    same = [c for c in range(40) if c not in (36, 38)]
    np.testing.assert_array_equal(raw[0.0][:, same], raw[1.0][:, same])
    np.testing.assert_array_equal(raw[0.0][:, [36, 38], :384], raw[1.0][:, [36, 38], :384])
    assert not np.array_equal(raw[0.0][:, [36, 38], 384:], raw[1.0][:, [36, 38], 384:])
    r = {
        (effect, name): np.corrcoef(feats[effect][..., COL[name]].mean(axis=1), arousal[effect])[0, 1]
        for effect in feats
        for name in ("gsr_level", "gsr_slope", "heart_freq")
    }
    assert min(r[(1.0, n)] for n in ("gsr_level", "gsr_slope", "heart_freq")) > 0.6, r
    assert max(abs(r[(0.0, n)]) for n in ("gsr_level", "gsr_slope", "heart_freq")) < 0.15, r
    write_synthetic_deap(tmp_path / "on", SyntheticConfig(n_subjects=1, n_trials=1, peripheral_effect=1.0))
    marker = json.loads((tmp_path / "on" / MARKER).read_text())
    assert [e["channel"] for e in marker["peripheral_effects"]] == ["GSR", "Plethysmograph"]
    assert marker["config"]["peripheral_effect"] == 1.0


def test_bench_data_synth_writes_the_effect(tmp_path):
    from bench.cli import main

    assert main(["data", "synth", str(tmp_path), "--subjects", "1", "--trials", "2",
                 "--peripheral-effect", "0.5"]) == 0  # fmt: skip
    assert json.loads((tmp_path / MARKER).read_text())["config"]["peripheral_effect"] == 0.5


# ---------------------------------------------------------------- the fusion model


def test_fusion_model_shapes_parameters_and_what_it_reads():
    plain = create_model("mtcnn")
    fused = create_model("mtcnn", peripheral=True, dropout=0.0).eval()
    assert fused.input_spec == resolve_input_spec("mtcnn", peripheral=True)
    assert fused.input_spec.sample_shape() == (9, 8, 9) and fused.trunk.conv1.in_channels == 8
    # the paper's model is untouched; the variant adds dense 11 -> 32 (+ BN's 2 x 32) and 32 inputs per head
    assert count_parameters(plain) == 1_213_956 and not any("peripheral" in k for k in plain.state_dict())
    assert count_parameters(fused) == 1_213_956 + (P * 32 + 32) + 2 * 32 + 2 * (32 * 2)
    one = create_model("mtcnn", peripheral=True, tasks=("arousal",))
    assert count_parameters(one) == count_parameters(create_model("mtcnn", tasks=("arousal",))) + 448 + 64
    torch.manual_seed(0)
    x = torch.randn(4, 9, 8, 9)
    out = fused(x)
    assert set(out) == {"valence", "arousal"} and out["arousal"].shape == (4, 2)
    with torch.no_grad():
        base = fused.features(x)
        for cell, changes in ((0, True), (P - 1, True), (P, False), (71, False)):
            y = x.clone()
            y[:, -1].view(4, -1)[:, cell] += 1.0  # the first P cells of the last plane are read, no other
            assert (fused.features(y)[:, 512:] != base[:, 512:]).any().item() is changes
            assert torch.equal(fused.features(y)[:, :512], base[:, :512])  # the trunk never sees the plane
    with pytest.raises(ValueError, match=r"expects input \(N, 9, 8, 9\)"):
        fused(torch.randn(2, 8, 8, 9))


def test_fusion_with_several_time_slices_reads_the_first_slices_plane():
    fused = create_model("mtcnn", peripheral=True, n_inputs=2).eval()
    x = torch.randn(3, 2, 9, 8, 9)
    x[:, 1, -1] = x[:, 0, -1]  # build_inputs puts the same plane in every slice
    assert fused(x)["valence"].shape == (3, 2)
    y = x.clone()
    y[:, 1, -1] = 0.0
    with torch.no_grad():
        assert torch.equal(fused.features(x)[:, 512:], fused.features(y)[:, 512:])


def test_modality_dropout_drops_whole_trunk_outputs_in_training_only():
    torch.manual_seed(1)
    fused = create_model("mtcnn", peripheral=True, dropout=0.0, batch_norm=False)
    x = torch.randn(64, 9, 8, 9)
    with torch.no_grad():
        ref = fused.eval().features(x)[:, :512]
        got = fused.train().features(x)[:, :512]
    dropped = (got == 0).all(dim=1)
    assert 10 < int(dropped.sum()) < 54  # p = 0.5 of 64 samples
    torch.testing.assert_close(got[~dropped], 2 * ref[~dropped])  # the rest scaled by 1 / (1 - p)
    none = create_model("mtcnn", peripheral=True, dropout=0.0, batch_norm=False, modality_dropout=0.0).train()
    none.load_state_dict(fused.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(none.features(x)[:, :512], ref)
    with pytest.raises(ConfigError, match="modality_dropout applies to the fusion variant only"):
        create_model("mtcnn", modality_dropout=0.3)
    with pytest.raises(ConfigError, match=r"model.modality_dropout=1.0: expected a number in \[0, 1\)"):
        create_model("mtcnn", peripheral=True, modality_dropout=1.0)


def test_peripheral_on_a_dataset_without_is_one_line_before_any_run(tmp_path, capsys):
    from bench.cli import main

    uri = f"sqlite:///{tmp_path / 'm.db'}"
    assert main(["run", "--dataset", "dreamer", "-M", "peripheral=true", "--tracking-uri", uri]) == 2
    err = capsys.readouterr().err.strip()
    assert (
        err == "error: model input asks for peripheral signals; DREAMER recordings have none in this harness"
    )
    assert not (tmp_path / "m.db").exists()
    assert main(["run", "--model", "4dcrnn", "-M", "peripheral=true", "--tracking-uri", uri]) == 2
    assert "model '4dcrnn' has no option 'peripheral'" in capsys.readouterr().err


# ---------------------------------------------------------------- cache, inputs, runs


@pytest.fixture(scope="module")
def periph_features(deap_dir, cache_dir):
    return prepare_features(open_deap(deap_dir), cache_dir=cache_dir, contents=Contents(peripheral=True))


def test_the_cache_holds_them_under_the_same_data_fingerprint(deap_dir, cache_dir, features, periph_features):
    fs = periph_features
    assert fs.peripheral.shape == (2, 6, 120, P) and fs.peripheral.dtype == np.float32
    assert fs.fingerprint == features.fingerprint and features.peripheral is None
    np.testing.assert_array_equal(fs.features, features.features)
    direct = peripheral_features(read_subject(deap_dir / "s02.dat"), DEAP, FeatureConfig())
    np.testing.assert_array_equal(fs.peripheral[1], direct)
    again = prepare_features(open_deap(deap_dir), cache_dir=cache_dir, contents=Contents(peripheral=True))
    np.testing.assert_array_equal(again.peripheral, fs.peripheral)  # a cache hit, checked on load
    mi = fs.inputs(resolve_input_spec("mtcnn", peripheral=True))
    assert mi.x.shape == (2 * 6 * 120, 9, 8, 9)
    np.testing.assert_array_equal(mi.x[:, :8], features.inputs(resolve_input_spec("mtcnn")).x)
    plane = mi.x[:, -1].reshape(len(mi.x), -1)
    np.testing.assert_array_equal(plane[:, :P], fs.peripheral.reshape(-1, P))
    assert not plane[:, P:].any()


@pytest.mark.slow
def test_a_peripheral_run_and_the_ablation_table(periph_features, features, tmp_path):
    """The named variant: ablation_configs makes it, the run is tagged with it, the table shows its row
    (one subject, 2 folds, 1 epoch: ~20 s on 2 busy cores)."""
    from bench import results as R
    from bench.config.ablation import ablation_configs, variant_name
    from bench.results.table import run_command
    from bench.runs.identity import deviations, resolve_config
    from bench.runs.plan import prepare
    from bench.runs.runner import run_experiment

    base = RunConfig(n_folds=2, subjects=(1,), train=TrainConfig(max_epochs=1), num_threads=2)
    [(name, cfg)] = ablation_configs(base, ["peripheral"])
    assert name == "peripheral" and cfg.model_options == {"peripheral": True}
    assert variant_name(deviations(resolve_config(cfg))) == "peripheral"
    with pytest.raises(ConfigError, match="features holding .* given to a run of 'mtcnn'"):
        prepare(cfg, features=features)
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    res = run_experiment(cfg, tracking_uri=uri, prepared=prepare(cfg, features=periph_features))
    assert res.summary["n_arousal"] == 2
    store = R.load_store(uri)
    assert store.parents["variant"].tolist() == ["peripheral"]
    [tab] = R.build("ablation", store, model="mtcnn")
    row = tab.frame.set_index(["variant", "task"]).loc[("peripheral", "arousal")]
    assert row["accuracy"].startswith(f"{100 * res.summary['acc_arousal_mean']:.1f}")
    assert "-M peripheral=true" in run_command(store, "mtcnn", "whole-set", "trial", variant="peripheral")


def test_grids_name_the_variant_but_all_stays_the_papers():
    from bench.config.ablation import VARIANTS
    from bench.runs.grid import expand

    doc = {"scale": "smoke", "runs": [{"models": ["mtcnn", "4dcrnn"], "protocols": ["whole-set"],
                                        "variants": ["full", "peripheral"]}]}  # fmt: skip
    g = expand(doc, source="test")
    assert [(e.model, e.variant) for e in g.entries] == [("mtcnn", "full"), ("mtcnn", "peripheral"),
                                                          ("4dcrnn", "full")]  # fmt: skip
    assert [lab for lab, why in g.skipped if "has no option 'peripheral'" in why] == [
        "4dcrnn|whole-set|trial|peripheral"]  # fmt: skip
    dreamer = expand(doc, source="test", dataset="dreamer")
    assert [why for lab, why in dreamer.skipped if lab.startswith("mtcnn")] == [
        "model input asks for peripheral signals; DREAMER recordings have none in this harness"]  # fmt: skip
    every = expand(
        {"runs": [{"models": ["mtcnn"], "protocols": ["whole-set"], "variants": "all"}]}, source="t"
    )
    assert [e.variant for e in every.entries] == list(VARIANTS) and "peripheral" not in VARIANTS


# ---------------------------------------------------------------- learning


@pytest.mark.slow
def test_fusion_learns_what_only_the_peripheral_signals_carry(tmp_path):
    """A twin whose EEG carries nothing (effect_size 0) and whose GSR and heart rate follow arousal: MT-CNN
    with the peripheral features beats the majority class on arousal by far; plain MT-CNN does not.

    Small on purpose (4 subjects x 20 trials, 3 s windows: 1,600 samples; 3 folds by trial, 4 epochs of
    batches of 16, arousal only) to stay near 2 minutes on 2 cores (104 s with one thread on a busy
    2-core machine). Measured: majority 52.5 %, fusion 66.3 %, plain 52.0 % (fusion without modality
    dropout: 57.2 %)."""
    from bench.runs.runner import run_experiment

    twin = SyntheticConfig(n_subjects=4, n_trials=20, seed=0, effect_size=0.0, peripheral_effect=1.0)
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    acc, train = {}, TrainConfig(max_epochs=4, batch_size=16)
    for name, model, options in (("majority", "majority", {}), ("fusion", "mtcnn", {"peripheral": True}),
                                 ("plain", "mtcnn", {})):  # fmt: skip
        cfg = RunConfig(model=model, model_options=options, n_folds=3, tasks=("arousal",), train=train,
                        feature_config={"window_s": 3.0})  # fmt: skip
        acc[name] = run_experiment(cfg, tracking_uri=uri, synthetic=twin).summary["acc_arousal_mean"]
    assert acc["fusion"] > acc["majority"] + 0.08, acc
    assert acc["plain"] < acc["majority"] + 0.04, acc
