"""Synthetic DEAP: files in DEAP's exact format with documented, planted effects.

DEAP cannot be downloaded here, so the harness ships this generator as its embedded default. It
writes ``sXX.dat`` pickles of ``{"data": (trials, 40, 8064) float64, "labels": (trials, 4)}`` that the
reader cannot tell from the real ones, plus a ``SYNTHETIC.json`` marker that labels everything computed
from them as synthetic.

The signal model (all in the frequency domain, vectorised over trials and channels)
-------------------------------------------------------------------------------------
Each EEG channel is Gaussian noise shaped by an amplitude spectrum ``bg(f) * G[band(f)]``:

* ``bg(f)``: a 1/f power background with an alpha peak at 10 Hz, attenuated outside 4-45 Hz (DEAP's
  preprocessing band-passed 4-45 Hz); about 15 uV RMS.
* ``G`` is a product of log-normal gains per (channel, band), each a named source of variation:

  ``subject``      per subject and (channel, band), sd ``subject_variability`` - inter-subject spread.
  ``state``        per trial, present in the 3 s baseline *and* the trial, sd ``state_sd``: what
                   baseline removal is for.
  ``fingerprint``  per trial, in the 60 s trial only, sd ``fingerprint_sd``: a trial identity shared
                   by all of its windows, so a segment-level split (windows of one trial in train and
                   test) lets a model memorise trials and inflates accuracy, as on real DEAP.
  ``effect``       ``exp(effect_size * sum_k coef_k * z_k)`` with ``z = (rating - 5) / 4`` for valence
                   and arousal; the coefficients are :data:`PLANTED_EFFECTS`, each scaled per subject
                   by a log-normal factor (sd 0.3) so subjects differ in how strongly they show them.
  ``shift``        per subject and (channel, band), in the stimulus part only, sd ``subject_shift``
                   (default 0: none): a subject's response style, which hides the shared effect from a
                   model trained across subjects (:func:`shift_stimulus`, below).

Ratings are continuous on 1-9 (rounded to 0.01) with a per-subject bias, giving roughly 55-60% "high"
trials per task as on DEAP. Subject ``s`` is generated from ``SeedSequence([seed, s])``: a subject's data
does not depend on how many subjects are written.

A planted per-subject shift (``subject_shift``)
-----------------------------------------------
For subject-independent methods (domain adaptation, per-subject alignment) a twin needs subjects that
differ by more than a model trained across them can ignore. ``subject_shift`` is the sd of one more
log-normal amplitude gain per subject and (channel, band), shared by all of that subject's trials and
applied to the *stimulus part only*: baseline removal, which subtracts the pre-stimulus baseline's
features, does not cancel it (a subject's way of responding is not in their resting baseline), while
centring each subject's features (or any alignment that estimates a per-subject offset) does. In log
band power it moves a subject's features by ``2 * shift``, sd ``2 * subject_shift``.

Recommended value to hide the effect: **1.5**. The planted valence coefficients are 0.30-0.35 per unit
``z`` (``z`` in [-1, 1], sd about 0.5 on DEAP-like ratings), so one (channel, band) moves by at most
0.7 log-amplitude between the lowest and highest rating, with an sd of about 0.17 over trials. A shift
of sd 1.5 gives subjects offsets about 9 times that sd and twice the effect's whole range (1.0 is
about 6 times its sd); the ``subject`` gain's 0.3 is of the effect's own order and hides nothing.
Measured (16 subjects x 20 trials, seed 0; high/low valence from the 128 log Welch band powers of the
stimulus part, logistic regression, 4 folds by subject; majority class 59.7%): 77.8% without a shift,
65.3% at 1.0, 63.1% at 1.5, and 78.1% at 1.5 once each subject's features are centred. The
shift is drawn from its own random stream (:data:`SUBJECT_SHIFT_STREAM`), so every other draw of a
subject is the same with and without it, and ``subject_shift=0`` writes exactly the files of before the
option existed (the config, the folder key and the marker too: :meth:`SyntheticConfig.to_dict` leaves
the field out). Every twin applies it with :func:`shift_stimulus`: the DEAP family (DEAP, DREAMER,
AMIGOS, MAHNOB-HCI) to :func:`planted_signals`' stimulus part with :data:`BANDS`, SEED, SEED-IV and
FACED to their clips (which have no baseline) and SEED-V to its trials (not the recording between them),
each with its own feature bands.

Peripheral channels (DEAP's 32-39)
----------------------------------
Plausible signals, label-free by default: EOG and EMG noise; GSR a per-trial level (1000-5000) plus a
random walk; respiration a 0.2-0.35 Hz sine; plethysmograph pulses ``sin(2 pi f t)**8`` with f drawn
from 1.0-1.5 Hz, so the pulse rate is 2f = 2-3 Hz (120-180 per minute: fast for a seated listener, kept
so that existing twins stay the same files); temperature a level of 28-34 plus a slow drift.

``peripheral_effect`` (default 0: none, and the files are exactly those of before it existed) plants an
arousal effect in the stimulus part only (the 3 s baseline is untouched), scaled by ``peripheral_effect
* z`` with ``z = (arousal - 5) / 4`` as the EEG effects are (:data:`PERIPHERAL_EFFECTS`):

* GSR rises with arousal: ``+ GSR_RISE * z * (1 - exp(-t / GSR_TAU_S))`` after stimulus onset (t in
  seconds): a level 400 units higher at ``z = 1`` once settled, and a slope of ``GSR_RISE / GSR_TAU_S``
  per second at onset.
* Heart rate rises with arousal: the pulse rate shifts by ``HEART_SHIFT_HZ * z`` (0.5 Hz = 30 per minute
  at ``z = 1``) from stimulus onset, phase-continuous.

Strong and uniform across subjects on purpose: it is there to test that a model fusing peripheral
features (:mod:`bench.data.peripheral`) can use them, not to mimic DEAP's physiology.
"""

