"""The 2-D electrode grids the brain-map models use, for any headset.

Grids are written row by row (row 0 = front of the head, column 0 = the subject's left); every cell
not named holds 0 in a brain map. The 8x9 grid is the 4D-CRNN / MT-CNN authors' layout, the 9x9 grid
the one common in TorchEEG-style pipelines (FBCCNN). Both name the 32 channels of DEAP's 10-20 montage
in those papers' cells, and the 62 of the SEED family's cap around them (TorchEEG's SEED layout);
a headset with a subset of them (DREAMER's and AMIGOS' 14 Emotiv channels) lands on the same cells, with
zeros elsewhere. A channel a grid does not name is placed by its position in MNE's 10-20 template
montage: the grid's named cells fix a linear map from montage coordinates to (row, column), and the
channel takes the free cell nearest to where that map puts it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from bench.data.datasets.deap_format import ALL_CHANNELS, EEG_CHANNELS, PERIPHERAL_CHANNELS, SFREQ

__all__ = ["ALL_CHANNELS", "EEG_CHANNELS", "GRIDS", "PERIPHERAL_CHANNELS", "SFREQ", "grid_positions",
           "grid_shape", "mirror_index", "montage_xy", "montage_xyz", "to_grid"]  # fmt: skip

_GRID_ROWS: dict[str, tuple[str, ...]] = {
    "8x9": (
        "- - AF3 Fp1 FPz Fp2 AF4 - -",
        "F7 F5 F3 F1 Fz F2 F4 F6 F8",
        "FT7 FC5 FC3 FC1 FCz FC2 FC4 FC6 FT8",
        "T7 C5 C3 C1 Cz C2 C4 C6 T8",
        "TP7 CP5 CP3 CP1 CPz CP2 CP4 CP6 TP8",
        "P7 P5 P3 P1 Pz P2 P4 P6 P8",
        "- PO7 PO5 PO3 POz PO4 PO6 PO8 -",
        "- - CB1 O1 Oz O2 CB2 - -",
    ),
    "9x9": (
        "- - - Fp1 FPz Fp2 - - -",
        "- - - AF3 - AF4 - - -",
        "F7 F5 F3 F1 Fz F2 F4 F6 F8",
        "FT7 FC5 FC3 FC1 FCz FC2 FC4 FC6 FT8",
        "T7 C5 C3 C1 Cz C2 C4 C6 T8",
        "TP7 CP5 CP3 CP1 CPz CP2 CP4 CP6 TP8",
        "P7 P5 P3 P1 Pz P2 P4 P6 P8",
        "- PO7 PO5 PO3 POz PO4 PO6 PO8 -",
        "- - CB1 O1 Oz O2 CB2 - -",
    ),
}
"""Each grid names DEAP's 32 electrodes in the cells of the MT-CNN/4D-CRNN authors' maps, and the other
electrodes of the 62-channel cap of the SJTU SEED family in the cells between them: the 9x9 grid is
TorchEEG's ``SEED_LOCATION_LIST`` (torcheeg@1deec28, torcheeg/datasets/constants/emotion_recognition/
seed.py), the 8x9 grid the same without its AF row, AF3 and AF4 beside Fp1 and Fp2 as in DEAP's 8x9 map.
A 62-channel recording fills either grid without any electrode placed by its montage position."""

GRIDS: tuple[str, ...] = tuple(_GRID_ROWS)


def _named_cells(grid: str) -> dict[str, tuple[int, int]]:
    if grid not in _GRID_ROWS:
        raise ValueError(f"grid={grid!r} is not known; allowed: {', '.join(GRIDS)}")
    return {
        name: (r, c)
        for r, row in enumerate(_GRID_ROWS[grid])
        for c, name in enumerate(row.split())
        if name != "-"
    }


def template_montage():
    """MNE's 10-20 template montage (``colin27_1020``; ``standard_1020`` before MNE 1.12 renamed it)."""
    import mne

    name = "colin27_1020" if "colin27_1020" in mne.channels.get_builtin_montages() else "standard_1020"
    return mne.channels.make_standard_montage(name)


