"""``bench run`` and ``bench ui``: run one tracked experiment; open the MLflow UI on the same store."""

from __future__ import annotations

import math
import time
from pathlib import Path

import typer

from bench.api.experiment import plan_run
from bench.cli.common import (
    COMPILE_HELP,
    DATA_DIR_OPTION,
    DATASET_OPTION,
    DEAP_OPTION,
    EXECUTOR_OPTION,
    LOG_MODEL_HELP,
    SCHEDULER_OPTION,
    SYNTHETIC_OPTION,
    TEST_DATA_DIR_OPTION,
    TEST_OPTION,
    WORKERS_OPTION,
    console,
    epochs_help,
    err_console,
    exit_interrupted,
)
from bench.cli.run_progress import format_duration, make_reporter, verbosity
from bench.config.ablation import variant_name
from bench.core.tasks import get_task, n_classes
from bench.core.terminal import NAME, Col, FitTable
from bench.data.datasets import get_dataset
from bench.data.inputs import FEATURE_KINDS
from bench.results.datasets import DataSet
from bench.results.table import TRANSDUCTIVE_MARK
from bench.runs.identity import deviations
from bench.tracking import ui as mui
from bench.tracking.store import EXPERIMENTS, client
from bench.tracking.uris import check_tracking_uri
from bench.training.methods import NONE, get_method_info

STACK_HELP = (
    "Train up to N units at once as a stacked ensemble in this process (0: one at a time, the default). "
    "For runs of many small units (subject-specific: 160) on a GPU, where one small model leaves it idle; "
    "on a CPU at batch 64 these models are compute-bound and it measured no faster (docs). Equal to one "
    "at a time within float tolerance without dropout (-M dropout=0), statistically equivalent with it; "
    "a run key of its own. Trained models only; not with whole-set-finetune or --executor pool/dask"
)
"""``bench run --stack``: what it does, where it pays (the docs' Performance page), what it changes."""


METHOD_HELP = (
    "Training method applied to the model: none (default) | dann | subject-norm | ea | ms-mda (bench "
    "methods; all of them see the test subjects' unlabelled inputs: transductive)"
)
"""``bench run --method``: the built-in names (a test checks they are the registry's)."""


TABLE_METRICS = (("acc", "acc"), ("trial_acc", "trial acc"), ("balanced_acc", "bal acc"), ("auc", "AUC"))
"""(metric, header) per task in ``bench run``'s table: window accuracy, trial vote, balanced accuracy, AUC."""
TABLE_PRIORITIES = {"time s": 0, "epochs": 1, "AUC": 2, "bal acc": 3}
"""What a narrow terminal leaves out of ``bench run``'s table first (the columns are named below it)."""


def model_label(cfg) -> str:
    """The model as the run's table names it: ``fbccnn``, or with a method ``fbccnn + DANN`` (with the
    tables' transductive mark where it is transductive)."""
    if cfg.method == NONE:
        return cfg.model
    m = get_method_info(cfg.method)
    return f"{cfg.model} + {m.label}" + (f" {TRANSDUCTIVE_MARK}" if m.transductive else "")