from __future__ import annotations

import json
import os
import pickle
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from bench.core.checks import check_number
from bench.core.errors import ConfigError, DataError
from bench.core.files import atomic_file
from bench.data.datasets import DEFAULT_DATASET, get_dataset
from bench.data.datasets.deap_format import BASELINE_SAMPLES, EEG_CHANNELS, N_SAMPLES, SFREQ

GENERATOR_VERSION = 2
"""Bump when the files a config produces change (part of the embedded default's cache key). 2: signals
rounded to :data:`SIGNAL_DECIMALS`."""
SIGNAL_DECIMALS = 3
"""Every twin's signals are rounded to 1e-3 of their unit (EEG: microvolts) before they are written.
The float64 arithmetic that draws them (FFT, exp, sin) may differ in its last bit between numpy builds
and CPUs, and a data fingerprint is a hash of the files: unrounded, the same config gave other files,
hence another data set in the tables, on another install. A last-bit difference moves a rounded value
only when it lies within that bit of a rounding boundary (odds ~1e-11 per value); 1e-3 uV is far
below the EEG's noise and below the resolution DEAP's 24-bit recordings had."""
TWIN_REVISIONS: dict[str, int] = {"mahnob-hci": 2, "dreamer": 2, "amigos": 2}
"""Per dataset, the revision of its twin's files where they changed since :data:`GENERATOR_VERSION` 1
(MAHNOB-HCI 2: the Status channel's onset and end pulses, as in the recordings; DREAMER 2 and AMIGOS 2:
the ECG and GSR rounded like the EEG and a fixed MATLAB header text, so the files are the same on every
CPU and day). Part of that dataset's
config (:meth:`SyntheticConfig.to_dict`), hence of its twin's folder key and marker: a twin written
before is not taken for the new one, and the other datasets' twins keep their keys."""

BANDS: tuple[tuple[str, float, float], ...] = (
    ("theta", 4.0, 8.0),
    ("alpha", 8.0, 14.0),
    ("beta", 14.0, 30.0),
    ("gamma", 30.0, 45.0),
)

_LEFT_FRONTAL = ("Fp1", "AF3", "F3", "F7", "FC5")
_RIGHT_FRONTAL = ("Fp2", "AF4", "F4", "F8", "FC6")
_TEMPORAL = ("T7", "T8")
_POSTERIOR = ("P3", "P4", "Pz", "P7", "P8", "PO3", "PO4", "O1", "O2", "Oz")

