"""Brain-map features: differential entropy (DE) and band power (PSD) per 0.5 s window.

The default :class:`FeatureConfig` is the recipe that the MT-CNN and 4D-CRNN reported numbers rest on
(the 4D-CRNN authors' feature scripts, which the MT-CNN authors reuse):

1. Butterworth band-pass of order 3 per band (theta 4-8, alpha 8-14, beta 14-31, gamma 31-45 Hz, the
   edges in their code), applied causally (``lfilter``-style) and separately to the 3 s baseline and
   the 60 s trial.
2. Non-overlapping 0.5 s windows (64 samples): 6 in the baseline, 120 in the trial.
3. Per window and band: ``DE = 0.5 * ln(2 * pi * e * var(x, ddof=1))`` and "PSD" = band energy
   ``sum(x**2)`` of the band-passed window (no Welch, no log).
4. Baseline removal: the mean of the 6 baseline windows' features is subtracted from every trial
   window, per channel and band.
5. Normalisation: each window's 4 bands x 32 channels vector is z-scored on its own, separately for DE
   and PSD.

Every step is an option (see :class:`FeatureConfig`); the whole config is hashed into the cache key and
logged with every run. All steps are vectorised over channels and windows, in blocks of trials
(:data:`BLOCK_BYTES`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from functools import lru_cache

import numpy as np
from scipy import signal

from bench.checks import check_number, check_option, check_type
from bench.errors import ConfigError

FEATURE_CODE_VERSION = 1
"""Bump when the numbers a config produces change; it is part of every cache key."""

BLOCK_BYTES = 4 << 20
"""Trials are processed in blocks of about this much float64 EEG (DEAP: 2 trials of 32 x 8064)."""

AUTHORS_BANDS: tuple[tuple[str, float, float], ...] = (
    ("theta", 4.0, 8.0),
    ("alpha", 8.0, 14.0),
    ("beta", 14.0, 31.0),
    ("gamma", 31.0, 45.0),
)
"""Band edges in the 4D-CRNN/MT-CNN authors' code (Hz)."""

PAPER_BANDS: tuple[tuple[str, float, float], ...] = (
    ("theta", 4.0, 8.0),
    ("alpha", 8.0, 14.0),
    ("beta", 14.0, 30.0),
    ("gamma", 30.0, 45.0),
)
"""Band edges as the papers' text gives them (Hz)."""

BAND_PRESETS = {"authors": AUTHORS_BANDS, "paper": PAPER_BANDS}
PSD_METHODS = ("energy", "welch")
BASELINE_MODES = ("subtract", "none")
NORMALISE_MODES = ("window-zscore", "none")
SEGMENT_MODES = ("separate", "joint")


