"""Grids of runs and reports from Python: :func:`reproduce` is ``bench reproduce``, :func:`report` is
``bench report``; the grid helpers here serve both and the commands."""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from bench.api.choices import DataChoice, data_choice
from bench.config.run import DEVICES
from bench.core.checks import check_option
from bench.core.errors import ConfigError
from bench.core.host import resolve_device
from bench.data.source import env_folder
from bench.results import load_store
from bench.results.cells import check_metric
from bench.results.report import ReportFiles, build_report
from bench.runs.executors import make_executor
from bench.runs.grid import load_grid
from bench.runs.plan import Prepared
from bench.runs.progress import GridReporter
from bench.runs.reproduce import GridResult, prepare_runs, run_grid
from bench.tracking.uris import check_tracking_uri


def grid_where(g) -> list[str]:
    """``--where`` filters that select the grid's scale in the tables (folds are left out: cross-subject
    runs may have fewer, one per subject; with several seeds every seed's run competes for its cell)."""
    sc = g.scale
    where = [
        f"train.max_epochs={sc.max_epochs}",
        "subjects=" + json.dumps(list(sc.subjects) if sc.subjects else None),
    ]
    return where + ([f"seed={sc.seeds[0]}"] if len(sc.seeds) == 1 else [])


def grid_command(g, grid_file: Path | None, data: DataChoice | None = None) -> str:
    """The ``bench reproduce`` command of grid ``g`` (recorded in its report): DEAP's folder as
    ``--deap DIR``, another dataset's as ``--dataset NAME --data-dir DIR``."""
    source = f"--grid {shlex.quote(str(grid_file))}" if grid_file is not None else f"--preset {g.name}"
    if g.dataset == "deap":
        where = f" --deap {shlex.quote(str(g.deap))}" if g.deap else ""
    else:
        where = f" --dataset {g.dataset}" + (f" --data-dir {shlex.quote(str(g.deap))}" if g.deap else "")
    where += " --synthetic" if data is not None and data.synthetic else ""
    return f"bench reproduce {source} --scale {g.scale_name}{where}".replace(" --scale custom", "")


def write_grid_report(g, features, uri: str, out: Path, command: str) -> ReportFiles:
    """The report of grid ``g``: its data (``features``) and its scale only, with the grid, scale and
    command as context; ``bench reproduce`` ends with it and ``bench report --preset/--grid`` rebuilds it."""
    store = load_store(uri, data=features.kind, fingerprint=features.fingerprint, where=grid_where(g))
    sc = g.scale
    context = {
        "grid": g.name,
        "scale": f"{g.scale_name} (subjects {'all' if sc.subjects is None else len(sc.subjects)}, "
        f"{sc.n_folds} folds, up to {sc.max_epochs} epochs, seeds {list(sc.seeds)})",
        "command": command,
    }
    return build_report(store, out, context=context, grid=g)


def scale_data(g):
    """The synthetic twin a grid's scale brings along (smoke: its own small one) when no folder of its
    dataset is given (``--deap``/``--data-dir``, the grid's ``[data]`` or the dataset's environment
    variable); None: the usual data source."""
    return g.scale.synthetic(g.dataset) if g.deap is None and env_folder(g.dataset) is None else None


def data_grid(data: DataChoice, **kwargs):
    """:func:`bench.runs.grid.load_grid` with the data options: ``--dataset`` and a folder replace the grid's
    ``[data]``; ``--synthetic`` with a grid file that names a folder is refused (one of the two)."""
    g = load_grid(deap=data.folder, dataset=data.dataset, **kwargs)
    if data.synthetic and g.deap is not None:
        raise ConfigError(
            f"--synthetic and the grid's folder {g.deap} ([data] of {kwargs.get('path')}) exclude each other"
        )
    return g


def grid_synthetic(g, data: DataChoice | None):
    """The synthetic twin a grid runs on: with ``--synthetic`` the scale's own (smoke) or the dataset's
    embedded one, even where its environment variable is set; else :func:`scale_data`'s."""
    if data is not None and data.synthetic:
        return g.scale.synthetic(g.dataset) or data.twin(g.dataset)
    return scale_data(g)