PLANTED_EFFECTS: tuple[tuple[str, str, tuple[str, ...], float], ...] = (
    # (rating, band, channels, log-amplitude coefficient per unit z = (rating - 5) / 4)
    ("valence", "alpha", _LEFT_FRONTAL, -0.35),  # frontal alpha asymmetry: high valence, less left alpha
    ("valence", "alpha", _RIGHT_FRONTAL, +0.35),  # ... and more right frontal alpha
    ("valence", "gamma", _TEMPORAL, +0.30),  # temporal gamma rises with valence
    ("arousal", "beta", EEG_CHANNELS, +0.20),  # beta power rises with arousal everywhere
    ("arousal", "gamma", EEG_CHANNELS, +0.20),  # ... and gamma
    ("arousal", "alpha", _POSTERIOR, -0.35),  # posterior alpha falls with arousal
)
"""The planted rating -> band-amplitude effects (documented; tests assert them)."""

GSR_RISE = 400.0
"""GSR level change (DEAP's GSR units) at ``peripheral_effect * z = 1``, once settled."""
GSR_TAU_S = 15.0
"""Time constant (s) of the GSR change after stimulus onset."""
HEART_SHIFT_HZ = 0.5
"""Pulse-rate change (Hz) at ``peripheral_effect * z = 1``."""
PERIPHERAL_EFFECTS: tuple[tuple[str, str, str, float], ...] = (
    # (rating, channel, what changes, change per unit peripheral_effect * z)
    ("arousal", "GSR", "level, saturating with time constant GSR_TAU_S after onset", GSR_RISE),
    ("arousal", "Plethysmograph", "pulse rate (Hz)", HEART_SHIFT_HZ),
)
"""The planted arousal -> peripheral effects of ``SyntheticConfig.peripheral_effect`` (DEAP twins)."""


@dataclass(frozen=True)
class SyntheticConfig:
    """What to generate. Every field is recorded in ``SYNTHETIC.json`` and the cache key."""

    n_subjects: int = 32
    n_trials: int = 40
    seed: int = 0
    effect_size: float = 1.0
    """Scale of :data:`PLANTED_EFFECTS` (0: ratings carry no information)."""
    subject_variability: float = 0.3
    state_sd: float = 0.3
    fingerprint_sd: float = 0.3
    high_fraction: float = 0.58
    """Target share of ratings above the dataset's threshold (DEAP: roughly 0.55-0.60 above 5)."""
    dataset: str = DEFAULT_DATASET
    """The dataset whose file format, channels, rates and rating scale the twin has."""
    peripheral_effect: float = 0.0
    """Scale of :data:`PERIPHERAL_EFFECTS` (DEAP twins; 0: label-free peripheral signals)."""
    subject_shift: float = 0.0
    """Sd of the per-subject (channel, band) log-amplitude shift of the stimulus part (module doc; 0:
    none, 1.5 recommended to hide the planted effects from plain training across subjects)."""

    def __post_init__(self) -> None:
        ds = get_dataset(self.dataset)
        if not 1 <= int(self.n_subjects) <= ds.n_subjects:
            raise ConfigError(f"n_subjects={self.n_subjects!r} must be in 1..{ds.n_subjects} ({ds.title})")
        if not 1 <= int(self.n_trials) <= ds.n_trials:
            raise ConfigError(f"n_trials={self.n_trials!r} must be in 1..{ds.n_trials} ({ds.title})")
        for name in ("effect_size", "subject_variability", "state_sd", "fingerprint_sd"):
            if not getattr(self, name) >= 0:
                raise ConfigError(f"{name}={getattr(self, name)!r} must be >= 0")
        if not 0.05 <= self.high_fraction <= 0.95:
            raise ConfigError(f"high_fraction={self.high_fraction!r} must be in 0.05..0.95")
        check_number("peripheral_effect", self.peripheral_effect, low=0)
        check_number("subject_shift", self.subject_shift, low=0)
        if self.peripheral_effect and not ds.peripheral:
            raise ConfigError(
                f"peripheral_effect={self.peripheral_effect!r}: {ds.title} twins have no peripheral signals "
                "that the harness reads (DEAP's do)"
            )

    def to_dict(self) -> dict:
        d = asdict(self)
        if d["dataset"] == "deap":  # DEAP twins predate the field: their folder keys stay the same
            del d["dataset"]
        if not d["peripheral_effect"]:  # likewise: twins without it keep their keys and markers
            del d["peripheral_effect"]
        if not d["subject_shift"]:  # likewise: twins without a shift keep their keys and markers
            del d["subject_shift"]
        if self.dataset in TWIN_REVISIONS:
            d["twin_revision"] = TWIN_REVISIONS[self.dataset]
        return d


