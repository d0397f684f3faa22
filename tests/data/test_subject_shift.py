"""The planted per-subject shift (``SyntheticConfig.subject_shift``, issue 30): off, every twin is the files
of before it existed; on, each twin's stimulus part carries exactly the drawn gain per (channel, band),
nothing else changes, and on DEAP's features it hides the valence effect behind subject offsets that
per-subject centring removes."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import welch

from bench.core.errors import ConfigError
from bench.data.categorical import faced as fd
from bench.data.categorical import seed as seed_twin
from bench.data.categorical import seed_common as sc
from bench.data.categorical import seed_iv as seed_iv_twin
from bench.data.categorical import seed_v as sv
from bench.data.datasets.deap_format import BASELINE_SAMPLES, EEG_CHANNELS, SFREQ
from bench.data.synthetic import (
    BANDS,
    MARKER,
    SyntheticConfig,
    generate_subject,
    planted_signals,
    subject_rng,
    subject_shift_gains,
    write_synthetic,
)

DEAP_BANDS = tuple((lo, hi) for _, lo, hi in BANDS)


DERIVED = {"faced": fd.FEATURES, "seed": seed_twin.FEATURE_FOLDER, "seed-iv": seed_iv_twin.FEATURE_FOLDER,
           "seed-v": sv.FEATURES}  # fmt: skip
"""The folders of features a twin computes from its own signals (FFTs, logs, smoothing): their last bits
depend on the CPU's vector unit (an AMD EPYC and an Intel Xeon write different bytes from the same
signals), so no byte hash of them holds on every machine. What they are computed from is pinned."""


def _tree_hash(root: Path, skip: str | None = None) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if p.is_file() and rel.parts[0] != skip:
            h.update(str(rel).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


# Hashes of every file (names and bytes, markers included) of SyntheticConfig(n_subjects=1, n_trials=2,
# seed=3, dataset=...) as main wrote them before the option existed (commit a164f31), but the folders of
# DERIVED. Twins round their signals (SIGNAL_DECIMALS) and write fixed headers, so these are the same on
# every CPU (the DEAP-family hashes passed on an Intel Xeon and an AMD EPYC; the others, recomputed
# without DERIVED, were checked on the AMD EPYC against a164f31's own output).
BEFORE = {
    "deap": "da5c09995dee65f43194994e203497a7811d982d1f0cbd6aa8cf11b2ef331b78",
    "dreamer": "2ea29e0424598245b53b2e9a4620a2c49ef19c38dfce438960bfb25c67f8348c",
    "amigos": "1ff25d7e3566eb1abac8a1acdb312ab95c8ece88d284aaaa3b92a18564e3e7b0",
    "mahnob-hci": "29dcbc193739f71f9c36299c6bf035fc9c6d87099b4a1611d119696edb963c50",
    "faced": "f707590c82c8b3fdaa803fba5883b42aa382c00b3eaa7f77f8efd1cc06f15224",
    "seed": "ca628781c8a65994a5e69bc73ff3d9db3d8a6d97f7b93fb3d5409068597d76f7",
    "seed-iv": "99a8156cb44686b8be995fe2ba199bcc06a4cf82990038a8f286b8743c0b1054",
    "seed-v": "7b540f928f922ee4e48525fb1cb2baff04f7780fedac7beef10ccc0c14fa9c77",
}
_SLOW = pytest.mark.slow  # the SEED family's writers take 1.5-4 s each (feature files, LDS smoothing)
TWINS = [pytest.param(ds, marks=_SLOW) if ds.startswith("seed") else ds for ds in BEFORE]


@pytest.mark.parametrize("dataset", TWINS)
def test_no_shift_writes_the_files_of_before_and_a_shift_is_recorded(dataset, tmp_path):
    cfg = SyntheticConfig(n_subjects=1, n_trials=2, seed=3, dataset=dataset)
    write_synthetic(tmp_path / "off", cfg)
    assert _tree_hash(tmp_path / "off", DERIVED.get(dataset)) == BEFORE[dataset]
    assert "subject_shift" not in cfg.to_dict()
    on = replace(cfg, subject_shift=0.5)
    write_synthetic(tmp_path / "on", on)
    assert _tree_hash(tmp_path / "on", DERIVED.get(dataset)) != BEFORE[dataset]
    marker = json.loads((tmp_path / "on" / MARKER).read_text())
    assert marker["config"] == on.to_dict() and on.to_dict()["subject_shift"] == 0.5


def test_the_option_is_checked_and_written_by_the_cli(tmp_path):
    from bench.cli import main

    with pytest.raises(ConfigError, match=r"^subject_shift=-0.5: expected a number >= 0$"):
        SyntheticConfig(subject_shift=-0.5)
    assert main(["data", "synth", str(tmp_path), "--subjects", "1", "--trials", "1",
                 "--subject-shift", "1.5"]) == 0  # fmt: skip
    assert json.loads((tmp_path / MARKER).read_text())["config"]["subject_shift"] == 1.5


def _log_band_power(x: np.ndarray, sfreq: float, bands) -> np.ndarray:
    """(..., channels, bands) log of the summed periodogram over each band's FFT bins of ``x``'s own
    grid: the grid every twin shapes and shifts its noise on, so a gain on a band is exactly a constant
    added to this."""
    spec = np.abs(np.fft.rfft(x, axis=-1)) ** 2
    freqs = np.fft.rfftfreq(x.shape[-1], 1.0 / sfreq)
    return np.stack([np.log(spec[..., (freqs >= lo) & (freqs < hi)].sum(-1)) for lo, hi in bands], -1)


# Tolerance of the exact identity below: the twins round to 1e-3 uV (rounding noise of rms 2.9e-4 uV per
# sample, white) while a band's amplitude, even 3 sd of shift (exp(-4.5)) below its ~1-10 uV, stays above
# 0.01 uV; the log of a band power moves by at most ~2 * 2.9e-4 / 0.01 = 0.06 in the worst band and by
# ~1e-4 in a typical one. 0.02 holds with room; a shift of the wrong size (or on power instead of
# amplitude: twice the gain) misses by far more.
EXACT_TOL = 0.02


def test_deap_the_shift_is_the_drawn_gain_on_the_stimulus_only():
    off = SyntheticConfig(n_subjects=2, n_trials=3, seed=7)
    on = replace(off, subject_shift=1.5)
    a, b = generate_subject(off, 2), generate_subject(on, 2)
    np.testing.assert_array_equal(a["labels"], b["labels"])
    np.testing.assert_array_equal(a["data"][:, :, :BASELINE_SAMPLES], b["data"][:, :, :BASELINE_SAMPLES])
    np.testing.assert_array_equal(a["data"][:, 32:], b["data"][:, 32:])  # peripheral channels
    stim_a, stim_b = a["data"][:, :32, BASELINE_SAMPLES:], b["data"][:, :32, BASELINE_SAMPLES:]
    gain = subject_shift_gains(1.5, 7, 2, 32, len(BANDS))
    diff = _log_band_power(stim_b, SFREQ, DEAP_BANDS) - _log_band_power(stim_a, SFREQ, DEAP_BANDS)
    np.testing.assert_allclose(diff, np.broadcast_to(2 * gain, diff.shape), atol=EXACT_TOL, rtol=0)
    assert 1.0 < gain.std() < 2.0  # 128 draws of sd 1.5: the estimate's sd is 1.5 / sqrt(256) ~ 0.09
    # the shift is its own stream: another subject, another shift; the same subject, the same one
    assert not np.allclose(gain, subject_shift_gains(1.5, 7, 1, 32, len(BANDS)))
    np.testing.assert_allclose(gain / 1.5, subject_shift_gains(1.0, 7, 2, 32, len(BANDS)), rtol=1e-15)


def test_planted_signals_needs_the_subject_for_a_shift():
    cfg = SyntheticConfig(n_subjects=1, n_trials=1, subject_shift=1.0)
    with pytest.raises(ValueError, match="subject_shift needs the subject"):
        planted_signals(subject_rng(cfg, 1), cfg, channels=EEG_CHANNELS, sfreq=SFREQ, n_trials=1,
                        n_baseline=128, n_stimulus=256)  # fmt: skip


def test_seed_family_and_faced_twins_carry_the_same_shift_in_every_trial():
    # SEED / SEED-IV: every trial of every session of a subject gets the subject's (62, 5) shift
    lengths, classes = (800, 1000), (0, 2)
    gain = subject_shift_gains(1.5, 4, 3, len(sc.CHANNELS), len(sc.BANDS))
    off = sc.twin_signals(sc.twin_rng(9, 4, 3), classes, lengths, 1.0)
    on = sc.twin_signals(sc.twin_rng(9, 4, 3), classes, lengths, 1.0, subject_shift=1.5, seed=4, subject=3)
    seed_bands = tuple((lo, hi) for _, lo, hi in sc.BANDS)
    for x, y in zip(off, on, strict=True):
        diff = _log_band_power(y, sc.SFREQ, seed_bands) - _log_band_power(x, sc.SFREQ, seed_bands)
        np.testing.assert_allclose(diff, 2 * gain, atol=EXACT_TOL, rtol=0)
    # FACED: every clip; the label-free level and state gains are the same draws with and without
    x = fd.twin_signal(2, seed=4, n_samples=500)
    y = fd.twin_signal(2, seed=4, n_samples=500, subject_shift=1.5)
    diff = _log_band_power(y, fd.SFREQ, fd.BANDS) - _log_band_power(x, fd.SFREQ, fd.BANDS)
    gain = subject_shift_gains(1.5, 4, 2, len(fd.CHANNELS), len(fd.BANDS))
    np.testing.assert_allclose(diff, np.broadcast_to(2 * gain, diff.shape), atol=EXACT_TOL, rtol=0)


def test_seed_v_shifts_the_trials_and_not_the_recording_between_them():
    trials = {1: sv.TWIN_TRIALS[1]}  # 15 clips of 3-4 s, 1-2 s apart
    x = sv.twin_signal(2, 1, seed=4, trials=trials, sfreq=200.0)
    y = sv.twin_signal(2, 1, seed=4, trials=trials, sfreq=200.0, subject_shift=1.5)
    gain = subject_shift_gains(1.5, 4, 2, len(sv.TWIN_FILE_CHANNELS), len(sv.DE_BANDS))
    inside = np.zeros(x.shape[1], dtype=bool)
    for a, b in trials[1]:
        start, stop = round(a * 200), round(b * 200)
        inside[start:stop] = True
        diff = _log_band_power(y[:, start:stop], 200.0, sv.DE_BANDS)
        diff -= _log_band_power(x[:, start:stop], 200.0, sv.DE_BANDS)
        np.testing.assert_allclose(diff, 2 * gain, atol=1e-9, rtol=0)  # unrounded: float error only
    np.testing.assert_array_equal(x[:, ~inside], y[:, ~inside])


# --------------------------------------------------------------------------------- on the features


def _fp2_alpha(cfg: SyntheticConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per subject and trial: mean log Welch power (uV^2/Hz, 2-s Hann segments) over 8-14 Hz of each EEG
    channel and band in the 60 s stimulus part, (subjects, trials, 32, 4), and valence z, (subjects,
    trials); plus Fp2 alpha's (subjects, trials) for convenience."""
    feats, z = [], []
    for s in range(1, int(cfg.n_subjects) + 1):
        d = generate_subject(cfg, s)
        f, p = welch(d["data"][:, :32, BASELINE_SAMPLES:], fs=SFREQ, nperseg=256, axis=-1)
        feats.append(np.stack([np.log(p[..., (f >= lo) & (f < hi)]).mean(-1) for lo, hi in DEAP_BANDS], -1))
        z.append((d["labels"][:, 0] - 5.0) / 4.0)
    feats_arr = np.array(feats)
    return feats_arr, np.array(z), feats_arr[:, :, EEG_CHANNELS.index("Fp2"), 1]


