"""The grid presets page: every built-in grid of ``bench reproduce --preset NAME``, expanded into its runs.

Each preset is expanded by :func:`bench.runs.grid.load_grid` (what ``bench reproduce`` runs, without a data
folder: on the embedded synthetic default), so the page lists exactly the runs the grid makes and the ones
it skips with their reasons; the scales come from :data:`bench.runs.grid.SCALES`.
"""

from __future__ import annotations

from bench.data.datasets import get_dataset
from bench.runs.grid import DEFAULT_PRESET, DEFAULT_SCALE, PRESETS, SCALES, Grid, load_grid, preset_text
from registry_pages.markup import code, code_block, generated_note, heading, page, table, text


def _lead(toml: str) -> str:
    """The comment lines a preset's TOML starts with: what the grid is for, in its authors' words."""
    lines = []
    for line in toml.splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("#").strip())
    return " ".join(lines)


def _runs(grid: Grid) -> str:
    rows = [
        (
            code(e.model),
            code(e.protocol),
            code(e.split),
            code(e.variant),
            code(e.audit),
            str(e.config.n_folds),
        )
        for e in grid.entries
    ]
    return table(("model", "protocol", "split", "variant", "audit", "folds"), rows, escaped=True)


def preset_section(name: str) -> str:
    """One preset: its purpose, its runs at the default scale, what it skips, its TOML text."""
    grid = load_grid(preset=name)
    blocks = [
        heading(name, 2, target=f"preset-{name}"),
        text(_lead(preset_text(name))),
        code_block(
            f"bench reproduce --preset {name} --plan\nbench reproduce --preset {name} --scale smoke", "bash"
        ),
        heading("Runs", 3),
        text(
            f"{len(grid.entries)} runs at the {grid.scale_name} scale on the embedded synthetic "
            f"{get_dataset(grid.dataset).title} twin (the folds of a split by subject follow the data's "
            "subjects):"
        ),
        _runs(grid),
    ]
    if grid.skipped:
        blocks += [
            heading("Left out", 3),
            table(("run", "why"), [(code(label), text(why)) for label, why in grid.skipped], escaped=True),
        ]
    blocks += [heading("Grid file", 3), code_block(preset_text(name), "toml")]
    return page(*blocks)


def presets_page() -> str:
    """The page: the scales, then one section per preset."""
    scales = [
        (
            code(n) + (" (default)" if n == DEFAULT_SCALE else ""),
            "all" if s.subjects is None else ", ".join(map(str, s.subjects)),
            str(s.n_folds),
            str(s.max_epochs),
            ", ".join(map(str, s.seeds)),
            "embedded default" if s.synthetic_trials is None else f"{s.synthetic_trials} trials per subject",
        )
        for n, s in SCALES.items()
    ]
    return page(
        heading("Grid presets", target="presets-page"),
        generated_note("the built-in grids of bench.runs.grid, expanded as `bench reproduce` expands them"),
        text(
            f"`bench reproduce --preset NAME` runs a built-in grid (default `{DEFAULT_PRESET}`) and writes "
            "its report; `--show-grid` prints its TOML as a starting point for a grid file of your own "
            "(`--grid FILE`). `--scale` sizes every run without changing its recipe:"
        ),
        table(
            ("scale", "subjects", "folds", "max epochs", "seeds", "synthetic data without a folder"),
            scales,
            escaped=True,
        ),
        *(preset_section(n) for n in PRESETS),
    )