FAST_SIZE: tuple[int, int] = (4, 16)
"""Subjects and trials of the small preset for tests and quick looks (``bench data synth --fast``). Plain
numbers, not a SyntheticConfig: building one looks its dataset up, and this module is imported while
the DEAP dataset (whose twin writer is here) is being registered."""

MARKER = "SYNTHETIC.json"
PARTIAL_MARKER = "SYNTHETIC.partial"
"""Present while a twin is being written (a write cut short leaves it: the files may be replaced)."""


def _effect_matrix(channels: tuple[str, ...] = EEG_CHANNELS) -> np.ndarray:
    """Coefficients as an array (2 ratings, channels, 4 bands); effects on channels a headset lacks are
    simply absent from its twin."""
    coef = np.zeros((2, len(channels), len(BANDS)))
    ch = {c: i for i, c in enumerate(channels)}
    bands = [b[0] for b in BANDS]
    for rating, band, chans, value in PLANTED_EFFECTS:
        idx = [ch[c] for c in chans if c in ch]
        coef[("valence", "arousal").index(rating), idx, bands.index(band)] += value
    return coef


def _band_index(freqs: np.ndarray) -> np.ndarray:
    """Band of each frequency bin (0..3), or 4 for bins outside every band."""
    idx = np.full(freqs.shape, len(BANDS), dtype=np.int64)
    for i, (_, lo, hi) in enumerate(BANDS):
        idx[(freqs >= lo) & (freqs < hi)] = i
    return idx


def _background(freqs: np.ndarray) -> np.ndarray:
    """Amplitude spectrum: 1/f power, an alpha peak, attenuation outside DEAP's 4-45 Hz pass band."""
    f = np.maximum(freqs, 1.0)
    amp = f**-0.5 * (1.0 + 1.5 * np.exp(-0.5 * ((freqs - 10.0) / 1.5) ** 2))
    amp *= np.where((freqs >= 4.0) & (freqs <= 45.0), 1.0, 0.05)
    return amp


def _shaped_noise(rng: np.random.Generator, gains: np.ndarray, n: int, sfreq: float = SFREQ) -> np.ndarray:
    """Gaussian noise (trials, channels, n) with amplitude spectrum background x band gains."""
    freqs = np.fft.rfftfreq(n, d=1.0 / sfreq)
    band = _band_index(freqs)
    gains = np.concatenate([gains, np.ones((*gains.shape[:2], 1))], axis=-1)  # out-of-band gain 1
    spec = np.fft.rfft(rng.standard_normal((*gains.shape[:2], n)), axis=-1)
    spec *= _background(freqs) * gains[..., band]
    x = np.fft.irfft(spec, n=n, axis=-1)
    return x * (15.0 / np.sqrt(np.mean(_background(freqs) ** 2) * 2.0))  # ~15 uV RMS at unit gain


def _ratings(rng: np.random.Generator, n_trials: int, high_fraction: float) -> np.ndarray:
    """(trials, 4) continuous ratings on 1-9: valence, arousal, dominance, liking."""
    from scipy.stats import norm

    sd = 2.0
    mean = 5.0 + sd * norm.ppf(high_fraction) + rng.normal(0.0, 0.5)  # per-subject bias
    va = rng.multivariate_normal([mean, mean], [[sd**2, 0.2 * sd**2], [0.2 * sd**2, sd**2]], n_trials)
    dom = 0.5 * va[:, 0] + 0.5 * rng.normal(5.0, sd, n_trials)
    lik = 0.7 * va[:, 0] + 0.3 * rng.normal(5.5, sd, n_trials)
    return np.round(np.clip(np.column_stack([va, dom, lik]), 1.0, 9.0), 2)


