"""A grid's report on a categorical dataset (SEED's twin): it names the dataset, draws and captions chance
at 1/k, ranks by the dataset's own task, and builds no table the grid asked nothing of (no ablation,
no paper row)."""

from __future__ import annotations

import pytest

import bench


def _quiet(message: str) -> None:
    """Progress lines go nowhere (the test reads the report)."""


@pytest.mark.slow  # an end-to-end run (about 20-45 s on 2 cores)
def test_a_seed_grid_report_speaks_of_seed_and_three_classes(tmp_path):
    grid = tmp_path / "seed.toml"
    grid.write_text(
        'name = "seed-baselines"\n[data]\ndataset = "seed"\n'
        '[[runs]]\nmodels = ["majority", "prior"]\nprotocols = ["session-trials", "cross-session"]\n'
    )
    out = tmp_path / "report"
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    outcome = bench.reproduce(grid=grid, scale="smoke", tracking_uri=uri, out=out, echo=_quiet)
    assert len(outcome.result.runs) == 4 and not outcome.result.failed
    md = (out / "report.md").read_text()
    assert "- data: SYNTHETIC (generated stand-in for SEED)" in md
    assert "they say nothing about SEED and must never be quoted as results" in md
    assert "dotted line: chance (random guess between 3 classes): 33.3 %." in md
    assert "between 2 classes" not in md
    assert "ranked by the mean of valence3;" in md
    assert "Not built: no mtcnn runs under whole-set/trial here, and none asked for" in md
    assert "4dcrnn (paper, reported)" not in md and "paper row" not in md
    html = (out / "report.html").read_text()
    assert "between 3 classes): 33.3 %" in html and "stand-in for SEED" in html
