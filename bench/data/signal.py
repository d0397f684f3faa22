"""The time-domain models' input: band-limited EEG of each trial's stimulus part, cut into windows.

The cache holds, per subject, the stimulus part of every trial after a zero-phase FIR band-pass (MNE's
``filter_data``, as :mod:`bench.data.preprocess`) as float32 ``(trials, channels, samples)`` at 128 Hz
(:data:`~bench.data.inputs.SIGNAL_SFREQ`, the rate the time-domain models' kernels are sized for): DEAP's
60 s are 7680 samples, 1.26 GB for all 32 subjects. The baseline is not part of it: a time-domain
model sees the signal itself, standardised per channel with statistics of its training part (the
trainer, :class:`bench.training.trainer.Standardiser`).

The rating datasets' readers return 128 Hz recordings of equal-length trials, band-passed as they are
(:func:`band_limited`). The categorical datasets' clips (the SEED family at 200 Hz, FACED at 250 Hz)
differ in length and rate, and follow the same convention clip by clip (:func:`clip_signal`): each clip's
real samples alone (never the zero padding beyond) are resampled to 128 Hz, as
:func:`bench.data.preprocess.deap_like` resamples the raw rating datasets (but polyphase: a clip is not
periodic), then band-passed at 128 Hz by the very filter of the rating datasets; the entry stores them
zero-padded to the longest clip, with each clip's real sample count (a third column of the entry's
``trials`` table, :mod:`bench.data.compute`).

A model's input (:class:`~bench.data.inputs.InputSpec` ``layout="signal"``) is windows of ``window_s``
every ``hop_s`` seconds, built into one array subject by subject, so memory holds the inputs plus one
subject's signal: without overlap the inputs are as large as the signal (full DEAP: 1.26 GB), with 50 %
overlap twice as large. A clip of unequal length gives the windows that fit in its real samples (its
remainder, and the padding, give none).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.data.inputs import SIGNAL_SFREQ, TASKS, InputSpec, ModelInputs, real_samples, with_samples

BLOCK_TRIALS = 8
"""Trials filtered at once (DEAP: 8 x 32 x 7680 float64 = 16 MB)."""


def band_limited(eeg: np.ndarray, sfreq: float, band: tuple[float, float]) -> np.ndarray:
    """Zero-phase FIR band-pass of ``eeg`` (trials, channels, samples) along time; float32 out.

    Each trial is filtered on its own (trials are not contiguous recordings), in blocks of trials."""
    import mne

    eeg = np.asarray(eeg)
    out = np.empty(eeg.shape, dtype=np.float32)
    for i in range(0, len(eeg), BLOCK_TRIALS):
        block = np.asarray(eeg[i : i + BLOCK_TRIALS], dtype=np.float64)
        out[i : i + BLOCK_TRIALS] = mne.filter.filter_data(
            block, sfreq, band[0], band[1], method="fir", phase="zero", fir_design="firwin", verbose=False
        )
    return out


def clip_signal(
    eeg: np.ndarray, lengths: np.ndarray, sfreq: float, band: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray]:
    """Clips of unequal length (``lengths`` real samples each, ``eeg`` (trials, channels, samples) padded
    beyond) at 128 Hz and band-limited: (float32 (trials, channels, longest), int64 (trials,) real samples).

    Each clip's real samples alone are resampled from ``sfreq`` to :data:`SIGNAL_SFREQ` (none where
    ``sfreq`` is 128 Hz) and then band-passed by :func:`band_limited`, the rating datasets' filter at
    their rate, so no padding enters a clip's samples; the output is zero beyond each clip's
    ``ceil(length * 128 / sfreq)`` samples. The resampling is polyphase (:func:`scipy.signal.resample_poly`,
    a Kaiser-windowed anti-alias filter; MNE's ``method="polyphase"``), not MNE's default FFT resampling:
    that assumes a periodic signal, and a clip's two ends do not meet, so it rings through the whole clip
    (a 10 Hz sine of a 30 s clip at 250 Hz comes out up to 8 % wrong mid-clip; polyphase: 0.05 %, a 30 Hz one
    0.15 %). Clips
    of one length are done together, :data:`BLOCK_TRIALS` at a time (one subject's clips in memory)."""
    from fractions import Fraction

    from scipy.signal import resample_poly

    lengths = np.asarray(lengths, dtype=np.int64)
    ratio = Fraction(SIGNAL_SFREQ).limit_denominator() / Fraction(float(sfreq)).limit_denominator()
    up, down = ratio.numerator, ratio.denominator  # 200 Hz: 16/25; 250 Hz: 64/125
    out_len = -(-lengths * up // down)  # ceil: resample_poly's length
    out = np.zeros((len(eeg), eeg.shape[1], int(out_len.max(initial=0))), dtype=np.float32)
    for n in np.unique(lengths):
        idx = np.flatnonzero(lengths == n)
        for i in range(0, len(idx), BLOCK_TRIALS):
            block = idx[i : i + BLOCK_TRIALS]
            x = np.asarray(eeg[block, :, : int(n)], dtype=np.float64)
            if ratio != 1:
                x = resample_poly(x, up, down, axis=-1)
            out[block, :, : x.shape[-1]] = band_limited(x, SIGNAL_SFREQ, band)
    return out, out_len


def load_signal(item: np.ndarray | str | Path) -> np.ndarray:
    """One subject's signal: an array as is, a cache file read into memory (not mapped: the pages of a
    mapped file would stay in the process's memory next to the inputs built from it)."""
    return np.load(item) if isinstance(item, (str, Path)) else np.asarray(item)


def n_windows(n_samples: int, spec: InputSpec) -> int:
    """Windows of ``spec`` that fit in a trial of ``n_samples``."""
    win, hop = spec.window_samples, spec.hop_samples
    return 0 if n_samples < win else (n_samples - win) // hop + 1


def build_signal_inputs(
    signal: tuple[np.ndarray | str | Path, ...],
    ratings: np.ndarray,
    subjects: np.ndarray,
    spec: InputSpec,
    *,
    threshold: float | None = 5.0,
    high_if: str = "gt",
    n_trials: np.ndarray | None = None,
    samples: np.ndarray | None = None,
    sessions: np.ndarray | None = None,
    label_tasks: tuple[str, ...] = TASKS,
    categorical: bool = False,
) -> ModelInputs:
    """Windows of each subject's band-limited signal: x (N, C, window samples) float32.

    Parameters
    ----------
    signal : tuple of arrays or .npy paths, one per subject, shape (T_s, C, L)
        The subject's real trials (T_s = ``n_trials[s]``, else T).
    ratings : array, shape (S, T, >= 2)
        Ratings per trial (padded with NaN past a subject's real trials), or with ``categorical`` the
        class index of each of ``label_tasks`` (see :func:`bench.data.inputs.with_samples`).
    samples : array, shape (S, T), optional
        Real samples of each trial where trials differ in length (the categorical datasets' clips, the
        signal zero-padded beyond): a trial gives the windows that fit in its real samples, never one
        from the padding. None: every trial is all L samples.
    sessions : array, shape (S, T), optional
        Each trial's session, carried to :attr:`~bench.data.inputs.ModelInputs.session`.
    """
    if spec.layout != "signal":
        raise ValueError(f"build_signal_inputs builds 'signal' inputs, not {spec.layout!r}")
    if samples is not None:
        return _ragged_inputs(signal, ratings, subjects, spec, np.asarray(samples), n_trials=n_trials,
                              sessions=sessions, threshold=threshold, high_if=high_if,
                              label_tasks=label_tasks, categorical=categorical)  # fmt: skip
    n_s, n_t = ratings.shape[:2]
    counts = np.full(n_s, n_t) if n_trials is None else np.asarray(n_trials)
    first = load_signal(signal[0])
    n_c, n_l = first.shape[1:]
    if n_c != spec.n_channels:
        raise ValueError(f"the signal has {n_c} channels, the input spec {spec.n_channels}")
    n_seg = n_windows(n_l, spec)
    if n_seg == 0:
        raise ValueError(f"window_s={spec.window_s:g} is longer than a trial ({n_l} samples)")
    win, hop = spec.window_samples, spec.hop_samples
    x = np.empty((int(counts.sum()) * n_seg, n_c, win), dtype=np.float32)
    at = 0
    for i in range(n_s):
        sig, first = (first, None) if i == 0 else (load_signal(signal[i]), None)
        expected = (int(counts[i]), n_c, n_l)
        if sig.shape != expected:
            raise ValueError(f"subject {int(subjects[i])}: signal {sig.shape}, expected {expected}")
        windows = np.lib.stride_tricks.sliding_window_view(sig, win, axis=-1)[:, :, ::hop][:, :, :n_seg]
        n = int(counts[i]) * n_seg
        # (T, C, n_seg, win) -> the contiguous block (T, n_seg, C, win) of x, copied once
        x[at : at + n].reshape(int(counts[i]), n_seg, n_c, win)[...] = windows.transpose(0, 2, 1, 3)
        at += n
        del sig, windows
    keep = real_samples(n_trials, n_s, n_t, n_seg)
    return with_samples(x, ratings, subjects, n_seg, spec, threshold=threshold, high_if=high_if, keep=keep,
                        sessions=sessions, label_tasks=label_tasks, categorical=categorical)  # fmt: skip


def _ragged_inputs(
    signal: tuple[np.ndarray | str | Path, ...],
    ratings: np.ndarray,
    subjects: np.ndarray,
    spec: InputSpec,
    samples: np.ndarray,
    *,
    n_trials: np.ndarray | None,
    sessions: np.ndarray | None,
    threshold: float | None,
    high_if: str,
    label_tasks: tuple[str, ...],
    categorical: bool,
) -> ModelInputs:
    """:func:`build_signal_inputs` of trials of unequal length (``samples`` (S, T) real samples each): x
    holds only the windows of real samples, in (subject, trial, window) order."""
    n_s, n_t = ratings.shape[:2]
    if samples.shape != (n_s, n_t):
        raise ValueError(f"samples has shape {samples.shape}, expected {(n_s, n_t)}")
    counts = np.full(n_s, n_t) if n_trials is None else np.asarray(n_trials)
    real = np.arange(n_t)[None, :] < counts[:, None]
    per_trial = np.where(real, np.vectorize(lambda n: n_windows(int(n), spec), otypes=[np.int64])(samples), 0)
    n_seg = int(per_trial.max(initial=0))
    if n_seg == 0:
        raise ValueError(f"window_s={spec.window_s:g} is longer than every trial ({samples.max()} samples)")
    win, hop = spec.window_samples, spec.hop_samples
    x = np.empty((int(per_trial.sum()), spec.n_channels, win), dtype=np.float32)
    at = 0
    for i in range(n_s):
        sig = load_signal(signal[i])
        longest = int(samples[i, : int(counts[i])].max(initial=0))
        if sig.ndim != 3 or sig.shape[:2] != (int(counts[i]), spec.n_channels) or sig.shape[2] < longest:
            expected = (int(counts[i]), spec.n_channels, f">= {longest}")
            raise ValueError(f"subject {int(subjects[i])}: signal {sig.shape}, expected {expected}")
        for t in range(int(counts[i])):
            k = int(per_trial[i, t])
            if k == 0:  # a clip shorter than one window gives none
                continue
            windows = np.lib.stride_tricks.sliding_window_view(sig[t], win, axis=-1)[:, ::hop][:, :k]
            x[at : at + k] = windows.transpose(1, 0, 2)  # (C, k, win) -> (k, C, win)
            at += k
        del sig
    keep = real_samples(n_trials, n_s, n_t, n_seg, per_trial)
    return with_samples(x, ratings, subjects, n_seg, spec, threshold=threshold, high_if=high_if, keep=keep,
                        sessions=sessions, label_tasks=label_tasks, categorical=categorical)  # fmt: skip
