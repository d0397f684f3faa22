"""Smoothing of per-window features over the windows of a trial: moving average and linear dynamical system.

Why
---
The SJTU SEED datasets publish differential-entropy features per 1 s window twice smoothed over the
windows of each trial, as ``de_movingAve`` (moving average) and ``de_LDS`` (a linear dynamical system:
a Kalman filter followed by a Rauch-Tung-Striebel smoother, after Shi & Lu 2010, "Off-line and online
vigilance estimation based on linear dynamical system and manifold learning", IEEE EMBC). Papers report
far higher accuracy on SEED with ``de_LDS`` than with unsmoothed DE, so the harness offers the same
smoothing for the features it computes itself, and states what it costs.

The leak
--------
A non-causal smoother (the centred moving average, the Kalman filter plus the backward RTS pass) makes
every window's feature a mixture of the windows around it, later ones included, up to the whole trial.
Under a split that sends windows of one trial to different folds (a "segment" split), a training
window then carries the signal of test windows of the same trial, so the test score is optimistic.
A causal smoother (the trailing moving average; the forward Kalman filter alone) reads only the current
and earlier windows: it takes nothing from the future, but the earlier windows it reads may themselves
sit in the test part under a segment split, so it leaks too, only in one direction. Only a split that
keeps each trial whole (by trial, by subject, by session) is free of the leak with either smoother.

Every function here works on any array along one axis (the windows of one trial), in float64 inside,
and returns the input's float dtype (float64 for integer input).
"""

from __future__ import annotations

import numpy as np

from bench.core.checks import check_number, check_option, check_type
from bench.core.errors import ConfigError

SMOOTHERS = ("none", "moving-average", "lds")

# Public SEED files do not say which window their moving average used (see moving_average); 5 windows.
DEFAULT_LENGTH = 5
# The fixed LDS parameters of the public SEED-style code (see lds_smooth).
TRANSITION_VAR = 1e-4
OBSERVATION_VAR = 1.0
INITIAL_VAR = 0.01


def _out_dtype(x: np.ndarray) -> np.dtype:
    return x.dtype if np.issubdtype(x.dtype, np.floating) else np.dtype(np.float64)


