"""Smoothing of features over a trial's windows: moving average and LDS, causal and not.

Values are written out by hand or checked against independent references (plain loops, a batch
least-squares solve of the same Gaussian model), with tolerances derived from the model or from float64
rounding, so that no test can pass by accident.
"""

from __future__ import annotations

import numpy as np
import pytest

from bench.core.errors import ConfigError
from bench.data.smoothing import SMOOTHERS, lds_smooth, moving_average, smooth

EPS = np.finfo(np.float64).eps
SERIES = np.array([1.0, 2.0, 4.0, 8.0, 16.0])  # powers of two: every window sum is distinct and exact


def _reference_moving_average(series: np.ndarray, length: int, causal: bool) -> np.ndarray:
    """Per-position mean over explicit slices, one series at a time."""
    before, after = (length - 1, 0) if causal else (length // 2, (length - 1) // 2)
    n = len(series)
    return np.array([series[max(0, t - before) : min(n, t + after + 1)].mean() for t in range(n)])


def test_causal_moving_average_by_hand():
    # length 3, trailing: [1] -> 1; [1,2] -> 1.5; [1,2,4] -> 7/3; [2,4,8] -> 14/3; [4,8,16] -> 28/3
    expected = [1.0, 1.5, 7 / 3, 14 / 3, 28 / 3]
    np.testing.assert_allclose(moving_average(SERIES, 3, causal=True), expected, rtol=4 * EPS)
    # a window longer than the trial: the running mean 1, 3/2, 7/3, 15/4, 31/5
    np.testing.assert_allclose(
        moving_average(SERIES, 10, causal=True), [1.0, 1.5, 7 / 3, 15 / 4, 31 / 5], rtol=4 * EPS
    )


def test_centred_moving_average_by_hand_both_ends():
    # length 3, one window either side: [1,2] -> 1.5; [1,2,4] -> 7/3; [2,4,8] -> 14/3;
    # [4,8,16] -> 28/3; [8,16] -> 12 (the window shrinks at both ends, no zeros, no wrap)
    expected = [1.5, 7 / 3, 14 / 3, 28 / 3, 12.0]
    np.testing.assert_allclose(moving_average(SERIES, 3, causal=False), expected, rtol=4 * EPS)
    # length 4: two windows before, one after: [1,2] -> 1.5; [1,2,4] -> 7/3; [1,2,4,8] -> 15/4;
    # [2,4,8,16] -> 7.5; [4,8,16] -> 28/3
    expected = [1.5, 7 / 3, 15 / 4, 7.5, 28 / 3]
    np.testing.assert_allclose(moving_average(SERIES, 4, causal=False), expected, rtol=4 * EPS)
    np.testing.assert_array_equal(moving_average(SERIES, 1, causal=False), SERIES)


@pytest.mark.parametrize("axis", [0, -1])
@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("length", [1, 4, 5, 40])
def test_moving_average_along_an_axis_equals_a_loop_over_series(axis, causal, length):
    x = np.random.default_rng(1).normal(size=(30, 3, 4) if axis == 0 else (3, 4, 30))
    out = moving_average(x, length, causal=causal, axis=axis)
    assert out.shape == x.shape and out.dtype == np.float64
    windows_last = np.moveaxis(x, axis, -1)
    expected = np.empty_like(windows_last)
    for index in np.ndindex(windows_last.shape[:-1]):
        expected[index] = _reference_moving_average(windows_last[index], length, causal)
    # cumulative sums of <= 30 terms of size <= ~4: rounding below 30 * 4 * eps ~ 3e-14 before dividing
    np.testing.assert_allclose(np.moveaxis(out, axis, -1), expected, rtol=0, atol=1e-13)


def test_dtypes_are_kept_and_integers_become_float64():
    x32 = np.random.default_rng(2).normal(size=(2, 12)).astype(np.float32)
    for method in ("moving-average", "lds"):
        assert smooth(x32, method, causal=False).dtype == np.float32
    assert moving_average(np.arange(6), 3, causal=True).dtype == np.float64
    assert lds_smooth(np.arange(6), causal=True).dtype == np.float64


@pytest.mark.parametrize("method", SMOOTHERS)
@pytest.mark.parametrize("causal", [True, False])
def test_a_constant_series_is_unchanged(method, causal):
    x = np.full((2, 3, 25), 0.7)
    # the mean of 0.7s and the cumulative sums carry a few ulp of rounding, nothing more
    np.testing.assert_allclose(smooth(x, method, causal=causal), x, rtol=32 * EPS)


def test_a_ramp_is_unchanged_by_the_centred_average_away_from_the_ends():
    ramp = 2.0 * np.arange(20) + 1.0
    out = moving_average(ramp, 5, causal=False)
    np.testing.assert_allclose(out[2:-2], ramp[2:-2], rtol=8 * EPS)
    assert out[0] == pytest.approx(3.0) and out[-1] == pytest.approx(37.0)  # [1,3,5] and [35,37,39]
    # even length 4 leans one window into the past: the mean of t-2..t+1 is the ramp at t - 1/2
    np.testing.assert_allclose(moving_average(ramp, 4, causal=False)[2:-1], ramp[2:-1] - 1.0, rtol=8 * EPS)


@pytest.mark.parametrize("method", ["moving-average", "lds"])
def test_causal_outputs_do_not_see_later_windows(method):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(4, 5, 40))
    t0 = 25
    changed = x.copy()
    changed[..., t0:] += rng.normal(size=changed[..., t0:].shape)
    before, after = smooth(x, method, causal=True), smooth(changed, method, causal=True)
    np.testing.assert_array_equal(before[..., :t0], after[..., :t0])  # bitwise
    assert not np.array_equal(before[..., t0:], after[..., t0:])

    before, after = smooth(x, method, causal=False), smooth(changed, method, causal=False)
    if method == "lds":  # the trial mean and the backward pass reach every earlier window
        assert np.all(before[..., :t0] != after[..., :t0])
    else:  # the centred window of 5 reaches two windows ahead: only t0-2 and t0-1 change
        assert np.all(before[..., t0 - 2 : t0] != after[..., t0 - 2 : t0])
        np.testing.assert_array_equal(before[..., : t0 - 2], after[..., : t0 - 2])


