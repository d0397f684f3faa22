"""bench.core.stats against scipy and hand computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as st

from bench.core import stats


def test_describe_matches_t_interval():
    x = [0.61, 0.72, 0.55, 0.68, 0.70]
    s = stats.describe(x)
    mean, sd = np.mean(x), np.std(x, ddof=1)
    lo, hi = st.t.interval(0.95, len(x) - 1, loc=mean, scale=sd / math.sqrt(len(x)))
    assert s.n == 5
    assert s.mean == pytest.approx(mean)
    assert s.std == pytest.approx(sd)
    assert (s.ci_low, s.ci_high) == (pytest.approx(lo), pytest.approx(hi))


def test_describe_small_and_nan():
    one = stats.describe([0.7, math.nan])
    assert one.n == 1 and one.mean == 0.7 and math.isnan(one.std) and math.isnan(one.ci_low)
    none = stats.describe([])
    assert none.n == 0 and math.isnan(none.mean)


def test_wilcoxon_equals_scipy():
    a = np.array([0.81, 0.74, 0.66, 0.90, 0.71, 0.77, 0.69, 0.84])
    b = np.array([0.70, 0.75, 0.60, 0.80, 0.69, 0.70, 0.71, 0.73])
    for alt in ("two-sided", "greater", "less"):
        assert stats.wilcoxon_paired(a, b, alt) == pytest.approx(st.wilcoxon(a, b, alternative=alt).pvalue)


def test_wilcoxon_degenerate():
    assert stats.wilcoxon_paired([0.5, 0.6], [0.5, 0.6]) == 1.0
    assert math.isnan(stats.wilcoxon_paired([], []))
    with pytest.raises(ValueError):
        stats.wilcoxon_paired([1, 2], [1])


def test_corrected_ttest_by_hand():
    a = np.array([0.80, 0.78, 0.83, 0.79, 0.81])
    b = np.array([0.75, 0.77, 0.76, 0.74, 0.78])
    n_train, n_test = 3072, 960
    d = a - b
    k = 5
    t_hand = d.mean() / math.sqrt((1 / k + n_test / n_train) * d.var(ddof=1))
    p_hand = 2 * st.t.sf(abs(t_hand), k - 1)
    t, p = stats.corrected_ttest(a, b, n_train, n_test)
    assert t == pytest.approx(t_hand) and p == pytest.approx(p_hand)
    # the correction makes it more conservative than the plain paired t-test
    assert p > st.ttest_rel(a, b).pvalue
    t1, p1 = stats.corrected_ttest(a, b, n_train, n_test, alternative="greater")
    assert p1 == pytest.approx(p_hand / 2)
    # per-fold sizes: the mean ratio is used
    t2, _ = stats.corrected_ttest(a, b, [n_train] * 5, [n_test] * 5)
    assert t2 == pytest.approx(t_hand)


def test_corrected_ttest_degenerate():
    assert stats.corrected_ttest([0.5, 0.6], [0.5, 0.6], 10, 5) == (0.0, 1.0)
    t, p = stats.corrected_ttest([0.6, 0.7], [0.5, 0.6], 10, 5)
    assert t == math.inf and p == 0.0
    assert all(math.isnan(v) for v in stats.corrected_ttest([0.5], [0.4], 10, 5))


def test_holm_known_vector():
    p = [0.01, 0.04, 0.03, 0.005]
    # sorted: 0.005*4=0.02, 0.01*3=0.03, 0.03*2=0.06, 0.04*1=0.04 -> monotone 0.06
    np.testing.assert_allclose(stats.holm(p), [0.03, 0.06, 0.06, 0.02])
    out = stats.holm([0.02, math.nan, 0.5])
    assert out[0] == pytest.approx(0.04) and math.isnan(out[1]) and out[2] == pytest.approx(0.5)
    assert stats.holm([0.9, 0.8]).max() <= 1.0


def test_binomial_chance():
    # Combrisson & Jerbi: the threshold shrinks towards 0.5 as n grows
    assert stats.binomial_chance(100) == pytest.approx(st.binom.ppf(0.95, 100, 0.5) / 100)
    assert stats.binomial_chance(40) > stats.binomial_chance(1000) > 0.5
    assert math.isnan(stats.binomial_chance(0))


def _table_text(values: list[float]) -> tuple[dict, str]:
    """The tidy fields and the comparison table's text of one cell of ``values`` (per subject)."""
    import pandas as pd

    from bench.results.cells import Cell, cell_fields
    from bench.results.comparison import _text

    fields = cell_fields(Cell("run", "valence", "acc", stats.describe(values), "subjects", 40, "trials"))
    row = pd.Series({**fields, "model": "mtcnn", "p_vs_mtcnn_holm": math.nan, "p_vs_mtcnn_why": "",
                     "above_chance": True})  # fmt: skip
    return fields, _text(row, "")


def test_table_ci_is_clipped_to_the_metric_range():
    # [1, 1, 0.5]: mean 0.8333, std 0.2887, t(0.975, 2) = 4.3027 -> 0.8333 ± 0.7171 = [0.116, 1.550]
    fields, text = _table_text([1.0, 1.0, 0.5])
    assert fields["ci_low"] == pytest.approx(0.116224, abs=1e-6)
    assert fields["ci_high"] == 1.0 and fields["ci"] == "t"
    assert text == "83.3 ± 28.9 [11.6, 100.0] n=3"


def test_table_leaves_out_the_ci_of_two_values():
    # [1, 0.5]: t(0.975, 1) = 12.706 -> 0.75 ± 3.177 = [-2.43, 3.93]: no CI is shown, not even clipped
    s = stats.describe([1.0, 0.5])
    assert (s.ci_low, s.ci_high) == (pytest.approx(-2.426551, abs=1e-6), pytest.approx(3.926551, abs=1e-6))
    fields, text = _table_text([1.0, 0.5])
    assert math.isnan(fields["ci_low"]) and math.isnan(fields["ci_high"])
    assert fields["ci"] == f"none (n<{stats.MIN_CI_N})" == "none (n<3)"
    assert text == "75.0 ± 35.4 n=2"
