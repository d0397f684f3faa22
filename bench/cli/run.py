"""``bench run`` and ``bench ui``: run one tracked experiment; open the MLflow UI on the same store."""

from __future__ import annotations

import math
import time
from pathlib import Path

import typer

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
    data_choice,
    epochs_help,
    err_console,
    exit_interrupted,
    full_size_hint,
    parse_overrides,
    parse_subjects,
    read_config_file,
)
from bench.cli.run_progress import format_duration, make_reporter, verbosity
from bench.config.ablation import variant_name
from bench.config.run import QUICK_EPOCHS, RunConfig
from bench.core.checks import check_option, check_type
from bench.core.errors import ConfigError
from bench.core.host import resolve_device
from bench.core.terminal import NAME, Col, FitTable
from bench.data.datasets import get_dataset
from bench.data.inputs import FEATURE_KINDS
from bench.results.datasets import DataSet
from bench.runs.executors import check_stack_executor, make_executor
from bench.runs.identity import deviations
from bench.runs.runner import prepare, run_experiment
from bench.runs.tuning_study import best_weights
from bench.tracking import ui as mui
from bench.tracking.store import EXPERIMENTS, client
from bench.tracking.uris import check_tracking_uri
from protocols import LEAKAGE_NOTE

STACK_HELP = (
    "Train up to N units at once as a stacked ensemble in this process (0: one at a time, the default). "
    "For runs of many small units (subject-specific: 160) on a GPU, where one small model leaves it idle; "
    "on a CPU at batch 64 these models are compute-bound and it measured no faster (README). Equal to one "
    "at a time within float tolerance without dropout (-M dropout=0), statistically equivalent with it; "
    "a run key of its own. Trained models only; not with whole-set-finetune or --executor pool/dask"
)
"""``bench run --stack``: what it does, where it pays (README "Performance"), what it changes."""


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


def _csv(text: str | None, what: str, allowed: tuple[str, ...]) -> tuple[str, ...] | None:
    """Comma-separated values, each one of ``allowed``."""
    if text is None:
        return None
    items = tuple(t.strip().lower() for t in text.split(",") if t.strip())
    if not items:
        check_option(what, text, allowed)
    for item in items:
        check_option(what, item, allowed)
    return items


def _tuned(text: str | None, storage: str | None):
    """``tuned:STUDY`` -> the study's best trial (bench.runs.tuning_study.TunedWeights); else None."""
    if text is None or not text.strip().lower().startswith("tuned:"):
        if storage is not None:
            raise ConfigError("--storage only applies with --loss-weights tuned:STUDY")
        return None

    return best_weights(text.strip()[len("tuned:") :].strip(), storage)


def _weights(text: str | None, storage: str | None = None) -> tuple[float, float] | None:
    if text is None:
        return None
    tuned = _tuned(text, storage)
    if tuned is not None:
        return tuned.weights
    try:
        w = tuple(float(v) for v in text.split(","))
    except ValueError:
        w = ()
    if len(w) != 2 or any(not math.isfinite(v) or v < 0 for v in w) or sum(w) <= 0:
        raise ConfigError(f"--loss-weights {text!r}: expected two non-negative numbers 'w_valence,w_arousal'")
    return w


def build_config(file_cfg: dict, **cli) -> dict:
    """Merge a config file (TOML/JSON: top-level run keys, [train], [features], [model]) with CLI values.

    ``model = "mtcnn"`` at top level is the model name, like every other top-level run key; a
    ``[model]`` table holds the model's options (``-M``). CLI values override the file.
    """
    file_cfg = dict(file_cfg)
    model = file_cfg.pop("model", None)
    if isinstance(model, dict):
        file_cfg["model_options"] = model
    elif model is not None:
        file_cfg["model"] = check_type("model", model, str, "a model name or a [model] table of options")
    for key, what in (("train", "[train]"), ("features", "[features]"), ("model_options", "[model]")):
        check_type(key, file_cfg.get(key, {}), dict, f"a {what} table")
    d = {k: v for k, v in file_cfg.items() if k not in ("train", "features", "model_options")}
    train = dict(file_cfg.get("train", {}))
    d["feature_config"] = dict(file_cfg.get("features", {}))
    d["model_options"] = dict(file_cfg.get("model_options", {}))
    for k, v in cli.pop("train").items():
        if v is not None:
            train[k] = v
    d["feature_config"].update(cli.pop("feature_config"))
    d["model_options"].update(cli.pop("model_options"))
    for k, v in cli.items():
        if v is not None:
            d[k] = v
    d["train"] = train
    return d


TABLE_METRICS = (("acc", "acc"), ("trial_acc", "trial acc"), ("balanced_acc", "bal acc"), ("auc", "AUC"))
"""(metric, header) per task in ``bench run``'s table: window accuracy, trial vote, balanced accuracy, AUC."""
TABLE_PRIORITIES = {"time s": 0, "epochs": 1, "AUC": 2, "bal acc": 3}
"""What a narrow terminal leaves out of ``bench run``'s table first (the columns are named below it)."""


