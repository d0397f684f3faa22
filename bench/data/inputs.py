"""Model input contracts: what a model consumes, and building that tensor from brain-map features.

A model declares an :class:`InputSpec`; :func:`build_inputs` turns the cached per-channel features
into exactly that array, so a new model needs no data code.

Layouts
-------
``grid``, ``time_slices == 1``
    ``x``: (N, K*B, H, W): one sample per 0.5 s window; maps ordered feature-major
    (DE theta, DE alpha, DE beta, DE gamma, PSD theta, ... when ``features=("de", "psd")``).
``grid``, ``time_slices == T > 1``
    ``x``: (N, T, K*B, H, W): one sample per block of T consecutive, non-overlapping windows of one
    trial (4D-CRNN segments, MT-CNN multi-input). Windows left over at the end of a trial are dropped.
``channels``
    ``x``: (N, T, C, K*B): per-channel features over T consecutive windows (sequence models); C is
    ``n_channels`` (DEAP: 32, the Emotiv headsets of DREAMER and AMIGOS: 14).
``signal``
    ``x``: (N, C, S): band-limited EEG (``band``, zero-phase) of the stimulus part, cut into windows of
    ``window_s`` seconds every ``hop_s`` seconds (S = ``window_s`` x 128 Hz); the time-domain models'
    input. The windows are cut from the cached signal (:mod:`bench.data.signal`; the categorical
    datasets' clips resampled to 128 Hz, each clip's windows from its real samples only); windows that do
    not fit at the end of a trial are dropped.

Feature kinds
-------------
``de`` and ``psd`` are the brain maps of the papers (:mod:`bench.data.features`); ``dasm`` and ``rasm``
the hemispheric asymmetry of DE (difference and ratio with the mirror electrode), ``activity``,
``mobility`` and ``complexity`` the Hjorth parameters of each band-passed window. Every cache entry holds
DE and PSD (:data:`BASE_KINDS`); the others are computed where a model asks for them.

Peripheral signals
------------------
``peripheral=True`` (grid layouts, DEAP) adds one plane to each sample, after the feature maps: its first
P cells (row-major) hold the window's peripheral features (:mod:`bench.data.peripheral`), the rest are 0.
One tensor per sample keeps every trainer, standardiser and executor unchanged; a fusion model splits it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench.core.errors import DataError
from bench.data.channels import EEG_CHANNELS, GRIDS, grid_shape, to_grid

FEATURE_KINDS: tuple[str, ...] = ("de", "psd", "dasm", "rasm", "activity", "mobility", "complexity")
"""Every feature kind, in the canonical order of the feature axis (and of a model's maps)."""

BASE_KINDS: tuple[str, ...] = ("de", "psd")
"""The kinds every cache entry holds (the others are added to an entry only where a model asks)."""

LAYOUTS: tuple[str, ...] = ("grid", "channels", "signal")

SIGNAL_SFREQ = 128.0
"""Sampling rate of the time-domain models' signal, Hz: the rating datasets' readers return it, and the
categorical datasets' clips (200 and 250 Hz) are resampled to it (:func:`bench.data.signal.clip_signal`)."""

TASKS: tuple[str, ...] = ("valence", "arousal")
"""The tasks of the rating datasets (DEAP and its kin): binarised valence and arousal, the label columns
of their :class:`ModelInputs` (:mod:`bench.core.tasks` holds every task)."""


@dataclass(frozen=True)
class InputSpec:
    """What a model consumes. Hashable and serialisable (plain values only)."""

    layout: str = "grid"
    """``"grid"`` (brain maps on an electrode grid), ``"channels"`` (per-channel feature vectors) or
    ``"signal"`` (band-limited EEG windows)."""
    features: tuple[str, ...] = ("de", "psd")
    """Feature kinds, a non-empty subset of :data:`FEATURE_KINDS` in that order (unused by ``signal``)."""
    grid: str = "8x9"
    """Electrode grid for ``layout="grid"``: ``"8x9"`` or ``"9x9"``."""
    time_slices: int = 1
    """Consecutive 0.5 s windows per sample."""
    n_channels: int = 32
    """EEG channels of a ``"channels"`` or ``"signal"`` sample (set from the data; grids do not depend
    on it)."""
    window_s: float = 4.0
    """``signal``: seconds per sample window."""
    hop_s: float | None = None
    """``signal``: seconds between window starts (None: the window length, no overlap)."""
    band: tuple[float, float] = (4.0, 45.0)
    """``signal``: pass band (Hz) of the zero-phase filter applied to the whole stimulus part."""
    peripheral: bool = False
    """``grid``: add the peripheral-feature plane (DEAP's 8 peripheral channels; see module doc)."""
    channels: tuple[str, ...] = ()
    """``channels``/``signal``: the EEG channel names of a sample's channel axis, set from the data (a
    model that pairs electrodes by name reads them; empty: not known, e.g. a model built without data)."""
    n_bands: int = 4
    """Frequency bands per feature kind (set from the feature config: 4 for the MT-CNN authors' recipe, 5
    for the SEED family's with delta)."""

    def __post_init__(self) -> None:
        if self.layout not in LAYOUTS:
            allowed = ", ".join(map(repr, LAYOUTS))
            raise ValueError(f"layout={self.layout!r} is not allowed; allowed: {allowed}")
        if not self.features or any(f not in FEATURE_KINDS for f in self.features):
            raise ValueError(f"features={self.features!r} must be a non-empty subset of {FEATURE_KINDS}")
        if tuple(sorted(self.features, key=FEATURE_KINDS.index)) != tuple(self.features) or len(
            set(self.features)
        ) != len(self.features):
            raise ValueError(f"features={self.features!r} must be unique and in the order {FEATURE_KINDS}")
        if self.grid not in GRIDS:
            raise ValueError(f"grid={self.grid!r} is not known; allowed: {', '.join(GRIDS)}")
        if int(self.time_slices) < 1:
            raise ValueError(f"time_slices={self.time_slices!r} must be >= 1")
        if int(self.n_channels) < 1:
            raise ValueError(f"n_channels={self.n_channels!r} must be >= 1")
        if int(self.n_bands) < 1:
            raise ValueError(f"n_bands={self.n_bands!r} must be >= 1")
        if not float(self.window_s) * SIGNAL_SFREQ >= 8:
            raise ValueError(f"window_s={self.window_s!r}: need at least 8 samples ({8 / SIGNAL_SFREQ:g} s)")
        if self.hop_s is not None and not float(self.hop_s) > 0:
            raise ValueError(f"hop_s={self.hop_s!r} must be > 0 (or None: no overlap)")
        lo, hi = (float(v) for v in self.band)
        if not 0 < lo < hi < SIGNAL_SFREQ / 2:
            nyquist = SIGNAL_SFREQ / 2
            raise ValueError(f"band={self.band!r} must be (low, high) Hz with 0 < low < high < {nyquist:g}")
        object.__setattr__(self, "band", (lo, hi))
        object.__setattr__(self, "channels", tuple(self.channels))
        if self.channels and len(self.channels) != int(self.n_channels):
            raise ValueError(f"channels={self.channels!r}: expected the names of {self.n_channels} channels")
        if self.peripheral and self.layout != "grid":
            raise ValueError(f"peripheral=True needs layout='grid', not {self.layout!r}")

    @property
    def window_samples(self) -> int:
        """``signal``: samples per window."""
        return round(float(self.window_s) * SIGNAL_SFREQ)

    @property
    def hop_samples(self) -> int:
        """``signal``: samples between window starts."""
        return self.window_samples if self.hop_s is None else max(1, round(float(self.hop_s) * SIGNAL_SFREQ))

    def n_maps(self, n_bands: int | None = None) -> int:
        """Number of planes per window: K*B feature maps (B: ``n_bands``, default the spec's), plus one with
        ``peripheral``."""
        return len(self.features) * (self.n_bands if n_bands is None else n_bands) + int(self.peripheral)

    def sample_shape(self, n_bands: int | None = None, n_channels: int | None = None) -> tuple[int, ...]:
        """Shape of one sample (without the batch axis)."""
        if self.layout == "signal":
            return (self.n_channels if n_channels is None else n_channels, self.window_samples)
        c = self.n_maps(n_bands)
        t = self.time_slices
        if self.layout == "channels":
            return (t, self.n_channels if n_channels is None else n_channels, c)
        h, w = grid_shape(self.grid)
        return (c, h, w) if t == 1 else (t, c, h, w)

    def describe(self) -> str:
        """Short human description, e.g. ``'DE+PSD, 4 bands, 8x9 grid, 6 x 0.5 s'``."""
        if self.layout == "signal":
            lo, hi = self.band
            hop = "" if self.hop_s is None else f", hop {float(self.hop_s):g} s"
            return f"EEG {lo:g}-{hi:g} Hz, {self.n_channels} ch x {float(self.window_s):g} s{hop}"
        feats = "+".join(f.upper() for f in self.features)
        where = f"{self.grid} grid" if self.layout == "grid" else "per channel"
        extra = " + peripheral" if self.peripheral else ""
        return f"{feats}{extra}, {where}, {self.time_slices} x 0.5 s"


@dataclass(frozen=True)
class ModelInputs:
    """Samples for one model: the input array plus the labels and groups protocols need.

    All arrays share the first axis (N samples). ``labels`` holds one class index per task (column i for
    ``label_tasks[i]``; rating datasets: 0 low, 1 high for valence, arousal); ``subject`` is the
    subject number (DEAP: 1-32), ``trial`` the trial index within the subject (DEAP: 0-39), ``segment``
    the sample index within the trial. ``domain`` says
    which dataset a sample comes from where inputs of two are joined (cross-dataset: 0 train, 1 test),
    else it is None.
    """

    x: np.ndarray
    labels: np.ndarray
    ratings: np.ndarray
    subject: np.ndarray
    trial: np.ndarray
    segment: np.ndarray
    spec: InputSpec
    domain: np.ndarray | None = None
    label_tasks: tuple[str, ...] = TASKS
    session: np.ndarray | None = None
    """Each sample's recording session, from 1, for datasets with several (the SEED family); None: one."""
    """The task of each column of ``labels`` (:mod:`bench.core.tasks` names)."""

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def label_columns(self, tasks: tuple[str, ...]) -> list[int]:
        """The columns of ``labels`` that hold ``tasks``, in that order (a task these labels lack is a
        programmer error: the run's tasks were checked against the dataset's before)."""
        missing = [t for t in tasks if t not in self.label_tasks]
        if missing:
            raise ValueError(f"tasks {missing} are not among these labels' {list(self.label_tasks)}")
        return [self.label_tasks.index(t) for t in tasks]


def build_inputs(
    features: np.ndarray,
    ratings: np.ndarray,
    subjects: np.ndarray,
    spec: InputSpec,
    *,
    threshold: float = 5.0,
    high_if: str = "gt",
    channels: tuple[str, ...] = EEG_CHANNELS,
    n_trials: np.ndarray | None = None,
    kinds: tuple[str, ...] = BASE_KINDS,
    peripheral: np.ndarray | None = None,
    n_windows: np.ndarray | None = None,
    sessions: np.ndarray | None = None,
    label_tasks: tuple[str, ...] = TASKS,
    categorical: bool = False,
) -> ModelInputs:
    """Build a model's input from per-channel features.

    Parameters
    ----------
    features : array, shape (S, T, W, K, B, C)
        Subjects x trials x windows x feature kinds (``kinds``) x bands x EEG channels.
    ratings : array, shape (S, T, >= 2)
        Valence and arousal self-ratings per trial (first two columns).
    subjects : array, shape (S,)
        Subject numbers.
    spec : InputSpec
        What the model consumes.
    threshold, high_if : float, {"gt", "ge"}
        A rating is "high" (class 1) if ``rating > threshold`` (``"gt"``, the MT-CNN/4D-CRNN authors'
        rule) or ``rating >= threshold`` (``"ge"``, TorchEEG's rule).
    channels : tuple of str
        Channel names of the last feature axis (grids place them by name; default DEAP's 32).
    n_trials : array, shape (S,), optional
        Real trials per subject where subjects differ (the rest are padding; no sample is built from them).
    kinds : tuple of str
        The feature kinds on axis 3 of ``features`` (a cache entry's: DE, PSD, then any others).
    peripheral : array, shape (S, T, W, P), optional
        Peripheral features per window, for ``spec.peripheral``: the sample's extra plane holds their mean
        over the sample's windows.
    n_windows : array, shape (S, T), optional
        Real windows of each trial where trials differ in length: a sample is built only from real
        windows (the trial's first ``n_windows // time_slices`` samples).
    sessions : array, shape (S, T), optional
        Each trial's session, carried to :attr:`ModelInputs.session`.
    label_tasks : tuple of str
        The tasks of the labels: the columns of ``ratings`` taken as class indices when ``categorical``,
        else the binarised valence and arousal.
    categorical : bool
        ``ratings`` hold class indices (the SEED family, FACED), taken as they are; otherwise the first
        two columns are valence and arousal ratings, binarised at ``threshold``.
    """
    k = len(kinds)
    if features.ndim != 6 or features.shape[3] != k or features.shape[-1] != len(channels):
        raise ValueError(f"features must have shape (S, T, W, {k}, B, {len(channels)}), got {features.shape}")
    if spec.layout == "signal":
        raise ValueError("a 'signal' input is built from the signal (bench.data.signal), not from features")
    missing = [f for f in spec.features if f not in kinds]
    if missing:
        raise ValueError(f"features {missing} were not computed for this data set (it holds {list(kinds)})")
    if spec.peripheral and peripheral is None:
        raise ValueError("spec.peripheral needs the peripheral features")
    if high_if not in ("gt", "ge"):
        raise ValueError(f"high_if={high_if!r} is not allowed; allowed: 'gt', 'ge'")
    n_s, n_t, n_w, _, n_b, n_c = features.shape
    ts = spec.time_slices
    n_seg = n_w // ts
    if n_seg == 0:
        raise DataError(  # data too short for the model's input (a twin's 3-s clips), not a bug: one line
            f"the model's input spans {ts} windows, longer than this data's trials ({n_w} windows); use "
            "longer clips or a model of fewer time slices"
        )
    index = [kinds.index(f) for f in spec.features]
    x = features[:, :, : n_seg * ts][:, :, :, index]  # (S, T, W', K', B, C)
    x = x.reshape(n_s * n_t * n_seg, ts, len(index) * n_b, n_c)
    if spec.layout == "grid":
        x = to_grid(np.ascontiguousarray(x, dtype=np.float32), spec.grid, channels)  # (N, ts, KB, H, W)
        if spec.peripheral:
            x = _with_peripheral_plane(x, peripheral, n_seg, ts)
        if ts == 1:
            x = x[:, 0]
    else:
        x = np.ascontiguousarray(x.transpose(0, 1, 3, 2), dtype=np.float32)  # (N, ts, C, KB)
    out = with_samples(x, ratings, subjects, n_seg, spec, threshold=threshold, high_if=high_if,
                       sessions=sessions, label_tasks=label_tasks, categorical=categorical)  # fmt: skip
    keep = real_samples(n_trials, n_s, n_t, n_seg, None if n_windows is None else np.asarray(n_windows) // ts)
    return out if keep is None else take(out, keep)


def real_samples(
    n_trials: np.ndarray | None, n_s: int, n_t: int, n_seg: int, n_real_seg: np.ndarray | None = None
) -> np.ndarray | None:
    """Indices of the (S, T, n_seg) samples that come from real trials and, where trials differ in length
    (``n_real_seg``, (S, T) samples each trial really has), from their real windows (None: all)."""
    if n_trials is None and n_real_seg is None:
        return None
    real = np.ones((n_s, n_t, n_seg), dtype=bool)
    if n_trials is not None:
        real &= (np.arange(n_t)[None, :] < np.asarray(n_trials)[:, None])[:, :, None]
    if n_real_seg is not None:
        real &= np.arange(n_seg)[None, None, :] < np.asarray(n_real_seg)[:, :, None]
    return np.flatnonzero(real.reshape(-1))


def with_samples(
    x: np.ndarray,
    ratings: np.ndarray,
    subjects: np.ndarray,
    n_seg: int,
    spec: InputSpec,
    *,
    threshold: float,
    high_if: str,
    keep: np.ndarray | None = None,
    sessions: np.ndarray | None = None,
    label_tasks: tuple[str, ...] = TASKS,
    categorical: bool = False,
) -> ModelInputs:
    """``x`` with the labels, ratings and groups of its samples: ``n_seg`` samples per trial, in (subject,
    trial, segment) order, restricted to ``keep`` (indices into that order) when given.

    Labels: the binarised valence and arousal ratings (the first two columns), or with ``categorical``
    the class indices of ``label_tasks`` (the columns of ``ratings``) as they are."""
    n_s, n_t = ratings.shape[:2]
    shape = (n_s, n_t, n_seg)
    k = len(label_tasks) if categorical else 2
    r = np.broadcast_to(ratings[:, :, None, :k], (*shape, k)).reshape(-1, k).astype(np.float32)
    if categorical:
        labels = np.nan_to_num(r, nan=-1.0)  # padding trials (NaN) are never kept
    else:
        labels = (r > threshold) if high_if == "gt" else (r >= threshold)
    subj = np.broadcast_to(np.asarray(subjects)[:, None, None], shape).reshape(-1)
    trial = np.broadcast_to(np.arange(n_t)[None, :, None], shape).reshape(-1)
    seg = np.broadcast_to(np.arange(n_seg)[None, None, :], shape).reshape(-1)
    sel = slice(None) if keep is None else keep
    return ModelInputs(
        x=x,
        labels=labels[sel].astype(np.int64),
        ratings=r[sel],
        subject=subj[sel].astype(np.int64),
        trial=trial[sel].astype(np.int64),
        segment=seg[sel].astype(np.int64),
        spec=spec,
        label_tasks=label_tasks if categorical else TASKS,
        session=None if sessions is None else _per_sample(np.asarray(sessions), shape)[sel].astype(np.int64),
    )


def _per_sample(per_trial: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    """An (S, T) per-trial array repeated for each of the trial's samples, flat in (S, T, n_seg) order."""
    return np.broadcast_to(per_trial[:, :, None], shape).reshape(-1)


def _with_peripheral_plane(x: np.ndarray, peripheral: np.ndarray, n_seg: int, ts: int) -> np.ndarray:
    """``x`` (N, ts, KB, H, W) with one more plane per time slice whose first P cells (row-major) hold the
    peripheral features (S, T, W, P) of the sample's windows, averaged over its ``ts`` windows."""
    n_s, n_t, _, n_p = peripheral.shape
    n, _, kb, h, w = x.shape
    if n_p > h * w:
        raise ValueError(f"{n_p} peripheral features do not fit one {h}x{w} plane")
    p = np.asarray(peripheral[:, :, : n_seg * ts], dtype=np.float32).reshape(n_s * n_t * n_seg, ts, n_p)
    plane = np.zeros((n, ts, h * w), dtype=np.float32)
    plane[:, :, :n_p] = p.mean(axis=1, keepdims=True)
    return np.concatenate([x, plane.reshape(n, ts, 1, h, w)], axis=2)


def take(inputs: ModelInputs, index: np.ndarray) -> ModelInputs:
    """The samples ``index`` of ``inputs`` (copies)."""
    return ModelInputs(
        x=inputs.x[index],
        labels=inputs.labels[index],
        ratings=inputs.ratings[index],
        subject=inputs.subject[index],
        trial=inputs.trial[index],
        segment=inputs.segment[index],
        spec=inputs.spec,
        domain=None if inputs.domain is None else inputs.domain[index],
        label_tasks=inputs.label_tasks,
        session=None if inputs.session is None else inputs.session[index],
    )
