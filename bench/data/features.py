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

More feature kinds
------------------
:func:`extract_features` computes any of :data:`bench.data.inputs.FEATURE_KINDS` (``kinds=``), each from
the same band-passed windows as DE (steps 1-2, with every filter option), each then through steps 4 and
5 on its own (its own baseline mean, its own window z-score):

``dasm``, ``rasm``
    Hemispheric asymmetry of DE (Duan, Zhu & Lu 2013, "Differential entropy feature for EEG-based
    emotion classification", IEEE NER): per window and band, ``DASM(c) = DE(c) - DE(m(c))`` and
    ``RASM(c) = DE(c) / DE(m(c))`` with ``m(c)`` the electrode mirrored across the midline
    (:func:`bench.data.channels.mirror_index`: Fp1/Fp2, F7/F8, ...), from the raw per-window DE (before
    steps 4 and 5). The paper keeps one value per pair; here both electrodes of a pair carry theirs
    (DASM is antisymmetric, RASM reciprocal), so a grid model sees a full map. A channel without a
    mirror among the channels (a midline 'z' electrode, or a partner the headset lacks) gets DASM 0 and
    RASM 1. DE crosses 0 at a variance of 1/(2 pi e), so RASM's denominator is kept at least
    :data:`RASM_FLOOR` away from 0, with its sign (0 counts as positive): RASM stays finite, and equals
    the plain ratio wherever ``|DE(m(c))| >= RASM_FLOOR``.
``activity``, ``mobility``, ``complexity``
    Hjorth's parameters (Hjorth 1970, "EEG analysis based on time domain properties",
    Electroencephalography and Clinical Neurophysiology 29(3)) of each band-passed window ``y``:
    ``activity = var(y)``, ``mobility = sqrt(var(y') / var(y))``, ``complexity = mobility(y') /
    mobility(y)``, with ``y'`` the first difference within the window (``np.diff``; mobility is per
    sample: a sine of frequency f has mobility ``2 sin(pi f / sfreq)`` and complexity 1) and population
    variances (ddof 0, whatever ``de_ddof`` says). Variances are floored at the smallest positive
    float, as in DE, so a flat window gives finite values.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from functools import lru_cache

import numpy as np
from scipy import signal

from bench.core.checks import check_number, check_option, check_type
from bench.core.errors import ConfigError
from bench.data.channels import mirror_index
from bench.data.inputs import BASE_KINDS, FEATURE_KINDS
from bench.data.smoothing import SMOOTHERS, smooth

FEATURE_CODE_VERSION = 1
"""Bump when the numbers a config produces change; it is part of every cache key."""
PUBLISHED_READER_VERSION = 1
"""Bump when the arrays read from published feature files change; part of those configs' keys only."""

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