def results_table(res) -> FitTable:
    """Per-unit and mean +- std TEST metrics; headers start with the task initial (caption spells it out)."""
    cfg = res.config

    data = DataSet(res.data_kind, res.data_fingerprint, *res.data_size, n_runs=0, newest=0).label

    variant = variant_name(deviations(cfg), cfg.recipe)
    if cfg.test_dataset is not None:  # the kind says cross-dataset: name the two datasets
        data += f" ({get_dataset(cfg.dataset).title} -> {get_dataset(cfg.test_dataset).title})"
    title = f"{cfg.model} | {cfg.protocol} | split {res.split} | variant {variant} | {data}"
    title += " | LEAKY" if res.leaky else ""
    caption = (
        "In % on the test parts. "
        + ", ".join(f"{t[0].upper()} = {t}" for t in cfg.tasks)
        + ". acc, bal acc, AUC: per window; trial acc: window probabilities averaged per trial "
        "(high only if the mean > 0.5)."
    )
    columns = [Col("unit", NAME)]
    columns += [
        Col(f"{t[0].upper()} {h}", priority=TABLE_PRIORITIES.get(h))
        for t in cfg.tasks
        for _, h in TABLE_METRICS
    ]
    columns += [Col(h, priority=TABLE_PRIORITIES[h]) for h in ("epochs", "time s")]
    by_key: dict[tuple, dict] = {}
    for u in res.units:
        key = (u.unit.subject or 0, u.unit.fold)
        row = by_key.setdefault(key, {"name": u.unit.key.removesuffix("-valence").removesuffix("-arousal")})
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
        tasks: str | None = typer.Option(None, "--tasks", help="valence,arousal (default both)"),
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
        data = data_choice(dataset=dataset, data_dir=data_dir, deap=deap, synthetic=synthetic, test=test,
                           test_data_dir=test_data_dir)  # fmt: skip

        level = verbosity(quiet, verbose)
        t_start = time.monotonic()

        def say(message: str) -> None:
            if level != "quiet":
                err_console.print(message, markup=False, highlight=False, soft_wrap=True)  # paths unbroken

        runner_executor = make_executor(executor, workers=workers, scheduler=scheduler)
        check_stack_executor(stack, runner_executor)
        file_cfg = read_config_file(config)
        tuned = _tuned(loss_weights, storage)
        if tuned is not None:
            say(
                f"Loss weights from study {tuned.study!r} (trial {tuned.trial}): {tuned.weights[0]:g},"
                f"{tuned.weights[1]:g}"
            )
        train = {
            "max_epochs": epochs, "precision": precision, "lr": lr, "batch_size": batch_size,
            "loss_weights": tuned.weights if tuned is not None else _weights(loss_weights),
            "dropout": 0.0 if no_dropout else None, "batch_norm": False if no_batch_norm else None,
            "lr_decay": False if no_lr_decay else None, "balance": False if no_balance else None,
            "stack": stack,
        }  # fmt: skip
        sub = parse_subjects(subjects, data.name(file_cfg.get("dataset")))
        d = build_config(
            file_cfg, train=train, feature_config=parse_overrides(feature, "-F/--feature"),
            model_options=parse_overrides(model_opt, "-M/--model-option"), **data.config_values(),
            model=model, protocol=data.protocol(protocol, file_cfg.get("protocol")), split=split,
            n_folds=folds, seed=seed, device=device,
            subjects=tuple(sub) if sub else None, tasks=_csv(tasks, "--tasks", ("valence", "arousal")),
            features=_csv(features, "--features", FEATURE_KINDS), single_task=single_task or None,
            audit=_csv(audit, "--audit", ("select-on-test",)), num_threads=threads, recipe=recipe,
            log_model=log_model or None, compile=compile_ or None,
        )  # fmt: skip
        # Every value is checked before any output or work: types, the device, the tracking store.
        cfg = RunConfig.from_dict(d)
        data.check_run(cfg)
        resolve_device(cfg.device)  # --device cuda without CUDA: refused here
        uri = check_tracking_uri(tracking_uri, write=True)  # a bad or read-only store: refused up front
        quick = data.embedded(cfg.dataset, cfg.test_dataset) and d["train"].get("max_epochs") is None
        if quick:
            d["train"]["max_epochs"] = QUICK_EPOCHS
            cfg = RunConfig.from_dict(d)
        try:
            prepared = prepare(cfg, echo=say, **data.prepare_args())
        except KeyboardInterrupt:
            exit_interrupted(
                "interrupted while preparing data: nothing was tracked in MLflow (finished feature cache "
                "entries are kept); run the same command again to go on"
            )
        if quick:  # said after prepare(), so a value it refuses stays the only line printed
            say(quick_epochs_line(full_size_hint(cfg.dataset, cfg.test_dataset)))
        say(data_line(prepared.features))
        if prepared.config.recipe != cfg.recipe:
            say(f"The paper recipe of {cfg.model} is the harness recipe: same run as without --recipe paper.")
        if prepared.leaky:
            why = LEAKAGE_NOTE if prepared.split == "segment" else ""
            if "select-on-test" in cfg.audit:
                why += " select-on-test: the test fold drives early stopping and LR decay (audit only)."
            err_console.print(f"LEAKY run (tagged leaky, kept off leaderboards): {why.strip()}", markup=False)
        say(f"Tracking to {uri}")
        bars, reporter = make_reporter(
            err_console.is_terminal, level, lambda m: err_console.print(m, markup=False, highlight=False,
                                                                        soft_wrap=True), err_console,
        )  # fmt: skip
        with bars:
            try:
                res = run_experiment(
                    cfg,
                    tracking_uri=uri,
                    force=force,
                    reporter=reporter,
                    prepared=prepared,
                    extra_tags=tuned.tags() if tuned is not None else None,
                    executor=runner_executor,
                )
            except KeyboardInterrupt:
                exit_interrupted(reporter.interrupted())
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
