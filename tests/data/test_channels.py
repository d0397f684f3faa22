"""Electrode grids checked against MNE's 10-20 positions."""

from __future__ import annotations

import itertools

import mne
import numpy as np
import pytest

from bench.data.categorical.seed_common import CHANNELS as SEED_CHANNELS
from bench.data.channels import EEG_CHANNELS, grid_positions, grid_shape, to_grid


def _positions() -> dict[str, np.ndarray]:
    montage = mne.channels.make_standard_montage("colin27_1020")
    return {ch.upper(): xyz for ch, xyz in montage.get_positions()["ch_pos"].items()}


@pytest.mark.parametrize("grid", ["8x9", "9x9"])
def test_grid_matches_scalp_layout(grid):
    """Every named cell: DEAP's 32 electrodes and the SEED family's 62 (CB1 and CB2, below O1 and O2, are
    not in MNE's 10-20 template: their cells are checked against O1 and O2 instead)."""
    montage, cells = _positions(), grid_positions(grid)
    h, w = grid_shape(grid)
    assert set(EEG_CHANNELS) <= set(cells)
    assert sorted(c.upper() for c in cells) == sorted(c.upper() for c in SEED_CHANNELS)
    assert len(set(cells.values())) == 62
    assert cells["CB1"] == (h - 1, cells["O1"][1] - 1) and cells["CB2"] == (h - 1, cells["O2"][1] + 1)
    pos = {ch: montage[ch.upper()] for ch in cells if ch.upper() in montage}
    cells = {ch: cells[ch] for ch in pos}
    mid = w // 2
    for ch, (r, c) in cells.items():
        assert 0 <= r < h and 0 <= c < w
        x = pos[ch][0]
        # left of the midline in columns < 4, right in columns > 4, midline electrodes (z) in column 4
        if c < mid:
            assert x < -0.005, ch
        elif c > mid:
            assert x > 0.005, ch
        else:
            assert ch.endswith("z") and abs(x) < 0.005, ch
    for a, b in itertools.combinations(cells, 2):
        (ra, ca), (rb, cb) = cells[a], cells[b]
        if ra < rb:  # a lower row is further to the front (larger y)
            assert pos[a][1] > pos[b][1], (a, b)
        if ra == rb and ca < cb:  # within a row, left to right
            assert pos[a][0] < pos[b][0], (a, b)


def test_to_grid_places_values_and_zeros():
    values = np.arange(1, 33, dtype=np.float32)[None].repeat(3, 0)
    g = to_grid(values, "8x9")
    assert g.shape == (3, 8, 9)
    cells = grid_positions("8x9")
    for i, ch in enumerate(EEG_CHANNELS):
        assert g[0, cells[ch][0], cells[ch][1]] == i + 1
    assert (g[0] != 0).sum() == 32
    assert g[0, 0, 0] == 0 and g[0, 7, 8] == 0
    assert to_grid(values, "9x9")[0, 0, 3] == EEG_CHANNELS.index("Fp1") + 1
    with pytest.raises(ValueError, match="grid='7x7' is not known"):
        to_grid(values, "7x7")