@lru_cache(maxsize=1)
def _montage() -> dict[str, np.ndarray]:
    """Channel name (upper case) -> (x, y) on the head in metres (x: left to right, y: back to front)."""
    pos = template_montage().get_positions()["ch_pos"]
    return {name.upper(): np.asarray(xyz[:2], dtype=np.float64) for name, xyz in pos.items()}


def montage_xy(channels: Sequence[str]) -> np.ndarray:
    """(n, 2) positions of channels in MNE's 10-20 template montage; an unknown name is a ValueError."""
    table = _montage()
    missing = [c for c in channels if c.upper() not in table]
    if missing:
        raise ValueError(f"channel(s) {', '.join(missing)} not in MNE's standard_1020 montage")
    return np.stack([table[c.upper()] for c in channels])


_XYZ_STAND_INS: dict[str, str] = {"CB1": "POO7", "CB2": "POO8"}
"""3-D stand-ins for the Neuroscan cap's cerebellar CB1 and CB2 (SEED family): MNE's 10-05 template
(``colin27_1005``) holds their positions under these names; MNE's ``standard_1005`` called the same two
positions CB1 and CB2 before MNE 1.12 (TorchEEG's and LibEER's location tables copy them so)."""


@lru_cache(maxsize=1)
def _montage_xyz() -> dict[str, np.ndarray]:
    """Channel name (upper case) -> (x, y, z) in metres: the 10-20 template, then the 10-05 template's
    other names (the same head: the names both hold sit at the same place), then the stand-ins."""
    import mne  # heavy optional dependency, read once

    base = template_montage().get_positions()["ch_pos"]
    pos = {n.upper(): np.asarray(v, dtype=np.float64) for n, v in base.items()}
    name = "colin27_1005" if "colin27_1005" in mne.channels.get_builtin_montages() else "standard_1005"
    extra = mne.channels.make_standard_montage(name).get_positions()["ch_pos"]
    for n, v in extra.items():
        pos.setdefault(n.upper(), np.asarray(v, dtype=np.float64))
    for alias, where in _XYZ_STAND_INS.items():
        if where in pos:
            pos.setdefault(alias, pos[where])
    return pos


def montage_xyz(channels: Sequence[str]) -> np.ndarray:
    """(n, 3) positions in metres of channels in MNE's template head (10-20, then 10-05 names; CB1 and CB2
    of the SEED family's cap at :data:`_XYZ_STAND_INS`); an unknown name is a one-line ValueError.

    The distance-based graphs (RGNN's adjacency) need depth: two electrodes that the 2-D projection puts
    close together can lie far apart on the scalp's curve."""
    table = _montage_xyz()
    missing = [c for c in channels if c.upper() not in table]
    if missing:
        raise ValueError(f"channel(s) {', '.join(missing)} not in MNE's 10-05 template montage")
    return np.stack([table[c.upper()] for c in channels])


def grid_positions(grid: str, channels: Sequence[str] | None = None) -> dict[str, tuple[int, int]]:
    """Return ``{channel: (row, col)}`` for a grid name (``"8x9"`` or ``"9x9"``).

    Without ``channels``: the channels the grid names (DEAP's 32 and the SEED family's 62). With
    ``channels``: a cell for each of them, the named cell where the grid names the channel (any letter
    case), else the free cell nearest to the channel's montage position mapped onto the grid (see the
    module docstring).
    """
    named = _named_cells(grid)
    if channels is None:
        return named
    upper = {k.upper(): v for k, v in named.items()}
    out = {c: upper[c.upper()] for c in channels if c.upper() in upper}
    rest = [c for c in channels if c not in out]
    if rest:
        out.update(_placed(grid, rest, taken=set(out.values())))
    return out