HJORTH_KINDS: tuple[str, ...] = ("activity", "mobility", "complexity")
ASYMMETRY_KINDS: tuple[str, ...] = ("dasm", "rasm")
RASM_FLOOR = 1e-3
"""Smallest ``|DE|`` (nats) RASM divides by; a mirror DE closer to 0 is moved to +-RASM_FLOOR."""


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
    smoothing : {"none", "moving-average", "lds"}
        Smooth each feature over the windows of its trial (:mod:`bench.data.smoothing`), after it is
        computed and before baseline removal and normalisation: SEED's ``de_movingAve`` and ``de_LDS``.
        The baseline windows are not smoothed.
    smoothing_causal : bool
        Use only the current and earlier windows (trailing average; the Kalman filter without the
        backward pass). Either way a window's feature mixes its neighbours' signal: a run whose split
        sends windows of one trial to different folds (``segment``) leaks through the smoothing too.
    smoothing_length : int, optional
        Windows of the moving average (default 5).
    published : str, optional
        Read the dataset's own published feature files of this name instead of computing features
        (:mod:`bench.data.published`; ``Dataset.published_features`` says which each dataset offers).
        The other options then only describe those files (the source's bands and windows).
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
    smoothing: str = "none"
    smoothing_causal: bool = False
    smoothing_length: int | None = None
    published: str | None = None
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
        check_option("features.smoothing", self.smoothing, SMOOTHERS)
        check_type("features.smoothing_causal", self.smoothing_causal, bool, "true or false")
        check_number("features.smoothing_length", self.smoothing_length, integer=True, low=1, none_ok=True)
        if self.smoothing_length is not None and self.smoothing != "moving-average":
            raise ConfigError(
                f"features.smoothing_length={self.smoothing_length}: only smoothing='moving-average' takes "
                "a length"
            )
        check_type("features.published", self.published, (str, None), "a published feature set's name")
        if self.channels is not None:
            what = "a list of distinct channel names"
            chans = check_type("features.channels", self.channels, (list, tuple), what)
            if not chans or len(set(chans)) != len(chans) or not all(isinstance(c, str) for c in chans):
                raise ConfigError(f"features.channels={self.channels!r}: expected {what}")
            object.__setattr__(self, "channels", tuple(chans))

    def window_grid(self, sfreq: float) -> tuple[int, int]:
        """(window, hop) in samples at ``sfreq``: the grid of every per-window feature (maps, peripheral)."""
        win = round(self.window_s * sfreq)
        return win, (win if self.step_s is None else round(self.step_s * sfreq))

    def n_windows(self, n_samples: int, sfreq: float) -> int:
        """Windows of the grid in a segment of ``n_samples``."""
        win, step = self.window_grid(sfreq)
        return max(0, (n_samples - win) // step + 1)

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
        for name, default in (("smoothing", "none"), ("smoothing_causal", False), ("smoothing_length", None),
                              ("published", None)):  # fmt: skip
            if d[name] == default:  # added later: absent at their defaults, so cache and run keys stay
                del d[name]
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
        extra = {} if self.published is None else {"published_reader": PUBLISHED_READER_VERSION}
        payload = json.dumps({"v": FEATURE_CODE_VERSION, **extra, **self.to_dict()}, sort_keys=True)
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


def hjorth(windows: np.ndarray, kinds: tuple[str, ...] = HJORTH_KINDS) -> dict[str, np.ndarray]:
    """Hjorth's parameters of windows along the last axis (see the module docstring), only ``kinds``:
    each costs one more difference of the windows."""
    tiny = np.finfo(np.float64).tiny
    v0 = windows.var(axis=-1)
    out = {"activity": v0} if "activity" in kinds else {}
    if "mobility" in kinds or "complexity" in kinds:
        v0 = np.maximum(v0, tiny)
        d1 = np.diff(windows, axis=-1)
        v1 = np.maximum(d1.var(axis=-1), tiny)
        mobility = np.sqrt(v1 / v0)
        if "mobility" in kinds:
            out["mobility"] = mobility
        if "complexity" in kinds:
            v2 = np.maximum(np.diff(d1, axis=-1).var(axis=-1), tiny)
            out["complexity"] = np.sqrt(v2 / v1) / mobility
    return out


def asymmetry(de: np.ndarray, mirror: np.ndarray, kind: str) -> np.ndarray:
    """DASM or RASM (``kind``) of DE values (..., channels, windows, bands) whose channel axis is
    ``-3``, with ``mirror`` each channel's mirror index or -1 (see the module docstring)."""
    check_option("asymmetry kind", kind, ASYMMETRY_KINDS)
    has = (mirror >= 0)[:, None, None]
    partner = np.take(de, np.where(mirror >= 0, mirror, np.arange(len(mirror))), axis=-3)
    if kind == "dasm":
        return np.where(has, de - partner, 0.0)
    floor = np.maximum(np.abs(partner), RASM_FLOOR)
    return np.where(has, de / np.where(partner < 0, -floor, floor), 1.0)


def _window_kinds(kinds: tuple[str, ...]) -> tuple[str, ...]:
    """The kinds computed window by window for ``kinds`` (DE also for DASM/RASM), in canonical order."""
    need = set(kinds) - set(ASYMMETRY_KINDS) | ({"de"} if set(kinds) & set(ASYMMETRY_KINDS) else set())
    return tuple(k for k in FEATURE_KINDS if k in need)


def _segment_features(
    x: np.ndarray, cfg: FeatureConfig, sfreq: float, win: int, step: int, kinds: tuple[str, ...] = BASE_KINDS
) -> np.ndarray:
    """Features of one contiguous segment: x (..., n_samples) -> (..., n_windows, len(kinds), n_bands).

    ``kinds``: kinds computed window by window (:func:`_window_kinds`), in canonical order."""
    planes: dict[str, list[np.ndarray]] = {k: [] for k in kinds}
    asked = tuple(k for k in HJORTH_KINDS if k in planes)
    # one C-ordered copy of the segment (a slice of the recording) for every band: the filters copy
    # their input once more (they work in place), from a strided slice that would cost two copies each
    x = np.ascontiguousarray(x)
    if "psd" in planes and cfg.psd == "welch":
        freqs, pxx = signal.periodogram(_windows(x, win, step), fs=sfreq, window="hann", axis=-1)
    for _name, lo, hi in cfg.bands:
        sos = _band_sos(lo, hi, int(cfg.filter_order), float(sfreq))
        y = signal.sosfiltfilt(sos, x, axis=-1) if cfg.zero_phase else signal.sosfilt(sos, x, axis=-1)
        w = _windows(y, win, step, writeable=step >= win)  # y is ours: scratch space where no overlap
        if "psd" in planes and cfg.psd == "energy":
            planes["psd"].append(band_energy(w))  # before DE, which may overwrite w
        elif "psd" in planes:
            mask = (freqs >= lo) & (freqs < hi)
            if not mask.any():
                raise ConfigError(f"band {lo}-{hi} Hz holds no periodogram bin at window {cfg.window_s} s")
            planes["psd"].append(pxx[..., mask].mean(axis=-1))
        if asked:  # before DE, too
            for kind, value in hjorth(w, asked).items():
                planes[kind].append(value)
        if "de" in planes:
            planes["de"].append(differential_entropy(w, cfg.de_ddof, overwrite=w.flags.writeable))
    out = {k: np.stack(v, axis=-1) for k, v in planes.items()}
    if "psd" in out and cfg.log_psd:
        out["psd"] = np.log(np.maximum(out["psd"], np.finfo(np.float64).tiny))
    return np.stack([out[k] for k in kinds], axis=-2)


def _with_kinds(
    x: np.ndarray, computed: tuple[str, ...], kinds: tuple[str, ...], mirror: np.ndarray | None
) -> np.ndarray:
    """Segment features (trials, channels, windows, len(computed), bands) of the window-by-window kinds
    -> the same with ``kinds`` on axis 3, DASM and RASM derived from the raw DE."""
    planes = {k: x[..., i, :] for i, k in enumerate(computed)}
    for kind in ASYMMETRY_KINDS:
        if kind in kinds:
            planes[kind] = asymmetry(planes["de"], mirror, kind)
    return np.stack([planes[k] for k in kinds], axis=-2)


def extract_features(
    eeg: np.ndarray,
    config: FeatureConfig | None = None,
    sfreq: float = 128.0,
    *,
    kinds: tuple[str, ...] = BASE_KINDS,
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
    kinds : tuple of str
        Feature kinds (:data:`bench.data.inputs.FEATURE_KINDS`), in the order wanted on axis 2; only
        these are computed (DE also, internally, for DASM/RASM).
    channels : tuple of str, optional
        Names of the EEG channels (axis 1); DASM and RASM need them to pair mirror electrodes.

    Returns
    -------
    array, shape (n_trials, n_windows, len(kinds), n_bands, n_channels), float32
        Axis 2 is the feature kind, in ``kinds`` order (default: 0 = DE, 1 = PSD).
    """
    cfg = config or FeatureConfig()
    kinds = tuple(kinds)
    for kind in kinds or ("",):
        check_option("feature kind", kind, FEATURE_KINDS)
    if len(set(kinds)) != len(kinds):
        raise ConfigError(f"feature kinds {', '.join(kinds)}: each at most once")
    eeg = np.asarray(eeg)
    if eeg.ndim != 3:
        raise ValueError(f"eeg must have shape (trials, channels, samples), got {eeg.shape}")
    mirror = None
    if set(kinds) & set(ASYMMETRY_KINDS):
        if channels is None or len(channels) != eeg.shape[1]:
            raise ValueError(
                f"DASM/RASM need the names of the {eeg.shape[1]} channels, got channels={channels}"
            )
        mirror = mirror_index(channels)
    # every step is per trial, so blocks of trials give the same numbers, bit for bit; small blocks keep
    # the filtered copies in cache and let malloc reuse their memory instead of faulting in fresh pages
    k = max(1, BLOCK_BYTES // max(1, eeg.shape[1] * eeg.shape[2] * 8))
    blocks = [
        _extract_block(np.asarray(eeg[i : i + k], dtype=np.float64), cfg, sfreq, kinds, mirror)
        for i in range(0, max(len(eeg), 1), k)
    ]
    return blocks[0] if len(blocks) == 1 else np.concatenate(blocks)


def _extract_block(
    eeg: np.ndarray,
    cfg: FeatureConfig,
    sfreq: float,
    kinds: tuple[str, ...] = BASE_KINDS,
    mirror: np.ndarray | None = None,
) -> np.ndarray:
    """:func:`extract_features` of a block of trials, float64 (trials, channels, samples)."""
    win, step = cfg.window_grid(sfreq)
    n_base = round(cfg.baseline_s * sfreq)
    if n_base >= eeg.shape[-1]:
        raise ValueError(f"recording of {eeg.shape[-1]} samples is not longer than its baseline ({n_base})")
    computed = _window_kinds(kinds)
    if cfg.filter_segments == "separate":
        trial = _segment_features(eeg[..., n_base:], cfg, sfreq, win, step, computed)
        base = _segment_features(eeg[..., :n_base], cfg, sfreq, win, step, computed) if n_base else None
    else:
        # Filter the whole recording, then window each part: same hop grid as "separate".
        both = _segment_features(eeg, cfg, sfreq, win, step, computed) if n_base % step == 0 else None
        if both is None:
            raise ConfigError("filter_segments='joint' needs the baseline length to be a multiple of the hop")
        n_bw = (n_base - win) // step + 1 if n_base >= win else 0
        base, trial = both[:, :, :n_bw], both[:, :, n_base // step :]
    if computed != kinds:  # derived kinds (from the raw DE) or another order: each kind then as DE
        trial = _with_kinds(trial, computed, kinds, mirror)
        base = None if base is None else _with_kinds(base, computed, kinds, mirror)
    if cfg.smoothing != "none":  # over the trial's windows (axis 2), before baseline and normalisation
        trial = smooth(trial, cfg.smoothing, causal=cfg.smoothing_causal, length=cfg.smoothing_length, axis=2)
    # (trials, channels, windows, kinds, bands) -> (trials, windows, kinds, bands, channels)
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
