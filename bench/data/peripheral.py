"""Peripheral features: DEAP's 8 peripheral channels as a few numbers per EEG window.

A model that asks for them (``InputSpec.peripheral``, MT-CNN's ``-M peripheral=true``) gets, per window
of the brain maps, the :data:`PERIPHERAL_FEATURES` below; the feature cache stores them beside the maps
(``peripheral.npy``, (trials, windows, P)) and :func:`bench.data.inputs.build_inputs` puts them on one
extra plane of each sample.

Windows
-------
The same grid as the brain maps (:mod:`bench.data.features`): windows of ``window_s`` every ``step_s``
over the stimulus part, so window ``w`` here is window ``w`` of the maps. The recording is cut as the
EEG is (the last ``baseline_s`` seconds of baseline, then the stimulus).

Context
-------
Physiology is slow: a breath takes 3-6 s, skin conductance moves over seconds, and a 0.5 s window
holds less than one heartbeat. So the slow features of a window are computed over a trailing context
of :data:`CONTEXT_S` (10 s) ending where the window ends: 0.1 Hz frequency resolution, 2-5 breaths,
8-20 heartbeats. Where that context would start before the recording (windows ending within the first
7 s of the stimulus, with DEAP's 3 s of baseline), all of them use the first 10 s of the recording (the
baseline and the first 7 s of the stimulus: for those windows, up to 6.5 s after their end). EOG and EMG
are fast: they are measured over the window itself.

Features (in :data:`PERIPHERAL_FEATURES` order)
-----------------------------------------------
``heog_log_power``, ``veog_log_power``, ``zemg_log_power``, ``temg_log_power``
    ``log`` of the variance of the window (eye movements, muscle activity; floored at :data:`LOG_FLOOR`,
    as every power here).
``gsr_level``
    Mean GSR over the context minus the mean of the trial's baseline (with the feature config's
    ``baseline="subtract"``, as the maps' baseline removal; absolute with ``baseline="none"``): GSR
    levels differ by electrode contact and session, its response to the stimulus is the change.
``gsr_slope``
    Least-squares slope of GSR over the context, per second.
``resp_log_power``, ``resp_freq``
    Respiration band :data:`RESP_BAND` (0.1-0.5 Hz, 6-30 breaths per minute): ``log`` of the power in the
    band and the frequency of its peak (Hz).
``heart_log_power``, ``heart_freq``
    Plethysmograph band :data:`HEART_BAND` (0.7-3.5 Hz, 42-210 per minute: a seated listener's 50-110,
    and the synthetic twin's 120-180, 90-210 with its planted effect): ``log`` of the power in the band
    and the frequency of its peak (Hz), the heart rate.
``temp_level``
    Mean temperature over the context, absolute: it drifts over minutes, so a difference from a 3 s
    baseline within one minute is noise, while its level tracks the slow state.

Spectra are Hann-windowed periodograms (:func:`scipy.signal.periodogram`, linear detrend, zero-padded to
:data:`ZERO_PAD` times the context for a finer grid) with the power integrated over ``low <= f < high``
and the peak located by a parabola through the log power of its bin and its neighbours. Spectral
features are not baseline-corrected: 3 s of baseline resolve no breathing rhythm. Nothing is
normalised here: the trainer standardises every input element with training-part statistics.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from scipy import signal

from bench.core.errors import ConfigError, DataError
from bench.data.datasets import Dataset, SubjectRecording
from bench.data.features import FeatureConfig, _windows
from bench.data.recordings import recording_for

PERIPHERAL_FEATURES: tuple[str, ...] = (
    "heog_log_power",
    "veog_log_power",
    "zemg_log_power",
    "temg_log_power",
    "gsr_level",
    "gsr_slope",
    "resp_log_power",
    "resp_freq",
    "heart_log_power",
    "heart_freq",
    "temp_level",
)
"""The features of each window, in the order of the last axis of :func:`peripheral_features`."""

CONTEXT_S = 10.0
"""Seconds of trailing context of the slow features (GSR, respiration, heart, temperature)."""
RESP_BAND = (0.1, 0.5)
"""Respiration band, Hz (6-30 breaths per minute)."""
HEART_BAND = (0.7, 3.5)
"""Heart-rate band of the plethysmograph, Hz (42-210 beats per minute)."""
ZERO_PAD = 4
"""Periodograms are zero-padded to this many times the context (a 0.025 Hz grid at 10 s)."""

FAST_CHANNELS: tuple[str, ...] = ("hEOG", "vEOG", "zEMG", "tEMG")
"""Channels measured over the window itself (``<name>_log_power``)."""
BLOCK_TRIALS = 8
"""Trials per block of spectra (a block of DEAP's 120 windows x 10 s contexts, zero-padded, ~40 MB)."""


def no_peripheral_error(ds: Dataset) -> ConfigError:
    """The one-line refusal for a dataset whose recordings carry no peripheral signals (here)."""
    return ConfigError(
        f"model input asks for peripheral signals; {ds.title} recordings have none in this harness"
    )


def check_peripheral(ds: Dataset) -> None:
    """Refuse, before any data is read, a model input with peripheral features on a dataset without."""
    if not ds.peripheral:
        raise no_peripheral_error(ds)


def peripheral_features(rec: SubjectRecording, ds: Dataset, config: FeatureConfig) -> np.ndarray:
    """(trials, windows, P) float32 peripheral features of one subject (module doc), on the window grid of
    the brain maps of ``config``."""
    if rec.peripheral is None:
        raise no_peripheral_error(ds)
    index = {c: i for i, c in enumerate(rec.peripheral_names)}
    needed = (*FAST_CHANNELS, "GSR", "Respiration", "Plethysmograph", "Temperature")
    missing = [c for c in needed if c not in index]
    if missing:
        raise DataError(f"{rec.path}: peripheral channels {', '.join(missing)} missing (has {list(index)})")
    # the same cut as the EEG's: the config's baseline seconds, then the stimulus
    x = recording_for(replace(rec, eeg=rec.peripheral, channel_names=rec.peripheral_names), ds,
                      replace(config, channels=None))  # fmt: skip
    sfreq = float(rec.sfreq)
    n_base = round(config.baseline_s * sfreq)
    win, step = config.window_grid(sfreq)
    n_trials, _, n = x.shape
    n_windows = config.n_windows(n - n_base, sfreq)
    ends = n_base + np.arange(n_windows) * step + win
    ctx = min(round(CONTEXT_S * sfreq), n)
    starts = np.clip(ends - ctx, 0, None)
    out = np.empty((n_trials, n_windows, len(PERIPHERAL_FEATURES)))

    def channel(name: str) -> np.ndarray:
        return np.asarray(x[:, index[name]], dtype=np.float64)

    def contexts(name: str) -> np.ndarray:
        """(trials, windows, ctx): the trailing context of every window (a copy)."""
        return np.lib.stride_tricks.sliding_window_view(channel(name), ctx, axis=-1)[:, starts]

    col = {f: i for i, f in enumerate(PERIPHERAL_FEATURES)}
    for name in FAST_CHANNELS:
        w = _windows(channel(name)[:, n_base:], win, step)[:, :n_windows]
        out[..., col[f"{name.lower()}_log_power"]] = _log(w.var(axis=-1))
    gsr = contexts("GSR")
    level = gsr.mean(axis=-1)
    if config.baseline == "subtract" and n_base:
        level = level - channel("GSR")[:, :n_base].mean(axis=-1, keepdims=True)
    out[..., col["gsr_level"]] = level
    t = np.arange(ctx) / sfreq
    t -= t.mean()
    out[..., col["gsr_slope"]] = gsr @ t / (t @ t)
    del gsr
    out[..., col["temp_level"]] = contexts("Temperature").mean(axis=-1)
    for name, band, prefix in (("Respiration", RESP_BAND, "resp"), ("Plethysmograph", HEART_BAND, "heart")):
        power, freq = band_power_and_peak(contexts(name), sfreq, band)
        out[..., col[f"{prefix}_log_power"]] = _log(power)
        out[..., col[f"{prefix}_freq"]] = freq
    return out.astype(np.float32)


def band_power_and_peak(
    x: np.ndarray, sfreq: float, band: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray]:
    """Power of ``x`` (..., samples) in ``band`` (``low <= f < high``) and the frequency of its peak there
    (Hz), from Hann-windowed, linearly detrended periodograms zero-padded :data:`ZERO_PAD` times; computed
    in blocks along the first axis to bound memory."""
    n = x.shape[-1]
    nfft = ZERO_PAD * n
    freqs = np.fft.rfftfreq(nfft, d=1.0 / sfreq)
    lo, hi = band
    inside = np.flatnonzero((freqs >= lo) & (freqs < hi))
    if not len(inside):
        raise ConfigError(f"band {lo:g}-{hi:g} Hz holds no frequency bin at {n / sfreq:g} s of context")
    # the band's bins and one neighbour on each side (for the parabola at a peak on the band's edge)
    keep = np.arange(max(inside[0] - 1, 0), min(inside[-1] + 2, len(freqs)))
    first = int(np.searchsorted(keep, inside[0]))
    df = sfreq / nfft
    power = np.empty(x.shape[:-1])
    peak = np.empty(x.shape[:-1])
    for i in range(0, max(len(x), 1), BLOCK_TRIALS):
        _, pxx = signal.periodogram(x[i : i + BLOCK_TRIALS], fs=sfreq, window="hann", nfft=nfft,
                                    detrend="linear", axis=-1)  # fmt: skip
        pxx = pxx[..., keep]
        band_p = pxx[..., first : first + len(inside)]
        power[i : i + BLOCK_TRIALS] = band_p.sum(axis=-1) * df
        k = first + band_p.argmax(axis=-1)  # index into keep
        logp = _log(pxx)
        left = np.take_along_axis(logp, np.maximum(k - 1, 0)[..., None], -1)[..., 0]
        mid = np.take_along_axis(logp, k[..., None], -1)[..., 0]
        right = np.take_along_axis(logp, np.minimum(k + 1, len(keep) - 1)[..., None], -1)[..., 0]
        curve = left - 2 * mid + right
        with np.errstate(divide="ignore", invalid="ignore"):
            delta = np.where(curve < 0, 0.5 * (left - right) / curve, 0.0)
        peak[i : i + BLOCK_TRIALS] = freqs[keep[k]] + np.clip(delta, -0.5, 0.5) * df
    return power, peak


LOG_FLOOR = 1e-12
"""Powers are floored here before the ``log``: a flat (dead) channel gives -27.6, not -inf or -708."""


def _log(values: np.ndarray) -> np.ndarray:
    """``log(max(values, LOG_FLOOR))``."""
    return np.log(np.maximum(values, LOG_FLOOR))