def _loop_kalman(y, m0, q, r, p0):
    """Textbook scalar Kalman filter: filtered means and variances, predict then update."""
    means, variances = [], []
    mean, var = m0, p0
    for t, obs in enumerate(y):
        if t > 0:
            var = var + q  # predict: the random walk keeps the mean, adds q
        gain = var / (var + r)
        mean = mean + gain * (obs - mean)
        var = (1 - gain) * var
        means.append(mean)
        variances.append(var)
    return np.array(means), np.array(variances)


def _loop_rts(y, m0, q, r, p0):
    """Textbook Rauch-Tung-Striebel smoother on top of the loop filter."""
    means, variances = _loop_kalman(y, m0, q, r, p0)
    smoothed = means.copy()
    for t in range(len(y) - 2, -1, -1):
        gain = variances[t] / (variances[t] + q)
        smoothed[t] = means[t] + gain * (smoothed[t + 1] - means[t])
    return smoothed


def _batch_posterior_mean(y, m0, q, r, p0):
    """E[x | y] for the same Gaussian model by one linear solve of the posterior precision
    (prior + dynamics + observations)."""
    n = len(y)
    difference = np.diff(np.eye(n), axis=0)  # rows x_{t+1} - x_t
    precision = np.eye(n) / r + difference.T @ difference / q
    precision[0, 0] += 1 / p0
    rhs = y / r
    rhs[0] += m0 / p0
    return np.linalg.solve(precision, rhs)


PARAMETERS = [(1e-4, 1.0, 0.01), (0.05, 0.5, 2.0)]  # the public defaults, and a livelier model


@pytest.mark.parametrize(("q", "r", "p0"), PARAMETERS)
def test_forward_filter_equals_a_loop_kalman_filter(q, r, p0):
    x = np.random.default_rng(4).normal(loc=3.0, size=(3, 30, 2))  # windows along axis 1
    out = lds_smooth(x, causal=True, axis=1, transition_var=q, observation_var=r, initial_var=p0)
    for i, j in np.ndindex(3, 2):
        y = x[i, :, j]
        expected, _ = _loop_kalman(y, y[0], q, r, p0)  # causal prior mean: the first window
        np.testing.assert_allclose(out[i, :, j], expected, rtol=1e-12)
        # filtering is the batch posterior on each prefix, read at its last window
        prefix = [_batch_posterior_mean(y[: t + 1], y[0], q, r, p0)[-1] for t in (0, 9, 29)]
        np.testing.assert_allclose(out[i, [0, 9, 29], j], prefix, rtol=1e-9)


@pytest.mark.parametrize(("q", "r", "p0"), PARAMETERS)
def test_rts_smoother_equals_a_loop_smoother_and_the_batch_posterior(q, r, p0):
    x = np.random.default_rng(5).normal(loc=-2.0, size=(2, 3, 30))
    out = lds_smooth(x, causal=False, transition_var=q, observation_var=r, initial_var=p0)
    for index in np.ndindex(2, 3):
        y = x[index]
        np.testing.assert_allclose(out[index], _loop_rts(y, y.mean(), q, r, p0), rtol=1e-12)
        # the linear solve has condition number up to ~1/q: 1e-9 leaves room for it
        np.testing.assert_allclose(out[index], _batch_posterior_mean(y, y.mean(), q, r, p0), rtol=1e-9)


