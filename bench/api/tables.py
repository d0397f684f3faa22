"""Result tables and the runs behind them, from Python: ``bench table NAME`` and ``bench runs``.

:func:`table` gives the numbers of a table as one tidy DataFrame (one row per cell), :func:`render_table`
the text ``bench table NAME`` prints (or a file format), :func:`list_runs` the listing of ``bench runs``
and :func:`list_data_sets` that of ``bench runs --datasets``. Each reads the MLflow store only.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd
from rich.console import Console
from rich.text import Text

from bench import results as R
from bench.core.checks import check_option
from bench.results.cells import check_metric
from bench.results.crossdataset import default_kind
from bench.results.store import Store, describe_scale, list_datasets, other_settings
from bench.results.table import TRIVIAL, Table, TableSpec
from bench.tracking.uris import check_tracking_uri

P_COLUMNS: tuple[str, ...] = ("p_vs_mtcnn_holm", "p_vs_full_holm", "p_vs_reference", "p_vs_plain_holm")
"""The p value a table prints beside a cell (Holm-corrected where the table corrects), by table: the
comparison's (vs MT-CNN), the ablation's (vs the full model), the cross-dataset one's (vs its reference),
the methods table's (a method vs the same model's plain run);
:func:`table` copies the first one present into its ``p`` column."""


def check_table(name: str, metric: str = "acc", fmt: str | None = None) -> TableSpec:
    """The registered table ``name``, once the metric and the format (``md``, ``latex``, ``csv``,
    ``html`` or None for text) are checked: each refusal is one line (:class:`ConfigError`)."""
    spec = R.get_table(name)
    check_metric(metric)
    if fmt is not None:
        check_option("--format", fmt, R.FORMATS)
    return spec


def built_tables(
    name: str,
    *,
    data: str | None = None,
    tracking_uri: str | None = None,
    fingerprint: str | None = None,
    where: Sequence[str] | None = None,
    metric: str = "acc",
    **options: Any,
) -> list[Table]:
    """Build table ``name`` from the store: the :class:`~bench.results.table.Table` objects (printed cells,
    tidy numbers, notes, fill-in commands) that :func:`table` and :func:`render_table` read.

    Takes the options of :func:`table`."""
    check_table(name, metric)
    check_tracking_uri(tracking_uri)  # the store is read as given: fill-in commands carry it so
    if R.get_table(name).across_pairs and data is None:  # a table of dataset pairs reads those runs
        data = default_kind(tracking_uri)
    store = R.load_store(tracking_uri, data=data, fingerprint=fingerprint, where=where)
    return R.build(name, store, metric=metric, **options)


def tidy(tables: Iterable[Table]) -> pd.DataFrame:
    """The numbers of built tables as one DataFrame with the columns :func:`table` describes."""
    frames = []
    for t in tables:
        d = t.data.loc[:, [c for c in t.data.columns if not str(c).startswith("_")]].copy()
        d.insert(0, "table", t.name)
        # the papers' numbers stay as reported, in percent, while mean/std/CI are fractions: the name
        # says so, so no one reads 96.28 beside 0.72 as the same scale
        d = d.rename(columns={"reported": "reported_percent"})
        p = next((c for c in P_COLUMNS if c in d.columns), None)
        d["p"] = d[p].astype(float) if p is not None else float("nan")
        d["missing"] = d["status"].ne("ok") if "status" in d.columns else False
        d["chance"] = d["model"].isin(TRIVIAL) if "model" in d.columns else False
        if "above_chance" in d.columns:
            d["not_above_chance"] = d["above_chance"].map(lambda v: v is False)
        frames.append(d)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def table(name: str, **options: Any) -> pd.DataFrame:
    """The numbers of ``bench table NAME`` as a DataFrame, one row per cell.

    Parameters
    ----------
    name : str
        A registered table (``comparison``, ``protocols``, ``leakage``, ``ablation``, ``leaderboard``,
        ``cross-dataset``, and any registered with :func:`bench.results.register_table`).
    **options
        The options of ``bench table NAME``, Python-spelled:

        - ``tracking_uri`` (str): the MLflow store (default ``./mlflow.db``);
        - ``data`` (str): the data kind, ``synthetic`` or ``deap`` (or another dataset's); default
          synthetic where it has runs;
        - ``fingerprint`` (str): a prefix of the data set's fingerprint (:func:`list_data_sets`);
        - ``where`` (list of str): keep the runs whose config has these values, e.g.
          ``["train.max_epochs=200"]``;
        - ``metric`` (str): ``acc`` (default), ``trial-acc``, ``balanced-acc``, ``f1`` or ``auc``;
        - the table's own options (``model``, ``protocol``, ``split`` for ``ablation`` ...).

    Returns
    -------
    pandas.DataFrame
        One row per cell of each table the name builds (``protocols`` builds two): ``table`` (which),
        the keys of the cell (``model``, ``protocol``, ``split``, ``task``, ``variant``, ``audit`` where
        the table has them), ``metric``, ``status`` (``ok``, ``not run``, ``not asked``), ``mean``,
        ``std``, ``ci_low``, ``ci_high`` (fractions 0-1; the CI where n allows one), ``n``, the table's
        own columns (differences; ``reported_percent``: the paper's number as reported, in percent,
        never ours ...), and the
        flags: ``p`` (the p value the table prints: Holm-corrected vs MT-CNN, vs the full model, vs the
        reference; NaN where none), ``missing`` (no run fills the cell), ``chance`` (a trivial baseline)
        and, in the comparison, ``not_above_chance``.

    Raises
    ------
    ConfigError
        An unknown table, metric, data kind or fingerprint, a ``where`` key no run has, an empty store.

    Examples
    --------
    >>> import bench
    >>> df = bench.table("comparison", tracking_uri="sqlite:///runs.db")  # doctest: +SKIP
    >>> df[["model", "protocol", "task", "mean", "p"]]  # doctest: +SKIP
    """
    return tidy(built_tables(name, **options))


def print_renderables(console: Console, renderables: Iterable[Any]) -> None:
    """Print tables and notes at the console's width; a fill-in command (a no-wrap Text) is not wrapped,
    so it stays one copyable line."""
    for r in renderables:
        console.print(r, soft_wrap=isinstance(r, Text) and bool(r.no_wrap))


def render_table(name: str, fmt: str | None = None, *, width: int | None = None, **options: Any) -> str:
    """The text ``bench table NAME`` prints: the same table, notes and fill-in commands.

    Parameters
    ----------
    name : str
        A registered table.
    fmt : str, optional
        ``md``, ``latex``, ``csv`` or ``html``: the file format ``--format`` writes; None: the terminal
        text.
    width : int, optional
        Columns of the text (None: the terminal's, or ``$COLUMNS``, else 80, as the CLI does).
    **options
        The options of :func:`table`.

    Returns
    -------
    str
        The text, as the CLI writes it to stdout.
    """
    check_table(name, options.get("metric", "acc"), fmt)
    built = built_tables(name, **options)
    if fmt is not None:
        return R.render(built, fmt)
    out = io.StringIO()
    print_renderables(Console(file=out, width=width, highlight=False), R.to_rich(built))
    return out.getvalue()


def runs_frame(store: Store) -> pd.DataFrame:
    """The finished parents of a store's data set, one row each (what :func:`list_runs` returns)."""
    shown = set(store.parents["run_id"])
    n_subjects = store.dataset.n_subjects if store.dataset else None
    rows = []
    for _, r in store.runs.iterrows():
        cell = f"{r['protocol']}/{r['split']}" + ("" if r["audit"] == "none" else f" {r['audit']}")
        own = r["run_variant"]
        cell += f" {own}" + ("" if own == r["variant"] else f" (shown as {r['variant']})")
        cell += " (tuned)" if r["tuned"] else ""
        others = other_settings(r)
        rows.append(
            {
                "run_id": r["run_id"],
                "shown": r["run_id"] in shown,
                "model": r["model"],
                "protocol": r["protocol"],
                "split": r["split"],
                "audit": r["audit"],
                "variant": own,
                "shown_as": r["variant"],
                "tuned": bool(r["tuned"]),
                "cell": cell,
                "n_folds": r["n_folds"],
                "seed": r["seed"],
                "epochs": r["epochs"],
                "subjects": r["subjects"],
                "scale": describe_scale(r, n_subjects),
                "other_settings": others,
                "other": ", ".join(f"{k}={json.dumps(v)}" for k, v in others.items()),
            }
        )
    columns = [
        "run_id",
        "shown",
        "model",
        "protocol",
        "split",
        "audit",
        "variant",
        "shown_as",
        "tuned",
        "cell",
        "n_folds",
        "seed",
        "epochs",
        "subjects",
        "scale",
        "other_settings",
        "other",
    ]
    return pd.DataFrame(rows, columns=columns)


def runs_store(
    tracking_uri: str | None = None,
    *,
    data: str | None = None,
    fingerprint: str | None = None,
    where: Sequence[str] | None = None,
    model: str | None = None,
) -> Store:
    """The store ``bench runs`` lists (its data set, chosen as the tables choose it; ``model`` adds
    ``where=["model=NAME"]``)."""
    uri = check_tracking_uri(tracking_uri)
    return R.load_store(
        uri,
        data=data,
        fingerprint=fingerprint,
        where=[*(where or []), *([f"model={model}"] if model else [])],
    )


def list_runs(
    tracking_uri: str | None = None,
    *,
    data: str | None = None,
    fingerprint: str | None = None,
    where: Sequence[str] | None = None,
    model: str | None = None,
) -> pd.DataFrame:
    """The finished runs the tables choose from (of one data set): ``bench runs`` as a DataFrame.

    Parameters
    ----------
    tracking_uri : str, optional
        The MLflow store (default ``./mlflow.db``).
    data, fingerprint, where
        The data set and the runs, as :func:`table` takes them.
    model : str, optional
        Only this model's runs.

    Returns
    -------
    pandas.DataFrame
        One row per finished parent run: ``run_id`` (full), ``shown`` (the run the tables show for its
        cell: the newest), ``model``, ``protocol``, ``split``, ``audit``, ``variant`` (the run's own),
        ``shown_as`` (the cell's variant), ``tuned``, ``cell`` (as ``bench runs`` prints it), the scale
        (``n_folds``, ``seed``, ``epochs``, ``subjects``; ``scale`` in words), ``other_settings`` (a
        dict of the settings that set the run apart) and ``other`` (them as text).
    """
    return runs_frame(runs_store(tracking_uri, data=data, fingerprint=fingerprint, where=where, model=model))


def list_data_sets(tracking_uri: str | None = None, data: str | None = None) -> pd.DataFrame:
    """The data sets with finished runs in the store: ``bench runs --datasets`` as a DataFrame.

    Returns
    -------
    pandas.DataFrame
        One row per data set: ``kind``, ``fingerprint``, ``n_subjects``, ``n_trials``, ``n_runs``,
        ``newest`` (ms since the epoch) and ``default`` (the one tables show without ``fingerprint``).
    """
    sets, default, _ = list_datasets(check_tracking_uri(tracking_uri), data)
    rows = [
        {
            "kind": d.kind,
            "fingerprint": d.fingerprint,
            "n_subjects": d.n_subjects,
            "n_trials": d.n_trials,
            "n_runs": d.n_runs,
            "newest": d.newest,
            "default": d == default,
        }
        for d in sets
    ]
    return pd.DataFrame(rows, columns=["kind", "fingerprint", "n_subjects", "n_trials", "n_runs", "newest",
                                       "default"])  # fmt: skip