def moving_average(
    x: np.ndarray, length: int = DEFAULT_LENGTH, *, causal: bool, axis: int = -1
) -> np.ndarray:
    """Mean of each window with its neighbours over ``length`` windows along ``axis``.

    Causal: the mean of the current window and the ``length - 1`` previous ones (fewer at the start of
    the trial). Centred: ``(length - 1) // 2`` windows on either side for an odd ``length``; for an even
    ``length`` the extra window is taken from the past (``length // 2`` before, ``length // 2 - 1``
    after), the side a causal reader could also see. At the trial's ends the mean runs over the windows
    that exist: the window shrinks, nothing is padded with zeros or wrapped around. Both are computed from
    one cumulative sum, so the cost is linear in the number of windows whatever ``length`` is.

    Which window SEED's published ``de_movingAve`` used is not documented in public sources (the dataset
    pages at bcmi.sjtu.edu.cn and the public code that reads those files name the feature, never its
    window), hence the default of 5 windows.

    Parameters
    ----------
    x
        Features, windows of one trial along ``axis``.
    length
        Windows averaged per position, an integer >= 1 (1 returns ``x`` unchanged).
    causal
        Trailing window (True) or centred window (False); see the module docstring for what each leaks.
    axis
        The axis of the windows.
    """
    check_number("smoothing.length", length, integer=True, low=1)
    check_type("smoothing.causal", causal, bool, "true or false")
    x = np.asarray(x)
    values = np.moveaxis(x.astype(np.float64, copy=False), axis, -1)
    n = values.shape[-1]
    before, after = (length - 1, 0) if causal else (length // 2, (length - 1) // 2)
    position = np.arange(n)
    start = np.maximum(position - before, 0)
    stop = np.minimum(position + after + 1, n)
    # sums[..., k] is the sum of the first k windows, so a window [start, stop) sums to a difference
    sums = np.concatenate([np.zeros((*values.shape[:-1], 1)), np.cumsum(values, axis=-1)], axis=-1)
    means = (sums[..., stop] - sums[..., start]) / (stop - start)
    return np.moveaxis(means, -1, axis).astype(_out_dtype(x), copy=False)


def _kalman_gains(
    n: int, transition_var: float, observation_var: float, initial_var: float
) -> tuple[np.ndarray, np.ndarray]:
    """Kalman gains K_t and RTS gains J_t of the scalar random walk for a series of ``n`` windows.

    Neither depends on the observations (the model is scalar and time-invariant), so one pass over the
    time axis serves every channel and band at once.
    """
    kalman = np.empty(n)
    backward = np.empty(max(n - 1, 0))
    predicted = initial_var  # Var(x_t | y_1..y_{t-1}); the prior itself for t = 1
    for t in range(n):
        kalman[t] = predicted / (predicted + observation_var)
        filtered = (1.0 - kalman[t]) * predicted  # Var(x_t | y_1..y_t)
        predicted = filtered + transition_var
        if t < n - 1:
            backward[t] = filtered / predicted
    return kalman, backward


def lds_smooth(
    x: np.ndarray,
    *,
    causal: bool,
    axis: int = -1,
    transition_var: float = TRANSITION_VAR,
    observation_var: float = OBSERVATION_VAR,
    initial_var: float = INITIAL_VAR,
) -> np.ndarray:
    """Linear-dynamical-system smoothing along ``axis``: Kalman filter, then (non-causal) RTS smoother.

    Each series (one channel and band, say) is a scalar random walk seen through noise::

        state        x_t = x_{t-1} + w_t,   w_t ~ N(0, transition_var)
        observation  y_t = x_t + v_t,       v_t ~ N(0, observation_var)
        prior        x_1 ~ N(m_0, initial_var)

    The forward pass returns E[x_t | y_1..y_t] (causal); the Rauch-Tung-Striebel backward pass returns
    E[x_t | y_1..y_T] (non-causal). The prior mean m_0 is the trial's mean of the series when non-causal,
    as the public code does, and the first window when causal, since the trial's mean would read every
    later window. Only the ratios transition_var / observation_var and initial_var / observation_var
    shape the output: the defaults' ratio of 1e-4 makes the filter an exponential average with a gain near
    0.01 (a memory of about 100 windows), so the non-causal output stays close to the trial's mean, and the
    causal output, whose prior is one window, stays close to the first window for the first ~100 windows
    unless ``initial_var`` is raised towards ``observation_var`` or beyond (a diffuse prior).

    The defaults are the fixed parameters of the public SEED-style implementations: transition matrix 1,
    observation matrix 1, transition variance 1e-4, observation variance 1, prior variance 0.01, prior
    mean the series' mean over the trial, no EM fitting (``LDS`` in RunminGan1218/CLISA_Hydra@07d7b5d,
    ``data/data_process.py``, the code of the CLISA/FACED group, applied per video to running-normalised
    features; the same constants recur in other public copies). Which parameters produced the published
    SEED ``de_LDS`` files is not stated in any public source found: the dataset pages name the method
    only. Some other public code fits the parameters per series by EM (e.g. didi226/scut_eeg_feature_smooth
    with pykalman), which this module does not do.

    Parameters
    ----------
    x
        Features, windows of one trial along ``axis``.
    causal
        Forward filter only (True) or filter and backward smoother (False).
    axis
        The axis of the windows.
    transition_var, observation_var, initial_var
        The variances of the model above, each > 0.
    """
    check_type("smoothing.causal", causal, bool, "true or false")
    check_number("smoothing.transition_var", transition_var, low=0, low_open=True)
    check_number("smoothing.observation_var", observation_var, low=0, low_open=True)
    check_number("smoothing.initial_var", initial_var, low=0, low_open=True)
    x = np.asarray(x)
    values = np.moveaxis(x.astype(np.float64, copy=False), axis, 0)
    n = values.shape[0]
    if n == 0:
        return x.astype(_out_dtype(x), copy=False)
    kalman, backward = _kalman_gains(n, transition_var, observation_var, initial_var)
    estimate = values[0] if causal else values.mean(axis=0)  # the prior mean m_0
    states = np.empty_like(values)
    for t in range(n):
        estimate = estimate + kalman[t] * (values[t] - estimate)
        states[t] = estimate
    if not causal:
        for t in range(n - 2, -1, -1):
            states[t] = states[t] + backward[t] * (states[t + 1] - states[t])
    return np.moveaxis(states, 0, axis).astype(_out_dtype(x), copy=False)


def smooth(
    x: np.ndarray, method: str, *, causal: bool, length: int | None = None, axis: int = -1
) -> np.ndarray:
    """Smooth ``x`` along ``axis`` with ``method``, one of :data:`SMOOTHERS`.

    ``"none"`` returns ``x`` itself; ``"moving-average"`` takes ``length`` (default 5 windows);
    ``"lds"`` uses the public fixed parameters of :func:`lds_smooth` (causal: with a prior variance equal
    to the observation variance, so the filter follows the windows from the first). A ``length`` given to
    a method that has none is refused rather than ignored, so a configuration cannot silently carry it.
    """
    check_option("smoothing.method", method, SMOOTHERS)
    if length is not None and method != "moving-average":
        raise ConfigError(f"smoothing.length={length!r}: only the moving-average method takes a length")
    if method == "none":
        return x
    if method == "moving-average":
        return moving_average(x, DEFAULT_LENGTH if length is None else length, causal=causal, axis=axis)
    # causal: a prior as uncertain as one observation, so the filter follows the windows from the start
    # (with the public prior variance of 0.01 it would stay near the first window for ~100 windows)
    return lds_smooth(x, causal=causal, axis=axis, initial_var=OBSERVATION_VAR if causal else INITIAL_VAR)
