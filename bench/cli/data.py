"""``bench data ...``: synthesise, prepare (cache), inspect and picture the brain-map features."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from bench.api.choices import DataChoice, data_choice
from bench.api.registries import list_datasets as registered_datasets
from bench.api.settings import parse_overrides, parse_subjects, read_config_file
from bench.cli.common import (
    DATA_DIR_OPTION,
    DATASET_OPTION,
    DEAP_OPTION,
    SYNTHETIC_OPTION,
    console,
    err_console,
)
from bench.core.checks import check_number, check_option
from bench.core.errors import DataError
from bench.core.plots import plot_format
from bench.core.terminal import NAME, TEXT, Col, FitTable
from bench.data.cache import entry_source, list_cached, prepare_features
from bench.data.contents import Contents
from bench.data.datasets import DEFAULT_DATASET, dataset_names, get_dataset, left_out, list_datasets
from bench.data.features import FeatureConfig
from bench.data.paths import cache_root
from bench.data.published import feature_options
from bench.data.source import data_kind, generated_twin, kind_words
from bench.data.synthetic import FAST_SIZE, SyntheticConfig, write_synthetic
from bench.data.topomaps import plot_average_maps

app = typer.Typer(
    help="The registered datasets, their synthetic twins, the feature cache and brain-map pictures.",
    no_args_is_help=True,
)


def feature_config_from(config_file: Path | None, overrides: list[str] | None, dataset: str = "deap"):
    """FeatureConfig from the dataset's feature defaults, a config file's [features] table and ``-F
    key=value`` overrides (in that order)."""
    cfg = read_config_file(config_file)
    feats = dict(cfg.get("features", {})) if isinstance(cfg.get("features", {}), dict) else {}
    feats.update(parse_overrides(overrides, "-F/--feature"))
    return FeatureConfig.from_dict(feature_options(dataset, feats))  # published: the source's fixed recipe


def load_features(
    data: DataChoice,
    subjects: str | None,
    feature_config,
    *,
    force: bool = False,
    quiet: bool = False,
):
    """Resolve the data source and return its (cached) FeatureSet, with a progress line per subject."""
    from rich.progress import Progress

    name = data.name()
    sub = parse_subjects(subjects, name)
    echo = (lambda m: None) if quiet else (lambda m: err_console.print(m, markup=False))
    source = data.source(name, sub, echo=echo)
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
    out: Path = typer.Argument(..., help="Folder to write the twin's files into"),
    dataset: str = typer.Option(
        DEFAULT_DATASET, "--dataset", help="Dataset whose twin to write (its file format, channels, ratings)"
    ),
    subjects: int | None = typer.Option(
        None, "--subjects", help="Number of subjects (default and most: the dataset's, DEAP 32)"
    ),
    trials: int | None = typer.Option(
        None, "--trials", help="Trials per subject (default and most: the dataset's, DEAP 40)"
    ),
    seed: int = typer.Option(0, "--seed", help="Random seed"),
    effect_size: float = typer.Option(1.0, "--effect-size", min=0.0, help="Scale of the planted effects"),
    peripheral_effect: float = typer.Option(
        0.0, "--peripheral-effect", help="Scale of the planted arousal effect in GSR and heart rate (DEAP)"
    ),
    subject_shift: float = typer.Option(
        0.0,
        "--subject-shift",
        min=0.0,
        help="Sd of a per-subject log-amplitude gain per channel and band in the stimulus part only, which "
        "hides the planted effects from training across subjects (0: none; 1.5 hides them)",
    ),  # fmt: skip
    fast: bool = typer.Option(False, "--fast", help="Small preset for tests (overrides --subjects/--trials)"),
) -> None:
    """Write a synthetic twin of a dataset (its exact file format, documented planted effects)."""
    ds = get_dataset(check_option("--dataset", dataset, dataset_names()))
    for flag, value, most in (("--subjects", subjects, ds.n_subjects), ("--trials", trials, ds.n_trials)):
        if value is not None:  # the bounds are the dataset's: checked here, not by typer
            check_number(f"{flag} ({ds.title})", value, integer=True, low=1, high=most)
    if fast:
        n_subjects, n_trials = FAST_SIZE[0], min(FAST_SIZE[1], ds.n_trials)
    else:
        n_subjects, n_trials = subjects or ds.n_subjects, trials or ds.n_trials
    cfg = SyntheticConfig(
        n_subjects=n_subjects, n_trials=n_trials, seed=seed, effect_size=effect_size, dataset=ds.name,
        peripheral_effect=peripheral_effect, subject_shift=subject_shift,
    )  # fmt: skip
    t0 = time.perf_counter()
    files = write_synthetic(out, cfg)
    console.print(
        f"wrote a synthetic {ds.title} ({n_subjects} subjects x {n_trials} trials, {len(files)} files) to "
        f"{out} in {time.perf_counter() - t0:.1f} s",
        soft_wrap=True,
    )


@app.command("prepare")
def prepare(
    dataset: str | None = DATASET_OPTION,
    data_dir: Path | None = DATA_DIR_OPTION,
    deap: Path | None = DEAP_OPTION,
    synthetic: bool = SYNTHETIC_OPTION,
    subjects: str | None = typer.Option(None, "--subjects", help="Subjects, e.g. '1-32' or '1,3,5-8'"),
    config: Path | None = typer.Option(None, "--config", help="TOML/JSON config file ([features] table)"),
    feature: list[str] | None = typer.Option(None, "-F", "--feature", help="Feature option key=value"),
    force: bool = typer.Option(False, "--force", help="Recompute even if cached"),
) -> None:
    """Compute brain-map features once and cache them (keyed by file contents and config)."""
    data = data_choice(dataset=dataset, data_dir=data_dir, deap=deap, synthetic=synthetic)
    t0 = time.perf_counter()
    fs, source = load_features(data, subjects, feature_config_from(config, feature, data.name()), force=force)
    console.print(
        f"{kind_words(fs.kind)} features for {len(fs.subjects)} subjects, shape {tuple(fs.features.shape)}, "
        f"fingerprint {fs.fingerprint}, in {time.perf_counter() - t0:.2f} s"
    )


def datasets_table() -> FitTable:
    """The registered datasets: size, channels, rates, the baseline the features subtract, rating scale,
    and where a command finds each (its environment variable; its embedded twin, generated in the cache
    or not yet). Folded, never cut, at any terminal width."""
    seconds = FeatureConfig().baseline_s
    columns = [
        Col("dataset", NAME), Col("title", NAME), Col("subjects x trials"), Col("channels"), Col("Hz"),
        Col("baseline + trial s", TEXT), Col(f"baseline subtracted (-F baseline_s={seconds:g})", TEXT),
        Col("labels", TEXT), Col("environment variable", TEXT), Col("embedded twin", TEXT),
    ]  # fmt: skip
    rows = []
    for _, ds in registered_datasets().iterrows():
        if not isinstance(ds["env_value"], str):  # unset: None, or NaN in a column of a few values
            env = f"${ds['env']} not set"
        else:
            env = f"${ds['env']}={ds['env_value']}" + ("" if ds["env_is_folder"] else " (not a folder)")
        rows.append([
            ds["name"], ds["title"], f"{ds['n_subjects']} x {ds['n_trials']}", str(ds["n_channels"]),
            f"{ds['sfreq']:g}", f"{ds['baseline_s']:g} + {ds['trial_s']:g}", ds["baseline_subtracted"],
            ds["labels"], env,
            "generated" if ds["twin_generated"] else "not generated yet",
        ])  # fmt: skip
    title = "Datasets (--dataset NAME; --data-dir DIR, else $VARIABLE, else the embedded twin)"
    return FitTable(columns, rows, title=title, fold=1)


def left_out_table() -> FitTable | None:
    """What the readers leave out of the copies ``bench data info`` knows of (the folder each dataset's
    environment variable names, its generated embedded twin), for the datasets whose reader may leave
    something out (MAHNOB-HCI's sessions); None where there is nothing to show."""
    import os

    rows = []
    for ds in list_datasets():
        if ds.left_out is None:
            continue
        folders = []
        value = os.environ.get(ds.env)
        if value and Path(value).expanduser().is_dir():
            folders.append((f"${ds.env}={value}", Path(value)))
        twin = generated_twin(ds.name)
        if twin is not None:
            folders.append(("embedded twin", twin))
        for name, folder in folders:
            try:
                kinds = left_out(ds, folder)
                what = "; ".join(k.words() for k in kinds if k.ids) or "nothing"
            except DataError as exc:
                what = f"cannot tell: {exc}"
            rows.append([ds.name, name, what])
    if not rows:
        return None
    columns = [Col("dataset", NAME), Col("folder", TEXT), Col("left out by the reader", TEXT)]
    return FitTable(columns, rows, title="Left out by the readers (also counted in each run's tags)", fold=1)


@app.command("info")
def info() -> None:
    """List the registered datasets, then what the feature cache holds: per dataset, data folder and
    feature config, whose features they are."""
    console.print(datasets_table())
    skipped = left_out_table()
    if skipped is not None:
        console.print(skipped)
    entries = list_cached()
    if not entries:
        console.print(f"The feature cache at {cache_root()} is empty: run `bench data prepare`.")
        return
    columns = [
        Col("config", NAME), Col("kind", NAME), Col("source (data folder)", TEXT), Col("dataset", NAME),
        Col("holds", TEXT), Col("subjects", NAME), Col("trials x windows"), Col("size"), Col("created", NAME),
    ]  # fmt: skip
    groups: dict[tuple, list[dict]] = {}
    for e in entries:
        source, exists = entry_source(e)
        if exists is False:
            source += " (folder no longer exists)"
        key = (e["config_fingerprint"][:12], bool(e.get("synthetic")), source, e.get("dataset", "deap"),
               _holds(e.get("contents")))  # fmt: skip
        groups.setdefault(key, []).append(e)
    rows = []
    for (cfg, synth, source, dataset, holds), items in sorted(groups.items()):
        subs = sorted(e["subject"] for e in items)
        shape = items[0]["shape"]
        rows.append([
            cfg, kind_words(data_kind(dataset, synth)), source, dataset, holds, _compact(subs),
            f"{shape[0]} x {shape[1]}", f"{sum(e['bytes'] for e in items) / 1e6:.1f} MB",
            max(e["created"] for e in items),
        ])  # fmt: skip
    caption = (
        "source: the folder of the subject files the features were computed from (the cache may be "
        "shared by several folders); unknown: an entry written without it"
    )
    console.print(FitTable(columns, rows, title=f"Feature cache at {cache_root()}", caption=caption, fold=1))


def _holds(contents: dict | None) -> str:
    """What an entry holds, in words (its meta.json ``contents``; absent: DE and PSD maps)."""
    c = Contents(**(contents or {}))
    words = [", ".join(k.upper() if k in ("de", "psd", "dasm", "rasm") else k for k in c.kinds)]
    if c.peripheral:
        words.append("peripheral")
    if c.signal_band is not None:
        words.append(f"signal {c.signal_band[0]:g}-{c.signal_band[1]:g} Hz")
    return " + ".join(words)


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
    dataset: str | None = DATASET_OPTION,
    data_dir: Path | None = DATA_DIR_OPTION,
    deap: Path | None = DEAP_OPTION,
    synthetic: bool = SYNTHETIC_OPTION,
    subjects: str | None = typer.Option(None, "--subjects", help="Subjects, e.g. '1-32'"),
    config: Path | None = typer.Option(None, "--config", help="TOML/JSON config file ([features] table)"),
    feature: list[str] | None = typer.Option(None, "-F", "--feature", help="Feature option key=value"),
) -> None:
    """Draw the average brain maps (DE and PSD per band, high vs low valence and arousal, and their
    high-minus-low differences) as scalp maps."""
    data = data_choice(dataset=dataset, data_dir=data_dir, deap=deap, synthetic=synthetic)
    plot_format("--out", out)  # a wrong suffix is refused before any data is read
    fs, _ = load_features(data, subjects, feature_config_from(config, feature, data.name()))

    path = plot_average_maps(fs, out, threshold=get_dataset(fs.dataset).threshold)  # its own "high"
    console.print(f"wrote {path}")