def grid_features(g, echo=None, data: DataChoice | None = None):
    """The features a grid's runs use (from the feature cache once prepared), without planning it."""
    synthetic = grid_synthetic(g, data)
    return prepare_runs([g.entries[0].run], deap=g.deap, synthetic=synthetic, echo=echo)[0].features


def grid_configs(g, *, device: str | None, threads: int | None, log_model: bool = False,
                 compile: bool = False) -> list:  # fmt: skip
    """The run configs of grid ``g`` with the options of the command that runs it (device, torch
    threads, saved weights, torch.compile): none of them is part of a run key."""
    return [replace(e.config, device=device or "auto", num_threads=threads, log_model=log_model,
                    compile=compile) for e in g.entries]  # fmt: skip


@dataclass
class GridOutcome:
    """What :func:`reproduce` did: the grid, its prepared runs, the runs' result and the report.

    Attributes
    ----------
    grid : Grid
        The grid as loaded (:func:`bench.runs.grid.load_grid`): entries, scale, skipped entries.
    plans : list of Prepared
        One prepared run per grid entry (its config, run key, folds and units).
    result : GridResult or None
        The runs' outcome (finished, reused, failed); None with ``plan_only``.
    report : ReportFiles or None
        The report written (``report.html``, ``report.md``, tables, plots); None with ``plan_only``.
    """

    grid: object
    plans: list[Prepared]
    result: GridResult | None = None
    report: ReportFiles | None = None


def load_data_grid(
    *,
    preset: str | None = None,
    grid: str | Path | None = None,
    scale: str | None = None,
    dataset: str | None = None,
    data_dir: str | Path | None = None,
    deap: str | Path | None = None,
    synthetic: bool = False,
) -> tuple[object, DataChoice]:
    """A grid (a built-in ``preset`` or a ``grid`` TOML file; default the paper's) with the data options
    applied, every run's settings checked; and the data options themselves."""
    choice = data_choice(dataset=dataset, data_dir=_path(data_dir), deap=_path(deap), synthetic=synthetic)
    return data_grid(choice, preset=preset, path=_path(grid), scale=scale), choice


def reproduce(
    preset: str | None = None,
    *,
    grid: str | Path | None = None,
    scale: str | None = None,
    dataset: str | None = None,
    data_dir: str | Path | None = None,
    deap: str | Path | None = None,
    synthetic: bool = False,
    executor: str | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    threads: int | None = None,
    device: str | None = None,
    tracking_uri: str | None = None,
    out: str | Path = "report",
    plan_only: bool = False,
    log_model: bool = False,
    compile: bool = False,
    reporter: GridReporter | None = None,
    echo=None,
) -> GridOutcome:
    """Run a grid of runs on one executor queue, then write its report: ``bench reproduce``.

    Finished runs and units in the store are reused, so the same call resumes. ``bench reproduce`` also
    probes each model's throughput to print an estimate; this function does not.

    Parameters
    ----------
    preset : str, optional
        A built-in grid (default ``rudakov2021``: every table of the paper).
    grid : path, optional
        A grid TOML file instead of a preset.
    scale : str, optional
        ``smoke`` (minutes), ``small`` (default) or ``full`` (the paper's scale).
    dataset, data_dir, deap, synthetic
        The data options, as :func:`bench.run` takes them.
    executor, workers, scheduler
        Where units run: ``local`` (default), ``pool`` with ``workers``, ``dask`` with ``scheduler``.
    threads : int, optional
        torch threads per unit.
    device : str, optional
        ``auto``, ``cpu`` or ``cuda``.
    tracking_uri : str, optional
        The MLflow store (default ``./mlflow.db``).
    out : path
        The report folder (default ``./report``).
    plan_only : bool
        Prepare every run (data, folds, units) and return; train nothing, write no report.
    log_model, compile : bool
        Save each unit's weights as an artifact; torch.compile each model (neither is in a run key).
    reporter : GridReporter, optional
        Progress callbacks (default: none).
    echo : callable, optional
        Receives progress lines of the preparation.

    Returns
    -------
    GridOutcome
        The grid, its prepared runs, and (unless ``plan_only``) the result and the report's files.

    Raises
    ------
    ConfigError
        A bad option or grid, checked before any data is read.
    """
    g, choice = load_data_grid(preset=preset, grid=grid, scale=scale, dataset=dataset, data_dir=data_dir,
                               deap=deap, synthetic=synthetic)  # fmt: skip
    ex = make_executor(executor, workers=workers, scheduler=scheduler)
    if device is not None:
        check_option("--device", device, DEVICES)
    uri = check_tracking_uri(tracking_uri)
    resolve_device(device or "auto")
    if not g.entries:
        raise ConfigError(f"grid {g.name!r} has no run to do (every entry was skipped)")
    configs = grid_configs(g, device=device, threads=threads, log_model=log_model, compile=compile)
    synthetic_twin = grid_synthetic(g, choice)
    plans = prepare_runs(configs, deap=g.deap, synthetic=synthetic_twin, echo=echo)
    if plan_only:
        return GridOutcome(g, plans)
    res = run_grid(plans, tracking_uri=uri, executor=ex, reporter=reporter or GridReporter())
    command = grid_command(g, _path(grid), choice)
    return GridOutcome(g, plans, res, write_grid_report(g, plans[0].features, uri, Path(out), command))


