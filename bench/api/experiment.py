"""One tracked run from Python: :func:`run` is ``bench run`` (same options, run key and MLflow tracking).

A run goes through three steps, which ``bench run`` calls one by one to draw its progress in between
and :func:`run` calls in a row:

1. :func:`plan_run` checks every value (names, types, the device, the tracking store) and builds the
   resolved config; nothing is read and nothing is tracked yet, so a bad value never leaves a run behind;
2. :meth:`RunPlan.prepare` reads the data (features from the cache once computed) and builds the folds
   and units, saying what it reads;
3. :meth:`RunPlan.execute` finds or creates the parent run by its run key, reuses the units already
   FINISHED in MLflow (a finished run is returned without training) and trains the rest.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from bench.api.choices import DataChoice, data_choice, full_size_hint
from bench.api.settings import (
    build_config,
    csv_choices,
    overrides,
    parse_subjects,
    read_config_file,
    tuned_weights,
    words,
)
from bench.api.settings import loss_weights as parse_loss_weights
from bench.config.run import QUICK_EPOCHS, RunConfig
from bench.core.host import resolve_device
from bench.data.datasets import get_dataset
from bench.data.inputs import FEATURE_KINDS
from bench.runs.executors import check_stack_executor, make_executor
from bench.runs.plan import Prepared
from bench.runs.progress import Reporter
from bench.runs.runner import METRICS, ExperimentResult, prepare, run_experiment, unit_rows
from bench.runs.tuning_study import TunedWeights
from bench.tracking.uris import check_tracking_uri
from protocols import LEAKAGE_NOTE
from protocols.base import MECHANISMS

Echo = Callable[[str], None]
"""Where a step says what it does (one line per call)."""


def to_stderr(message: str) -> None:
    """The default :data:`Echo` of the Python API: one line on stderr, as ``bench run`` says it."""
    print(message, file=sys.stderr, flush=True)


def quick_epochs_line(more: str = "") -> str:
    """What the embedded default's epoch cap is and how to lift it (said when a command applies it)."""
    n = f"{QUICK_EPOCHS} epoch{'s' if QUICK_EPOCHS != 1 else ''}"
    return f"Embedded synthetic default: at most {n} (--epochs N for more{more})."


def data_line(features) -> str:
    """``Data: synthetic DREAMER, 2 subjects, from DIR``: what a run reads, said before it starts (a
    cross-dataset run: both datasets and the channels they share)."""

    def one(fs) -> str:
        what = ("synthetic " if fs.synthetic else "") + get_dataset(fs.dataset).title
        return f"{what}, {len(fs.subjects)} subjects, from {fs.source or 'the feature cache'}"

    if hasattr(features, "train"):  # CrossFeatures
        return (
            f"Data: train on {one(features.train)}; test on {one(features.test)}; "
            f"{len(features.channels)} shared channels"
        )
    return f"Data: {one(features)}"


@dataclass(frozen=True, eq=False)
class RunResult:
    """What :func:`run` returns: the run's identity in MLflow and its test metrics.

    Attributes
    ----------
    parent_run_id : str
        The MLflow parent run (its units are child runs); ``bench ui`` opens it.
    run_key : str
        The run's identity (config hash + data fingerprint): the same call finds the same run and
        resumes it.
    config : RunConfig
        The resolved config the folds and units were built from (model defaults and recipe applied).
    tracking_uri : str
        The MLflow store the run is in (the default ``./mlflow.db`` resolved to an absolute URI).
    metrics : pandas.DataFrame
        One row per unit and task (per test subject for a cross-dataset unit): ``unit`` (the protocol's
        unit id), ``subject`` (None where a unit pools subjects), ``fold``, ``task``, the test metrics
        ``acc``, ``balanced_acc``, ``f1_macro``, ``auc``, ``trial_acc``, ``trial_balanced_acc`` (fractions
        0-1; NaN where undefined, e.g. AUC with one class in a test fold), ``epochs`` (epochs trained),
        ``fit_seconds`` and ``reused`` (True: taken from MLflow, not trained by this call).
    experiment : ExperimentResult
        The runner's result (units, split, data kind and fingerprint, leakage flag, summary dict).
    """

    parent_run_id: str
    run_key: str
    config: RunConfig
    tracking_uri: str
    metrics: pd.DataFrame
    experiment: ExperimentResult = field(repr=False)

    @property
    def split(self) -> str:
        """The split the run used (the protocol's default where none was asked for)."""
        return self.experiment.split

    @property
    def leaky(self) -> bool:
        """True for a run whose test data leaked into training or model selection (kept off tables)."""
        return self.experiment.leaky

    def summary(self) -> pd.DataFrame:
        """Mean and standard deviation of each test metric per task, as ``bench run`` shows them.

        Per-subject and cross-dataset protocols average each subject's units first, so ``n`` counts
        subjects there, units elsewhere (the same numbers as the run's MLflow metrics
        ``{metric}_{task}_mean``/``_std``).

        Returns
        -------
        pandas.DataFrame
            One row per (task, metric): ``task``, ``metric``, ``mean``, ``std`` (fractions 0-1) and ``n``.

        Examples
        --------
        >>> result.summary().query("metric == 'acc'")[["task", "mean", "std"]]  # doctest: +SKIP
        """
        s = self.experiment.summary
        rows = [
            {
                "task": t,
                "metric": m,
                "mean": s.get(f"{m}_{t}_mean", float("nan")),
                "std": s.get(f"{m}_{t}_std", float("nan")),
                "n": int(s.get(f"n_{t}", 0)),
            }
            for t in self.config.tasks
            for m in METRICS
        ]
        return pd.DataFrame(rows, columns=["task", "metric", "mean", "std", "n"])


