"""``bench perf``'s pool estimate: single-thread workers timed at once, the grid's units over the workers."""

from __future__ import annotations

import pytest

from bench.core.errors import BenchError
from bench.perf import fullsize, parallel, report
from bench.perf.measure import PerfReport
from bench.perf.throughput import ModelPerf


def test_pool_workers_time_the_model_at_once():
    rates = parallel.pool_rates("saelstm", precision="fp32", workers=2, seconds=0.2)
    assert rates.workers == 2 and rates.threads_per_worker == 1 and len(rates.per_worker) == 2
    assert all(t > 0 and p > 0 for t, p in rates.per_worker)
    assert sorted(t for t, _ in rates.per_worker)[0] <= rates.train_samples_per_s  # the median of the two


def test_a_failing_worker_is_one_line_not_a_hang():
    with pytest.raises(BenchError, match="a pool worker timing nosuchmodel failed: .*nosuchmodel"):
        parallel.pool_rates("nosuchmodel", precision="fp32", workers=2, seconds=0.1)


def _perf() -> ModelPerf:
    rates = {"fp32": 1000.0, "fp32-cl": None, "bf16": None, "bf16-cl": None}
    return ModelPerf("mccnn", (8, 8, 9), 1, 82e6, rates, "fp32", 4000.0)


def test_the_pool_grid_is_its_units_at_the_per_worker_rate_over_the_workers(monkeypatch):
    """Same units, same arithmetic as one process: at a per-worker rate equal to the one-process rate the
    pool's grid takes exactly 1 / workers of the one-process grid."""
    monkeypatch.setattr(fullsize, "FULL_SIZE", (6, 40, 12))
    mp = _perf()
    same = parallel.PoolRates(2, 1, 1000.0, 4000.0, ((1000.0, 4000.0),) * 2)
    (est,), _ = fullsize.full_size_estimates([mp], {"mccnn": same})
    assert est.pool_workers == 2
    assert est.pool_grid_seconds == pytest.approx(est.grid_seconds / 2)
    half = parallel.PoolRates(2, 1, 500.0, 2000.0, ((500.0, 2000.0),) * 2)
    (slow,), _ = fullsize.full_size_estimates([mp], {"mccnn": half})
    # half the rate: training and prediction take twice as long; the per-unit tracking does not
    assert est.pool_grid_seconds < slow.pool_grid_seconds < 2 * est.pool_grid_seconds
    (none,), _ = fullsize.full_size_estimates([mp])
    assert none.pool_workers == 0 and none.pool_grid_seconds is None


def test_the_report_adds_the_pool_column_only_when_measured(monkeypatch):
    monkeypatch.setattr(fullsize, "FULL_SIZE", (6, 40, 12))
    mp = _perf()
    for pools, has in (
        ({"mccnn": parallel.PoolRates(2, 1, 900.0, 4000.0, ((900.0, 4000.0),) * 2)}, True),
        ({}, False),
    ):
        est, grid = fullsize.full_size_estimates([mp], pools)
        r = PerfReport({}, {}, {"fp32": 1.0, "bf16": 1.0}, {"fp32": 1.0, "bf16": 1.0}, [mp], est, grid, pools)
        headers = report.estimate_headers(r)
        assert ("grid on 2 pool workers" in headers) is has
        assert all(len(row) == len(headers) for row in report.estimate_rows(r))
        assert ("Pool workers: `bench reproduce --executor pool` on 2" in report.estimate_note(r)) is has