def report(
    out: str | Path = "report",
    *,
    tracking_uri: str | None = None,
    data: str | None = None,
    fingerprint: str | None = None,
    where: Sequence[str] | None = None,
    metric: str = "acc",
    preset: str | None = None,
    grid: str | Path | None = None,
    scale: str | None = None,
    dataset: str | None = None,
    data_dir: str | Path | None = None,
    deap: str | Path | None = None,
    synthetic: bool = False,
    echo=None,
) -> Path:
    """Write the report of the finished runs in the store (no training): ``bench report``.

    Every table, its plots, the statistics legend and the runs' provenance go into ``out``
    (``report.html``, self-contained; ``report.md``; ``tables/*.csv|.tex``; ``plots/*.png``). With
    ``preset``/``grid`` (and ``scale`` and the data options, as given to :func:`reproduce`): the report
    :func:`reproduce` wrote for that grid, rebuilt from the store.

    Parameters
    ----------
    out : path
        The report folder (default ``./report``).
    tracking_uri, data, fingerprint, where, metric
        The runs, as :func:`bench.table` picks them.
    preset, grid, scale, dataset, data_dir, deap, synthetic
        The grid whose report to rebuild (these exclude ``data``, ``fingerprint``, ``where``, ``metric``).
    echo : callable, optional
        Receives progress lines (a grid's data preparation).

    Returns
    -------
    pathlib.Path
        The report's ``report.html``.
    """
    return write_report(out, tracking_uri=tracking_uri, data=data, fingerprint=fingerprint, where=where,
                        metric=metric, preset=preset, grid=grid, scale=scale, dataset=dataset,
                        data_dir=data_dir, deap=deap, synthetic=synthetic, echo=echo).html  # fmt: skip


def write_report(out, *, tracking_uri=None, data=None, fingerprint=None, where=None, metric="acc",
                 preset=None, grid=None, scale=None, dataset=None, data_dir=None, deap=None,
                 synthetic=False, echo=None) -> ReportFiles:  # fmt: skip
    """:func:`report`, returning every file written (``bench report`` prints their summary)."""
    check_metric(metric)
    grid_data = (deap, dataset, data_dir) != (None, None, None) or synthetic
    if preset is not None or grid is not None or scale is not None or grid_data:
        choice = data_choice(dataset=dataset, data_dir=_path(data_dir), deap=_path(deap), synthetic=synthetic)
        if data is not None or fingerprint is not None or where or metric != "acc":
            raise ConfigError("--preset/--grid/--scale/--deap pick the grid's runs: drop --data, "
                              "--fingerprint, --where and --metric")  # fmt: skip
        uri = check_tracking_uri(tracking_uri)
        g = data_grid(choice, preset=preset, path=_path(grid), scale=scale)
        features = grid_features(g, echo=echo, data=choice)
        return write_grid_report(g, features, uri, Path(out), grid_command(g, _path(grid), choice))
    check_tracking_uri(tracking_uri)  # read as given: the fill-in commands carry it so
    store = load_store(tracking_uri, data=data, fingerprint=fingerprint, where=where, first="bench reproduce")
    return build_report(store, Path(out), metric=metric)


def _path(value: str | Path | None) -> Path | None:
    return None if value is None else Path(value)
