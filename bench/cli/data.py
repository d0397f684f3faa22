"""``bench data ...``: synthesise, prepare (cache), inspect and picture the brain-map features."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.table import Table

from bench.cli.common import console, err_console, parse_overrides, parse_subjects, read_config_file
from bench.errors import ConfigError

app = typer.Typer(help="Synthetic DEAP, feature cache and brain-map pictures.", no_args_is_help=True)

DEAP_HELP = (
    "DEAP folder (sXX.dat files or DEAP's top folder); default: $DEAP_DIR, else the embedded synthetic DEAP"
)


def feature_config_from(config_file: Path | None, overrides: list[str] | None):
    """FeatureConfig from a config file's [features] table and ``-F key=value`` overrides."""
    from bench.data.features import FeatureConfig

    cfg = read_config_file(config_file)
    feats = dict(cfg.get("features", {})) if isinstance(cfg.get("features", {}), dict) else {}
    feats.update(parse_overrides(overrides, "-F/--feature"))
    return FeatureConfig.from_dict(feats)


def load_features(
    deap: Path | None,
    synthetic: bool,
    subjects: str | None,
    feature_config,
    *,
    force: bool = False,
    quiet: bool = False,
):
    """Resolve the data source and return its (cached) FeatureSet, with a progress line per subject."""
    from rich.progress import Progress

    from bench.data.cache import prepare_features
    from bench.data.source import default_synthetic_config, resolve_source

    if deap is not None and synthetic:
        raise ConfigError("--deap and --synthetic exclude each other")
    echo = (lambda m: None) if quiet else (lambda m: err_console.print(m, markup=False))
    source = resolve_source(
        deap,
        subjects=parse_subjects(subjects),
        synthetic=default_synthetic_config() if synthetic else None,
        echo=echo,
    )
    # redrawn on each subject, not by a refresh thread: features are computed by forked processes, and
    # forking is only safe from a process running no other thread (else they are computed serially)
    with Progress(console=err_console, transient=True, disable=quiet, auto_refresh=False) as bar:
        task = bar.add_task("features", total=len(source.files))

        def tick(done: int, total: int, hit: bool) -> None:
            bar.update(task, completed=done, description=f"features ({'cached' if hit else 'computed'})")
            bar.refresh()

        return prepare_features(source, feature_config, force=force, progress=tick), source


@app.command("synth")
def synth(
    out: Path = typer.Argument(..., help="Folder to write sXX.dat files into"),
    subjects: int = typer.Option(32, "--subjects", min=1, max=32, help="Number of subjects"),
    trials: int = typer.Option(40, "--trials", min=1, max=40, help="Trials per subject"),
    seed: int = typer.Option(0, "--seed", help="Random seed"),
    effect_size: float = typer.Option(1.0, "--effect-size", min=0.0, help="Scale of the planted effects"),
    fast: bool = typer.Option(False, "--fast", help="Small preset for tests (overrides --subjects/--trials)"),
) -> None:
    """Write a synthetic DEAP (DEAP's exact file format, documented planted effects)."""
    from dataclasses import replace

    from bench.data.synthetic import FAST, SyntheticConfig, write_synthetic_deap

    cfg = (
        replace(FAST, seed=seed, effect_size=effect_size)
        if fast
        else SyntheticConfig(n_subjects=subjects, n_trials=trials, seed=seed, effect_size=effect_size)
    )
    t0 = time.perf_counter()
    files = write_synthetic_deap(out, cfg)
    console.print(f"wrote {len(files)} synthetic subject files to {out} in {time.perf_counter() - t0:.1f} s")


@app.command("prepare")
def prepare(
    deap: Path | None = typer.Option(None, "--deap", help=DEAP_HELP),
    synthetic: bool = typer.Option(False, "--synthetic", help="Use the embedded synthetic DEAP"),
    subjects: str | None = typer.Option(None, "--subjects", help="Subjects, e.g. '1-32' or '1,3,5-8'"),
    config: Path | None = typer.Option(None, "--config", help="TOML/JSON config file ([features] table)"),
    feature: list[str] | None = typer.Option(None, "-F", "--feature", help="Feature option key=value"),
    force: bool = typer.Option(False, "--force", help="Recompute even if cached"),
) -> None:
    """Compute brain-map features once and cache them (keyed by file contents and config)."""
    t0 = time.perf_counter()
    fs, source = load_features(deap, synthetic, subjects, feature_config_from(config, feature), force=force)
    console.print(
        f"{fs.kind} features for {len(fs.subjects)} subjects, shape {tuple(fs.features.shape)}, "
        f"fingerprint {fs.fingerprint}, in {time.perf_counter() - t0:.2f} s"
    )


@app.command("info")
def info() -> None:
    """List what the feature cache holds: per data folder and feature config, whose features they are."""
    from bench.data.cache import cache_root, entry_source, list_cached

    entries = list_cached()
    if not entries:
        console.print(f"The feature cache at {cache_root()} is empty: run `bench data prepare`.")
        return
    table = Table(title=f"Feature cache at {cache_root()}")
    for col in ("config", "kind", "source (data folder)", "subjects", "trials x windows", "size", "created"):
        table.add_column(col)
    groups: dict[tuple, list[dict]] = {}
    for e in entries:
        source, exists = entry_source(e)
        if exists is False:
            source += " (folder no longer exists)"
        key = (e["config_fingerprint"][:12], bool(e.get("synthetic")), source)
        groups.setdefault(key, []).append(e)
    for (cfg, synth, source), items in sorted(groups.items()):
        subs = sorted(e["subject"] for e in items)
        shape = items[0]["shape"]
        table.add_row(
            cfg,
            "synthetic" if synth else "DEAP",
            source,
            _compact(subs),
            f"{shape[0]} x {shape[1]}",
            f"{sum(e['bytes'] for e in items) / 1e6:.1f} MB",
            max(e["created"] for e in items),
        )
    table.caption = (
        "source: the folder of the subject files the features were computed from (the cache may be "
        "shared by several folders); unknown: an entry written without it"
    )
    console.print(table)


def _compact(nums: list[int]) -> str:
    """[1,2,3,5] -> '1-3,5'."""
    parts, start = [], None
    for i, n in enumerate(nums):
        if start is None:
            start = n
        if i + 1 == len(nums) or nums[i + 1] != n + 1:
            parts.append(f"{start}" if start == n else f"{start}-{n}")
            start = None
    return ",".join(parts)


@app.command("show")
def show(
    out: Path = typer.Option(
        Path("brain_maps.png"), "--out", "-o", help="Picture to write: .png, .pdf, .svg or .jpg"
    ),
    deap: Path | None = typer.Option(None, "--deap", help=DEAP_HELP),
    synthetic: bool = typer.Option(False, "--synthetic", help="Use the embedded synthetic DEAP"),
    subjects: str | None = typer.Option(None, "--subjects", help="Subjects, e.g. '1-32'"),
    config: Path | None = typer.Option(None, "--config", help="TOML/JSON config file ([features] table)"),
    feature: list[str] | None = typer.Option(None, "-F", "--feature", help="Feature option key=value"),
) -> None:
    """Draw the average brain maps (DE and PSD per band, high vs low valence and arousal, and their
    high-minus-low differences) as scalp maps."""
    from bench.data.topomaps import plot_average_maps
    from bench.plots import plot_format

    plot_format("--out", out)  # a wrong suffix is refused before any data is read
    fs, _ = load_features(deap, synthetic, subjects, feature_config_from(config, feature))
    path = plot_average_maps(fs, out)
    console.print(f"wrote {path}")