def _peripheral(rng: np.random.Generator, n_trials: int, arousal_z: np.ndarray | None = None,
                effect: float = 0.0) -> np.ndarray:  # fmt: skip
    """(trials, 8, 8064): EOG, EMG, GSR, respiration, plethysmograph, temperature, with the planted
    arousal effects (module doc) scaled by ``effect * arousal_z`` where ``effect`` is not 0. The random
    draws are the same with and without the effect, so ``effect=0`` gives the files of before it existed."""
    t = np.arange(N_SAMPLES) / SFREQ
    out = np.empty((n_trials, 8, N_SAMPLES))
    out[:, 0:2] = rng.normal(0.0, 40.0, (n_trials, 2, N_SAMPLES))  # hEOG, vEOG
    out[:, 2:4] = rng.normal(0.0, 5.0, (n_trials, 2, N_SAMPLES))  # zEMG, tEMG
    walk = np.cumsum(rng.normal(0.0, 2.0, (n_trials, N_SAMPLES)), axis=-1)
    out[:, 4] = rng.uniform(1000.0, 5000.0, (n_trials, 1)) + walk  # GSR
    resp_f, heart_f = rng.uniform(0.2, 0.35, (n_trials, 1)), rng.uniform(1.0, 1.5, (n_trials, 1))
    out[:, 5] = 500.0 * np.sin(2 * np.pi * resp_f * t)  # respiration
    out[:, 6] = 2000.0 * np.sin(2 * np.pi * heart_f * t) ** 8  # plethysmograph pulses (rate 2 * heart_f)
    out[:, 7] = rng.uniform(28.0, 34.0, (n_trials, 1)) + 0.001 * t  # temperature
    if effect:
        z = effect * np.asarray(arousal_z, dtype=np.float64)[:, None]
        onset = np.maximum(t - BASELINE_SAMPLES / SFREQ, 0.0)  # seconds since stimulus onset, 0 before
        out[:, 4] += GSR_RISE * z * (1.0 - np.exp(-onset / GSR_TAU_S))
        # sin**8 pulses twice per period of the sine: its frequency moves by half the pulse-rate change
        phase = 2 * np.pi * heart_f * t + np.pi * HEART_SHIFT_HZ * z * onset  # the baseline's bit for bit
        out[:, 6] = 2000.0 * np.sin(phase) ** 8
    return np.round(out, SIGNAL_DECIMALS)


def rating_z(ratings: np.ndarray, threshold: float = 5.0, high: float = 9.0) -> np.ndarray:
    """``(rating - threshold) / (high - threshold)``: what every planted effect is proportional to (1 at the
    top of the scale, 0 at the threshold)."""
    return (ratings - threshold) / (high - threshold)


SUBJECT_SHIFT_STREAM = 0x53484654
"""Last word of the key ``[seed, subject, SUBJECT_SHIFT_STREAM]`` of the shift's random stream ("SHFT" in
ASCII): a stream of its own, so the shift takes no draws from the subject's other streams, and large, so
it meets none of the twins' other keys (``[seed, subject]``, ``[seed, subject, session]``, ``[tag, seed,
subject]``; a final 0 would not do: ``SeedSequence`` takes ``[a, b]`` and ``[a, b, 0]`` alike)."""


def subject_shift_gains(sd: float, seed: int, subject: int, n_channels: int, n_bands: int) -> np.ndarray:
    """The subject's shift: (channels, bands) log-amplitude gains, normal with sd ``sd``, from the
    subject's own shift stream; every session and trial of the subject gets the same ones. The draws are
    ``sd`` times the same standard normals for every ``sd``: a larger shift is the same one, scaled."""
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), int(subject), SUBJECT_SHIFT_STREAM]))
    return rng.normal(0.0, float(sd), (int(n_channels), int(n_bands)))


def shift_stimulus(
    x: np.ndarray,
    *,
    sd: float,
    seed: int,
    subject: int,
    sfreq: float,
    bands: tuple[tuple[float, float], ...],
) -> np.ndarray:
    """``x`` (..., channels, samples) with each channel's amplitude in each band ``[lo, hi)`` Hz multiplied
    by ``exp`` of the subject's shift (:func:`subject_shift_gains`; 1 outside every band); ``x`` itself
    where ``sd`` is 0, so twins without a shift are the files they were.

    The one place every twin applies ``SyntheticConfig.subject_shift``, to its stimulus part before
    rounding. A gain per FFT bin of the whole segment: where ``x`` was drawn as noise shaped on the same
    FFT grid (every twin's trials are), this is exactly the twin's own (channel, band) gain times the
    shift, so a segment's band power moves by ``exp(2 * shift)``."""
    if not sd:
        return x
    log_gain = subject_shift_gains(sd, seed, subject, x.shape[-2], len(bands))
    n = x.shape[-1]
    freqs = np.fft.rfftfreq(n, d=1.0 / float(sfreq))
    band = np.full(freqs.shape, len(bands), dtype=np.int64)
    for i, (lo, hi) in enumerate(bands):
        band[(freqs >= lo) & (freqs < hi)] = i
    gain = np.concatenate([np.exp(log_gain), np.ones((log_gain.shape[0], 1))], axis=1)[:, band]
    return np.fft.irfft(np.fft.rfft(x, axis=-1) * gain, n=n, axis=-1)