def metrics_frame(res: ExperimentResult) -> pd.DataFrame:
    """:attr:`RunResult.metrics` of a runner result: its unit rows plus epochs, fit time and reuse."""
    by_key = {u.unit.key: u for u in res.units}
    rows = unit_rows(res.units, res.config.tasks)
    for row in rows:
        u = by_key[row["unit"]]
        row.update(
            epochs=u.metrics.get("epochs_run", float("nan")),
            fit_seconds=u.metrics.get("fit_seconds", float("nan")),
            reused=bool(u.reused),
        )
    columns = ["unit", "subject", "fold", "task", *METRICS, "epochs", "fit_seconds", "reused"]
    return pd.DataFrame(rows, columns=columns)


@dataclass(frozen=True)
class RunPlan:
    """A checked run that has read nothing yet (:func:`plan_run`); :meth:`prepare` then :meth:`execute`.

    Attributes
    ----------
    config : RunConfig
        The run's config (the quick epoch cap applied on the embedded synthetic default).
    data : DataChoice
        Where the data comes from.
    tracking_uri : str
        The checked MLflow store, as an absolute URI.
    quick : bool
        The embedded synthetic default's epoch cap (``QUICK_EPOCHS``) applies: no folder, no
        environment variable and no ``epochs``.
    executor : object
        Where the units run (:func:`bench.runs.executors.make_executor`).
    tuned : TunedWeights or None
        The ``bench tune`` study the loss weights come from (``loss_weights="tuned:STUDY"``).
    force : bool
        Start a new parent run instead of resuming the one with the same run key.
    """

    config: RunConfig
    data: DataChoice
    tracking_uri: str
    quick: bool
    executor: Any
    tuned: TunedWeights | None = None
    force: bool = False

    def prepare(self, echo: Echo = to_stderr, warn: Echo = to_stderr) -> Prepared:
        """Read the data and build the folds and units; say what is read (``echo``) and, whatever the
        verbosity, that a run is leaky (``warn``). KeyboardInterrupt leaves nothing tracked."""
        cfg = self.config
        prepared = prepare(cfg, echo=echo, **self.data.prepare_args())
        if self.quick:  # said after prepare(), so a value it refuses stays the only line printed
            echo(quick_epochs_line(full_size_hint(cfg.dataset, cfg.test_dataset)))
        echo(data_line(prepared.features))
        if prepared.config.recipe != cfg.recipe:
            echo(
                f"The paper recipe of {cfg.model} is the harness recipe: same run as without --recipe paper."
            )
        if prepared.leaky:
            why = LEAKAGE_NOTE if prepared.split == "segment" else ""
            if "select-on-test" in cfg.audit:
                why += " select-on-test: the test fold drives early stopping and LR decay (audit only)."
            proto = prepared.run.protocol
            if proto.leaky:
                why += (
                    f" protocol {proto.name!r} reproduces a peer benchmark's "
                    f"{' and '.join(MECHANISMS[m] for m in proto.mechanisms)} (bench table protocols-audit)."
                )
            warn(f"LEAKY run (tagged leaky, kept off leaderboards): {why.strip()}")
        echo(f"Tracking to {self.tracking_uri}")
        return prepared

    def execute(self, prepared: Prepared, reporter: Reporter | None = None) -> RunResult:
        """Run (or resume) the prepared run in MLflow; progress goes to ``reporter`` (none: silent).

        Raises
        ------
        KeyboardInterrupt
            Ctrl-C: finished units stay FINISHED in MLflow; the same call resumes.
        """
        res = run_experiment(
            self.config,
            tracking_uri=self.tracking_uri,
            force=self.force,
            reporter=reporter,
            prepared=prepared,
            extra_tags=self.tuned.tags() if self.tuned is not None else None,
            executor=self.executor,
        )
        return RunResult(
            parent_run_id=str(res.parent_run_id),
            run_key=prepared.run_key,
            config=res.config,
            tracking_uri=self.tracking_uri,
            metrics=metrics_frame(res),
            experiment=res,
        )


