"""The feature kinds beyond DE and PSD (DASM, RASM, Hjorth) against analytic values, through the cache
and the CLI; DE and PSD stay bit for bit what they were."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from scipy import signal

from bench.core.errors import ConfigError
from bench.data.channels import EEG_CHANNELS, mirror_index, mirror_name, to_grid
from bench.data.datasets.dreamer import EEG_CHANNELS as EMOTIV_CHANNELS
from bench.data.features import (
    AUTHORS_BANDS,
    RASM_FLOOR,
    FeatureConfig,
    asymmetry,
    extract_features,
)
from bench.data.inputs import FEATURE_KINDS

FS = 128.0
RAW = FeatureConfig(baseline="none", normalise="none")
LN2 = float(np.log(2.0))
MIDLINE = [EEG_CHANNELS.index(c) for c in ("Fz", "Cz", "Pz", "Oz")]
F3, F4 = EEG_CHANNELS.index("F3"), EEG_CHANNELS.index("F4")


def _de(x: np.ndarray, band: int, n_win: int = 64) -> np.ndarray:
    """DE per window of one channel, by hand: the band's causal order-3 Butterworth, ddof 1."""
    _, lo, hi = AUTHORS_BANDS[band]
    sos = signal.butter(3, [lo, hi], btype="bandpass", fs=FS, output="sos")
    y = signal.sosfilt(sos, x)[: len(x) // n_win * n_win].reshape(-1, n_win)
    return 0.5 * np.log(2 * np.pi * np.e * y.var(axis=-1, ddof=1))


# --- mirror electrodes ------------------------------------------------------------------------------


def test_deap_has_14_mirror_pairs_and_4_midline_channels():
    m = mirror_index(EEG_CHANNELS)
    pairs = {tuple(sorted((EEG_CHANNELS[i], EEG_CHANNELS[j]))) for i, j in enumerate(m) if j >= 0}
    assert pairs == {
        ("Fp1", "Fp2"), ("AF3", "AF4"), ("F3", "F4"), ("F7", "F8"), ("FC5", "FC6"), ("FC1", "FC2"),
        ("C3", "C4"), ("T7", "T8"), ("CP5", "CP6"), ("CP1", "CP2"), ("P3", "P4"), ("P7", "P8"),
        ("PO3", "PO4"), ("O1", "O2"),
    }  # fmt: skip
    assert sorted(EEG_CHANNELS[i] for i in np.flatnonzero(m < 0)) == ["Cz", "Fz", "Oz", "Pz"]
    assert (m[m[m >= 0]] == np.flatnonzero(m >= 0)).all()  # the mirror's mirror is the channel


def test_emotiv_has_7_pairs_and_missing_partners_or_odd_names_have_none():
    m = mirror_index(EMOTIV_CHANNELS)  # DREAMER and AMIGOS
    assert [EMOTIV_CHANNELS[j] for j in m] == ["AF4", "F8", "F4", "FC6", "T8", "P8", "O2",
                                               "O1", "P7", "T7", "FC5", "F3", "F7", "AF3"]  # fmt: skip
    assert mirror_index(["fp1", "FP2", "cz", "F3", "FT9", "ft10", "EOG"]).tolist() == [1, 0, -1, -1, 5, 4, -1]
    assert (mirror_name("Fpz"), mirror_name("T7"), mirror_name("TP10")) == (None, "T8", "TP9")


# --- DE and PSD unchanged -----------------------------------------------------------------------------


def test_de_psd_are_bit_for_bit_those_of_before_and_in_every_subset():
    eeg = np.random.default_rng(7).normal(0, 10, size=(2, 32, 8064))
    other = FeatureConfig(zero_phase=True, psd="welch", log_psd=True, step_s=0.25)
    for cfg, sha in ((FeatureConfig(), "4aca517e4a302319"), (other, "0fe52e255f275ed6")):
        default = extract_features(eeg, cfg)
        # sha256 of the features computed before other kinds existed
        assert hashlib.sha256(default.tobytes()).hexdigest()[:16] == sha
        assert np.array_equal(extract_features(eeg, cfg, kinds=("de", "psd"), channels=EEG_CHANNELS), default)
        every = extract_features(eeg, cfg, kinds=FEATURE_KINDS, channels=EEG_CHANNELS)
        assert every.shape == (*default.shape[:2], 7, *default.shape[3:]) and every.dtype == np.float32
        assert np.array_equal(every[:, :, :2], default)
        for kinds in (("psd",), ("de", "dasm"), ("psd", "mobility"), ("rasm", "activity", "complexity")):
            sub = extract_features(eeg, cfg, kinds=kinds, channels=EEG_CHANNELS)
            assert np.array_equal(sub, every[:, :, [FEATURE_KINDS.index(k) for k in kinds]]), kinds


def test_wrong_kinds_are_refused():
    eeg = np.zeros((1, 32, 8064))
    with pytest.raises(ConfigError, match="feature kind='xyz' is not allowed; allowed: de, psd, dasm, rasm"):
        extract_features(eeg, kinds=("de", "xyz"))
    with pytest.raises(ConfigError, match="each at most once"):
        extract_features(eeg, kinds=("de", "de"))
    with pytest.raises(ValueError, match="DASM/RASM need the names of the 32 channels"):
        extract_features(eeg, kinds=("dasm",))


# --- DASM and RASM --------------------------------------------------------------------------------------


def test_a_channel_twice_its_mirror_has_dasm_ln2_and_rasm_the_de_ratio():
    eeg = np.random.default_rng(3).normal(0, 10, size=(1, 32, 8064))
    eeg[0, F3] = 2 * eeg[0, F4]  # the same noise, twice the amplitude: 4x the variance in every band
    f = extract_features(eeg, RAW, kinds=("de", "dasm", "rasm"), channels=EEG_CHANNELS)[0]
    de, dasm, rasm = f[:, 0], f[:, 1], f[:, 2]  # (windows, bands, channels)
    # DE(F3) - DE(F4) = 0.5 ln(4 var / var) = ln 2, to float32's precision
    np.testing.assert_allclose(dasm[..., F3], LN2, rtol=0, atol=1e-6)
    np.testing.assert_allclose(dasm[..., F4], -LN2, rtol=0, atol=1e-6)
    # in float64 (the helper extract_features derives them with), to 1e-12, from DE by hand
    de64 = np.stack([np.stack([_de(eeg[0, c, 384:], b) for b in range(4)], -1) for c in range(32)])
    np.testing.assert_allclose(asymmetry(de64[None], mirror_index(EEG_CHANNELS), "dasm")[0, F3], LN2,
                               rtol=0, atol=1e-12)  # fmt: skip
    np.testing.assert_allclose(de, de64.transpose(1, 2, 0), rtol=1e-6)
    de_r = de64[F4]  # (windows, bands), all well above RASM_FLOOR here
    assert de_r.min() > 1
    np.testing.assert_allclose(rasm[..., F3], (de_r + LN2) / de_r, rtol=1e-6)
    np.testing.assert_allclose(rasm[..., F4], de_r / (de_r + LN2), rtol=1e-6)
    # every pair: antisymmetric DASM, reciprocal RASM; midline channels: 0 and 1 exactly
    m = mirror_index(EEG_CHANNELS)
    pair = m >= 0
    assert np.array_equal(dasm[..., pair], -dasm[..., m[pair]])
    np.testing.assert_allclose(rasm[..., pair] * rasm[..., m[pair]], 1.0, rtol=1e-6)
    assert (dasm[..., MIDLINE] == 0).all() and (rasm[..., MIDLINE] == 1).all()


def test_a_partner_the_headset_lacks_gives_dasm_0_and_rasm_1():
    eeg = np.random.default_rng(4).normal(0, 10, size=(1, 3, 8064))
    f = extract_features(eeg, RAW, kinds=("dasm", "rasm"), channels=("F3", "F4", "C3"))[0]
    assert (f[:, 0, :, 2] == 0).all() and (f[:, 1, :, 2] == 1).all()  # C3 without C4
    assert (f[:, 0, :, 0] != 0).all()


def test_rasm_denominator_is_kept_away_from_zero_with_its_sign():
    de = np.array([2.0, 0.0, 3.0, -1e-5, 0.5, 4.0])[:, None, None]  # channels x 1 window x 1 band
    mirror = np.array([1, 0, 3, 2, 5, 4])
    rasm = asymmetry(de, mirror, "rasm")[:, 0, 0]
    # 2 / floor(0) = 2 / +1e-3; 0 / 2; 3 / -1e-3 (a DE of -1e-5 keeps its sign); -1e-5 / 3; 0.5 / 4; 4 / 0.5
    np.testing.assert_allclose(
        rasm, [2 / RASM_FLOOR, 0.0, -3 / RASM_FLOOR, -1e-5 / 3, 0.125, 8.0], rtol=1e-15
    )


# --- Hjorth -----------------------------------------------------------------------------------------------


def test_hjorth_of_a_sine_in_every_band():
    """A sine of amplitude A at f: activity (A |H(f)|^2)^2 / 2 after the zero-phase band-pass (4 s
    windows hold 40 whole periods of 10 Hz), mobility 2 sin(pi f / fs) per sample and complexity 1
    in every band (a band-passed sine is a sine), up to the diffs' not-whole periods (~1/N)."""
    a, f0 = 5.0, 10.0
    eeg = a * np.sin(2 * np.pi * f0 * np.arange(8064) / FS)[None, None]
    cfg = FeatureConfig(baseline="none", normalise="none", zero_phase=True, window_s=4.0)
    h = extract_features(eeg, cfg, kinds=("activity", "mobility", "complexity"))[0, 1:-1, :, :, 0]
    for b, (name, lo, hi) in enumerate(AUTHORS_BANDS):
        sos = signal.butter(3, [lo, hi], btype="bandpass", fs=FS, output="sos")
        gain = np.abs(signal.sosfreqz(sos, [f0], fs=FS)[1][0]) ** 2  # forward-backward: |H|^2
        np.testing.assert_allclose(h[:, 0, b], (a * gain) ** 2 / 2, rtol=1e-5, err_msg=name)
        np.testing.assert_allclose(h[:, 1, b], 2 * np.sin(np.pi * f0 / FS), rtol=2e-3, err_msg=name)
        np.testing.assert_allclose(h[:, 2, b], 1.0, atol=5e-3, err_msg=name)


@pytest.mark.parametrize("band", range(4))
def test_hjorth_of_band_limited_noise_matches_the_filter_spectrum(band):
    """White noise through the causal band-pass H: var(y') / var(y) is the mean of |2 sin(pi f/fs)|^2
    under |H(f)|^2, and var(y'') / var(y') the same weighted once more."""
    _, lo, hi = AUTHORS_BANDS[band]
    eeg = np.random.default_rng(2).normal(0, 1.0, size=(4, 32, 8064))
    f = extract_features(eeg, RAW, kinds=("mobility", "complexity"))[:, 1:, :, band]
    freqs, h = signal.sosfreqz(signal.butter(3, [lo, hi], "bandpass", fs=FS, output="sos"), 8192, fs=FS)
    p, d = np.abs(h) ** 2, 4 * np.sin(np.pi * freqs / FS) ** 2
    mobility = np.sqrt(np.trapezoid(p * d, freqs) / np.trapezoid(p, freqs))
    mobility_d = np.sqrt(np.trapezoid(p * d * d, freqs) / np.trapezoid(p * d, freqs))
    assert f[:, :, 0].mean() == pytest.approx(mobility, rel=0.02)
    assert f[:, :, 1].mean() == pytest.approx(mobility_d / mobility, rel=0.02)


def test_flat_windows_give_finite_hjorth_values():
    f = extract_features(np.zeros((1, 2, 8064)), RAW, kinds=("activity", "mobility", "complexity"))
    assert np.isfinite(f).all() and (f[:, :, 0] == 0).all()


# --- baseline removal and normalisation, per kind ---------------------------------------------------------


def test_baseline_and_zscore_apply_to_each_kind_on_its_own():
    rng = np.random.default_rng(5)
    eeg = rng.normal(0, 10, size=(2, 32, 8064))
    eeg[:, F3] = 2 * eeg[:, F4]
    eeg[..., 384:] *= 3.0  # the trial louder than the baseline
    kinds = FEATURE_KINDS
    base_cfg = FeatureConfig(baseline="subtract", normalise="none")
    sub = extract_features(eeg, base_cfg, kinds=kinds, channels=EEG_CHANNELS).astype(np.float64)
    raw = extract_features(eeg, RAW, kinds=kinds, channels=EEG_CHANNELS).astype(np.float64)
    # a DASM constant over time (ln 2 at F3, baseline and trial alike) is 0 once its baseline is removed
    np.testing.assert_allclose(sub[:, :, kinds.index("dasm"), :, [F3, F4]], 0.0, atol=1e-6)
    np.testing.assert_allclose(raw[:, :, kinds.index("dasm"), :, F3], LN2, atol=1e-6)
    # each kind's offset is the mean of that kind's values over the 6 baseline windows (the baseline
    # filtered on its own, as the default recipe does)
    only_base = FeatureConfig(baseline="none", normalise="none", baseline_s=0.0)
    want = extract_features(eeg[..., :384], only_base, kinds=kinds, channels=EEG_CHANNELS)
    assert want.shape[1] == 6
    np.testing.assert_allclose(raw - sub, np.broadcast_to(want.mean(axis=1, keepdims=True), sub.shape),
                               rtol=1e-5, atol=1e-4)  # fmt: skip
    # window z-score: each kind's bands x channels map has mean 0 and std 1, from that kind alone
    z = extract_features(eeg, FeatureConfig(), kinds=kinds, channels=EEG_CHANNELS).astype(np.float64)
    flat = sub.reshape(*sub.shape[:3], -1)
    mine = (flat - flat.mean(-1, keepdims=True)) / flat.std(-1, keepdims=True)
    np.testing.assert_allclose(z.reshape(mine.shape), mine, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(z.reshape(mine.shape).std(-1), 1.0, atol=1e-5)


# --- through the cache, the inputs and the CLI -----------------------------------------------------------


@pytest.fixture(scope="module")
def with_dasm(deap_dir, cache_dir):
    from bench.data.cache import prepare_features
    from bench.data.contents import Contents
    from bench.data.source import open_deap

    return prepare_features(open_deap(deap_dir), cache_dir=cache_dir, contents=Contents(kinds=("dasm",)))


def test_a_cache_entry_with_dasm_is_another_entry_of_the_same_data_set(
    features, with_dasm, deap_dir, cache_dir
):
    from bench.data.cache import entry_path
    from bench.data.inputs import InputSpec
    from bench.data.reader import read_subject
    from bench.data.source import open_deap

    fs = with_dasm
    assert fs.kinds == ("de", "psd", "dasm") and fs.features.shape == (2, 6, 120, 3, 4, 32)
    assert np.array_equal(fs.features[:, :, :, :2], features.features)
    assert fs.fingerprint == features.fingerprint  # the same data set: same tables, same run key data
    for digest in fs.file_digests.values():
        mine, default = (
            entry_path(fs.config, digest, cache_dir, fs.contents),
            entry_path(fs.config, digest, cache_dir),
        )
        assert mine != default and (mine / "meta.json").is_file() and (default / "meta.json").is_file()
    x = fs.inputs(InputSpec(features=("de", "dasm"))).x
    src = open_deap(deap_dir)
    want = []
    for s in (1, 2):
        f = extract_features(read_subject(src.files[s]).eeg, kinds=("de", "dasm"), channels=EEG_CHANNELS)
        want.append(to_grid(f.reshape(6 * 120, 8, 32), "8x9"))
    assert x.shape == (2 * 6 * 120, 8, 8, 9)
    assert np.array_equal(x, np.concatenate(want))
    with pytest.raises(ValueError, match=r"features \['dasm'\] were not computed"):
        features.inputs(InputSpec(features=("de", "dasm")))


def test_scalp_maps_and_the_mlflow_dataset_take_the_sets_kinds(features, with_dasm):
    from bench.data.topomaps import class_means, differences
    from bench.tracking.store import dataset

    fs = with_dasm
    diffs = differences(class_means(fs.features, fs.ratings, kinds=fs.kinds))
    assert sorted({k for k, _ in diffs}) == ["dasm", "de", "psd"]
    per_trial = fs.features.astype(np.float64).mean(axis=2)
    high = fs.ratings[..., 1] > 5
    want = per_trial[high][:, 2, 3, F3].mean() - per_trial[~high][:, 2, 3, F3].mean()  # DASM gamma F3
    assert diffs[("dasm", "arousal")][3, F3] == pytest.approx(want)
    # one MLflow dataset per data set: the entity does not depend on the kinds a run read
    a, b = dataset(features), dataset(fs)
    assert (a.digest, a.schema, a.profile) == (b.digest, b.schema, b.profile)


def test_a_run_with_dasm_has_its_own_run_key_on_the_same_data(features, with_dasm):
    from bench.config.run import RunConfig
    from bench.runs.plan import prepare

    mine = prepare(RunConfig(model="mtcnn", features=("dasm", "de", "psd")), features=with_dasm)
    default = prepare(RunConfig(model="mtcnn"), features=features)
    assert mine.inputs.x.shape == (2 * 6 * 120, 12, 8, 9) and default.inputs.x.shape[1] == 8
    assert np.array_equal(mine.inputs.x[:, :8], default.inputs.x)  # DE and PSD maps first, as they were
    assert mine.run_key != default.run_key
    assert mine.features.fingerprint == default.features.fingerprint
    with pytest.raises(ConfigError, match="which reads"):  # maps without DASM for a run that reads it
        prepare(RunConfig(model="mtcnn", features=("de", "psd", "dasm")), features=features)


def test_features_option_takes_every_kind_and_names_them_on_a_typo(capsys, tmp_path):
    from bench.cli import main

    assert main(["run", "--tracking-uri", f"sqlite:///{tmp_path}/m.db", "--features", "de,xyz"]) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert lines == [
        "error: --features='xyz' is not allowed; allowed: de, psd, dasm, rasm, activity, mobility, complexity"
    ], err


def _parents(uri: str) -> dict[str, dict]:
    from bench.tracking.store import TAG, client, experiment_id

    cl = client(uri)
    runs = cl.search_runs([experiment_id(cl, "synthetic")], filter_string=f"tags.`{TAG}role` = 'parent'")
    return {r.data.tags[f"{TAG}variant"]: r.data.tags for r in runs}


@pytest.mark.slow
def test_cli_runs_with_dasm_are_runs_of_their_own_on_the_same_data(deap_dir, tmp_path, wide_console):
    from bench.cli import main
    from bench.tracking.store import TAG

    uri = f"sqlite:///{tmp_path}/m.db"
    args = ["run", "-m", "mtcnn", "--epochs", "1", "--subjects", "1", "--folds", "2", "--deap", str(deap_dir),
            "--threads", "1", "--tracking-uri", uri]  # fmt: skip
    assert main([*args, "--features", "dasm,psd,de"]) == 0
    assert main(args) == 0
    runs = _parents(uri)
    assert sorted(runs) == ["full", "plus-dasm"]  # the named variant of --features de,psd,dasm
    mine, default = runs["plus-dasm"], runs["full"]
    assert mine[f"{TAG}run_key"] != default[f"{TAG}run_key"]
    assert mine[f"{TAG}data_fingerprint"] == default[f"{TAG}data_fingerprint"]