def _placed(grid: str, channels: Sequence[str], taken: set[tuple[int, int]]) -> dict[str, tuple[int, int]]:
    """Cells for channels the grid does not name: least-squares affine map montage (x, y) -> (row, col)
    fitted on the named channels, then each channel (in order) takes the nearest free cell."""
    named = _named_cells(grid)
    table = _montage()
    names = [n for n in named if n.upper() in table]  # CB1, CB2 (62-channel caps) are not in the template
    xy = np.column_stack([montage_xy(names), np.ones(len(names))])
    rc = np.array([named[n] for n in names], dtype=np.float64)
    coef, *_ = np.linalg.lstsq(xy, rc, rcond=None)
    h, w = grid_shape(grid)
    free = [(r, c) for r in range(h) for c in range(w) if (r, c) not in taken]
    out = {}
    for ch, target in zip(channels, np.column_stack([montage_xy(channels), np.ones(len(channels))]) @ coef,
                          strict=True):  # fmt: skip
        if not free:
            raise ValueError(f"grid {grid} has no free cell left for channel {ch}")
        cell = min(free, key=lambda rc_: (rc_[0] - target[0]) ** 2 + (rc_[1] - target[1]) ** 2)
        free.remove(cell)
        out[ch] = cell
    return out


def grid_shape(grid: str) -> tuple[int, int]:
    """(rows, columns) of a grid."""
    rows = _GRID_ROWS.get(grid)
    if rows is None:
        raise ValueError(f"grid={grid!r} is not known; allowed: {', '.join(GRIDS)}")
    return len(rows), len(rows[0].split())


def to_grid(values: np.ndarray, grid: str, channels: Sequence[str] = EEG_CHANNELS) -> np.ndarray:
    """Place a trailing axis of per-channel values onto a 2-D grid.

    Parameters
    ----------
    values : array, shape (..., n_channels)
        One value per EEG channel, in ``channels`` order.
    grid : str
        ``"8x9"`` or ``"9x9"``.
    channels : sequence of str
        The channel names of the last axis (default: DEAP's 32, in DEAP order).

    Returns
    -------
    array, shape (..., H, W)
        Same dtype; cells without an electrode are 0.
    """
    if values.shape[-1] != len(channels):
        raise ValueError(
            f"to_grid expects {len(channels)} channels on the last axis, got shape {values.shape}"
        )
    h, w = grid_shape(grid)
    flat = _flat_cells(grid, tuple(channels))
    out = np.zeros((*values.shape[:-1], h * w), dtype=values.dtype)
    out[..., flat] = values
    return out.reshape(*values.shape[:-1], h, w)


@lru_cache(maxsize=64)
def _flat_cells(grid: str, channels: tuple[str, ...]) -> np.ndarray:
    w = grid_shape(grid)[1]
    pos = grid_positions(grid, channels)
    return np.array([pos[ch][0] * w + pos[ch][1] for ch in channels])


_NUMBERED = re.compile(r"([A-Z]+)(\d+)")


def mirror_name(channel: str) -> str | None:
    """The 10-20 name of the electrode mirrored across the midline, upper case; None for a midline
    ('z') electrode or a name that does not follow the rule.

    The 10-20/10-10 naming puts left electrodes at odd numbers and their mirror at the next even one
    with the same letters (Fp1/Fp2, F7/F8, FT9/FT10), midline electrodes at 'z' (Fz, Cz)."""
    m = _NUMBERED.fullmatch(channel.strip().upper())
    if m is None or int(m.group(2)) == 0:
        return None
    n = int(m.group(2))
    return f"{m.group(1)}{n + 1 if n % 2 else n - 1}"


def mirror_index(channels: Sequence[str]) -> np.ndarray:
    """For each channel, the index in ``channels`` of its mirror electrode (:func:`mirror_name`, any
    letter case), or -1 where it has none: a midline electrode, or a partner the headset lacks.

    The hemispheric asymmetry features (DASM, RASM) pair channels with it."""
    where = {c.strip().upper(): i for i, c in enumerate(channels)}
    return np.array([where.get(mirror_name(c) or "", -1) for c in channels], dtype=np.int64)