@dataclass(frozen=True)
class FeatureConfig:
    """How brain-map features are computed. Every field is logged; the defaults follow the authors.

    Attributes
    ----------
    bands : tuple of (name, low Hz, high Hz)
        Frequency bands, in map order.
    filter_order : int
        Butterworth order of each band-pass (the authors: 3).
    zero_phase : bool
        ``False``: causal filtering (``sosfilt``, as the authors' ``lfilter``); ``True``: forward-backward
        (``sosfiltfilt``), no phase shift, squared magnitude response.
    filter_segments : {"separate", "joint"}
        ``"separate"`` filters the baseline and the trial each on its own (the authors); ``"joint"``
        filters the whole 63 s recording once, then splits.
    window_s, step_s : float
        Window length and hop in seconds; ``step_s=None`` means no overlap (hop = window).
    psd : {"energy", "welch"}
        ``"energy"``: sum of squares of the band-passed window (the authors). ``"welch"``: mean over the
        band's bins of the Hann-windowed periodogram of the *unfiltered* window (V^2/Hz), bins with
        ``low <= f < high``.
    log_psd : bool
        Take ``log`` of the PSD value (before baseline removal).
    de_ddof : int
        Degrees of freedom of the variance in DE (the authors: 1).
    baseline : {"subtract", "none"}
        Subtract the mean feature of the pre-trial baseline windows (per trial, channel, band).
    baseline_s : float
        Seconds of pre-trial baseline used: the last ``baseline_s`` seconds before the stimulus (DEAP: 3 s,
        all it has; DREAMER holds 61 s, MAHNOB-HCI 30 s, AMIGOS 5 s).
    normalise : {"window-zscore", "none"}
        ``"window-zscore"``: z-score each window's bands x channels vector, per feature kind.
    channels : tuple of str, optional
        Compute features on these EEG channels only, in this order (None: all of the dataset's). The
        cross-dataset protocol sets it to the channels two datasets share, so both are normalised over
        the same channels.
    """

    bands: tuple[tuple[str, float, float], ...] = AUTHORS_BANDS
    filter_order: int = 3
    zero_phase: bool = False
    filter_segments: str = "separate"
    window_s: float = 0.5
    step_s: float | None = None
    psd: str = "energy"
    log_psd: bool = False
    de_ddof: int = 1
    baseline: str = "subtract"
    baseline_s: float = 3.0
    normalise: str = "window-zscore"
    channels: tuple[str, ...] | None = None
    _validated: bool = field(default=True, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Checked when built (CLI -F, [features] table, library calls): a wrong type is one line naming
        # the key, never a TypeError deep inside the filters.
        what = "a list of [name, low Hz, high Hz] bands, or a preset: " + ", ".join(BAND_PRESETS)
        bands = check_type("features.bands", self.bands, (list, tuple), what)
        if not bands:
            raise ConfigError(f"features.bands={self.bands!r}: expected {what}")
        for band in bands:
            check_type("features.bands", band, (list, tuple), what)
            if len(band) != 3:
                raise ConfigError(f"features.bands={band!r}: expected {what}")
            check_type("features.bands", band[0], str, "a band name")
            check_number("features.bands", band[1], low=0, low_open=True)
            check_number("features.bands", band[2], low=0, low_open=True)
            if not band[1] < band[2]:
                raise ConfigError(f"features.bands: band {band[0]!r} has edges {band[1]}-{band[2]} Hz; "
                                  "need 0 < low < high")  # fmt: skip
        object.__setattr__(self, "bands", tuple((n, float(lo), float(hi)) for n, lo, hi in bands))
        check_option("features.psd", self.psd, PSD_METHODS)
        check_option("features.baseline", self.baseline, BASELINE_MODES)
        check_option("features.normalise", self.normalise, NORMALISE_MODES)
        check_option("features.filter_segments", self.filter_segments, SEGMENT_MODES)
        check_number("features.filter_order", self.filter_order, integer=True, low=1, high=10)
        check_type("features.zero_phase", self.zero_phase, bool, "true or false")
        check_type("features.log_psd", self.log_psd, bool, "true or false")
        check_number("features.window_s", self.window_s, low=0, low_open=True)
        check_number("features.step_s", self.step_s, low=0, low_open=True, none_ok=True)
        check_number("features.baseline_s", self.baseline_s, low=0)
        check_option("features.de_ddof", self.de_ddof, (0, 1))
        if self.channels is not None:
            what = "a list of distinct channel names"
            chans = check_type("features.channels", self.channels, (list, tuple), what)
            if not chans or len(set(chans)) != len(chans) or not all(isinstance(c, str) for c in chans):
                raise ConfigError(f"features.channels={self.channels!r}: expected {what}")
            object.__setattr__(self, "channels", tuple(chans))

    @property
    def band_names(self) -> tuple[str, ...]:
        return tuple(b[0] for b in self.bands)

    def to_dict(self) -> dict:
        """Plain, JSON-serialisable form (what is logged and hashed)."""
        d = asdict(self)
        d.pop("_validated")
        d["bands"] = [list(b) for b in self.bands]
        if d["channels"] is None:  # added after features were cached: absent at its default, so keys stay
            del d["channels"]
        else:
            d["channels"] = list(d["channels"])
        return d

    @classmethod
    def from_dict(cls, d: dict) -> FeatureConfig:
        d = dict(d)
        if "bands" in d:
            bands = d["bands"]
            if isinstance(bands, str):
                bands = BAND_PRESETS[check_option("features.bands", bands, BAND_PRESETS)]
            d["bands"] = bands
        unknown = set(d) - {f for f in cls.__dataclass_fields__ if not f.startswith("_")}
        if unknown:
            raise ConfigError(f"unknown feature option(s): {', '.join(sorted(unknown))}")
        return cls(**d)

    def fingerprint(self) -> str:
        """Content hash of the config and the feature code version."""
        payload = json.dumps({"v": FEATURE_CODE_VERSION, **self.to_dict()}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()


@lru_cache(maxsize=64)
def _band_sos(low: float, high: float, order: int, sfreq: float) -> np.ndarray:
    """Design a band-pass once (filters are reused for every channel, trial and subject)."""
    if high >= sfreq / 2:
        raise ConfigError(f"band edge {high} Hz is not below the Nyquist frequency {sfreq / 2} Hz")
    return signal.butter(order, [low, high], btype="bandpass", fs=sfreq, output="sos")


def _windows(x: np.ndarray, win: int, step: int, writeable: bool = False) -> np.ndarray:
    """View (..., n_samples) as (..., n_windows, win) without copying (writeable only if asked: windows
    that overlap share memory)."""
    if x.shape[-1] < win:
        return np.empty((*x.shape[:-1], 0, win), dtype=x.dtype)
    return np.lib.stride_tricks.sliding_window_view(x, win, axis=-1, writeable=writeable)[..., ::step, :]


def differential_entropy(windows: np.ndarray, ddof: int = 1, *, overwrite: bool = False) -> np.ndarray:
    """DE of (approximately Gaussian) windows along the last axis: 0.5 * ln(2 pi e var).

    ``overwrite=True`` lets the variance reuse ``windows`` (non-overlapping, writeable) as scratch space:
    the same operations as ``windows.var`` in the same order (bitwise the same numbers) without
    allocating a second recording-sized array.
    """
    if overwrite:
        n = windows.shape[-1]
        mean = np.add.reduce(windows, axis=-1, keepdims=True)
        np.true_divide(mean, n, out=mean)
        np.subtract(windows, mean, out=windows)
        np.multiply(windows, windows, out=windows)
        var = np.add.reduce(windows, axis=-1)
        np.true_divide(var, max(n - ddof, 0), out=var)
    else:
        var = windows.var(axis=-1, ddof=ddof)
    return 0.5 * np.log(2 * np.pi * np.e * np.maximum(var, np.finfo(np.float64).tiny))


def band_energy(windows: np.ndarray) -> np.ndarray:
    """Sum of squares along the last axis (the authors' "PSD" of a band-passed window)."""
    return np.einsum("...i,...i->...", windows, windows)


def _segment_features(x: np.ndarray, cfg: FeatureConfig, sfreq: float, win: int, step: int) -> np.ndarray:
    """Features of one contiguous segment: x (..., n_samples) -> (..., n_windows, 2, n_bands)."""
    de, psd = [], []
    # one C-ordered copy of the segment (a slice of the recording) for every band: the filters copy
    # their input once more (they work in place), from a strided slice that would cost two copies each
    x = np.ascontiguousarray(x)
    if cfg.psd == "welch":
        freqs, pxx = signal.periodogram(_windows(x, win, step), fs=sfreq, window="hann", axis=-1)
    for _name, lo, hi in cfg.bands:
        sos = _band_sos(lo, hi, int(cfg.filter_order), float(sfreq))
        y = signal.sosfiltfilt(sos, x, axis=-1) if cfg.zero_phase else signal.sosfilt(sos, x, axis=-1)
        w = _windows(y, win, step, writeable=step >= win)  # y is ours: scratch space where no overlap
        if cfg.psd == "energy":
            psd.append(band_energy(w))  # before DE, which may overwrite w
        else:
            mask = (freqs >= lo) & (freqs < hi)
            if not mask.any():
                raise ConfigError(f"band {lo}-{hi} Hz holds no periodogram bin at window {cfg.window_s} s")
            psd.append(pxx[..., mask].mean(axis=-1))
        de.append(differential_entropy(w, cfg.de_ddof, overwrite=w.flags.writeable))
    p = np.stack(psd, axis=-1)
    if cfg.log_psd:
        p = np.log(np.maximum(p, np.finfo(np.float64).tiny))
    return np.stack([np.stack(de, axis=-1), p], axis=-2)


def extract_features(
    eeg: np.ndarray,
    config: FeatureConfig | None = None,
    sfreq: float = 128.0,
    *,
    kinds: tuple[str, ...] = ("de", "psd"),
    channels: tuple[str, ...] | None = None,
) -> np.ndarray:
    """Compute brain-map features for one subject's trials.

    Parameters
    ----------
    eeg : array, shape (n_trials, n_channels, n_samples)
        Baseline (``config.baseline_s`` seconds) followed by the trial, in volts or microvolts.
    config : FeatureConfig
        The recipe; default: the authors'.
    sfreq : float
        Sampling rate, Hz.

    Returns
    -------
    array, shape (n_trials, n_windows, 2, n_bands, n_channels), float32
        Axis 2 is the feature kind: 0 = DE, 1 = PSD (see :data:`bench.data.inputs.FEATURE_KINDS`).
    """
    cfg = config or FeatureConfig()
    if tuple(kinds) != ("de", "psd"):
        raise NotImplementedError(f"feature kinds {kinds}")  # being written (issue 15)
    eeg = np.asarray(eeg)
    if eeg.ndim != 3:
        raise ValueError(f"eeg must have shape (trials, channels, samples), got {eeg.shape}")
    # every step is per trial, so blocks of trials give the same numbers, bit for bit; small blocks keep
    # the filtered copies in cache and let malloc reuse their memory instead of faulting in fresh pages
    k = max(1, BLOCK_BYTES // max(1, eeg.shape[1] * eeg.shape[2] * 8))
    blocks = [
        _extract_block(np.asarray(eeg[i : i + k], dtype=np.float64), cfg, sfreq)
        for i in range(0, max(len(eeg), 1), k)
    ]
    return blocks[0] if len(blocks) == 1 else np.concatenate(blocks)


def _extract_block(eeg: np.ndarray, cfg: FeatureConfig, sfreq: float) -> np.ndarray:
    """:func:`extract_features` of a block of trials, float64 (trials, channels, samples)."""
    win = round(cfg.window_s * sfreq)
    step = win if cfg.step_s is None else round(cfg.step_s * sfreq)
    n_base = round(cfg.baseline_s * sfreq)
    if n_base >= eeg.shape[-1]:
        raise ValueError(f"recording of {eeg.shape[-1]} samples is not longer than its baseline ({n_base})")
    if cfg.filter_segments == "separate":
        trial = _segment_features(eeg[..., n_base:], cfg, sfreq, win, step)
        base = _segment_features(eeg[..., :n_base], cfg, sfreq, win, step) if n_base else None
    else:
        # Filter the whole recording, then window each part: same hop grid as "separate".
        both = _segment_features(eeg, cfg, sfreq, win, step) if n_base % step == 0 else None
        if both is None:
            raise ConfigError("filter_segments='joint' needs the baseline length to be a multiple of the hop")
        n_bw = (n_base - win) // step + 1 if n_base >= win else 0
        base, trial = both[:, :, :n_bw], both[:, :, n_base // step :]
    # (trials, channels, windows, 2, bands) -> (trials, windows, 2, bands, channels)
    trial = trial.transpose(0, 2, 3, 4, 1)
    if cfg.baseline == "subtract":
        if base is None or base.shape[2] == 0:
            raise ConfigError(
                f"baseline='subtract' needs a baseline of at least one window ({cfg.window_s} s)"
            )
        trial = trial - base.transpose(0, 2, 3, 4, 1).mean(axis=1, keepdims=True)
    if cfg.normalise == "window-zscore":
        mu = trial.mean(axis=(-2, -1), keepdims=True)
        sd = trial.std(axis=(-2, -1), keepdims=True)
        trial = (trial - mu) / np.where(sd > 0, sd, 1.0)
    return np.ascontiguousarray(trial, dtype=np.float32)