def plan_run(
    model: str | None = None,
    protocol: str | None = None,
    dataset: str | None = None,
    *,
    split: str | None = None,
    folds: int | None = None,
    subjects: str | Iterable[int] | None = None,
    epochs: int | None = None,
    data_dir: str | Path | None = None,
    deap: str | Path | None = None,
    synthetic: bool = False,
    test: str | None = None,
    test_data_dir: str | Path | None = None,
    config: str | Path | Mapping | None = None,
    seed: int | None = None,
    device: str | None = None,
    precision: str | None = None,
    tasks: str | Iterable[str] | None = None,
    features: str | Iterable[str] | None = None,
    single_task: bool = False,
    no_dropout: bool = False,
    no_batch_norm: bool = False,
    no_lr_decay: bool = False,
    no_balance: bool = False,
    loss_weights: str | Iterable[float] | None = None,
    storage: str | None = None,
    lr: float | None = None,
    batch_size: int | None = None,
    audit: str | Iterable[str] | None = None,
    recipe: str | None = None,
    method: str | None = None,
    tracking_uri: str | None = None,
    threads: int | None = None,
    model_options: Mapping | Iterable[str] | None = None,
    feature_options: Mapping | Iterable[str] | None = None,
    force: bool = False,
    log_model: bool = False,
    compile: bool = False,
    stack: int | None = None,
    executor: str | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    echo: Echo = to_stderr,
) -> RunPlan:
    """Check a run's values and resolve its config, in ``bench run``'s order; nothing is read or tracked.

    Takes the options of :func:`run` (``echo`` says which study tuned loss weights come from).

    Raises
    ------
    ConfigError
        Any value ``bench run`` refuses, with its one-line message.
    """
    data = data_choice(dataset=dataset, data_dir=_path(data_dir), deap=_path(deap), synthetic=synthetic,
                       test=test, test_data_dir=_path(test_data_dir))  # fmt: skip
    runner_executor = make_executor(executor, workers=workers, scheduler=scheduler)
    check_stack_executor(stack, runner_executor)
    file_cfg = dict(config) if isinstance(config, Mapping) else read_config_file(_path(config))
    tuned = tuned_weights(words(loss_weights), storage)
    if tuned is not None:
        echo(
            f"Loss weights from study {tuned.study!r} (trial {tuned.trial}): {tuned.weights[0]:g},"
            f"{tuned.weights[1]:g}"
        )
    train = {
        "max_epochs": epochs, "precision": precision, "lr": lr, "batch_size": batch_size,
        "loss_weights": tuned.weights if tuned is not None else parse_loss_weights(loss_weights),
        "dropout": 0.0 if no_dropout else None, "batch_norm": False if no_batch_norm else None,
        "lr_decay": False if no_lr_decay else None, "balance": False if no_balance else None,
        "stack": stack,
    }  # fmt: skip
    read_dataset = get_dataset(data.name(file_cfg.get("dataset")))
    sub = parse_subjects(words(subjects), read_dataset.name)
    d = build_config(
        file_cfg, train=train, feature_config=overrides(feature_options, "-F/--feature"),
        model_options=overrides(model_options, "-M/--model-option"), **data.config_values(),
        model=model, protocol=data.protocol(protocol, file_cfg.get("protocol")), split=split,
        n_folds=folds, seed=seed, device=device,
        subjects=tuple(sub) if sub else None, tasks=csv_choices(tasks, "--tasks", read_dataset.tasks),
        features=csv_choices(features, "--features", FEATURE_KINDS), single_task=single_task or None,
        audit=csv_choices(audit, "--audit", ("select-on-test",)), num_threads=threads, recipe=recipe,
        log_model=log_model or None, compile=compile or None, method=method,
    )  # fmt: skip
    # Every value is checked before any output or work: types, the device, the tracking store.
    cfg = RunConfig.from_dict(d)
    data.check_run(cfg)
    resolve_device(cfg.device)  # device="cuda" without CUDA: refused here
    uri = check_tracking_uri(tracking_uri, write=True)  # a bad or read-only store: refused up front
    quick = data.embedded(cfg.dataset, cfg.test_dataset) and d["train"].get("max_epochs") is None
    if quick:
        d["train"]["max_epochs"] = QUICK_EPOCHS
        cfg = RunConfig.from_dict(d)
    return RunPlan(cfg, data, uri, quick, runner_executor, tuned, force)


def _path(value: str | Path | None) -> Path | None:
    return None if value is None else Path(value)