def results_table(res) -> FitTable:
    """Per-unit and mean +- std TEST metrics; headers start with the task initial (caption spells it out)."""
    cfg = res.config

    data = DataSet(res.data_kind, res.data_fingerprint, *res.data_size, n_runs=0, newest=0).label

    variant = variant_name(deviations(cfg), cfg.recipe)
    if cfg.test_dataset is not None:  # the kind says cross-dataset: name the two datasets
        data += f" ({get_dataset(cfg.dataset).title} -> {get_dataset(cfg.test_dataset).title})"
    title = f"{model_label(cfg)} | {cfg.protocol} | split {res.split} | variant {variant} | {data}"
    title += " | LEAKY" if res.leaky else ""
    short = {t: get_task(t).short for t in cfg.tasks}
    binary = all(n_classes(t) == 2 for t in cfg.tasks)
    caption = (
        "In % on the test parts. "
        + ", ".join(f"{short[t]} = {t}" for t in cfg.tasks)
        + ". acc, bal acc, AUC: per window; trial acc: window probabilities averaged per trial "
        + ("(high only if the mean > 0.5)." if binary else "(the most probable class of the mean).")
    )
    columns = [Col("unit", NAME)]
    columns += [
        Col(f"{short[t]} {h}", priority=TABLE_PRIORITIES.get(h)) for t in cfg.tasks for _, h in TABLE_METRICS
    ]
    columns += [Col(h, priority=TABLE_PRIORITIES[h]) for h in ("epochs", "time s")]
    by_key: dict[tuple, dict] = {}
    for u in res.units:
        key = (u.unit.subject or 0, u.unit.fold)
        name = u.unit.key
        for t in cfg.tasks:  # a single-task unit's key ends with its task; the row holds every task's
            name = name.removesuffix(f"-{t}")
        row = by_key.setdefault(key, {"name": name})
        row.update(u.metrics)
        row["epochs"] = max(row.get("epochs", 0), u.metrics.get("epochs_run", 0))
        row["time"] = row.get("time", 0) + u.metrics.get("fit_seconds", 0)
        row["reused"] = row.get("reused", False) or u.reused
    rows = []
    for _, row in sorted(by_key.items()):
        cells = [row["name"] + (" (resumed)" if row["reused"] else "")]
        for t in cfg.tasks:
            for m, _ in TABLE_METRICS:
                v = row.get(f"test_{m}_{t}")
                cells.append("-" if v is None or not math.isfinite(v) else f"{100 * v:.1f}")
        cells += [f"{row['epochs']:.0f}", f"{row['time']:.0f}"]
        rows.append(cells)
    s = res.summary
    cells = ["mean ± std" + (" (per subject)" if res.per_subject else "")]
    for t in cfg.tasks:
        for m, _ in TABLE_METRICS:
            mu, sd = s.get(f"{m}_{t}_mean"), s.get(f"{m}_{t}_std")
            cells.append("-" if mu is None or not math.isfinite(mu) else f"{100 * mu:.1f} ± {100 * sd:.1f}")
    rows.append([*cells, "", ""])
    styles = [None] * (len(rows) - 1) + ["bold"]
    return FitTable(columns, rows, title=f"TEST metrics: {title}", caption=caption, styles=styles)


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run(
        model: str | None = typer.Option(
            None, "--model", "-m", help="Registered model (see `bench models`; default mtcnn)"
        ),
        protocol: str | None = typer.Option(
            None,
            "--protocol",
            "-p",
            help="subject-specific | whole-set (default) | cross-subject | whole-set-finetune | "
            "cross-dataset (--test NAME)",
        ),  # fmt: skip
        split: str | None = typer.Option(None, "--split", help="trial (default) | segment (leaky) | subject"),
        folds: int | None = typer.Option(
            None, "--folds", help="Outer folds (default 5; cross-subject 32 = LOSO)"
        ),
        subjects: str | None = typer.Option(None, "--subjects", help="Subjects, e.g. '1-32' or '1,3,5-8'"),
        epochs: int | None = typer.Option(None, "--epochs", min=1, help=epochs_help()),
        dataset: str | None = DATASET_OPTION,
        data_dir: Path | None = DATA_DIR_OPTION,
        deap: Path | None = DEAP_OPTION,
        synthetic: bool = SYNTHETIC_OPTION,
        test: str | None = TEST_OPTION,
        test_data_dir: Path | None = TEST_DATA_DIR_OPTION,
        config: Path | None = typer.Option(None, "--config", help="TOML/JSON config file"),
        seed: int | None = typer.Option(None, "--seed", help="Random seed (folds, init, batches)"),
        device: str | None = typer.Option(None, "--device", help="auto | cpu | cuda"),
        precision: str | None = typer.Option(
            None,
            "--precision",
            help="auto (default: bf16 autocast where the hardware has it natively and the model's parity "
            "is shown, see `bench models NAME`; else fp32) | fp32 | bf16",
        ),  # fmt: skip
        tasks: str | None = typer.Option(
            None,
            "--tasks",
            help="tasks of the dataset's labels, comma-separated (default: all; DEAP: valence,arousal)",
        ),
        features: str | None = typer.Option(
            None,
            "--features",
            help=f"Feature kinds, e.g. de,psd,dasm; any of {', '.join(FEATURE_KINDS)} (default: the model's; "
            "de | psd: ablations)",
        ),
        single_task: bool = typer.Option(False, "--single-task", help="Two single-task models (ablation)"),
        no_dropout: bool = typer.Option(False, "--no-dropout", help="Dropout 0 (ablation)"),
        no_batch_norm: bool = typer.Option(False, "--no-batch-norm", help="No batch norm (ablation)"),
        no_lr_decay: bool = typer.Option(False, "--no-lr-decay", help="No ReduceLROnPlateau (ablation)"),
        no_balance: bool = typer.Option(False, "--no-balance", help="No class balancing (ablation)"),
        loss_weights: str | None = typer.Option(
            None, "--loss-weights", help="w_valence,w_arousal (default 1,1), or tuned:STUDY (bench tune)"
        ),
        storage: str | None = typer.Option(
            None, "--storage", help="Optuna storage of tuned:STUDY (default sqlite:///./optuna.db)"
        ),
        lr: float | None = typer.Option(None, "--lr", help="Learning rate (default 1e-3)"),
        batch_size: int | None = typer.Option(None, "--batch-size", min=1, help="Batch size (default 64)"),
        audit: str | None = typer.Option(None, "--audit", help="select-on-test: reproduce the authors' leak"),
        recipe: str | None = typer.Option(
            None, "--recipe", help="harness (default: one recipe for all) | paper (bench models NAME)"
        ),
        method: str | None = typer.Option(None, "--method", help=METHOD_HELP),
        tracking_uri: str | None = typer.Option(
            None, "--tracking-uri", help="MLflow store (default ./mlflow.db)"
        ),
        threads: int | None = typer.Option(None, "--threads", min=1, help="torch.set_num_threads"),
        model_opt: list[str] | None = typer.Option(
            None, "-M", "--model-option", help="Model option key=value"
        ),
        feature: list[str] | None = typer.Option(None, "-F", "--feature", help="Feature option key=value"),
        force: bool = typer.Option(False, "--force", help="Start a new run instead of resuming"),
        log_model: bool = typer.Option(False, "--log-model", help=LOG_MODEL_HELP),
        compile_: bool = typer.Option(False, "--compile", help=COMPILE_HELP),
        stack: int | None = typer.Option(None, "--stack", help=STACK_HELP),
        executor: str | None = EXECUTOR_OPTION,
        workers: int | None = WORKERS_OPTION,
        scheduler: str | None = SCHEDULER_OPTION,
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress (errors and the table only)"),
        verbose: bool = typer.Option(
            False, "--verbose", "-v", help="Epoch lines on a terminal too; batch lines elsewhere"
        ),
    ) -> None:
        """Train and test a model under a protocol; tracked in MLflow, resumable."""
        level = verbosity(quiet, verbose)
        t_start = time.monotonic()

        def say(message: str) -> None:
            if level != "quiet":
                err_console.print(message, markup=False, highlight=False, soft_wrap=True)  # paths unbroken

        plan = plan_run(
            model, protocol, dataset, split=split, folds=folds, subjects=subjects, epochs=epochs,
            data_dir=data_dir, deap=deap, synthetic=synthetic, test=test, test_data_dir=test_data_dir,
            config=config, seed=seed, device=device, precision=precision, tasks=tasks, features=features,
            single_task=single_task, no_dropout=no_dropout, no_batch_norm=no_batch_norm,
            no_lr_decay=no_lr_decay, no_balance=no_balance, loss_weights=loss_weights, storage=storage,
            lr=lr, batch_size=batch_size, audit=audit, recipe=recipe, method=method,
            tracking_uri=tracking_uri, threads=threads, model_options=model_opt or None,
            feature_options=feature or None,
            force=force, log_model=log_model, compile=compile_, stack=stack, executor=executor,
            workers=workers, scheduler=scheduler, echo=say,
        )  # fmt: skip
        try:
            prepared = plan.prepare(echo=say, warn=lambda m: err_console.print(m, markup=False))
        except KeyboardInterrupt:
            exit_interrupted(
                "interrupted while preparing data: nothing was tracked in MLflow (finished feature cache "
                "entries are kept); run the same command again to go on"
            )
        bars, reporter = make_reporter(
            err_console.is_terminal, level, lambda m: err_console.print(m, markup=False, highlight=False,
                                                                        soft_wrap=True), err_console,
        )  # fmt: skip
        with bars:
            try:
                result = plan.execute(prepared, reporter=reporter)
            except KeyboardInterrupt:
                exit_interrupted(reporter.interrupted())
        res = result.experiment
        console.print(results_table(res))
        took = format_duration(time.monotonic() - t_start)

        console.print(
            f"Finished in {took}. MLflow parent run {res.parent_run_id} in experiment "
            f"{EXPERIMENTS[res.data_kind]}; open it with `bench ui`."
        )

    @app.command("ui")
    def ui(
        tracking_uri: str | None = typer.Option(
            None, "--tracking-uri", help="MLflow store (default ./mlflow.db)"
        ),
        port: int = typer.Option(5000, "--port", help="Port on 127.0.0.1"),
        browser: bool = typer.Option(
            True, "--browser/--no-browser", help="Open the runs page in a browser once the UI is up"
        ),
    ) -> None:
        """Open the MLflow UI on the harness's tracking store (127.0.0.1 only), on the runs of the
        experiment run last: one quiet worker process, the store only read."""
        uri = check_tracking_uri(tracking_uri)
        mui.check_port(port)
        base = f"http://{mui.HOST}:{port}"
        say = lambda m: err_console.print(m, markup=False, soft_wrap=True)  # noqa: E731 (URLs unbroken)
        pages = mui.experiment_pages(client(uri, write=False), base)
        page = mui.start_page(pages, base)
        say(f"MLflow UI on {base} for {uri} (Ctrl-C to stop)")
        for name, url in pages:  # the runs pages (MLflow 3 opens on GenAI pages otherwise)
            say(f"  {name}: {url}")
        opening = browser and mui.can_open_browser()
        say(f"Opening {page}" if opening else f"Open {page}")
        code = mui.serve(mui.ui_command(uri, port), mui.ui_env(), base, page if opening else None, say)
        if code:
            raise typer.Exit(code)
