"""DEAP channel order and the 2-D electrode grids the brain-map models use.

Grids are written row by row (row 0 = front of the head, column 0 = the subject's left); every cell
not named holds 0 in a brain map. The 8x9 grid is the 4D-CRNN / MT-CNN authors' layout, the 9x9 grid
the one common in TorchEEG-style pipelines (FBCCNN).
"""

from __future__ import annotations

import numpy as np

SFREQ = 128.0
"""Sampling rate of DEAP's preprocessed data, Hz."""

EEG_CHANNELS: tuple[str, ...] = (
    "Fp1", "AF3", "F3", "F7", "FC5", "FC1", "C3", "T7", "CP5", "CP1", "P3", "P7", "PO3", "O1", "Oz", "Pz",
    "Fp2", "AF4", "Fz", "F4", "F8", "FC6", "FC2", "Cz", "C4", "T8", "CP6", "CP2", "P4", "P8", "PO4", "O2",
)  # fmt: skip
"""The 32 EEG channels, in the order of DEAP's ``data`` array (indices 0-31)."""

PERIPHERAL_CHANNELS: tuple[str, ...] = (
    "hEOG", "vEOG", "zEMG", "tEMG", "GSR", "Respiration", "Plethysmograph", "Temperature",
)  # fmt: skip
"""Channels 32-39 of DEAP's ``data`` array (not EEG, never used as features)."""

ALL_CHANNELS: tuple[str, ...] = EEG_CHANNELS + PERIPHERAL_CHANNELS

_GRID_ROWS: dict[str, tuple[str, ...]] = {
    "8x9": (
        "- - AF3 Fp1 - Fp2 AF4 - -",
        "F7 - F3 - Fz - F4 - F8",
        "- FC5 - FC1 - FC2 - FC6 -",
        "T7 - C3 - Cz - C4 - T8",
        "- CP5 - CP1 - CP2 - CP6 -",
        "P7 - P3 - Pz - P4 - P8",
        "- - - PO3 - PO4 - - -",
        "- - - O1 Oz O2 - - -",
    ),
    "9x9": (
        "- - - Fp1 - Fp2 - - -",
        "- - - AF3 - AF4 - - -",
        "F7 - F3 - Fz - F4 - F8",
        "- FC5 - FC1 - FC2 - FC6 -",
        "T7 - C3 - Cz - C4 - T8",
        "- CP5 - CP1 - CP2 - CP6 -",
        "P7 - P3 - Pz - P4 - P8",
        "- - - PO3 - PO4 - - -",
        "- - - O1 Oz O2 - - -",
    ),
}

GRIDS: tuple[str, ...] = tuple(_GRID_ROWS)


def grid_positions(grid: str) -> dict[str, tuple[int, int]]:
    """Return ``{channel: (row, col)}`` for a grid name (``"8x9"`` or ``"9x9"``)."""
    if grid not in _GRID_ROWS:
        raise ValueError(f"grid={grid!r} is not known; allowed: {', '.join(GRIDS)}")
    return {
        name: (r, c)
        for r, row in enumerate(_GRID_ROWS[grid])
        for c, name in enumerate(row.split())
        if name != "-"
    }


def grid_shape(grid: str) -> tuple[int, int]:
    """(rows, columns) of a grid."""
    rows = _GRID_ROWS.get(grid)
    if rows is None:
        raise ValueError(f"grid={grid!r} is not known; allowed: {', '.join(GRIDS)}")
    return len(rows), len(rows[0].split())


def to_grid(values: np.ndarray, grid: str) -> np.ndarray:
    """Place a trailing axis of 32 EEG-channel values onto a 2-D grid.

    Parameters
    ----------
    values : array, shape (..., 32)
        One value per EEG channel, in DEAP order.
    grid : str
        ``"8x9"`` or ``"9x9"``.

    Returns
    -------
    array, shape (..., H, W)
        Same dtype; cells without an electrode are 0.
    """
    if values.shape[-1] != len(EEG_CHANNELS):
        raise ValueError(f"to_grid expects 32 channels on the last axis, got shape {values.shape}")
    h, w = grid_shape(grid)
    pos = grid_positions(grid)
    flat = np.array([pos[ch][0] * w + pos[ch][1] for ch in EEG_CHANNELS])
    out = np.zeros((*values.shape[:-1], h * w), dtype=values.dtype)
    out[..., flat] = values
    return out.reshape(*values.shape[:-1], h, w)