def run(
    model: str | None = None,
    protocol: str | None = None,
    dataset: str | None = None,
    *,
    echo: Echo = to_stderr,
    warn: Echo = to_stderr,
    reporter: Reporter | None = None,
    **options: Any,
) -> RunResult:
    """Train and test a model under a protocol, tracked in MLflow and resumable: ``bench run``.

    The same options give the same run key, the same MLflow parent run and the same numbers as
    ``bench run``; the option names are the CLI's, Python-spelled (``--batch-size`` is ``batch_size``,
    ``-M dropout=0.3`` is ``model_options={"dropout": 0.3}``). Every value is checked before anything
    is read or tracked. Without data options the run reads the embedded synthetic DEAP twin and, unless
    ``epochs`` is given, trains at most ``QUICK_EPOCHS`` epochs per unit, saying so, as ``bench run``
    does. A run already FINISHED in the store (same run key) comes back without training.

    Parameters
    ----------
    model : str, optional
        A registered model (:func:`bench.list_models`); None: the config file's, else ``"mtcnn"``.
    protocol : str, optional
        ``subject-specific``, ``whole-set``, ``cross-subject``, ``whole-set-finetune`` or
        ``cross-dataset``; None: the config file's, else ``"whole-set"`` (``"cross-dataset"`` with
        ``test``).
    dataset : str, optional
        The dataset (:func:`bench.list_datasets`), the training one of the cross-dataset protocol; None:
        the config file's, else ``"deap"``.
    echo : callable, optional
        Receives each progress line (default: printed to stderr); ``lambda m: None`` for silence.
    warn : callable, optional
        Receives the line that says a run is leaky (default: printed to stderr).
    reporter : Reporter, optional
        Per-unit and per-epoch callbacks (:class:`bench.runs.progress.Reporter`); default none.
    **options
        The other options of ``bench run``:

        - ``split`` (str): ``trial`` (default), ``segment`` (leaky) or ``subject``;
        - ``folds`` (int): outer folds (default 5; cross-subject 32 = leave one subject out);
        - ``subjects`` (str or list of int): ``"1-32"``, ``"1,3,5-8"`` or ``[1, 2]`` (default all);
        - ``epochs`` (int): epoch cap (default the model's, or the quick cap on embedded data);
        - ``data_dir``, ``deap``, ``test_data_dir`` (path): the dataset's folder (``deap``: DEAP's,
          short for ``dataset="deap", data_dir=...``), the test dataset's folder;
        - ``synthetic`` (bool): each dataset's embedded synthetic twin even where its environment
          variable is set; ``test`` (str): the test dataset (implies the cross-dataset protocol);
        - ``config`` (path or dict): a TOML/JSON run config file, or its contents; options win over it;
        - ``seed`` (int), ``device`` (``auto``/``cpu``/``cuda``), ``precision`` (``auto``/``fp32``/
          ``bf16``), ``threads`` (int, torch threads);
        - ``tasks`` (``"valence,arousal"`` or a list), ``features`` (feature kinds, e.g. ``"de,psd"``);
        - ablations: ``single_task``, ``no_dropout``, ``no_batch_norm``, ``no_lr_decay``,
          ``no_balance`` (bool);
        - training: ``lr`` (float), ``batch_size`` (int), ``loss_weights`` (``"1,1"``, a pair, or
          ``"tuned:STUDY"`` with ``storage``, the Optuna storage URL), ``recipe`` (``harness``/``paper``),
          ``audit`` (``"select-on-test"``: reproduce the authors' leak, audit only);
        - ``method`` (str): a training method applied to the model (``"dann"``, ``"ms-mda"``,
          ``"subject-norm"``, ``"ea"``: :func:`bench.training.methods.list_methods`; default
          ``"none"``, plain training);
        - ``model_options`` (dict, ``-M``), ``feature_options`` (dict, ``-F``);
        - tracking and execution: ``tracking_uri`` (default ``sqlite:///./mlflow.db``), ``force``
          (start a new parent run), ``log_model``, ``compile``, ``stack`` (int), ``executor``
          (``local``/``pool``/``dask``), ``workers`` (int), ``scheduler`` (Dask address).

    Returns
    -------
    RunResult
        The parent run id, run key, resolved config, store, per-unit metrics and ``summary()``.

    Raises
    ------
    ConfigError
        A value ``bench run`` refuses (unknown model or protocol, ``folds=1``, a bad store ...), with
        the CLI's one-line message; nothing is tracked.
    DataError
        Data that cannot be read.

    Examples
    --------
    >>> import bench
    >>> result = bench.run("majority", folds=2, tracking_uri="sqlite:///runs.db")  # doctest: +SKIP
    >>> result.summary()  # doctest: +SKIP
    """
    plan = plan_run(model, protocol, dataset, echo=echo, **options)
    return plan.execute(plan.prepare(echo=echo, warn=warn), reporter=reporter)