@pytest.mark.parametrize("causal", [True, False])
def test_lds_with_vanishing_observation_noise_returns_the_input(causal):
    y = np.random.default_rng(6).normal(size=(3, 50))
    q, r, p0 = 1e-4, 1e-14, 0.01
    out = lds_smooth(y, causal=causal, transition_var=q, observation_var=r, initial_var=p0)
    # filter: u_t - y_t = (1 - K_t)(prediction - y_t), 1 - K_t = r / (P_t + r) <= r / min(p0, q), and every
    # prediction lies within the range of y, so |u_t - y_t| <= (r / q) * range. The RTS step adds
    # J_t (s_{t+1} - y_t) with J_t = V_t / (V_t + q) <= r / q, at most (r / q) * range more.
    spread = np.ptp(y, axis=-1, keepdims=True)
    bound = 2 * (r / min(p0, q)) * spread + 8 * EPS * np.abs(y).max()
    assert np.all(np.abs(out - y) <= bound)


@pytest.mark.parametrize("causal", [True, False])
def test_lds_with_huge_observation_noise_returns_its_prior_mean(causal):
    y = np.random.default_rng(7).normal(loc=5.0, size=(3, 50))
    n, q, r, p0 = y.shape[-1], 1e-4, 1e12, 0.01
    out = lds_smooth(y, causal=causal, transition_var=q, observation_var=r, initial_var=p0)
    # gains K_t <= (p0 + n q) / r, so the filter moves at most n (p0 + n q) / r * range from its prior mean;
    # RTS values are convex combinations of filtered ones (0 < J_t < 1), so they stay as close.
    # The prior mean is the trial's mean when non-causal and the first window when causal.
    first, mean = y[:, :1], y.mean(axis=-1, keepdims=True)
    prior, other = (first, mean) if causal else (mean, first)
    bound = n * (p0 + n * q) / r * np.ptp(y, axis=-1, keepdims=True) + 4 * n * EPS * np.abs(y).max()
    assert np.all(np.abs(out - prior) <= bound)
    assert np.all(np.abs(out - other) > bound)  # and not the other candidate


@pytest.mark.parametrize("causal", [True, False])
def test_smoothing_halves_the_error_of_a_noisy_sine(causal):
    windows = np.arange(400)
    clean = np.sin(2 * np.pi * windows / 40)
    noisy = clean + np.random.default_rng(8).normal(size=windows.size)  # noise variance 1
    error = np.mean((noisy - clean) ** 2)
    averaged = moving_average(noisy, 5, causal=causal)
    # the LDS with the model matched to the data: a sine of period 40 and amplitude 1 moves by increments
    # of variance (2 pi / 40)^2 / 2 per window; the noise variance is 1 (the public defaults, a memory of
    # ~100 windows, would flatten the sine itself)
    filtered = lds_smooth(
        noisy, causal=causal, transition_var=(2 * np.pi / 40) ** 2 / 2, observation_var=1.0, initial_var=1.0
    )
    assert np.mean((averaged - clean) ** 2) <= error / 2
    assert np.mean((filtered - clean) ** 2) <= error / 2


def test_none_returns_the_input_itself():
    x = np.arange(6.0)
    assert smooth(x, "none", causal=True) is x


@pytest.mark.parametrize(
    ("call", "names"),
    [
        (lambda x: smooth(x, "kalman", causal=False), "smoothing.method"),
        (lambda x: smooth(x, "moving-average", causal=False, length=0), "smoothing.length"),
        (lambda x: smooth(x, "moving-average", causal=False, length=2.5), "smoothing.length"),
        (lambda x: smooth(x, "moving-average", causal=False, length=True), "smoothing.length"),
        (lambda x: smooth(x, "lds", causal=False, length=3), "smoothing.length"),
        (lambda x: moving_average(x, -1, causal=True), "smoothing.length"),
        (lambda x: lds_smooth(x, causal=True, observation_var=0.0), "smoothing.observation_var"),
        (lambda x: moving_average(x, 3, causal="yes"), "smoothing.causal"),
    ],
)
def test_bad_settings_are_one_line_config_errors_naming_the_parameter(call, names):
    with pytest.raises(ConfigError) as caught:
        call(np.zeros(8))
    message = str(caught.value)
    assert message.startswith(names + "=") and "\n" not in message
