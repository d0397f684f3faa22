"""Statistics for the result tables: spread, paired tests between models, multiple-test correction, chance.

Everything here works on plain sequences of numbers (accuracies in [0, 1]) so a notebook user can call
it on anything; :mod:`bench.results` decides what is paired with what.

* :func:`describe` - mean, sample std and the t-based 95% confidence interval of the mean; for
  k-fold cross-validation scores, the interval with the Nadeau & Bengio corrected variance.
* :func:`wilcoxon_paired` - Wilcoxon signed-rank test across subjects (``scipy.stats.wilcoxon``);
  :func:`wilcoxon_min_p` - the smallest p-value it can reach with n pairs (0.0625 one-sided for 4).
* :func:`corrected_ttest` - corrected resampled t-test across cross-validation folds (Nadeau & Bengio
  2003): the variance of the fold differences is inflated by ``1/k + n_test/n_train`` because the
  training sets of k-fold cross-validation overlap, which the plain paired t-test ignores.
* :func:`holm` - Holm's step-down correction of a family of p-values.
* :func:`binomial_chance` - the adjusted chance level of Combrisson & Jerbi (2015): the accuracy a
  random classifier exceeds with probability ``alpha`` on ``n`` independent test samples.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as _st

ALPHA = 0.05
"""Significance level of every test the tables mark."""
MIN_CI_N = 3
"""Fewest values a table shows a 95% CI for. With 2 values the t quantile is 12.71 (4.30 with 3), so the
plain interval is mean +- 9.0 std (12.71 / sqrt(2); wider still with the corrected k-fold variance): for
accuracies nearly the whole 0-100 range, which says nothing. :func:`describe` still computes it; the
tables leave it out."""


@dataclass(frozen=True)
class Summary:
    """Mean, sample std (ddof 1) and the t-based confidence interval of the mean of ``n`` values."""

    mean: float
    std: float
    ci_low: float
    ci_high: float
    n: int
    corrected: bool = False
    """True: the interval uses the corrected resampled variance of k-fold scores."""


def describe(
    values: Sequence[float], confidence: float = 0.95, test_train_ratio: float | None = None
) -> Summary:
    """Mean, std (ddof 1) and the Student-t confidence interval of the mean; NaNs are dropped.

    ``test_train_ratio`` (n_test / n_train of the folds) marks the values as k-fold cross-validation
    scores, whose training sets overlap: the interval then uses the corrected variance of Nadeau &
    Bengio (2003), ``(1/k + n_test/n_train) * s^2`` instead of ``s^2 / k`` (wider, and consistent with
    :func:`corrected_ttest`). With one value the std and the interval are NaN (there is no spread to
    estimate); with none, everything is NaN and ``n`` is 0.
    """
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    n = int(x.size)
    if n == 0:
        return Summary(math.nan, math.nan, math.nan, math.nan, 0)
    mean = float(x.mean())
    if n == 1:
        return Summary(mean, math.nan, math.nan, math.nan, 1)
    std = float(x.std(ddof=1))
    factor = 1.0 / n if test_train_ratio is None else 1.0 / n + float(test_train_ratio)
    half = float(_st.t.ppf(0.5 + confidence / 2, n - 1)) * std * math.sqrt(factor)
    return Summary(mean, std, mean - half, mean + half, n, test_train_ratio is not None)


def _pairs(a: Sequence[float], b: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(
            f"paired samples must be two 1-d sequences of equal length, got {x.shape}, {y.shape}"
        )
    keep = np.isfinite(x) & np.isfinite(y)
    return x[keep], y[keep]


def wilcoxon_paired(a: Sequence[float], b: Sequence[float], alternative: str = "two-sided") -> float:
    """p-value of the Wilcoxon signed-rank test of ``a - b`` (paired, e.g. per-subject accuracies).

    Equals ``scipy.stats.wilcoxon(a, b, alternative=alternative).pvalue`` where that is defined; when
    every difference is zero there is no evidence of a difference and the p-value is 1; with no pairs
    it is NaN.
    """
    x, y = _pairs(a, b)
    if x.size == 0:
        return math.nan
    d = x - y
    if np.all(d == 0):
        return 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(_st.wilcoxon(x, y, alternative=alternative).pvalue)


def wilcoxon_min_p(n: int, alternative: str = "two-sided") -> float:
    """The smallest p-value the exact Wilcoxon signed-rank test can give with ``n`` pairs.

    All n differences of one sign: one-sided ``1 / 2**n``, two-sided ``2 / 2**n``. With n = 4 subjects
    that is 0.0625 one-sided, so no result can be significant at 0.05 whatever its size.
    """
    if n <= 0:
        return math.nan
    return min(1.0, (1.0 if alternative != "two-sided" else 2.0) / 2.0**n)


def corrected_ttest(
    a: Sequence[float],
    b: Sequence[float],
    n_train: float | Sequence[float],
    n_test: float | Sequence[float],
    alternative: str = "two-sided",
) -> tuple[float, float]:
    """Corrected resampled t-test (Nadeau & Bengio 2003) over k paired cross-validation folds.

    ``t = mean(d) / sqrt((1/k + n_test/n_train) * var(d))`` with ``d = a - b`` per fold and ``var`` the
    sample variance (ddof 1); ``k - 1`` degrees of freedom. ``n_train``/``n_test`` may be per-fold
    sizes (their mean ratio is used). Returns ``(t, p)``; NaNs with fewer than two folds. Zero variance
    gives ``p = 1`` for a zero mean difference and ``p = 0`` otherwise.
    """
    x, y = _pairs(a, b)
    k = int(x.size)
    if k < 2:
        return math.nan, math.nan
    ratio = float(np.mean(np.asarray(n_test, dtype=float) / np.asarray(n_train, dtype=float)))
    d = x - y
    mean = float(d.mean())
    var = float(d.var(ddof=1))
    if var == 0.0:
        if mean == 0.0:
            return 0.0, 1.0
        t = math.copysign(math.inf, mean)
    else:
        t = mean / math.sqrt((1.0 / k + ratio) * var)
    df = k - 1
    if alternative == "two-sided":
        p = 2.0 * float(_st.t.sf(abs(t), df))
    elif alternative == "greater":
        p = float(_st.t.sf(t, df))
    elif alternative == "less":
        p = float(_st.t.cdf(t, df))
    else:
        raise ValueError(f"alternative={alternative!r}; allowed: two-sided, greater, less")
    return float(t), min(1.0, p)


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values (same order as given; NaNs stay NaN and do not count)."""
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, math.nan)
    idx = np.flatnonzero(np.isfinite(p))
    m = idx.size
    running = 0.0
    for rank, i in enumerate(idx[np.argsort(p[idx], kind="stable")]):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out


def binomial_chance(n: int, alpha: float = ALPHA, p: float = 0.5) -> float:
    """Adjusted chance level (Combrisson & Jerbi 2015): ``binom.ppf(1 - alpha, n, p) / n``.

    An accuracy at or below it on ``n`` independent test samples is not significantly above chance.
    EEG windows of one trial are not independent: pass the number of independent test units (trials,
    or subjects when folds are by subject), not of windows.
    """
    if n <= 0:
        return math.nan
    return float(_st.binom.ppf(1 - alpha, int(n), p)) / int(n)
