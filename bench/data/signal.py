"""The time-domain models' input: band-limited EEG of each trial's stimulus part, cut into windows.

The cache holds, per subject, the stimulus part of every trial after a zero-phase FIR band-pass (MNE's
``filter_data``, as :mod:`bench.data.preprocess`) as float32 ``(trials, channels, samples)``: DEAP's 60 s
at 128 Hz are 7680 samples, 1.26 GB for all 32 subjects. The baseline is not part of it: a time-domain
model sees the signal itself, standardised per channel with statistics of its training part (the
trainer, :class:`bench.training.trainer.Standardiser`).

A model's input (:class:`~bench.data.inputs.InputSpec` ``layout="signal"``) is windows of ``window_s``
every ``hop_s`` seconds, built into one array subject by subject, so memory holds the inputs plus one
subject's signal: without overlap the inputs are as large as the signal (full DEAP: 1.26 GB), with 50 %
overlap twice as large.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.data.inputs import InputSpec, ModelInputs, real_samples, with_samples

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
    threshold: float = 5.0,
    high_if: str = "gt",
    n_trials: np.ndarray | None = None,
) -> ModelInputs:
    """Windows of each subject's band-limited signal: x (N, C, window samples) float32.

    Parameters
    ----------
    signal : tuple of arrays or .npy paths, one per subject, shape (T_s, C, L)
        The subject's real trials (T_s = ``n_trials[s]``, else T).
    ratings : array, shape (S, T, >= 2)
        Ratings per trial (padded with NaN past a subject's real trials).
    """
    if spec.layout != "signal":
        raise ValueError(f"build_signal_inputs builds 'signal' inputs, not {spec.layout!r}")
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
    return with_samples(x, ratings, subjects, n_seg, spec, threshold=threshold, high_if=high_if, keep=keep)