def _r(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def test_the_shift_hides_the_valence_effect_behind_subject_offsets_that_centring_removes():
    """6 subjects x 8 trials, effect 1.0, with subject_shift 0 and 1.5 (the same draws otherwise).

    Expected, in log power (twice log-amplitude): a subject offset of sd 2 * sqrt(1.5^2 + 0.3^2) = 3.06
    (shift and the ``subject`` gain), against a within-subject valence effect on Fp2 alpha of
    2 * 0.35 per unit z (times the subject's effect scale, mean ~1.05), z of sd ~0.5: sd ~0.37."""
    off = SyntheticConfig(n_subjects=6, n_trials=8, seed=0, effect_size=1.0)
    on = replace(off, subject_shift=1.5)
    f0, z, fp2_0 = _fp2_alpha(off)
    f1, _, fp2_1 = _fp2_alpha(on)

    # 1. The subject means of every (channel, band) spread by 2 * 1.5 * ~1 in log power. Pooled over the
    #    128 features (independent shifts), the between-subject variance has 5 * 128 = 640 degrees of
    #    freedom: its sd estimate is within 3 / sqrt(2 * 640) = 8% of the truth at 3 sigma. Welch's
    #    2-s Hann segments leak a band's edge bins into its neighbours (shifted independently), which
    #    averages a little of the shift away: allow 12% below.
    between = np.sqrt(f1.mean(1).var(0, ddof=1).mean()) / 2  # log-amplitude units
    expected = np.sqrt(1.5**2 + 0.3**2)  # 1.53 (+ the trial noise / 8 trials: ~0.05 more)
    assert expected * 0.88 < between < expected * 1.1 + 0.05, between
    without = np.sqrt(f0.mean(1).var(0, ddof=1).mean()) / 2
    assert 0.2 < without < 0.45, without  # subject gain 0.3 (+ trial noise): the shift is what adds 1.5
    # Each subject's measured offset (with minus without, same draws otherwise) is its drawn shift, times
    # a factor just under 1 (the leakage above; measured 0.94): a least-squares slope over 6 x 128.
    drawn = np.array([subject_shift_gains(1.5, 0, s, 32, len(BANDS)) for s in range(1, 7)])
    offset = (f1 - f0).mean(1) / 2
    factor = float((drawn * offset).sum() / (drawn**2).sum())
    assert 0.85 < factor <= 1.0, factor

    # 2. ... several times the within-subject effect: the slope of Fp2 alpha on z within subjects (its
    #    standard error: trial noise sd ~0.85 / (0.5 * sqrt(48)) ~ 0.25) times z's sd.
    zc = z - z.mean(1, keepdims=True)
    slope = float((zc * (fp2_1 - fp2_1.mean(1, keepdims=True))).sum() / (zc**2).sum())
    assert 0.0 < slope < 1.5, slope  # planted: 0.7 x ~1.05
    effect_sd = slope * float(zc.std())
    assert between * 2 > 4 * effect_sd, (between, effect_sd)

    # 3. Centring each subject's trials removes the shift: Fp2 alpha's correlation with valence is what
    #    it is without the shift. Welch's leakage makes the shift not quite one constant per subject (its
    #    edge bins see the neighbour bands' trial-to-trial power), so the two differ slightly; the
    #    uncentred correlation is diluted by the offsets (expected ~0.11 against ~0.39 centred, but with 6
    #    subjects it hangs on how their offsets happen to line up with their mean ratings; measured 0.16
    #    against 0.32, and 0.27 / 0.33 without the shift).
    r_centred_on = _r(fp2_1 - fp2_1.mean(1, keepdims=True), zc)
    r_centred_off = _r(fp2_0 - fp2_0.mean(1, keepdims=True), zc)
    assert abs(r_centred_on - r_centred_off) < 0.05, (r_centred_on, r_centred_off)
    assert r_centred_on > 0.2, r_centred_on
    assert _r(fp2_1, z) < r_centred_on - 0.1, (_r(fp2_1, z), r_centred_on)
