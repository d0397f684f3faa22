"""Brain-map features against known spectra and analytic values."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from bench.core.errors import ConfigError
from bench.data.features import AUTHORS_BANDS, FeatureConfig, differential_entropy, extract_features

FS = 128.0
RAW = FeatureConfig(baseline="none", normalise="none")


def test_shape_and_dtype_default_recipe():
    eeg = np.random.default_rng(0).normal(size=(3, 32, 8064))
    f = extract_features(eeg)
    assert f.shape == (3, 120, 2, 4, 32)
    assert f.dtype == np.float32


def test_de_of_gaussian_matches_analytic():
    rng = np.random.default_rng(1)
    sigma = 3.0
    windows = rng.normal(0, sigma, size=(20000, 64))
    de = differential_entropy(windows).mean()
    assert de == pytest.approx(0.5 * np.log(2 * np.pi * np.e * sigma**2), abs=0.02)


@pytest.mark.parametrize("band", range(4))
def test_de_of_band_limited_noise_matches_filter_bandwidth(band):
    """White noise through the band-pass has variance sigma^2 * integral |H|^2 / Nyquist."""
    name, lo, hi = AUTHORS_BANDS[band]
    rng = np.random.default_rng(2)
    eeg = rng.normal(0, 1.0, size=(4, 32, 8064))
    f = extract_features(eeg, RAW)[:, 2:, 0, band]  # DE; skip the filter's start-up windows
    sos = signal.butter(3, [lo, hi], btype="bandpass", fs=FS, output="sos")
    freqs, h = signal.sosfreqz(sos, worN=8192, fs=FS)
    var_out = np.trapezoid(np.abs(h) ** 2, freqs) / (FS / 2)
    measured_var = np.exp(2 * f) / (2 * np.pi * np.e)  # invert DE window by window
    # mean window variance (ddof=1) of a narrow-band signal loses a little to the removed window mean
    assert measured_var.mean() == pytest.approx(var_out, rel=0.12), name
    assert np.log(measured_var.mean()) == pytest.approx(np.log(var_out), abs=0.12)


@pytest.mark.parametrize("psd", ["energy", "welch"])
def test_10hz_sine_lands_in_alpha(psd):
    t = np.arange(8064) / FS
    eeg = np.random.default_rng(3).normal(0, 0.1, size=(2, 32, 8064))
    eeg[:, 7] += 20 * np.sin(2 * np.pi * 10 * t)  # channel T7
    f = extract_features(eeg, FeatureConfig(psd=psd, baseline="none", normalise="none"))
    power = f[:, 2:, 1].mean(axis=(0, 1))  # (bands, channels)
    assert power[:, 7].argmax() == 1  # alpha
    assert power[1, 7] > 10 * power[[0, 2, 3], 7].max()  # order-3 skirts leak a little
    assert power[1, 7] > 1000 * np.delete(power[1], 7).max()  # only the channel that carries it
    de = f[:, 2:, 0].mean(axis=(0, 1))
    assert de[:, 7].argmax() == 1


def test_sine_energy_value():
    """Band energy of a 10 Hz sine of amplitude A over 64 samples is about 64 * A^2 / 2."""
    t = np.arange(8064) / FS
    eeg = np.zeros((1, 32, 8064))
    eeg[:, :] = 5 * np.sin(2 * np.pi * 10 * t)
    cfg = FeatureConfig(baseline="none", normalise="none", zero_phase=True)
    energy = extract_features(eeg, cfg)[0, 5:-5, 1, 1, 0]
    sos = signal.butter(3, [8, 14], "bandpass", fs=FS, output="sos")
    gain = np.abs(signal.sosfreqz(sos, [10], fs=FS)[1])[0]
    assert energy.mean() == pytest.approx(64 * (5 * gain**2) ** 2 / 2, rel=0.03)


def test_baseline_removal_subtracts_baseline_mean():
    rng = np.random.default_rng(4)
    eeg = rng.normal(0, 1.0, size=(3, 32, 8064))
    eeg[..., 384:] *= 2.0  # trial twice the baseline amplitude
    sub = extract_features(eeg, FeatureConfig(baseline="subtract", normalise="none", zero_phase=True))
    raw = extract_features(eeg, FeatureConfig(baseline="none", normalise="none", zero_phase=True))
    # DE doubles amplitude -> + ln 2 against the baseline, in every band
    assert sub[:, 2:, 0].mean() == pytest.approx(np.log(2.0), abs=0.06)
    # the subtracted quantity is the same for every window of a trial (a per-trial, per-channel offset)
    offset = raw - sub
    np.testing.assert_allclose(offset, np.broadcast_to(offset[:, :1], offset.shape), rtol=1e-4, atol=1e-4)
    # and equals the mean of the 6 baseline windows, computed independently
    sos = signal.butter(3, [4, 8], "bandpass", fs=FS, output="sos")
    base = signal.sosfiltfilt(sos, eeg[..., :384], axis=-1).reshape(3, 32, 6, 64)
    expected = (0.5 * np.log(2 * np.pi * np.e * base.var(axis=-1, ddof=1))).mean(axis=-1)
    np.testing.assert_allclose(offset[:, 0, 0, 0], expected, rtol=1e-4)


def test_window_zscore():
    eeg = np.random.default_rng(5).normal(0, 1.0, size=(2, 32, 8064))
    f = extract_features(eeg)
    flat = f.reshape(2, 120, 2, -1).astype(np.float64)
    np.testing.assert_allclose(flat.mean(axis=-1), 0, atol=1e-5)
    np.testing.assert_allclose(flat.std(axis=-1), 1, atol=1e-4)


def test_overlap_joint_log_and_paper_bands():
    eeg = np.random.default_rng(6).normal(0, 1.0, size=(1, 32, 8064))
    f = extract_features(eeg, FeatureConfig(step_s=0.25))
    assert f.shape == (1, 239, 2, 4, 32)
    j = extract_features(eeg, FeatureConfig(filter_segments="joint", zero_phase=True))
    assert j.shape == (1, 120, 2, 4, 32) and np.isfinite(j).all()
    lg = extract_features(eeg, FeatureConfig(log_psd=True, baseline="none", normalise="none"))
    en = extract_features(eeg, FeatureConfig(baseline="none", normalise="none"))
    np.testing.assert_allclose(lg[:, :, 1], np.log(en[:, :, 1]), rtol=1e-4, atol=1e-4)
    assert FeatureConfig.from_dict({"bands": "paper"}).bands[2] == ("beta", 14.0, 30.0)


def test_config_validation_and_fingerprint():
    with pytest.raises(ConfigError, match="psd='fft' is not allowed"):
        FeatureConfig(psd="fft")
    with pytest.raises(ConfigError, match="need 0 < low < high"):
        FeatureConfig(bands=(("x", 8, 4),))
    with pytest.raises(ConfigError, match="unknown feature option"):
        FeatureConfig.from_dict({"windw_s": 1.0})
    with pytest.raises(ConfigError, match="Nyquist"):
        extract_features(np.zeros((1, 2, 8064)), FeatureConfig(bands=(("hi", 40, 70),)))
    a, b = FeatureConfig(), FeatureConfig(zero_phase=True)
    assert a.fingerprint() == FeatureConfig.from_dict(a.to_dict()).fingerprint()
    assert a.fingerprint() != b.fingerprint()


def test_default_numbers_bit_for_bit_the_plain_recipe():
    """Blocks of trials and the in-place variance change no bit of the default features (the cached
    numbers the data fingerprints stand for): the recipe written plainly over all trials at once."""
    eeg = np.random.default_rng(7).normal(0, 10.0, size=(5, 32, 8064))  # 3 blocks of 2, 2 and 1 trials

    def plain(x):  # (trials, channels, samples) -> (trials, channels, windows, 2, bands)
        de, en = [], []
        for _, lo, hi in AUTHORS_BANDS:
            y = signal.sosfilt(signal.butter(3, [lo, hi], "bandpass", fs=FS, output="sos"), x, axis=-1)
            w = np.lib.stride_tricks.sliding_window_view(y, 64, axis=-1)[..., ::64, :]
            de.append(
                0.5 * np.log(2 * np.pi * np.e * np.maximum(w.var(axis=-1, ddof=1), np.finfo(float).tiny))
            )
            en.append(np.einsum("...i,...i->...", w, w))
        return np.stack([np.stack(de, -1), np.stack(en, -1)], -2)

    trial = plain(eeg[..., 384:]).transpose(0, 2, 3, 4, 1)
    trial = trial - plain(eeg[..., :384]).transpose(0, 2, 3, 4, 1).mean(axis=1, keepdims=True)
    mu, sd = trial.mean(axis=(-2, -1), keepdims=True), trial.std(axis=(-2, -1), keepdims=True)
    expected = ((trial - mu) / np.where(sd > 0, sd, 1.0)).astype(np.float32)
    assert extract_features(eeg).tobytes() == expected.tobytes()
    assert extract_features(eeg[:0]).shape == (0, 120, 2, 4, 32)