def planted_signals(
    rng: np.random.Generator,
    config: SyntheticConfig,
    *,
    channels: tuple[str, ...],
    sfreq: float,
    n_trials: int,
    n_baseline: int,
    n_stimulus: int,
    scale: tuple[float, float] = (1.0, 9.0),
    threshold: float = 5.0,
    integer_ratings: bool = False,
    subject: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The signal model every twin shares: (ratings, baseline, stimulus) of one subject's trials.

    ``ratings`` (trials, 4): valence, arousal, dominance, liking on ``scale`` (drawn on 1-9, mapped
    linearly, rounded to integers where the dataset's ratings are), ``baseline`` (trials, channels,
    n_baseline) and ``stimulus`` (trials, channels, n_stimulus) in microvolts. The planted effects scale
    with ``z = (rating - threshold) / (scale high - threshold)``: on DEAP's 1-9 with threshold 5 that is
    ``(rating - 5) / 4``, on DREAMER's 1-5 with threshold 3 ``(rating - 3) / 2``. With DEAP's values
    this draws exactly what DEAP's generator always drew.

    ``subject`` (from 1) keys the stimulus part's shift (:func:`shift_stimulus`), required where
    ``config.subject_shift`` is not 0; the shift draws nothing from ``rng``.
    """
    lo, hi = scale
    n_t, n_c, n_b = int(n_trials), len(channels), len(BANDS)
    labels = _ratings(rng, n_t, config.high_fraction)
    if (lo, hi) != (1.0, 9.0):
        labels = lo + (labels - 1.0) * (hi - lo) / 8.0
    if integer_ratings:
        labels = np.clip(np.round(labels), lo, hi)
    z = rating_z(labels[:, :2], threshold, hi)  # (trials, 2)
    subject_gain = rng.normal(0.0, config.subject_variability, (1, n_c, n_b))
    effect_scale = np.exp(rng.normal(0.0, 0.3, (2, 1, 1)))  # how strongly this subject shows each effect
    effect = config.effect_size * np.einsum("tk,kcb->tcb", z, effect_scale * _effect_matrix(channels))
    state = rng.normal(0.0, config.state_sd, (n_t, n_c, n_b))
    fingerprint = rng.normal(0.0, config.fingerprint_sd, (n_t, n_c, n_b))
    base = _shaped_noise(rng, np.exp(subject_gain + state), n_baseline, sfreq)
    stim = _shaped_noise(rng, np.exp(subject_gain + state + fingerprint + effect), n_stimulus, sfreq)
    if config.subject_shift:
        if subject is None:
            raise ValueError("planted_signals: subject_shift needs the subject (its shift's random stream)")
        stim = shift_stimulus(
            stim, sd=config.subject_shift, seed=config.seed, subject=subject, sfreq=sfreq,
            bands=tuple((lo, hi) for _, lo, hi in BANDS),
        )  # fmt: skip
    return labels, np.round(base, SIGNAL_DECIMALS), np.round(stim, SIGNAL_DECIMALS)


def subject_rng(config: SyntheticConfig, subject: int) -> np.random.Generator:
    """Subject ``s``'s generator: a subject's data never depends on how many subjects are written."""
    return np.random.default_rng(np.random.SeedSequence([int(config.seed), int(subject)]))


def generate_subject(config: SyntheticConfig, subject: int) -> dict[str, np.ndarray]:
    """One DEAP subject's ``{"data": (trials, 40, 8064), "labels": (trials, 4)}``, deterministic."""
    rng = subject_rng(config, subject)
    labels, base, trial = planted_signals(
        rng, config, channels=EEG_CHANNELS, sfreq=SFREQ, n_trials=int(config.n_trials),
        n_baseline=BASELINE_SAMPLES, n_stimulus=N_SAMPLES - BASELINE_SAMPLES, subject=subject,
    )  # fmt: skip
    periph = _peripheral(rng, len(labels), rating_z(labels[:, 1]), float(config.peripheral_effect))
    data = np.concatenate([np.concatenate([base, trial], axis=-1), periph], axis=1)
    return {"data": data.astype(np.float64), "labels": labels}


def _atomic_pickle(obj: object, path: Path) -> None:
    """Pickle ``obj`` to ``path`` as DEAP's files are (Python 2 pickles), atomically."""

    def write(tmp: Path) -> None:
        with tmp.open("wb") as f:
            pickle.dump(obj, f, protocol=2)

    atomic_file(path, write)


def open_twin_folder(folder: str | Path, dataset_files: str) -> Path:
    """Make ``folder`` ready for a twin: refuse one holding the dataset's files without the synthetic
    marker (a real copy is never overwritten), and replace an earlier twin's marker by a "being written"
    one (the folder is incomplete until :func:`write_marker` runs; a write cut short leaves that one, so
    the next write may overwrite its files). ``dataset_files`` is a glob of the dataset's files."""
    folder = Path(folder)
    marker, partial = folder / MARKER, folder / PARTIAL_MARKER
    if _holds_real_files(folder, dataset_files):
        raise DataError(f"{folder}: holds data files that are not synthetic; refusing to overwrite them")
    folder.mkdir(parents=True, exist_ok=True)
    partial.write_text("a synthetic twin is being written here\n")
    marker.unlink(missing_ok=True)
    return folder


def _holds_real_files(folder: Path, dataset_files: str) -> bool:
    """Files of the dataset, and neither marker: the folder is not ours to overwrite."""
    if not folder.is_dir() or (folder / MARKER).is_file() or (folder / PARTIAL_MARKER).is_file():
        return False
    return any(folder.glob(dataset_files))


def write_marker(folder: Path, config: SyntheticConfig) -> None:
    """Write ``SYNTHETIC.json`` last: the twin is complete, and everything computed from it is synthetic."""
    title = get_dataset(config.dataset).title
    info = {
        "generator_version": GENERATOR_VERSION,
        "config": config.to_dict(),
        "planted_effects": [
            {"rating": r, "band": b, "channels": list(c), "log_amplitude_per_z": v}
            for r, b, c, v in PLANTED_EFFECTS
        ],
        **(
            {
                "peripheral_effects": [
                    {"rating": r, "channel": c, "what": w, "change_per_z": v}
                    for r, c, w, v in PERIPHERAL_EFFECTS
                ]
            }
            if config.peripheral_effect
            else {}
        ),
        "note": f"Synthetic data from deap-bench; not {title}. Results computed from it are synthetic.",
    }
    marker = folder / MARKER
    tmp = marker.with_suffix(".tmp")
    tmp.write_text(json.dumps(info, indent=1))
    os.replace(tmp, marker)
    (folder / PARTIAL_MARKER).unlink(missing_ok=True)


def write_synthetic(folder: str | Path, config: SyntheticConfig | None = None) -> list[Path]:
    """Write the twin of ``config.dataset`` into ``folder`` in that dataset's file format."""
    config = config or SyntheticConfig()
    return get_dataset(config.dataset).write_synthetic(Path(folder), config)


def write_synthetic_deap(folder: str | Path, config: SyntheticConfig | None = None) -> list[Path]:
    """Write ``s01.dat ... sNN.dat`` and ``SYNTHETIC.json`` into ``folder``; returns the subject files.

    Each file is written atomically; the marker is written last, so a folder without it is incomplete.
    A folder that already holds DEAP files without the marker (a real DEAP copy) is refused.
    """
    config = config or SyntheticConfig()
    folder = Path(folder)
    if _holds_real_files(folder, "s[0-9][0-9].dat"):
        raise DataError(f"{folder}: holds DEAP files that are not synthetic; refusing to overwrite them")
    folder = open_twin_folder(folder, "s[0-9][0-9].dat")
    for stale in folder.glob("s[0-9][0-9].dat"):  # an earlier synthetic set may have had more subjects
        if int(stale.name[1:3]) > int(config.n_subjects):
            stale.unlink()
    files = []
    for s in range(1, int(config.n_subjects) + 1):
        path = folder / f"s{s:02d}.dat"
        _atomic_pickle(generate_subject(config, s), path)
        files.append(path)
    write_marker(folder, config)
    return files
